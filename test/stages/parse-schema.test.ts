import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { FileSource } from '../../lib/sources/file-source.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { ParseSchema, type ParseSchemaOptions } from '../../lib/stages/parse-schema.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { Row } from '../../lib/core/batch.js';

const SCHEMA = 'time timestamp, action string';

/** Parses file contents through FileSource → ParseSchema; resolves the rows, or rejects with the query's failure cause. */
async function parseFiles(dir: string, options: Partial<ParseSchemaOptions> = {}, sourceOptions: Record<string, unknown> = {}): Promise<Row[]> {
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: dir, ...sourceOptions }),
    stages: [new ParseSchema({ schema: SCHEMA, timeZone: 'UTC', ...options })],
    sink,
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  try {
    await query.awaitTermination();
  } catch (err) {
    throw (err as { cause: Error }).cause;
  }
  return sink.rows();
}

t.test('a timestamp from a JSON integer is epoch seconds, from a string a cast; extra fields are ignored, missing ones null', async (t) => {
  const dir = t.testdir({ 'a.json': '{"time":1469501675,"action":"Open","extra":1}\n{"time":"2016-07-26 03:00:00"}\n{"action":"Close"}\n' });
  t.strictSame(await parseFiles(dir), [
    { time: 1469501675000, action: 'Open' },
    { time: Date.UTC(2016, 6, 26, 3), action: null },
    { time: null, action: 'Close' },
  ]);
});

t.test('blank lines give no row and a top-level array line gives one row per element', async (t) => {
  const dir = t.testdir({ 'a.json': '\n   \n[{"time":1,"action":"a"},{"time":2,"action":"b"}]\n' });
  t.strictSame(await parseFiles(dir), [{ time: 1000, action: 'a' }, { time: 2000, action: 'b' }]);
});

const malformed = '{"time":1,"action":"Open"}\n{"time":2,"action":\n{"time":"soon","action":"Close"}\n';

t.test('PERMISSIVE keeps a broken line as nulls with the raw text in _corrupt_record', async (t) => {
  const dir = t.testdir({ 'a.json': malformed });
  t.strictSame(await parseFiles(dir, { schema: `${SCHEMA}, _corrupt_record string` }), [
    { time: 1000, action: 'Open', _corrupt_record: null },
    { time: null, action: null, _corrupt_record: '{"time":2,"action":' },
    { time: null, action: 'Close', _corrupt_record: '{"time":"soon","action":"Close"}' },
  ]);
});

t.test('PERMISSIVE without a corrupt-record column keeps the parsable fields and nulls the rest', async (t) => {
  const dir = t.testdir({ 'a.json': malformed });
  t.strictSame(await parseFiles(dir), [
    { time: 1000, action: 'Open' },
    { time: null, action: null },
    { time: null, action: 'Close' },
  ]);
});

t.test('DROPMALFORMED drops broken lines and lines with a wrong type', async (t) => {
  const dir = t.testdir({ 'a.json': malformed });
  t.strictSame(await parseFiles(dir, { mode: 'dropmalformed' }), [{ time: 1000, action: 'Open' }]);
});

t.test('FAILFAST fails the query with Spark message, naming file and line', async (t) => {
  const dir = t.testdir({ 'a.json': malformed });
  await t.rejects(parseFiles(dir, { mode: 'FAILFAST' }), {
    code: 'ERR_MALFORMED_RECORD',
    file: join(dir, 'a.json'),
    line: 2,
    message: `[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: {"time":2,"action":. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'. (${join(dir, 'a.json')}, line 2)`,
  });
});

t.test('a float, a boolean or an object where a timestamp is expected is a malformed record', async (t) => {
  const dir = t.testdir({ 'a.json': '{"time":1469504400.5,"action":"a"}\n{"time":true,"action":"b"}\n{"time":{},"action":"c"}\n{"time":"","action":"d"}\n' });
  t.strictSame(await parseFiles(dir, { mode: 'DROPMALFORMED' }), []);
});

t.test('invalid UTF-8 makes that line malformed and leaves the others intact', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'a.json'), Buffer.concat([Buffer.from('{"time":1,"action":"Op'), Buffer.from([0xc3, 0x28]), Buffer.from('en"}\n{"time":2,"action":"Close"}\n')]));
  t.strictSame(await parseFiles(dir, { schema: `${SCHEMA}, _corrupt_record string` }), [
    { time: null, action: null, _corrupt_record: '{"time":1,"action":"Op\ufffd(en"}' },
    { time: 2000, action: 'Close', _corrupt_record: null },
  ]);
});

t.test('an empty file gives no rows', async (t) => {
  const dir = t.testdir({ 'a.json': '' });
  t.strictSame(await parseFiles(dir), []);
});

t.test('a truncated last line without a newline is a malformed record, a complete one a row', async (t) => {
  const dir = t.testdir({ 'a.json': '{"time":1,"action":"Open"}\n{"time":2,"act', 'b.json': '{"time":3,"action":"Close"}' });
  const rows = await parseFiles(dir, { schema: `${SCHEMA}, _corrupt_record string` });
  t.strictSame(
    rows.map((r) => [r['time'], r['action'], r['_corrupt_record']]).sort((a, b) => String(a).localeCompare(String(b))),
    [
      [1000, 'Open', null],
      [3000, 'Close', null],
      [null, null, '{"time":2,"act'],
    ].sort((a, b) => String(a).localeCompare(String(b))),
  );
});

t.test('lines and multi-byte characters split across reads at every byte come out whole', async (t) => {
  const content = '{"time":1,"action":"Öffnen ☃"}\r\n{"time":2,"action":"閉じる 🎉"}\n{"time":3,"action":"x"}';
  const bytes = Buffer.byteLength(content);
  const dir = t.testdir({ 'a.json': content });
  const expected = [
    { time: 1000, action: 'Öffnen ☃' },
    { time: 2000, action: '閉じる 🎉' },
    { time: 3000, action: 'x' },
  ];
  for (let chunk = 1; chunk <= bytes; chunk++) {
    t.strictSame(await parseFiles(dir, {}, { readBufferBytes: chunk }), expected, `reads of ${chunk} bytes`);
  }
});

t.test('a BOM at the start of a file is ignored', async (t) => {
  const dir = t.testdir({ 'a.json': '\ufeff{"time":1,"action":"Open"}\n' });
  t.strictSame(await parseFiles(dir), [{ time: 1000, action: 'Open' }]);
});

t.test('ParseSchema also parses a value column of any stream', async (t) => {
  const source = new MemorySource({ schema: 'value string' });
  source.addData([{ value: '{"time":"2016-07-26T03:00:00Z","action":"Open"}' }]);
  const sink = new MemorySink();
  const query = await startQuery({ source, stages: [new ParseSchema({ schema: SCHEMA })], sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows(), [{ time: Date.UTC(2016, 6, 26, 3), action: 'Open' }]);
});

t.test('bad options are refused at construction', async (t) => {
  t.throws(() => new ParseSchema({ schema: 'time timestamp, action' }), { code: 'ERR_SCHEMA_PARSE', option: 'schema' });
  t.throws(() => new ParseSchema({ schema: SCHEMA, mode: 'LENIENT' as 'FAILFAST' }), { code: 'ERR_INVALID_OPTION', option: 'mode', message: "mode must be PERMISSIVE, DROPMALFORMED or FAILFAST, got 'LENIENT'" });
  t.throws(() => new ParseSchema({ schema: SCHEMA, timeZone: 'Mars/Olympus' }), { code: 'ERR_INVALID_OPTION', option: 'timeZone' });
  t.throws(() => new ParseSchema({ schema: `${SCHEMA}, _corrupt_record int` }), { code: 'ERR_INVALID_OPTION', message: 'The field for corrupt records must be string type and nullable' });
});

t.test('restarting a checkpoint with another schema is refused, naming the change', async (t) => {
  const dir = t.testdir({ in: { 'a.json': '{"time":1,"action":"Open"}\n' }, chk: {} });
  const run = async (schema: string): Promise<boolean> => {
    const query = await startQuery({
      source: new FileSource({ path: join(dir, 'in') }),
      stages: [new ParseSchema({ schema, timeZone: 'UTC' })],
      sink: new MemorySink(),
      checkpointLocation: join(dir, 'chk'),
      trigger: 'availableNow',
      manager: new StreamingQueryManager(),
    });
    return query.awaitTermination();
  };
  t.equal(await run(SCHEMA), true);
  const error = await run('time timestamp, action string, user string').catch((e: unknown) => e as { cause: unknown });
  t.match((error as { cause: unknown }).cause, {
    code: 'ERR_CHECKPOINT_MISMATCH',
    message: 'the query changed since the checkpoint was written: ParseSchema schema was "time TIMESTAMP, action STRING", is now "time TIMESTAMP, action STRING, user STRING"',
  });
});

t.test('a file still being written is read as far as it is; its later appends are never read', async (t) => {
  const dir = t.testdir({ in: {}, chk: {} });
  const input = join(dir, 'in');
  const file = join(input, 'a.json');
  await writeFile(file, '{"time":1,"action":"Open"}\n{"time":2,"act');
  const runOnce = async (): Promise<Row[]> => {
    const sink = new MemorySink();
    const query = await startQuery({
      source: new FileSource({ path: input, framing: 'chunks' }),
      stages: [new ParseSchema({ schema: `${SCHEMA}, _corrupt_record string`, timeZone: 'UTC' })],
      sink,
      checkpointLocation: join(dir, 'chk'),
      trigger: 'availableNow',
      manager: new StreamingQueryManager(),
    });
    await query.awaitTermination();
    return sink.rows();
  };
  t.strictSame(await runOnce(), [
    { time: 1000, action: 'Open', _corrupt_record: null },
    { time: null, action: null, _corrupt_record: '{"time":2,"act' },
  ], 'the cut line is a malformed record');
  const { appendFile } = await import('node:fs/promises');
  await appendFile(file, 'ion":"Close"}\n{"time":3,"action":"Click"}\n');
  t.strictSame(await runOnce(), [], 'the seen file is not read again');
});

t.test('by default chunks are read on one worker per core but the one the query\'s thread keeps busy, none on a single core', async (t) => {
  t.equal(new ParseSchema({ schema: 'time timestamp, action string' }).workers, Math.max(0, availableParallelism() - 1));
  t.equal(new ParseSchema({ schema: 'time timestamp, action string', workers: 3 }).workers, 3, 'an explicit count is kept');
});

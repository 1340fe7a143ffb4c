/**
 * The file sink in CSV (issue 17 §4): `CheckpointSink({ format: 'csv' })`
 * and `tidemark run --format csv` write Spark's layout (one
 * `part-…-c000.csv` per micro-batch, listed in `_spark_metadata`) with a
 * header line and Spark's CSV writer rules; a struct column (a window) is
 * refused at start, as Spark's CSV data source refuses it.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { field, schema, Types, WINDOW_TYPE } from '../../lib/core/schema.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { CheckpointSink } from '../../lib/sinks/checkpoint-sink.js';
import { readSinkLog } from '../../lib/sinks/file-sink-log.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { readChartRows } from '../../lib/plot.js';
import { parseCsv } from '../../lib/sinks/csv-file.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { microBatches } from '../../lib/query/executor.js';
import { eventSchema, events, notebookStages } from '../helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function tidemark(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** The committed files of a file sink's output, in batch order. */
async function committedFiles(out: string): Promise<string[]> {
  return (await readSinkLog(out)).map((f) => fileURLToPath(f.path));
}

t.test('each micro-batch is one part-…-c000.csv listed in _spark_metadata: a header line, then the rows', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([1469504400, 'Open'], [1469504401, 'Close']));
  await pipeline(microBatches(source, { trigger: 'availableNow', checkpointLocation: join(dir, 'chk') }), new CheckpointSink({ path: out, format: 'csv', timeZone: 'UTC' }));
  const data = (await readdir(out)).filter((n) => !n.startsWith('_') && !n.startsWith('.'));
  t.equal(data.length, 1);
  t.match(data[0]!, /^part-00000-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-c000\.csv$/);
  t.strictSame(await committedFiles(out), [join(out, data[0]!)]);
  t.equal(await readFile(join(out, data[0]!), 'utf8'), 'time,action\n2016-07-26T03:40:00.000Z,Open\n2016-07-26T03:40:01.000Z,Close\n');
});

t.test("fields follow Spark's CSV writer: null empty, empty string \"\", quotes doubled inside quotes, Java number text, timestamps in the session zone", async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const s = schema([
    field('s', Types.string),
    field('i', Types.int),
    field('l', Types.long),
    field('d', Types.double),
    field('f', Types.float),
    field('b', Types.boolean),
    field('dt', Types.date),
    field('ts', Types.timestamp),
    field('dec', { type: 'decimal', precision: 10, scale: 2 }),
  ]);
  const source = new MemorySource({ schema: s });
  source.addData([
    { s: 'he said "hi", twice\nthen left', i: 7, l: 1469504400000, d: 22, f: 1.1, b: true, dt: '2016-07-26', ts: 1469504400123, dec: '12.50' },
    { s: '', d: 1e10, b: false },
    { s: ' padded ', d: NaN },
    { s: 'cr\rhere', d: -0 },
    {},
  ]);
  await pipeline(microBatches(source, { trigger: 'availableNow', checkpointLocation: join(dir, 'chk') }), new CheckpointSink({ path: out, format: 'csv', timeZone: 'Asia/Kolkata' }));
  const [file] = await committedFiles(out);
  t.equal(
    await readFile(file!, 'utf8'),
    's,i,l,d,f,b,dt,ts,dec\n' +
      '"he said ""hi"", twice\nthen left",7,1469504400000,22.0,1.1,true,2016-07-26,2016-07-26T09:10:00.123+05:30,12.50\n' +
      '"",,,1.0E10,,false,,,\n' +
      ' padded ,,,NaN,,,,,\n' +
      '"cr\rhere",,,-0.0,,,,,\n' +
      ',,,,,,,,\n',
  );
});

t.test("a window column is refused at start with Spark's message, naming it and the way out; nothing is written", async (t) => {
  const dir = t.testdir();
  const source = new MemorySource({ schema: eventSchema });
  const sink = new CheckpointSink({ path: join(dir, 'out'), format: 'csv', timeZone: 'UTC' });
  await t.rejects(
    startQuery({ source, stages: notebookStages({ delay: '10 minutes', duration: '1 hour' }), sink, checkpointLocation: join(dir, 'chk'), outputMode: 'append', manager: new StreamingQueryManager() }),
    {
      code: 'ERR_UNSUPPORTED_DATA_TYPE',
      option: 'format',
      message:
        '[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn\'t support the column `window` of the type "STRUCT<start: TIMESTAMP, end: TIMESTAMP>". ' +
        "Write format 'json' or 'parquet', or flatten it first: one column per field (window_start, window_end)",
    },
  );
  t.strictSame(await readdir(dir), [], 'no checkpoint, no output');
});

t.test('arrays, maps and binary are refused too, naming the column', async (t) => {
  for (const [type, sql] of [
    [{ type: 'array', elementType: Types.string, containsNull: true }, 'ARRAY<STRING>'],
    [{ type: 'map', keyType: Types.string, valueType: Types.long, valueContainsNull: true }, 'MAP<STRING, BIGINT>'],
    [Types.binary, 'BINARY'],
  ] as const) {
    const dir = t.testdir();
    const source = new MemorySource({ schema: schema([field('id', Types.string), field('x', type)]) });
    await t.rejects(
      startQuery({ source, stages: [], sink: new CheckpointSink({ path: join(dir, 'out'), format: 'csv' }), checkpointLocation: join(dir, 'chk'), outputMode: 'append', manager: new StreamingQueryManager() }),
      { code: 'ERR_UNSUPPORTED_DATA_TYPE', message: `[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn't support the column \`x\` of the type "${sql}". Write format 'json' for this output` },
      sql,
    );
  }
});

t.test('a windowed count flattened by mapRows (window_start, window_end) is written, batches without rows as the header alone, and DuckDB reads it back with the counts', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  const flatten = mapRows(
    (row) => ({ action: row.action, window_start: row.window?.start ?? null, window_end: row.window?.end ?? null, count: row.count === null ? null : Number(row.count) }),
    { input: 'action string, window struct<start: timestamp, end: timestamp>, count long', schema: 'action string, window_start timestamp, window_end timestamp, count long' },
  );
  const query = await startQuery({
    source,
    stages: [...notebookStages({ delay: '10 minutes', duration: '1 hour' }), flatten],
    sink: new CheckpointSink({ path: out, format: 'csv', timeZone: 'UTC' }),
    checkpointLocation: join(dir, 'chk'),
    outputMode: 'append',
    manager: new StreamingQueryManager(),
  });
  source.addData(events([1469504400, 'Open'], [1469504460, 'Open'], [1469505000, 'Close']));
  await query.processAllAvailable();
  source.addData(events([1469512000, 'Open']));
  await query.processAllAvailable();
  await query.stop();
  const files = await committedFiles(out);
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
  t.strictSame(texts, [
    'action,window_start,window_end,count\n',
    'action,window_start,window_end,count\n',
    'action,window_start,window_end,count\n',
    'action,window_start,window_end,count\nOpen,2016-07-26T03:00:00.000Z,2016-07-26T04:00:00.000Z,2\nClose,2016-07-26T03:00:00.000Z,2016-07-26T04:00:00.000Z,1\n',
  ]);

  t.strictSame(await readChartRows(out), [
    { action: 'Open', window_start: '2016-07-26T03:00:00.000Z', window_end: '2016-07-26T04:00:00.000Z', count: '2' },
    { action: 'Close', window_start: '2016-07-26T03:00:00.000Z', window_end: '2016-07-26T04:00:00.000Z', count: '1' },
  ], 'plot reads the committed CSV rows, as strings (the chart reads numbers and times from text)');

  const db = await DuckDBInstance.create(':memory:');
  const duck = await db.connect();
  t.teardown(() => {
    duck.closeSync();
    db.closeSync();
  });
  await duck.run("SET TimeZone = 'UTC'");
  const list = '[' + files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ') + ']';
  const read = await duck.runAndReadAll(`SELECT action, strftime(window_start, '%Y-%m-%dT%H:%M:%SZ'), typeof(window_start), count, typeof(count) FROM read_csv(${list}, header = true) ORDER BY action`);
  t.strictSame(read.getRowsJson(), [
    ['Close', '2016-07-26T03:00:00Z', 'TIMESTAMP WITH TIME ZONE', '1', 'BIGINT'],
    ['Open', '2016-07-26T03:00:00Z', 'TIMESTAMP WITH TIME ZONE', '2', 'BIGINT'],
  ]);
});

t.test('tidemark run --format csv: a deduplication writes CSV; a windowed count is refused naming the window column', async (t) => {
  const root = t.testdir({ in: { 'a.json': '{"time":1469504400,"id":"a","note":"x, y"}\n{"time":1469504401,"id":"a","note":"again"}\n{"time":1469504402,"id":"b"}\n' } });
  const ok = await tidemark([
    'run', '--input', join(root, 'in'), '--schema', 'time timestamp, id string, note string', '--drop-duplicates', 'id',
    '--output-mode', 'append', '--output', join(root, 'out'), '--checkpoint', join(root, 'chk'), '--trigger', 'available-now', '--format', 'csv',
  ]);
  t.equal(ok.code, 0, ok.stderr);
  const texts = await Promise.all((await committedFiles(join(root, 'out'))).map((f) => readFile(f, 'utf8')));
  t.strictSame(texts, ['time,id,note\n2016-07-26T03:40:00.000Z,a,"x, y"\n2016-07-26T03:40:02.000Z,b,\n']);

  // Read back as spark.read.option("header", True).csv(out).show(): every column a string, the empty field null.
  const shown = await tidemark(['show', join(root, 'out'), '--truncate', 'false']);
  t.equal(shown.code, 0, shown.stderr);
  t.equal(
    shown.stdout,
    '+------------------------+---+----+\n' +
      '|time                    |id |note|\n' +
      '+------------------------+---+----+\n' +
      '|2016-07-26T03:40:00.000Z|a  |x, y|\n' +
      '|2016-07-26T03:40:02.000Z|b  |NULL|\n' +
      '+------------------------+---+----+\n' +
      '\n',
  );

  const refused = await tidemark([
    'run', '--input', join(root, 'in'), '--schema', 'time timestamp, id string', '--group-by', 'id', '--window', '1 hour', '--watermark', '1 hour',
    '--output-mode', 'append', '--output', join(root, 'out2'), '--checkpoint', join(root, 'chk2'), '--trigger', 'available-now', '--format', 'csv',
  ]);
  t.equal(refused.code, 1);
  t.equal(
    refused.stderr,
    'tidemark: [UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn\'t support the column `window` of the type "STRUCT<start: TIMESTAMP, end: TIMESTAMP>". ' +
      "Write format 'json' or 'parquet', or flatten it first: one column per field (window_start, window_end) (code ERR_UNSUPPORTED_DATA_TYPE)\n",
  );
  t.notOk((await readdir(root)).includes('out2'), 'nothing written');
});

t.test('parseCsv reads what the sink writes: quotes doubled, quoted line breaks, null for an empty field, "" for the empty string', async (t) => {
  t.strictSame(parseCsv('a,b,c\n"x, ""y""\nz",,""\r\n1,2,\n'), [
    ['a', 'b', 'c'],
    ['x, "y"\nz', null, ''],
    ['1', '2', null],
  ]);
});

t.test('a micro-batch of more CSV than one write piece (1 MiB) is one file: the header once, then every row in order', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  // About 2.4 MiB of rows in one batch.
  const actions = Array.from({ length: 40_000 }, (_, i) => `action-${String(i).padStart(6, '0')}-${'x'.repeat(20)}`);
  source.addData(actions.map((action) => ({ time: 1469504400_000, action })));
  await pipeline(microBatches(source, { trigger: 'availableNow', checkpointLocation: join(dir, 'chk') }), new CheckpointSink({ path: out, format: 'csv', timeZone: 'UTC' }));
  const files = await committedFiles(out);
  t.equal(files.length, 1);
  const text = await readFile(files[0]!, 'utf8');
  t.ok(text.length > 2 * 1024 * 1024, 'more than two pieces');
  t.equal(text, 'time,action\n' + actions.map((a) => `2016-07-26T03:40:00.000Z,${a}\n`).join(''));
});

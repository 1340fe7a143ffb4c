/**
 * `CheckpointSink`: Spark's JSON file sink: one file and one manifest entry
 * per micro-batch, JacksonGenerator's line format, exactly-once across
 * restarts, and the file sink's refusals.
 */
import t from 'tap';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { field, schema, Types, WINDOW_TYPE } from '../../lib/core/schema.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { CheckpointSink, LineWriter } from '../../lib/sinks/checkpoint-sink.js';
import { RecordBatch } from '../../lib/core/batch.js';
import { formatTimestampIso } from '../../lib/core/timestamp.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { eventSchema, events, notebookStages } from '../helpers.js';
import { microBatches } from '../../lib/query/executor.js';

const ZONE = 'Asia/Kolkata';

/** The notebook's query: 10-minute watermark, 1-hour windows, count by action and window. */
const stages = () => notebookStages({ delay: '10 minutes', duration: '1 hour' });

/** Batch files of `out`'s manifest (not their `.N.crc` sidecars nor the owner record), by name. */
async function manifest(out: string): Promise<string[]> {
  return (await readdir(join(out, '_spark_metadata'))).filter((n) => !n.startsWith('.')).sort();
}

/** Data files in `out`, by name. */
async function dataFiles(out: string): Promise<string[]> {
  return (await readdir(out)).filter((n) => n.endsWith('.json')).sort();
}

/** Content of every committed line, in batch order. */
async function committedLines(out: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(out)) lines.push(text);
  return lines;
}

/** Content of the data file batch `batchId` committed. */
async function batchFile(out: string, batchId: number): Promise<string> {
  const entry = (await readFile(join(out, '_spark_metadata', String(batchId)), 'utf8')).split('\n')[1]!;
  const path = (JSON.parse(entry) as { path: string }).path;
  return readFile(new URL(path), 'utf8');
}

// Epoch 1469504400 = 2016-07-26T03:40:00Z = 09:10 in Kolkata (+05:30): window [08:30, 09:30) local.
const batch0 = events([1469504400, 'Open'], [1469504460, 'Open'], [1469505000, 'Close']);
// 05:46:40Z: moves the watermark to 05:36:40Z, past the end of the first window (04:00Z).
const batch1 = events([1469512000, 'Open']);

t.test('a windowed count writes one JSON Lines file per micro-batch, in Spark JSON format and the session time zone', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  const sink = new CheckpointSink({ path: out, timeZone: ZONE });
  const query = await startQuery({ source, stages: stages(), sink, checkpointLocation: join(dir, 'chk'), outputMode: 'append', manager: new StreamingQueryManager() });
  source.addData(batch0);
  await query.processAllAvailable();
  source.addData(batch1);
  await query.processAllAvailable();
  await query.stop();
  // Batches: 0 (data), 1 (no-data: the watermark moved), 2 (data), 3 (no-data: closes 03:00Z-04:00Z).
  t.strictSame(await manifest(out), ['0', '1', '2', '3'], 'one manifest entry per batch');
  t.equal((await dataFiles(out)).length, 4, 'one data file per batch, empty ones included');
  for (const id of [0, 1, 2]) t.equal(await batchFile(out, id), '', `batch ${id} wrote an empty file`);
  t.equal(
    await batchFile(out, 3),
    '{"action":"Open","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"count":2}\n' +
      '{"action":"Close","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"count":1}\n',
  );
  t.equal(query.lastProgress?.sink.description, `FileSink[${out}]`);
});

t.test('each manifest entry is Spark FileStreamSinkLog v1 naming the batch data file', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  const run = { trigger: 'availableNow', checkpointLocation: join(dir, 'chk') } as const;
  source.addData(events([1469504400, 'Open'], [1469504401, 'Close']));
  await pipeline(microBatches(source, run), new CheckpointSink({ path: out, timeZone: 'UTC' }));
  const files = await dataFiles(out);
  t.equal(files.length, 1);
  t.match(files[0]!, /^part-00000-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-c000\.json$/);
  const data = join(out, files[0]!);
  const s = await stat(data);
  t.equal(
    await readFile(join(out, '_spark_metadata', '0'), 'utf8'),
    `v1\n{"path":"file://${data}","size":${s.size},"isDir":false,"modificationTime":${Math.floor(s.mtimeMs)},"blockReplication":1,"blockSize":33554432,"action":"add"}`,
  );
  t.equal(await readFile(data, 'utf8'), '{"time":"2016-07-26T03:40:00.000Z","action":"Open"}\n{"time":"2016-07-26T03:40:01.000Z","action":"Close"}\n');
});

t.test('lines follow JacksonGenerator: schema order, nulls omitted, Java number text, NaN as a string, Jackson escapes', async (t) => {
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
    field('w', WINDOW_TYPE),
    field('arr', { type: 'array', elementType: Types.long, containsNull: true }),
    field('m', { type: 'map', keyType: Types.string, valueType: Types.double, valueContainsNull: true }),
    field('bin', Types.binary),
    field('dec', { type: 'decimal', precision: 10, scale: 2 }),
  ]);
  const source = new MemorySource({ schema: s });
  const run = { trigger: 'availableNow', checkpointLocation: join(dir, 'chk') } as const;
  source.addData([
    {
      s: 'a"b\\c\n\t\u0001é/',
      i: 7,
      l: 1469504400000,
      d: 0.1,
      f: 1.1,
      b: true,
      dt: '2016-07-26',
      ts: 1469504400123,
      w: { start: 1469502000000, end: 1469505600000 },
      arr: [1, null, 3],
      m: new Map([['x', NaN], ['y', null]]),
      bin: new Uint8Array([1, 2, 3]),
      dec: '12.50',
    },
    { w: { start: 1469502000000, end: null }, b: false },
    ...[NaN, Infinity, -Infinity, 100, 1e7, 0.0001, 0.001, -0, 123456.789, -2.5e-10].map((d) => ({ d })),
    {},
  ]);
  await pipeline(microBatches(source, run), new CheckpointSink({ path: out, timeZone: ZONE }));
  t.strictSame((await readFile(join(out, (await dataFiles(out))[0]!), 'utf8')).split('\n'), [
    '{"s":"a\\"b\\\\c\\n\\t\\u0001é/","i":7,"l":1469504400000,"d":0.1,"f":1.1,"b":true,"dt":"2016-07-26","ts":"2016-07-26T09:10:00.123+05:30",' +
      '"w":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"arr":[1,null,3],"m":{"x":"NaN","y":null},"bin":"AQID","dec":12.50}',
    '{"b":false,"w":{"start":"2016-07-26T08:30:00.000+05:30"}}',
    '{"d":"NaN"}',
    '{"d":"Infinity"}',
    '{"d":"-Infinity"}',
    '{"d":100.0}',
    '{"d":1.0E7}',
    '{"d":1.0E-4}',
    '{"d":0.001}',
    '{"d":-0.0}',
    '{"d":123456.789}',
    '{"d":-2.5E-10}',
    '{}',
    '',
  ]);
});

t.test('readers see only committed files: a stray part file and temp files are invisible', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  const run = { trigger: 'availableNow', checkpointLocation: join(dir, 'chk') } as const;
  source.addData(events([1469504400, 'Open']));
  await pipeline(microBatches(source, run), new CheckpointSink({ path: out, timeZone: 'UTC' }));
  await writeFile(join(out, 'part-00000-00000000-0000-0000-0000-000000000000-c000.json'), '{"action":"Stray"}\n');
  await writeFile(join(out, '.part-00001.json.tmp'), '{"action":"Partial"');
  t.strictSame(await committedLines(out), ['{"time":"2016-07-26T03:40:00.000Z","action":"Open"}']);
});

/** Runs the notebook query over batch0 and batch1, stopping after each; returns the checkpoint and output paths. */
async function runTwoSteps(dir: string): Promise<{ out: string; chk: string; source: MemorySource }> {
  const out = join(dir, 'out');
  const chk = join(dir, 'chk');
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, stages: stages(), sink: new CheckpointSink({ path: out, timeZone: ZONE }), checkpointLocation: chk, outputMode: 'append', manager: new StreamingQueryManager() });
  source.addData(batch0);
  await query.processAllAvailable();
  source.addData(batch1);
  await query.processAllAvailable();
  await query.stop();
  return { out, chk, source };
}

async function restart(source: MemorySource, out: string, chk: string): Promise<MemorySource> {
  const reopened = source.reopen();
  const query = await startQuery({ source: reopened, stages: stages(), sink: new CheckpointSink({ path: out, timeZone: ZONE }), checkpointLocation: chk, outputMode: 'append', manager: new StreamingQueryManager() });
  await query.processAllAvailable();
  await query.stop();
  return reopened;
}

const closedWindow = [
  '{"action":"Open","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"count":2}',
  '{"action":"Close","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"count":1}',
];

t.test('a batch re-executed after a restart whose manifest entry exists is skipped: nothing is written twice', async (t) => {
  const { out, chk, source } = await runTwoSteps(t.testdir());
  const filesBefore = await dataFiles(out);
  const manifestBefore = await readFile(join(out, '_spark_metadata', '3'), 'utf8');
  await rm(join(chk, 'commits', '3'));
  await restart(source, out, chk);
  t.ok((await stat(join(chk, 'commits', '3'))).isFile(), 'batch 3 was re-executed and committed');
  t.strictSame(await dataFiles(out), filesBefore, 'no new data file');
  t.strictSame(await manifest(out), ['0', '1', '2', '3']);
  t.equal(await readFile(join(out, '_spark_metadata', '3'), 'utf8'), manifestBefore, 'manifest entry untouched');
  t.strictSame(await committedLines(out), closedWindow);
});

t.test('a batch that crashed before its manifest entry leaves an orphan file readers never see; the restart deletes it and writes the batch once', async (t) => {
  const { out, chk, source } = await runTwoSteps(t.testdir());
  const orphan = JSON.parse((await readFile(join(out, '_spark_metadata', '3'), 'utf8')).split('\n')[1]!).path as string;
  // Crash between the data file and the manifest: the entry and the commit are missing.
  await rm(join(out, '_spark_metadata', '3'));
  await rm(join(chk, 'commits', '3'));
  t.strictSame(await committedLines(out), [], 'the orphan is invisible before the restart');
  await restart(source, out, chk);
  t.equal((await dataFiles(out)).length, 4, 'one data file per batch');
  t.notOk((await dataFiles(out)).includes(basename(new URL(orphan).pathname)), 'the orphan is gone');
  t.strictSame(await manifest(out), ['0', '1', '2', '3']);
  t.strictSame(await committedLines(out), closedWindow, 'the window is read once');
});

t.test('err_file_sink_update_or_complete: the JSON file sink refuses update and complete output modes', async (t) => {
  const dir = t.testdir();
  for (const [mode, name] of [['update', 'Update'], ['complete', 'Complete']] as const) {
    await t.rejects(
      startQuery({
        source: new MemorySource({ schema: eventSchema }),
        stages: [new KeyedCount({ groupBy: [] })],
        sink: new CheckpointSink({ path: join(dir, 'out') }),
        checkpointLocation: join(dir, 'chk'),
        outputMode: mode,
        manager: new StreamingQueryManager(),
      }),
      { name: 'TidemarkError', code: 'ERR_UNSUPPORTED_OUTPUT_MODE', option: 'outputMode', message: `Data source json does not support ${name} output mode` },
      mode,
    );
  }
});

t.test('err_missing_checkpoint_location: the JSON file sink needs a checkpoint location, at start and on open', async (t) => {
  const dir = t.testdir();
  const message =
    'checkpointLocation must be specified either through option("checkpointLocation", ...) or SparkSession.conf.set("spark.sql.streaming.checkpointLocation", ...)';
  await t.rejects(
    startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new CheckpointSink({ path: join(dir, 'out') }), manager: new StreamingQueryManager() }),
    { code: 'ERR_MISSING_CHECKPOINT_LOCATION', option: 'checkpointLocation', message },
  );
  const source = new MemorySource({ schema: eventSchema });
  const run = { trigger: 'availableNow' } as const;
  source.addData(events([1, 'Open']));
  await t.rejects(pipeline(microBatches(source, run), new CheckpointSink({ path: join(dir, 'out') })), { code: 'ERR_MISSING_CHECKPOINT_LOCATION', message }, 'a pipeline composed by hand');
});

t.test('options are checked in the constructor, naming the option', async (t) => {
  t.throws(() => new CheckpointSink({ path: '' }), { code: 'ERR_INVALID_OPTION', option: 'path', message: "'path' is not specified" });
  t.throws(() => new CheckpointSink({ path: 'out', format: 'orc' as 'json' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'format',
    message: `CheckpointSink writes format 'json', 'parquet' or 'csv', got "orc"`,
  });
  t.throws(() => new CheckpointSink({ path: 'out', timeZone: 'Mars/Olympus' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'timeZone',
    message: 'Invalid time zone "Mars/Olympus": expected a region id such as "Asia/Kolkata", "UTC" or an offset such as "+05:30"',
  });
  const sink = new CheckpointSink({ path: 'out/json', timeZone: '+05:30' });
  t.equal(sink.description, 'FileSink[out/json]');
  t.equal(sink.timeZone, '+05:30');
});

t.test('a micro-batch of more output than one write piece (1 MiB) is one data file with every line, in order (issue 13: output as a stream)', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  // 40,000 distinct actions in one window: about 3 MiB of lines, emitted by one drain.
  const actions = Array.from({ length: 40_000 }, (_, i) => `action-${String(i).padStart(6, '0')}-${'x'.repeat(20)}`);
  source.addData(actions.map((action) => ({ time: 1469504400_000, action })));
  const query = await startQuery({ source, stages: stages(), sink: new CheckpointSink({ path: out, timeZone: 'UTC' }), checkpointLocation: join(dir, 'chk'), outputMode: 'append', trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
  await query.awaitTermination();
  const lines = (await committedLines(out)).filter((l) => l.length > 0);
  t.equal(lines.length, actions.length);
  t.strictSame(lines.map((l) => (JSON.parse(l) as { action: string }).action), actions, 'every action once, in the order its group entered the state');
  t.ok((await Promise.all((await dataFiles(out)).map(async (f) => (await stat(join(out, f))).size))).some((size) => size > 2 * 1024 * 1024), 'one file holds them all');
});

t.test('multi-byte UTF-8 keys across write pieces come out whole, every line in order', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const source = new MemorySource({ schema: eventSchema });
  // About 7 MiB of lines of 1 to 600 three-byte characters (plus a 2- and a 4-byte one on some),
  // so the pieces end at every kind of place among lines whose UTF-8 is three times their length.
  const actions = Array.from({ length: 8_000 }, (_, i) => `${String(i).padStart(5, '0')}-${'é'.repeat(i % 2)}${'😀'.repeat(i % 3 === 0 ? 1 : 0)}${'€'.repeat(1 + ((i * 7919) % 600))}`);
  source.addData(actions.map((action) => ({ time: 1469504400_000, action })));
  const query = await startQuery({ source, stages: stages(), sink: new CheckpointSink({ path: out, timeZone: 'UTC' }), checkpointLocation: join(dir, 'chk'), outputMode: 'append', trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
  await query.awaitTermination();
  const lines = (await committedLines(out)).filter((l) => l.length > 0);
  t.strictSame(lines.map((l) => (JSON.parse(l) as { action: string }).action), actions);
});

t.test('timestamps repeating among more values than a writer compares first each print their own text', async (t) => {
  const s = schema([field('window', WINDOW_TYPE)]);
  // Window starts cycling through 13 values, in runs and strides that cross the writer's recent
  // ones (8) in every way; -0 and 0 are one instant.
  const starts = Array.from({ length: 400 }, (_, i) => (i % 37 === 0 ? -0 : ((i * 7) % 13) * 600_000_000 + (i % 5 === 0 ? 0 : 1_469_500_000_000_000)));
  const batch = new RecordBatch(s, [{ kind: 'struct', children: [{ kind: 'f64', values: Float64Array.from(starts), nulls: null }, { kind: 'f64', values: Float64Array.from(starts, (v) => v + 3_600_000_000), nulls: null }], nulls: null }], starts.length);
  const writer = new LineWriter(s, 'UTC');
  const lines = starts.map((_, i) => writer.line(batch, i));
  t.strictSame(
    lines,
    starts.map((v) => `{"window":{"start":"${formatTimestampIso(v, 'UTC')}","end":"${formatTimestampIso(v + 3_600_000_000, 'UTC')}"}}`),
  );
});

/**
 * The file sink in Parquet (issue 17 §4): `tidemark run --format parquet`
 * and `CheckpointSink({ format: 'parquet' })` write Spark's layout (one
 * `part-…-c000.snappy.parquet` per micro-batch, made visible by its
 * `_spark_metadata` entry) that DuckDB's `read_parquet` reads as it is.
 *
 * The writing runs in `tidemark` processes (the built package under plain
 * Node): the encoder's package uses subpath-pattern exports the test
 * runner's module resolver does not know.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { generateDataset, generateLines } from '../../lib/gen.js';
import { writeIotDataset } from '../../lib/gen-iot.js';
import { readCommittedJsonLines, readSinkLog } from '../../lib/sinks/file-sink-log.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };

function tidemark(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: ENV, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

function runArgs(input: string, out: string, chk: string, extra: readonly string[] = []): string[] {
  return [
    'run', '--input', input, '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour', '--watermark', '2 hours',
    '--output-mode', 'append', '--output', out, '--checkpoint', chk, '--trigger', 'available-now', ...extra,
  ];
}

const db = await DuckDBInstance.create(':memory:');
const duck = await db.connect();
await duck.run("SET TimeZone = 'UTC'");
t.teardown(() => {
  duck.closeSync();
  db.closeSync();
});

/** Rows of a SQL query, as JSON-friendly values. */
async function query(sql: string): Promise<unknown[][]> {
  return (await duck.runAndReadAll(sql)).getRowsJson() as unknown[][];
}

/** The committed files of a file sink's output, as a DuckDB list literal. */
async function committedList(out: string): Promise<string> {
  const files = (await readSinkLog(out)).map((f) => fileURLToPath(f.path));
  return '[' + files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ') + ']';
}

/** `action start end count` lines of a Parquet output, read by DuckDB from the committed files. */
async function parquetCounts(out: string): Promise<string[]> {
  const rows = await query(
    `SELECT action, strftime("window".start, '%Y-%m-%dT%H:%M:%SZ'), strftime("window"."end", '%Y-%m-%dT%H:%M:%SZ'), count FROM read_parquet(${await committedList(out)})`,
  );
  return rows.map((r) => r.join(' ')).sort();
}

/** The same lines from a JSON output. */
async function jsonCounts(out: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(out)) {
    if (text.length === 0) continue;
    const r = JSON.parse(text) as { action: string; window: { start: string; end: string }; count: number };
    const iso = (s: string): string => new Date(s).toISOString().replace('.000Z', 'Z');
    lines.push(`${r.action} ${iso(r.window.start)} ${iso(r.window.end)} ${r.count}`);
  }
  return lines.sort();
}

t.test('--format parquet on the notebook data: DuckDB reads exactly the counts of the JSON run', async (t) => {
  const root = t.testdir();
  const data = { files: 4, lines: 400, seed: 5 };
  await generateDataset(join(root, 'in'), data);
  const json = await tidemark(runArgs(join(root, 'in'), join(root, 'json'), join(root, 'chk-json'), ['--drain']));
  const parquet = await tidemark(runArgs(join(root, 'in'), join(root, 'parquet'), join(root, 'chk-parquet'), ['--drain', '--format', 'parquet']));
  t.equal(json.code, 0, json.stderr);
  t.equal(parquet.code, 0, parquet.stderr);
  const expected = await jsonCounts(join(root, 'json'));
  t.equal(expected.length > 0 && expected.reduce((n, l) => n + Number(l.split(' ')[3]), 0), data.files * data.lines, 'the JSON run counts every event once');
  t.strictSame(await parquetCounts(join(root, 'parquet')), expected);
});

t.test("the Parquet files carry Spark's types: window a struct of two UTC timestamps, count int64, every column nullable", async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 1, lines: 20, seed: 1 });
  t.equal((await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk'), ['--drain', '--format', 'parquet']))).code, 0);
  const files = await committedList(join(root, 'out'));
  t.strictSame(await query(`SELECT column_name, column_type, "null" FROM (DESCRIBE SELECT * FROM read_parquet(${files}))`), [
    ['action', 'VARCHAR', 'YES'],
    ['window', 'STRUCT("start" TIMESTAMP WITH TIME ZONE, "end" TIMESTAMP WITH TIME ZONE)', 'YES'],
    ['count', 'BIGINT', 'YES'],
  ]);
  const [meta] = await query(`SELECT decode(value) FROM parquet_kv_metadata(${files}) WHERE decode(key) = 'org.apache.spark.sql.parquet.row.metadata' LIMIT 1`);
  t.strictSame(JSON.parse(meta![0] as string), {
    type: 'struct',
    fields: [
      { name: 'action', type: 'string', nullable: true, metadata: {} },
      {
        name: 'window',
        type: {
          type: 'struct',
          fields: [
            { name: 'start', type: 'timestamp', nullable: true, metadata: {} },
            { name: 'end', type: 'timestamp', nullable: true, metadata: {} },
          ],
        },
        nullable: true,
        metadata: {},
      },
      { name: 'count', type: 'long', nullable: true, metadata: {} },
    ],
  }, "Spark's schema, from which Spark restores the exact types");
});

t.test('one snappy Parquet file per micro-batch, even an empty one, each listed once in _spark_metadata', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 3, lines: 50, seed: 2 });
  t.equal((await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk'), ['--max-files-per-trigger', '1', '--format', 'parquet']))).code, 0);
  const data = (await readdir(join(root, 'out'))).filter((f) => !f.startsWith('_') && !f.startsWith('.')).sort();
  t.equal(data.length, 4, 'four batches (one per input file, then one without data that moves the watermark), four files');
  for (const f of data) t.match(f, /^part-00000-[0-9a-f-]{36}-c000\.snappy\.parquet$/);
  const logged = (await readSinkLog(join(root, 'out'))).map((f) => fileURLToPath(f.path).slice(join(root, 'out').length + 1)).sort();
  t.strictSame(logged, data);
});

t.test('a restart writes only the new batches; an unlisted part file left by a crash is deleted, never read', async (t) => {
  const root = t.testdir();
  const input = join(root, 'in');
  await generateDataset(input, { files: 2, lines: 100, seed: 3 });
  const args = runArgs(input, join(root, 'out'), join(root, 'chk'), ['--format', 'parquet']);
  t.equal((await tidemark(args)).code, 0);
  // What a crash between a data file and its manifest entry leaves behind.
  const orphan = join(root, 'out', 'part-00000-00000000-0000-4000-8000-000000000000-c000.snappy.parquet');
  await writeFile(orphan, 'PAR1 half a file');
  // New data far enough ahead that the first windows close.
  const later = [...generateLines({ files: 1, lines: 100, seed: 4 })].map((l) => {
    const e = JSON.parse(l) as { time: number; action: string };
    return JSON.stringify({ time: e.time + 86_400, action: e.action });
  });
  await writeFile(join(input, 'part-99999.json'), later.join('\n') + '\n');
  t.equal((await tidemark([...args, '--drain'])).code, 0);
  t.notOk((await readdir(join(root, 'out'))).includes(orphan.slice(join(root, 'out').length + 1)), 'the orphan is gone');

  const all = [...generateLines({ files: 2, lines: 100, seed: 3 })].map((l) => JSON.parse(l) as { time: number; action: string });
  for (const l of later) all.push(JSON.parse(l) as { time: number; action: string });
  const expected = new Map<string, number>();
  for (const e of all) {
    const start = Math.floor(e.time / 3600) * 3600;
    const key = `${e.action} ${new Date(start * 1000).toISOString().replace('.000Z', 'Z')} ${new Date((start + 3600) * 1000).toISOString().replace('.000Z', 'Z')}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  t.strictSame(await parquetCounts(join(root, 'out')), [...expected].map(([k, n]) => `${k} ${n}`).sort(), 'every window once, across the restart');
});

t.test('a column Parquet output cannot hold is refused at start, naming it; nothing is written', async (t) => {
  const root = t.testdir({ in: { 'a.json': '{"time":0,"id":"a","tags":["x"]}\n' } });
  const r = await tidemark([
    'run', '--input', join(root, 'in'), '--schema', 'time timestamp, id string, tags array<string>', '--drop-duplicates', 'id',
    '--output-mode', 'append', '--output', join(root, 'out'), '--checkpoint', join(root, 'chk'), '--trigger', 'available-now', '--format', 'parquet',
  ]);
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    "tidemark: The Parquet sink does not write column `tags` of type array: it writes strings, booleans, numbers, dates, timestamps and structs of them. Use format 'json' for this output (code ERR_UNSUPPORTED_DATA_TYPE)\n",
  );
  t.strictSame(await readdir(root), ['in'], 'no checkpoint, no output');
});

t.test('--format takes json, parquet or csv, and only with --output', async (t) => {
  const root = t.testdir();
  const csv = await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk'), ['--format', 'parqet']));
  t.equal(csv.code, 2);
  t.equal(csv.stderr, "tidemark: --format: 'parqet' is not one of json, parquet or csv; did you mean 'parquet'?\nRun 'tidemark run --help' for usage.\n");
  const console = await tidemark([
    'run', '--input', join(root, 'in'), '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour',
    '--output-mode', 'update', '--console', '--format', 'parquet',
  ]);
  t.equal(console.code, 2);
  t.equal(console.stderr, "tidemark: --format: the console prints rows; --format chooses the files --output writes\nRun 'tidemark run --help' for usage.\n");
});

t.test("CheckpointSink({ format: 'parquet' }) writes each type as Spark does, nulls as nulls", async (t) => {
  const dir = t.testdir();
  const index = new URL('../../dist/index.js', import.meta.url).href;
  const script = `
import { MemorySource, CheckpointSink, startQuery } from ${JSON.stringify(index)};
const [out, chk] = process.argv.slice(2);
const source = new MemorySource({ schema: 'i int, l long, d double, b boolean, s string, day date, t timestamp, n timestamp_ntz, st struct<x: int, y: string>' });
source.addData([
  { i: 1, l: 9007199254740991, d: 0.5, b: true, s: 'é"x', day: '2016-07-26', t: Date.parse('2016-07-26T03:00:00.123Z'), n: Date.parse('2016-07-26T03:00:00Z'), st: { x: 7, y: 'a' } },
  { i: null, l: null, d: null, b: null, s: null, day: null, t: null, n: null, st: null },
]);
const sink = new CheckpointSink({ path: out, format: 'parquet' });
const query = await startQuery({ source, stages: [], sink, checkpointLocation: chk, outputMode: 'append', trigger: 'available-now' });
await query.awaitTermination();
`;
  await writeFile(join(dir, 'write.mjs'), script);
  const code = await new Promise<number | null>((resolve) => execFile(process.execPath, [join(dir, 'write.mjs'), join(dir, 'out'), join(dir, 'chk')], { env: ENV }, (err) => resolve(err === null ? 0 : (err.code as number))));
  t.equal(code, 0);
  const files = await committedList(join(dir, 'out'));
  t.strictSame(await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${files}))`), [
    ['i', 'INTEGER'],
    ['l', 'BIGINT'],
    ['d', 'DOUBLE'],
    ['b', 'BOOLEAN'],
    ['s', 'VARCHAR'],
    ['day', 'DATE'],
    ['t', 'TIMESTAMP WITH TIME ZONE'],
    ['n', 'TIMESTAMP'],
    ['st', 'STRUCT(x INTEGER, y VARCHAR)'],
  ]);
  t.strictSame(await query(`SELECT i, l, d, b, s, day::VARCHAR, t::VARCHAR, n::VARCHAR, st FROM read_parquet(${files})`), [
    [1, '9007199254740991', 0.5, true, 'é"x', '2016-07-26', '2016-07-26 03:00:00.123+00', '2016-07-26 03:00:00', { x: 7, y: 'a' }],
    [null, null, null, null, null, null, null, null, null],
  ]);
});

t.test('readCommittedJsonLines refuses a Parquet output with the way to read it, instead of yielding its bytes as lines', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 1, lines: 20, seed: 1 });
  t.equal((await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk'), ['--drain', '--format', 'parquet']))).code, 0);
  const first = fileURLToPath((await readSinkLog(join(root, 'out')))[0]!.path);
  const lines = async (): Promise<void> => {
    for await (const _ of readCommittedJsonLines(join(root, 'out'))) void _;
  };
  await t.rejects(lines(), {
    code: 'ERR_UNSUPPORTED_FORMAT',
    file: first,
    message: `${first} is a Parquet file; only JSON output is read here. Read Parquet output with DuckDB, e.g. SELECT * FROM read_parquet('${join(root, 'out', '*.parquet')}')`,
  });
});

t.test('--agg output in Parquet: count as BIGINT, avg as DOUBLE (null for a device whose readings are all null), the values of the JSON run', async (t) => {
  const root = t.testdir();
  await writeIotDataset(join(root, 'in'), { files: 2, lines: 400, seed: 3 });
  const args = (out: string, extra: readonly string[]): string[] => [
    'run', '--input', join(root, 'in'), '--schema', 'time timestamp, device string, temperature double', '--group-by', 'device', '--window', '5 minutes',
    '--agg', 'count,avg(temperature)', '--watermark', '1 minute', '--output-mode', 'append', '--output', join(root, out), '--checkpoint', join(root, `chk-${out}`),
    '--trigger', 'available-now', '--drain', ...extra,
  ];
  t.equal((await tidemark(args('json', []))).code, 0);
  t.equal((await tidemark(args('parquet', ['--format', 'parquet']))).code, 0);
  const expected: string[] = [];
  for await (const { text } of readCommittedJsonLines(join(root, 'json'))) {
    if (text.length === 0) continue;
    const r = JSON.parse(text) as { device: string; window: { start: string }; count: number; 'avg(temperature)'?: number };
    expected.push(`${r.device} ${new Date(r.window.start).toISOString()} ${r.count} ${r['avg(temperature)'] ?? null}`);
  }
  const files = await committedList(join(root, 'parquet'));
  t.strictSame(await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT count, "avg(temperature)" FROM read_parquet(${files}))`), [
    ['count', 'BIGINT'],
    ['avg(temperature)', 'DOUBLE'],
  ]);
  const rows = await query(`SELECT device, strftime("window".start, '%Y-%m-%dT%H:%M:%S.000Z'), count, "avg(temperature)" FROM read_parquet(${files})`);
  const actual = rows.map(([device, start, count, avg]) => `${String(device)} ${String(start)} ${String(count)} ${avg === null ? null : Number(avg)}`);
  t.ok(expected.some((l) => l.endsWith(' null')), 'a device with only null readings has a null average');
  t.strictSame(actual.sort(), expected.sort());
});

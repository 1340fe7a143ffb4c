/**
 * Issue 12's oracle: `tidemark run --agg "count,sum(temperature),avg(temperature),min(temperature),max(temperature)"`
 * per device and 5-minute window over IoT readings (`tidemark gen --kind iot`)
 * against DuckDB's `GROUP BY` over the same files, group by group: counts
 * equal, every double within a relative difference of 1e-9, nulls where
 * DuckDB has nulls (the JSON sink leaves a null out of the line).
 *
 * ```
 * node dist-bench/iot-oracle.js [--readings 400000] [--files 10] [--seed 1]
 * ```
 * generates the readings (in `bench/data/iot-…`, kept for the next run), runs
 * the command with a fresh checkpoint and output, runs DuckDB, prints the
 * comparison and exits 1 when any group differs. `test/cli/iot-oracle.test.ts`
 * runs the same comparison on 40,000 readings in `npm test`.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { readCommittedJsonLines } from 'tidemark';
import { writeIotDataset, IOT_SCHEMA } from 'tidemark/internals';
import { CLI, DATA_ROOT, flags, intFlag, isMain, seedFlag } from './common.js';

/** The aggregates, as `--agg` takes them and as the result columns are named. */
export const ORACLE_AGGREGATES = ['count', 'sum(temperature)', 'avg(temperature)', 'min(temperature)', 'max(temperature)'] as const;
/** The window, seconds. */
export const ORACLE_WINDOW_SECONDS = 300;
/** Largest relative difference allowed between two doubles. */
export const ORACLE_TOLERANCE = 1e-9;

/** One (device, window) group's results: the count, then sum, avg, min, max (null: no non-null temperature). */
export type OracleRow = readonly [count: number, sum: number | null, avg: number | null, min: number | null, max: number | null];
/** Results by `device \t windowStartSeconds`. */
export type OracleTable = Map<string, OracleRow>;

/** The `tidemark run` arguments of the oracle query (after the CLI's path). */
export function oracleRunArgs(input: string, checkpoint: string, output: string, extra: readonly string[] = []): string[] {
  return [
    'run',
    '--input', input,
    '--schema', IOT_SCHEMA,
    '--group-by', 'device',
    '--window', '5 minutes',
    '--agg', ORACLE_AGGREGATES.join(','),
    '--watermark', '10 minutes',
    '--output-mode', 'append',
    '--checkpoint', checkpoint,
    '--output', output,
    '--trigger', 'available-now',
    '--drain',
    ...extra,
  ];
}

/** DuckDB's answer: `GROUP BY device, floor(time / 300)` over `read_ndjson` of the files matching `glob` (`threads`: DuckDB's `SET threads`, its default when absent). */
export async function duckdbAggregates(glob: string, threads?: number): Promise<OracleTable> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    if (threads !== undefined) await connection.run(`SET threads=${threads}`);
    const result = await connection.runAndReadAll(
      `SELECT device, CAST(floor(time / ${ORACLE_WINDOW_SECONDS}) * ${ORACLE_WINDOW_SECONDS} AS BIGINT) AS window_start,
              count(*), sum(temperature), avg(temperature), min(temperature), max(temperature)
       FROM read_ndjson('${glob.replaceAll("'", "''")}', columns = {time: 'BIGINT', device: 'VARCHAR', temperature: 'DOUBLE'})
       GROUP BY ALL`,
    );
    const table: OracleTable = new Map();
    const num = (v: unknown): number | null => (v === null ? null : Number(v));
    for (const [device, start, count, sum, avg, min, max] of result.getRows()) {
      table.set(`${String(device)}\t${Number(start)}`, [Number(count), num(sum), num(avg), num(min), num(max)]);
    }
    return table;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** What tidemark wrote, read back from the committed output: a group written twice or a malformed line is a problem. */
export async function tidemarkAggregates(outputDir: string): Promise<{ table: OracleTable; problems: string[] }> {
  const table: OracleTable = new Map();
  const problems: string[] = [];
  for await (const { text } of readCommittedJsonLines(outputDir)) {
    if (text.length === 0) continue;
    const row = JSON.parse(text) as Record<string, unknown>;
    const window = row['window'] as { start?: unknown; end?: unknown } | undefined;
    const start = typeof window?.start === 'string' ? Date.parse(window.start) / 1000 : NaN;
    const count = row['count'];
    if (typeof row['device'] !== 'string' || !Number.isInteger(start) || typeof count !== 'number') {
      problems.push(`malformed output line: ${text}`);
      continue;
    }
    const key = `${row['device']}\t${start}`;
    if (table.has(key)) problems.push(`group written twice: ${key.replace('\t', ' @ ')}`);
    // The JSON sink leaves null fields out (Spark's ignoreNullFields).
    const value = (name: string): number | null => (row[name] === undefined ? null : (row[name] as number));
    table.set(key, [count, value('sum(temperature)'), value('avg(temperature)'), value('min(temperature)'), value('max(temperature)')]);
  }
  return { table, problems };
}

/** How two tables differ. */
export interface OracleComparison {
  /** Groups in the expected table. */
  readonly expectedGroups: number;
  readonly actualGroups: number;
  /** Groups missing, extra, or with any value differing. */
  readonly differing: number;
  /** Largest relative difference between two non-null doubles of a group. */
  readonly maxRelativeDifference: number;
  /** Groups of the expected table whose sum, avg, min, max are null, and that were null in the actual table too. */
  readonly nullGroups: number;
  /** The first few differences. */
  readonly examples: string[];
}

/** The relative difference of two doubles: |a − b| / max(|a|, |b|); 0 when both are 0. */
export function relativeDifference(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

/** Compares every group of `actual` with `expected`, value by value. */
export function compareTables(expected: OracleTable, actual: OracleTable, tolerance = ORACLE_TOLERANCE): OracleComparison {
  let differing = 0;
  let maxRelativeDifference = 0;
  let nullGroups = 0;
  const examples: string[] = [];
  const note = (key: string, what: string): void => {
    differing++;
    if (examples.length < 5) examples.push(`${key.replace('\t', ' @ ')}: ${what}`);
  };
  for (const [key, e] of expected) {
    const a = actual.get(key);
    if (a === undefined) {
      note(key, 'missing');
      continue;
    }
    const wrong: string[] = [];
    if (a[0] !== e[0]) wrong.push(`count ${a[0]}, expected ${e[0]}`);
    for (let i = 1; i < e.length; i++) {
      const ev = e[i] as number | null;
      const av = a[i] as number | null;
      if (ev === null || av === null) {
        if (ev !== av) wrong.push(`${ORACLE_AGGREGATES[i]} ${av}, expected ${ev}`);
        continue;
      }
      const d = relativeDifference(ev, av);
      maxRelativeDifference = Math.max(maxRelativeDifference, d);
      if (!(d <= tolerance)) wrong.push(`${ORACLE_AGGREGATES[i]} ${av}, expected ${ev} (relative difference ${d})`);
    }
    if (wrong.length > 0) note(key, wrong.join('; '));
    else if (e[1] === null) nullGroups++;
  }
  for (const key of actual.keys()) if (!expected.has(key)) note(key, 'not in the expected table');
  return { expectedGroups: expected.size, actualGroups: actual.size, differing, maxRelativeDifference, nullGroups, examples };
}

/** Runs `node <cli> args…`, resolving with its exit code and output. */
export function runCli(cli: string, args: readonly string[]): Promise<{ code: number | null; stderr: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr: Buffer.concat(err).toString('utf8'), wallMs: performance.now() - started }));
  });
}

/** One line per figure, for a person reading the run. */
export function formatComparison(c: OracleComparison, readings: number): string {
  return [
    `${readings.toLocaleString('en-US')} readings: ${c.expectedGroups} (device, window) groups from DuckDB, ${c.actualGroups} from tidemark, ${c.nullGroups} of them all-null (the dead device)`,
    `differing groups: ${c.differing}; largest relative difference of a double: ${c.maxRelativeDifference.toExponential(2)} (allowed ${ORACLE_TOLERANCE})`,
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** The directory of an IoT data set under `bench/data/`, generated (once) when missing: `readings` readings in `files` files. */
export async function ensureIotDataSet(readings: number, files: number, seed: number): Promise<string> {
  if (readings % files !== 0) throw new Error(`--readings must be a multiple of --files (${files})`);
  const dir = join(DATA_ROOT, `iot-${readings}-f${files}-s${seed}`);
  const exists = await stat(join(dir, `part-${String(files - 1).padStart(5, '0')}.json`)).then(() => true, () => false);
  if (!exists) await writeIotDataset(dir, { files, lines: readings / files, seed });
  return dir;
}

if (isMain(import.meta.url)) {
  const { values } = flags(process.argv.slice(2), { readings: { type: 'string' }, files: { type: 'string' }, seed: { type: 'string' } });
  const readings = intFlag(values.readings, 'readings', 400_000);
  const files = intFlag(values.files, 'files', 10);
  const seed = seedFlag(values.seed, 1);
  const dir = await ensureIotDataSet(readings, files, seed);
  const scratch = await mkdtemp(join(DATA_ROOT, '_oracle-'));
  try {
    const args = oracleRunArgs(dir, join(scratch, 'checkpoint'), join(scratch, 'output'), ['--max-files-per-trigger', '1']);
    process.stdout.write(`tidemark ${args.map((a) => (/[\s",()]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
    const run = await runCli(CLI, args);
    if (run.code !== 0) throw new Error(`tidemark run exited with ${run.code}: ${run.stderr}`);
    const started = performance.now();
    const expected = await duckdbAggregates(join(dir, 'part-*.json'));
    const duckMs = performance.now() - started;
    const actual = await tidemarkAggregates(join(scratch, 'output'));
    const comparison = compareTables(expected, actual.table);
    process.stdout.write(`tidemark run: ${(run.wallMs / 1000).toFixed(2)} s; DuckDB GROUP BY: ${(duckMs / 1000).toFixed(2)} s\n`);
    process.stdout.write(formatComparison(comparison, readings) + '\n');
    for (const p of actual.problems.slice(0, 5)) process.stdout.write(`problem: ${p}\n`);
    if (comparison.differing > 0 || actual.problems.length > 0) process.exitCode = 1;
    else process.stdout.write('every group equal\n');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

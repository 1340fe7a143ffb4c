/**
 * `npm run bench`: the notebook query (count per action and 1-hour window
 * over 10 M events) by tidemark's CLI and by the baselines, side by side.
 *
 * Every scenario runs as its own child process (`node --import probe.js …`)
 * so wall time and peak RSS are whole-process figures; the runner also times
 * each spawn. Runs are interleaved — each round runs every scenario once, in
 * a rotated order — so machine noise hits all alike, and ratios are medians
 * of per-round (paired) ratios. Every scenario's counts per (action, window)
 * are checked against the bare loop's (and the bare loop's against the data
 * set's reference); the process exits 1 if any differ or a scenario fails,
 * never because of a time.
 *
 * Issue 12's aggregate query runs on IoT readings (`writeIotDataset`, 40
 * devices, 5 % null temperatures): `tidemark run --agg
 * "count,sum(temperature),avg(temperature),min(temperature),max(temperature)"`
 * per device and 5-minute window beside the same command with `--agg count`
 * and DuckDB's `GROUP BY` (2 threads); every group of each is checked against
 * DuckDB's answer computed once before the rounds (bench/iot-oracle.ts:
 * counts equal, doubles within 1e-9).
 *
 * Flags: --runs N (3), --files N / --lines N / --seed N (data set; default
 * 50 × 200,000, seed 1), --iot-readings N / --iot-files N (IoT set; default
 * 2,000,000 in 20 files; 0 readings skips the IoT scenarios), --scenarios
 * a,b,… (subset), --no-pin (skip the `taskset -c 0` runs), --no-checkpoint
 * (skip checkpoint-commit.js), --out FILE (results; default
 * bench/results/<yyyy-mm-dd>.json, or <date>-<files>x<lines>.json for
 * another data set), --baseline DIR (also run DIR/dist/cli.js — another
 * checkout, built — as `tidemark-base`, `tidemark-sliding-base` and
 * `tidemark-base@cpu0`, paired with the rest).
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CLI,
  DATA_DEFAULTS,
  DATA_ROOT,
  DIST_BENCH,
  RESULTS_DIR,
  ROOT,
  countsFromJson,
  dataFiles,
  diffCounts,
  flags,
  intFlag,
  median,
  seedFlag,
  type Counts,
  type CountsDiff,
  type ScenarioOutput,
} from './common.js';
import { ensureDataSet, expectedSliding, expectedTumbling, warmPageCache, type DataSet } from './data.js';
import type { ProbeReport } from './probe.js';
import { readTidemarkOutput, tidemarkArgs } from './scenarios/tidemark.js';
import { formatCheckpointBench, type CheckpointBenchResult } from './checkpoint-commit.js';
import { compareTables, duckdbAggregates, ensureIotDataSet, oracleRunArgs, tidemarkAggregates, type OracleRow, type OracleTable } from './iot-oracle.js';

/** A scenario as the runner runs it. */
interface Scenario {
  /** `bare-loop`, `duckdb-1@cpu0`… */
  readonly name: string;
  readonly description: string;
  /** Run under `taskset -c 0`. */
  readonly pinned: boolean;
  /** Which counts it must produce: the notebook's, the sliding ones, none (bytes only), or the IoT groups (checked by `check`). */
  readonly expect: 'tumbling' | 'sliding' | 'bytes' | 'iot';
  /** `node` arguments (after the probe) for a run using scratch directory `runDir`. */
  args(runDir: string): string[];
  /** Its counts, from its stdout or its output directory. */
  result(stdout: string, runDir: string): Promise<{ counts: Counts | null; events: number; bytes: number; problems: string[] }>;
  /** For `expect: 'iot'`: how its groups differ from the oracle's (none: right). */
  check?(stdout: string, runDir: string): Promise<string[]>;
}

/** One run of one scenario. */
interface RunRecord {
  readonly round: number;
  readonly scenario: string;
  readonly pinned: boolean;
  /** Spawn to exit, measured by the runner. */
  readonly wallMs: number;
  /** The child's own figures (probe). */
  readonly childWallMs: number | null;
  readonly maxRssKiB: number | null;
  readonly userMs: number | null;
  readonly systemMs: number | null;
  readonly exitCode: number | null;
  /** Null when the scenario computes no counts. */
  readonly countsOk: boolean | null;
  readonly comparedWith: string | null;
  readonly diff: CountsDiff | null;
  readonly problems: string[];
}

const PROBE_URL = pathToFileURL(join(DIST_BENCH, 'probe.js')).href;
const scenarioScript = (name: string): string => join(DIST_BENCH, 'scenarios', `${name}.js`);

function fromStdout(stdout: string): { counts: Counts | null; events: number; bytes: number; problems: string[] } {
  const lines = stdout.trim().split('\n');
  const out = JSON.parse(lines[lines.length - 1]!) as ScenarioOutput;
  return { counts: out.counts === null ? null : countsFromJson(out.counts), events: out.events, bytes: out.bytes, problems: [] };
}

function programScenario(name: string, description: string, expect: Scenario['expect'], extra: string[] = [], pinned = false, script = name): (data: DataSet) => Scenario {
  return (data) => ({
    name: pinned ? `${name}@cpu0` : name,
    description,
    pinned,
    expect,
    args: () => [scenarioScript(script), data.dir, ...extra],
    result: async (stdout) => fromStdout(stdout),
  });
}

/** The copy of `dist/` the tidemark runs use (set before the rounds). */
let cliSnapshot: string | undefined;

function tidemarkScenario(name: string, description: string, slide: string | undefined, pinned = false, cli?: string, agg?: string): (data: DataSet) => Scenario {
  return (data) => ({
    name: pinned ? `${name}@cpu0` : name,
    description,
    pinned,
    expect: slide === undefined ? 'tumbling' : 'sliding',
    args: (runDir) => tidemarkArgs(data.dir, runDir, { ...(slide === undefined ? {} : { slide }), ...(agg === undefined ? {} : { agg }), ...(cli !== undefined ? { cli } : cliSnapshot === undefined ? {} : { cli: cliSnapshot }) }),
    result: async (_stdout, runDir) => {
      const out = await readTidemarkOutput(join(runDir, 'output'), 3600);
      const problems: string[] = [];
      if (out.duplicates > 0) problems.push(`${out.duplicates} groups emitted more than once`);
      if (out.badRows > 0) problems.push(`${out.badRows} output rows malformed or with a window not 1 hour long`);
      return { counts: out.counts, events: out.events, bytes: data.bytes, problems };
    },
  });
}

/** Every scenario, in table order. */
const ALL: ReadonlyArray<(data: DataSet) => Scenario> = [
  programScenario('read-bytes', 'read every file, count bytes (floor)', 'bytes'),
  programScenario('bare-loop', "readFile + split('\\n') + JSON.parse + Map", 'tumbling'),
  programScenario('split2-json', 'createReadStream → split2(JSON.parse) → Writable, Map', 'tumbling'),
  programScenario('stream-json', 'createReadStream → stream-json JSONL parser → Writable, Map', 'tumbling'),
  programScenario('duckdb-1', 'DuckDB read_ndjson GROUP BY, threads=1', 'tumbling', ['--threads', '1'], false, 'duckdb'),
  programScenario('duckdb-2', 'DuckDB read_ndjson GROUP BY, threads=2', 'tumbling', ['--threads', '2'], false, 'duckdb'),
  tidemarkScenario('tidemark', 'tidemark run: 1 hour tumbling, watermark 2 h, checkpoint + JSON sink', undefined),
  tidemarkScenario('tidemark-sliding', 'tidemark run: 1 hour every 10 minutes', '10 minutes'),
  // The notebook's data has no number to average: the aggregate beside the count is the first and last event time.
  tidemarkScenario('tidemark-agg', 'tidemark run --agg "count,min(time),max(time)": the notebook query with aggregates', undefined, false, undefined, 'count,min(time),max(time)'),
];

/** The IoT readings the aggregate scenarios read, and DuckDB's answer on them. */
interface IotSet {
  readonly dir: string;
  readonly readings: number;
  readonly bytes: number;
  readonly oracle: OracleTable;
}

/** The oracle's table with only the counts: what `--agg count` must write. */
function countsOnly(table: OracleTable): OracleTable {
  return new Map([...table].map(([key, row]) => [key, [row[0], null, null, null, null] as OracleRow]));
}

function describeComparison(c: ReturnType<typeof compareTables>, problems: readonly string[]): string[] {
  return [
    ...(c.differing === 0 ? [] : [`${c.differing} groups differ from DuckDB's (${c.actualGroups} groups, expected ${c.expectedGroups}): ${c.examples.join('; ')}`]),
    ...problems.slice(0, 5),
  ];
}

function tidemarkIotScenario(name: string, description: string, agg: string | null): (iot: IotSet) => Scenario {
  return (iot) => ({
    name,
    description,
    pinned: false,
    expect: 'iot',
    args: (runDir) => {
      const args = oracleRunArgs(iot.dir, join(runDir, 'checkpoint'), join(runDir, 'output'), ['--max-files-per-trigger', '10']);
      if (agg !== null) args[args.indexOf('--agg') + 1] = agg;
      return [cliSnapshot ?? CLI, ...args];
    },
    result: async () => ({ counts: null, events: iot.readings, bytes: iot.bytes, problems: [] }),
    check: async (_stdout, runDir) => {
      const out = await tidemarkAggregates(join(runDir, 'output'));
      return describeComparison(compareTables(agg === 'count' ? countsOnly(iot.oracle) : iot.oracle, out.table), out.problems);
    },
  });
}

/** The aggregate scenarios (issue 12), on the IoT readings. */
const IOT: ReadonlyArray<(iot: IotSet) => Scenario> = [
  (iot) => ({
    name: 'duckdb-iot-2',
    description: 'DuckDB read_ndjson GROUP BY device, 5-minute window: count, sum, avg, min, max; threads=2',
    pinned: false,
    expect: 'iot',
    args: () => [scenarioScript('duckdb-iot'), iot.dir, '--threads', '2'],
    result: async () => ({ counts: null, events: iot.readings, bytes: iot.bytes, problems: [] }),
    check: async (stdout) => {
      const groups = (JSON.parse(stdout.trim().split('\n').pop()!) as { groups: Array<[string, number, ...OracleRow]> }).groups;
      const table: OracleTable = new Map(groups.map(([device, start, ...row]) => [`${device}\t${start}`, row]));
      return describeComparison(compareTables(iot.oracle, table), []);
    },
  }),
  tidemarkIotScenario('tidemark-iot-count', 'tidemark run --agg count: count per device and 5-minute window, watermark 10 min, checkpoint + JSON sink', 'count'),
  tidemarkIotScenario('tidemark-iot-agg', 'tidemark run --agg "count,sum,avg,min,max(temperature)", the same query otherwise', null),
];

const PINNED: ReadonlyArray<(data: DataSet) => Scenario> = [
  programScenario('duckdb-1', 'DuckDB threads=1, pinned to cpu 0', 'tumbling', ['--threads', '1'], true, 'duckdb'),
  tidemarkScenario('tidemark', 'tidemark run, pinned to cpu 0', undefined, true),
];

function spawnMeasured(argv: readonly string[], pinned: boolean, reportFile: string): Promise<{ wallMs: number; code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const nodeArgs = ['--import', PROBE_URL, ...argv];
  const [command, args] = pinned ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let exited = 0;
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BENCH_REPORT: reportFile } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('exit', () => {
      exited = performance.now();
    });
    child.on('close', (code, signal) => {
      resolve({ wallMs: (exited || performance.now()) - started, code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

function hasTaskset(): boolean {
  const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

async function machine(): Promise<Record<string, unknown>> {
  const git = (args: string[]): string | null => {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const pkg = async (path: string): Promise<string | null> => {
    try {
      return (JSON.parse(await readFile(path, 'utf8')) as { version?: string }).version ?? null;
    } catch {
      return null;
    }
  };
  const libChanges = git(['status', '--porcelain', '--', 'lib']);
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${release()}`,
    node: process.version,
    tidemark: await pkg(join(ROOT, 'package.json')),
    duckdbNodeApi: await pkg(join(ROOT, 'node_modules', '@duckdb', 'node-api', 'package.json')),
    loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
    gitCommit: git(['rev-parse', 'HEAD']),
    libUncommittedChanges: libChanges === null ? null : libChanges.length > 0,
  };
}

/** A hash of the built library (every `.js` file under `dist/`): shows whether `dist/` was rebuilt during a run. */
async function distFingerprint(dist: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js')).sort();
  for (const f of files) hash.update(f).update('\0').update(await readFile(join(dist, f))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

// ─── table ───────────────────────────────────────────────────────────────

function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmtRate = (perSecond: number): string => (perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(0)} k`);

/** Median over rounds of wall(reference) / wall(scenario): > 1 means faster than the reference. */
function pairedRatio(records: readonly RunRecord[], scenario: string, reference: string): number | null {
  const ratios: number[] = [];
  const rounds = new Set(records.map((r) => r.round));
  for (const round of rounds) {
    const s = records.find((r) => r.round === round && r.scenario === scenario);
    const ref = records.find((r) => r.round === round && r.scenario === reference);
    if (s !== undefined && ref !== undefined && s.exitCode === 0 && ref.exitCode === 0) ratios.push(ref.wallMs / s.wallMs);
  }
  return ratios.length === 0 ? null : median(ratios);
}

interface SummaryRow {
  readonly scenario: string;
  readonly description: string;
  readonly medianWallMs: number;
  readonly eventsPerSecond: number;
  readonly mbPerSecond: number;
  readonly peakRssMiB: number | null;
  readonly medianRssMiB: number | null;
  readonly cpuUserMs: number | null;
  readonly speedupVs: Record<string, number | null>;
  readonly countsOk: boolean | null;
  readonly runs: number;
}

function summarise(records: readonly RunRecord[], scenarios: readonly Scenario[], data: Pick<DataSet, 'events' | 'bytes'>, references: readonly string[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const s of scenarios) {
    const mine = records.filter((r) => r.scenario === s.name && r.exitCode === 0);
    if (mine.length === 0) continue;
    const wall = median(mine.map((r) => r.wallMs));
    const rss = mine.map((r) => r.maxRssKiB).filter((v): v is number => v !== null);
    const user = mine.map((r) => r.userMs).filter((v): v is number => v !== null);
    const speedupVs: Record<string, number | null> = {};
    for (const ref of references) speedupVs[ref] = ref === s.name ? 1 : pairedRatio(records, s.name, ref);
    const checks = records.filter((r) => r.scenario === s.name).map((r) => r.countsOk);
    rows.push({
      scenario: s.name,
      description: s.description,
      medianWallMs: wall,
      eventsPerSecond: data.events / (wall / 1000),
      mbPerSecond: data.bytes / 1e6 / (wall / 1000),
      peakRssMiB: rss.length === 0 ? null : Math.max(...rss) / 1024,
      medianRssMiB: rss.length === 0 ? null : median(rss) / 1024,
      cpuUserMs: user.length === 0 ? null : median(user),
      speedupVs,
      countsOk: checks.some((c) => c === false) ? false : checks.some((c) => c === true) ? true : null,
      runs: mine.length,
    });
  }
  return rows;
}

function renderTable(rows: readonly SummaryRow[], references: ReadonlyArray<readonly [string, string]>): string {
  const x = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${v.toFixed(2)}×`);
  return table(
    ['scenario', 'median wall', 'events/s', 'MB/s', 'peak RSS MiB', ...references.map(([, label]) => label), 'counts'],
    rows.map((r) => [
      r.scenario,
      `${(r.medianWallMs / 1000).toFixed(2)} s`,
      fmtRate(r.eventsPerSecond),
      r.mbPerSecond.toFixed(0),
      r.peakRssMiB === null ? '-' : r.peakRssMiB.toFixed(0),
      ...references.map(([ref]) => x(r.speedupVs[ref])),
      r.countsOk === null ? 'n/a' : r.countsOk ? 'ok' : 'DIFFER',
    ]),
  );
}

// ─── main ────────────────────────────────────────────────────────────────

const { values } = flags(process.argv.slice(2), {
  runs: { type: 'string' },
  files: { type: 'string' },
  lines: { type: 'string' },
  seed: { type: 'string' },
  'iot-readings': { type: 'string' },
  'iot-files': { type: 'string' },
  scenarios: { type: 'string' },
  'no-pin': { type: 'boolean' },
  'no-checkpoint': { type: 'boolean' },
  out: { type: 'string' },
  baseline: { type: 'string' },
});
const runs = intFlag(values.runs, 'runs', 3);
const dataOptions = {
  files: intFlag(values.files, 'files', DATA_DEFAULTS.files),
  lines: intFlag(values.lines, 'lines', DATA_DEFAULTS.lines),
  seed: seedFlag(values.seed, DATA_DEFAULTS.seed),
};
const log = (line: string): void => void process.stderr.write(line + '\n');

const info = await machine();
const data = await ensureDataSet({ ...dataOptions, log });
const warmMs = await warmPageCache(data.files);
log(`data: ${data.dir}: ${data.files.length} files, ${data.events.toLocaleString('en-US')} events, ${(data.bytes / 1e6).toFixed(0)} MB (page cache warmed in ${warmMs.toFixed(0)} ms)`);

const pin = values['no-pin'] !== true && hasTaskset();
if (values['no-pin'] !== true && !pin) log('taskset not available: skipping the runs pinned to one core');
const wanted = values.scenarios === undefined ? null : new Set(values.scenarios.split(',').map((s) => s.trim()));
// Another checkout's build, run beside this one in the same rounds: before/after figures under the same load.
const baseCli = values.baseline === undefined ? undefined : join(values.baseline, 'dist', 'cli.js');
const BASELINE: ReadonlyArray<(data: DataSet) => Scenario> =
  baseCli === undefined
    ? []
    : [
        tidemarkScenario('tidemark-base', `tidemark run of ${values.baseline}`, undefined, false, baseCli),
        tidemarkScenario('tidemark-sliding-base', `tidemark run of ${values.baseline}, 1 hour every 10 minutes`, '10 minutes', false, baseCli),
        ...(pin ? [tidemarkScenario('tidemark-base', `tidemark run of ${values.baseline}, pinned to cpu 0`, undefined, true, baseCli)] : []),
      ];
const notebookScenarios = [...ALL, ...BASELINE, ...(pin ? PINNED : [])].map((make) => make(data)).filter((s) => wanted === null || wanted.has(s.name) || wanted.has(s.name.replace(/@cpu0$/, '')));
const iotReadings = intFlag(values['iot-readings'], 'iot-readings', 2_000_000);
const iotFiles = intFlag(values['iot-files'], 'iot-files', 20);
const iotWanted = iotReadings > 0 && (wanted === null || ['duckdb-iot-2', 'tidemark-iot-count', 'tidemark-iot-agg'].some((n) => wanted.has(n)));
let iot: IotSet | null = null;
if (iotWanted) {
  const dir = await ensureIotDataSet(iotReadings, iotFiles, dataOptions.seed);
  let bytes = 0;
  const files = await dataFiles(dir);
  for (const file of files) bytes += (await stat(file)).size;
  await warmPageCache(files);
  const started = performance.now();
  iot = { dir, readings: iotReadings, bytes, oracle: await duckdbAggregates(join(dir, 'part-*.json')) };
  log(`iot: ${dir}: ${files.length} files, ${iotReadings.toLocaleString('en-US')} readings, ${(bytes / 1e6).toFixed(0)} MB; DuckDB's answer (the oracle): ${iot.oracle.size} groups in ${(performance.now() - started).toFixed(0)} ms`);
}
const iotSet = iot;
const iotScenarios = iotSet === null ? [] : IOT.map((make) => make(iotSet)).filter((s) => wanted === null || wanted.has(s.name));
const scenarios = [...notebookScenarios, ...iotScenarios];
if (scenarios.length === 0) throw new Error(`no scenario matches --scenarios ${values.scenarios}`);

const expected = { tumbling: expectedTumbling(data.panes), sliding: expectedSliding(data.panes) };
const scratch = join(DATA_ROOT, '_scratch', `run-${process.pid}`);
await mkdir(scratch, { recursive: true });
// Every tidemark run uses a copy of the build taken now, so a rebuild of dist/
// during the rounds (another shell, a watcher) cannot mix two builds. The copy
// sits under the project, so it resolves the same node_modules.
const distAtStart = await distFingerprint(join(ROOT, 'dist'));
await cp(join(ROOT, 'dist'), join(scratch, 'build', 'dist'), { recursive: true });
await cp(join(ROOT, 'package.json'), join(scratch, 'build', 'package.json'));
cliSnapshot = join(scratch, 'build', 'dist', 'cli.js');
if ((await distFingerprint(join(scratch, 'build', 'dist'))) !== distAtStart) throw new Error('dist/ changed while it was being copied: run again');

const records: RunRecord[] = [];
const bareLoopCounts = new Map<number, Counts>();
let failed = false;
for (let round = 0; round < runs; round++) {
  // Rotate the order each round so no scenario always runs first or last.
  const order = scenarios.map((_, i) => scenarios[(i + round) % scenarios.length]!);
  // The bare loop is the reference of its round: run it first when it is in the set.
  const bare = order.findIndex((s) => s.name === 'bare-loop');
  if (bare > 0) order.unshift(...order.splice(bare, 1));
  for (const s of order) {
    const runDir = join(scratch, `${s.name}-${round}`);
    await rm(runDir, { recursive: true, force: true });
    await mkdir(runDir, { recursive: true });
    const reportFile = join(runDir, 'probe.json');
    const proc = await spawnMeasured(s.args(runDir), s.pinned, reportFile);
    let probe: ProbeReport | null = null;
    try {
      probe = JSON.parse(await readFile(reportFile, 'utf8')) as ProbeReport;
    } catch {
      // the child died before its exit handler
    }
    const problems: string[] = [];
    let countsOk: boolean | null = null;
    let comparedWith: string | null = null;
    let diff: CountsDiff | null = null;
    if (proc.code !== 0) {
      problems.push(`exited with ${proc.code ?? proc.signal}: ${proc.stderr.trim().split('\n').slice(-5).join(' | ')}`);
      countsOk = false;
    } else {
      try {
        const result = await s.result(proc.stdout, runDir);
        problems.push(...result.problems);
        if (s.expect === 'bytes') {
          if (result.bytes !== data.bytes) problems.push(`read ${result.bytes} bytes, the data set has ${data.bytes}`);
        } else if (s.expect === 'iot') {
          comparedWith = "DuckDB's GROUP BY (the oracle)";
          problems.push(...(await s.check!(proc.stdout, runDir)));
          countsOk = problems.length === 0;
        } else {
          let reference: Counts;
          if (s.expect === 'sliding') {
            reference = expected.sliding;
            comparedWith = 'reference sliding counts (10-minute panes of the data set)';
          } else if (s.name !== 'bare-loop' && bareLoopCounts.has(round)) {
            reference = bareLoopCounts.get(round)!;
            comparedWith = `bare-loop (round ${round + 1})`;
          } else {
            reference = expected.tumbling;
            comparedWith = 'reference counts of the data set';
          }
          diff = diffCounts(reference, result.counts ?? new Map());
          if (s.name === 'bare-loop' && diff.equal) bareLoopCounts.set(round, result.counts!);
          if (!diff.equal) problems.push(`counts differ from ${comparedWith} in ${diff.differing} groups (${diff.actualTotal} events in ${diff.actualGroups} groups, expected ${diff.expectedTotal} in ${diff.expectedGroups}): ${diff.examples.join('; ')}`);
          countsOk = diff.equal && problems.length === 0;
        }
      } catch (err) {
        problems.push(`could not read its result: ${(err as Error).message}`);
        countsOk = false;
      }
    }
    if (problems.length > 0) failed = true;
    records.push({
      round,
      scenario: s.name,
      pinned: s.pinned,
      wallMs: proc.wallMs,
      childWallMs: probe?.wallMs ?? null,
      maxRssKiB: probe?.maxRssKiB ?? null,
      userMs: probe?.userMs ?? null,
      systemMs: probe?.systemMs ?? null,
      exitCode: proc.code,
      countsOk,
      comparedWith,
      diff,
      problems,
    });
    log(
      `round ${round + 1}/${runs}  ${s.name.padEnd(20)} ${(proc.wallMs / 1000).toFixed(2).padStart(7)} s  ` +
        `${probe === null ? '   -' : (probe.maxRssKiB / 1024).toFixed(0).padStart(4)} MiB  ${countsOk === null ? (problems.length === 0 ? 'bytes ok' : '') : countsOk ? 'counts ok' : ''}` +
        (problems.length > 0 ? `\n  FAILED: ${problems.join('\n  FAILED: ')}` : ''),
    );
    if (problems.length === 0) await rm(runDir, { recursive: true, force: true });
  }
}
if (!failed) await rm(scratch, { recursive: true, force: true });
else await rm(join(scratch, 'build'), { recursive: true, force: true });

const unpinned = notebookScenarios.filter((s) => !s.pinned);
const pinnedScenarios = notebookScenarios.filter((s) => s.pinned);
const mainRefs: Array<readonly [string, string]> = [
  ['duckdb-2', 'vs duckdb-2'],
  ['bare-loop', 'vs bare loop'],
  ...(baseCli === undefined ? [] : ([['tidemark-base', 'vs base']] as const)),
];
const pinRefs: Array<readonly [string, string]> = [['duckdb-1@cpu0', 'vs duckdb-1@cpu0'], ...(baseCli === undefined ? [] : ([['tidemark-base@cpu0', 'vs base@cpu0']] as const))];
const mainRows = summarise(records, unpinned, data, mainRefs.map(([r]) => r));
const pinRows = summarise(records, pinnedScenarios, data, pinRefs.map(([r]) => r));
const iotRefs: Array<readonly [string, string]> = [
  ['duckdb-iot-2', 'vs duckdb-iot-2'],
  ['tidemark-iot-count', 'vs count'],
];
const iotRows = iot === null ? [] : summarise(records, iotScenarios, { events: iot.readings, bytes: iot.bytes }, iotRefs.map(([r]) => r));

const out: string[] = [];
out.push(
  `tidemark bench — ${data.events.toLocaleString('en-US')} events, ${data.files.length} files, ${(data.bytes / 1e6).toFixed(0)} MB, page cache warm; ` +
    `${runs} interleaved rounds; medians; "vs X" = median over rounds of wall(X) / wall(scenario), > 1 is faster`,
);
out.push(`machine: ${String(info['cpuModel'])}, ${String(info['cpus'])} cpus, node ${String(info['node'])}`);
if (mainRows.length > 0) {
  out.push('');
  out.push(renderTable(mainRows, mainRefs));
}
if (pinRows.length > 0) {
  out.push('');
  out.push('pinned to one core (taskset -c 0):');
  out.push(renderTable(pinRows, pinRefs));
}
if (iot !== null && iotRows.length > 0) {
  out.push('');
  out.push(`aggregates (issue 12): ${iot.readings.toLocaleString('en-US')} IoT readings, ${(iot.bytes / 1e6).toFixed(0)} MB, ${iot.oracle.size} (device, 5-minute window) groups; "counts" = every group equal to DuckDB's (doubles within 1e-9):`);
  out.push(renderTable(iotRows, iotRefs));
}

// The targets, for the reader (informational: never the exit status).
const targets: Array<{ target: string; value: string; met: boolean | null }> = [];
const row = (name: string): SummaryRow | undefined => mainRows.find((r) => r.scenario === name) ?? pinRows.find((r) => r.scenario === name) ?? iotRows.find((r) => r.scenario === name);
const ratio = (s: string, ref: string): number | null => pairedRatio(records, s, ref);
const addRatio = (label: string, s: string, ref: string, min: number): void => {
  const v = ratio(s, ref);
  targets.push({ target: label, value: v === null ? '-' : `${v.toFixed(2)}×`, met: v === null ? null : v >= min });
};
// Issue 16's targets.
addRatio('tidemark vs duckdb-2 ≥ 2.0×', 'tidemark', 'duckdb-2', 2.0);
addRatio('tidemark vs bare loop ≥ 10×', 'tidemark', 'bare-loop', 10);
addRatio('pinned: tidemark vs duckdb-1 ≥ 2.5×', 'tidemark@cpu0', 'duckdb-1@cpu0', 2.5);
// wall(sliding) / wall(tumbling), paired.
const slideOverTumble = ratio('tidemark', 'tidemark-sliding');
targets.push({
  target: 'sliding / tumbling wall ≤ 1.1×',
  value: slideOverTumble === null ? '-' : `${slideOverTumble.toFixed(2)}×`,
  met: slideOverTumble === null ? null : slideOverTumble <= 1.1,
});
// wall(aggregate) / wall(count) on the notebook data, paired (issue 12).
const notebookAgg = ratio('tidemark', 'tidemark-agg');
targets.push({
  target: 'notebook: aggregate / count wall ≤ 1.3×',
  value: notebookAgg === null ? '-' : `${notebookAgg.toFixed(2)}×`,
  met: notebookAgg === null ? null : notebookAgg <= 1.3,
});
// wall(aggregate) / wall(count) on the IoT readings, paired (issue 12).
const aggOverCount = ratio('tidemark-iot-count', 'tidemark-iot-agg');
targets.push({
  target: 'IoT: aggregate / count wall ≤ 1.3×',
  value: aggOverCount === null ? '-' : `${aggOverCount.toFixed(2)}×`,
  met: aggOverCount === null ? null : aggOverCount <= 1.3,
});
const aggVsDuck = ratio('tidemark-iot-agg', 'duckdb-iot-2');
if (aggVsDuck !== null) targets.push({ target: 'IoT: tidemark aggregate vs duckdb-iot-2 (informational)', value: `${aggVsDuck.toFixed(2)}×`, met: null });
for (const name of ['tidemark', 'tidemark-sliding']) {
  const r = row(name);
  if (r?.peakRssMiB != null) targets.push({ target: `${name} peak RSS ≤ 256 MiB`, value: `${r.peakRssMiB.toFixed(0)} MiB`, met: r.peakRssMiB <= 256 });
}

let checkpoint: CheckpointBenchResult | null = null;
if (values['no-checkpoint'] !== true) {
  log('checkpoint-commit: measuring…');
  const r = spawnSync(process.execPath, [join(DIST_BENCH, 'checkpoint-commit.js'), '--json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    log(`checkpoint-commit FAILED (status ${r.status}): ${r.stderr}`);
    failed = true;
  } else {
    checkpoint = JSON.parse(r.stdout.trim().split('\n').pop()!) as CheckpointBenchResult;
    out.push('');
    out.push(formatCheckpointBench(checkpoint));
    targets.push({ target: 'checkpoint commit ≤ 5 ms median at 10,000 keys', value: `${checkpoint.commitMs.median.toFixed(2)} ms`, met: checkpoint.commitMs.median <= 5 });
    targets.push({ target: 'tidemark --help ≤ 150 ms', value: `${checkpoint.helpMs.median.toFixed(0)} ms`, met: checkpoint.helpMs.median <= 150 });
  }
}
out.push('');
out.push('targets (issues 12 and 16):');
out.push(table(['target', 'measured', ''], targets.map((t) => [t.target, t.value, t.met === null ? '' : t.met ? 'met' : 'not met'])));

const distAtEnd = await distFingerprint(join(ROOT, 'dist'));
if (distAtEnd !== distAtStart) {
  out.push('');
  out.push(`note: dist/ was rebuilt during the run (${distAtStart} → ${distAtEnd}); the tidemark runs used the build of the start (${distAtStart}), the checkpoint bench the new one.`);
}

const failures = records.filter((r) => r.problems.length > 0);
if (failures.length > 0) {
  out.push('');
  out.push(`FAILED: ${failures.length} run(s) with wrong counts or errors:`);
  for (const f of failures) out.push(`  round ${f.round + 1} ${f.scenario}: ${f.problems.join('; ')}`);
}
process.stdout.write(out.join('\n') + '\n');

cliSnapshot = undefined; // the commands below name dist/cli.js, as a user runs it
const date = new Date().toISOString().slice(0, 10);
const isDefault = dataOptions.files === DATA_DEFAULTS.files && dataOptions.lines === DATA_DEFAULTS.lines && dataOptions.seed === DATA_DEFAULTS.seed;
const resultsFile = values.out ?? join(RESULTS_DIR, isDefault ? `${date}.json` : `${date}-${dataOptions.files}x${dataOptions.lines}.json`);
await mkdir(join(resultsFile, '..'), { recursive: true });
await writeFile(
  resultsFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: info,
      dist: { atStart: distAtStart, atEnd: distAtEnd },
      data: { dir: data.dir, files: data.files.length, linesPerFile: data.lines, seed: data.seed, events: data.events, bytes: data.bytes, warmReadMs: warmMs },
      iot: iot === null ? null : { dir: iot.dir, readings: iot.readings, bytes: iot.bytes, groups: iot.oracle.size },
      runs,
      scenarios: scenarios.map((s) => ({ name: s.name, description: s.description, pinned: s.pinned, command: ['node', ...s.args('<run-dir>')].map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ') })),
      summary: [...mainRows, ...pinRows, ...iotRows],
      loadAverageAtEnd: loadavg().map((v) => Math.round(v * 100) / 100),
      targets,
      checkpoint,
      records,
      ok: !failed,
    },
    null,
    2,
  ) + '\n',
);
log(`results: ${resultsFile}`);
process.exitCode = failed ? 1 : 0;

/**
 * Issue 13, "State that scales": what a state commit costs as the state
 * grows, the memory a group costs, and how long a restart takes to recover
 * the state — the "Done when" scenario at a configurable scale.
 *
 * One micro-batch per file; file `b` adds `--per-batch` new users and
 * touches as many users of earlier files, until `--groups` groups are held
 * (`user`, 1-day window; every event within the same day; a 1-day
 * watermark, so no group is evicted before the drain; append mode; a
 * checkpoint and the JSON sink, on `bench/data/`, so fsync is real). Three
 * phases, each its own process (its peak RSS is its own):
 *
 * 1. `load`: the query over every file (`availableNow`, one file a trigger).
 *    Per batch: `stateOperators[0].commitTimeMs` (the state files: encoding,
 *    writing, fsync), `memoryUsedBytes`, `numRowsTotal`.
 * 2. `restart`: the same query again, nothing new: the time from
 *    `startQuery` to its end is the recovery (lock, logs, state files read,
 *    checked and applied); the groups restored are counted.
 * 3. `drain`: the same query with `drain: true`: the final batch emits every
 *    group; the rows committed to the output are counted.
 *
 * Printed: the median state commit of batches 5–15 and of the last 10, their
 * ratio, bytes per group (memoryUsedBytes / groups held), peak RSS of each
 * phase, recovery time, rows drained. No figure is asserted; the issue's
 * targets are printed beside them.
 *
 * `node dist-bench/state-scale.js [--groups 1000000] [--per-batch 10000] [--min-deltas 10] [--keep] [--no-drain] [--json]`
 * (`--keep --no-drain` leaves `bench/data/_scratch/state-scale-<pid>/` with every group in its checkpoint;
 * `node dist-bench/state-scale.js --phase restart --root DIR` then restarts it alone, e.g. under `--cpu-prof`.)
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointSink, FileSource, KeyedCount, ParseSchema, StreamingQueryManager, Watermark, Window, readCommittedJsonLines, startQuery, type StreamingQueryProgress } from 'tidemark';
import { DATA_ROOT, flags, intFlag, isMain, median } from './common.js';
import { mulberry32 as prng } from 'tidemark/internals';

const DAY_S = 86_400;
const START_S = Date.UTC(2026, 0, 1) / 1000;

/** What a `load` phase reports per batch. */
interface BatchFigures {
  readonly batchId: number;
  readonly numInputRows: number;
  readonly numRowsTotal: number;
  readonly commitTimeMs: number;
  readonly memoryUsedBytes: number;
  readonly triggerMs: number;
}

interface PhaseReport {
  readonly phase: string;
  readonly wallMs: number;
  readonly maxRssBytes: number;
  readonly batches?: readonly BatchFigures[];
  readonly stateRows?: number;
  readonly rows?: number;
}

/** The result this script prints. */
export interface StateScaleResult {
  readonly groups: number;
  readonly perBatch: number;
  readonly minDeltasForSnapshot: number;
  readonly batches: number;
  readonly commitMsBatches5to15: number;
  readonly commitMsLast10: number;
  readonly bytesPerGroup: number;
  readonly loadPeakRssMiB: number;
  readonly loadWallMs: number;
  readonly restartRecoveryMs: number;
  readonly restartStateRows: number;
  readonly restartPeakRssMiB: number;
  readonly drainRows: number;
  readonly drainWallMs: number;
  readonly drainPeakRssMiB: number;
}


const user = (id: number): string => `user-${String(id).padStart(8, '0')}`;

/** Writes the input: `groups / perBatch` files, modification times in name order (one file a trigger, in order). */
async function writeInput(dir: string, groups: number, perBatch: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  const random = prng(13);
  const files = Math.ceil(groups / perBatch);
  for (let b = 0; b < files; b++) {
    const lines: string[] = [];
    // Event times stay within the first day: one 1-day window per user, nothing evicted before the drain.
    const time = START_S + Math.floor((b / files) * (DAY_S - 3600));
    for (let i = 0; i < perBatch && b * perBatch + i < groups; i++) lines.push(`{"time":${time + (i % 60)},"user":"${user(b * perBatch + i)}"}`);
    if (b > 0) for (let i = 0; i < perBatch; i++) lines.push(`{"time":${time + (i % 60)},"user":"${user(Math.floor(random() * b * perBatch))}"}`);
    const path = join(dir, `part-${String(b).padStart(5, '0')}.json`);
    await writeFile(path, lines.join('\n') + '\n');
    await utimes(path, START_S + b, START_S + b);
  }
  return files;
}

function queryOptions(root: string, minDeltasForSnapshot: number, drain: boolean) {
  const keyed = new KeyedCount({ groupBy: ['user', 'window'] });
  return {
    keyed,
    options: {
      source: new FileSource({ path: join(root, 'in'), framing: 'chunks' as const, maxFilesPerTrigger: 1 }),
      stages: [new ParseSchema({ schema: 'time timestamp, user string', timeZone: 'UTC', workers: 0 }), new Watermark({ eventTime: 'time', delay: '1 day' }), new Window({ timeColumn: 'time', duration: '1 day' }), keyed],
      sink: new CheckpointSink({ path: join(root, 'out'), timeZone: 'UTC' }),
      checkpointLocation: join(root, 'chk'),
      outputMode: 'append' as const,
      trigger: 'availableNow' as const,
      drain,
      minDeltasForSnapshot,
      // The planner's count push-down would run the parse on worker threads: measured here is the state, on one thread.
      optimize: false,
      manager: new StreamingQueryManager(),
    },
  };
}

/** One phase, in this process. */
async function runPhase(phase: string, root: string, minDeltas: number): Promise<PhaseReport> {
  const started = performance.now();
  const { keyed, options } = queryOptions(root, minDeltas, phase === 'drain');
  const query = await startQuery(options);
  const batches: BatchFigures[] = [];
  query.on('progress', (p: StreamingQueryProgress) => {
    const op = p.stateOperators[0];
    if (op === undefined) return;
    batches.push({
      batchId: p.batchId,
      numInputRows: p.numInputRows,
      numRowsTotal: op['numRowsTotal'] as number,
      commitTimeMs: op['commitTimeMs'] as number,
      memoryUsedBytes: op['memoryUsedBytes'] as number,
      triggerMs: p.durationMs['triggerExecution'] ?? NaN,
    });
  });
  await query.awaitTermination();
  const wallMs = performance.now() - started;
  const report: PhaseReport = { phase, wallMs, maxRssBytes: process.resourceUsage().maxRSS * 1024, batches, stateRows: keyed.stateRows };
  if (phase !== 'drain') return report;
  let rows = 0;
  for await (const { text } of readCommittedJsonLines(join(root, 'out'))) if (text.length > 0) rows++;
  return { ...report, rows };
}

/** Runs one phase in a child process of its own. */
function phaseProcess(phase: string, root: string, minDeltas: number): Promise<PhaseReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--phase', phase, '--root', root, '--min-deltas', String(minDeltas)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as PhaseReport) : reject(new Error(`state-scale phase ${phase} exited with ${code}`))));
  });
}

const MiB = 1024 * 1024;

/** The whole scenario. */
export async function runStateScale(o: { groups: number; perBatch: number; minDeltas: number; keep: boolean; drain?: boolean }): Promise<StateScaleResult> {
  const root = join(DATA_ROOT, '_scratch', `state-scale-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  const files = await writeInput(join(root, 'in'), o.groups, o.perBatch);
  try {
    const load = await phaseProcess('load', root, o.minDeltas);
    const restart = await phaseProcess('restart', root, o.minDeltas);
    // Without the drain (--no-drain, with --keep) the checkpoint keeps every group: for profiling a restart.
    const drain: PhaseReport = o.drain === false ? { phase: 'drain', wallMs: NaN, maxRssBytes: NaN, rows: o.groups } : await phaseProcess('drain', root, o.minDeltas);
    const data = (load.batches ?? []).filter((b) => b.numInputRows > 0);
    const last = data[data.length - 1]!;
    return {
      groups: o.groups,
      perBatch: o.perBatch,
      minDeltasForSnapshot: o.minDeltas,
      batches: files,
      commitMsBatches5to15: median(data.slice(5, 16).map((b) => b.commitTimeMs)),
      commitMsLast10: median(data.slice(-10).map((b) => b.commitTimeMs)),
      bytesPerGroup: last.memoryUsedBytes / last.numRowsTotal,
      loadPeakRssMiB: load.maxRssBytes / MiB,
      loadWallMs: load.wallMs,
      restartRecoveryMs: restart.wallMs,
      restartStateRows: restart.stateRows ?? 0,
      restartPeakRssMiB: restart.maxRssBytes / MiB,
      drainRows: drain.rows ?? 0,
      drainWallMs: drain.wallMs,
      drainPeakRssMiB: drain.maxRssBytes / MiB,
    };
  } finally {
    if (!o.keep) await rm(root, { recursive: true, force: true });
  }
}

const f1 = (n: number): string => n.toFixed(1);

/** The human summary, with the targets. */
export function formatStateScale(r: StateScaleResult): string {
  return [
    `state at scale: ${r.groups} groups, ${r.perBatch} new + ${r.perBatch} touched a batch, ${r.batches} batches, a snapshot every ${r.minDeltasForSnapshot} deltas`,
    `  state commit, median of batches 5-15: ${f1(r.commitMsBatches5to15)} ms; of the last 10: ${f1(r.commitMsLast10)} ms (ratio ${f1(r.commitMsLast10 / Math.max(r.commitMsBatches5to15, 0.001))}; target <= 25 ms and <= 3x)`,
    `  memoryUsedBytes / group at the end: ${f1(r.bytesPerGroup)} B (target <= 200)`,
    `  load:    ${f1(r.loadWallMs / 1000)} s, peak RSS ${f1(r.loadPeakRssMiB)} MiB (target <= 768)`,
    `  restart: recovered ${r.restartStateRows} groups in ${f1(r.restartRecoveryMs)} ms (whole run, nothing new; target <= 3000), peak RSS ${f1(r.restartPeakRssMiB)} MiB`,
    `  drain:   ${r.drainRows} rows committed (of ${r.groups}) in ${f1(r.drainWallMs / 1000)} s, peak RSS ${f1(r.drainPeakRssMiB)} MiB`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = flags(process.argv.slice(2), {
    groups: { type: 'string' },
    'per-batch': { type: 'string' },
    'min-deltas': { type: 'string' },
    phase: { type: 'string' },
    root: { type: 'string' },
    keep: { type: 'boolean' },
    'no-drain': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const minDeltas = values['min-deltas'] === '0' ? 0 : intFlag(values['min-deltas'], 'min-deltas', 10);
  if (typeof values.phase === 'string') {
    process.stdout.write(JSON.stringify(await runPhase(values.phase, values.root as string, minDeltas)) + '\n');
  } else {
    const result = await runStateScale({ groups: intFlag(values.groups, 'groups', 1_000_000), perBatch: intFlag(values['per-batch'], 'per-batch', 10_000), minDeltas, keep: values.keep === true, drain: values['no-drain'] !== true });
    process.stdout.write(values.json === true ? JSON.stringify(result) + '\n' : formatStateScale(result) + '\n');
    if (result.drainRows !== result.groups || result.restartStateRows !== result.groups) process.exitCode = 1;
  }
}

/**
 * Issue 6, item 3: what a micro-batch commit costs at 10,000 keys, and how
 * fast `tidemark --help` starts.
 *
 * Commit: the real stages (MemorySource → Watermark → Window → KeyedCount →
 * MemorySink) with a checkpoint directory on disk (under `bench/data/`, the
 * project's file system, so fsync is real). The first batch puts 10,000
 * (action, 1-hour window) groups in state (4 actions × 2,500 windows, a
 * watermark delay long enough that none is evicted); then many small batches
 * (100 rows on random groups) each commit. `Checkpoint.prototype.commit`
 * (state files for every stateful stage + `commits/N`, each written to a temp
 * file, fsynced, renamed, directory fsynced) is timed per batch, as is
 * `KeyedCount.snapshot()` (building the snapshot at the barrier) and, apart,
 * `JSON.stringify` of the barrier's snapshots. The whole micro-batch
 * (`durationMs.triggerExecution`, offsets write included) is reported too.
 *
 * Startup: median of N spawns of `node dist/cli.js --help`, beside
 * `node -e ""` (node's own floor).
 *
 * `node dist-bench/checkpoint-commit.js [--keys 10000] [--batches 50] [--rows 100] [--spawns 10] [--json]`
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedCount, MemorySink, MemorySource, StreamingQueryManager, Watermark, Window, startQuery, type StreamingQueryProgress } from 'tidemark';
import { Checkpoint, type BarrierItem, type StateImage } from 'tidemark/internals';
import { CLI, DATA_ROOT, flags, intFlag, isMain, median, percentile } from './common.js';
import { mulberry32 as prng } from 'tidemark/internals';

/** Summary of a list of milliseconds. */
export interface MsStats {
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

function stats(values: readonly number[]): MsStats {
  return { median: median(values), p95: percentile(values, 95), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** What this script measures. */
export interface CheckpointBenchResult {
  readonly keys: number;
  readonly batches: number;
  readonly rowsPerBatch: number;
  readonly checkpointDir: string;
  /** `Checkpoint.commit(barrier)`: state files + commits/N, fsync included. */
  readonly commitMs: MsStats;
  /** `KeyedCount.snapshot()` at the barrier. */
  readonly snapshotMs: MsStats;
  /** `JSON.stringify` of all of a barrier's snapshots, timed apart (part of commitMs). */
  readonly stringifyMs: MsStats;
  /** The whole micro-batch as progress reports it (offsets log, stages, sink, commit). */
  readonly batchMs: MsStats;
  /** Bytes of the KeyedCount state file of one batch. */
  readonly stateFileBytes: number;
  /** Groups in state during the measured batches (must equal `keys`). */
  readonly stateRows: number;
  /** `node dist/cli.js --help`, spawn to exit. */
  readonly helpMs: MsStats;
  /** `node -e ""`, spawn to exit: node's own startup. */
  readonly nodeFloorMs: MsStats;
}

const ACTIONS = ['Open', 'Close', 'Click', 'Scroll'] as const;
const START_MS = Date.UTC(2016, 6, 26, 0, 0, 0);
const HOUR_MS = 3_600_000;


/** Measures commits of a query holding `keys` groups. */
export async function measureCommits(options: { keys: number; batches: number; rowsPerBatch: number; warmup?: number }): Promise<Omit<CheckpointBenchResult, 'helpMs' | 'nodeFloorMs'>> {
  const { keys, batches, rowsPerBatch } = options;
  const warmup = options.warmup ?? 5;
  const windows = Math.ceil(keys / ACTIONS.length);
  const dir = join(DATA_ROOT, '_scratch', `checkpoint-commit-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  const commitTimes = new Map<number, number>();
  const stringifyTimes = new Map<number, number>();
  const snapshotTimes = new Map<number, number>();
  let pendingSnapshotMs = 0;
  const originalCommit = Checkpoint.prototype.commit;
  const originalSnapshot = KeyedCount.prototype.snapshot;
  const originalDelta = KeyedCount.prototype.delta;
  Checkpoint.prototype.commit = async function timedCommit(this: Checkpoint, barrier: BarrierItem): Promise<void> {
    const t0 = performance.now();
    await originalCommit.call(this, barrier);
    commitTimes.set(barrier.batchId, performance.now() - t0);
    // The checkpoint takes the stage's snapshot or delta inside the commit, and encodes it as it writes.
    snapshotTimes.set(barrier.batchId, pendingSnapshotMs);
    pendingSnapshotMs = 0;
    stringifyTimes.set(barrier.batchId, 0);
  };
  KeyedCount.prototype.snapshot = function timedSnapshot(this: KeyedCount): StateImage {
    const t0 = performance.now();
    const snapshot = originalSnapshot.call(this);
    pendingSnapshotMs += performance.now() - t0;
    return snapshot;
  };
  KeyedCount.prototype.delta = function timedDelta(this: KeyedCount): StateImage {
    const t0 = performance.now();
    const delta = originalDelta.call(this);
    pendingSnapshotMs += performance.now() - t0;
    return delta;
  };

  const progress: StreamingQueryProgress[] = [];
  const source = new MemorySource({ schema: 'time timestamp, action string' });
  const keyedCount = new KeyedCount({ groupBy: ['action', 'window'] });
  const query = await startQuery({
    source,
    stages: [new Watermark({ eventTime: 'time', delay: `${Math.ceil(windows / 24) + 10} days` }), new Window({ timeColumn: 'time', duration: '1 hour' }), keyedCount],
    sink: new MemorySink(),
    checkpointLocation: join(dir, 'checkpoint'),
    outputMode: 'append',
    manager: new StreamingQueryManager(),
  });
  query.on('progress', (p: StreamingQueryProgress) => progress.push(p));
  const stateRowsSeen: number[] = [];
  try {
    // Batch 0: every group once.
    const initial: Array<{ time: number; action: string }> = [];
    for (let k = 0; k < keys; k++) initial.push({ time: START_MS + Math.floor(k / ACTIONS.length) * HOUR_MS + 60_000, action: ACTIONS[k % ACTIONS.length]! });
    source.addData(initial);
    await query.processAllAvailable();
    const random = prng(6);
    for (let b = 0; b < warmup + batches; b++) {
      const rows: Array<{ time: number; action: string }> = [];
      for (let r = 0; r < rowsPerBatch; r++) {
        const k = Math.floor(random() * keys);
        rows.push({ time: START_MS + Math.floor(k / ACTIONS.length) * HOUR_MS + Math.floor(random() * HOUR_MS), action: ACTIONS[k % ACTIONS.length]! });
      }
      source.addData(rows);
      await query.processAllAvailable();
      stateRowsSeen.push(keyedCount.stateRows);
    }
  } finally {
    await query.stop();
    Checkpoint.prototype.commit = originalCommit;
    KeyedCount.prototype.snapshot = originalSnapshot;
    KeyedCount.prototype.delta = originalDelta;
  }

  // The measured batches: the small data batches after the warm-up ones (no-data batches left out).
  const small = progress.filter((p) => p.numInputRows === rowsPerBatch);
  const measuredIds = small.slice(warmup).map((p) => p.batchId);
  const byBatch = new Map(progress.map((p) => [p.batchId, p] as const));
  if (measuredIds.some((id) => !commitTimes.has(id))) throw new Error('checkpoint-commit: a measured batch was not committed through Checkpoint.prototype.commit');
  const stateDir = join(dir, 'checkpoint', 'state');
  let stateFileBytes = 0;
  const lastId = measuredIds[measuredIds.length - 1]!;
  for (const op of await readdir(stateDir)) {
    try {
      // A delta, or every minDeltasForSnapshot batches a snapshot.
      for (const kind of ['delta', 'snapshot']) {
        const size = await stat(join(stateDir, op, '0', `${lastId + 1}.${kind}`)).then((s) => s.size, () => 0);
        stateFileBytes = Math.max(stateFileBytes, size);
      }
    } catch {
      // an operator without that version
    }
  }
  const stateRows = Math.min(...stateRowsSeen.slice(warmup));
  await rm(dir, { recursive: true, force: true });
  return {
    keys,
    batches: measuredIds.length,
    rowsPerBatch,
    checkpointDir: dir,
    commitMs: stats(measuredIds.map((id) => commitTimes.get(id)!)),
    snapshotMs: stats(measuredIds.map((id) => snapshotTimes.get(id) ?? NaN)),
    stringifyMs: stats(measuredIds.map((id) => stringifyTimes.get(id)!)),
    batchMs: stats(measuredIds.map((id) => byBatch.get(id)?.durationMs['triggerExecution'] ?? NaN)),
    stateFileBytes,
    stateRows,
  };
}

/** Median spawn-to-exit time of `node args…`. */
export function measureSpawns(args: readonly string[], spawns: number): MsStats {
  spawnSync(process.execPath, args, { stdio: 'ignore' }); // warm-up
  const times: number[] = [];
  for (let i = 0; i < spawns; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}: ${r.stderr.toString()}`);
  }
  return stats(times);
}

/** Everything this script measures. */
export async function runCheckpointBench(options: { keys: number; batches: number; rowsPerBatch: number; spawns: number }): Promise<CheckpointBenchResult> {
  const commits = await measureCommits(options);
  return { ...commits, helpMs: measureSpawns([CLI, '--help'], options.spawns), nodeFloorMs: measureSpawns(['-e', ''], options.spawns) };
}

const f = (ms: number): string => ms.toFixed(2);

/** The human summary. */
export function formatCheckpointBench(r: CheckpointBenchResult): string {
  return [
    `checkpoint commit at ${r.stateRows} keys (${r.batches} batches of ${r.rowsPerBatch} rows, state file ${(r.stateFileBytes / 1024).toFixed(0)} KiB, fsync on ${r.checkpointDir.replace(/\/_scratch\/.*/, '')}):`,
    `  commit (state files + commits/N):  median ${f(r.commitMs.median)} ms, p95 ${f(r.commitMs.p95)} ms, min ${f(r.commitMs.min)}, max ${f(r.commitMs.max)}`,
    `    of which JSON.stringify (apart):  median ${f(r.stringifyMs.median)} ms, p95 ${f(r.stringifyMs.p95)} ms`,
    `  KeyedCount.snapshot() at barrier:  median ${f(r.snapshotMs.median)} ms, p95 ${f(r.snapshotMs.p95)} ms`,
    `  whole micro-batch:                  median ${f(r.batchMs.median)} ms, p95 ${f(r.batchMs.p95)} ms`,
    `tidemark --help: median ${f(r.helpMs.median)} ms, p95 ${f(r.helpMs.p95)} ms (node -e "": median ${f(r.nodeFloorMs.median)} ms) over ${r.helpMs.n} spawns`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = flags(process.argv.slice(2), {
    keys: { type: 'string' },
    batches: { type: 'string' },
    rows: { type: 'string' },
    spawns: { type: 'string' },
    json: { type: 'boolean' },
  });
  const result = await runCheckpointBench({
    keys: intFlag(values.keys, 'keys', 10_000),
    batches: intFlag(values.batches, 'batches', 50),
    rowsPerBatch: intFlag(values.rows, 'rows', 100),
    spawns: intFlag(values.spawns, 'spawns', 10),
  });
  if (result.stateRows !== result.keys) {
    process.stderr.write(`checkpoint-commit: expected ${result.keys} groups in state, found ${result.stateRows}\n`);
    process.exitCode = 1;
  }
  process.stdout.write(values.json === true ? JSON.stringify(result) + '\n' : formatCheckpointBench(result) + '\n');
}

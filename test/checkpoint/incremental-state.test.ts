/**
 * Incremental checkpoints (issue 13), as Spark's HDFS-backed state store:
 * each micro-batch writes what it changed in a stateful stage's state as a
 * delta, a snapshot every `minDeltasForSnapshot` deltas; a restart restores
 * the snapshot its last commit lists and applies the deltas after it.
 */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeStateFile } from '../../lib/checkpoint/state-files.js';
import type { Row } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { eventSchema, events, notebookStages, windowRow } from '../helpers.js';

/** Twelve steps: new windows, rows for windows still open, rows late enough to drop; windows close as the watermark passes. */
const STEPS: Row[][] = Array.from({ length: 12 }, (_, i) =>
  events([10 * i + 1, 'Open'], [10 * i + 2, 'Close'], [10 * i + 7, 'Open'], [Math.max(0, 10 * i - 4), 'Scroll'], [Math.max(0, 10 * i - 30), 'Late']),
);

const query = (source: MemorySource, sink: MemorySink, checkpointLocation: string, minDeltasForSnapshot?: number, noDataMicroBatches = true) =>
  startQuery({
    noDataMicroBatches,
    source,
    stages: notebookStages({ delay: '10 seconds', outputMode: 'update' }),
    sink,
    outputMode: 'update',
    checkpointLocation,
    ...(minDeltasForSnapshot === undefined ? {} : { minDeltasForSnapshot }),
    manager: new StreamingQueryManager(),
  });

/** Every step in one run. */
async function uninterrupted(dir: string, minDeltasForSnapshot?: number): Promise<unknown[]> {
  const source = new MemorySource({ schema: eventSchema });
  const sink = new MemorySink();
  const q = await query(source, sink, dir, minDeltasForSnapshot);
  for (const step of STEPS) {
    source.addData(step);
    await q.processAllAvailable();
  }
  await q.stop();
  return sink.rows().map(windowRow);
}

/** A new run (a restart from the checkpoint) for every step. */
async function restartedEveryStep(dir: string, minDeltasForSnapshot?: number, noDataMicroBatches = true): Promise<unknown[]> {
  let source = new MemorySource({ schema: eventSchema });
  const rows: unknown[] = [];
  for (const step of STEPS) {
    const sink = new MemorySink();
    const q = await query(source, sink, dir, minDeltasForSnapshot, noDataMicroBatches);
    source.addData(step);
    await q.processAllAvailable();
    await q.stop();
    rows.push(...sink.rows().map(windowRow));
    source = source.reopen();
  }
  return rows;
}

const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

/** The state files commits/N lists for operator 0. */
async function listed(dir: string, batchId: number): Promise<string[]> {
  const text = await readFile(join(dir, 'commits', String(batchId)), 'utf8');
  return (JSON.parse(text.split('\n')[1]!) as { stateFiles: Record<string, Array<{ file: string }>> }).stateFiles['0']!.map((r) => r.file);
}

t.test('a restart at every step, from a snapshot and the deltas after it, emits what one uninterrupted run emits', async (t) => {
  const root = t.testdir();
  const expected = sorted(await uninterrupted(join(root, 'one-run'), 3));
  t.ok(expected.length > 20, 'the steps update many windows');
  t.strictSame(sorted(await restartedEveryStep(join(root, 'restarted'), 3)), expected, 'snapshot every 3 deltas');
  t.strictSame(sorted(await restartedEveryStep(join(root, 'whole'), 0)), expected, 'a snapshot every batch (minDeltasForSnapshot 0)');
  t.strictSame(sorted(await restartedEveryStep(join(root, 'default'))), expected, 'the default, 10 deltas');
});

t.test('each commit lists the chain its state is read from: the last snapshot, then the deltas after it', async (t) => {
  const dir = t.testdir();
  await restartedEveryStep(dir, 2, false);
  // Batch N writes version N+1 (no no-data batches: batch N is step N). Each run commits one batch and stops: the snapshot written beside it (at 3, 4, 5) is
  // durable when the run ends, but no commit of that run is left to list it; a chain of 2 × 2 deltas gets a snapshot in the commit.
  t.strictSame(await listed(dir, 0), ['0/1.snapshot']);
  t.strictSame(await listed(dir, 1), ['0/1.snapshot', '0/2.delta']);
  t.strictSame(await listed(dir, 2), ['0/1.snapshot', '0/2.delta', '0/3.delta']);
  t.strictSame(await listed(dir, 3), ['0/1.snapshot', '0/2.delta', '0/3.delta', '0/4.delta']);
  t.strictSame(await listed(dir, 4), ['0/1.snapshot', '0/2.delta', '0/3.delta', '0/4.delta', '0/5.delta']);
  t.strictSame(await listed(dir, 5), ['0/6.snapshot']);
  t.strictSame(await listed(dir, 6), ['0/6.snapshot', '0/7.delta']);
  const files = await readdir(join(dir, 'state', '0', '0'));
  t.ok(files.includes('3.snapshot'), 'the snapshot of version 3 was written, beside the batch');
});

t.test('a delta holds the groups the batch updated and the keys it removed, nothing else', async (t) => {
  const dir = t.testdir();
  let source = new MemorySource({ schema: eventSchema });
  const batches: Row[][] = [
    // Batch 0: three windows. Batch 1: one of them again, and a row that moves the watermark past [0, 5).
    events([1, 'Open'], [2, 'Close'], [6, 'Open']),
    events([7, 'Open'], [21, 'Open']),
    // Batch 2: one row: the only change besides what the watermark closes.
    events([22, 'Open']),
  ];
  for (const rows of batches) {
    // No no-data batches: batch N is step N.
    const q = await query(source, new MemorySink(), dir, undefined, false);
    source.addData(rows);
    await q.processAllAvailable();
    await q.stop();
    source = source.reopen();
  }
  const read = async (version: number, kind: string) => {
    const path = join(dir, 'state', '0', '0', `${version}.${kind}`);
    const records = decodeStateFile(await readFile(path), path).image.partitions[0] as Array<{ put?: { size: number }; remove?: { size: number } }>;
    return { puts: records.reduce((n, r) => n + (r.put?.size ?? 0), 0), removes: records.reduce((n, r) => n + (r.remove?.size ?? 0), 0) };
  };
  t.strictSame(await read(1, 'snapshot'), { puts: 3, removes: 0 }, 'batch 0: the whole state, three groups');
  t.strictSame(await read(2, 'delta'), { puts: 2, removes: 0 }, 'batch 1: (Open, [5, 10)) updated and (Open, [20, 25)) added');
  // Batch 2 runs at watermark 11 (21 s - 10 s): [0, 5) and [5, 10) close.
  t.strictSame(await read(3, 'delta'), { puts: 1, removes: 3 }, 'batch 2: (Open, [20, 25)) updated; (Open, [0, 5)), (Close, [0, 5)), (Open, [5, 10)) removed');
});

t.test('minDeltasForSnapshot must be a whole number, 0 or more', async (t) => {
  await t.rejects(
    (async () => query(new MemorySource({ schema: eventSchema }), new MemorySink(), t.testdir(), -1))(),
    { code: 'ERR_INVALID_OPTION', option: 'minDeltasForSnapshot' },
  );
});

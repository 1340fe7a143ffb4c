import t from 'tap';
import { Transform } from 'node:stream';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager, type StreamingQuery } from '../../lib/query/streaming-query.js';
import { eventSchema, events, notebookStages } from '../helpers.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';

t.test('awaitTermination(timeout) resolves false while running and stop() ends the query', async (t) => {
  const query = await startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.equal(query.isActive, true);
  t.equal(await query.awaitTermination(20), false);
  await query.stop();
  await query.stop();
  t.equal(query.isActive, false);
  t.equal(await query.awaitTermination(20), true);
  t.equal(query.status.message, 'Stopped');
});

t.test('awaitTermination refuses a non-positive timeout', async (t) => {
  const query = await startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager: new StreamingQueryManager() });
  await t.rejects(query.awaitTermination(0), { code: 'ERR_INVALID_OPTION', message: 'Timeout must be positive, but got 0' });
  await query.stop();
});

t.test('lastProgress is null before the first batch and has Spark shape after', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ name: 'counts', source, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.equal(query.lastProgress, null);
  source.addData(events([15, 'Open']));
  await query.processAllAvailable();
  source.addData(events([10, 'Open'], [12, 'Open'], [14, 'Open']));
  await query.processAllAvailable();
  const progress = query.recentProgress;
  // step 0: data batch + no-data batch (watermark 0 -> 5); step 1: data batch only (watermark stays 5).
  t.strictSame(progress.map((p) => [p.batchId, p.numInputRows]), [[0, 1], [1, 0], [2, 3]]);
  const last = query.lastProgress!;
  t.strictSame(Object.keys(last), ['id', 'runId', 'name', 'timestamp', 'batchId', 'batchDuration', 'numInputRows', 'inputRowsPerSecond', 'processedRowsPerSecond', 'durationMs', 'eventTime', 'stateOperators', 'sources', 'sink']);
  t.equal(last.name, 'counts');
  t.equal(last.id, query.id);
  t.strictSame(last.eventTime, { avg: '1970-01-01T00:00:12.000Z', max: '1970-01-01T00:00:14.000Z', min: '1970-01-01T00:00:10.000Z', watermark: '1970-01-01T00:00:05.000Z' });
  t.strictSame(progress[1]!.eventTime, { watermark: '1970-01-01T00:00:05.000Z' }, 'a no-data batch reports only the watermark');
  t.match(last.stateOperators[0], { operatorName: 'stateStoreSave', numRowsTotal: 2, numRowsDroppedByWatermark: 0 });
  t.match(last.sources[0], { description: source.description, startOffset: 1, endOffset: 2, numInputRows: 3 });
  t.match(last.sink, { description: 'MemorySink', numOutputRows: 0 });
  t.strictSame(Object.keys(last.durationMs), ['addBatch', 'commitOffsets', 'getBatch', 'latestOffset', 'queryPlanning', 'triggerExecution', 'walCommit']);
  await query.stop();
});

t.test('the registry lists active queries and stops them all', async (t) => {
  const manager = new StreamingQueryManager();
  const a = await startQuery({ name: 'a', source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager });
  const b = await startQuery({ name: 'b', source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager });
  t.strictSame(manager.active.map((q) => q.name), ['a', 'b']);
  t.equal(manager.get(a.id), a);
  await manager.stopAll();
  t.strictSame(manager.active, []);
  t.equal(b.isActive, false);
});

t.test('starting a query on a checkpoint whose query is active stops the old run first', async (t) => {
  const dir = t.testdir();
  const manager = new StreamingQueryManager();
  const source = new MemorySource({ schema: eventSchema });
  const stages = () => notebookStages({ delay: '10 seconds' });
  const first = await startQuery({ source, stages: stages(), sink: new MemorySink(), checkpointLocation: dir, manager });
  const second = await startQuery({ source: source.reopen(), stages: stages(), sink: new MemorySink(), checkpointLocation: dir, manager });
  t.equal(first.isActive, false);
  t.equal(second.id, first.id, 'same checkpoint, same query id');
  t.not(second.runId, first.runId);
  await second.stop();
});

t.test('a failing stage ends the query and awaitTermination rethrows it as STREAM_FAILED', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const failing = new Transform({
    objectMode: true,
    transform(item: { kind: string }, _enc, cb) {
      if (item.kind === 'rows') cb(new Error('boom'));
      else cb(null, item);
    },
  });
  const query = await startQuery({ source, stages: [failing], sink: new MemorySink(), manager: new StreamingQueryManager() });
  source.addData(events([1, 'Open']));
  await t.rejects(query.awaitTermination(), { code: 'ERR_QUERY_FAILED', message: `[STREAM_FAILED] Query [id = ${query.id}, runId = ${query.runId}] terminated with exception: boom` });
  t.equal(query.exception?.cause instanceof Error && (query.exception.cause as Error).message, 'boom');
  t.equal(query.isActive, false);
  await t.rejects(query.processAllAvailable(), { code: 'ERR_QUERY_FAILED' });
});

t.test('the once trigger runs one batch and ends; availableNow drains what was there and ends', async (t) => {
  const once = new MemorySource({ schema: eventSchema });
  once.addData(events([10, 'Open']));
  once.addData(events([20, 'Open']));
  const sinkOnce = new MemorySink();
  const q1 = await startQuery({ source: once, stages: notebookStages({ delay: '10 seconds' }), sink: sinkOnce, trigger: 'once', manager: new StreamingQueryManager() });
  t.equal(await q1.awaitTermination(5000), true);
  t.strictSame(q1.recentProgress.map((p) => p.numInputRows), [2]);

  const now = new MemorySource({ schema: eventSchema });
  now.addData(events([10, 'Open'], [30, 'Open']));
  const q2 = await startQuery({ source: now, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), trigger: 'availableNow', manager: new StreamingQueryManager() });
  t.equal(await q2.awaitTermination(5000), true);
  t.strictSame(q2.recentProgress.map((p) => p.numInputRows), [2, 0], 'a data batch, then the no-data batch that evicts');
});

t.test('drain ends a bounded run with every open window emitted', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([10, 'Open'], [30, 'Close']));
  const sink = new MemorySink();
  const query = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink, trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows().map((r) => [r['action'], r['count']]), [['Open', 1], ['Close', 1]]);
});

t.test('processingTime triggers space batches by the interval', async (t) => {
  // Spark's ProcessingTimeExecutor: a batch starts at a multiple of the interval (or at once when the
  // previous one overran it), and at most one batch starts per interval. Asserted on the start times
  // the progress reports, whatever the machine's load; how long anything takes is not asserted.
  const intervalMs = 100;
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), trigger: `processingTime=${intervalMs} milliseconds`, manager: new StreamingQueryManager() });
  source.addData(events([10, 'Open']));
  await query.processAllAvailable();
  source.addData(events([11, 'Open']));
  await query.processAllAvailable();
  await query.stop();
  const starts = query.recentProgress.map((p) => Date.parse(p.timestamp));
  t.strictSame(query.recentProgress.map((p) => p.numInputRows).filter((n) => n > 0), [1, 1], 'two data batches (no-data batches may run between them)');
  for (let i = 1; i < starts.length; i++) {
    const nextTick = Math.floor(starts[i - 1]! / intervalMs) * intervalMs + intervalMs;
    t.ok(starts[i]! >= nextTick, `batch ${i} started at ${starts[i]}, not before the tick ${nextTick} after batch ${i - 1} started`);
  }
});

t.test('a drained checkpoint counts later windows: the watermark rests at the end of the last window the drain emitted (issue: drain dropped all later input)', async (t) => {
  const dir = t.testdir();
  const run = async (source: MemorySource): Promise<{ rows: Array<[unknown, unknown, unknown]>; query: StreamingQuery }> => {
    const sink = new MemorySink();
    const query = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink, checkpointLocation: dir, trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
    await query.awaitTermination();
    return { rows: sink.rows().map((r) => [(r['window'] as { start: number }).start / 1000, r['action'], r['count']]), query };
  };
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([10, 'Open'], [12, 'Close']));
  const first = await run(source);
  t.strictSame(first.rows, [[10, 'Open', 1], [10, 'Close', 1]]);
  t.equal(first.query.watermarkMs, 15_000, 'the end of the last window emitted, not +infinity');
  const again = source.reopen();
  again.addData(events([11, 'Open'], [20, 'Open'], [31, 'Close']));
  const second = await run(again);
  t.strictSame(second.rows, [[20, 'Open', 1], [30, 'Close', 1]], 'later windows are counted; the drained window is not emitted twice');
  t.equal(second.query.recentProgress[0]!.stateOperators[0]!['numRowsDroppedByWatermark'], 1, 'the row of a window already emitted is late');
  t.equal(second.query.watermarkMs, 35_000);

  // The same events in one run give the same rows for the later windows.
  const once = new MemorySource({ schema: eventSchema });
  once.addData(events([10, 'Open'], [12, 'Close'], [11, 'Open'], [20, 'Open'], [31, 'Close']));
  const sink = new MemorySink();
  const single = await startQuery({ source: once, stages: notebookStages({ delay: '10 seconds' }), sink, trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
  await single.awaitTermination();
  const later = sink.rows().filter((r) => (r['window'] as { start: number }).start >= 20_000).map((r) => [(r['window'] as { start: number }).start / 1000, r['action'], r['count']]);
  t.strictSame(later, second.rows);
});

t.test('a drain grouping by the raw event time leaves the watermark at the last time it emitted', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([10, 'Open'], [12, 'Close']));
  const sink = new MemorySink();
  const query = await startQuery({
    source,
    stages: [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new KeyedCount({ groupBy: ['time', 'action'] })],
    sink,
    trigger: 'availableNow',
    drain: true,
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  t.equal(sink.rows().length, 2);
  t.equal(query.watermarkMs, 12_000);
});

t.test('a restart after a drain judges late rows by where the drain left the watermark', async (t) => {
  const dir = t.testdir();
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([10, 'Open']));
  const drained = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), checkpointLocation: dir, trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
  await drained.awaitTermination();
  // A long-running query on the same checkpoint: the first batch must not re-open window [10, 15).
  const again = source.reopen();
  const sink = new MemorySink();
  const query = await startQuery({ source: again, stages: notebookStages({ delay: '10 seconds' }), sink, checkpointLocation: dir, manager: new StreamingQueryManager() });
  again.addData(events([14, 'Open'], [40, 'Open']));
  await query.processAllAvailable();
  await query.stop();
  t.equal(query.recentProgress[0]!.stateOperators[0]!['numRowsDroppedByWatermark'], 1);
  t.strictSame(sink.rows().map((r) => (r['window'] as { start: number }).start / 1000), [], 'nothing of window 10-15 comes out again; 40-45 waits for the watermark');
});

t.test('a checkpoint drained by the release before (watermark +infinity) is refused, not silently dropping every row', async (t) => {
  const dir = t.testdir();
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([10, 'Open']));
  const first = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await first.awaitTermination();
  // What a drain of the release before left: its commit log, in a checkpoint of that release (no checksums yet).
  const { readdir, readFile, rm, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const last = (await readdir(join(dir, 'commits'))).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b)).pop()!;
  await writeFile(join(dir, 'commits', last), 'v1\n{"nextBatchWatermarkMs":8640000000000}');
  const { id } = JSON.parse(await readFile(join(dir, 'metadata'), 'utf8')) as { id: string };
  await writeFile(join(dir, 'metadata'), JSON.stringify({ id }) + '\n');
  for (const sub of ['', 'offsets', 'commits']) for (const name of await readdir(join(dir, sub))) if (name.endsWith('.crc')) await rm(join(dir, sub, name));
  // That release's state files were `<N>.json`; this run's (snapshots and deltas) are not its: without them the state reads as empty.
  await rm(join(dir, 'state'), { recursive: true });
  const again = source.reopen();
  const query = await startQuery({ source: again, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await t.rejects(query.awaitTermination(), { cause: { code: 'ERR_CHECKPOINT_DRAINED', message: /drained by an earlier release of tidemark.*Start a new checkpoint and output directory/ } });
});

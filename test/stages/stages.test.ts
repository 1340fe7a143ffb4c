import t from 'tap';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { field, schema, Types } from '../../lib/core/schema.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { Sort } from '../../lib/stages/sort.js';
import { STAGE_HIGH_WATER_MARK } from '../../lib/stages/stage.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { CommitPort, StateImage, StreamItem } from '../../lib/protocol.js';
import { decodeTypedArrays, encodeTypedArrays } from '../../lib/stages/snapshot-codec.js';
import { eventSchema, events, windowRow } from '../helpers.js';
import { microBatches } from '../../lib/query/executor.js';

t.test('a flush of many windows waits for a slow consumer instead of buffering them all', async (t) => {
  const keys = schema([field('key', Types.long)]);
  const source = new MemorySource({ schema: keys });
  source.addData(Array.from({ length: 20_000 }, (_, i) => ({ key: i })));
  const count = new KeyedCount({ groupBy: ['key'], maxRowsPerBatch: 100 });
  let rowItems = 0;
  let maxBuffered = 0;
  let commits: CommitPort | null = null;
  const slowSink = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(item: StreamItem, _enc, cb) {
      maxBuffered = Math.max(maxBuffered, count.readableLength);
      if (item.kind === 'open') {
        commits = item.commits;
        commits.opened(item.plan);
      }
      if (item.kind === 'rows') rowItems++;
      if (item.kind === 'barrier') commits!.commit(item).then(() => cb(), cb);
      else setImmediate(cb);
    },
  });
  await pipeline(microBatches(source, { trigger: 'availableNow', outputMode: 'complete' }), count, slowSink);
  t.equal(rowItems, 200, 'the table came out in 200 batches of 100 rows');
  t.ok(maxBuffered <= STAGE_HIGH_WATER_MARK, `at most ${STAGE_HIGH_WATER_MARK} items waited in the stage (saw ${maxBuffered})`);
});

t.test('Sort orders each complete result table, nulls first when ascending', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const sink = new MemorySink();
  const query = await startQuery({
    source,
    stages: [new KeyedCount({ groupBy: ['action'] }), new Sort({ by: [{ column: 'count', descending: true }, 'action'] })],
    sink,
    outputMode: 'complete',
    manager: new StreamingQueryManager(),
  });
  source.addData([...events([1, 'Open'], [2, 'Close'], [3, 'Open'], [4, 'Click']), { time: 5000, action: null }]);
  await query.processAllAvailable();
  t.strictSame(sink.rows().map((r) => [r['action'], r['count']]), [['Open', 2], [null, 1], ['Click', 1], ['Close', 1]]);
  await query.stop();
});

t.test('Window drops rows with a null time and repeats a row per sliding window', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  source.addData([{ time: 12_000, action: 'Open' }, { time: null, action: 'Close' }]);
  const sink = new MemorySink();
  await pipeline(microBatches(source, { trigger: 'availableNow' }), new Window({ timeColumn: 'time', duration: '10 seconds', slide: '5 seconds' }), sink);
  t.strictSame(sink.rows().map((r) => [r['action'], (r['window'] as { start: number }).start / 1000]), [['Open', 5], ['Open', 10]]);
});

t.test('every stage snapshot restores into a fresh instance mid-stream (test harness, no checkpoint directory)', async (t) => {
  // Run batches 0..1 on one set of stages, copy their snapshots through JSON, continue on fresh ones.
  const build = () => [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new Window({ timeColumn: 'time', duration: '5 seconds' }), new KeyedCount({ groupBy: ['action', 'window'] })] as const;
  const first = build();
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([10, 'Open'], [11, 'Open'], [25, 'Click']));
  const sink1 = new MemorySink();
  await pipeline(microBatches(source, { trigger: 'availableNow' }), ...first, sink1);
  // Through JSON as the checkpoint writes it: typed arrays as base64.
  const snapshots = first.map((s) => decodeTypedArrays(JSON.parse(JSON.stringify(encodeTypedArrays(s.snapshot())))) as StateImage);
  const second = build();
  const probe = new MemorySource({ schema: eventSchema });
  // Plan the fresh stages against the same schema, then restore.
  let s = probe.schema;
  for (const stage of second) s = stage.plan(s, { outputMode: undefined, aggregated: false });
  second.forEach((stage, i) => stage.restore(snapshots[i]));
  t.equal(second[2].stateRows, 1, 'the Click window is still open');
  t.strictSame(sink1.rows().map(windowRow), [[10, 15, 'Open', 2]]);
});

t.test('a restore refuses a snapshot of a changed query, naming what changed', async (t) => {
  const a = new Watermark({ eventTime: 'time', delay: '10 seconds' });
  const b = new Watermark({ eventTime: 'time', delay: '2 hours' });
  t.throws(() => b.restore(a.snapshot()), {
    code: 'ERR_CHECKPOINT_MISMATCH',
    message: 'the query changed since the checkpoint was written: Watermark delayMs was 10000, is now 7200000',
  });
  t.throws(() => b.restore({ ...a.snapshot(), version: 99 }), { code: 'ERR_SNAPSHOT_VERSION' });
});

t.test('restarting a checkpoint with a different window is refused', async (t) => {
  const dir = t.testdir();
  // One source for the checkpoint's life: a restart reopens it (a new MemorySource would be another input).
  const base = new MemorySource({ schema: eventSchema });
  const run = async (duration: string) => {
    const source = base.reopen();
    source.addData(events([10, 'Open']));
    const query = await startQuery({
      source,
      stages: [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new Window({ timeColumn: 'time', duration }), new KeyedCount({ groupBy: ['action', 'window'] })],
      sink: new MemorySink(),
      checkpointLocation: dir,
      trigger: 'availableNow',
      manager: new StreamingQueryManager(),
    });
    return query.awaitTermination();
  };
  t.equal(await run('5 seconds'), true);
  await t.rejects(run('1 hour'), { code: 'ERR_QUERY_FAILED', message: /KeyedCount window was \{"durationUs":5000000,"slideUs":5000000,"startTimeUs":0\}, is now \{"durationUs":3600000000/ });
});

t.test('state in several partitions gives the same counts, one state file per partition, and a changed count is refused', async (t) => {
  const dir = t.testdir({ one: {}, many: {} });
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const sources = new Map<string, MemorySource>();
  const run = async (checkpointLocation: string, partitions: number) => {
    // One source per checkpoint: a restart reopens it (a new MemorySource would be another input).
    const known = sources.get(checkpointLocation);
    const source = known === undefined ? new MemorySource({ schema: eventSchema }) : known.reopen();
    sources.set(checkpointLocation, source);
    source.addData(events([10, 'Open'], [11, 'Close'], [12, 'Open'], [13, 'Click'], [30, 'Scroll']));
    const sink = new MemorySink();
    const query = await startQuery({
      source,
      stages: [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new Window({ timeColumn: 'time', duration: '5 seconds' }), new KeyedCount({ groupBy: ['action', 'window'], partitions })],
      sink,
      checkpointLocation,
      trigger: 'availableNow',
      manager: new StreamingQueryManager(),
    });
    await query.awaitTermination();
    return sink.rows().map(windowRow).sort();
  };
  const one = await run(join(dir, 'one'), 1);
  t.strictSame(await run(join(dir, 'many'), 4), one);
  t.strictSame((await readdir(join(dir, 'many', 'state', '0'))).sort(), ['0', '1', '2', '3']);
  await t.rejects(run(join(dir, 'many'), 2), { code: 'ERR_QUERY_FAILED', message: /KeyedCount partitions was 4, is now 2/ });
});

t.test('emitLateRows routes the rows the watermark drops to a side stream', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const count = new KeyedCount({ groupBy: ['action', 'window'], emitLateRows: true });
  const late: unknown[] = [];
  count.lateRows.on('data', (row) => late.push(row));
  const query = await startQuery({
    source,
    stages: [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new Window({ timeColumn: 'time', duration: '5 seconds' }), count],
    sink: new MemorySink(),
    manager: new StreamingQueryManager(),
  });
  source.addData(events([30, 'Open']));
  await query.processAllAvailable();
  source.addData(events([5, 'Close'], [31, 'Open'], [7, 'Click']));
  await query.processAllAvailable();
  await query.stop();
  t.strictSame(late, [
    { time: 5000, action: 'Close', window: { start: 5000, end: 10000 } },
    { time: 7000, action: 'Click', window: { start: 5000, end: 10000 } },
  ]);
  t.equal(query.recentProgress.find((p) => p.numInputRows === 3)!.stateOperators[0]!['numRowsDroppedByWatermark'], 2);
});

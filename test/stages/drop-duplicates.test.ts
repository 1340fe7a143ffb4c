/**
 * `DropDuplicates`: Spark's streaming `dropDuplicates(cols)` and
 * `dropDuplicatesWithinWatermark(cols)` as a stage, through MemorySource,
 * the executor and a real checkpoint directory: Spark's refusals, the
 * suites' scenarios, the rows let through, the figures, drains and restarts.
 */
import t from 'tap';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { field, schema, Types } from '../../lib/core/schema.js';
import type { Row } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { DropDuplicates } from '../../lib/stages/drop-duplicates.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { microBatches } from '../../lib/query/executor.js';
import type { StreamItem } from '../../lib/protocol.js';
import { clickstream } from '../../lib/gen-clickstream.js';
import { multiset, runSteps, type StepsResult } from './stateful-steps.js';

const PAIR = schema([field('_1', Types.string), field('_2', Types.long)]);
const pairs = (...rows: Array<[string, number]>): Row[] => rows.map(([a, b]) => ({ _1: a, _2: b }));
const VALUE_TIME = schema([field('value', Types.long), field('eventTime', Types.timestamp)]);
const valueAndTime = (...seconds: number[]): Row[] => seconds.map((value) => ({ value, eventTime: value * 1000 }));
const tenToFifteenFiveTimes = (): Row[] => valueAndTime(...[1, 2, 3, 4, 5].flatMap(() => [10, 11, 12, 13, 14, 15]));
const withWatermark = (dedup: DropDuplicates, column = 'eventTime', delay = '10 seconds') => [new Watermark({ eventTime: column, delay }), dedup];

/** The figures of the data micro-batch of each step: [numRowsTotal, numRowsUpdated, numRowsDroppedByWatermark]. */
const figures = (r: StepsResult): number[][] =>
  r.progress.map((batches) => {
    const s = batches[0]!.stateOperators[0]!;
    return [s['numRowsTotal'] as number, s['numRowsUpdated'] as number, s['numRowsDroppedByWatermark'] as number];
  });

t.test('StreamingDeduplicationSuite: deduplicate with all columns', async (t) => {
  const r = await runSteps({
    schema: schema([field('value', Types.string)]),
    stages: () => [new DropDuplicates()],
    outputMode: 'append',
    steps: [[{ value: 'a' }], [{ value: 'a' }], [{ value: 'b' }]],
    checkpointLocation: t.testdir(),
  });
  t.strictSame(r.emitted, [[{ value: 'a' }], [], [{ value: 'b' }]]);
  t.strictSame(figures(r), [[1, 1, 0], [1, 0, 0], [2, 1, 0]]);
});

t.test('StreamingDeduplicationSuite: deduplicate with some columns', async (t) => {
  const r = await runSteps({
    schema: PAIR,
    stages: () => [new DropDuplicates({ columns: ['_1'] })],
    outputMode: 'append',
    steps: [pairs(['a', 1]), pairs(['a', 2]), pairs(['b', 1])],
    checkpointLocation: t.testdir(),
    restartBefore: 'every',
  });
  t.strictSame(r.emitted, [pairs(['a', 1]), [], pairs(['b', 1])]);
  t.strictSame(figures(r), [[1, 1, 0], [1, 0, 0], [2, 1, 0]]);
});

t.test('StreamingDeduplicationSuite: SPARK-35896: metrics in StateOperatorProgress are output correctly', async (t) => {
  const r = await runSteps({
    schema: VALUE_TIME,
    stages: () => withWatermark(new DropDuplicates()),
    outputMode: 'append',
    steps: [tenToFifteenFiveTimes(), valueAndTime(25), valueAndTime(10)],
    checkpointLocation: t.testdir(),
  });
  t.strictSame(r.emitted, [valueAndTime(10, 11, 12, 13, 14, 15), valueAndTime(25), []]);
  const operators = r.progress.map((batches) => batches.map((p) => p.stateOperators[0]!));
  t.strictSame(
    operators.map((batches) => batches.map((s) => [s['operatorName'], s['numRowsTotal'], s['numRowsUpdated'], s['numRowsRemoved'], s['numRowsDroppedByWatermark']])),
    [
      [
        ['dedupe', 6, 6, 0, 0],
        ['dedupe', 6, 0, 0, 0],
      ],
      [
        ['dedupe', 7, 1, 0, 0],
        ['dedupe', 1, 0, 6, 0],
      ],
      [['dedupe', 1, 0, 0, 1]],
    ],
    'the no-data batch after 25 evicts the six keys at or before the watermark 15; 10 is then late',
  );
  t.ok((operators[0]![0]!['memoryUsedBytes'] as number) > (operators[1]![1]!['memoryUsedBytes'] as number), 'memory falls with the keys evicted');
});

t.test('StreamingDeduplicationSuite: SPARK-35880: custom metric numDroppedDuplicateRows in state operator progress', async (t) => {
  const duplicates = (r: StepsResult): unknown[] => r.progress.map((batches) => (batches[0]!.stateOperators[0]!['customMetrics'] as Record<string, number>)['numDroppedDuplicateRows']);
  const byKey = await runSteps({
    schema: PAIR,
    stages: () => [new DropDuplicates({ columns: ['_1'] })],
    outputMode: 'append',
    steps: [pairs(['a', 1]), pairs(['a', 2], ['b', 3]), pairs(['a', 5], ['b', 2], ['c', 9])],
    checkpointLocation: t.testdir(),
  });
  t.strictSame(byKey.emitted, [pairs(['a', 1]), pairs(['b', 3]), pairs(['c', 9])]);
  t.strictSame(duplicates(byKey), [0, 1, 2]);
  const timed = await runSteps({
    schema: VALUE_TIME,
    stages: () => withWatermark(new DropDuplicates()),
    outputMode: 'append',
    steps: [tenToFifteenFiveTimes(), valueAndTime(14), valueAndTime(25), valueAndTime(10), valueAndTime(26, 26)],
    checkpointLocation: t.testdir(),
  });
  t.strictSame(duplicates(timed), [24, 1, 0, 0, 1], 'a late row is not a duplicate');
});

t.test('StreamingDeduplicationSuite: SPARK-21546: dropDuplicates should ignore watermark when it is not a key, but still drop late rows', async (t) => {
  const r = await runSteps({
    schema: schema([field('id', Types.long), field('time', Types.timestamp)]),
    stages: () => withWatermark(new DropDuplicates({ columns: ['id'] }), 'time', '1 second'),
    outputMode: 'append',
    steps: [
      [{ id: 1, time: 1000 }, { id: 1, time: 2000 }, { id: 2, time: 2000 }],
      [{ id: 3, time: 100_000 }],
      [{ id: 4, time: 5000 }],
    ],
    checkpointLocation: t.testdir(),
  });
  t.strictSame(r.emitted, [[{ id: 1, time: 1000 }, { id: 2, time: 2000 }], [{ id: 3, time: 100_000 }], []]);
  t.strictSame(figures(r), [[2, 2, 0], [3, 1, 0], [3, 0, 1]], 'keys without the event time are never evicted; a row behind the watermark is still late');
});

t.test('StreamingDeduplicationWithinWatermarkSuite: deduplicate without event time column should result in error', async (t) => {
  await t.rejects(
    startQuery({
      source: new MemorySource({ schema: PAIR }),
      stages: [new DropDuplicates({ columns: ['_1'], withinWatermark: true })],
      sink: new MemorySink(),
      manager: new StreamingQueryManager(),
    }),
    { code: 'ERR_DEDUP_WITHOUT_WATERMARK', message: 'dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark' },
  );
});

t.test('an unknown key column is refused with Spark message, an empty list as an option error', async (t) => {
  const start = (dedup: DropDuplicates) => startQuery({ source: new MemorySource({ schema: PAIR }), stages: [dedup], sink: new MemorySink(), manager: new StreamingQueryManager() });
  await t.rejects(start(new DropDuplicates({ columns: ['_3'] })), {
    code: 'ERR_UNKNOWN_COLUMN',
    message: '[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name "_3" among (_1, _2).',
  });
  await t.rejects(start(new DropDuplicates({ columns: [] })), { code: 'ERR_INVALID_OPTION', option: 'columns' });
});

t.test('complete mode with a deduplication and no aggregation is refused with Spark message; update mode runs as append', async (t) => {
  await t.rejects(
    startQuery({ source: new MemorySource({ schema: PAIR }), stages: [new DropDuplicates()], sink: new MemorySink(), outputMode: 'complete', manager: new StreamingQueryManager() }),
    { code: 'ERR_COMPLETE_WITHOUT_AGGREGATION', message: 'Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets' },
  );
  const r = await runSteps({ schema: PAIR, stages: () => [new DropDuplicates({ columns: ['_1'] })], outputMode: 'update', steps: [pairs(['a', 1], ['a', 2])], checkpointLocation: t.testdir() });
  t.strictSame(r.emitted, [pairs(['a', 1])]);
});

t.test('the rows let through keep their input order and every column; a batch without duplicates goes on untouched', async (t) => {
  const source = new MemorySource({ schema: PAIR });
  source.addData(pairs(['b', 1], ['a', 2], ['b', 3], ['c', 4], ['a', 5]));
  source.addData(pairs(['d', 6], ['e', 7]));
  const seen: StreamItem[] = [];
  const probe = new Transform({
    objectMode: true,
    transform(item: StreamItem, _e, cb) {
      seen.push(item);
      cb(null, item);
    },
  });
  const sink = new MemorySink();
  const dedup = new DropDuplicates({ columns: ['_1'] });
  const upstream: StreamItem[] = [];
  const tap = new Transform({
    objectMode: true,
    transform(item: StreamItem, _e, cb) {
      upstream.push(item);
      cb(null, item);
    },
  });
  await pipeline(microBatches(source, { trigger: 'once' }), tap, dedup, probe, sink);
  t.strictSame(sink.rows(), pairs(['b', 1], ['a', 2], ['c', 4], ['d', 6], ['e', 7]));
  const rowsIn = upstream.filter((i) => i.kind === 'rows');
  const rowsOut = seen.filter((i) => i.kind === 'rows');
  t.equal(rowsOut.length, 2, 'one rows item per input batch');
  t.not(rowsOut[0], rowsIn[0], 'a batch with duplicates is a new batch of the rows let through');
  t.equal(rowsOut[1], rowsIn[1], 'a batch without duplicates is forwarded as it is');
});

t.test('dropDuplicatesWithinWatermark: a drain evicts every key and leaves the watermark at the latest event time it evicted, so a redelivery is late', async (t) => {
  const dir = t.testdir();
  const input = schema([field('id', Types.string), field('time', Types.timestamp)]);
  const source = new MemorySource({ schema: input });
  const build = () => withWatermark(new DropDuplicates({ columns: ['id'], withinWatermark: true }), 'time', '5 seconds');
  source.addData([{ id: 'a', time: 10_000 }, { id: 'b', time: 20_000 }]);
  const first = new MemorySink();
  const q1 = await startQuery({ source, stages: build(), sink: first, checkpointLocation: dir, trigger: 'availableNow', drain: true, manager: new StreamingQueryManager() });
  await q1.awaitTermination();
  t.equal(q1.watermarkMs, 20_000, 'b, the latest key evicted, at 20 s; not 15 s (its expiry minus the delay is its event time)');
  const again = source.reopen();
  again.addData([{ id: 'b', time: 20_000 }, { id: 'c', time: 21_000 }]);
  const second = new MemorySink();
  const q2 = await startQuery({ source: again, stages: build(), sink: second, checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await q2.awaitTermination();
  t.strictSame(second.rows(), [{ id: 'c', time: 21_000 }], 'b again is behind the watermark: dropped as late, not let through as new');
  t.equal(q2.recentProgress[0]!.stateOperators[0]!['numRowsDroppedByWatermark'], 1);
});

t.test('a restart with other key columns is refused, naming the difference; a snapshot of another version too', async (t) => {
  const dir = t.testdir();
  const source = new MemorySource({ schema: PAIR });
  const q1 = await startQuery({ source, stages: [new DropDuplicates({ columns: ['_1'] })], sink: new MemorySink(), checkpointLocation: dir, manager: new StreamingQueryManager() });
  source.addData(pairs(['a', 1]));
  await q1.processAllAvailable();
  await q1.stop();
  const q2 = await startQuery({ source: source.reopen(), stages: [new DropDuplicates({ columns: ['_2'] })], sink: new MemorySink(), checkpointLocation: dir, manager: new StreamingQueryManager() });
  await t.rejects(q2.awaitTermination(), { code: 'ERR_QUERY_FAILED' });
  t.match(q2.exception?.cause, { code: 'ERR_CHECKPOINT_MISMATCH', message: 'the query changed since the checkpoint was written: DropDuplicates columns was ["_1"], is now ["_2"]' });
  const stage = new DropDuplicates({ columns: ['_1'] });
  stage.plan(PAIR, { outputMode: 'append', aggregated: false });
  t.throws(() => stage.restore({ ...stage.snapshot(), version: 3 }), { code: 'ERR_SNAPSHOT_VERSION' });
});

t.test('a restart from the checkpoint before every step lets through the same rows as one run: each id once', async (t) => {
  const { events, delivered } = clickstream({ users: 10, seed: 9, duplicateFraction: 0.3 });
  t.ok(delivered.length > events.length + 30, `${delivered.length - events.length} redeliveries`);
  const input = schema([field('id', Types.string), field('time', Types.timestamp), field('user', Types.string), field('action', Types.string)]);
  const rows = delivered.map((e) => ({ id: e.id, time: e.time * 1000, user: e.user, action: e.action }));
  const steps: Row[][] = [];
  for (let i = 0; i < rows.length; i += 30) steps.push(rows.slice(i, i + 30));
  const stages = () => withWatermark(new DropDuplicates({ columns: ['id'], withinWatermark: true }), 'time', '10 minutes');
  const once = await runSteps({ schema: input, stages, outputMode: 'append', steps, checkpointLocation: t.testdir() });
  const restarted = await runSteps({ schema: input, stages, outputMode: 'append', steps, checkpointLocation: t.testdir(), restartBefore: 'every' });
  t.strictSame(restarted.emitted, once.emitted, 'the same rows in the same steps');
  t.strictSame(multiset(once.emitted.flat()), multiset(events.map((e) => ({ id: e.id, time: e.time * 1000, user: e.user, action: e.action }))), 'every event once');
});

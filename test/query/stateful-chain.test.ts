/**
 * Several stateful operators in one query (Spark ≥ 3.4): a deduplication
 * before an aggregation, a session window before a windowed count. Each
 * takes its operator id in-band and checkpoints under it, each judges late
 * rows against the previous batch's global watermark and evicts with the
 * current one; Spark's global-watermark check refuses what could drop rows.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { field, schema, Types } from '../../lib/core/schema.js';
import type { Row } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { SessionWindow } from '../../lib/stages/session-window.js';
import { DropDuplicates } from '../../lib/stages/drop-duplicates.js';
import { planQuery } from '../../lib/query/planner.js';
import { microBatches } from '../../lib/query/executor.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { multiset, runSteps } from '../stages/stateful-steps.js';

const CORRECTNESS =
  "Detected pattern of possible 'correctness' issue due to global watermark. The query contains stateful operation which can emit rows older than the current watermark plus allowed late record delay, which are \"late rows\" in downstream stateful operations and these rows can be discarded. Please refer the programming guide doc for more details. If you understand the possible risk of correctness issue and still need to run the query, you can disable this check by setting the config `spark.sql.streaming.statefulOperator.checkCorrectness.enabled` to false.";

const VALUE_TIME = schema([field('value', Types.long), field('eventTime', Types.timestamp)]);
const valueAndTime = (...seconds: number[]): Row[] => seconds.map((value) => ({ value, eventTime: value * 1000 }));
const tenToFifteenFiveTimes = (): Row[] => valueAndTime(...[1, 2, 3, 4, 5].flatMap(() => [10, 11, 12, 13, 14, 15]));
const windowCount = (start: number, end: number, count: number): Row => ({ window: { start: start * 1000, end: end * 1000 }, count });

const dedupThenCount = () => [
  new Watermark({ eventTime: 'eventTime', delay: '10 seconds' }),
  new DropDuplicates(),
  new Window({ timeColumn: 'eventTime', duration: '5 seconds' }),
  new KeyedCount({ groupBy: ['window'] }),
];
const SUITE_STEPS = [tenToFifteenFiveTimes(), valueAndTime(25), valueAndTime(10), valueAndTime(40)];

t.test('StreamingDeduplicationSuite: deduplicate with aggregate - append mode, through the stages, the executor and a checkpoint', async (t) => {
  const dir = t.testdir();
  const r = await runSteps({ schema: VALUE_TIME, stages: dedupThenCount, outputMode: 'append', steps: SUITE_STEPS, checkpointLocation: dir });
  t.strictSame(r.emitted, [[], [windowCount(10, 15, 5)], [], [windowCount(15, 20, 1), windowCount(25, 30, 1)]], '5 items (10 to 14) after the deduplication, emitted by the no-data batch');
  const totals = r.progress.map((batches) => batches.at(-1)!.stateOperators.map((s) => [s['operatorName'], s['numRowsTotal']]));
  t.strictSame(totals, [
    [['dedupe', 6], ['stateStoreSave', 2]],
    [['dedupe', 1], ['stateStoreSave', 2]],
    [['dedupe', 1], ['stateStoreSave', 2]],
    [['dedupe', 1], ['stateStoreSave', 1]],
  ]);
  t.strictSame(
    r.progress[2]![0]!.stateOperators.map((s) => s['numRowsDroppedByWatermark']),
    [1, 0],
    '10 is late for the deduplication, which drops it before the aggregation sees it',
  );
  t.match(r.explain, /DropDuplicates\(.*\) \[state operator 0\]\n.*\nKeyedCount\(.*\) \[state operator 1\]/, 'operator ids in pipeline order');
  t.strictSame((await readdir(join(dir, 'state'))).sort(), ['0', '1'], 'each operator checkpoints under its own id');
});

t.test('dedup then aggregation: a restart from the checkpoint before every step gives the same output', async (t) => {
  const once = await runSteps({ schema: VALUE_TIME, stages: dedupThenCount, outputMode: 'append', steps: SUITE_STEPS, checkpointLocation: t.testdir() });
  const restarted = await runSteps({ schema: VALUE_TIME, stages: dedupThenCount, outputMode: 'append', steps: SUITE_STEPS, checkpointLocation: t.testdir(), restartBefore: 'every' });
  t.strictSame(restarted.emitted, once.emitted);
});

t.test('StreamingDeduplicationSuite: deduplicate with aggregate - update and complete mode are allowed', async (t) => {
  const input = schema([field('str', Types.string), field('num', Types.long)]);
  const steps = [[{ str: 'a', num: 1 }], [{ str: 'a', num: 1 }], [{ str: 'a', num: 2 }], [{ str: 'b', num: 1 }]];
  const update = await runSteps({
    schema: input,
    stages: () => [new DropDuplicates(), new KeyedCount({ groupBy: ['str'] })],
    outputMode: 'update',
    steps,
    checkpointLocation: t.testdir(),
  });
  t.strictSame(update.emitted, [[{ str: 'a', count: 1 }], [], [{ str: 'a', count: 2 }], [{ str: 'b', count: 1 }]]);
  const complete = await runSteps({
    schema: input,
    stages: () => [new DropDuplicates(), new KeyedCount({ groupBy: ['str'] })],
    outputMode: 'complete',
    steps,
    checkpointLocation: t.testdir(),
  });
  t.strictSame(multiset(complete.emitted[3]!), multiset([{ str: 'a', count: 2 }, { str: 'b', count: 1 }]));
});

const countThenDedup = () => [
  new Watermark({ eventTime: 'eventTime', delay: '10 seconds' }),
  new Window({ timeColumn: 'eventTime', duration: '5 seconds' }),
  new KeyedCount({ groupBy: ['window'] }),
  new DropDuplicates({ columns: ['window'] }),
];

t.test('an aggregation in update or complete mode followed by an operator that judges late rows is refused at start with Spark message', async (t) => {
  for (const outputMode of ['update', 'complete'] as const) {
    await t.rejects(
      startQuery({ source: new MemorySource({ schema: VALUE_TIME }), stages: countThenDedup(), sink: new MemorySink(), outputMode, manager: new StreamingQueryManager() }),
      { code: 'ERR_STATEFUL_CORRECTNESS', message: CORRECTNESS },
      outputMode,
    );
  }
});

t.test('the same refusal comes from a pipeline composed by hand, when the run opens', async (t) => {
  const source = new MemorySource({ schema: VALUE_TIME });
  source.addData(valueAndTime(10));
  const streams = [microBatches(source, { outputMode: 'update', trigger: 'once' }), ...countThenDedup(), new MemorySink()];
  await t.rejects(pipeline(streams as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]), { code: 'ERR_STATEFUL_CORRECTNESS' });
});

t.test('in append mode the aggregation emits only final rows, so anything may follow it', async (t) => {
  t.doesNotThrow(() => planQuery(new MemorySource({ schema: VALUE_TIME }), countThenDedup(), new MemorySink(), { outputMode: 'append', checkpointLocation: null }));
});

t.test('a deduplication without the event time among its keys judges nothing by key after an update aggregation: allowed, as in Spark', async (t) => {
  const input = schema([field('str', Types.string), field('num', Types.long)]);
  t.doesNotThrow(() =>
    planQuery(new MemorySource({ schema: input }), [new KeyedCount({ groupBy: ['str'] }), new DropDuplicates({ columns: ['str'] })], new MemorySink(), {
      outputMode: 'update',
      checkpointLocation: null,
    }),
  );
});

t.test('sessions, then a count of the sessions per minute of their end, in append mode', async (t) => {
  const input = schema([field('time', Types.timestamp), field('user', Types.string)]);
  const source = new MemorySource({ schema: input });
  source.addData([10, 12, 100, 104, 110].map((s, i) => ({ time: s * 1000, user: i < 2 ? 'a' : 'b' })));
  source.addData([{ time: 130_000, user: 'a' }]);
  const sink = new MemorySink();
  const query = await startQuery({
    source,
    stages: [
      new Watermark({ eventTime: 'time', delay: '5 seconds' }),
      new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['user'] }),
      new Window({ timeColumn: 'session_window', duration: '1 minute' }),
      new KeyedCount({ groupBy: ['window'], countColumn: 'sessions' }),
    ],
    sink,
    outputMode: 'append',
    trigger: 'availableNow',
    drain: true,
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  t.strictSame(
    multiset(sink.rows()),
    multiset([
      { window: { start: 0, end: 60_000 }, sessions: 1 },
      { window: { start: 60_000, end: 120_000 }, sessions: 1 },
      { window: { start: 120_000, end: 180_000 }, sessions: 1 },
    ]),
    'a [10, 22) ends in the first minute, b [100, 120) in the second (its last microsecond), a [130, 140) in the third',
  );
  t.strictSame(query.lastProgress!.stateOperators.map((s) => s['operatorName']), ['sessionWindowStateStoreSaveExec', 'stateStoreSave']);
});

t.test('a session window in complete mode followed by another aggregation is refused', async (t) => {
  const input = schema([field('time', Types.timestamp), field('user', Types.string)]);
  t.throws(
    () =>
      planQuery(
        new MemorySource({ schema: input }),
        [new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['user'] }), new KeyedCount({ groupBy: ['user'] })],
        new MemorySink(),
        { outputMode: 'complete', checkpointLocation: null },
      ),
    { code: 'ERR_STATEFUL_CORRECTNESS' },
  );
});

/**
 * `SessionWindow`: Spark's `groupBy(session_window(time, gap), key…).agg(…)`
 * as a stage, through MemorySource, the executor and a real checkpoint
 * directory: Spark's refusals at plan time, the suite's scenarios, the
 * aggregates per session, its progress figures, drains and restarts.
 */
import t from 'tap';
import { field, schema, Types } from '../../lib/core/schema.js';
import type { Row } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { SessionWindow } from '../../lib/stages/session-window.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { clickstream } from '../../lib/gen-clickstream.js';
import { multiset, runSteps } from './stateful-steps.js';

const words = schema([field('time', Types.timestamp), field('key', Types.string)]);
const at = (...pairs: Array<[number, string]>): Row[] => pairs.map(([s, key]) => ({ time: s * 1000, key }));
const session = (start: number, end: number, key: string, count: number): Row => ({ session_window: { start: start * 1000, end: end * 1000 }, key, count });

const UPDATE = 'Update output mode not supported for session window on streaming DataFrames/DataSets';
const GLOBAL = 'Global aggregation with session window in streaming query is not supported.';
const APPEND = 'Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark';

async function refusal(stages: () => import('node:stream').Transform[], outputMode: 'append' | 'update' | 'complete', input = words): Promise<unknown> {
  try {
    await startQuery({ source: new MemorySource({ schema: input }), stages: stages(), sink: new MemorySink(), outputMode, manager: new StreamingQueryManager() });
  } catch (err) {
    return err;
  }
  return null;
}

t.test('StreamingSessionWindowSuite: session window in update mode is refused at start with Spark message', async (t) => {
  const err = await refusal(() => [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })], 'update');
  t.match(err, { code: 'ERR_SESSION_WINDOW_UPDATE_MODE', message: UPDATE, option: 'outputMode' });
});

t.test('StreamingSessionWindowSuite: global aggregation with session window is refused with Spark message', async (t) => {
  const err = await refusal(() => [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: [] })], 'append');
  t.match(err, { code: 'ERR_SESSION_WINDOW_GLOBAL_AGGREGATION', message: GLOBAL, option: 'groupBy' });
});

t.test('append mode without a watermark on the time column is refused with Spark message', async (t) => {
  const err = await refusal(() => [new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })], 'append');
  t.match(err, { code: 'ERR_APPEND_WITHOUT_WATERMARK', message: APPEND });
});

t.test('an update query without a key gets the update message: Spark analyses the mode first', async (t) => {
  const err = await refusal(() => [new Watermark({ eventTime: 'time', delay: '10 seconds' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: [] })], 'update');
  t.match(err, { code: 'ERR_SESSION_WINDOW_UPDATE_MODE', message: UPDATE });
});

t.test('a time column that is not a timestamp is refused, naming its type', async (t) => {
  const input = schema([field('time', Types.long), field('key', Types.string)]);
  const err = await refusal(() => [new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })], 'complete', input);
  t.match(err, {
    code: 'ERR_INVALID_WINDOW',
    message: '[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve "session_window(time, 10 seconds)" due to data type mismatch: the first parameter requires the "TIMESTAMP" type, however `time` has the type "BIGINT".',
  });
});

t.test('a gap in months, or not an interval, is refused when the stage is built, naming the option', async (t) => {
  t.throws(() => new SessionWindow({ timeColumn: 'time', gap: '1 month', groupBy: ['key'] }), { code: 'ERR_INVALID_INTERVAL', option: 'gap' });
  t.throws(() => new SessionWindow({ timeColumn: 'time', gap: 'ten minutes', groupBy: ['key'] }), { code: 'ERR_INVALID_INTERVAL', option: 'gap' });
});

t.test('an unknown aggregate function or column is refused, naming it', async (t) => {
  t.throws(() => new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'], aggregates: 'median(x)' }), { code: 'ERR_UNKNOWN_FUNCTION', option: 'aggregates' });
  const err = await refusal(() => [new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'], aggregates: 'sum(amount)' })], 'complete');
  t.match(err, { code: 'ERR_UNKNOWN_COLUMN', option: 'aggregates', message: /amount/ });
});

t.test('grouping by a time window as well as a session window is refused with Spark message', async (t) => {
  const err = await refusal(
    () => [new Window({ timeColumn: 'time', duration: '1 minute', as: 'w' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key', 'w'] })],
    'complete',
  );
  t.match(err, { code: 'ERR_MULTIPLE_WINDOWS', message: 'Multiple time/session window expressions would result in a cartesian product of rows, therefore they are currently not supported.' });
});

t.test('the output: session_window first unless groupBy places it, then the keys, then the aggregates', async (t) => {
  const input = schema([field('time', Types.timestamp), field('user', Types.string), field('page', Types.string), field('ms', Types.long)]);
  const plain = new SessionWindow({ timeColumn: 'time', gap: '5 minutes', groupBy: ['user', 'page'] });
  const placed = new SessionWindow({ timeColumn: 'time', gap: '5 minutes', groupBy: ['user', 'session_window', 'page'], aggregates: 'count, avg(ms) AS mean' });
  const names = (s: SessionWindow): string[] => s.plan(input, { outputMode: 'complete', aggregated: false }).fields.map((f) => f.name);
  t.strictSame(names(plain), ['session_window', 'user', 'page', 'count']);
  t.strictSame(names(placed), ['user', 'session_window', 'page', 'count', 'mean']);
  const fields = placed.plan(input, { outputMode: 'complete', aggregated: false }).fields;
  t.equal(fields[1]!.dataType.type, 'struct');
  t.strictSame(fields.map((f) => f.dataType.type), ['string', 'struct', 'string', 'long', 'double']);
});

t.test('StreamingSessionWindowSuite: append mode - session window, through the stage, the executor and a checkpoint', async (t) => {
  const steps = [
    at([40, 'hello'], [40, 'world'], [40, 'spark'], [40, 'streaming'], [41, 'world'], [41, 'hello'], [41, 'structured'], [41, 'streaming']),
    at([25, 'spark'], [25, 'streaming']),
    at([0, 'spark'], [0, 'streaming']),
    at([30, 'spark'], [30, 'streaming']),
    at([60, 'hello'], [60, 'apache'], [60, 'spark']),
    at([90, 'structured'], [90, 'streaming']),
  ];
  const result = await runSteps({
    schema: words,
    stages: () => [new Watermark({ eventTime: 'time', delay: '30 seconds' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })],
    outputMode: 'append',
    steps,
    checkpointLocation: t.testdir(),
  });
  t.strictSame(result.emitted.slice(0, 5), [[], [], [], [], []], 'nothing closes before the watermark reaches 60');
  t.strictSame(
    multiset(result.emitted[5]!),
    multiset([session(41, 51, 'structured', 1), session(40, 51, 'hello', 2), session(40, 51, 'world', 2), session(25, 50, 'spark', 3), session(25, 51, 'streaming', 4)]),
  );
  const last = (i: number): Record<string, unknown> => result.progress[i]!.at(-1)!.stateOperators[0]!;
  t.strictSame([0, 1, 2, 3, 4, 5].map((i) => last(i)['numRowsTotal']), [5, 7, 7, 5, 8, 5], 'sessions held after each step');
  t.strictSame(result.watermarkAfter, [11_000, 11_000, 11_000, 11_000, 30_000, 60_000]);
  t.equal(result.progress[2]![0]!.stateOperators[0]!['numRowsDroppedByWatermark'], 2, 'spark and streaming at 0 (end 10) are late against 11');
});

t.test('StreamingSessionWindowSuite: complete mode - session window: every session every batch, no watermark used', async (t) => {
  const result = await runSteps({
    schema: words,
    stages: () => [new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })],
    outputMode: 'complete',
    steps: [at([1, 'a'], [5, 'a'], [30, 'b']), at([14, 'a']), at([0, 'b'])],
    checkpointLocation: t.testdir(),
  });
  t.strictSame(multiset(result.emitted[0]!), multiset([session(1, 15, 'a', 2), session(30, 40, 'b', 1)]));
  t.strictSame(multiset(result.emitted[1]!), multiset([session(1, 24, 'a', 3), session(30, 40, 'b', 1)]), 'a row touching the session end merges into it');
  t.strictSame(multiset(result.emitted[2]!), multiset([session(1, 24, 'a', 3), session(0, 10, 'b', 1), session(30, 40, 'b', 1)]));
  t.strictSame(result.progress.map((p) => p.length), [1, 1, 1], 'no no-data batch in complete mode');
});

t.test('count, count(col), sum, avg, min and max per session, merged with the session when sessions merge', async (t) => {
  const input = schema([field('time', Types.timestamp), field('user', Types.string), field('amount', Types.long)]);
  const row = (s: number, user: string, amount: number | null): Row => ({ time: s * 1000, user, amount });
  const result = await runSteps({
    schema: input,
    stages: () => [
      new SessionWindow({ timeColumn: 'time', gap: '5 seconds', groupBy: ['user'], aggregates: 'count, count(amount), sum(amount), avg(amount), min(amount), max(amount) AS top' }),
    ],
    outputMode: 'complete',
    steps: [[row(0, 'u1', 5), row(3, 'u1', null), row(1, 'u2', 2)], [row(12, 'u1', 1)], [row(7, 'u1', 4)]],
    checkpointLocation: t.testdir(),
  });
  const agg = (start: number, end: number, user: string, count: number, n: number, sum: number | null, avg: number | null, min: number | null, top: number | null): Row => ({
    session_window: { start: start * 1000, end: end * 1000 },
    user,
    count,
    'count(amount)': n,
    'sum(amount)': sum,
    'avg(amount)': avg,
    'min(amount)': min,
    top,
  });
  t.strictSame(multiset(result.emitted[0]!), multiset([agg(0, 8, 'u1', 2, 1, 5, 5, 5, 5), agg(1, 6, 'u2', 1, 1, 2, 2, 2, 2)]));
  t.strictSame(multiset(result.emitted[1]!), multiset([agg(0, 8, 'u1', 2, 1, 5, 5, 5, 5), agg(12, 17, 'u1', 1, 1, 1, 1, 1, 1), agg(1, 6, 'u2', 1, 1, 2, 2, 2, 2)]));
  t.strictSame(
    multiset(result.emitted[2]!),
    multiset([agg(0, 17, 'u1', 4, 3, 10, 10 / 3, 1, 5), agg(1, 6, 'u2', 1, 1, 2, 2, 2, 2)]),
    'a row at 7 joins [0, 8) and [12, 17) into one session with the aggregates of both',
  );
});

t.test('progress: Spark figures for the session state store', async (t) => {
  const result = await runSteps({
    schema: words,
    stages: () => [new Watermark({ eventTime: 'time', delay: '5 seconds' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })],
    outputMode: 'append',
    steps: [at([10, 'a'], [12, 'a'], [10, 'b']), at([30, 'a']), at([1, 'a'], [35, 'a'])],
    checkpointLocation: t.testdir(),
  });
  const figures = (p: { stateOperators: readonly Record<string, unknown>[] }): unknown[] => {
    const s = p.stateOperators[0]!;
    return [s['operatorName'], s['numRowsTotal'], s['numRowsUpdated'], s['numRowsRemoved'], s['numRowsDroppedByWatermark']];
  };
  t.strictSame(result.progress.map((batches) => batches.map(figures)), [
    [
      ['sessionWindowStateStoreSaveExec', 2, 2, 0, 0],
      ['sessionWindowStateStoreSaveExec', 2, 0, 0, 0],
    ],
    [
      ['sessionWindowStateStoreSaveExec', 3, 2, 0, 0],
      ['sessionWindowStateStoreSaveExec', 1, 0, 2, 0],
    ],
    [
      ['sessionWindowStateStoreSaveExec', 1, 1, 0, 1],
      ['sessionWindowStateStoreSaveExec', 1, 0, 0, 0],
    ],
  ], 'updated counts every session of a key that had rows (Spark updateSessions); evicted sessions are removed rows');
  t.strictSame(multiset(result.emitted[1]!), multiset([session(10, 22, 'a', 2), session(10, 20, 'b', 1)]), 'the no-data batch closes what the watermark passed');
  t.strictSame(result.emitted[2], []);
});

t.test('memoryUsedBytes grows with the sessions held and falls when they are evicted', async (t) => {
  const many = Array.from({ length: 200 }, (_, i) => ({ time: 10_000, key: `user-${i}` }));
  const result = await runSteps({
    schema: words,
    stages: () => [new Watermark({ eventTime: 'time', delay: '5 seconds' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })],
    outputMode: 'append',
    steps: [at([10, 'a']), many, at([100, 'z'])],
    checkpointLocation: t.testdir(),
  });
  const bytes = (step: number, batch: number): number => result.progress[step]![batch]!.stateOperators[0]!['memoryUsedBytes'] as number;
  t.ok(bytes(0, 0) > 0, `one session: ${bytes(0, 0)} bytes`);
  t.ok(bytes(1, 0) > bytes(0, 0) + 200 * 50, `201 sessions: ${bytes(1, 0)} bytes, at least 50 more a session`);
  t.ok(bytes(2, 1) < bytes(1, 0) / 4, `after eviction, one session again: ${bytes(2, 1)} bytes`);
});

t.test('a drain emits every open session and leaves the watermark at the end of the last one', async (t) => {
  const source = new MemorySource({ schema: words });
  source.addData(at([10, 'a'], [100, 'b'], [104, 'b']));
  const sink = new MemorySink();
  const query = await startQuery({
    source,
    stages: [new Watermark({ eventTime: 'time', delay: '1 hour' }), new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] })],
    sink,
    outputMode: 'append',
    trigger: 'availableNow',
    drain: true,
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  t.strictSame(multiset(sink.rows()), multiset([session(10, 20, 'a', 1), session(100, 114, 'b', 2)]));
  t.equal(query.watermarkMs, 114_000);
});

t.test('a restart with another gap is refused, naming the difference', async (t) => {
  const dir = t.testdir();
  const source = new MemorySource({ schema: words });
  const stages = (gap: string) => [new Watermark({ eventTime: 'time', delay: '5 seconds' }), new SessionWindow({ timeColumn: 'time', gap, groupBy: ['key'] })];
  const first = await startQuery({ source, stages: stages('10 seconds'), sink: new MemorySink(), checkpointLocation: dir, manager: new StreamingQueryManager() });
  source.addData(at([10, 'a']));
  await first.processAllAvailable();
  await first.stop();
  const second = await startQuery({ source: source.reopen(), stages: stages('20 seconds'), sink: new MemorySink(), checkpointLocation: dir, manager: new StreamingQueryManager() });
  await t.rejects(second.awaitTermination(), { code: 'ERR_QUERY_FAILED' });
  t.match(second.exception?.cause, {
    code: 'ERR_CHECKPOINT_MISMATCH',
    message: 'the query changed since the checkpoint was written: SessionWindow gapUs was 10000000, is now 20000000',
  });
});

t.test('a snapshot of another format version or stage is refused', async (t) => {
  const stage = new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] });
  stage.plan(words, { outputMode: 'complete', aggregated: false });
  const snapshot = stage.snapshot();
  t.equal(snapshot.version, 2);
  t.throws(() => stage.restore({ ...snapshot, version: 3 }), { code: 'ERR_SNAPSHOT_VERSION' });
  t.throws(() => stage.restore({ ...snapshot, stage: 'KeyedCount' }), { code: 'ERR_CHECKPOINT_MISMATCH' });
  t.doesNotThrow(() => stage.restore(JSON.parse(JSON.stringify(snapshot))), 'its own snapshot, through JSON, restores');
});

// The batch computation: per user, events sorted by time, a new session when the next event is more than the gap after the last.
function batchSessions(events: ReadonlyArray<{ time: number; user: string }>, gapS: number): Row[] {
  const byUser = new Map<string, number[]>();
  for (const e of events) (byUser.get(e.user) ?? byUser.set(e.user, []).get(e.user)!).push(e.time);
  const out: Row[] = [];
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    let first = times[0]!;
    let count = 0;
    let last = first;
    for (const time of times) {
      if (time > last + gapS) {
        out.push({ session_window: { start: first * 1000, end: (last + gapS) * 1000 }, user, count });
        first = time;
        count = 0;
      }
      last = time;
      count++;
    }
    out.push({ session_window: { start: first * 1000, end: (last + gapS) * 1000 }, user, count });
  }
  return out;
}

t.test('a restart from the checkpoint before every step gives the same sessions as one run, and as a batch computation', async (t) => {
  const { events, delivered } = clickstream({ users: 12, seed: 5 });
  const input = schema([field('id', Types.string), field('time', Types.timestamp), field('user', Types.string), field('action', Types.string)]);
  const rows = delivered.map((e) => ({ ...e, time: e.time * 1000 }));
  const steps: Row[][] = [];
  for (let i = 0; i < rows.length; i += 25) steps.push(rows.slice(i, i + 25));
  steps.push([]);
  const stages = () => [new Watermark({ eventTime: 'time', delay: '30 minutes' }), new SessionWindow({ timeColumn: 'time', gap: '10 minutes', groupBy: ['user'] })];
  const once = await runSteps({ schema: input, stages, outputMode: 'append', steps, checkpointLocation: t.testdir() });
  const restarted = await runSteps({ schema: input, stages, outputMode: 'append', steps, checkpointLocation: t.testdir(), restartBefore: 'every' });
  t.ok(steps.length > 8, `${steps.length} steps`);
  t.strictSame(restarted.emitted, once.emitted, 'the same rows in the same steps');
  const emitted = once.emitted.flat();
  const expected = batchSessions(events, 600);
  // Sessions still open at the end are those the watermark has not passed: all others are out.
  const watermark = once.watermarkAfter.at(-1)!;
  const closed = expected.filter((r) => (r['session_window'] as { end: number }).end <= watermark);
  t.ok(closed.length > 20, `${closed.length} sessions closed`);
  t.strictSame(multiset(emitted), multiset(closed));
});

import t from 'tap';
import { KeyedCountState, parseOutputMode, type OutputMode } from '../../lib/core/keyed-state.js';

// Groups are windows [start, end) in seconds, keyed by their start; event time = end.
function stateFor(outputMode: OutputMode, hasWatermark = true): KeyedCountState {
  return new KeyedCountState({ outputMode, hasWatermark, eventTimeOf: (key) => (key[0] as number) + 5_000_000 });
}

function add(state: KeyedCountState, startS: number, count = 1): void {
  const key = String(startS);
  const endUs = (startS + 5) * 1_000_000;
  if (state.isLate(endUs)) return state.dropLate(key);
  if (!state.increment(key, count)) state.insert(key, [startS * 1_000_000], count);
}

const startsOf = (entries: readonly { key: readonly unknown[]; count: number }[]): Array<[number, number]> =>
  entries.map((e) => [(e.key[0] as number) / 1_000_000, e.count]);

t.test('append emits a window once, when the watermark reaches its end, and evicts it', async (t) => {
  const state = stateFor('append');
  state.beginBatch(0, 0);
  add(state, 10, 5);
  add(state, 15, 1);
  t.strictSame(startsOf(state.finishBatch().emitted), []);
  state.beginBatch(15_000, 5_000);
  const outcome = state.finishBatch();
  t.strictSame(startsOf(outcome.emitted), [[10, 5]]);
  t.equal(outcome.numRowsRemoved, 1);
  t.equal(outcome.numRowsTotal, 1);
});

t.test('late groups are judged against the previous batch watermark, inclusively, and counted once per group', async (t) => {
  const state = stateFor('append');
  state.beginBatch(15_000, 15_000);
  add(state, 10);
  add(state, 10);
  add(state, 20);
  const outcome = state.finishBatch();
  t.equal(outcome.numRowsDroppedByWatermark, 1);
  t.equal(outcome.numRowsTotal, 1);
});

t.test('a row late for the eviction watermark but not for the late one is counted and emitted in the same batch', async (t) => {
  const state = stateFor('append');
  state.beginBatch(15_000, 5_000);
  add(state, 10);
  t.strictSame(startsOf(state.finishBatch().emitted), [[10, 1]]);
});

t.test('update emits every group the batch touched with its total, then evicts silently', async (t) => {
  const state = stateFor('update');
  state.beginBatch(0, 0);
  add(state, 10, 5);
  add(state, 15);
  t.strictSame(startsOf(state.finishBatch().emitted), [[10, 5], [15, 1]]);
  state.beginBatch(15_000, 0);
  const outcome = state.finishBatch();
  t.strictSame(startsOf(outcome.emitted), []);
  t.equal(outcome.numRowsRemoved, 1);
});

t.test('complete emits the whole table and never drops or evicts', async (t) => {
  const state = stateFor('complete');
  state.beginBatch(100_000, 100_000);
  add(state, 10);
  add(state, 20);
  const outcome = state.finishBatch();
  t.strictSame(startsOf(outcome.emitted), [[10, 1], [20, 1]]);
  t.equal(outcome.numRowsDroppedByWatermark, 0);
  t.equal(outcome.numRowsTotal, 2);
});

t.test('without a watermark nothing is late and nothing is evicted', async (t) => {
  const state = stateFor('update', false);
  state.beginBatch(100_000, 100_000);
  add(state, 10);
  t.equal(state.finishBatch().numRowsTotal, 1);
});

t.test('snapshot and restore keep groups, counts and their order', async (t) => {
  const state = stateFor('complete');
  state.beginBatch(0, 0);
  add(state, 20, 2);
  add(state, 10, 3);
  state.finishBatch();
  const restored = stateFor('complete');
  restored.restore(JSON.parse(JSON.stringify(state.snapshot())), (key) => String((key[0] as number) / 1_000_000));
  restored.beginBatch(0, 0);
  add(restored, 10);
  t.strictSame(startsOf(restored.finishBatch().emitted), [[20, 2], [10, 4]]);
});

t.test('output modes parse case-insensitively and unknown ones are refused with Spark message', async (t) => {
  t.equal(parseOutputMode('Append'), 'append');
  t.throws(() => parseOutputMode('sometimes'), {
    code: 'ERR_INVALID_OPTION',
    message: "Unknown output mode sometimes. Accepted output modes are 'append', 'complete', 'update'",
  });
});

t.test('a snapshot is columnar and restores strings, nulls and struct keys (null structs included)', async (t) => {
  const state = new KeyedCountState({ outputMode: 'complete', hasWatermark: false, eventTimeOf: () => NaN });
  state.beginBatch(0, 0);
  const keys: unknown[][] = [['Open', [10, 20]], [null, [20, 30]], ['Close', null]];
  keys.forEach((key, i) => state.insert(JSON.stringify(key), key, i + 1));
  state.finishBatch();
  const snapshot = JSON.parse(JSON.stringify(state.snapshot()));
  t.strictSame(snapshot, { size: 3, keys: [{ values: ['Open', null, 'Close'] }, { fields: [{ values: [10, 20, null] }, { values: [20, 30, null] }], nulls: [2] }], counts: [1, 2, 3] });
  const restored = new KeyedCountState({ outputMode: 'complete', hasWatermark: false, eventTimeOf: () => NaN });
  restored.restore(snapshot, (key) => JSON.stringify(key));
  restored.beginBatch(0, 0);
  t.strictSame(restored.finishBatch().emitted.map((e) => [e.key, e.count]), keys.map((k, i) => [k, i + 1]));
});

t.test('number-only key columns are packed as float64 bytes and come back exactly', async (t) => {
  const state = new KeyedCountState({ outputMode: 'complete', hasWatermark: false, eventTimeOf: () => NaN });
  state.beginBatch(0, 0);
  const keys: unknown[][] = [[1459107599999999, [-5_000_000, 5_000_000]], [0.1, [1, 2]]];
  keys.forEach((key, i) => state.insert(JSON.stringify(key), key, i + 1));
  state.finishBatch();
  const snapshot = JSON.parse(JSON.stringify(state.snapshot()));
  t.ok('f64' in snapshot.keys[0], 'packed');
  const restored = new KeyedCountState({ outputMode: 'complete', hasWatermark: false, eventTimeOf: () => NaN });
  restored.restore(snapshot, (key) => JSON.stringify(key));
  restored.beginBatch(0, 0);
  t.strictSame(restored.finishBatch().emitted.map((e) => e.key), keys);
});

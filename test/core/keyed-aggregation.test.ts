import t from 'tap';
import fc from 'fast-check';
import { RecordBatch, type Row } from '../../lib/core/batch.js';
import { CountStore } from '../../lib/core/count-store.js';
import { KeyedAggregation } from '../../lib/core/keyed-aggregation.js';
import type { OutputMode } from '../../lib/core/output-mode.js';
import { parseDDL } from '../../lib/core/ddl.js';

const windowed = parseDDL('key string, window struct<start: timestamp, end: timestamp>');
const raw = parseDDL('time timestamp, key string');
const S = 1_000_000; // µs per second

function aggregation(outputMode: OutputMode, schema = windowed, eventTimeColumn = 1, panes: { durationUs: number; slideUs: number } | null = null): KeyedAggregation {
  return new KeyedAggregation({
    keyFields: schema.fields,
    outputMode,
    eventTimeColumn,
    store: new CountStore(),
    panes: panes === null ? null : { column: 1, ...panes },
  });
}

// Rows of [key, window start s, window end s].
function windows(...rows: Array<[string | null, number, number]>): RecordBatch {
  return RecordBatch.fromRows(windowed, rows.map(([key, start, end]) => ({ key, window: { start: start * 1000, end: end * 1000 } })));
}

function step(agg: KeyedAggregation, watermarkS: number, lateS: number, ...batches: RecordBatch[]): { rows: Row[]; dropped: number; total: number; removed: number; updated: number } {
  agg.beginBatch(watermarkS * 1000, lateS * 1000);
  for (const b of batches) agg.addRows(b.columns, b.columns, b.length);
  const outcome = agg.finishBatch();
  const schema = { fields: [...agg.keyFields, ...agg.store.resultFields()] };
  const rows = new RecordBatch(schema, agg.output(outcome.emitted, 0, outcome.emitted.length), outcome.emitted.length).rows();
  agg.endBatch();
  return { rows, dropped: outcome.numRowsDroppedByWatermark, total: outcome.numRowsTotal, removed: outcome.numRowsRemoved, updated: outcome.numRowsUpdated };
}

const w = (key: string | null, start: number, end: number, count: number): Row => ({ key, window: { start: start * 1000, end: end * 1000 }, count });

t.test('append emits a window once, when the watermark reaches its end (inclusive), with its final count', async (t) => {
  const agg = aggregation('append');
  t.strictSame(step(agg, 0, 0, windows(['a', 0, 10], ['a', 0, 10], ['b', 10, 20])).rows, []);
  t.strictSame(step(agg, 9, 0, windows(['a', 0, 10])).rows, []);
  const third = step(agg, 10, 9);
  t.strictSame(third.rows, [w('a', 0, 10, 3)]);
  t.equal(third.removed, 1);
  t.equal(third.total, 1);
  t.strictSame(step(agg, 20, 10).rows, [w('b', 10, 20, 1)]);
});

t.test('a group whose window ends at or before the late watermark is dropped and counted once per batch', async (t) => {
  const agg = aggregation('append');
  const out = step(agg, 20, 20, windows(['a', 10, 20], ['a', 10, 20], ['b', 10, 20], ['a', 20, 30]));
  t.equal(out.dropped, 2, 'two late groups: (a, 10-20) twice counts once');
  t.equal(out.total, 1);
});

t.test('update emits every group the batch touched with its new total, in first-touch order, then evicts without emitting', async (t) => {
  const agg = aggregation('update');
  t.strictSame(step(agg, 0, 0, windows(['b', 0, 10], ['a', 0, 10], ['b', 0, 10])).rows, [w('b', 0, 10, 2), w('a', 0, 10, 1)]);
  const second = step(agg, 10, 0, windows(['a', 0, 10], ['c', 10, 20]));
  t.strictSame(second.rows, [w('a', 0, 10, 2), w('c', 10, 20, 1)]);
  t.equal(second.removed, 2, 'both 0-10 groups are evicted, not emitted again');
  t.equal(second.updated, 2);
});

t.test('complete emits the whole table every batch in insertion order and never evicts nor drops', async (t) => {
  const agg = aggregation('complete');
  step(agg, 0, 0, windows(['b', 0, 10], ['a', 0, 10]));
  const out = step(agg, 100, 100, windows(['a', 0, 10]));
  t.strictSame(out.rows, [w('b', 0, 10, 1), w('a', 0, 10, 2)]);
  t.equal(out.dropped, 0);
});

t.test('grouping by the raw event time: a null time is a group of its own, never late, never evicted, never emitted in append', async (t) => {
  const agg = aggregation('append', raw, 0);
  const b = RecordBatch.fromRows(raw, [{ time: null, key: 'a' }, { time: null, key: 'a' }, { time: 5000, key: 'a' }]);
  agg.beginBatch(100_000, 100_000);
  agg.addRows([b.columns[0]!, b.columns[1]!], b.columns, b.length);
  let outcome = agg.finishBatch();
  t.equal(outcome.numRowsDroppedByWatermark, 1, 'the time-5 s row is late; the null-time rows are not');
  t.equal(outcome.emitted.length, 0);
  agg.endBatch();
  agg.beginBatch(Infinity, 100_000);
  outcome = agg.finishBatch();
  t.equal(outcome.emitted.length, 0, 'even an infinite watermark does not evict a null time');
  t.equal(outcome.numRowsTotal, 1);
});

t.test('grouping by the raw event time in update mode shows a null time as null', async (t) => {
  const agg = aggregation('update', raw, 0);
  const out = step(agg, 0, 0, RecordBatch.fromRows(raw, [{ time: null, key: 'a' }, { time: null, key: 'a' }]));
  t.strictSame(out.rows, [{ time: null, key: 'a', count: 2 }]);
});

t.test('panes expand into the windows holding them, each judged late on its own', async (t) => {
  // 10 s windows sliding by 5 s: the pane [10, 15) is in the windows [5, 15) and [10, 20).
  const agg = aggregation('append', windowed, 1, { durationUs: 10 * S, slideUs: 5 * S });
  const out = step(agg, 15, 15, windows(['a', 10, 15], ['a', 10, 15]));
  t.equal(out.dropped, 1, 'window [5, 15) is late');
  t.equal(out.total, 1);
  t.strictSame(step(agg, 20, 15).rows, [w('a', 10, 20, 2)]);
});

t.test('maxEvictedEventTimeUs is the end of the last window a batch closed', async (t) => {
  const agg = aggregation('append');
  agg.beginBatch(0, 0);
  const b = windows(['a', 0, 10], ['a', 30, 40]);
  agg.addRows(b.columns, b.columns, b.length);
  t.equal(agg.finishBatch().maxEvictedEventTimeUs, -Infinity);
  agg.endBatch();
  agg.beginBatch(Infinity, 0);
  t.equal(agg.finishBatch().maxEvictedEventTimeUs, 40 * S);
});

t.test('partial aggregates merge into the same groups as raw rows', async (t) => {
  const agg = aggregation('complete');
  const b = windows(['a', 0, 10], ['b', 0, 10]);
  agg.beginBatch(0, 0);
  agg.addRows(b.columns, b.columns, b.length);
  agg.addPartial(b.columns, [{ kind: 'f64', values: new Float64Array([5, 7]), nulls: null }], 2);
  const outcome = agg.finishBatch();
  const counts = agg.output(outcome.emitted, 0, outcome.emitted.length)[2]!;
  t.strictSame(Array.from((counts as { values: Float64Array }).values), [6, 8]);
});

t.test('a snapshot restored into a fresh state continues exactly, insertion order included', async (t) => {
  const a = aggregation('append');
  step(a, 0, 0, windows(['b', 0, 10], ['a', 0, 10], [null, 0, 10], ['c', 10, 20]));
  const snapshot = a.snapshot();
  const b = aggregation('append');
  b.restore([snapshot]);
  for (const agg of [a, b]) step(agg, 0, 0, windows(['a', 0, 10]));
  t.strictSame(step(b, 10, 0).rows, step(a, 10, 0).rows);
  t.strictSame(step(b, 10, 0).rows, []);
});

// A plain model of Spark's StateStoreSaveExec rules, for the property test.
function model(mode: OutputMode, steps: Array<{ rows: Array<[string | null, number]>; watermark: number; late: number }>, widthS: number): Row[][] {
  const state = new Map<string, { key: string | null; start: number; count: number; seq: number }>();
  let seq = 0;
  return steps.map(({ rows, watermark, late }) => {
    const touched: string[] = [];
    for (const [key, start] of rows) {
      const id = JSON.stringify([key, start]);
      if (mode !== 'complete' && start + widthS <= late) continue;
      const entry = state.get(id) ?? { key, start, count: 0, seq: seq++ };
      entry.count++;
      state.set(id, entry);
      if (!touched.includes(id)) touched.push(id);
    }
    const row = (e: { key: string | null; start: number; count: number }): Row => w(e.key, e.start, e.start + widthS, e.count);
    const ordered = [...state.entries()].sort((x, y) => x[1].seq - y[1].seq);
    let out: Row[];
    if (mode === 'complete') out = ordered.map(([, e]) => row(e));
    else if (mode === 'update') out = touched.map((id) => row(state.get(id)!));
    else out = ordered.filter(([, e]) => e.start + widthS <= watermark).map(([, e]) => row(e));
    if (mode !== 'complete') for (const [id, e] of ordered) if (e.start + widthS <= watermark) state.delete(id);
    return out;
  });
}

t.test('property: every output mode agrees with a plain model of Spark\'s rules, with a snapshot restore at any batch', async () => {
  const stepArb = fc.record({
    rows: fc.array(fc.tuple(fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }), fc.integer({ min: 0, max: 6 }).map((n) => n * 10)), { maxLength: 12 }),
    advance: fc.integer({ min: 0, max: 25 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<OutputMode>('append', 'update', 'complete'), fc.array(stepArb, { minLength: 1, maxLength: 8 }), fc.nat(8), async (mode, raw, restoreAt) => {
      let watermark = 0;
      let previous = 0;
      const steps = raw.map((s) => {
        const late = previous;
        watermark += s.advance;
        previous = watermark;
        return { rows: s.rows, watermark, late };
      });
      const expected = model(mode, steps, 10);
      let agg = aggregation(mode);
      steps.forEach((s, i) => {
        if (i === restoreAt) {
          const snapshot = agg.snapshot();
          agg = aggregation(mode);
          agg.restore([snapshot]);
        }
        const got = step(agg, s.watermark, s.late, windows(...s.rows.map(([k, start]): [string | null, number, number] => [k, start, start + 10]))).rows;
        if (JSON.stringify(got) !== JSON.stringify(expected[i])) throw new Error(`step ${i}: ${JSON.stringify(got)} != ${JSON.stringify(expected[i])}`);
      });
    }),
  );
});

t.test('snapshotLater reads the state as it was when it was called, whatever batches ran since', async (t) => {
  const agg = aggregation('update');
  step(agg, 0, 0, windows(['a', 10, 20], ['b', 10, 20], ['a', 10, 20], [null, 20, 30]));
  const now = agg.snapshotRecords();
  const later = agg.snapshotLater();
  t.ok(later !== null, 'a count store can be copied');
  // Changes after the copy: a count grows, a group is added, two windows close (removed), the string pool changes.
  step(agg, 0, 0, windows(['a', 10, 20], ['c', 30, 40], ['dddddddddddddddddddddddddddddddddddddddd', 30, 40]));
  step(agg, 25, 25, windows(['e', 40, 50]));
  t.strictSame(later!(), now);
});

t.test('emitted keys are exact whatever their pool ids share in the output cache: 700 keys, each in two windows, in first-touch order', async (t) => {
  const agg = aggregation('complete');
  const keys = Array.from({ length: 700 }, (_, i) => `key-${i}-${'é'.repeat(i % 3)}`);
  const rows: Array<[string | null, number, number]> = [];
  for (const key of keys) rows.push([key, 0, 60], [key, 60, 120]);
  rows.push([null, 0, 60]);
  const { rows: out } = step(agg, 0, 0, windows(...rows));
  t.same(out, [...keys.flatMap((key) => [w(key, 0, 60, 1), w(key, 60, 120, 1)]), w(null, 0, 60, 1)]);
});

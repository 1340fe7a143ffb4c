/**
 * Deduplication (lib/core/dedup.ts) as specifications: Spark's
 * StreamingDeduplicationSuite and StreamingDeduplicationWithinWatermarkSuite
 * translated scenario by scenario (rows let through per batch, state figures
 * as Spark's assertNumStateRows reads them: total after the step, updated
 * and late rows summed over its batches), then the rules one by one, then laws.
 */
import t from 'tap';
import fc from 'fast-check';
import { RecordBatch, StringDictionary, type Column, type Row } from '../../lib/core/batch.js';
import { KeyedAggregation } from '../../lib/core/keyed-aggregation.js';
import { CountStore } from '../../lib/core/count-store.js';
import { field, schema, Types, withMetadata, type Field, type Schema } from '../../lib/core/schema.js';
import { DeduplicateState, planDeduplicate, type DedupStateRecord } from '../../lib/core/dedup.js';
import { copyState, MicroBatchClock } from './stateful-sim.js';

const S = 1_000_000;

interface StepResult {
  /** Rows let through, timestamps in seconds. */
  readonly rows: Row[];
  readonly total: number;
  readonly updated: number;
  readonly removed: number;
  readonly dropped: number;
  readonly duplicates: number;
}

/** A deduplication over a micro-batch clock. Timestamp columns are given and shown in seconds. */
class DedupQuery {
  readonly schema: Schema;
  readonly clock: MicroBatchClock;
  state: DeduplicateState;
  readonly plan: ReturnType<typeof planDeduplicate>;

  constructor(options: {
    fields: readonly Field[];
    columns?: readonly string[] | null;
    withinWatermark?: boolean;
    /** `withWatermark(column, delay)`. */
    watermark?: { column: string; delaySeconds: number } | null;
    noDataBatches?: boolean;
  }) {
    const watermark = options.watermark ?? null;
    this.schema = schema(options.fields.map((f) => (watermark !== null && f.name === watermark.column ? withMetadata(f, { watermarkDelayMs: watermark.delaySeconds * 1000 }) : f)));
    this.plan = planDeduplicate({ input: this.schema, columns: options.columns ?? null, withinWatermark: options.withinWatermark ?? false });
    this.clock = new MicroBatchClock(watermark === null ? null : watermark.delaySeconds * 1000, options.noDataBatches ?? true);
    this.state = this.#newState();
  }

  #newState(): DeduplicateState {
    const plan = this.plan;
    return new DeduplicateState({ withinWatermark: plan.withinWatermark, hasWatermark: plan.eventTimeIndex >= 0, eventTimeKey: plan.eventTimeKey, delayMs: plan.delayMs });
  }

  /** A restart: a new state object from the JSON snapshot (the clock is the checkpoint's). */
  restart(): void {
    const before = this.state;
    this.state = this.#newState();
    copyState(before, this.state);
  }

  #timeColumns(): number[] {
    return this.schema.fields.flatMap((f, i) => (f.dataType.type === 'timestamp' ? [i] : []));
  }

  addData(input: readonly Row[]): StepResult {
    const timeColumns = this.#timeColumns().map((i) => this.schema.fields[i]!.name);
    const batch = RecordBatch.fromRows(
      this.schema,
      input.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, timeColumns.includes(k) && typeof v === 'number' ? v * 1000 : v]))),
    );
    const eventIndex = this.plan.eventTimeIndex;
    const out: Row[] = [];
    let updated = 0;
    let removed = 0;
    let dropped = 0;
    let duplicates = 0;
    let total = 0;
    const times = eventIndex < 0 ? [] : input.map((r) => (r[this.schema.fields[eventIndex]!.name] as number | null) ?? null).map((s) => (s === null ? null : s * 1000));
    this.clock.step(times, eventIndex >= 0, (watermarkMs, lateWatermarkMs, data) => {
      this.state.beginBatch(watermarkMs, lateWatermarkMs);
      if (data) {
        const keys = this.plan.keyIndexes.map((i) => batch.columns[i]!);
        const selection = this.state.add(keys, eventIndex < 0 ? null : batch.columns[eventIndex]!, batch.length);
        for (let i = 0; i < selection.length; i++) {
          const row = batch.row(selection.rows[i]!);
          for (const name of timeColumns) if (typeof row[name] === 'number') row[name] = (row[name] as number) / 1000;
          out.push(row);
        }
      }
      const outcome = this.state.finishBatch();
      updated += outcome.numRowsUpdated;
      removed += outcome.numRowsRemoved;
      dropped += outcome.numRowsDroppedByWatermark;
      duplicates += outcome.numDroppedDuplicateRows;
      total = outcome.numRowsTotal;
    });
    return { rows: out, total, updated, removed, dropped, duplicates };
  }
}

const figures = (s: StepResult): { total: number; updated: number; dropped: number } => ({ total: s.total, updated: s.updated, dropped: s.dropped });
const values = (s: StepResult, column: string): unknown[] => s.rows.map((r) => r[column]);
const pairs = (s: StepResult, a: string, b: string): unknown[] => s.rows.map((r) => [r[a], r[b]]);

/** Spark's `.withColumn("eventTime", timestamp_seconds($"value"))` input: value and eventTime. */
const valueAndTime = (...seconds: number[]): Row[] => seconds.map((value) => ({ value, eventTime: value }));
const VALUE_TIME = [field('value', Types.long), field('eventTime', Types.timestamp)];
const PAIR = [field('_1', Types.string), field('_2', Types.long)];
const pairRows = (...rows: Array<[string, number]>): Row[] => rows.map(([a, b]) => ({ _1: a, _2: b }));
const tenToFifteenFiveTimes = (): Row[] => valueAndTime(...[1, 2, 3, 4, 5].flatMap(() => [10, 11, 12, 13, 14, 15]));

// ---------------------------------------------------------------------------------------------
// StreamingDeduplicationSuite

t.test('StreamingDeduplicationSuite: deduplicate with all columns', async (t) => {
  const query = new DedupQuery({ fields: [field('value', Types.string)] });
  let step = query.addData([{ value: 'a' }]);
  t.strictSame([values(step, 'value'), figures(step)], [['a'], { total: 1, updated: 1, dropped: 0 }]);
  step = query.addData([{ value: 'a' }]);
  t.strictSame([values(step, 'value'), figures(step)], [[], { total: 1, updated: 0, dropped: 0 }]);
  step = query.addData([{ value: 'b' }]);
  t.strictSame([values(step, 'value'), figures(step)], [['b'], { total: 2, updated: 1, dropped: 0 }]);
});

t.test('StreamingDeduplicationSuite: deduplicate with some columns', async (t) => {
  const query = new DedupQuery({ fields: PAIR, columns: ['_1'] });
  let step = query.addData(pairRows(['a', 1]));
  t.strictSame([pairs(step, '_1', '_2'), figures(step)], [[['a', 1]], { total: 1, updated: 1, dropped: 0 }]);
  step = query.addData(pairRows(['a', 2])); // Dropped
  t.strictSame([pairs(step, '_1', '_2'), figures(step)], [[], { total: 1, updated: 0, dropped: 0 }]);
  step = query.addData(pairRows(['b', 1]));
  t.strictSame([pairs(step, '_1', '_2'), figures(step)], [[['b', 1]], { total: 2, updated: 1, dropped: 0 }]);
});

t.test('StreamingDeduplicationSuite: multiple deduplicates', async (t) => {
  // dropDuplicates() then dropDuplicates("_1"): the second sees what the first lets through.
  const all = new DedupQuery({ fields: PAIR });
  const first = new DedupQuery({ fields: PAIR, columns: ['_1'] });
  const run = (rows: Row[]): [unknown[], number[], number[]] => {
    const a = all.addData(rows);
    const b = first.addData(a.rows);
    return [pairs(b, '_1', '_2'), [a.total, b.total], [a.updated, b.updated]];
  };
  t.strictSame(run(pairRows(['a', 1])), [[['a', 1]], [1, 1], [1, 1]]);
  t.strictSame(run(pairRows(['a', 2])), [[], [2, 1], [1, 0]], 'dropped by the second dropDuplicates');
  t.strictSame(run(pairRows(['b', 1])), [[['b', 1]], [3, 2], [1, 1]]);
});

t.test('StreamingDeduplicationSuite: SPARK-35896: metrics in StateOperatorProgress are output correctly', async (t) => {
  const query = new DedupQuery({ fields: VALUE_TIME, watermark: { column: 'eventTime', delaySeconds: 10 } });
  let step = query.addData(tenToFifteenFiveTimes());
  t.strictSame([values(step, 'eventTime'), figures(step), step.removed], [[10, 11, 12, 13, 14, 15], { total: 6, updated: 6, dropped: 0 }, 0]);
  step = query.addData(valueAndTime(25)); // Advance watermark to 15 secs, no-data-batch drops rows <= 15
  t.strictSame([values(step, 'eventTime'), figures(step), step.removed], [[25], { total: 1, updated: 1, dropped: 0 }, 6]);
  step = query.addData(valueAndTime(10)); // Should not emit anything as data less than watermark
  t.strictSame([values(step, 'eventTime'), figures(step), step.removed], [[], { total: 1, updated: 0, dropped: 1 }, 0]);
});

t.test('StreamingDeduplicationSuite: deduplicate with watermark', async (t) => {
  const query = new DedupQuery({ fields: VALUE_TIME, watermark: { column: 'eventTime', delaySeconds: 10 } });
  let step = query.addData(tenToFifteenFiveTimes());
  t.strictSame([values(step, 'eventTime'), figures(step)], [[10, 11, 12, 13, 14, 15], { total: 6, updated: 6, dropped: 0 }]);
  step = query.addData(valueAndTime(25)); // Advance watermark to 15 secs, no-data-batch drops rows <= 15
  t.strictSame([values(step, 'eventTime'), figures(step)], [[25], { total: 1, updated: 1, dropped: 0 }]);
  step = query.addData(valueAndTime(10)); // Should not emit anything as data less than watermark
  t.strictSame([values(step, 'eventTime'), figures(step)], [[], { total: 1, updated: 0, dropped: 1 }]);
  step = query.addData(valueAndTime(45)); // Advance watermark to 35 seconds, no-data-batch drops row 25
  t.strictSame([values(step, 'eventTime'), figures(step)], [[45], { total: 1, updated: 1, dropped: 0 }]);
});

t.test('StreamingDeduplicationSuite: deduplicate with aggregate - append mode', async (t) => {
  // dropDuplicates() then groupBy(window(eventTime, "5 seconds")).count(), both on one global watermark.
  const dedup = new DedupQuery({ fields: VALUE_TIME, watermark: { column: 'eventTime', delaySeconds: 10 } });
  const windowSchema = schema([field('window', { type: 'struct', fields: [field('start', Types.timestamp), field('end', Types.timestamp)] })]);
  const counts = new KeyedAggregation({ keyFields: windowSchema.fields, outputMode: 'append', eventTimeColumn: 0, store: new CountStore() });
  const step = (input: Row[]): { emitted: Array<[number, number]>; total: [number, number]; updated: [number, number]; dropped: [number, number] } => {
    const emitted: Array<[number, number]> = [];
    const total: [number, number] = [0, 0];
    const updated: [number, number] = [0, 0];
    const dropped: [number, number] = [0, 0];
    const batch = RecordBatch.fromRows(dedup.schema, input.map((r) => ({ value: r.value, eventTime: (r.eventTime as number) * 1000 })));
    dedup.clock.step(input.map((r) => (r.eventTime as number) * 1000), true, (watermarkMs, lateMs, data) => {
      dedup.state.beginBatch(watermarkMs, lateMs);
      counts.beginBatch(watermarkMs, lateMs);
      if (data) {
        const kept = dedup.state.add([batch.columns[0]!, batch.columns[1]!], batch.columns[1]!, batch.length);
        const times = (batch.columns[1] as Extract<Column, { kind: 'f64' }>).values;
        const windows = RecordBatch.fromRows(
          windowSchema,
          Array.from(kept.rows.subarray(0, kept.length), (row) => {
            const start = Math.floor(times[row]! / (5 * S)) * 5 * S;
            return { window: { start: start / 1000, end: (start + 5 * S) / 1000 } };
          }),
        );
        counts.addRows(windows.columns, windows.columns, windows.length);
      }
      const d = dedup.state.finishBatch();
      const c = counts.finishBatch();
      const out = counts.output(c.emitted, 0, c.emitted.length);
      const starts = ((out[0] as Extract<Column, { kind: 'struct' }>).children[0] as Extract<Column, { kind: 'f64' }>).values;
      const values = (out[1] as Extract<Column, { kind: 'f64' }>).values;
      for (let i = 0; i < c.emitted.length; i++) emitted.push([starts[i]! / S, values[i]!]);
      counts.endBatch();
      total[0] = c.numRowsTotal;
      total[1] = d.numRowsTotal;
      updated[0] += c.numRowsUpdated;
      updated[1] += d.numRowsUpdated;
      dropped[0] += c.numRowsDroppedByWatermark;
      dropped[1] += d.numRowsDroppedByWatermark;
    });
    return { emitted, total, updated, dropped };
  };
  // stateOperators as Spark lists them: [aggregation, deduplication]
  t.strictSame(step(tenToFifteenFiveTimes()), { emitted: [], total: [2, 6], updated: [2, 6], dropped: [0, 0] });
  t.strictSame(step(valueAndTime(25)), { emitted: [[10, 5]], total: [2, 1], updated: [1, 1], dropped: [0, 0] }, '5 items (10 to 14) after deduplicate, emitted with no-data-batch');
  t.strictSame(step(valueAndTime(10)), { emitted: [], total: [2, 1], updated: [0, 0], dropped: [0, 1] }, 'late for the deduplication');
  t.strictSame(step(valueAndTime(40)), { emitted: [[15, 1], [25, 1]], total: [1, 1], updated: [1, 1], dropped: [0, 0] });
});

t.test('StreamingDeduplicationSuite: deduplicate with aggregate - update mode', async (t) => {
  // dropDuplicates() then groupBy("str").agg(sum("num")) in update mode: what the deduplication lets through.
  const query = new DedupQuery({ fields: [field('str', Types.string), field('num', Types.long)] });
  const sums = new Map<string, number>();
  const step = (rows: Array<[string, number]>): Array<[string, number]> => {
    const kept = query.addData(rows.map(([str, num]) => ({ str, num }))).rows;
    const touched = new Set<string>();
    for (const r of kept) {
      sums.set(r.str as string, (sums.get(r.str as string) ?? 0) + (r.num as number));
      touched.add(r.str as string);
    }
    return [...touched].map((k) => [k, sums.get(k)!]);
  };
  t.strictSame(step([['a', 1]]), [['a', 1]]);
  t.strictSame(step([['a', 1]]), [], 'Dropped');
  t.strictSame(step([['a', 2]]), [['a', 3]]);
  t.strictSame(step([['b', 1]]), [['b', 1]]);
  t.equal(query.state.size, 3);
});

t.test('StreamingDeduplicationSuite: SPARK-19841: watermarkPredicate should filter based on keys', async (t) => {
  const query = new DedupQuery({ fields: [field('time', Types.timestamp), field('id', Types.long)], columns: ['id', 'time'], watermark: { column: 'time', delaySeconds: 1 } });
  const rows = (...r: Array<[number, number]>): Row[] => r.map(([time, id]) => ({ time, id }));
  t.strictSame(values(query.addData(rows([1, 1], [1, 1], [1, 2])), 'id'), [1, 2]);
  t.strictSame(values(query.addData(rows([1, 1], [2, 3], [2, 4])), 'id'), [3, 4]);
  t.strictSame(values(query.addData(rows([1, 0], [1, 1], [3, 5], [3, 6])), 'id'), [5, 6], 'Drop (1 -> 0, 1 -> 1) due to watermark');
  t.strictSame(values(query.addData(rows([1, 0], [4, 7])), 'id'), [7], 'Drop (1 -> 0) due to watermark');
});

t.test('StreamingDeduplicationSuite: SPARK-21546: dropDuplicates should ignore watermark when it\'s not a key', async (t) => {
  const query = new DedupQuery({ fields: [field('id', Types.long), field('time', Types.timestamp)], columns: ['id'], watermark: { column: 'time', delaySeconds: 1 } });
  const step = query.addData([{ id: 1, time: 1 }, { id: 1, time: 2 }, { id: 2, time: 2 }]);
  t.strictSame(pairs(step, 'id', 'time'), [[1, 1], [2, 2]]);
  // ...for eviction: keys without the event time are never evicted.
  query.addData([{ id: 3, time: 100 }]);
  t.equal(query.state.size, 3);
});

t.test('StreamingDeduplicationSuite: test no-data flag', async (t) => {
  for (const flag of [true, false]) {
    const query = new DedupQuery({ fields: VALUE_TIME, watermark: { column: 'eventTime', delaySeconds: 10 }, noDataBatches: flag });
    let step = query.addData(valueAndTime(10, 11, 12, 13, 14, 15));
    t.strictSame([values(step, 'eventTime'), figures(step)], [[10, 11, 12, 13, 14, 15], { total: 6, updated: 6, dropped: 0 }], `flag ${flag}`);
    step = query.addData(valueAndTime(25)); // Advance watermark to 15 seconds
    // State should have been cleaned if flag is set, otherwise should not have been cleaned
    t.strictSame([values(step, 'eventTime'), figures(step)], [[25], { total: flag ? 1 : 7, updated: 1, dropped: 0 }], `flag ${flag}`);
  }
});

t.test('StreamingDeduplicationSuite: SPARK-35880: custom metric numDroppedDuplicateRows in state operator progress', async (t) => {
  const byKey = new DedupQuery({ fields: PAIR, columns: ['_1'] });
  t.strictSame([pairs(byKey.addData(pairRows(['a', 1])), '_1', '_2'), byKey.addData([]).duplicates], [[['a', 1]], 0]);
  let step = byKey.addData(pairRows(['a', 2], ['b', 3]));
  t.strictSame([pairs(step, '_1', '_2'), step.duplicates], [[['b', 3]], 1]);
  step = byKey.addData(pairRows(['a', 5], ['b', 2], ['c', 9]));
  t.strictSame([pairs(step, '_1', '_2'), step.duplicates], [[['c', 9]], 2]);

  const withWatermark = new DedupQuery({ fields: VALUE_TIME, watermark: { column: 'eventTime', delaySeconds: 10 } });
  t.equal(withWatermark.addData(tenToFifteenFiveTimes()).duplicates, 24);
  t.equal(withWatermark.addData(valueAndTime(14)).duplicates, 1);
  t.equal(withWatermark.addData(valueAndTime(25)).duplicates, 0, 'Advance watermark to 15 secs, no-data-batch drops rows <= 15');
  t.equal(withWatermark.addData(valueAndTime(10)).duplicates, 0, 'late, not a duplicate');
  step = withWatermark.addData(valueAndTime(26, 26));
  t.strictSame([values(step, 'eventTime'), step.duplicates], [[26], 1]);
});

t.test('StreamingDeduplicationSuite: SPARK-39650: duplicate with specific keys should allow input to change schema', async (t) => {
  const before = new DedupQuery({ fields: PAIR, columns: ['_1'] });
  t.strictSame(pairs(before.addData(pairRows(['a', 1])), '_1', '_2'), [['a', 1]]);
  t.strictSame(pairs(before.addData(pairRows(['a', 2], ['b', 3])), '_1', '_2'), [['b', 3]]);
  const after = new DedupQuery({ fields: [...PAIR, field('_3', Types.string)], columns: ['_1'] });
  copyState(before.state, after.state);
  const step = after.addData([{ _1: 'a', _2: 5, _3: 'a' }, { _1: 'b', _2: 2, _3: 'b' }, { _1: 'c', _2: 9, _3: 'c' }]);
  t.strictSame(step.rows, [{ _1: 'c', _2: 9, _3: 'c' }]);
});

// ---------------------------------------------------------------------------------------------
// StreamingDeduplicationWithinWatermarkSuite

t.test('StreamingDeduplicationWithinWatermarkSuite: deduplicate in batch DataFrame', async (t) => {
  const input = schema([field('id', Types.long), field('newcol', Types.long)]);
  for (const columns of [null, ['newcol']]) {
    t.throws(() => planDeduplicate({ input, columns, withinWatermark: true, streaming: false }), {
      code: 'ERR_DEDUP_ON_BATCH',
      message: 'dropDuplicatesWithinWatermark is not supported with batch DataFrames/DataSets',
    });
  }
});

t.test('StreamingDeduplicationWithinWatermarkSuite: deduplicate without event time column should result in error', async (t) => {
  const input = schema([field('value', Types.string), field('newcol', Types.string)]);
  for (const columns of [null, ['newcol']]) {
    t.throws(() => planDeduplicate({ input, columns, withinWatermark: true }), {
      code: 'ERR_DEDUP_WITHOUT_WATERMARK',
      message: 'dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark',
    });
  }
  t.throws(() => new DeduplicateState({ withinWatermark: true, hasWatermark: false }), { code: 'ERR_DEDUP_WITHOUT_WATERMARK' });
});

t.test('StreamingDeduplicationWithinWatermarkSuite: deduplicate with all columns with event time column in DataFrame', async (t) => {
  const query = new DedupQuery({ fields: VALUE_TIME, withinWatermark: true, watermark: { column: 'eventTime', delaySeconds: 10 } });
  // Advance watermark to 5 secs, no-data-batch does not drop state rows
  let step = query.addData(tenToFifteenFiveTimes());
  t.strictSame([values(step, 'eventTime'), figures(step)], [[10, 11, 12, 13, 14, 15], { total: 6, updated: 6, dropped: 0 }]);
  // Advance watermark to 7 secs, no-data-batch does not drop state rows; 13 to 15 are duplicated
  step = query.addData(valueAndTime(13, 14, 15, 16, 17));
  t.strictSame([values(step, 'eventTime'), figures(step)], [[16, 17], { total: 8, updated: 2, dropped: 0 }]);
  step = query.addData(valueAndTime(5)); // Should not emit anything as data less than watermark
  t.strictSame([values(step, 'eventTime'), figures(step)], [[], { total: 8, updated: 0, dropped: 1 }]);
  // Advance watermark to 25 secs, no-data-batch drops state rows having expired time <= 25
  step = query.addData(valueAndTime(35));
  t.strictSame([values(step, 'eventTime'), figures(step)], [[35], { total: 3, updated: 1, dropped: 0 }]);
  // Advance watermark to 45 seconds, no-data-batch drops state rows having expired time <= 45
  step = query.addData(valueAndTime(55));
  t.strictSame([values(step, 'eventTime'), figures(step)], [[55], { total: 1, updated: 1, dropped: 0 }]);
});

t.test('StreamingDeduplicationWithinWatermarkSuite: deduplicate with subset of columns which event time column is not in subset', async (t) => {
  const query = new DedupQuery({ fields: [field('_1', Types.string), field('eventTime', Types.timestamp)], columns: ['_1'], withinWatermark: true, watermark: { column: 'eventTime', delaySeconds: 2 } });
  const rows = (...r: Array<[string, number]>): Row[] => r.map(([a, time]) => ({ _1: a, eventTime: time }));
  // Advances watermark to 15; expired time is set to 19
  let step = query.addData(rows(['a', 17]));
  t.strictSame([pairs(step, '_1', 'eventTime'), figures(step)], [[['a', 17]], { total: 1, updated: 1, dropped: 0 }]);
  // Watermark does not advance
  step = query.addData(rows(['a', 16]));
  t.strictSame([pairs(step, '_1', 'eventTime'), figures(step)], [[], { total: 1, updated: 0, dropped: 0 }]);
  // Watermark does not advance; should not emit anything as data less than watermark
  step = query.addData(rows(['a', 13]));
  t.strictSame([pairs(step, '_1', 'eventTime'), figures(step)], [[], { total: 1, updated: 0, dropped: 1 }]);
  // Advances watermark to 20. no-data batch drops state row ("a" -> 19); expired time is set to 24 and 23
  step = query.addData(rows(['b', 22], ['c', 21]));
  t.strictSame([pairs(step, '_1', 'eventTime'), figures(step)], [[['b', 22], ['c', 21]], { total: 2, updated: 2, dropped: 0 }]);
  // Watermark does not advance; "a" is identified as new event since previous batch dropped state row ("a" -> 19)
  step = query.addData(rows(['a', 21]));
  t.strictSame([pairs(step, '_1', 'eventTime'), figures(step)], [[['a', 21]], { total: 3, updated: 1, dropped: 0 }]);
  // Advances watermark to 23. no-data batch drops state row ("a" -> 23), ("c" -> 23)
  step = query.addData(rows(['d', 25]));
  t.strictSame([pairs(step, '_1', 'eventTime'), figures(step)], [[['d', 25]], { total: 2, updated: 1, dropped: 0 }]);
});

t.test('StreamingDeduplicationWithinWatermarkSuite: SPARK-39650: duplicate with specific keys should allow input to change schema', async (t) => {
  const watermark = { column: 'eventTime', delaySeconds: 10 };
  const before = new DedupQuery({ fields: [field('_1', Types.string), field('eventTime', Types.timestamp)], columns: ['_1'], withinWatermark: true, watermark });
  t.strictSame(pairs(before.addData([{ _1: 'a', eventTime: 1 }]), '_1', 'eventTime'), [['a', 1]]);
  t.strictSame(pairs(before.addData([{ _1: 'a', eventTime: 2 }, { _1: 'b', eventTime: 3 }]), '_1', 'eventTime'), [['b', 3]]);
  const after = new DedupQuery({ fields: [field('_1', Types.string), field('eventTime', Types.timestamp), field('_3', Types.string)], columns: ['_1'], withinWatermark: true, watermark });
  copyState(before.state, after.state);
  after.clock.watermarkMs = before.clock.watermarkMs;
  after.clock.lastBatchWatermarkMs = before.clock.lastBatchWatermarkMs;
  const step = after.addData([{ _1: 'a', eventTime: 5, _3: 'a' }, { _1: 'b', eventTime: 2, _3: 'b' }, { _1: 'c', eventTime: 9, _3: 'c' }]);
  t.strictSame(step.rows, [{ _1: 'c', eventTime: 9, _3: 'c' }]);
});

// ---------------------------------------------------------------------------------------------
// The rules, one by one

t.test('keys are their values: the same string from two dictionaries is one key', async (t) => {
  const state = new DeduplicateState({ withinWatermark: false, hasWatermark: false });
  const let_through: number[] = [];
  for (const dictionary of [new StringDictionary(), new StringDictionary()]) {
    if (let_through.length > 0) dictionary.intern('shifts the ids');
    const id = dictionary.intern('a');
    state.beginBatch(0, 0);
    let_through.push(state.add([{ kind: 'dict', ids: Int32Array.of(id), dictionary }], null, 1).length);
    state.finishBatch();
  }
  t.strictSame(let_through, [1, 0]);
});

t.test('null key values are equal, -0 is 0 and NaN is NaN in keys', async (t) => {
  const query = new DedupQuery({ fields: [field('x', Types.double), field('s', Types.string)] });
  const step = query.addData([{ x: null, s: null }, { x: null, s: null }, { x: 0, s: 'n' }, { x: -0, s: 'n' }, { x: NaN, s: 'n' }, { x: NaN, s: 'n' }]);
  t.equal(step.rows.length, 3);
});

t.test('the rows let through keep their input order', async (t) => {
  const query = new DedupQuery({ fields: [field('k', Types.string)] });
  t.strictSame(values(query.addData(['c', 'a', 'c', 'b', 'a'].map((k) => ({ k }))), 'k'), ['c', 'a', 'b']);
});

t.test('a null event time is never late, and a key with a null event time is never evicted', async (t) => {
  const query = new DedupQuery({ fields: [field('k', Types.string), field('time', Types.timestamp)], watermark: { column: 'time', delaySeconds: 0 } });
  query.addData([{ k: 'x', time: 100 }]); // watermark 100
  const step = query.addData([{ k: 'a', time: null }, { k: 'b', time: 50 }]);
  t.strictSame([values(step, 'k'), step.dropped], [['a'], 1]);
  query.addData([{ k: 'z', time: 1000 }]);
  t.equal(query.state.size, 1, 'only (a, null) is left');
});

t.test('dropDuplicatesWithinWatermark: a key let through with a null event time never expires', async (t) => {
  const query = new DedupQuery({ fields: [field('k', Types.string), field('time', Types.timestamp)], columns: ['k'], withinWatermark: true, watermark: { column: 'time', delaySeconds: 5 } });
  t.strictSame(values(query.addData([{ k: 'a', time: null }]), 'k'), ['a']);
  query.addData([{ k: 'x', time: 1000 }]);
  t.strictSame(values(query.addData([{ k: 'a', time: 2000 }]), 'k'), [], 'still a duplicate');
});

t.test('eviction happens at the end of a batch: a key due by the batch watermark still drops its duplicates in that batch', async (t) => {
  // Without no-data batches the expired key is only evicted by the next data batch.
  const query = new DedupQuery({ fields: [field('k', Types.string), field('time', Types.timestamp)], columns: ['k'], withinWatermark: true, watermark: { column: 'time', delaySeconds: 0 }, noDataBatches: false });
  query.addData([{ k: 'a', time: 10 }]); // a expires at 10
  query.addData([{ k: 'b', time: 30 }]); // used watermark 10: a evicted at the end
  t.strictSame(values(query.addData([{ k: 'a', time: 40 }]), 'k'), ['a'], 'new again');
  const again = new DedupQuery({ fields: [field('k', Types.string), field('time', Types.timestamp)], columns: ['k'], withinWatermark: true, watermark: { column: 'time', delaySeconds: 0 }, noDataBatches: false });
  again.addData([{ k: 'a', time: 10 }]); // watermark 10 for the next batch
  t.strictSame(values(again.addData([{ k: 'a', time: 20 }, { k: 'b', time: 20 }]), 'k'), ['b'], 'a is due (10 <= 10) but held while the batch runs');
  t.equal(again.state.size, 1, 'and gone once it ends');
});

t.test('a window column as the event-time key evicts by the window end', async (t) => {
  const windowType = { type: 'struct', fields: [field('start', Types.timestamp), field('end', Types.timestamp)] } as const;
  const input = schema([withMetadata(field('window', windowType), { watermarkDelayMs: 0 }), field('k', Types.string)]);
  const plan = planDeduplicate({ input, columns: ['window', 'k'], withinWatermark: false });
  t.strictSame([plan.eventTimeIndex, plan.eventTimeKey], [0, 0]);
  const state = new DeduplicateState({ withinWatermark: false, hasWatermark: true, eventTimeKey: 0 });
  const batch = RecordBatch.fromRows(input, [{ window: { start: 0, end: 10_000 }, k: 'a' }]);
  state.beginBatch(9_000, 0);
  t.equal(state.add([batch.columns[0]!, batch.columns[1]!], batch.columns[0]!, 1).length, 1);
  t.equal(state.finishBatch().numRowsRemoved, 0, 'end 10 > watermark 9');
  state.beginBatch(10_000, 9_000);
  t.equal(state.finishBatch().numRowsRemoved, 1, 'end 10 <= watermark 10');
});

t.test('planDeduplicate resolves names case-insensitively, once each, in input order, with the event-time key', async (t) => {
  const input = schema([field('id', Types.string), withMetadata(field('time', Types.timestamp), { watermarkDelayMs: 2000 }), field('v', Types.long)]);
  t.strictSame(planDeduplicate({ input, columns: ['TIME', 'id', 'Id'], withinWatermark: false }), { keyIndexes: [0, 1], eventTimeIndex: 1, eventTimeKey: 1, delayMs: 2000, withinWatermark: false });
  t.strictSame(planDeduplicate({ input, columns: null, withinWatermark: true }).keyIndexes, [0, 1, 2], 'null is every column');
});

t.test('planDeduplicate refuses an unknown column with Spark message and an empty column list', async (t) => {
  const input = schema([field('id', Types.string), field('time', Types.timestamp)]);
  t.throws(() => planDeduplicate({ input, columns: ['idd'], withinWatermark: false, option: 'dropDuplicates' }), {
    code: 'ERR_UNKNOWN_COLUMN',
    option: 'dropDuplicates',
    message: '[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name "idd" among (id, time).',
  });
  t.throws(() => planDeduplicate({ input, columns: [], withinWatermark: false }), { code: 'ERR_INVALID_OPTION', option: 'columns' });
});

t.test('the delta records of every batch, replayed from an empty state, rebuild the state', async (t) => {
  const query = new DedupQuery({ fields: [field('k', Types.string), field('time', Types.timestamp)], columns: ['k'], withinWatermark: true, watermark: { column: 'time', delaySeconds: 3 } });
  const rebuilt = new DeduplicateState({ withinWatermark: true, hasWatermark: true, delayMs: 3000 });
  const batches: Array<Array<[string, number]>> = [[['a', 1], ['b', 2]], [['a', 5], ['c', 9]], [['d', 20], ['a', 19]], [['b', 40]]];
  for (const rows of batches) {
    const log: DedupStateRecord[][] = [];
    const original = query.state;
    // Capture the changes of every batch the step runs (data and no-data).
    const finish = original.finishBatch.bind(original);
    original.finishBatch = () => {
      const outcome = finish();
      log.push(JSON.parse(JSON.stringify(original.deltaRecords())));
      return outcome;
    };
    query.addData(rows.map(([k, time]) => ({ k, time })));
    for (const records of log) for (const record of records) rebuilt.applyRecord(record);
    const keysOf = (s: DeduplicateState): string[] => s.snapshotRecords().flatMap((r) => ('put' in r ? r.put.keys : [])).sort();
    t.strictSame(keysOf(rebuilt), keysOf(query.state));
  }
});

// ---------------------------------------------------------------------------------------------
// Laws

const rowArb = fc.record({ k: fc.constantFrom('a', 'b', 'c', null), v: fc.integer({ min: 0, max: 3 }) });

t.test('law: without a watermark, dropDuplicates() of any split of the input lets through the first occurrence of each row, in order', async () => {
  fc.assert(
    fc.property(fc.array(fc.array(rowArb, { maxLength: 10 }), { maxLength: 6 }), (batches) => {
      const query = new DedupQuery({ fields: [field('k', Types.string), field('v', Types.long)] });
      const got = batches.flatMap((rows) => query.addData(rows).rows.map((r) => JSON.stringify([r.k, r.v])));
      const expected = [...new Set(batches.flat().map((r) => JSON.stringify([r.k, r.v])))];
      return JSON.stringify(got) === JSON.stringify(expected);
    }),
  );
});

t.test('law: any permutation of a batch lets through one row per distinct key', async () => {
  fc.assert(
    fc.property(
      fc.array(rowArb, { maxLength: 12 }).chain((rows) => fc.tuple(fc.constant(rows), fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }))),
      ([rows, permuted]) => {
        const keysLetThrough = (input: Row[]): string => {
          const query = new DedupQuery({ fields: [field('k', Types.string), field('v', Types.long)], columns: ['k'] });
          return JSON.stringify(query.addData(input).rows.map((r) => r.k).sort());
        };
        return keysLetThrough(rows) === keysLetThrough(permuted);
      },
    ),
  );
});

t.test('law: a restart from the snapshot at any batch boundary changes no output', async () => {
  const eventArb = fc.record({ k: fc.constantFrom('a', 'b', 'c'), time: fc.option(fc.integer({ min: 0, max: 60 }), { freq: 8 }) });
  fc.assert(
    fc.property(
      fc.array(fc.array(eventArb, { maxLength: 8 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      fc.boolean(),
      (batches, restartAt, withinWatermark, keyHasTime) => {
        const run = (restart: boolean): string => {
          const query = new DedupQuery({
            fields: [field('k', Types.string), field('time', Types.timestamp)],
            columns: withinWatermark || !keyHasTime ? ['k'] : ['k', 'time'],
            withinWatermark,
            watermark: { column: 'time', delaySeconds: 5 },
          });
          return JSON.stringify(
            batches.map((rows, i) => {
              if (restart && i === restartAt) query.restart();
              const step = query.addData(rows);
              return [step.rows, step.total, step.dropped];
            }),
          );
        };
        return run(true) === run(false);
      },
    ),
  );
});

t.test('a batch reports the latest event time it evicted (within the watermark: expiry minus the delay), and the memory its keys hold', async (t) => {
  const state = new DeduplicateState({ withinWatermark: true, hasWatermark: true, delayMs: 5000 });
  const input = RecordBatch.fromRows(schema([field('id', Types.string), field('time', Types.timestamp)]), [
    { id: 'a', time: 10_000 },
    { id: 'bb', time: 20_000 },
  ]);
  state.beginBatch(0, 0);
  state.add([input.columns[0]!], input.columns[1]!, input.length);
  const first = state.finishBatch();
  t.equal(first.maxEvictedEventTimeUs, -Infinity, 'nothing evicted');
  t.equal(state.bytesUsed, 2 * 80 + '"a"'.length + '"bb"'.length);
  state.beginBatch(Infinity, 0);
  t.equal(state.finishBatch().maxEvictedEventTimeUs, 20 * S, 'bb expired at 25 s and was seen at 20 s');
  t.equal(state.bytesUsed, 0);
});

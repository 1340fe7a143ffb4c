/**
 * Session windows (lib/core/session-window.ts) as specifications: Spark's
 * StreamingSessionWindowSuite translated scenario by scenario (rows per
 * batch as Spark's tuples `(key…, start, end, end - start, aggregates…)`,
 * seconds), then the rules one by one, then laws.
 */
import t from 'tap';
import fc from 'fast-check';
import { RecordBatch, StringDictionary, type Column, type Row } from '../../lib/core/batch.js';
import { watermarkDelayMs } from '../../lib/core/interval.js';
import { field, schema, Types, withMetadata, type DataType, type Field, type Schema } from '../../lib/core/schema.js';
import {
  allocatingSlots,
  planSessionWindow,
  SessionCounts,
  SessionWindowState,
  type SessionAggregates,
  type SessionStateRecord,
  type SlotBuffers,
} from '../../lib/core/session-window.js';
import { copyState, MicroBatchClock } from './stateful-sim.js';

const S = 1_000_000; // µs per second

// ---------------------------------------------------------------------------------------------
// A session-window query over a micro-batch clock, as Spark's testStream drives one.

/** Aggregates that can also print a slot's results (the tuple's tail). */
interface TestAggregates extends SessionAggregates {
  results(slot: number): unknown[];
}

class Counts extends SessionCounts implements TestAggregates {
  results(slot: number): unknown[] {
    return [this.count(slot)];
  }
}

interface StepResult {
  /** Spark's tuples: key values, start, end, end - start, aggregates (seconds). */
  readonly rows: unknown[][];
  readonly total: number;
  /** Summed over the step's batches (Spark's assertNumStateRows). */
  readonly updated: number;
  readonly removed: number;
  readonly dropped: number;
  readonly watermarkUsed: number;
}

class SessionQuery {
  readonly schema: Schema;
  readonly clock: MicroBatchClock;
  readonly state: SessionWindowState;
  readonly aggregates: TestAggregates;
  readonly #keyCount: number;
  readonly #gap: number | ((row: Row) => number | null);

  constructor(options: {
    keys?: readonly Field[];
    /** Seconds, or seconds per row (null: a null gap). */
    gap?: number | ((row: Row) => number | null);
    delay?: string | null;
    outputMode?: 'append' | 'complete';
    aggregates?: TestAggregates;
  }) {
    const keys = options.keys ?? [field('sessionId', Types.string)];
    this.schema = schema([field('eventTime', Types.timestamp), ...keys]);
    const delay = options.delay === undefined ? '30 seconds' : options.delay;
    this.clock = new MicroBatchClock(delay === null ? null : watermarkDelayMs(delay));
    this.aggregates = options.aggregates ?? new Counts();
    this.state = new SessionWindowState({ outputMode: options.outputMode ?? 'append', hasWatermark: delay !== null, aggregates: this.aggregates, keyWidth: keys.length });
    this.#keyCount = keys.length;
    this.#gap = options.gap ?? 10;
  }

  /** `AddData` then process everything available: the data batch and, when Spark runs one, the no-data batch. */
  addData(rows: readonly Row[]): StepResult {
    const batch = RecordBatch.fromRows(this.schema, rows.map((r) => ({ ...r, eventTime: r.eventTime === null ? null : (r.eventTime as number) * 1000 })));
    const gapUs = typeof this.#gap === 'number' ? this.#gap * S : Float64Array.from(rows, (r) => ((this.#gap as (row: Row) => number | null)(r) ?? NaN) * S);
    const out: unknown[][] = [];
    let updated = 0;
    let removed = 0;
    let dropped = 0;
    let total = 0;
    const { usedMs } = this.clock.step(
      rows.map((r) => (r.eventTime === null ? null : (r.eventTime as number) * 1000)),
      this.state.outputMode === 'append',
      (watermarkMs, lateWatermarkMs, data) => {
        this.state.beginBatch(watermarkMs, lateWatermarkMs);
        if (data) this.state.add({ length: batch.length, keys: batch.columns.slice(1), time: batch.columns[0]!, gapUs, aggregateInput: batch.columns });
        const outcome = this.state.finishBatch();
        const e = outcome.emitted;
        for (let i = 0; i < e.length; i++) {
          const start = e.startsUs[i]! / S;
          const end = e.endsUs[i]! / S;
          out.push([...e.keys[i]!, start, end, end - start, ...this.aggregates.results(e.slots[i]!)]);
        }
        updated += outcome.numRowsUpdated;
        removed += outcome.numRowsRemoved;
        dropped += outcome.numRowsDroppedByWatermark;
        total = outcome.numRowsTotal;
      },
    );
    return { rows: out, total, updated, removed, dropped, watermarkUsed: usedMs / 1000 };
  }

  get keyCount(): number {
    return this.#keyCount;
  }
}

/** Spark's sessionWindowQuery input: each word of a line is a sessionId at the line's time. */
const words = (...lines: Array<[string, number]>): Row[] => lines.flatMap(([text, time]) => text.split(' ').map((w) => ({ sessionId: w, eventTime: time })));

const sorted = (rows: readonly unknown[][]): string[] => rows.map((r) => JSON.stringify(r)).sort();

// ---------------------------------------------------------------------------------------------
// StreamingSessionWindowSuite

const COMPLETE_STEPS: Array<{ add: Row[]; answer: unknown[][] }> = [
  {
    add: words(['hello world spark streaming', 40], ['world hello structured streaming', 41]),
    answer: [
      ['hello', 40, 51, 11, 2],
      ['world', 40, 51, 11, 2],
      ['streaming', 40, 51, 11, 2],
      ['spark', 40, 50, 10, 1],
      ['structured', 41, 51, 10, 1],
    ],
  },
  {
    // placing new sessions "before" previous sessions
    add: words(['spark streaming', 25]),
    answer: [
      ['spark', 25, 35, 10, 1],
      ['streaming', 25, 35, 10, 1],
      ['hello', 40, 51, 11, 2],
      ['world', 40, 51, 11, 2],
      ['streaming', 40, 51, 11, 2],
      ['spark', 40, 50, 10, 1],
      ['structured', 41, 51, 10, 1],
    ],
  },
  {
    // concatenating multiple previous sessions into one
    add: words(['spark streaming', 30]),
    answer: [
      ['spark', 25, 50, 25, 3],
      ['streaming', 25, 51, 26, 4],
      ['hello', 40, 51, 11, 2],
      ['world', 40, 51, 11, 2],
      ['structured', 41, 51, 10, 1],
    ],
  },
  {
    // placing new sessions after previous sessions
    add: words(['hello apache spark', 60]),
    answer: [
      ['spark', 25, 50, 25, 3],
      ['streaming', 25, 51, 26, 4],
      ['hello', 40, 51, 11, 2],
      ['world', 40, 51, 11, 2],
      ['structured', 41, 51, 10, 1],
      ['hello', 60, 70, 10, 1],
      ['apache', 60, 70, 10, 1],
      ['spark', 60, 70, 10, 1],
    ],
  },
  {
    add: words(['structured streaming', 90]),
    answer: [
      ['spark', 25, 50, 25, 3],
      ['streaming', 25, 51, 26, 4],
      ['hello', 40, 51, 11, 2],
      ['world', 40, 51, 11, 2],
      ['structured', 41, 51, 10, 1],
      ['hello', 60, 70, 10, 1],
      ['apache', 60, 70, 10, 1],
      ['spark', 60, 70, 10, 1],
      ['structured', 90, 100, 10, 1],
      ['streaming', 90, 100, 10, 1],
    ],
  },
];

t.test('StreamingSessionWindowSuite: complete mode - session window', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete' });
  COMPLETE_STEPS.forEach(({ add, answer }, step) => {
    t.strictSame(sorted(query.addData(add).rows), sorted(answer), `step ${step}`);
  });
});

t.test('StreamingSessionWindowSuite: complete mode - session window - nested tuple key', async (t) => {
  // Each word w becomes the key ((w, w), w): one struct column holding a struct.
  const pair: DataType = { type: 'struct', fields: [field('_1', Types.string), field('_2', Types.string)] };
  const triple: DataType = { type: 'struct', fields: [field('double', pair), field('single', Types.string)] };
  const query = new SessionQuery({ outputMode: 'complete', keys: [field('sessionId', triple)] });
  const nest = (rows: Row[]): Row[] => rows.map((r) => ({ eventTime: r.eventTime, sessionId: { double: { _1: r.sessionId, _2: r.sessionId }, single: r.sessionId } }));
  COMPLETE_STEPS.forEach(({ add, answer }, step) => {
    const expected = answer.map(([w, ...rest]) => [[[w, w], w], ...rest]);
    t.strictSame(sorted(query.addData(nest(add)).rows), sorted(expected), `step ${step}`);
  });
});

t.test('StreamingSessionWindowSuite: complete mode - session window - multiple col key', async (t) => {
  // Each word w becomes two key columns: (w, w) and w.
  const pair: DataType = { type: 'struct', fields: [field('_1', Types.string), field('_2', Types.string)] };
  const query = new SessionQuery({ outputMode: 'complete', keys: [field('aggKeyDouble', pair), field('aggKeySingle', Types.string)] });
  const split = (rows: Row[]): Row[] => rows.map((r) => ({ eventTime: r.eventTime, aggKeyDouble: { _1: r.sessionId, _2: r.sessionId }, aggKeySingle: r.sessionId }));
  COMPLETE_STEPS.forEach(({ add, answer }, step) => {
    const expected = answer.map(([w, ...rest]) => [[w, w], w, ...rest]);
    t.strictSame(sorted(query.addData(split(add)).rows), sorted(expected), `step ${step}`);
  });
});

t.test('StreamingSessionWindowSuite: complete mode - session window - no key', async (t) => {
  const input = schema([withMetadata(field('eventTime', Types.timestamp), { watermarkDelayMs: 10_000 }), field('value', Types.long)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'eventTime', gap: '5 seconds', groupBy: [], outputMode: 'complete' }), {
    code: 'ERR_SESSION_WINDOW_GLOBAL_AGGREGATION',
    message: 'Global aggregation with session window in streaming query is not supported.',
  });
});

t.test('StreamingSessionWindowSuite: append mode - session window', async (t) => {
  const query = new SessionQuery({});
  let step = query.addData(words(['hello world spark streaming', 40], ['world hello structured streaming', 41]));
  t.strictSame(step.rows, []);
  t.equal(step.total, 5, 'hello, world, streaming, spark, structured');
  // placing new sessions "before" previous sessions
  step = query.addData(words(['spark streaming', 25]));
  t.strictSame([step.rows, step.watermarkUsed, step.total], [[], 11, 7]);
  // late event which session's end 10 would be later than watermark 11: should be dropped
  step = query.addData(words(['spark streaming', 0]));
  t.strictSame([step.rows, step.total], [[], 7]);
  t.equal(step.dropped, 2, 'assertNumRowsDroppedByWatermark(2)');
  // concatenating multiple previous sessions into one
  step = query.addData(words(['spark streaming', 30]));
  t.strictSame([step.rows, step.watermarkUsed, step.total], [[], 11, 5]);
  // placing new sessions after previous sessions
  step = query.addData(words(['hello apache spark', 60]));
  t.strictSame([step.rows, step.watermarkUsed, step.total], [[], 11, 8]);
  step = query.addData(words(['structured streaming', 90]));
  t.strictSame(
    sorted(step.rows),
    sorted([
      ['spark', 25, 50, 25, 3],
      ['streaming', 25, 51, 26, 4],
      ['hello', 40, 51, 11, 2],
      ['world', 40, 51, 11, 2],
      ['structured', 41, 51, 10, 1],
    ]),
  );
  t.equal(query.clock.watermarkMs, 60_000, 'watermark: 60');
  t.equal(step.total, 5, 'hello, apache, spark at 60 and structured, streaming at 90 remain');
});

t.test('StreamingSessionWindowSuite: SPARK-36465: dynamic gap duration', async (t) => {
  const gap = (row: Row): number => (row.sessionId === 'hello' ? 1 : row.sessionId === 'structured' ? 0 : row.sessionId === 'world' ? -10 : 10);
  const query = new SessionQuery({ gap });
  t.strictSame(query.addData(words(['hello world spark streaming', 40], ['world hello structured streaming', 41])).rows, []);
  t.equal(query.state.size, 3, '(hello, 40, 42), (streaming, 40, 51), (spark, 40, 50): zero and negative gaps are filtered out');
  t.strictSame(query.addData(words(['spark streaming', 25])).rows, []);
  const late = query.addData(words(['spark streaming', 0]));
  t.strictSame([late.rows, late.dropped], [[], 2]);
  t.strictSame(query.addData(words(['spark streaming', 30])).rows, []);
  t.strictSame(query.addData(words(['hello apache spark', 60])).rows, []);
  t.strictSame(
    sorted(query.addData(words(['structured streaming', 90])).rows),
    sorted([
      ['spark', 25, 50, 25, 3],
      ['streaming', 25, 51, 26, 4],
      ['hello', 40, 42, 2, 2],
    ]),
  );
});

t.test('StreamingSessionWindowSuite: append mode - session window - no key', async (t) => {
  const input = schema([withMetadata(field('eventTime', Types.timestamp), { watermarkDelayMs: 10_000 }), field('value', Types.long)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'eventTime', gap: '5 seconds', groupBy: [], outputMode: 'append' }), {
    code: 'ERR_SESSION_WINDOW_GLOBAL_AGGREGATION',
    message: 'Global aggregation with session window in streaming query is not supported.',
  });
});

t.test('StreamingSessionWindowSuite: update mode - session window', async (t) => {
  const input = schema([withMetadata(field('eventTime', Types.timestamp), { watermarkDelayMs: 30_000 }), field('sessionId', Types.string)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'eventTime', gap: '10 seconds', groupBy: ['sessionId'], outputMode: 'update' }), {
    code: 'ERR_SESSION_WINDOW_UPDATE_MODE',
    message: 'Update output mode not supported for session window on streaming DataFrames/DataSets',
  });
});

t.test('StreamingSessionWindowSuite: update mode - session window - no key', async (t) => {
  // Spark's analysis (the output mode) runs before planning (the missing key).
  const input = schema([withMetadata(field('eventTime', Types.timestamp), { watermarkDelayMs: 10_000 }), field('value', Types.long)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'eventTime', gap: '5 seconds', groupBy: [], outputMode: 'update' }), { code: 'ERR_SESSION_WINDOW_UPDATE_MODE' });
});

/** min, max, mean and sum of the event time (seconds) per session. */
class TimeStats implements TestAggregates {
  readonly #min: number[] = [];
  readonly #max: number[] = [];
  readonly #sum: number[] = [];
  readonly #count: number[] = [];
  readonly #free: number[] = [];

  constructor(readonly show: (stats: { min: number; max: number; mean: number; sum: number }) => unknown[]) {}

  allocate(): number {
    const slot = this.#free.pop() ?? this.#min.length;
    this.#min[slot] = Infinity;
    this.#max[slot] = -Infinity;
    this.#sum[slot] = 0;
    this.#count[slot] = 0;
    return slot;
  }
  free(slot: number): void {
    this.#free.push(slot);
  }
  accumulate(slots: Int32Array, length: number, input: readonly Column[]): void {
    const times = (input[0] as Extract<Column, { kind: 'f64' }>).values;
    for (let i = 0; i < length; i++) {
      const slot = slots[i]!;
      if (slot < 0) continue;
      const s = times[i]! / S;
      this.#min[slot] = Math.min(this.#min[slot]!, s);
      this.#max[slot] = Math.max(this.#max[slot]!, s);
      this.#sum[slot] += s;
      this.#count[slot]! += 1;
    }
  }
  mergeSlots(target: number, source: number): void {
    this.#min[target] = Math.min(this.#min[target]!, this.#min[source]!);
    this.#max[target] = Math.max(this.#max[target]!, this.#max[source]!);
    this.#sum[target] += this.#sum[source]!;
    this.#count[target]! += this.#count[source]!;
  }
  snapshot(slots: Int32Array, length: number): unknown {
    return Array.from(slots.subarray(0, length), (s) => [this.#min[s], this.#max[s], this.#sum[s], this.#count[s]]);
  }
  restore(data: unknown, slots: Int32Array): void {
    (data as number[][]).forEach(([min, max, sum, count], i) => {
      const s = slots[i]!;
      [this.#min[s], this.#max[s], this.#sum[s], this.#count[s]] = [min!, max!, sum!, count!];
    });
  }
  results(slot: number): unknown[] {
    return this.show({ min: this.#min[slot]!, max: this.#max[slot]!, mean: this.#sum[slot]! / this.#count[slot]!, sum: this.#sum[slot]! });
  }
}

t.test('StreamingSessionWindowSuite: session window with first/last function (min_by/max_by of the event time)', async (t) => {
  const query = new SessionQuery({ aggregates: new TimeStats(({ min, max }) => [min, max]) });
  const emitted: unknown[][] = [];
  for (const [key, time] of [['a', 41], ['a', 42], ['a', 40]] as const) emitted.push(...query.addData([{ sessionId: key, eventTime: time }]).rows);
  t.strictSame(emitted, []);
  // Move the watermark past the end of the session, then trigger the session production.
  emitted.push(...query.addData([{ sessionId: 'b', eventTime: 100 }]).rows);
  emitted.push(...query.addData([{ sessionId: 'b', eventTime: 101 }]).rows);
  t.strictSame(emitted, [['a', 40, 52, 12, 40, 42]]);
});

t.test('StreamingSessionWindowSuite: session window - with more aggregation functions and UDAFs (mean and a sum)', async (t) => {
  const query = new SessionQuery({ aggregates: new TimeStats(({ mean, sum }) => [mean, sum]) });
  const emitted: unknown[][] = [];
  for (const time of [41, 42, 40]) emitted.push(...query.addData([{ sessionId: 'a', eventTime: time }]).rows);
  emitted.push(...query.addData([{ sessionId: 'b', eventTime: 100 }]).rows);
  emitted.push(...query.addData([{ sessionId: 'b', eventTime: 101 }]).rows);
  t.strictSame(emitted, [['a', 40, 52, 12, 41, 123]]);
});

// ---------------------------------------------------------------------------------------------
// The rules, one by one

t.test('sessions that only touch (next start == current end) merge into one', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete', delay: null });
  t.strictSame(query.addData([{ sessionId: 'a', eventTime: 0 }, { sessionId: 'a', eventTime: 10 }]).rows, [['a', 0, 20, 20, 2]]);
});

t.test('one row between two stored sessions joins them: the batch updates one session and removes the other', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete', delay: null });
  query.addData([{ sessionId: 'a', eventTime: 0 }, { sessionId: 'a', eventTime: 20 }]);
  const step = query.addData([{ sessionId: 'a', eventTime: 10 }]);
  t.strictSame(step.rows, [['a', 0, 30, 30, 3]]);
  t.strictSame([step.total, step.updated, step.removed], [1, 1, 1], 'the session stored at 20 is gone; the one at 0 is rewritten');
});

t.test('a row before a stored session that it reaches moves the session start: the old start is removed', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete', delay: null });
  query.addData([{ sessionId: 'a', eventTime: 40 }]);
  const step = query.addData([{ sessionId: 'a', eventTime: 35 }]);
  t.strictSame([step.rows, step.updated, step.removed], [[['a', 35, 50, 15, 2]], 1, 1]);
});

t.test('every session of a key with rows counts as updated, even the ones the rows did not touch (Spark rewrites them all)', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete', delay: null });
  query.addData([{ sessionId: 'a', eventTime: 0 }, { sessionId: 'b', eventTime: 0 }]);
  const step = query.addData([{ sessionId: 'a', eventTime: 100 }]);
  t.strictSame([step.updated, step.total], [2, 3]);
});

t.test('rows with a null time make no session and are not counted as late', async (t) => {
  const query = new SessionQuery({});
  const step = query.addData([{ sessionId: 'a', eventTime: null }, { sessionId: 'a', eventTime: 5 }]);
  t.strictSame([query.state.size, step.dropped], [1, 0]);
});

t.test('a gap of zero or less drops every row (Spark filters end > start), and a null gap too', async (t) => {
  for (const gap of [0, -5]) {
    const query = new SessionQuery({ gap, outputMode: 'complete', delay: null });
    t.strictSame(query.addData([{ sessionId: 'a', eventTime: 5 }]).rows, [], `gap ${gap}`);
  }
  const query = new SessionQuery({ gap: () => null, outputMode: 'complete', delay: null });
  t.strictSame(query.addData([{ sessionId: 'a', eventTime: 5 }]).rows, [], 'null gap');
});

t.test('a late row is judged by its own end (time + gap) against the previous batch watermark, inclusively', async (t) => {
  const query = new SessionQuery({});
  query.addData([{ sessionId: 'x', eventTime: 41 }]); // watermark 11 from now on
  const step = query.addData([
    { sessionId: 'a', eventTime: 1 }, // ends at 11: late
    { sessionId: 'b', eventTime: 2 }, // ends at 12: kept
  ]);
  t.equal(step.dropped, 1);
  t.strictSame(
    [...query.state.sessions()].map((s) => s.key[0]),
    ['x', 'b'],
  );
});

t.test('late rows count once per (key, session of the row), as Spark counts partial-aggregate rows', async (t) => {
  const query = new SessionQuery({});
  query.addData([{ sessionId: 'x', eventTime: 100 }]);
  const step = query.addData([
    { sessionId: 'a', eventTime: 1 },
    { sessionId: 'a', eventTime: 1 },
    { sessionId: 'a', eventTime: 2 },
    { sessionId: 'b', eventTime: 1 },
  ]);
  t.equal(step.dropped, 3);
});

t.test('a row not late for the previous watermark but closed by the current one is merged and emitted in the same batch', async (t) => {
  // The two watermarks differ when batches run back to back without a no-data batch between them.
  const counts = new SessionCounts();
  const state = new SessionWindowState({ outputMode: 'append', hasWatermark: true, aggregates: counts });
  const batch = RecordBatch.fromRows(schema([field('time', Types.timestamp), field('k', Types.string)]), [{ time: 15_000, k: 'y' }]);
  state.beginBatch(30_000, 10_000);
  state.add({ length: 1, keys: [batch.columns[1]!], time: batch.columns[0]!, gapUs: 10 * S, aggregateInput: [] });
  const outcome = state.finishBatch();
  t.strictSame([outcome.emitted.length, outcome.emitted.startsUs[0]! / S, outcome.emitted.endsUs[0]! / S, counts.count(outcome.emitted.slots[0]!)], [1, 15, 25, 1]);
  t.strictSame([outcome.numRowsDroppedByWatermark, outcome.numRowsUpdated, outcome.numRowsRemoved, outcome.numRowsTotal], [0, 1, 1, 0]);
});

t.test('append mode emits a session once, when the watermark reaches its end, and removes it', async (t) => {
  const query = new SessionQuery({ delay: '0 seconds' });
  query.addData([{ sessionId: 'a', eventTime: 0 }]);
  t.equal(query.state.size, 1, 'watermark 0 < end 10');
  const step = query.addData([{ sessionId: 'b', eventTime: 10 }]);
  t.strictSame(step.rows, [['a', 0, 10, 10, 1]], 'the no-data batch at watermark 10 closes [0, 10)');
  t.strictSame([step.total, step.removed], [1, 1]);
  t.strictSame(query.addData([{ sessionId: 'b', eventTime: 11 }]).rows, [], 'never emitted again');
});

t.test('complete mode never drops a late row nor removes a closed session', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete', delay: '0 seconds' });
  query.addData([{ sessionId: 'a', eventTime: 100 }]);
  const step = query.addData([{ sessionId: 'a', eventTime: 1 }]);
  t.strictSame(sorted(step.rows), sorted([['a', 1, 11, 10, 1], ['a', 100, 110, 10, 1]]));
  t.strictSame([step.dropped, step.removed], [0, 0]);
});

t.test('keys are their values: the same string from two dictionaries is one key', async (t) => {
  const state = new SessionWindowState({ outputMode: 'complete', hasWatermark: false, aggregates: new SessionCounts() });
  for (const [time, dictionary] of [[0, new StringDictionary()], [5, new StringDictionary()]] as const) {
    dictionary.intern('other');
    const id = dictionary.intern('a');
    state.beginBatch(0, 0);
    const keys: Column[] = [{ kind: 'dict', ids: Int32Array.of(id), dictionary }];
    state.add({ length: 1, keys, time: { kind: 'f64', values: Float64Array.of(time * S), nulls: null }, gapUs: 10 * S, aggregateInput: [] });
    state.finishBatch();
  }
  t.strictSame([...state.sessions()].map((s) => [s.key, s.startUs / S, s.endUs / S]), [[['a'], 0, 15]]);
});

t.test('a null key is a key of its own', async (t) => {
  const query = new SessionQuery({ outputMode: 'complete', delay: null });
  t.strictSame(sorted(query.addData([{ sessionId: null, eventTime: 0 }, { sessionId: 'null', eventTime: 1 }]).rows), sorted([[null, 0, 10, 10, 1], ['null', 1, 11, 10, 1]]));
});

t.test('the slots of emitted sessions stay readable until the next batch begins, then go back', async (t) => {
  const counts = new SessionCounts();
  const state = new SessionWindowState({ outputMode: 'append', hasWatermark: true, aggregates: counts });
  const batch = RecordBatch.fromRows(schema([field('time', Types.timestamp), field('k', Types.string)]), [{ time: 0, k: 'a' }, { time: 1000, k: 'a' }]);
  state.beginBatch(0, 0);
  state.add({ length: 2, keys: [batch.columns[1]!], time: batch.columns[0]!, gapUs: S, aggregateInput: [] });
  state.finishBatch();
  state.beginBatch(5_000, 0);
  const outcome = state.finishBatch();
  t.equal(counts.count(outcome.emitted.slots[0]!), 2);
  t.equal(counts.slotsInUse, 1, 'still held for the caller');
  state.beginBatch(5_000, 5_000);
  t.equal(counts.slotsInUse, 0);
});

t.test('update mode and append without a watermark are refused by the state itself', async (t) => {
  t.throws(() => new SessionWindowState({ outputMode: 'update', hasWatermark: true, aggregates: new SessionCounts() }), { code: 'ERR_SESSION_WINDOW_UPDATE_MODE' });
  t.throws(() => new SessionWindowState({ outputMode: 'append', hasWatermark: false, aggregates: new SessionCounts() }), { code: 'ERR_APPEND_WITHOUT_WATERMARK' });
});

t.test('add outside beginBatch/finishBatch is a protocol error', async (t) => {
  const state = new SessionWindowState({ outputMode: 'complete', hasWatermark: false, aggregates: new SessionCounts() });
  t.throws(() => state.finishBatch(), { code: 'ERR_PROTOCOL' });
});

// ---------------------------------------------------------------------------------------------
// Planning

const watermarked = (name: string, delayMs: number): Field => withMetadata(field(name, Types.timestamp), { watermarkDelayMs: delayMs });

t.test('planSessionWindow resolves the columns and the gap', async (t) => {
  const input = schema([field('user', Types.string), watermarked('time', 60_000)]);
  t.strictSame(planSessionWindow({ input, timeColumn: 'time', gap: '10 minutes', groupBy: ['user'], outputMode: 'append' }), {
    timeIndex: 1,
    keyIndexes: [0],
    gapUs: 600 * S,
    hasWatermark: true,
    outputMode: 'append',
  });
  t.equal(planSessionWindow({ input, timeColumn: 'time', gap: 1500, groupBy: ['user'], outputMode: 'complete' }).gapUs, 1.5 * S, 'a number is milliseconds');
});

t.test('append mode without a watermark is refused with Spark message', async (t) => {
  const input = schema([field('user', Types.string), field('time', Types.timestamp)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'time', gap: '10 minutes', groupBy: ['user'], outputMode: 'append' }), {
    code: 'ERR_APPEND_WITHOUT_WATERMARK',
    message: 'Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark',
  });
});

t.test('a session window on a non-timestamp column is refused naming the column and its type', async (t) => {
  const input = schema([field('user', Types.string), field('time', Types.long)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'time', gap: '10 minutes', groupBy: ['user'], outputMode: 'complete' }), {
    code: 'ERR_INVALID_WINDOW',
    message: '[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve "session_window(time, 10 minutes)" due to data type mismatch: the first parameter requires the "TIMESTAMP" type, however `time` has the type "BIGINT".',
  });
});

t.test('unknown columns, unparsable gaps and month gaps are refused naming the option', async (t) => {
  const input = schema([field('user', Types.string), watermarked('time', 0)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'ts', gap: '1 minute', groupBy: ['user'], outputMode: 'append' }), { code: 'ERR_UNKNOWN_COLUMN', option: 'timeColumn' });
  t.throws(() => planSessionWindow({ input, timeColumn: 'time', gap: '1 minute', groupBy: ['usr'], outputMode: 'append' }), { code: 'ERR_UNKNOWN_COLUMN', option: 'groupBy' });
  t.throws(() => planSessionWindow({ input, timeColumn: 'time', gap: 'ten minutes', groupBy: ['user'], outputMode: 'append' }), { code: 'ERR_INVALID_INTERVAL', option: 'gap' });
  t.throws(() => planSessionWindow({ input, timeColumn: 'time', gap: '1 month', groupBy: ['user'], outputMode: 'append' }), { code: 'ERR_INVALID_INTERVAL', option: 'gap' });
});

t.test('a watermark on another grouping column instead of the session time column is refused', async (t) => {
  const input = schema([watermarked('seen', 0), field('time', Types.timestamp)]);
  t.throws(() => planSessionWindow({ input, timeColumn: 'time', gap: '1 minute', groupBy: ['seen'], outputMode: 'append' }), { code: 'ERR_UNSUPPORTED_OPERATION' });
});

// ---------------------------------------------------------------------------------------------
// Checkpoints

t.test('a JSON round trip of the snapshot keeps keys of every kind, sessions and counts', async (t) => {
  const pair: DataType = { type: 'struct', fields: [field('x', Types.long), field('y', Types.string)] };
  const keys = [field('s', Types.string), field('n', Types.double), field('b', Types.boolean), field('p', pair)];
  const query = new SessionQuery({ keys, outputMode: 'complete', delay: null });
  const rows: Row[] = [
    { eventTime: 0, s: 'a', n: 1.5, b: true, p: { x: 1, y: 'q' } },
    { eventTime: 5, s: 'a', n: 1.5, b: true, p: { x: 1, y: 'q' } },
    { eventTime: 0, s: null, n: -0, b: null, p: null },
    { eventTime: 20, s: 'a|b', n: NaN, b: false, p: { x: null, y: null } },
  ];
  const before = sorted(query.addData(rows).rows);
  const copy = new SessionQuery({ keys, outputMode: 'complete', delay: null });
  copyState(query.state, copy.state);
  t.strictSame(sorted(copy.addData([]).rows), before);
  // The restored keys are the same keys: new rows join their sessions.
  t.strictSame(copy.addData([{ eventTime: 14, s: 'a', n: 1.5, b: true, p: { x: 1, y: 'q' } }]).rows.find((r) => r[0] === 'a'), ['a', 1.5, true, [1, 'q'], 0, 24, 24, 3]);
});

t.test('the delta records of every batch, replayed from an empty state, rebuild the state', async (t) => {
  const query = new SessionQuery({ delay: '5 seconds' });
  const log: SessionStateRecord[][] = [];
  const rebuiltCounts = new SessionCounts();
  const rebuilt = new SessionWindowState({ outputMode: 'append', hasWatermark: true, aggregates: rebuiltCounts, keyWidth: 1 });
  const held = (state: SessionWindowState, counts: SessionCounts): string[] => sorted([...state.sessions()].map((s) => [...s.key, s.startUs, s.endUs, counts.count(s.slot)]));
  const batches = [words(['a b', 10], ['a', 14]), words(['c', 30], ['a', 12]), words(['a', 40]), words(['b', 41], ['a', 46]), words(['z', 90])];
  for (const rows of batches) {
    query.clock.step(rows.map((r) => (r.eventTime as number) * 1000), true, (watermarkMs, lateMs, data) => {
      query.state.beginBatch(watermarkMs, lateMs);
      if (data) {
        const batch = RecordBatch.fromRows(query.schema, rows.map((r) => ({ ...r, eventTime: (r.eventTime as number) * 1000 })));
        query.state.add({ length: batch.length, keys: [batch.columns[1]!], time: batch.columns[0]!, gapUs: 10 * S, aggregateInput: [] });
      }
      query.state.finishBatch();
      log.push(JSON.parse(JSON.stringify(query.state.deltaRecords())));
    });
    for (const records of log.splice(0)) for (const record of records) rebuilt.applyRecord(record);
    t.strictSame(held(rebuilt, rebuiltCounts), held(query.state, query.aggregates as Counts));
  }
});

t.test('allocatingSlots hands freed slots out again, reset, and grows the buffers only for new ones', async (t) => {
  const calls: string[] = [];
  const buffers: SlotBuffers = {
    ensureCapacity: (n) => calls.push(`capacity ${n}`),
    reset: (slot) => calls.push(`reset ${slot}`),
    accumulate: () => undefined,
    mergeSlots: (target, source) => calls.push(`merge ${source} into ${target}`),
    snapshot: () => null,
    restore: () => undefined,
  };
  const slots = allocatingSlots(buffers);
  const a = slots.allocate();
  const b = slots.allocate();
  slots.free(a);
  const c = slots.allocate();
  slots.mergeSlots(c, b);
  t.strictSame([a, b, c], [0, 1, 0]);
  t.strictSame(calls, ['capacity 1', 'reset 0', 'capacity 2', 'reset 1', 'reset 0', 'merge 1 into 0']);
});

// ---------------------------------------------------------------------------------------------
// Laws

interface Event {
  readonly key: string;
  readonly time: number; // seconds
}

/** Plain batch sessionisation: per key, sort by time, merge [t, t + gap) that overlap or touch. */
function batchSessions(events: readonly Event[], gap: number): string[] {
  const byKey = new Map<string, number[]>();
  for (const e of events) (byKey.get(e.key) ?? byKey.set(e.key, []).get(e.key)!).push(e.time);
  const out: unknown[][] = [];
  for (const [key, times] of byKey) {
    times.sort((a, b) => a - b);
    let start = times[0]!;
    let end = start + gap;
    let count = 1;
    for (const time of times.slice(1)) {
      if (time <= end) {
        end = Math.max(end, time + gap);
        count++;
      } else {
        out.push([key, start, end, end - start, count]);
        start = time;
        end = time + gap;
        count = 1;
      }
    }
    out.push([key, start, end, end - start, count]);
  }
  return sorted(out);
}

const eventArb = fc.record({ key: fc.constantFrom('a', 'b', 'c'), time: fc.integer({ min: 0, max: 200 }) });
const batchesArb = fc.array(fc.array(eventArb, { maxLength: 8 }), { minLength: 1, maxLength: 8 });
const toRows = (events: readonly Event[]): Row[] => events.map((e) => ({ sessionId: e.key, eventTime: e.time }));

t.test('law: in complete mode without a watermark, any split of the input into batches gives the batch sessions', async () => {
  fc.assert(
    fc.property(batchesArb, fc.integer({ min: 1, max: 30 }), (batches, gap) => {
      const query = new SessionQuery({ gap, outputMode: 'complete', delay: null });
      let last: unknown[][] = [];
      for (const events of batches) last = query.addData(toRows(events)).rows;
      return JSON.stringify(sorted(last)) === JSON.stringify(batchSessions(batches.flat(), gap));
    }),
  );
});

t.test('law: in append mode with batches in event-time order nothing is late, and every batch session is emitted exactly once', async () => {
  fc.assert(
    fc.property(batchesArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 40 }), (batches, gap, delay) => {
      // Shift each batch after the latest time of the ones before it.
      let offset = 0;
      const ordered = batches.map((events) => {
        const shifted = events.map((e) => ({ key: e.key, time: e.time + offset }));
        offset = Math.max(offset, ...shifted.map((e) => e.time));
        return shifted;
      });
      const query = new SessionQuery({ gap, delay: `${delay} seconds` });
      const emitted: unknown[][] = [];
      let dropped = 0;
      for (const events of ordered) {
        const step = query.addData(toRows(events));
        emitted.push(...step.rows);
        dropped += step.dropped;
      }
      emitted.push(...query.addData([{ sessionId: 'flush', eventTime: offset + gap + delay + 1000 }]).rows); // closes everything
      return dropped === 0 && JSON.stringify(sorted(emitted)) === JSON.stringify(batchSessions(ordered.flat(), gap));
    }),
  );
});

t.test('law: a restart from the snapshot at any batch boundary changes no output', async () => {
  fc.assert(
    fc.property(batchesArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 7 }), fc.constantFrom<'append' | 'complete'>('append', 'complete'), (batches, gap, restartAt, outputMode) => {
      const run = (restart: boolean): string => {
        let query = new SessionQuery({ gap, delay: '10 seconds', outputMode });
        const out: unknown[] = [];
        batches.forEach((events, i) => {
          if (restart && i === restartAt) {
            const next = new SessionQuery({ gap, delay: '10 seconds', outputMode });
            copyState(query.state, next.state);
            next.clock.watermarkMs = query.clock.watermarkMs;
            next.clock.lastBatchWatermarkMs = query.clock.lastBatchWatermarkMs;
            query = next;
          }
          const step = query.addData(toRows(events));
          out.push([sorted(step.rows), step.total, step.dropped]);
        });
        return JSON.stringify(out);
      };
      return run(true) === run(false);
    }),
  );
});

t.test('law: no slot leaks — after any run, the slots in use are the sessions held', async () => {
  fc.assert(
    fc.property(batchesArb, fc.integer({ min: 1, max: 30 }), (batches, gap) => {
      const counts = new Counts();
      const query = new SessionQuery({ gap, delay: '5 seconds', aggregates: counts });
      for (const events of batches) query.addData(toRows(events));
      query.state.beginBatch(query.clock.watermarkMs, query.clock.lastBatchWatermarkMs); // frees what the last batch emitted
      query.state.finishBatch();
      query.state.beginBatch(query.clock.watermarkMs, query.clock.lastBatchWatermarkMs);
      return counts.slotsInUse === query.state.size;
    }),
  );
});

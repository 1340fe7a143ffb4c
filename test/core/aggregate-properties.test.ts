/**
 * Properties of `AggregateBuffers` on random rows with nulls and random
 * group slots: whatever way the rows reach the buffers — all at once, in
 * pieces pushed down as partial rows, split over two slots merged later,
 * through a snapshot — the results equal a plain computation of Spark's
 * rules, written here independently of the library.
 *
 * Double values are multiples of 1/8 below 2^20 (and ±0, ±∞, NaN), so
 * every partial sum is exact and any order of addition gives the same bits;
 * the integral column `big` takes values around 2^53 and 2^62, so sums
 * leave the double tier and wrap around 2^64.
 */
import t from 'tap';
import fc from 'fast-check';
import { AggregateBuffers, parseAggregates, resolveAggregates } from '../../lib/core/aggregates.js';
import { rawValueAt, RecordBatch, type Column, type Row } from '../../lib/core/batch.js';
import { field, schema, Types, type DataType } from '../../lib/core/schema.js';
import { decodeStateFile, encodeStateFile } from '../../lib/checkpoint/state-files.js';
import { stateImage } from '../../lib/stages/stage.js';

const SCHEMA = schema([
  field('v', Types.long),
  field('d', Types.double),
  field('s', Types.string),
  field('m', { type: 'decimal', precision: 5, scale: 2 }),
  field('big', Types.long),
  field('b', Types.boolean),
]);
const AGGREGATES = resolveAggregates(
  parseAggregates(
    'count, count(v), sum(v), avg(v), min(v), max(v), sum(d), avg(d), min(d), max(d), count(s), min(s), max(s), ' +
      'sum(m), avg(m), min(m), max(m), sum(big), min(big), max(big), min(b), max(b)',
  ),
  SCHEMA,
);
const GROUPS = 4;

interface TestRow extends Row {
  slot: number;
}

const rowArbitrary: fc.Arbitrary<TestRow> = fc.record({
  slot: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: GROUPS - 1 }) }, { weight: 1, arbitrary: fc.constant(-1) }),
  v: fc.option(fc.integer({ min: -1_000_000, max: 1_000_000 }), { nil: null, freq: 4 }),
  d: fc.option(
    fc.oneof(
      { weight: 10, arbitrary: fc.integer({ min: -(2 ** 23), max: 2 ** 23 }).map((n) => n / 8) },
      { weight: 1, arbitrary: fc.constantFrom(-0, 0, NaN, Infinity, -Infinity) },
    ),
    { nil: null, freq: 4 },
  ),
  s: fc.option(fc.constantFrom('Z', 'a', 'é', 'ｚ', '😀', '', 'ab'), { nil: null, freq: 4 }),
  m: fc.option(fc.integer({ min: -99_999, max: 99_999 }).map((n) => (n < 0 ? '-' : '') + (Math.abs(n) / 100).toFixed(2)), { nil: null, freq: 4 }),
  big: fc.option(fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 53 - 1, 2 ** 62, -(2 ** 62), 2 ** 60 + 2 ** 12, 1, -1, 3), { nil: null, freq: 4 }),
  b: fc.option(fc.boolean(), { nil: null, freq: 4 }),
});

// ---------------------------------------------------------------------------------------------
// The reference: Spark's rules on plain values, row by row.

const utf8 = new TextEncoder();
function utf8Compare(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Spark's `SQLOrderingUtil.compareDoubles`: NaN largest and equal to itself, -0.0 = 0.0. */
function compareDoubles(a: number, b: number): number {
  if (a === b) return 0;
  if (a !== a) return b !== b ? 0 : 1;
  if (b !== b) return -1;
  return a < b ? -1 : 1;
}

function unscaled(text: string): bigint {
  return BigInt(text.replace('.', ''));
}

function decimalText(u: bigint, scale: number): string {
  const negative = u < 0n;
  const digits = (negative ? -u : u).toString().padStart(scale + 1, '0');
  return (negative ? '-' : '') + digits.slice(0, digits.length - scale) + '.' + digits.slice(digits.length - scale);
}

function halfUp(num: bigint, den: bigint): bigint {
  const negative = num < 0n;
  const n = negative ? -num : num;
  const q = (2n * n + den) / (2n * den);
  return negative ? -q : q;
}

/** The expected result row of one group, values as canonical text. */
function reference(rows: readonly TestRow[]): string[] {
  const nonNull = (c: keyof TestRow) => rows.map((r) => r[c]).filter((x) => x !== null && x !== undefined);
  const extreme = <T>(xs: T[], cmp: (a: T, b: T) => number, max: boolean): T | null => {
    let out: T | null = null;
    for (const x of xs) if (out === null || (max ? cmp(x, out) > 0 : cmp(x, out) < 0)) out = x;
    return out;
  };
  const v = nonNull('v') as number[];
  const d = nonNull('d') as number[];
  const s = nonNull('s') as string[];
  const m = nonNull('m') as string[];
  const big = nonNull('big') as number[];
  const b = nonNull('b') as boolean[];
  const dsum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const msum = m.reduce((a, x) => a + unscaled(x), 0n);
  const bigSum = BigInt.asIntN(64, big.reduce((a, x) => a + BigInt(x), 0n));
  const values: unknown[] = [
    rows.length,
    v.length,
    v.length === 0 ? null : BigInt(dsum(v)),
    v.length === 0 ? null : dsum(v) / v.length,
    extreme(v, compareDoubles, false),
    extreme(v, compareDoubles, true),
    d.length === 0 ? null : dsum(d),
    d.length === 0 ? null : dsum(d) / d.length,
    extreme(d, compareDoubles, false),
    extreme(d, compareDoubles, true),
    s.length,
    extreme(s, utf8Compare, false),
    extreme(s, utf8Compare, true),
    m.length === 0 ? null : decimalText(msum, 2),
    m.length === 0 ? null : decimalText(halfUp(msum * 10_000n, BigInt(m.length)), 6),
    extreme(m, (x, y) => Number(unscaled(x) - unscaled(y)), false),
    extreme(m, (x, y) => Number(unscaled(x) - unscaled(y)), true),
    big.length === 0 ? null : bigSum,
    extreme(big, compareDoubles, false),
    extreme(big, compareDoubles, true),
    extreme(b, (x, y) => Number(x) - Number(y), false),
    extreme(b, (x, y) => Number(x) - Number(y), true),
  ];
  return values.map((x, i) => canonical(x, AGGREGATES[i]!.resultType));
}

/** One text per value: -0 apart from 0, bigints and integral numbers alike. */
function canonical(x: unknown, t: DataType): string {
  if (x === null || x === undefined) return 'null';
  if (t.type === 'long' || typeof x === 'bigint') return BigInt(x as number | bigint).toString();
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  return JSON.stringify(x);
}

// ---------------------------------------------------------------------------------------------
// The ways rows reach the buffers.

function newBuffers(capacity: number): AggregateBuffers {
  const buffers = new AggregateBuffers(AGGREGATES);
  buffers.ensureCapacity(capacity);
  return buffers;
}

function batchOf(rows: readonly TestRow[]): { batch: RecordBatch; slots: Int32Array } {
  return { batch: RecordBatch.fromRows(SCHEMA, rows), slots: Int32Array.from(rows, (r) => r.slot) };
}

function resultsOf(buffers: AggregateBuffers, slots: Int32Array): string[][] {
  const columns = buffers.writeResults(slots, slots.length);
  return Array.from(slots, (_, i) => columns.map((c: Column, k) => canonical(rawValueAt(c, i), buffers.aggregates[k]!.resultType)));
}

const ALL = Int32Array.from({ length: GROUPS }, (_, i) => i);

function accumulateAll(rows: readonly TestRow[]): AggregateBuffers {
  const buffers = newBuffers(GROUPS);
  const { batch, slots } = batchOf(rows);
  buffers.accumulate(slots, batch.length, batch.columns);
  return buffers;
}

function cutsOf(rows: readonly TestRow[], cuts: readonly number[]): TestRow[][] {
  const at = [...new Set(cuts.map((c) => c % (rows.length + 1)))].sort((a, b) => a - b);
  const pieces: TestRow[][] = [];
  let from = 0;
  for (const c of [...at, rows.length]) {
    pieces.push(rows.slice(from, c));
    from = c;
  }
  return pieces;
}

function expected(rows: readonly TestRow[]): string[][] {
  return Array.from({ length: GROUPS }, (_, g) => reference(rows.filter((r) => r.slot === g)));
}

function check(label: string, actual: string[][], want: string[][]): void {
  const a = JSON.stringify(actual);
  const w = JSON.stringify(want);
  if (a !== w) throw new Error(`${label}:\n  got      ${a}\n  expected ${w}`);
}

/** Rows whose doubles are mostly ±0 and NaN: min and max meet equal values, where the one held first must stay. */
const tieRowArbitrary: fc.Arbitrary<TestRow> = fc
  .tuple(rowArbitrary, fc.option(fc.constantFrom(-0, 0, NaN, -1), { nil: null, freq: 6 }))
  .map(([row, d]) => ({ ...row, d }));

const rowsArbitrary = fc.oneof(fc.array(rowArbitrary, { maxLength: 60 }), fc.array(tieRowArbitrary, { maxLength: 20 }));
const cutsArbitrary = fc.array(fc.nat(), { maxLength: 5 });

t.test('accumulating all rows at once equals a plain computation of Spark’s rules', async (t) => {
  fc.assert(fc.property(rowsArbitrary, (rows) => check('all at once', resultsOf(accumulateAll(rows), ALL), expected(rows))));
  t.pass();
});

t.test('rows accumulated in pieces, each pushed down as partial rows and merged in state, give the same results', async (t) => {
  fc.assert(
    fc.property(rowsArbitrary, cutsArbitrary, (rows, cuts) => {
      const state = newBuffers(GROUPS);
      for (const piece of cutsOf(rows, cuts)) {
        const worker = newBuffers(GROUPS);
        const { batch, slots } = batchOf(piece);
        worker.accumulate(slots, batch.length, batch.columns);
        // The push-down sends only the groups it saw, in its own order.
        const seen = Int32Array.from(new Set(piece.map((r) => r.slot).filter((s) => s >= 0)));
        state.mergePartial(seen, seen.length, worker.writePartial(seen, seen.length));
      }
      check('pieces merged as partial rows', resultsOf(state, ALL), expected(rows));
    }),
  );
  t.pass();
});

t.test('rows split over two slots per group and merged with mergeSlots give the same results', async (t) => {
  fc.assert(
    fc.property(rowsArbitrary, fc.nat(), (rows, cut) => {
      const half = cut % (rows.length + 1);
      const buffers = newBuffers(2 * GROUPS);
      const { batch, slots } = batchOf(rows);
      for (let i = half; i < rows.length; i++) if (slots[i]! >= 0) slots[i] = slots[i]! + GROUPS;
      buffers.accumulate(slots, batch.length, batch.columns);
      for (let g = 0; g < GROUPS; g++) buffers.mergeSlots(g, g + GROUPS);
      check('halves merged', resultsOf(buffers, ALL), expected(rows));
    }),
  );
  t.pass();
});

t.test('rows accumulated batch by batch into the same buffers give the same results', async (t) => {
  fc.assert(
    fc.property(rowsArbitrary, cutsArbitrary, (rows, cuts) => {
      const buffers = newBuffers(GROUPS);
      for (const piece of cutsOf(rows, cuts)) {
        const { batch, slots } = batchOf(piece);
        buffers.accumulate(slots, batch.length, batch.columns);
      }
      check('batch by batch', resultsOf(buffers, ALL), expected(rows));
    }),
  );
  t.pass();
});

// A snapshot as the checkpoint writes and reads it: one record of a state file (format 2: typed
// arrays as raw sections, the rest as JSON text).
function throughStateFile(snapshot: unknown): unknown {
  const image = stateImage('KeyedAggregate', 1, {}, 'snapshot', [[snapshot]]);
  return decodeStateFile(encodeStateFile(image, 0), '(test)').image.partitions[0]![0];
}

t.test('a snapshot, through a state file, restores into other slots with the same results, and accumulation goes on from there', async (t) => {
  fc.assert(
    fc.property(rowsArbitrary, fc.nat(), (rows, cut) => {
      const half = cut % (rows.length + 1);
      const before = accumulateAll(rows.slice(0, half));
      const written = throughStateFile(before.snapshot(ALL, GROUPS));
      const moved = Int32Array.from(ALL, (g) => 2 * GROUPS - 1 - g);
      const after = newBuffers(2 * GROUPS);
      after.restore(written, moved);
      const { batch, slots } = batchOf(rows.slice(half));
      const movedSlots = Int32Array.from(slots, (s) => (s < 0 ? -1 : moved[s]!));
      after.accumulate(movedSlots, batch.length, batch.columns);
      check('snapshot, restore, continue', resultsOf(after, moved), expected(rows));
    }),
  );
  t.pass();
});

t.test('a row of weight w counts as w identical rows', async (t) => {
  const aggregates = resolveAggregates(parseAggregates('count, count(v), sum(v), avg(v), min(v), max(v), sum(d), sum(big), max(s)'), SCHEMA);
  fc.assert(
    fc.property(fc.array(fc.tuple(rowArbitrary, fc.integer({ min: 1, max: 5 })), { maxLength: 30 }), (weighted) => {
      const rows = weighted.map(([r]) => r);
      const weightedBuffers = new AggregateBuffers(aggregates);
      weightedBuffers.ensureCapacity(GROUPS);
      const { batch, slots } = batchOf(rows);
      weightedBuffers.accumulate(slots, batch.length, batch.columns, Float64Array.from(weighted, ([, w]) => w));
      const repeated = weighted.flatMap(([r, w]) => Array.from({ length: w }, () => r));
      const plain = new AggregateBuffers(aggregates);
      plain.ensureCapacity(GROUPS);
      const expanded = batchOf(repeated);
      plain.accumulate(expanded.slots, expanded.batch.length, expanded.batch.columns);
      check('weighted', resultsOf(weightedBuffers, ALL), resultsOf(plain, ALL));
    }),
  );
  t.pass();
});

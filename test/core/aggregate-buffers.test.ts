/**
 * The rules of `spark-semantics.md` § k as `AggregateBuffers` computes them:
 * one rule per test, with exact values.
 */
import t from 'tap';
import { AggregateBuffers, parseAggregates, resolveAggregates, type AggregateBuffersOptions } from '../../lib/core/aggregates.js';
import { RecordBatch, type Row } from '../../lib/core/batch.js';
import { field, schema, Types, type DataType, type Schema } from '../../lib/core/schema.js';

const decimal = (precision: number, scale: number): DataType => ({ type: 'decimal', precision, scale });
const values = schema([field('v', Types.long), field('d', Types.double), field('s', Types.string)]);

function buffersFor(text: string, s: Schema, options: AggregateBuffersOptions = {}): AggregateBuffers {
  return new AggregateBuffers(resolveAggregates(parseAggregates(text), s), options);
}

/** Rows of `slots[0..n)`'s results, as a user's stage sees them. */
function results(buffers: AggregateBuffers, n: number): Row[] {
  const slots = Int32Array.from({ length: n }, (_, i) => i);
  return new RecordBatch(schema(buffers.resultFields()), buffers.writeResults(slots, n), n).rows();
}

/** Aggregates `rows` (all in slot 0 unless `slotOf` says otherwise) and returns the results per slot. */
function aggregate(text: string, s: Schema, rows: Row[], slotOf?: number[], options: AggregateBuffersOptions = {}): Row[] {
  const buffers = buffersFor(text, s, options);
  const slots = Int32Array.from(slotOf ?? rows.map(() => 0));
  const groups = Math.max(0, ...slots) + 1;
  buffers.ensureCapacity(groups);
  const batch = RecordBatch.fromRows(s, rows);
  buffers.accumulate(slots, batch.length, batch.columns);
  return results(buffers, groups);
}

t.test('count counts rows, nulls included; count(col) counts the non-null values', async (t) => {
  t.same(aggregate('count, count(*), count(v), count(s)', values, [{ v: 1, s: 'a' }, { v: null, s: 'b' }, { v: null, s: null }]), [
    { count: 3, 'count(1)': 3, 'count(v)': 1, 'count(s)': 2 },
  ]);
});

t.test('a group whose values are all null: count(col) 0, sum/avg/min/max null', async (t) => {
  t.same(aggregate('count, count(v), sum(v), avg(v), min(v), max(v), sum(d), min(s)', values, [{ v: null, d: null, s: null }, {}]), [
    { count: 2, 'count(v)': 0, 'sum(v)': null, 'avg(v)': null, 'min(v)': null, 'max(v)': null, 'sum(d)': null, 'min(s)': null },
  ]);
});

t.test('nulls are skipped by sum, avg, min and max', async (t) => {
  t.same(aggregate('sum(v), avg(v), min(v), max(v)', values, [{ v: 4 }, { v: null }, { v: -2 }]), [{ 'sum(v)': 2, 'avg(v)': 1, 'min(v)': -2, 'max(v)': 4 }]);
});

t.test('sum of an integral column is a bigint, exact; avg is a double', async (t) => {
  const s = schema([field('b', Types.byte), field('i', Types.int)]);
  const buffers = buffersFor('sum(b), sum(i), avg(i)', s);
  t.same(
    buffers.resultFields().map((f) => [f.name, f.dataType.type]),
    [
      ['sum(b)', 'long'],
      ['sum(i)', 'long'],
      ['avg(i)', 'double'],
    ],
  );
  t.same(aggregate('sum(b), sum(i), avg(i)', s, [{ b: 127, i: 2_147_483_647 }, { b: 127, i: 2_147_483_647 }, { b: 1, i: 1 }]), [
    { 'sum(b)': 255, 'sum(i)': 4_294_967_295, 'avg(i)': 1_431_655_765 },
  ]);
});

t.test('an integral sum beyond 2^53 stays exact: the result is a bigint value in an any column', async (t) => {
  const buffers = buffersFor('sum(v)', values);
  buffers.ensureCapacity(2);
  const batch = RecordBatch.fromRows(values, [{ v: 2 ** 53 }, { v: 1 }, { v: 1 }, { v: 5 }]);
  buffers.accumulate(Int32Array.of(0, 0, 0, 1), 4, batch.columns);
  const [column] = buffers.writeResults(Int32Array.of(0, 1), 2);
  t.same(column, { kind: 'any', values: [9_007_199_254_740_994n, 5] });
});

t.test('an integral sum that comes back below 2^53 is a plain number again', async (t) => {
  const [row] = aggregate('sum(v)', values, [{ v: 2 ** 53 }, { v: 7 }, { v: -(2 ** 53) }]);
  t.same(row, { 'sum(v)': 7 });
  const buffers = buffersFor('sum(v)', values);
  buffers.ensureCapacity(1);
  const batch = RecordBatch.fromRows(values, [{ v: 2 ** 53 }, { v: 7 }, { v: -(2 ** 53) }]);
  buffers.accumulate(Int32Array.of(0, 0, 0), 3, batch.columns);
  t.equal(buffers.writeResults(Int32Array.of(0), 1)[0]!.kind, 'f64');
});

t.test('an integral sum beyond the bigint range wraps as Java’s long does (Spark’s default, ANSI off)', async (t) => {
  t.same(aggregate('sum(v)', values, [{ v: 2 ** 62 }, { v: 2 ** 62 }]), [{ 'sum(v)': -9_223_372_036_854_775_808n }]);
  t.same(aggregate('sum(v)', values, [{ v: 2 ** 62 }, { v: 2 ** 62 }, { v: 2 ** 62 }, { v: 2 ** 62 }, { v: 3 }]), [{ 'sum(v)': 3 }], 'wrapping twice comes back');
});

t.test('with ANSI on, an integral sum beyond the bigint range is Spark’s ARITHMETIC_OVERFLOW', async (t) => {
  t.throws(() => aggregate('sum(v)', values, [{ v: 2 ** 62 }, { v: 2 ** 62 }], undefined, { ansi: true }), {
    code: 'ERR_ARITHMETIC_OVERFLOW',
    message: `[ARITHMETIC_OVERFLOW] long overflow in sum(v). Use 'try_sum' to tolerate overflow and return NULL instead. If necessary set "spark.sql.ansi.enabled" to "false" to bypass this error.`,
  });
});

t.test('sum of float and double is a double; a sum of -0.0 values is 0.0 (Spark starts from 0.0)', async (t) => {
  const s = schema([field('f', Types.float), field('d', Types.double)]);
  const [row] = aggregate('sum(f), sum(d), avg(d)', s, [
    { f: 0.5, d: -0 },
    { f: 0.25, d: -0 },
  ]);
  t.same(row, { 'sum(f)': 0.75, 'sum(d)': 0, 'avg(d)': 0 });
  t.ok(Object.is(row!['sum(d)'], 0), '+0.0, not -0.0');
});

t.test('avg is the double sum divided by the count of non-null values', async (t) => {
  t.same(aggregate('avg(d)', values, [{ d: 21.5 }, { d: null }, { d: 22 }, { d: 20 }]), [{ 'avg(d)': 21.166666666666668 }]);
});

t.test('NaN and infinities go through sum and avg as IEEE arithmetic', async (t) => {
  const rows = aggregate('sum(d), avg(d)', values, [{ d: Infinity }, { d: 1 }, { d: -Infinity }, { d: 2 }], [0, 0, 1, 1]);
  t.same(rows, [
    { 'sum(d)': Infinity, 'avg(d)': Infinity },
    { 'sum(d)': -Infinity, 'avg(d)': -Infinity },
  ]);
  const [nan] = aggregate('sum(d)', values, [{ d: Infinity }, { d: -Infinity }]);
  t.ok(Number.isNaN(nan!['sum(d)']));
});

t.test('sum of decimal(p,s) is decimal(min(38,p+10),s), exact', async (t) => {
  const s = schema([field('m', decimal(5, 2))]);
  t.same(buffersFor('sum(m)', s).resultFields()[0]!.dataType, decimal(15, 2));
  t.same(aggregate('sum(m)', s, [{ m: '0.10' }, { m: '0.20' }, { m: null }, { m: '-999.99' }]), [{ 'sum(m)': '-999.69' }]);
});

t.test('avg of decimal(p,s) is decimal(p+4,s+4), rounded HALF_UP', async (t) => {
  const s = schema([field('m', decimal(3, 2))]);
  t.same(buffersFor('avg(m)', s).resultFields()[0]!.dataType, decimal(7, 6));
  t.same(aggregate('avg(m)', s, [{ m: '0.01' }, { m: '0.02' }, { m: '0.02' }]), [{ 'avg(m)': '0.016667' }]);
  t.same(aggregate('avg(m)', s, [{ m: '-0.01' }, { m: '-0.02' }, { m: '-0.02' }]), [{ 'avg(m)': '-0.016667' }], 'halves away from zero');
  t.same(aggregate('avg(m)', s, [{ m: '1.00' }, { m: '2.00' }]), [{ 'avg(m)': '1.500000' }]);
});

t.test('a decimal sum that no longer fits decimal(38,s) is null (ANSI off) or ARITHMETIC_OVERFLOW (ANSI on), for good', async (t) => {
  const s = schema([field('m', decimal(38, 0))]);
  const big = '9'.repeat(38);
  t.same(aggregate('sum(m), avg(m), count(m)', s, [{ m: big }, { m: '1' }, { m: '-' + big }]), [{ 'sum(m)': null, 'avg(m)': null, 'count(m)': 3 }], 'coming back in range does not undo it');
  t.throws(() => aggregate('sum(m)', s, [{ m: big }, { m: '1' }], undefined, { ansi: true }), {
    code: 'ERR_ARITHMETIC_OVERFLOW',
    message: `[ARITHMETIC_OVERFLOW] Overflow in sum of decimals. Use 'try_sum' to tolerate overflow and return NULL instead. If necessary set "spark.sql.ansi.enabled" to "false" to bypass this error.`,
  });
});

t.test('min and max keep the input type: numbers, dates, timestamps, booleans, decimals', async (t) => {
  const s = schema([field('i', Types.int), field('day', Types.date), field('ts', Types.timestamp), field('b', Types.boolean), field('m', decimal(4, 1))]);
  const rows = [
    { i: 3, day: '2024-02-29', ts: 1_700_000_000_000, b: true, m: '-1.5' },
    { i: -7, day: '1969-12-31', ts: 1_600_000_000_000, b: false, m: '10.0' },
    { i: null, day: null, ts: null, b: null, m: null },
  ];
  t.same(aggregate('min(i), max(i), min(day), max(day), min(ts), max(ts), min(b), max(b), min(m), max(m)', s, rows), [
    {
      'min(i)': -7,
      'max(i)': 3,
      'min(day)': '1969-12-31',
      'max(day)': '2024-02-29',
      'min(ts)': 1_600_000_000_000,
      'max(ts)': 1_700_000_000_000,
      'min(b)': false,
      'max(b)': true,
      'min(m)': '-1.5',
      'max(m)': '10.0',
    },
  ]);
  t.same(
    buffersFor('min(i), max(day), min(ts), max(b), min(m)', s).resultFields().map((f) => f.dataType),
    [Types.int, Types.date, Types.timestamp, Types.boolean, decimal(4, 1)],
  );
});

t.test("strings compare by UTF-8 bytes: 'Z' < 'a' < 'é' < 'ｚ' < '😀', where JavaScript's < puts '😀' before 'ｚ'", async (t) => {
  t.same(aggregate('min(s), max(s)', values, [{ s: 'é' }, { s: '😀' }, { s: 'a' }, { s: 'ｚ' }, { s: 'Z' }]), [{ 'min(s)': 'Z', 'max(s)': '😀' }]);
  t.same(aggregate('min(s), max(s)', values, [{ s: '😀' }, { s: 'ｚ' }]), [{ 'min(s)': 'ｚ', 'max(s)': '😀' }]);
});

t.test('NaN is larger than any other double, Infinity included, and equal to itself', async (t) => {
  t.same(aggregate('min(d), max(d)', values, [{ d: 1 }, { d: NaN }, { d: Infinity }, { d: -Infinity }]), [{ 'min(d)': -Infinity, 'max(d)': NaN }]);
  t.same(aggregate('min(d), max(d)', values, [{ d: NaN }, { d: NaN }]), [{ 'min(d)': NaN, 'max(d)': NaN }], 'only NaN: NaN both ways');
  t.same(aggregate('min(d)', values, [{ d: NaN }, { d: 5 }]), [{ 'min(d)': 5 }]);
});

t.test('-0.0 equals 0.0 for min and max: the value seen first stays', async (t) => {
  const [a] = aggregate('min(d), max(d)', values, [{ d: -0 }, { d: 0 }]);
  t.ok(Object.is(a!['min(d)'], -0) && Object.is(a!['max(d)'], -0));
  const [b] = aggregate('min(d), max(d)', values, [{ d: 0 }, { d: -0 }]);
  t.ok(Object.is(b!['min(d)'], 0) && Object.is(b!['max(d)'], 0));
});

t.test('a weight stands for that many identical rows: counts and sums multiply, min and max do not', async (t) => {
  const buffers = buffersFor('count, count(v), sum(v), avg(v), max(v), sum(d)', values);
  buffers.ensureCapacity(1);
  const batch = RecordBatch.fromRows(values, [
    { v: 2, d: 0.5 },
    { v: null, d: null },
    { v: 10, d: 1 },
  ]);
  buffers.accumulate(Int32Array.of(0, 0, 0), 3, batch.columns, Float64Array.of(3, 4, 1));
  t.same(results(buffers, 1), [{ count: 8, 'count(v)': 4, 'sum(v)': 16, 'avg(v)': 4, 'max(v)': 10, 'sum(d)': 2.5 }]);
});

t.test('rows of slot -1 are skipped', async (t) => {
  t.same(aggregate('count, sum(v), max(s)', values, [{ v: 1, s: 'x' }, { v: 100, s: 'zz' }], [0, -1]), [{ count: 1, 'sum(v)': 1, 'max(s)': 'x' }]);
});

t.test('reset empties a slot; new capacity starts empty and keeps what was there', async (t) => {
  const buffers = buffersFor('count, sum(v), min(s)', values);
  buffers.ensureCapacity(1);
  const batch = RecordBatch.fromRows(values, [{ v: 5, s: 'a' }]);
  buffers.accumulate(Int32Array.of(0), 1, batch.columns);
  buffers.ensureCapacity(100);
  t.ok(buffers.capacity >= 100);
  t.same(results(buffers, 2), [
    { count: 1, 'sum(v)': 5, 'min(s)': 'a' },
    { count: 0, 'sum(v)': null, 'min(s)': null },
  ]);
  buffers.reset(0);
  t.same(results(buffers, 1), [{ count: 0, 'sum(v)': null, 'min(s)': null }]);
});

t.test('mergeSlots merges one group into another (two sessions becoming one)', async (t) => {
  const text = 'count, sum(v), avg(d), min(s), max(d)';
  const buffers = buffersFor(text, values);
  buffers.ensureCapacity(2);
  const batch = RecordBatch.fromRows(values, [
    { v: 2 ** 53, d: 1, s: 'b' },
    { v: 3, d: 4, s: 'a' },
    { v: null, d: null, s: null },
  ]);
  buffers.accumulate(Int32Array.of(0, 1, 1), 3, batch.columns);
  buffers.mergeSlots(0, 1);
  t.same(results(buffers, 1), [{ count: 3, 'sum(v)': 9_007_199_254_740_995n, 'avg(d)': 2.5, 'min(s)': 'a', 'max(d)': 4 }]);
});

t.test('partial rows: one column per buffer, shared between the aggregates of a column', async (t) => {
  const s = schema([field('v', Types.long), field('d', Types.double), field('m', decimal(5, 2)), field('s', Types.string)]);
  const fields = buffersFor('count, sum(v), avg(v), max(v), sum(d), avg(d), avg(m), min(s), count(s)', s).partialFields();
  t.same(
    fields.map((f) => [f.name, f.dataType.type, f.nullable]),
    [
      ['count', 'long', false],
      ['count(v)', 'long', false],
      ['sum(v)', 'long', false],
      ['sum(v)#remainder', 'long', false],
      ['sum(CAST(v AS DOUBLE))', 'double', false],
      ['max(v)', 'long', true],
      ['count(d)', 'long', false],
      ['sum(d)', 'double', false],
      ['count(m)', 'long', false],
      ['sum(m)', 'decimal', true],
      ['count(s)', 'long', false],
      ['min(s)', 'string', true],
    ],
  );
});

t.test('partial rows merged into state give what accumulating the rows there gives', async (t) => {
  const text = 'count, count(v), sum(v), avg(v), min(v), max(s), sum(d)';
  const worker = buffersFor(text, values);
  worker.ensureCapacity(2);
  const batch = RecordBatch.fromRows(values, [
    { v: 2 ** 53, s: 'b', d: 0.5 },
    { v: 1, s: 'a', d: null },
    { v: null, s: null, d: 2 },
  ]);
  worker.accumulate(Int32Array.of(0, 0, 1), 3, batch.columns);
  const partial = worker.writePartial(Int32Array.of(0, 1), 2);
  t.same(partial[2], { kind: 'f64', values: Float64Array.of(2 ** 53, 0), nulls: null }, 'sum(v): the nearest double…');
  t.same(partial[3], { kind: 'f64', values: Float64Array.of(1, 0), nulls: null }, '…and the exact remainder');
  const state = buffersFor(text, values);
  state.ensureCapacity(4);
  state.mergePartial(Int32Array.of(3, 2), 2, partial);
  state.mergePartial(Int32Array.of(3, -1), 2, partial);
  t.same(results(state, 4).slice(2), [
    { count: 1, 'count(v)': 0, 'sum(v)': null, 'avg(v)': null, 'min(v)': null, 'max(s)': null, 'sum(d)': 2 },
    { count: 4, 'count(v)': 4, 'sum(v)': 18_014_398_509_481_986n, 'avg(v)': 4_503_599_627_370_496.5, 'min(v)': 1, 'max(s)': 'b', 'sum(d)': 1 },
  ]);
});

// The state written by the buffers below in the form of the releases before this one (doubles in base64).
const BASE64_SNAPSHOT = {
  version: 1,
  layout: ['count', 'count(v)', 'sum(v)', 'count(m)', 'sum(m)', 'max(m)', 'count(s)', 'min(s)'],
  size: 2,
  cells: [
    'AAAAAAAAAEAAAAAAAADwPw==',
    'AAAAAAAAAEAAAAAAAADwPw==',
    { sums: 'AAAAAAAA+H8AAAAAAAAcQA==', big: [[0, '9007199254740994']] },
    'AAAAAAAAAEAAAAAAAAAAAA==',
    ['1.25', '0.00'],
    ['1.50', null],
    'AAAAAAAAAEAAAAAAAAAAAA==',
    ['a', null],
  ],
};

function snapshotBuffers(): { buffers: AggregateBuffers; text: string; s: Schema } {
  const s = schema([field('v', Types.long), field('m', decimal(5, 2)), field('s', Types.string)]);
  const text = 'count, sum(v), sum(m), max(m), min(s)';
  const buffers = buffersFor(text, s);
  buffers.ensureCapacity(3);
  const batch = RecordBatch.fromRows(s, [
    { v: 2 ** 53, m: '1.50', s: 'é' },
    { v: 2, m: '-0.25', s: 'a' },
    { v: 7, m: null, s: null },
  ]);
  buffers.accumulate(Int32Array.of(0, 0, 2), 3, batch.columns);
  return { buffers, text, s };
}

function restoredRows(snapshot: unknown, text: string, s: Schema): Row[] {
  const restored = buffersFor(text, s);
  restored.ensureCapacity(10);
  restored.restore(snapshot, Int32Array.of(9, 4));
  return new RecordBatch(schema(restored.resultFields()), restored.writeResults(Int32Array.of(9, 4), 2), 2).rows();
}

const RESTORED_ROWS = [
  { count: 2, 'sum(v)': 9_007_199_254_740_994n, 'sum(m)': '1.25', 'max(m)': '1.50', 'min(s)': 'a' },
  { count: 1, 'sum(v)': 7, 'sum(m)': null, 'max(m)': null, 'min(s)': null },
];

t.test('a snapshot holds doubles as Float64Arrays (the state file writes them raw), decimals and strings as text, and restores into any slots', async (t) => {
  const { buffers, text, s } = snapshotBuffers();
  const snapshot = buffers.snapshot(Int32Array.of(0, 2), 2);
  t.same(snapshot, {
    version: 1,
    layout: BASE64_SNAPSHOT.layout,
    size: 2,
    cells: [Float64Array.of(2, 1), Float64Array.of(2, 1), { sums: Float64Array.of(NaN, 7), big: [[0, '9007199254740994']] }, Float64Array.of(2, 0), ['1.25', '0.00'], ['1.50', null], Float64Array.of(2, 0), ['a', null]],
  });
  t.same(restoredRows(snapshot, text, s), RESTORED_ROWS);
});

t.test('a snapshot of the releases before, doubles in base64, restores the same groups', async (t) => {
  const { text, s } = snapshotBuffers();
  t.same(restoredRows(structuredClone(BASE64_SNAPSHOT), text, s), RESTORED_ROWS);
});

t.test('a snapshot of other aggregates is refused, naming both; an unknown version and garbage too', async (t) => {
  const snapshot = buffersFor('count, sum(v)', values).snapshot(new Int32Array(0), 0);
  const other = buffersFor('count, avg(v)', values);
  other.ensureCapacity(1);
  t.throws(() => other.restore(snapshot, new Int32Array(0)), {
    code: 'ERR_CHECKPOINT_MISMATCH',
    message: "aggregate state holds [count, count(v), sum(v)] but the query's aggregates need [count, count(v), sum(CAST(v AS DOUBLE))]: the aggregates changed since the checkpoint was written",
  });
  t.throws(() => other.restore({ ...snapshot, version: 2 }, new Int32Array(0)), { code: 'ERR_SNAPSHOT_VERSION' });
  const same = buffersFor('count, sum(v)', values);
  same.ensureCapacity(1);
  t.throws(() => same.restore({ ...snapshot, size: 1, cells: ['AAAA', { sums: '', big: [] }, 'x'] }, Int32Array.of(0)), { code: 'ERR_CHECKPOINT_CORRUPT' });
});

t.test('bytesUsed counts the buffers’ capacity', async (t) => {
  const buffers = buffersFor('count', values);
  t.equal(buffers.bytesUsed(), 0);
  buffers.ensureCapacity(1000);
  t.equal(buffers.bytesUsed(), 8 * buffers.capacity);
  const strings = buffersFor('max(s)', values);
  strings.ensureCapacity(16);
  const before = strings.bytesUsed();
  const batch = RecordBatch.fromRows(values, [{ s: 'x'.repeat(100) }]);
  strings.accumulate(Int32Array.of(0), 1, batch.columns);
  t.ok(strings.bytesUsed() >= before + 200, 'strings count their characters');
});

t.test('count alone is one Float64Array of counts, the result an f64 column', async (t) => {
  const buffers = buffersFor('count', values);
  buffers.ensureCapacity(2);
  t.same(buffers.partialFields(), [{ name: 'count', dataType: Types.long, nullable: false }]);
  t.same(buffers.resultFields(), [{ name: 'count', dataType: Types.long, nullable: false }]);
  buffers.accumulate(Int32Array.of(1, 1, 0), 3, []);
  t.same(buffers.writeResults(Int32Array.of(0, 1), 2), [{ kind: 'f64', values: Float64Array.of(1, 2), nulls: null }]);
});

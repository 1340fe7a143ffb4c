/**
 * Key texts and snapshot packing (lib/core/state-keys.ts).
 */
import t from 'tap';
import fc from 'fast-check';
import { RecordBatch, rawValueAt } from '../../lib/core/batch.js';
import { field, schema, Types, type DataType } from '../../lib/core/schema.js';
import { base64ToBytes, bytesToBase64, encodeKeyValues, KeyEncoder, packKeys, packNumbers, unpackKeys, unpackNumbers } from '../../lib/core/state-keys.js';

t.test('the key text of a row built from its columns equals the text of its storage values', async (t) => {
  const pair: DataType = { type: 'struct', fields: [field('x', Types.long), field('y', Types.string)] };
  const s = schema([field('s', Types.string), field('n', Types.double), field('b', Types.boolean), field('p', pair), field('a', { type: 'array', elementType: Types.long, containsNull: true })]);
  const batch = RecordBatch.fromRows(s, [
    { s: 'a|b', n: -0, b: true, p: { x: 1, y: '"' }, a: [1, 2] },
    { s: null, n: NaN, b: null, p: null, a: null },
  ]);
  const encoder = new KeyEncoder();
  for (let i = 0; i < batch.length; i++) {
    t.equal(encoder.encodeAt(batch.columns, i), encodeKeyValues(batch.columns.map((c) => rawValueAt(c, i))), `row ${i}`);
  }
});

t.test('key texts tell apart what Spark tells apart and no more', async (t) => {
  const text = (...values: unknown[]): string => encodeKeyValues(values);
  t.not(text('n'), text(null), 'the string "n" is not null');
  t.not(text('1'), text(1), 'a string is not a number');
  t.not(text('a|b'), text('a', 'b'), 'a separator inside a string is not a separator');
  t.equal(text(-0), text(0), '-0 groups with 0');
  t.equal(text(NaN), text(NaN), 'NaN groups with NaN');
  t.not(text([1, null]), text([1, 'n']));
});

t.test('base64 matches the standard encoding for every padding', async (t) => {
  for (const bytes of [[], [0], [0, 1], [0, 1, 2], [255, 254, 253, 252]]) {
    const a = Uint8Array.from(bytes);
    t.equal(bytesToBase64(a), globalThis.btoa(String.fromCharCode(...a)), JSON.stringify(bytes));
    t.strictSame([...base64ToBytes(bytesToBase64(a))], bytes);
  }
  t.throws(() => base64ToBytes('a*b='), RangeError);
});

t.test('packed numbers come back exactly, NaN, -0 and infinities included', async () => {
  fc.assert(fc.property(fc.array(fc.double()), (values) => Object.is(values.length, unpackNumbers(packNumbers(values)).length) && values.every((v, i) => Object.is(v, unpackNumbers(packNumbers(values))[i]))));
});

t.test('packed keys come back as the same key values', async (t) => {
  const keys = [
    ['a', 1, [1, 'x']],
    [null, 2.5, null],
  ];
  const packed = JSON.parse(JSON.stringify(packKeys(keys, 3)));
  t.ok('f64' in packed[1], 'a number-only column is packed');
  t.strictSame(unpackKeys(packed, 2), keys);
});

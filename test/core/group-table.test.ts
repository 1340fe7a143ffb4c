import t from 'tap';
import fc from 'fast-check';
import { RecordBatch, type Row } from '../../lib/core/batch.js';
import { GroupTable, keyLayout } from '../../lib/core/group-table.js';
import { parseDDL } from '../../lib/core/ddl.js';

const schema = parseDDL('action string, n double, w struct<start: timestamp, end: timestamp>, flag boolean, d decimal(10,2)');

function slotsOf(table: GroupTable, rows: Row[]): number[] {
  const batch = RecordBatch.fromRows(schema, rows);
  const cursor = table.cursor(batch.columns, batch.length);
  const out: number[] = [];
  for (let i = 0; i < batch.length; i++) {
    const h = table.hashRow(cursor, i);
    let s = table.find(cursor, i, h);
    if (s < 0) s = table.insert(cursor, i);
    out.push(s);
  }
  return out;
}

t.test('rows with equal keys share a slot; different keys get different slots', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const slots = slotsOf(table, [
    { action: 'Open', n: 1, w: { start: 0, end: 1000 }, flag: true, d: '1.50' },
    { action: 'Close', n: 1, w: { start: 0, end: 1000 }, flag: true, d: '1.50' },
    { action: 'Open', n: 1, w: { start: 0, end: 1000 }, flag: true, d: '1.50' },
    { action: 'Open', n: 2, w: { start: 0, end: 1000 }, flag: true, d: '1.50' },
  ]);
  t.equal(slots[0], slots[2]);
  t.equal(new Set(slots).size, 3);
  t.equal(table.size, 3);
});

t.test('a string met again in a later batch (another dictionary) finds its group', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const [a] = slotsOf(table, [{ action: 'Open', n: 1 }]);
  const [b] = slotsOf(table, [{ action: 'Close', n: 1 }, { action: 'Open', n: 1 }]).slice(1);
  t.equal(a, b);
});

t.test('null keys group together and apart from every value (a null string is not "", a null number not 0)', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const slots = slotsOf(table, [{ action: null, n: null }, { action: '', n: 0 }, { action: null, n: null }, { action: null, n: 0 }]);
  t.equal(slots[0], slots[2]);
  t.equal(new Set(slots).size, 3);
});

t.test('-0.0 groups with 0.0 and NaN with NaN, as Spark normalises floating-point keys', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const slots = slotsOf(table, [{ n: 0 }, { n: -0 }, { n: NaN }, { n: NaN }]);
  t.strictSame(slots, [slots[0], slots[0], slots[2], slots[2]]);
  t.not(slots[0], slots[2]);
});

t.test('a null struct is a group of its own, apart from a struct of nulls', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const slots = slotsOf(table, [{ w: null }, { w: { start: null, end: null } }, { w: null }]);
  t.equal(slots[0], slots[2]);
  t.not(slots[0], slots[1]);
});

t.test('removing a group frees its slot and its strings, and every other group stays findable', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const rows = Array.from({ length: 200 }, (_, i): Row => ({ action: `a${i % 50}`, n: i }));
  const slots = slotsOf(table, rows);
  for (let i = 0; i < 200; i += 3) table.remove(slots[i]!);
  t.equal(table.size, 200 - 67);
  const again = slotsOf(table, rows.filter((_, i) => i % 3 !== 0));
  t.strictSame(again, slots.filter((_, i) => i % 3 !== 0));
  t.equal(table.size, 200 - 67, 'nothing was inserted again');
});

t.test('insertion order survives removals and slot reuse', async (t) => {
  const table = new GroupTable(keyLayout(schema.fields));
  const first = slotsOf(table, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  table.remove(first[0]!);
  const [four] = slotsOf(table, [{ n: 4 }]);
  t.equal(four, first[0], 'the freed slot is reused');
  const order = Array.from(table.slotsInOrder()).map((s) => table.numberLane(1)[s]);
  t.strictSame(order, [2, 3, 4]);
});

t.test('property: the table agrees with a Map keyed by the row as JSON, under inserts and removals', async () => {
  const row = fc.record({ action: fc.option(fc.constantFrom('a', 'b', 'é', '😀'), { nil: null }), n: fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }) });
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(row, fc.boolean()), { maxLength: 300 }), async (ops) => {
      const table = new GroupTable(keyLayout(schema.fields));
      const model = new Map<string, number>();
      for (const [r, remove] of ops) {
        const key = JSON.stringify([r.action, r.n]);
        const [slot] = slotsOf(table, [r]);
        if (model.has(key) && model.get(key) !== slot) throw new Error(`slot moved for ${key}`);
        model.set(key, slot!);
        if (remove) {
          table.remove(slot!);
          model.delete(key);
        }
      }
      if (table.size !== model.size) throw new Error(`size ${table.size} != ${model.size}`);
    }),
  );
});

// A table of one group per order number given (keys 0, 1, …), each slot carrying its order number.
function tableWithSequences(sequences: readonly number[]): { table: GroupTable; slots: number[] } {
  const numbers = parseDDL('n double');
  const table = new GroupTable(keyLayout(numbers.fields));
  const batch = RecordBatch.fromRows(numbers, sequences.map((_, i) => ({ n: i })));
  const cursor = table.cursor(batch.columns, batch.length);
  const slots: number[] = [];
  for (let i = 0; i < batch.length; i++) {
    const slot = table.insert(cursor, i);
    table.setSequence(slot, sequences[i]!);
    slots.push(slot);
  }
  return { table, slots };
}

function byModel(table: GroupTable, slots: readonly number[]): number[] {
  return [...slots].sort((a, b) => table.sequence(a) - table.sequence(b));
}

t.test('property: inOrder sorts any subset of slots by insertion order, small and huge order numbers alike', async () => {
  // Up to 2^52: beyond 2^53 / the slot count the packed keys are no longer exact, and the radix sort takes over.
  const order = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.double({ min: 0, max: 2 ** 52, noNaN: true }).map(Math.floor));
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(order, { minLength: 1, maxLength: 400 }), fc.func(fc.boolean()), async (sequences, pick) => {
      const { table, slots } = tableWithSequences(sequences);
      const subset = slots.filter((s) => pick(s));
      const sorted = Array.from(table.inOrder(Int32Array.from(subset)));
      const expected = byModel(table, subset);
      if (JSON.stringify(sorted) !== JSON.stringify(expected)) throw new Error(`got ${sorted.join(',')}, expected ${expected.join(',')}`);
    }),
  );
});

t.test('inOrder sorts more slots than the packed sort takes (the radix sort) by insertion order', async (t) => {
  const count = 70_000;
  // Order numbers beyond 65,536, so the radix sort takes two passes.
  const sequences = Array.from({ length: count }, (_, i) => 100_000 + ((i * 7919) % count));
  const { table, slots } = tableWithSequences(sequences);
  t.strictSame(Array.from(table.inOrder(Int32Array.from(slots))), byModel(table, slots));
});

t.test('inOrder sorts slots whose largest is a power of two', async (t) => {
  // Packed as sequence × scale + slot, slot 4 would carry into the sequence's bits if the scale were 4, not 8.
  const { table, slots } = tableWithSequences([50, 40, 30, 20, 10]);
  t.strictSame(Array.from(table.inOrder(Int32Array.from(slots))), [...slots].reverse());
});

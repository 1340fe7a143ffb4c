import t from 'tap';
import { RecordBatch } from '../../lib/core/batch.js';
import { field, schema, Types } from '../../lib/core/schema.js';

const s = schema([field('time', Types.timestamp), field('action', Types.string), field('n', Types.long)]);

t.test('fromRows then rows round-trips timestamps as epoch milliseconds and nulls as null', async (t) => {
  const rows = [
    { time: 1469504400000, action: 'Open', n: 1 },
    { time: null, action: null, n: null },
  ];
  const b = RecordBatch.fromRows(s, rows);
  t.equal(b.length, 2);
  t.strictSame(b.rows(), rows);
});

t.test('take gathers rows in the given order', async (t) => {
  const b = RecordBatch.fromRows(s, [
    { time: 1, action: 'a', n: 1 },
    { time: 2, action: 'b', n: 2 },
  ]);
  const taken = b.take(Int32Array.of(1, 1, 0), 3);
  t.strictSame(taken.rows().map((r) => r.action), ['b', 'b', 'a']);
});

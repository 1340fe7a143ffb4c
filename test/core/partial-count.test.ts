import t from 'tap';
import fc from 'fast-check';
import { countGroups, partialCount, slotStarts } from '../../lib/core/partial-count.js';
import { BatchBuilder } from '../../lib/core/batch.js';
import { field, schema, Types } from '../../lib/core/schema.js';
import { eventTimeFigures } from '../../lib/core/watermark.js';

const HOUR_US = 3_600_000_000;
const eventSchema = schema([field('time', Types.timestamp), field('action', Types.string)]);

function batchOf(rows: Array<[number | null, string | null]>) {
  const builder = new BatchBuilder(eventSchema, rows.length);
  for (const [timeUs, action] of rows) {
    if (timeUs === null) builder.columns[0]!.appendNull();
    else builder.columns[0]!.appendNumber(timeUs);
    if (action === null) builder.columns[1]!.appendNull();
    else builder.columns[1]!.appendString(action);
    builder.endRow();
  }
  return builder.finish();
}

t.test('countGroups lists groups in the order of their first row, with their counts', async (t) => {
  const numbers = Float64Array.of(7, 3, 7, 3, 7);
  const ids = Int32Array.of(1, 0, 0, 0, 1);
  const groups = countGroups(numbers, null, ids, 2, 5);
  t.same([...groups.rows], [0, 1, 2]);
  t.same([...groups.counts], [2, 2, 1]);
});

t.test('countGroups keeps a null number apart from NaN and a null string apart from every id', async (t) => {
  const numbers = Float64Array.of(NaN, 0, NaN, 0);
  const nulls = Uint8Array.of(0, 1, 0, 0);
  const ids = Int32Array.of(-1, -1, 0, -1);
  const groups = countGroups(numbers, nulls, ids, 1, 4);
  t.same([...groups.rows], [0, 1, 2, 3]);
  t.same([...groups.counts], [1, 1, 1, 1]);
});

t.test('countGroups adds weights instead of ones', async (t) => {
  const groups = countGroups(Float64Array.of(1, 1, 2), null, null, 0, 3, Float64Array.of(5, 4, 3));
  t.same([...groups.rows], [0, 2]);
  t.same([...groups.counts], [9, 3]);
});

t.test('slotStarts floors times to slots, below zero and with an offset too', async (t) => {
  const out = new Float64Array(4);
  slotStarts(Float64Array.of(-1, 0, 9, 10), 4, 10, 0, out);
  t.same([...out], [-10, 0, 0, 10]);
  slotStarts(Float64Array.of(2, 3, 12, 13), 4, 10, 3, out);
  t.same([...out], [-7, 3, 3, 13]);
});

t.test('partialCount drops null times from the groups but counts them as 0 in the event-time figures', async (t) => {
  const counts = partialCount(batchOf([[HOUR_US + 5_000_000, 'Open'], [null, 'Open'], [HOUR_US + 9_000_000, null], [2 * HOUR_US, 'Open']]), {
    timeIndex: 0,
    keyIndex: 1,
    slideUs: HOUR_US,
    startTimeUs: 0,
  });
  t.same([...counts.slotStarts], [HOUR_US, HOUR_US, 2 * HOUR_US]);
  t.same(counts.keys, ['Open', null, 'Open']);
  t.same([...counts.counts], [1, 1, 1]);
  t.same(counts.eventTime, { maxMs: 7_200_000, minMs: 0, sumMs: 3_605_000 + 3_609_000 + 7_200_000, count: 4 });
});

t.test('partialCount without a key groups by slot alone', async (t) => {
  const counts = partialCount(batchOf([[1, 'a'], [2, 'b'], [HOUR_US, 'a']]), { timeIndex: 0, keyIndex: -1, slideUs: HOUR_US, startTimeUs: 0 });
  t.same([...counts.slotStarts], [0, HOUR_US]);
  t.equal(counts.keys, null);
  t.same([...counts.counts], [2, 1]);
});

t.test('partialCount equals a group-by on (floor(time / slide), action), with the event-time figures of the whole column', async (t) => {
  const row = fc.tuple(fc.option(fc.integer({ min: -50, max: 50 }), { nil: null }), fc.option(fc.constantFrom('Open', 'Close', 'é'), { nil: null }));
  fc.assert(
    fc.property(fc.array(row, { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (rows, slide) => {
      const batch = batchOf(rows);
      const counts = partialCount(batch, { timeIndex: 0, keyIndex: 1, slideUs: slide, startTimeUs: 0 });
      t.same(counts.eventTime, eventTimeFigures(batch.columns[0]!, batch.length));
      const expected = new Map<string, number>();
      const firstSeen: string[] = [];
      for (const [time, action] of rows) {
        if (time === null) continue;
        const k = JSON.stringify([Math.floor(time / slide) * slide, action]);
        if (!expected.has(k)) firstSeen.push(k);
        expected.set(k, (expected.get(k) ?? 0) + 1);
      }
      const got = Array.from({ length: counts.length }, (_, g) => JSON.stringify([counts.slotStarts[g], counts.keys![g]]));
      t.same(got, firstSeen);
      t.same([...counts.counts], firstSeen.map((k) => expected.get(k)));
    }),
    { numRuns: 200 },
  );
});

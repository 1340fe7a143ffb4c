/**
 * A chunk's pane groups go out as the windows they lie in, combined per
 * (window, key): the same windows, in the order the keyed state's own
 * expansion meets them, with the partial buffers the state would have merged
 * pane row by pane row.
 */
import t from 'tap';
import fc from 'fast-check';
import { PaneWindows } from '../../lib/core/pane-windows.js';
import { AggregateBuffers } from '../../lib/core/aggregate-buffers.js';
import { CountStore } from '../../lib/core/count-store.js';
import { parseAggregates, resolveAggregates } from '../../lib/core/aggregate-spec.js';
import { parseDDL } from '../../lib/core/ddl.js';
import type { Column } from '../../lib/core/batch.js';
import type { PartialAggregates } from '../../lib/core/partial-aggregate.js';

const SCHEMA = parseDDL('time timestamp, action string, temperature double, n long');
const AGGREGATES = resolveAggregates(parseAggregates('count, sum(temperature), avg(temperature), min(temperature), max(n), count(n)'), SCHEMA);

function columnValues(c: Column): unknown[] {
  if (c.kind === 'f64' || c.kind === 'bool') return Array.from(c.values, (v, i) => (c.nulls !== null && c.nulls[i] === 1 ? null : Object.is(v, -0) ? '-0' : v));
  if (c.kind === 'any') return c.values.map((v) => (typeof v === 'bigint' ? `${v}n` : v));
  throw new Error(`unexpected column kind ${c.kind}`);
}

t.test('each pane row stands for its windows by ascending start; groups are new in that order and combine per (window, key)', async (t) => {
  const panes: PartialAggregates = {
    length: 4,
    slotStarts: Float64Array.of(20, 10, 20, 30),
    keys: ['a', 'a', 'b', 'a'],
    partial: [{ kind: 'f64', values: Float64Array.of(1, 2, 4, 8), nulls: null }],
    eventTime: null,
  };
  const windows = new PaneWindows(new CountStore(), 3, 10).expand(panes);
  t.equal(windows.length, 8);
  t.same(Array.from(windows.slotStarts), [0, 10, 20, -10, 0, 10, 20, 30]);
  t.same(windows.keys, ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'a']);
  t.same(columnValues(windows.partial[0]!), [3, 11, 9, 2, 4, 4, 4, 8]);
});

t.test('a window of one pane leaves the groups as they are', async (t) => {
  const panes: PartialAggregates = { length: 1, slotStarts: Float64Array.of(5), keys: null, partial: [{ kind: 'f64', values: Float64Array.of(3), nulls: null }], eventTime: null };
  t.equal(new PaneWindows(new CountStore(), 1, 10).expand(panes), panes);
});

t.test('the event-time figures are the panes’ own', async (t) => {
  const eventTime = { maxMs: 1, minMs: 0, sumMs: 1, count: 2 };
  const panes: PartialAggregates = { length: 1, slotStarts: Float64Array.of(0), keys: null, partial: [{ kind: 'f64', values: Float64Array.of(2), nulls: null }], eventTime };
  t.equal(new PaneWindows(new CountStore(), 2, 10).expand(panes).eventTime, eventTime);
});

// The keyed state's way: every pane row merged once into each of its windows, one row at a time.
function rowByRow(panes: PartialAggregates, perPane: number, slideUs: number): { starts: number[]; keys: Array<string | null>; partial: unknown[][] } {
  const store = new AggregateBuffers(AGGREGATES);
  const index = new Map<string, number>();
  const starts: number[] = [];
  const keys: Array<string | null> = [];
  for (let i = 0; i < panes.length; i++) {
    const key = panes.keys === null ? null : panes.keys[i]!;
    for (let j = perPane - 1; j >= 0; j--) {
      const start = panes.slotStarts[i]! - j * slideUs;
      const id = `${start}|${key}`;
      let w = index.get(id);
      if (w === undefined) {
        index.set(id, (w = starts.length));
        starts.push(start);
        keys.push(key);
        store.ensureCapacity(w + 1);
        store.reset(w);
      }
      const row = panes.partial.map((c): Column => (c.kind === 'f64' ? { kind: 'f64', values: c.values.slice(i, i + 1), nulls: c.nulls === null ? null : c.nulls.slice(i, i + 1) } : c.kind === 'any' ? { kind: 'any', values: c.values.slice(i, i + 1) } : c));
      store.mergePartial(Int32Array.of(w), 1, row);
    }
  }
  const slots = Int32Array.from(starts, (_, w) => w);
  return { starts, keys, partial: store.writePartial(slots, starts.length).map(columnValues) };
}

// Panes `grid` slides apart (70,000: too far apart for the table of windows, which then are
// found through maps), and with `offGrid` some a microsecond off the slides' grid (which the
// table cannot index either).
t.test('combining in the chunk gives the windows, order and buffers of merging pane rows one by one', async (t) => {
  const value = fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: null });
  const row = fc.record({ pane: fc.integer({ min: -3, max: 6 }), key: fc.constantFrom<string | null>('a', 'b', 'é', null), temperature: value, n: value });
  await fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom(1, 70_000), fc.boolean(), (rows, perPane, grid, offGrid) => {
      const slideUs = 600;
      // The panes of the rows, in first-row order, with their partial buffers.
      const paneOf = new Map<string, number>();
      const rowSlots = new Int32Array(rows.length);
      const slotStarts: number[] = [];
      const keys: Array<string | null> = [];
      rows.forEach((r, i) => {
        const id = `${r.pane}|${r.key}`;
        let p = paneOf.get(id);
        if (p === undefined) {
          paneOf.set(id, (p = slotStarts.length));
          slotStarts.push(r.pane * grid * slideUs + (offGrid && r.pane % 2 !== 0 ? 1 : 0));
          keys.push(r.key);
        }
        rowSlots[i] = p;
      });
      const raw = new AggregateBuffers(AGGREGATES);
      raw.ensureCapacity(slotStarts.length);
      for (let p = 0; p < slotStarts.length; p++) raw.reset(p);
      const number = (pick: (r: (typeof rows)[number]) => number | null): Column => ({
        kind: 'f64',
        values: Float64Array.from(rows, (r) => pick(r) ?? 0),
        nulls: Uint8Array.from(rows, (r) => (pick(r) === null ? 1 : 0)),
      });
      const input: Column[] = [number(() => 0), { kind: 'any', values: rows.map((r) => r.key) }, number((r) => r.temperature), number((r) => r.n)];
      raw.accumulate(rowSlots, rows.length, input, null);
      const panes: PartialAggregates = {
        length: slotStarts.length,
        slotStarts: Float64Array.from(slotStarts),
        keys,
        partial: raw.writePartial(Int32Array.from(slotStarts, (_, p) => p), slotStarts.length),
        eventTime: null,
      };
      const windows = new PaneWindows(new AggregateBuffers(AGGREGATES), perPane, slideUs).expand(panes);
      const expected = rowByRow(panes, perPane, slideUs);
      t.same({ starts: Array.from(windows.slotStarts), keys: windows.keys, partial: windows.partial.map(columnValues) }, expected);
    }),
    { numRuns: 400 },
  );
});

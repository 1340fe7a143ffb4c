/**
 * Partial aggregation, stream-free: a batch's rows counted per group before
 * they reach the keyed state (Spark's partial `HashAggregate` before the
 * state store). `KeyedCount` combines each batch with {@link countGroups};
 * a parse that counts on its own (see `ParseSchema`'s count push-down) uses
 * {@link partialCount} to read, window and count a chunk in one place,
 * possibly on another thread, and sends only the groups on.
 *
 * @module
 */
import type { Column, RecordBatch } from './batch.js';
import { figuresOfUs, type EventTimeFigures } from './watermark.js';

/** Groups of a batch, each with the row it first appeared at and its row count; ordered by that row. */
export interface CountedGroups {
  /** First row of each group. */
  readonly rows: Int32Array;
  /** Rows (or summed weights) per group. */
  readonly counts: Float64Array;
  /** Number of groups. */
  readonly length: number;
}

// Stands for a null number (NaN is a valid key, but a null must not meet a NaN value).
const NULL_NUMBER = Symbol.for('tidemark.null') as unknown as number;

/**
 * Counts rows per (number, string id) — the usual grouping of a window and a
 * string key — in dense arrays: string ids index an array, numbers a small
 * map, so a batch costs one array increment per row.
 *
 * @param numbers - the number of each row (a window start, a timestamp), or null when the grouping has none.
 * @param numberNulls - 1 where a row's number is null.
 * @param ids - the string id of each row (-1 is null), or null when the grouping has no string.
 * @param idCount - number of distinct ids (the dictionary's size).
 * @param weights - what each row counts for (rows that are already partial counts); 1 each when null.
 */
export function countGroups(
  numbers: Float64Array | null,
  numberNulls: Uint8Array | null,
  ids: Int32Array | null,
  idCount: number,
  length: number,
  weights: Float64Array | null = null,
): CountedGroups {
  const width = ids === null ? 1 : idCount + 1;
  const slots = new Map<number, { counts: Float64Array; firstRow: Int32Array }>();
  let lastNumber = NaN;
  let slot: { counts: Float64Array; firstRow: Int32Array } | undefined;
  let groupCount = 0;
  for (let i = 0; i < length; i++) {
    const n = numbers === null ? 0 : numberNulls !== null && numberNulls[i] === 1 ? NULL_NUMBER : numbers[i]!;
    // Rows come mostly in event-time order: most of them fall in the slot of the row before.
    if (n !== lastNumber || slot === undefined) {
      slot = slots.get(n);
      if (slot === undefined) {
        slot = { counts: new Float64Array(width), firstRow: new Int32Array(width) };
        slots.set(n, slot);
      }
      lastNumber = n;
    }
    const k = ids === null ? 0 : ids[i]! + 1;
    if (slot.counts[k] === 0) {
      slot.firstRow[k] = i;
      groupCount++;
    }
    slot.counts[k] += weights === null ? 1 : weights[i]!;
  }
  const groups = byFirstRow(slots, width, groupCount);
  return { rows: groups.rows, counts: groups.counts, length: groupCount };
}

interface Slot {
  readonly counts: Float64Array | Int32Array;
  readonly firstRow: Int32Array;
}

/**
 * The groups of per-number slots (counts by string id + 1) in the order of
 * their first row: new groups enter the state in the order they came, as
 * they would row by row, so the output order depends on the data only, not
 * on string ids, and a restart writes the same bytes.
 */
function byFirstRow(slots: ReadonlyMap<number, Slot>, width: number, groupCount: number): { rows: Int32Array; numbers: number[]; idSlots: Int32Array; counts: Float64Array } {
  const firstRows = new Int32Array(groupCount);
  const numbers = new Array<number>(groupCount);
  const idSlots = new Int32Array(groupCount);
  const counts = new Float64Array(groupCount);
  let g = 0;
  for (const [number, slot] of slots) {
    for (let k = 0; k < width; k++) {
      if (slot.counts[k] === 0) continue;
      firstRows[g] = slot.firstRow[k]!;
      numbers[g] = number;
      idSlots[g] = k;
      counts[g] = slot.counts[k]!;
      g++;
    }
  }
  const order = Array.from({ length: groupCount }, (_, i) => i).sort((a, b) => firstRows[a]! - firstRows[b]!);
  const sorted = { rows: new Int32Array(groupCount), numbers: new Array<number>(groupCount), idSlots: new Int32Array(groupCount), counts: new Float64Array(groupCount) };
  for (let o = 0; o < groupCount; o++) {
    const at = order[o]!;
    sorted.rows[o] = firstRows[at]!;
    sorted.numbers[o] = numbers[at]!;
    sorted.idSlots[o] = idSlots[at]!;
    sorted.counts[o] = counts[at]!;
  }
  return sorted;
}

/**
 * The start of the slot of `slideUs` holding each time (a tumbling window,
 * or a pane of a sliding one), written into `out`. Null slots get a value
 * that means nothing; callers skip them.
 */
export function slotStarts(times: Float64Array, length: number, slideUs: number, startTimeUs: number, out: Float64Array): void {
  let lastStart = NaN;
  let lastEnd = NaN;
  for (let i = 0; i < length; i++) {
    const t = times[i]!;
    // Event times come mostly in order: skipping the remainder (slow on microsecond values) when
    // a row falls in the slot of the row before pays.
    if (!(t >= lastStart && t < lastEnd)) {
      const remainder = (t - startTimeUs) % slideUs;
      lastStart = t - (remainder < 0 ? remainder + slideUs : remainder);
      lastEnd = lastStart + slideUs;
    }
    out[i] = lastStart;
  }
}

const EMPTY_COUNTS = new Int32Array(0);

/** What {@link partialCount} counts by: columns of the parsed batch and the slot arithmetic. */
export interface PartialCountPlan {
  /** Index of the event-time column (a timestamp) in the batch. */
  readonly timeIndex: number;
  /** Index of the string column grouped by, or -1 when the grouping is the window alone. */
  readonly keyIndex: number;
  /** Slot length: the window's duration when tumbling, its slide when counting panes. */
  readonly slideUs: number;
  /** Window offset (Spark's `startTime`). */
  readonly startTimeUs: number;
}

/** A batch reduced to its groups. Plain data: it crosses threads by structured clone. */
export interface PartialCounts {
  /** Number of groups. */
  readonly length: number;
  /** Slot start (µs) of each group. */
  readonly slotStarts: Float64Array;
  /** String key of each group (null for a null key), or null when the grouping has no string. */
  readonly keys: Array<string | null> | null;
  /** The key of each group as its batch string id + 1 (0: null, or no string key): with the slot start, what {@link groupOfRows} maps rows by. */
  readonly idSlots: Int32Array;
  /** Rows per group. */
  readonly counts: Float64Array;
  /** Event-time figures of every row read (null times as 0, rows the window drops included), as the watermark needs them. */
  readonly eventTime: EventTimeFigures | null;
}

/**
 * Counts a parsed batch per (slot, key), the way `Watermark → Window →
 * KeyedCount` would see it: rows with a null time fall in no window, every
 * row feeds the event-time figures, and groups come in first-row order.
 *
 * One pass does what {@link slotStarts}, {@link countGroups} and
 * `eventTimeFigures` do in three: this runs on every row the count
 * push-down reads. The property test in `test/core/partial-count.test.ts`
 * holds it to a plain group-by, and the push-down's differential test to
 * the stages.
 */
export function partialCount(batch: RecordBatch, plan: PartialCountPlan): PartialCounts {
  const length = batch.length;
  const time = batch.columns[plan.timeIndex] as Extract<Column, { kind: 'f64' }>;
  const times = time.values;
  const nulls = time.nulls;
  const key = plan.keyIndex < 0 ? null : (batch.columns[plan.keyIndex] as Extract<Column, { kind: 'dict' }>);
  const ids = key === null ? null : key.ids;
  const width = key === null ? 1 : key.dictionary.size + 1;
  const { slideUs, startTimeUs } = plan;
  const slots = new Map<number, { counts: Int32Array; firstRow: Int32Array }>();
  // The current slot's arrays in locals: the loop touches nothing else per row.
  let slotCounts: Int32Array = EMPTY_COUNTS;
  let slotFirstRows: Int32Array = EMPTY_COUNTS;
  let lastStart = NaN;
  let lastEnd = NaN;
  let groupCount = 0;
  // Event-time figures as eventTimeFigures takes them: microseconds, a null time read as 0.
  let maxUs = -Infinity;
  let minUs = Infinity;
  let sumUs = 0;
  for (let i = 0; i < length; i++) {
    if (nulls !== null && nulls[i] === 1) {
      if (0 > maxUs) maxUs = 0;
      if (0 < minUs) minUs = 0;
      continue;
    }
    const t = times[i]!;
    if (t > maxUs) maxUs = t;
    if (t < minUs) minUs = t;
    sumUs += t;
    // Event times come mostly in order: most rows fall in the slot of the row before.
    if (!(t >= lastStart && t < lastEnd)) {
      const remainder = (t - startTimeUs) % slideUs;
      lastStart = t - (remainder < 0 ? remainder + slideUs : remainder);
      lastEnd = lastStart + slideUs;
      let slot = slots.get(lastStart);
      if (slot === undefined) {
        slot = { counts: new Int32Array(width), firstRow: new Int32Array(width) };
        slots.set(lastStart, slot);
      }
      slotCounts = slot.counts;
      slotFirstRows = slot.firstRow;
    }
    const k = ids === null ? 0 : ids[i]! + 1;
    if (slotCounts[k]++ === 0) {
      slotFirstRows[k] = i;
      groupCount++;
    }
  }
  const groups = byFirstRow(slots, width, groupCount);
  const keys: Array<string | null> | null = key === null ? null : new Array<string | null>(groupCount);
  if (keys !== null) for (let g = 0; g < groupCount; g++) keys[g] = groups.idSlots[g] === 0 ? null : key!.dictionary.values[groups.idSlots[g]! - 1]!;
  return { length: groupCount, slotStarts: Float64Array.from(groups.numbers), keys, idSlots: groups.idSlots, counts: groups.counts, eventTime: length === 0 ? null : figuresOfUs(maxUs, minUs, sumUs, length) };
}

/**
 * The group (index into `groups`) of every row of the batch {@link partialCount}
 * counted, or -1 for a row with a null time (in no window): what aggregate
 * buffers accumulate by when the aggregation is more than a count.
 */
export function groupOfRows(batch: RecordBatch, plan: PartialCountPlan, groups: PartialCounts): Int32Array {
  const length = batch.length;
  const time = batch.columns[plan.timeIndex] as Extract<Column, { kind: 'f64' }>;
  const key = plan.keyIndex < 0 ? null : (batch.columns[plan.keyIndex] as Extract<Column, { kind: 'dict' }>);
  const width = key === null ? 1 : key.dictionary.size + 1;
  const bySlot = new Map<number, Int32Array>();
  for (let g = 0; g < groups.length; g++) {
    let row = bySlot.get(groups.slotStarts[g]!);
    if (row === undefined) bySlot.set(groups.slotStarts[g]!, (row = new Int32Array(width)));
    row[groups.idSlots[g]!] = g;
  }
  const out = new Int32Array(length);
  const starts = new Float64Array(length);
  slotStarts(time.values, length, plan.slideUs, plan.startTimeUs, starts);
  for (let i = 0; i < length; i++) {
    if (time.nulls !== null && time.nulls[i] === 1) {
      out[i] = -1;
      continue;
    }
    out[i] = bySlot.get(starts[i]!)![key === null ? 0 : key.ids[i]! + 1]!;
  }
  return out;
}

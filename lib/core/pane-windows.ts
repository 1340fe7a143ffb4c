/**
 * A chunk's pane groups turned into the sliding windows they stand for,
 * where the chunk was read. A pane (one slide long) lies in
 * `duration / slide` windows; the keyed state used to receive the panes and
 * repeat each pane row once per window, so every row of every chunk cost it
 * that many hash-table merges on the query's thread. Panes of one chunk are
 * consecutive, and the windows they share are combined here (on the worker)
 * first: the state then merges one row per (window, key) of the chunk.
 *
 * The windows and their partial buffers are those the state's own expansion
 * makes: each pane row's windows by ascending start, pane rows in their
 * order, so groups are new in the same order and each window's panes are
 * merged in the same order.
 *
 * @module
 */
import { takeColumn } from './batch.js';
import type { AggregateStore } from './count-store.js';
import type { PartialAggregates } from './partial-aggregate.js';

// Cells of (window, key) a chunk's table may have: above, its windows are found through maps.
const DENSE_CELLS = 1 << 16;

/** Expands chunks' pane groups into window groups, reusing its buffers across chunks. */
export class PaneWindows {
  /** Windows each pane lies in (`duration / slide`). */
  readonly panesPerWindow: number;
  /** Pane length (the window's slide), µs. */
  readonly slideUs: number;
  readonly #store: AggregateStore;
  // Scratch reused across chunks (see #denseWindows).
  #keyOfBuffer = new Int32Array(256);
  #paneSlotBuffer = new Int32Array(256);
  #cellBuffer = new Int32Array(1024);

  /**
   * @param store - empty buffers of the aggregation's kind; this object owns them.
   * @param panesPerWindow - the window's duration over its slide, at least 1.
   */
  constructor(store: AggregateStore, panesPerWindow: number, slideUs: number) {
    this.#store = store;
    this.panesPerWindow = panesPerWindow;
    this.slideUs = slideUs;
  }

  /** The windows of `panes` (`slotStarts` are pane starts), partial buffers combined per (window, key). */
  expand(panes: PartialAggregates): PartialAggregates {
    const perPane = this.panesPerWindow;
    const n = panes.length;
    if (perPane === 1 || n === 0) return panes;
    const total = n * perPane;
    // Expanded row r is pane row paneRow[r] counted into window group windowOf[r].
    const paneRow = new Int32Array(total);
    const windowOf = new Int32Array(total);
    const starts: number[] = [];
    const keys: Array<string | null> | null = panes.keys === null ? null : [];
    if (!this.#denseWindows(panes, paneRow, windowOf, starts, keys)) this.#mappedWindows(panes, paneRow, windowOf, starts, keys);
    const length = starts.length;
    const store = this.#store;
    store.ensureCapacity(length);
    const slots = new Int32Array(length);
    for (let w = 0; w < length; w++) {
      slots[w] = w;
      store.reset(w);
    }
    store.mergePartial(windowOf, total, panes.partial.map((c) => takeColumn(c, paneRow, total)));
    return { length, slotStarts: Float64Array.from(starts), keys, partial: store.writePartial(slots, length), eventTime: panes.eventTime };
  }

  // The windows looked up in a table of (window, key) cells: a chunk's panes are a few hours of
  // consecutive slides, so the cells are few. A map keyed by the window's start boxed that double
  // on each of a pane row's `perPane` lookups: about a tenth of a sliding query's chunk on a worker.
  // False, having written nothing, when the panes are not on one grid of slides or the table
  // would be large (many keys over a long span).
  #denseWindows(panes: PartialAggregates, paneRow: Int32Array, windowOf: Int32Array, starts: number[], keys: Array<string | null> | null): boolean {
    const n = panes.length;
    const perPane = this.panesPerWindow;
    const slideUs = this.slideUs;
    const slotStarts = panes.slotStarts;
    let minStart = Infinity;
    let maxStart = -Infinity;
    for (let i = 0; i < n; i++) {
      const s = slotStarts[i]!;
      if (s < minStart) minStart = s;
      if (s > maxStart) maxStart = s;
    }
    // The earliest window starts perPane - 1 slides before the earliest pane.
    const first = minStart - (perPane - 1) * slideUs;
    const span = (maxStart - first) / slideUs + 1;
    if (!Number.isSafeInteger(span) || span > DENSE_CELLS) return false;
    const keyOf = (this.#keyOfBuffer = withRoom(this.#keyOfBuffer, n));
    const keyIds = new Map<string | null, number>();
    const paneSlot = (this.#paneSlotBuffer = withRoom(this.#paneSlotBuffer, n));
    for (let i = 0; i < n; i++) {
      const slot = (slotStarts[i]! - first) / slideUs;
      if (!Number.isInteger(slot)) return false;
      paneSlot[i] = slot;
      const key = panes.keys === null ? null : panes.keys[i]!;
      let k = keyIds.get(key);
      if (k === undefined) keyIds.set(key, (k = keyIds.size));
      keyOf[i] = k;
    }
    const keyCount = keyIds.size;
    const cells = span * keyCount;
    if (cells > DENSE_CELLS) return false;
    const table = this.#cells(cells);
    let r = 0;
    for (let i = 0; i < n; i++) {
      const k = keyOf[i]!;
      const slot = paneSlot[i]!;
      for (let j = perPane - 1; j >= 0; j--) {
        const cell = (slot - j) * keyCount + k;
        let w = table[cell]!;
        if (w < 0) {
          w = starts.length;
          table[cell] = w;
          starts.push(slotStarts[i]! - j * slideUs);
          keys?.push(panes.keys === null ? null : panes.keys[i]!);
        }
        paneRow[r] = i;
        windowOf[r] = w;
        r++;
      }
    }
    return true;
  }

  // Any panes: the windows by start, then by key.
  #mappedWindows(panes: PartialAggregates, paneRow: Int32Array, windowOf: Int32Array, starts: number[], keys: Array<string | null> | null): void {
    const perPane = this.panesPerWindow;
    const byStart = new Map<number, Map<string | null, number>>();
    let r = 0;
    for (let i = 0; i < panes.length; i++) {
      const key = panes.keys === null ? null : panes.keys[i]!;
      for (let j = perPane - 1; j >= 0; j--) {
        const start = panes.slotStarts[i]! - j * this.slideUs;
        let groups = byStart.get(start);
        if (groups === undefined) byStart.set(start, (groups = new Map()));
        let w = groups.get(key);
        if (w === undefined) {
          w = starts.length;
          groups.set(key, w);
          starts.push(start);
          keys?.push(key);
        }
        paneRow[r] = i;
        windowOf[r] = w;
        r++;
      }
    }
  }

  // `cells` cells, each -1 (no window yet).
  #cells(cells: number): Int32Array {
    this.#cellBuffer = withRoom(this.#cellBuffer, cells);
    this.#cellBuffer.fill(-1, 0, cells);
    return this.#cellBuffer;
  }
}

// `buffer`, or a larger one (contents not kept) when it has fewer than `n` elements.
function withRoom(buffer: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  return buffer.length >= n ? buffer : new Int32Array(Math.max(n, buffer.length * 2));
}

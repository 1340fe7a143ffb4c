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

/** Expands chunks' pane groups into window groups, reusing its buffers across chunks. */
export class PaneWindows {
  /** Windows each pane lies in (`duration / slide`). */
  readonly panesPerWindow: number;
  /** Pane length (the window's slide), µs. */
  readonly slideUs: number;
  readonly #store: AggregateStore;

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
    const byStart = new Map<number, Map<string | null, number>>();
    let r = 0;
    for (let i = 0; i < n; i++) {
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
}

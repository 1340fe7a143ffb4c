/**
 * Partial aggregation where the rows are read (Spark's partial
 * `HashAggregate` before the state store): a parsed chunk reduced to its
 * groups — (window or pane, string key) — with each group's partial
 * buffers, which the keyed state merges. Stream-free, and its results are
 * plain data: they cross threads by structured clone.
 *
 * @module
 */
import type { Column, RecordBatch } from './batch.js';
import { AggregateBuffers } from './aggregate-buffers.js';
import type { ResolvedAggregate } from './aggregate-spec.js';
import { CountStore, type AggregateStore } from './count-store.js';
import { groupOfRows, partialCount, type PartialCountPlan } from './partial-count.js';
import type { Field } from './schema.js';
import type { EventTimeFigures } from './watermark.js';

/** Which aggregate buffers a keyed aggregation keeps: a plain count, or Spark's aggregate functions. */
export type StoreSpec = { readonly kind: 'count'; readonly name: string } | { readonly kind: 'aggregates'; readonly aggregates: readonly ResolvedAggregate[] };

/** The buffers for `spec`: the same on the thread that reads and on the one that keeps the state. */
export function createAggregateStore(spec: StoreSpec): AggregateStore {
  return spec.kind === 'count' ? new CountStore(spec.name) : new AggregateBuffers(spec.aggregates);
}

/** The columns of a partial-aggregate row for `spec` (after the grouping columns). */
export function partialFieldsOf(spec: StoreSpec): Field[] {
  return createAggregateStore(spec).partialFields();
}

/** What to compute: {@link PartialCountPlan}'s grouping and the buffers. */
export interface PartialAggregatePlan extends PartialCountPlan {
  readonly store: StoreSpec;
  /**
   * Windows per slot when the slots are panes of a sliding window (its
   * duration over its slide): a chunk's groups then go out as the windows the
   * panes stand for (see `PaneWindows`). 1 (or absent): the slots are the windows.
   */
  readonly panesPerWindow?: number;
}

/** A chunk reduced to its groups. Plain data. */
export interface PartialAggregates {
  /** Number of groups. */
  readonly length: number;
  /** Slot (window or pane) start of each group, µs. */
  readonly slotStarts: Float64Array;
  /** String key of each group, or null when the grouping has none. */
  readonly keys: Array<string | null> | null;
  /** The partial buffers, one column per {@link partialFieldsOf} field. */
  readonly partial: Column[];
  /** Event-time figures of every row read (a null time counts as 0), for the watermark; null for no row. */
  readonly eventTime: EventTimeFigures | null;
}

/** Reduces a parsed batch to its groups and their partial buffers, groups in first-row order. */
export function partialAggregate(batch: RecordBatch, plan: PartialAggregatePlan): PartialAggregates {
  const counts = partialCount(batch, plan);
  let partial: Column[];
  if (plan.store.kind === 'count') {
    partial = [{ kind: 'f64', values: counts.counts, nulls: null }];
  } else {
    const buffers = new AggregateBuffers(plan.store.aggregates);
    buffers.ensureCapacity(counts.length);
    const slots = new Int32Array(counts.length);
    for (let g = 0; g < counts.length; g++) {
      slots[g] = g;
      buffers.reset(g);
    }
    buffers.accumulate(groupOfRows(batch, plan, counts), batch.length, batch.columns, null);
    partial = buffers.writePartial(slots, counts.length);
  }
  return { length: counts.length, slotStarts: counts.slotStarts, keys: counts.keys, partial, eventTime: counts.eventTime };
}

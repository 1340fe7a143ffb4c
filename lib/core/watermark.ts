/**
 * Event-time statistics and the watermark tracker (Spark's
 * `EventTimeStats` and `WatermarkTracker`).
 *
 * The watermark of a micro-batch is computed after the batch from the largest
 * event time seen, and is used by the *next* batch; it starts at 0 and never
 * decreases. With several watermarked inputs, a policy (`min`, Spark's
 * default, or `max`) chooses the global value from the per-input ones.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { Column } from './batch.js';

/** max/min/avg/count of the event times (ms) of one micro-batch. */
export class EventTimeStats {
  max = -Infinity;
  min = Infinity;
  sum = 0;
  count = 0;

  /** Adds one event time, in milliseconds. */
  add(eventTimeMs: number): void {
    if (eventTimeMs > this.max) this.max = eventTimeMs;
    if (eventTimeMs < this.min) this.min = eventTimeMs;
    this.sum += eventTimeMs;
    this.count++;
  }

  /** Adds the figures of many event times at once. */
  merge(max: number, min: number, sum: number, count: number): void {
    if (count === 0) return;
    if (max > this.max) this.max = max;
    if (min < this.min) this.min = min;
    this.sum += sum;
    this.count += count;
  }

  /** Average truncated to whole milliseconds, as Spark reports it. */
  get avg(): number {
    return Math.trunc(this.sum / this.count);
  }

  /** Forgets everything (start of a micro-batch). */
  reset(): void {
    this.max = -Infinity;
    this.min = Infinity;
    this.sum = 0;
    this.count = 0;
  }
}

/** Event-time figures of many rows at once, in milliseconds: what {@link EventTimeStats.merge} takes. */
export interface EventTimeFigures {
  readonly maxMs: number;
  readonly minMs: number;
  readonly sumMs: number;
  readonly count: number;
}

/**
 * The figures of an event-time column (a timestamp, or a window struct whose
 * end is used): every row counts, and a null time counts as 0, because Spark
 * reads the null slot as 0. Null for an empty batch.
 */
export function eventTimeFigures(column: Column, length: number): EventTimeFigures | null {
  const times = column.kind === 'struct' ? column.children[1]! : column;
  if (times.kind !== 'f64' || length === 0) return null;
  const values = times.values;
  const nulls = column.kind === 'struct' ? column.nulls : times.nulls;
  // Max and min are taken on microseconds and truncated after (truncation keeps their order); the
  // average, a progress figure, comes from the microsecond sum (it can differ from Spark's by under
  // 1 ms only for times with sub-millisecond digits).
  let maxUs = -Infinity;
  let minUs = Infinity;
  let sumUs = 0;
  for (let i = 0; i < length; i++) {
    const us = nulls !== null && nulls[i] === 1 ? 0 : values[i]!;
    if (us > maxUs) maxUs = us;
    if (us < minUs) minUs = us;
    sumUs += us;
  }
  return figuresOfUs(maxUs, minUs, sumUs, length);
}

/** Event-time figures from microsecond max, min and sum: max and min truncated to whole ms. */
export function figuresOfUs(maxUs: number, minUs: number, sumUs: number, count: number): EventTimeFigures {
  return { maxMs: Math.trunc(maxUs / 1000), minMs: Math.trunc(minUs / 1000), sumMs: sumUs / 1000, count };
}

/** How the global watermark is chosen from several inputs' watermarks. */
export type MultipleWatermarkPolicy = 'min' | 'max';

/** Validates a policy name with Spark's message. */
export function parseWatermarkPolicy(value: string): MultipleWatermarkPolicy {
  const v = value.trim().toLowerCase();
  if (v === 'min' || v === 'max') return v;
  throw new TidemarkError(
    'ERR_INVALID_WATERMARK_POLICY',
    `Invalid value for spark.sql.streaming.multipleWatermarkPolicy: '${value}'. Valid values are 'min' and 'max'`,
    { option: 'multipleWatermarkPolicy' },
  );
}

/** What one watermarked input saw during a micro-batch. */
export interface WatermarkInput {
  /** `withWatermark`'s delay. */
  readonly delayMs: number;
  /** Event times of the batch; `count === 0` when it saw no rows. */
  readonly stats: EventTimeStats;
}

/** What a tracker checkpoints: only the global value (per-input values restart empty, as in Spark). */
export interface WatermarkTrackerState {
  readonly globalWatermarkMs: number;
  readonly policy: MultipleWatermarkPolicy;
}

/** Spark's `WatermarkTracker`. Pure: no streams, no clock. */
export class WatermarkTracker {
  readonly policy: MultipleWatermarkPolicy;
  // -0, not 0: a double from the start. A field that starts as a small integer and later
  // holds a timestamp changes the object's hidden class, which discards the code V8 optimised
  // for it (every method using the field is compiled again).
  #globalMs = -0;
  readonly #perInput = new Map<number, number>();

  constructor(policy: MultipleWatermarkPolicy = 'min') {
    this.policy = policy;
  }

  /** The global watermark in ms. */
  get watermarkMs(): number {
    return this.#globalMs;
  }

  /**
   * Folds one micro-batch's statistics in (call after the batch) and returns
   * the new global watermark. Inputs that never saw a row count as 0.
   */
  update(inputs: readonly WatermarkInput[]): number {
    if (inputs.length === 0) return this.#globalMs;
    inputs.forEach((input, index) => {
      const previous = this.#perInput.get(index);
      if (input.stats.count > 0) {
        const candidate = input.stats.max - input.delayMs;
        if (previous === undefined || candidate > previous) this.#perInput.set(index, candidate);
      } else if (previous === undefined) {
        this.#perInput.set(index, 0);
      }
    });
    const values = [...this.#perInput.values()];
    const chosen = this.policy === 'min' ? Math.min(...values) : Math.max(...values);
    if (chosen > this.#globalMs) this.#globalMs = chosen;
    return this.#globalMs;
  }

  /** The checkpointed part. */
  snapshot(): WatermarkTrackerState {
    return { globalWatermarkMs: this.#globalMs, policy: this.policy };
  }

  /** A tracker resumed from a checkpoint: the recorded policy wins over the configured one, as in Spark. */
  static restore(state: WatermarkTrackerState): WatermarkTracker {
    const tracker = new WatermarkTracker(state.policy);
    tracker.#globalMs = state.globalWatermarkMs;
    return tracker;
  }
}

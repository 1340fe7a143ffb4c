/**
 * `Watermark`: Spark's `withWatermark(eventTime, delay)` as a stage.
 *
 * It passes rows through, marks the event-time column with the delay (so the
 * window and the aggregation downstream know which column is event time),
 * collects event-time statistics of every row, late ones included, and keeps
 * the global watermark: after each micro-batch `max(event time) − delay`,
 * never decreasing, starting at 0. Right after each `begin` it emits the
 * watermark in effect for that batch.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { watermarkDelayMs } from '../core/interval.js';
import { EventTimeStats, WatermarkTracker, eventTimeFigures } from '../core/watermark.js';
import { fieldIndex, isTimestampType, isWindowType, requireField, sqlTypeName, withMetadata, type Schema } from '../core/schema.js';
import { formatTimestampUtcMillis } from '../core/timestamp.js';
import type { Column } from '../core/batch.js';
import type { StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

/** Options of {@link Watermark}. */
export interface WatermarkOptions {
  /** The event-time column: a timestamp, or a window struct (its `end` is used). */
  eventTime: string;
  /** How late data may be: an interval string (`"2 hours"`) or milliseconds. Negative delays are refused. */
  delay: string | number;
}

const SNAPSHOT_VERSION = 1;

/**
 * The watermark after a drain: +∞ in spirit, a finite value (the year 2243,
 * exact in microseconds) so that it survives JSON.
 */
export const DRAINED_WATERMARK_MS = 8_640_000_000_000;

/** What {@link Watermark} checkpoints. */
export interface WatermarkState {
  /** Watermark the next micro-batch evicts with. */
  readonly watermarkMs: number;
  /** Watermark of the last finished batch: the next batch's late-row threshold. */
  readonly lastBatchWatermarkMs: number;
}

/**
 * Declares the event-time column and its allowed lateness.
 *
 * @example
 * ```ts
 * await pipeline(source, new Watermark({ eventTime: 'time', delay: '2 hours' }), new Window(…), new KeyedCount(…), sink)
 * ```
 */
export class Watermark extends Stage {
  // configuration
  readonly eventTime: string;
  readonly delayMs: number;
  // checkpointed
  #tracker = new WatermarkTracker();
  #lastBatchWatermarkMs = 0;
  // transient
  readonly #stats = new EventTimeStats();
  #batchWatermarkMs = 0;
  #columnIndex = -1;
  #isWindowColumn = false;

  constructor(options: WatermarkOptions) {
    super();
    if (typeof options?.eventTime !== 'string' || options.eventTime.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'Watermark needs an eventTime column name', { option: 'eventTime' });
    }
    this.eventTime = options.eventTime;
    this.delayMs = watermarkDelayMs(options.delay, 'delay');
  }

  /** The global watermark (ms) the next micro-batch will use. */
  get watermarkMs(): number {
    return this.#tracker.watermarkMs;
  }

  override get stateful(): boolean {
    return true;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    const f = requireField(input, this.eventTime, 'eventTime');
    if (!isTimestampType(f.dataType) && !isWindowType(f.dataType)) {
      throw new TidemarkError(
        'ERR_EVENT_TIME_NOT_TIMESTAMP',
        `[EVENT_TIME_IS_NOT_ON_TIMESTAMP_TYPE] The event time \`${this.eventTime}\` has the invalid type "${sqlTypeName(f.dataType)}", but expected "TIMESTAMP".`,
        { option: 'eventTime' },
      );
    }
    if (input.fields.some((x) => x.metadata?.watermarkDelayMs !== undefined)) {
      throw new TidemarkError('ERR_UNSUPPORTED_OPERATION', 'Redefining watermark is disallowed: the stream already has a Watermark stage.');
    }
    this.#columnIndex = fieldIndex(input, this.eventTime);
    this.#isWindowColumn = isWindowType(f.dataType);
    return { fields: input.fields.map((x) => (x.name === this.eventTime ? withMetadata(x, { watermarkDelayMs: this.delayMs }) : x)) };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    switch (item.kind) {
      case 'begin':
        this.#stats.reset();
        this.#batchWatermarkMs = item.drain ? Infinity : this.#tracker.watermarkMs;
        yield item;
        yield { kind: 'watermark', watermarkMs: this.#batchWatermarkMs, lateWatermarkMs: this.#lastBatchWatermarkMs };
        return;
      case 'rows':
        this.#observe(item.batch.columns[this.#columnIndex]!, item.batch.length);
        yield { kind: 'rows', batch: item.batch.withSchema(this.outputSchema!) };
        return;
      case 'counts':
        if (item.window.timeColumn !== this.eventTime) {
          throw new TidemarkError('ERR_PROTOCOL', `Watermark on \`${this.eventTime}\` received counts windowed on \`${item.window.timeColumn}\``);
        }
        if (item.eventTime !== null) this.#stats.merge(item.eventTime.maxMs, item.eventTime.minMs, item.eventTime.sumMs, item.eventTime.count);
        yield item;
        return;
      case 'barrier': {
        const stats = this.#stats;
        this.#tracker.update([{ delayMs: this.delayMs, stats }]);
        item.nextWatermarkMs = this.#tracker.watermarkMs;
        const watermarkText = formatTimestampUtcMillis(Number.isFinite(this.#batchWatermarkMs) ? this.#batchWatermarkMs : this.#tracker.watermarkMs);
        item.progress.eventTime =
          stats.count > 0
            ? { avg: formatTimestampUtcMillis(stats.avg), max: formatTimestampUtcMillis(stats.max), min: formatTimestampUtcMillis(stats.min), watermark: watermarkText }
            : { watermark: watermarkText };
        if (Number.isFinite(this.#batchWatermarkMs)) this.#lastBatchWatermarkMs = this.#batchWatermarkMs;
        else {
          // A drained stream is over: every later row is late, so no drained window can open again.
          this.#tracker = WatermarkTracker.restore({ globalWatermarkMs: DRAINED_WATERMARK_MS, policy: this.#tracker.policy });
          this.#lastBatchWatermarkMs = DRAINED_WATERMARK_MS;
          item.nextWatermarkMs = DRAINED_WATERMARK_MS;
        }
        this.stamp(item);
        yield item;
        return;
      }
      default:
        yield item;
    }
  }

  // Every row counts, late ones too.
  #observe(column: Column, length: number): void {
    const figures = eventTimeFigures(column, length);
    if (figures !== null) this.#stats.merge(figures.maxMs, figures.minMs, figures.sumMs, figures.count);
  }

  override snapshot(): StageSnapshot {
    const state: WatermarkState = { watermarkMs: this.#tracker.watermarkMs, lastBatchWatermarkMs: this.#lastBatchWatermarkMs };
    return { stage: 'Watermark', version: SNAPSHOT_VERSION, configuration: this.#configuration(), state };
  }

  override restore(snapshot: StageSnapshot): void {
    checkSnapshot(snapshot, 'Watermark', SNAPSHOT_VERSION, this.#configuration());
    const state = snapshot.state as WatermarkState;
    this.#tracker = WatermarkTracker.restore({ globalWatermarkMs: state.watermarkMs, policy: 'min' });
    this.#lastBatchWatermarkMs = state.lastBatchWatermarkMs;
  }

  #configuration(): Record<string, unknown> {
    return { eventTime: this.eventTime, delayMs: this.delayMs };
  }
}

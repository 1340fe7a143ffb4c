/**
 * `Watermark`: Spark's `withWatermark(eventTime, delay)` as a stage.
 *
 * It passes rows through, marks the event-time column with the delay (so the
 * window and the aggregation downstream know which column is event time),
 * and collects event-time figures of every row, late ones included
 * (Spark's `EventTimeWatermarkExec`). At each barrier it reports them; the
 * executor computes the global watermark from them after the batch —
 * `max(event time) − delay`, never decreasing, starting at 0 — and hands it
 * to the next batch in its `begin` item. Only the global watermark is
 * checkpointed (in the offsets and commit logs), as in Spark.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { watermarkDelayMs } from '../core/interval.js';
import { EventTimeStats, eventTimeFigures } from '../core/watermark.js';
import { isPartialAggregateSchema, isTimestampType, isWindowType, requireField, sqlTypeName, fieldIndex, withMetadata, type Schema } from '../core/schema.js';
import type { Column } from '../core/batch.js';
import type { StreamItem } from '../protocol.js';
import { Stage, type PlanContext } from './stage.js';

/** Options of {@link Watermark}. */
export interface WatermarkOptions {
  /** The event-time column: a timestamp, or a window struct (its `end` is used). */
  eventTime: string;
  /** How late data may be: an interval string (`"2 hours"`) or milliseconds. Negative delays are refused. */
  delay: string | number;
}

/**
 * Declares the event-time column and its allowed lateness.
 *
 * @example
 * ```ts
 * await pipeline(microBatches(source), new Watermark({ eventTime: 'time', delay: '2 hours' }), new Window(…), new KeyedCount(…), sink)
 * ```
 */
export class Watermark extends Stage {
  // configuration
  readonly eventTime: string;
  readonly delayMs: number;
  // transient
  readonly #stats = new EventTimeStats();
  #columnIndex = -1;
  // The rows are partial aggregates: their event-time figures come with them (RowsItem.eventTime).
  #partial = false;

  constructor(options: WatermarkOptions) {
    super();
    if (typeof options?.eventTime !== 'string' || options.eventTime.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'Watermark needs an eventTime column name', { option: 'eventTime' });
    }
    this.eventTime = options.eventTime;
    this.delayMs = watermarkDelayMs(options.delay, 'delay');
  }

  override configuration(): Record<string, unknown> {
    return { eventTime: this.eventTime, delayMs: this.delayMs };
  }

  override get role(): 'watermark' {
    return 'watermark';
  }

  override get acceptsPartialAggregates(): boolean {
    return true;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    this.#partial = isPartialAggregateSchema(input);
    if (this.#partial) return this.#planPartial(input);
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
    return { fields: input.fields.map((x) => (x.name === this.eventTime ? withMetadata(x, { watermarkDelayMs: this.delayMs }) : x)) };
  }

  // Partial aggregates carry the window made from the event-time column instead of the column: the
  // watermark goes on the window, as `Window` would have carried it there.
  #planPartial(input: Schema): Schema {
    const window = input.fields.find((f) => f.metadata?.timeWindow?.timeColumn === this.eventTime);
    if (window === undefined) {
      throw new TidemarkError('ERR_PLAN_INPUT', `Watermark on \`${this.eventTime}\` receives partial aggregates windowed on another column`, { option: 'eventTime' });
    }
    if (input.fields.some((x) => x.metadata?.watermarkDelayMs !== undefined)) {
      throw new TidemarkError('ERR_UNSUPPORTED_OPERATION', 'Redefining watermark is disallowed: the stream already has a Watermark stage.');
    }
    return { fields: input.fields.map((x) => (x === window ? withMetadata(x, { watermarkDelayMs: this.delayMs }) : x)) };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    switch (item.kind) {
      case 'begin':
        this.#stats.reset();
        yield item;
        return;
      case 'rows': {
        if (this.#partial) {
          const figures = item.eventTime;
          if (figures === undefined) throw new TidemarkError('ERR_PROTOCOL', 'partial-aggregate rows came without the event-time figures of the rows they stand for');
          if (figures !== null) this.#stats.merge(figures.maxMs, figures.minMs, figures.sumMs, figures.count);
        } else this.#observe(item.batch.columns[this.#columnIndex]!, item.batch.length);
        yield { ...item, batch: item.batch.withSchema(this.outputSchema!) };
        return;
      }
      case 'barrier': {
        const stats = this.#stats;
        item.watermarks.push({
          eventTime: this.eventTime,
          delayMs: this.delayMs,
          figures: stats.count === 0 ? null : { maxMs: stats.max, minMs: stats.min, sumMs: stats.sum, count: stats.count },
        });
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
}

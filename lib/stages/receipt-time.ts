/**
 * `ReceiptTime`: Spark's `withColumn("receipt_time", current_timestamp())`
 * as a stage. Adds a timestamp column holding the time the micro-batch was
 * planned (`batchTimestampMs` of its `begin` item), the same for every row
 * of the batch.
 *
 * Spark evaluates `current_timestamp()` once per micro-batch, from the batch
 * timestamp recorded in the offsets log, so a batch re-executed after a
 * crash gets the same value again; taking it from `begin` (which the source
 * fills from `offsets/N`) gives tidemark the same guarantee, where reading
 * the clock per row would not.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { fieldIndex, Types, type Field, type Schema } from '../core/schema.js';
import type { StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

/** Options of {@link ReceiptTime}. */
export interface ReceiptTimeOptions {
  /** Name of the added timestamp column. Default `receipt_time`. */
  as?: string;
}

const SNAPSHOT_VERSION = 1;
const US_PER_MS = 1000;

/**
 * Stamps each row with the time tidemark received it: the micro-batch's
 * processing time.
 *
 * @example
 * ```ts
 * // Count by the hour the events arrived in, not the hour they happened in.
 * stages: [new ReceiptTime({ as: 'receipt_time' }), new Window({ timeColumn: 'receipt_time', duration: '1 hour' }),
 *          new KeyedCount({ groupBy: ['action', 'window'] })]
 * ```
 */
export class ReceiptTime extends Stage {
  // configuration
  readonly as: string;
  // transient: the batch in progress
  #batchTimestampUs: number | null = null;

  constructor(options: ReceiptTimeOptions = {}) {
    super();
    const as: unknown = options?.as ?? 'receipt_time';
    if (typeof as !== 'string' || as.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'ReceiptTime needs a non-empty column name in `as`', { option: 'as' });
    }
    this.as = as;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    if (fieldIndex(input, this.as) >= 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', `ReceiptTime cannot add column \`${this.as}\`: the stream already has one`, { option: 'as' });
    }
    // Not nullable: every row of a batch gets the batch's time.
    const column: Field = { name: this.as, dataType: Types.timestamp, nullable: false };
    return { fields: [...input.fields, column] };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    switch (item.kind) {
      case 'begin':
        this.#batchTimestampUs = item.batchTimestampMs * US_PER_MS;
        yield item;
        return;
      case 'rows': {
        if (this.#batchTimestampUs === null) throw new TidemarkError('ERR_PROTOCOL', "ReceiptTime received rows outside a micro-batch (no 'begin' before them)");
        const batch = item.batch;
        const values = new Float64Array(batch.length).fill(this.#batchTimestampUs);
        const field = this.outputSchema!.fields[this.outputSchema!.fields.length - 1]!;
        yield { kind: 'rows', batch: batch.withColumn(field, { kind: 'f64', values, nulls: null }).withSchema(this.outputSchema!) };
        return;
      }
      case 'barrier':
        this.#batchTimestampUs = null;
        yield item;
        return;
      default:
        yield item;
    }
  }

  override configuration(): Record<string, unknown> {
    return { as: this.as };
  }
}

/**
 * `Sort`: Spark's `orderBy` on a stream, which Spark allows only on an
 * aggregation in complete mode: each micro-batch's result table is sorted
 * before it reaches the sink (a live top-N, a dashboard in order).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { rawValueAt, RecordBatch } from '../core/batch.js';
import { fieldIndex, requireField, type Schema } from '../core/schema.js';
import type { StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

/** One sort key. */
export interface SortKey {
  column: string;
  /** Descending order; ascending by default. */
  descending?: boolean;
  /** Where nulls go; Spark's default is first when ascending, last when descending. */
  nullsFirst?: boolean;
}

/** Options of {@link Sort}. */
export interface SortOptions {
  /** Sort keys, most significant first; a column name means ascending. */
  by: ReadonlyArray<string | SortKey>;
}

const SNAPSHOT_VERSION = 1;

/** Sorts each micro-batch's complete result table. */
export class Sort extends Stage {
  readonly keys: readonly Required<SortKey>[];
  #indexes: number[] = [];
  #pending: RecordBatch[] = [];

  constructor(options: SortOptions) {
    super();
    if (!Array.isArray(options?.by) || options.by.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'Sort needs at least one key in `by`', { option: 'by' });
    }
    this.keys = options.by.map((k) => {
      const key: SortKey = typeof k === 'string' ? { column: k } : k;
      const descending = key.descending ?? false;
      return { column: key.column, descending, nullsFirst: key.nullsFirst ?? !descending };
    });
  }

  override plan(input: Schema, context: PlanContext): Schema {
    if (!context.aggregated || context.outputMode !== 'complete') {
      throw new TidemarkError(
        'ERR_UNSUPPORTED_OPERATION',
        'Sorting is not supported on streaming DataFrames/Datasets, unless it is on aggregated DataFrame/Dataset in Complete output mode',
      );
    }
    for (const k of this.keys) requireField(input, k.column, 'by');
    this.#indexes = this.keys.map((k) => fieldIndex(input, k.column));
    return input;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    if (item.kind === 'rows') {
      this.#pending.push(item.batch);
      return;
    }
    if (item.kind === 'barrier') {
      const batches = this.#pending;
      this.#pending = [];
      for (const batch of batches.length === 0 ? [] : [this.#sorted(batches)]) yield { kind: 'rows', batch };
    }
    yield item;
  }

  #sorted(batches: readonly RecordBatch[]): RecordBatch {
    const rows: Array<{ batch: number; row: number; key: unknown[] }> = [];
    batches.forEach((b, bi) => {
      for (let i = 0; i < b.length; i++) rows.push({ batch: bi, row: i, key: this.#indexes.map((c) => rawValueAt(b.columns[c]!, i)) });
    });
    rows.sort((a, b) => {
      for (let k = 0; k < this.keys.length; k++) {
        const order = compareKey(a.key[k], b.key[k], this.keys[k]!);
        if (order !== 0) return order;
      }
      return 0;
    });
    // Gather into one batch: rows of each input batch are taken in sorted order, then interleaved.
    const all = batches.length === 1 ? batches[0]! : RecordBatch.fromRows(batches[0]!.schema, batches.flatMap((b) => b.rows()));
    const offsets: number[] = [];
    let acc = 0;
    for (const b of batches) {
      offsets.push(acc);
      acc += b.length;
    }
    const indices = Int32Array.from(rows, (r) => offsets[r.batch]! + r.row);
    return all.take(indices, indices.length);
  }

  override configuration(): Record<string, unknown> {
    return { keys: this.keys };
  }
}

function compareValues(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareKey(a: unknown, b: unknown, key: Required<SortKey>): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) {
    if (aNull && bNull) return 0;
    return aNull === key.nullsFirst ? -1 : 1;
  }
  const c = compareValues(a, b);
  return key.descending ? -c : c;
}

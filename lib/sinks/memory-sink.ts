/**
 * `MemorySink`: Spark's memory sink — the result table in memory, for tests,
 * examples and programs that read results themselves.
 *
 * @module
 */
import type { RecordBatch } from '../core/batch.js';
import { parseDDL } from '../core/ddl.js';
import type { Schema } from '../core/schema.js';
import { checkDeclaredColumns } from '../core/row-check.js';
import type { RowOf, RowTyped } from '../core/row-types.js';
import { Sink, type SinkPlan } from './sink.js';

/** Options of {@link MemorySink}. */
export interface MemorySinkOptions<S extends string = string> {
  /**
   * The result table's schema, as a DDL string
   * (`'action string, window struct<start: timestamp, end: timestamp>, count bigint'`)
   * or a schema value: checked against what the query writes when it
   * starts (the same column names and types). A string literal types
   * {@link MemorySink.rows} (see `RowOf`).
   */
  schema?: S | Schema;
}

/**
 * Keeps what each micro-batch wrote. In append and update mode the table is
 * every row written so far; in complete mode it is the last batch's rows.
 *
 * @example
 * ```ts
 * const sink = new MemorySink({ schema: 'action string, window struct<start: timestamp, end: timestamp>, count bigint' })
 * // … after the query ran:
 * for (const row of sink.rows()) console.log(row.action, row.window?.start, row.count)
 * ```
 */
export class MemorySink<S extends string = string> extends Sink implements RowTyped<RowOf<S>> {
  declare readonly '~row'?: RowOf<S>;
  declare readonly '~input'?: RowOf<S>;
  /** Rows written by each batch, by batch id. */
  readonly batches = new Map<number, RowOf<S>[]>();
  readonly #schema: Schema | null;
  #table: RowOf<S>[] = [];
  #complete = false;

  /** @throws TidemarkError `ERR_SCHEMA_PARSE` for a DDL string that does not parse */
  constructor(options: MemorySinkOptions<S> = {}) {
    super();
    const schema = options?.schema;
    this.#schema = schema === undefined ? null : typeof schema === 'string' ? parseDDL(schema) : schema;
  }

  override get description(): string {
    return 'MemorySink';
  }

  /** The result table now. */
  rows(): RowOf<S>[] {
    return [...this.#table];
  }

  /** Rows written by the batches with ids in `[fromBatchId, toBatchId]`, in batch order. */
  rowsOfBatches(fromBatchId: number, toBatchId = Infinity): RowOf<S>[] {
    const out: RowOf<S>[] = [];
    for (const [id, rows] of [...this.batches].sort((a, b) => a[0] - b[0])) if (id >= fromBatchId && id <= toBatchId) for (const row of rows) out.push(row);
    return out;
  }

  /** Checks the query against the sink; with a declared schema, the result table's columns too. */
  override plan(plan: SinkPlan): void {
    super.plan(plan);
    if (this.#schema !== null) checkDeclaredColumns(plan.schema, this.#schema, 'MemorySink', true);
  }

  protected override async openSink(plan: SinkPlan): Promise<void> {
    this.#complete = plan.outputMode === 'complete';
  }

  protected override async hasBatch(batchId: number): Promise<boolean> {
    return this.batches.has(batchId);
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[]): Promise<number> {
    const rows: RowOf<S>[] = [];
    for (const b of batches) for (let i = 0; i < b.length; i++) rows.push(b.row(i) as RowOf<S>);
    this.batches.set(batchId, rows);
    if (this.#complete) this.#table = rows;
    // No spread: a batch may hold more rows than a call takes arguments.
    else for (const row of rows) this.#table.push(row);
    this.emit('batch', batchId, rows);
    return rows.length;
  }
}

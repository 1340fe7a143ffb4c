/**
 * `MemorySink`: Spark's memory sink — the result table in memory, for tests,
 * examples and programs that read results themselves.
 *
 * @module
 */
import type { RecordBatch, Row } from '../core/batch.js';
import { Sink, type SinkPlan } from './sink.js';

/**
 * Keeps what each micro-batch wrote. In append and update mode the table is
 * every row written so far; in complete mode it is the last batch's rows.
 */
export class MemorySink extends Sink {
  /** Rows written by each batch, by batch id. */
  readonly batches = new Map<number, Row[]>();
  #table: Row[] = [];
  #complete = false;

  override get description(): string {
    return 'MemorySink';
  }

  /** The result table now. */
  rows(): Row[] {
    return [...this.#table];
  }

  /** Rows written by the batches with ids in `[fromBatchId, toBatchId]`, in batch order. */
  rowsOfBatches(fromBatchId: number, toBatchId = Infinity): Row[] {
    const out: Row[] = [];
    for (const [id, rows] of [...this.batches].sort((a, b) => a[0] - b[0])) if (id >= fromBatchId && id <= toBatchId) for (const row of rows) out.push(row);
    return out;
  }

  protected override async openSink(plan: SinkPlan): Promise<void> {
    this.#complete = plan.outputMode === 'complete';
  }

  protected override async hasBatch(batchId: number): Promise<boolean> {
    return this.batches.has(batchId);
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[]): Promise<number> {
    const rows: Row[] = [];
    for (const b of batches) for (let i = 0; i < b.length; i++) rows.push(b.row(i));
    this.batches.set(batchId, rows);
    if (this.#complete) this.#table = rows;
    // No spread: a batch may hold more rows than a call takes arguments.
    else for (const row of rows) this.#table.push(row);
    this.emit('batch', batchId, rows);
    return rows.length;
  }
}

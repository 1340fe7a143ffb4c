/**
 * `ForEachBatchSink`: Spark's `foreachBatch` — your function receives each
 * micro-batch's output rows and its batch id, and writes them wherever it
 * likes (a database, an HTTP API, another queue).
 *
 * The promise is Spark's: the batch is committed once your function's
 * promise resolves; if the process dies before that, the batch is
 * re-executed after the restart and your function is called again **with
 * the same batch id** (and, from a replayable source, the same rows). Make
 * the write idempotent by that id — record the last batch id written in
 * the same transaction as the rows, or upsert rows keyed by it — and the
 * output is exactly-once. A batch already committed is never passed again.
 * A function that throws (or rejects) fails the query; the batch is not
 * committed.
 *
 * Every output mode; in update and complete mode the rows are a batch's
 * updated groups, or the whole result.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { RecordBatch, Row } from '../core/batch.js';
import { Sink, type SinkPlan } from './sink.js';

/** What the function learns besides the rows and the batch id. */
export interface ForEachBatchContext {
  /** The query's id (the checkpoint's: stable across restarts). */
  readonly queryId: string;
  /** The output mode of the rows. */
  readonly outputMode: SinkPlan['outputMode'];
  /** The rows as columnar batches (the same rows as `rows`), for writers that take columns. */
  readonly batches: readonly RecordBatch[];
}

/** The function of a {@link ForEachBatchSink}. */
export type ForEachBatchFunction = (rows: Row[], batchId: number, context: ForEachBatchContext) => Promise<void> | void;

/**
 * Calls a function with each micro-batch's rows (Spark's `foreachBatch`).
 *
 * @example
 * ```ts
 * const sink = new ForEachBatchSink(async (rows, batchId) => {
 *   await db.transaction(async (tx) => {
 *     if ((await tx.lastBatchId()) >= batchId) return   // written before a crash: nothing to do
 *     await tx.upsert(rows)
 *     await tx.setLastBatchId(batchId)
 *   })
 * })
 * ```
 */
export class ForEachBatchSink extends Sink {
  readonly #fn: ForEachBatchFunction;
  #plan: SinkPlan | null = null;

  constructor(fn: ForEachBatchFunction) {
    super();
    if (typeof fn !== 'function') throw new TidemarkError('ERR_INVALID_OPTION', 'ForEachBatchSink needs a function (rows, batchId) => Promise<void>', { option: 'fn' });
    this.#fn = fn;
  }

  override get description(): string {
    return 'ForeachBatchSink';
  }

  protected override async openSink(plan: SinkPlan): Promise<void> {
    this.#plan = plan;
  }

  // Called again for a re-executed batch: idempotence by batch id is the function's (Spark's contract).
  protected override async hasBatch(_batchId: number): Promise<boolean> {
    return false;
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[], plan: SinkPlan): Promise<number> {
    const rows: Row[] = [];
    for (const b of batches) for (let i = 0; i < b.length; i++) rows.push(b.row(i));
    await this.#fn(rows, batchId, { queryId: plan.query?.id ?? this.#plan?.query?.id ?? '', outputMode: plan.outputMode, batches });
    return rows.length;
  }
}

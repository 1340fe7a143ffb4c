/**
 * The base of every sink: an object-mode `Writable` that collects a
 * micro-batch's rows, writes them when the batch's barrier arrives, then
 * tells the executor the batch is durable (its `CommitPort`), which commits
 * it. Idempotent by batch id: a re-executed batch that the sink already
 * wrote is not written twice.
 *
 * A sink of your own that does not extend this class speaks the same
 * protocol: on `open`, check the query and call `item.commits.opened(item.plan)`;
 * on each `barrier`, make the batch's rows durable, then
 * `await item.commits.commit(barrier)` — in the commit port of the `open`
 * item.
 *
 * @module
 */
import { Writable } from 'node:stream';
import { TidemarkError } from '../errors.js';
import type { RecordBatch, Row } from '../core/batch.js';
import { isPartialAggregateSchema, type Schema } from '../core/schema.js';
import type { OutputMode } from '../core/output-mode.js';
import { isValidTimeZone } from '../core/timestamp.js';
import { hostTimeZone } from '../host-time-zone.js';
import type { BarrierItem, CommitPort, OpenItem, QueryInfo, StreamItem } from '../protocol.js';

/** What a sink learns from `open`. */
export interface SinkPlan {
  readonly schema: Schema;
  readonly outputMode: OutputMode;
  readonly aggregated: boolean;
  readonly checkpointLocation: string | null;
  /** The query, when the sink runs in one (set from `open`; the driver's early check has none). */
  readonly query?: QueryInfo;
  /** Id of the last committed batch of the checkpoint, or null for a fresh one. */
  readonly lastCommittedBatchId?: number | null;
}

/** What a sink learns about the run when it opens (beyond the plan). */
export interface SinkRun {
  /** The query id (stable across restarts: the checkpoint's). */
  readonly queryId: string;
  /** The last batch the checkpoint committed, or null when none: what the sink's own log must cover. */
  readonly lastCommittedBatchId: number | null;
}

/** Checks shared by every sink, with Spark's messages. */
export function checkSinkPlan(plan: SinkPlan): void {
  if (isPartialAggregateSchema(plan.schema)) {
    throw new TidemarkError('ERR_PLAN_INPUT', 'a sink cannot take partial aggregates (rows that each stand for a group of rows): a keyed aggregation must merge them first');
  }
  if (plan.outputMode === 'complete' && !plan.aggregated) {
    throw new TidemarkError(
      'ERR_COMPLETE_WITHOUT_AGGREGATION',
      'Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets',
      { option: 'outputMode' },
    );
  }
}

/** Rows a sink keeps of its last written micro-batch, for monitoring. */
export const OUTPUT_SAMPLE_ROWS = 20;

/** Base class of sinks. */
export abstract class Sink extends Writable {
  #port: CommitPort | null = null;
  #plan: SinkPlan | null = null;
  #rows: RecordBatch[] = [];
  #sample: Row[] = [];

  constructor() {
    super({ objectMode: true, highWaterMark: 8 });
  }

  /** Spark's sink description (`MemorySink`, `FileSink[/out]`). */
  abstract get description(): string;

  /** The directory a file sink writes to (undefined for other sinks): the planner refuses one its source reads. */
  get outputPath(): string | undefined {
    return undefined;
  }

  /** Checks the query against the sink (throws Spark's errors); called by the driver at start and again on `open`. */
  plan(plan: SinkPlan): void {
    checkSinkPlan(plan);
  }

  /** Up to {@link OUTPUT_SAMPLE_ROWS} rows of the last micro-batch that wrote rows (row view). */
  get lastOutputSample(): Row[] {
    return [...this.#sample];
  }

  /** The plan in force, once `open` arrived. */
  get sinkPlan(): SinkPlan | null {
    return this.#plan;
  }

  /** Writes batch `batchId`'s rows durably; returns the number of rows written. Not called for a batch already written. */
  protected abstract writeBatch(batchId: number, rows: readonly RecordBatch[], plan: SinkPlan): Promise<number>;

  /** Whether batch `batchId` was already written (re-execution after a crash). */
  protected abstract hasBatch(batchId: number): Promise<boolean>;

  /** Called once on `open`, before any batch. */
  protected async openSink(_plan: SinkPlan, _run: SinkRun): Promise<void> {}

  override _write(item: StreamItem, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    switch (item.kind) {
      case 'open':
        this.#open(item).then(() => callback(), callback);
        return;
      case 'rows':
        this.#rows.push(item.batch);
        callback();
        return;
      case 'barrier':
        this.#commit(item).then(() => callback(), callback);
        return;
      case 'readAhead':
        // Only a stage that took the executor's offer gets these; at a sink they would be rows lost.
        callback(new TidemarkError('ERR_PROTOCOL', `the sink received rows of batch ${item.batchId} read ahead, which no stage took`));
        return;
      default:
        callback();
    }
  }

  async #open(item: OpenItem): Promise<void> {
    const plan: SinkPlan = {
      schema: item.schema,
      outputMode: item.outputMode ?? 'append',
      aggregated: item.aggregated,
      checkpointLocation: item.query.checkpointLocation,
      query: item.query,
      lastCommittedBatchId: item.recovered?.batchId ?? null,
    };
    this.plan(plan);
    this.#plan = plan;
    this.#port = item.commits;
    await this.openSink(plan, { queryId: item.query.id, lastCommittedBatchId: item.recovered?.batchId ?? null });
    item.commits.opened(item.plan);
  }

  async #commit(barrier: BarrierItem): Promise<void> {
    const plan = this.#plan;
    const port = this.#port;
    if (plan === null || port === null) throw new TidemarkError('ERR_PROTOCOL', `${this.description} received a barrier before 'open'`);
    const rows = this.#rows;
    this.#rows = [];
    let written = 0;
    if (!(await this.hasBatch(barrier.batchId))) {
      written = await this.writeBatch(barrier.batchId, rows, plan);
      if (written > 0) this.#sample = sampleRows(rows, OUTPUT_SAMPLE_ROWS);
    }
    barrier.progress.sink = { description: this.description, numOutputRows: written };
    await port.commit(barrier);
  }
}

function sampleRows(batches: readonly RecordBatch[], limit: number): Row[] {
  const out: Row[] = [];
  for (const batch of batches) {
    for (let i = 0; i < batch.length && out.length < limit; i++) out.push(batch.row(i));
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * A sink's `timeZone` option (Spark's `spark.sql.session.timeZone`, how
 * timestamps are written): the host's zone when absent; anything but a
 * zone ICU knows is refused.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` (option `timeZone`)
 */
export function sinkTimeZone(value: unknown): string {
  const timeZone = value ?? hostTimeZone();
  if (typeof timeZone !== 'string' || !isValidTimeZone(timeZone)) {
    throw new TidemarkError('ERR_INVALID_OPTION', `Invalid time zone ${JSON.stringify(timeZone)}: expected a region id such as "Asia/Kolkata", "UTC" or an offset such as "+05:30"`, { option: 'timeZone' });
  }
  return timeZone;
}

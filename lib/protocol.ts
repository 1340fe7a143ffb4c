/**
 * The in-band protocol: the one kind of value that flows between tidemark
 * stages. See ARCHITECTURE.md for the table and the rules.
 *
 * A run is `open`, then any number of micro-batches, each
 * `begin · (watermark) · (rows | counts)* · barrier`, then the end of the Node stream.
 * A stage handles the items it cares about and forwards every other item
 * unchanged and in order.
 *
 * @module
 */
import type { Column, RecordBatch } from './core/batch.js';
import type { EventTimeFigures } from './core/watermark.js';
import type { Schema } from './core/schema.js';
import type { OutputMode } from './core/keyed-state.js';
import type { Checkpoint } from './checkpoint/checkpoint.js';

/** A stage's state as it is checkpointed: versioned, JSON-serialisable. */
export interface StageSnapshot {
  /** Which stage class wrote it (`'KeyedCount'`). */
  readonly stage: string;
  /** Format version of `state`; a stage refuses versions it does not know. */
  readonly version: number;
  /** The options that shape the state; a restore refuses a snapshot whose configuration differs, naming the difference. */
  readonly configuration: Record<string, unknown>;
  /** The checkpointed fields. */
  readonly state: unknown;
  /**
   * State split by key hash (Spark's state partitions): one entry per
   * partition, each written to its own file (`state/<opId>/<partition>/`).
   */
  readonly partitions?: readonly unknown[];
}

/** What a run resumes from: the last committed micro-batch and the stage snapshots taken at its barrier. */
export interface Recovered {
  /** Id of the last committed micro-batch. */
  readonly batchId: number;
  /** Snapshots by operator id (`"0"`, `"1"`, …). */
  readonly snapshots: Readonly<Record<string, StageSnapshot>>;
}

/**
 * First item of every run. Each stage checks the schema against its options
 * (throwing Spark's errors), takes the next operator id, restores its
 * snapshot when `recovered` holds one, and forwards `open` with its output
 * schema and the operator counter advanced.
 */
export interface OpenItem {
  readonly kind: 'open';
  /** Schema of the rows that will follow at this point of the pipeline. */
  readonly schema: Schema;
  /** The query's output mode, when the query declares one. */
  readonly outputMode: OutputMode | undefined;
  /** Set when the run resumes from a checkpoint. */
  readonly recovered: Recovered | null;
  /** Operator id the next stateful stage takes. */
  readonly nextOperatorId: number;
  /** True once an aggregation stage has been passed (complete mode and sorting need one). */
  readonly aggregated: boolean;
  /** The run's checkpoint store; the sink commits each batch into it. */
  readonly checkpoint: Checkpoint;
}

/** Start of micro-batch `batchId`. */
export interface BeginItem {
  readonly kind: 'begin';
  readonly batchId: number;
  /** Processing time of the batch (Spark's `batchTimestampMs`); the same on re-execution. */
  readonly batchTimestampMs: number;
  /** True for the final batch of a drained run: the watermark jumps to +∞ so every window closes. */
  readonly drain: boolean;
}

/** Rows of the current micro-batch. */
export interface RowsItem {
  readonly kind: 'rows';
  readonly batch: RecordBatch;
}

/**
 * Rows already windowed and counted upstream: a parse that was told the
 * query's aggregation (see `ParseSchema`'s count push-down) reads, windows
 * and counts a chunk in one go, maybe on another thread, and sends only its
 * groups. `Watermark` takes the event-time figures, `Window` checks the
 * window is its own, `KeyedCount` adds the counts; other stages forward it.
 */
export interface CountsItem {
  readonly kind: 'counts';
  /** Grouping columns, in `KeyedCount`'s `groupBy` order. */
  readonly groupBy: readonly string[];
  /** One column per grouping column: the string key, and the window (or pane) struct. */
  readonly columns: readonly Column[];
  /** Rows per group. */
  readonly counts: Float64Array;
  /** Number of groups. */
  readonly length: number;
  /** The column the windows were computed from, and the window arithmetic used. */
  readonly window: { readonly timeColumn: string; readonly as: string; readonly durationUs: number; readonly slideUs: number; readonly startTimeUs: number; readonly panes: boolean };
  /** Event-time figures of every row read (null times as 0), for the watermark; null when no row was read. */
  readonly eventTime: EventTimeFigures | null;
}

/**
 * The event-time watermark in effect for the rest of the micro-batch, sent
 * by the `Watermark` stage right after `begin`. Both values are the global
 * watermark in ms: `watermarkMs` was computed after the previous batch and
 * decides eviction; `lateWatermarkMs` (the previous batch's) decides which
 * rows are late (Spark ≥ 3.4).
 */
export interface WatermarkItem {
  readonly kind: 'watermark';
  readonly watermarkMs: number;
  readonly lateWatermarkMs: number;
}

/** Per-batch figures stages add to a barrier; the source turns them into a `StreamingQueryProgress`. */
export interface BarrierProgress {
  /** Event-time statistics of the batch (ISO strings), set by the `Watermark` stage. */
  eventTime?: Record<string, string>;
  /** One entry per stateful operator, in pipeline order. */
  stateOperators: Record<string, unknown>[];
  /** Set by the sink. */
  sink?: { description: string; numOutputRows: number };
  /**
   * Records read, set by a stage that parses what the source read when the
   * source's own rows are not records (file chunks); the progress reports it
   * as `numInputRows`.
   */
  numInputRows?: number;
  /**
   * Malformed records of the batch (kept with nulls by PERMISSIVE, dropped by
   * DROPMALFORMED), added by each stage that parses; the progress reports it
   * as `sources[0].metrics.numMalformedRecords`.
   */
  numMalformedRecords?: number;
  /** Time the checkpoint took to write the stage snapshots of the batch (ms). */
  stateCommitMs?: number;
  /** Time the checkpoint took to write `commits/N` (ms). */
  commitLogMs?: number;
}

/**
 * End of micro-batch `batchId`. Stages finish the batch (emit, evict), add
 * their snapshot and progress to the barrier in place, and forward it. The
 * sink commits the batch when the barrier reaches it.
 */
export interface BarrierItem {
  readonly kind: 'barrier';
  readonly batchId: number;
  /** Stage snapshots by operator id, taken after the stage finished the batch. */
  readonly snapshots: Record<string, StageSnapshot>;
  /** Watermark the next batch will use, set by the `Watermark` stage (null when the query has none). */
  nextWatermarkMs: number | null;
  /** Set by a stateful stage that wants a no-data batch to run next (its eviction watermark would advance). */
  runAnotherBatch: boolean;
  /** Figures for the progress report. */
  readonly progress: BarrierProgress;
}

/** Everything that flows between stages. End of input is the end of the Node stream. */
export type StreamItem = OpenItem | BeginItem | RowsItem | CountsItem | WatermarkItem | BarrierItem;

/** A fresh barrier for `batchId`. */
export function barrier(batchId: number): BarrierItem {
  return { kind: 'barrier', batchId, snapshots: {}, nextWatermarkMs: null, runAnotherBatch: false, progress: { stateOperators: [] } };
}

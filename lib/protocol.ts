/**
 * The in-band protocol: the one kind of value that flows between tidemark
 * stages. See ARCHITECTURE.md for the table and the rules.
 *
 * A run is `open`, then any number of micro-batches, each
 * `begin · rows* · barrier`, then the end of the Node stream.
 * A stage handles the items it cares about and forwards every other item
 * unchanged and in order.
 *
 * @module
 */
import type { RecordBatch } from './core/batch.js';
import type { EventTimeFigures } from './core/watermark.js';
import type { Schema } from './core/schema.js';
import type { OutputMode } from './core/output-mode.js';
import type { StatefulOperatorInfo } from './core/stateful-chain.js';

/**
 * A stage's whole state in one JSON value: the checkpoint format of the
 * releases before incremental checkpoints (`state/<op>/<p>/<N>.json`),
 * still read on restart, and a stateless stage's configuration.
 */
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

/**
 * A stateful stage's state (`kind: 'snapshot'`) or what one micro-batch
 * changed in it (`kind: 'delta'`), as the checkpoint writes it: a header
 * and, per state partition (Spark's state store instances), records —
 * JSON values, typed arrays allowed — each written as one line of
 * `state/<op>/<partition>/<version>.snapshot` or `.delta`. A record is a
 * change (groups put, keys removed): a snapshot is its records applied to
 * an empty state, a delta its records applied to the state before the batch.
 */
export interface StateImage {
  /** Which stage class wrote it (`'KeyedCount'`). */
  readonly stage: string;
  /** Format version of the records; a stage refuses versions it does not know. */
  readonly version: number;
  /** The options that shape the state; a restore refuses an image whose configuration differs, naming the difference. */
  readonly configuration: Record<string, unknown>;
  readonly kind: 'snapshot' | 'delta';
  /** Per partition, the records. */
  readonly partitions: ReadonlyArray<readonly unknown[]>;
}

/**
 * The checkpoint contract of a stateful stage, Spark's state store per
 * operator made incremental: each micro-batch the checkpoint writes the
 * stage's {@link IncrementalState.delta}, and every few batches a
 * {@link IncrementalState.snapshot}; a restart restores the latest
 * snapshot and applies the deltas after it.
 */
export interface IncrementalState {
  /** The whole state now, as records that are copies: they may be written while later batches change the stage. */
  snapshot(): StateImage;
  /** What the micro-batch that just finished changed (call before the next one begins). */
  delta(): StateImage;
  /** Replaces the state with a snapshot's records (or a {@link StageSnapshot} of the releases before). */
  restore(image: StateImage | StageSnapshot): void;
  /** Applies records on top of the state: a delta's, or the further pieces of a snapshot read in bounded pieces. */
  applyDelta(image: StateImage): void;
}

/** What a stateful stage hands the checkpoint at its barrier. */
export interface StageState {
  /** The stage's `stateOperators` entry in the progress: the checkpoint fills its `commitTimeMs`. */
  readonly progress: Record<string, unknown> | null;
  /** {@link IncrementalState.delta} of the stage. */
  delta(): StateImage;
  /** {@link IncrementalState.snapshot} of the stage. */
  snapshot(): StateImage;
  /** The state copied now, its snapshot built when the returned function is called (written beside later batches); null or absent: call `snapshot()` now. */
  snapshotLater?(): (() => StateImage) | null;
}

/** A stage's checkpointed state, ready to load into it when the run opens. */
export interface RecoveredState {
  /** Which stage class wrote it. */
  readonly stage: string;
  /** Reads the state from the checkpoint into `target`: `restore` the snapshot, then `applyDelta` each later piece, in order. */
  load(target: Pick<IncrementalState, 'restore' | 'applyDelta'>): Promise<void>;
}

/** What a run resumes from: the last committed micro-batch and its stages' state. */
export interface Recovered {
  /** Id of the last committed micro-batch. */
  readonly batchId: number;
  /** State by operator id (`"0"`, `"1"`, …). */
  readonly states: Readonly<Record<string, RecoveredState>>;
}

/** Who runs the pipeline: the query, as the executor knows it. */
export interface QueryInfo {
  /** The query id, stable across restarts (the checkpoint's). */
  readonly id: string;
  /** New for every run. */
  readonly runId: string;
  readonly name: string | null;
  /** Checkpoint directory, or null for an in-memory checkpoint. */
  readonly checkpointLocation: string | null;
}

/** One operator of the plan as it opened: what it is and the options that shape its output. */
export interface PlanEntry {
  /** The stage's kind (`'Window'`, `'KeyedCount'`, a user stage's class name). */
  readonly operator: string;
  /** Its options that shape results; a restart with other values is refused. */
  readonly configuration: Readonly<Record<string, unknown>>;
  /** Operator id, for a stage that keeps state. */
  readonly operatorId?: number;
}

/**
 * What a sink tells the executor. The executor implements it; a sink calls
 * {@link CommitPort.opened} once it has checked the plan, and
 * {@link CommitPort.commit} once a micro-batch's output is durable (the
 * `Sink` base class does both).
 */
export interface CommitPort {
  /** The sink checked the query; `plan` is every operator that announced itself on the way. */
  opened(plan: readonly PlanEntry[]): void;
  /** The output of `barrier.batchId` is durable: commit the batch (state, then the commit log). */
  commit(barrier: BarrierItem): Promise<void>;
}

/**
 * First item of every run. Each stage checks the schema against its options
 * (throwing Spark's errors), takes the next operator id, restores its
 * snapshot when `recovered` holds one, and forwards `open` with its output
 * schema, the operator counter advanced and itself added to the plan.
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
  /** The stateful operators passed so far, upstream first (absent: none), for Spark's checks on several of them. */
  readonly statefulOperators?: readonly StatefulOperatorInfo[];
  /** The query this run belongs to. */
  readonly query: QueryInfo;
  /** Operators so far, source first. */
  readonly plan: readonly PlanEntry[];
  /** Where the sink reports; no stage uses it. */
  readonly commits: CommitPort;
  /**
   * Set by the executor when it could read the next micro-batch's first
   * rows while the one before commits (see {@link ReadAheadItem}): the
   * first stage takes the offer or not, and forwards `open` without it, so
   * no later stage ever sees an item it did not ask for.
   */
  readonly readAhead?: ReadAheadOffer;
}

/** The executor's offer of {@link ReadAheadItem}s, taken by the first stage (`ChunkAggregate`) when it can use them. */
export interface ReadAheadOffer {
  taken: boolean;
}

/**
 * Rows of micro-batch `batchId` sent before its `begin`, while the batch
 * before commits: what the source will read for it is already fixed (its
 * offsets are planned, not yet written), so the stage that took the offer
 * may start its stateless work on them (parsing chunks on idle worker
 * threads) but holds what it makes until `begin` says the batch runs with
 * them (`readAhead`). Anything held when another `begin` or the end of the
 * stream comes instead is dropped: the batch was never started.
 */
export interface ReadAheadItem {
  readonly kind: 'readAhead';
  readonly batchId: number;
  readonly batch: RecordBatch;
}

/**
 * Start of micro-batch `batchId`, with the global watermark the executor
 * keeps (Spark's `batchWatermarkMs`, in ms): `watermarkMs` was computed
 * after the previous batch and decides eviction; `lateWatermarkMs` (the
 * previous batch's) decides which rows are late (Spark ≥ 3.4). Stages that
 * group by an event-time column carrying a watermark use them; others
 * ignore them.
 */
export interface BeginItem {
  readonly kind: 'begin';
  readonly batchId: number;
  /** Processing time of the batch (Spark's `batchTimestampMs`); the same on re-execution. */
  readonly batchTimestampMs: number;
  /** True for the final batch of a drained run: `watermarkMs` is +∞ so every window closes. */
  readonly drain: boolean;
  readonly watermarkMs: number;
  readonly lateWatermarkMs: number;
  /** How many {@link ReadAheadItem}s of this batch came before this `begin` (they are its first rows); absent: none. */
  readonly readAhead?: number;
}

/** Rows of the current micro-batch. */
export interface RowsItem {
  readonly kind: 'rows';
  readonly batch: RecordBatch;
  /**
   * Set on partial-aggregate rows (see `ChunkAggregate`): the event-time
   * figures of the raw rows they stand for (a null time counts as 0), which
   * a `Watermark` takes instead of reading a time column; null when those
   * rows were none.
   */
  readonly eventTime?: EventTimeFigures | null;
}

/** What a `Watermark` stage saw in a micro-batch: the executor turns it into the next global watermark. */
export interface WatermarkReport {
  /** The event-time column. */
  readonly eventTime: string;
  readonly delayMs: number;
  /** Event-time figures of every row of the batch (late ones included), or null when it had none. */
  readonly figures: EventTimeFigures | null;
}

/** Per-batch figures stages add to a barrier; the executor turns them into a `StreamingQueryProgress`. */
export interface BarrierProgress {
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
  /** Time the checkpoint took to write the state of the batch, every operator (ms). */
  stateCommitMs?: number;
  /** Time the checkpoint took to write `commits/N` (ms). */
  commitLogMs?: number;
}

/**
 * End of micro-batch `batchId`. Stages finish the batch (emit, evict), add
 * their state and progress to the barrier in place, and forward it. The
 * sink commits the batch when the barrier reaches it.
 */
export interface BarrierItem {
  readonly kind: 'barrier';
  readonly batchId: number;
  /** State of the stateful stages by operator id, handed over after the stage finished the batch. */
  readonly state: Record<string, StageState>;
  /** True for the last batch of a drained run (its watermark was +∞). */
  drained: boolean;
  /** One per `Watermark` stage of the pipeline, in pipeline order. */
  readonly watermarks: WatermarkReport[];
  /** The global watermark the next batch will use, set by the executor when the sink commits (null without a watermark). */
  nextWatermarkMs: number | null;
  /**
   * Largest event time (ms) a stateful stage evicted in this batch (a window's end, or a raw
   * event time), or null when none did: after a drain the watermark stops there, not at +∞.
   */
  evictedUpToMs: number | null;
  /** Set by a stateful stage whose eviction waits on the watermark: a no-data batch runs when it moves. */
  watermarkDriven: boolean;
  /** Figures for the progress report. */
  readonly progress: BarrierProgress;
}

/** Everything that flows between stages. End of input is the end of the Node stream. */
export type StreamItem = OpenItem | BeginItem | RowsItem | ReadAheadItem | BarrierItem;

/** A fresh barrier for `batchId`. */
export function barrier(batchId: number): BarrierItem {
  return { kind: 'barrier', batchId, state: {}, drained: false, watermarks: [], nextWatermarkMs: null, evictedUpToMs: null, watermarkDriven: false, progress: { stateOperators: [] } };
}

/**
 * The base of every tidemark stage: an object-mode `Transform` over
 * {@link StreamItem}s that forwards what it does not handle, honours
 * backpressure even when one item makes it emit many (a window flush), and
 * can snapshot and restore its state.
 *
 * @module
 */
import { Transform, type TransformCallback } from 'node:stream';
import { TidemarkError } from '../errors.js';
import { isPartialAggregateSchema, type Schema } from '../core/schema.js';
import type { OutputMode } from '../core/output-mode.js';
import { checkGlobalWatermarkLimit, type StatefulOperatorInfo } from '../core/stateful-chain.js';
import type { BarrierItem, IncrementalState, OpenItem, PlanEntry, StageSnapshot, StateImage, StreamItem } from '../protocol.js';

/** What a stage learns about the query when it is planned. */
export interface PlanContext {
  /** The query's output mode, when it declares one. */
  readonly outputMode: OutputMode | undefined;
  /** Whether an aggregation stage comes before this one. */
  readonly aggregated: boolean;
  /** The stateful operators before this stage, upstream first (Spark checks them together); none when absent. */
  readonly statefulOperators?: readonly StatefulOperatorInfo[];
}

/** A stage whose state can be checkpointed (Flink's `CheckpointedFunction`): see {@link IncrementalState}. */
export type Checkpointable = IncrementalState;

/**
 * Refuses partial-aggregate rows (a `ChunkAggregate`'s) to a stage that
 * does not merge them: it would take a group for one row. Checked when a
 * query is planned and when a run opens.
 */
export function refusePartialInput(stageName: string, accepts: boolean | undefined, input: Schema): void {
  if (accepts === true || !isPartialAggregateSchema(input)) return;
  throw new TidemarkError(
    'ERR_PLAN_INPUT',
    `${stageName} cannot take partial aggregates (rows that each stand for a group of rows aggregated where they were read): put it before the parse, or plan the query with optimize: false`,
  );
}

/** Items at most buffered on a stage's readable side before it waits for its consumer. */
export const STAGE_HIGH_WATER_MARK = 8;

/**
 * Base class of the stages. Subclasses implement {@link Stage.plan} and
 * {@link Stage.process}; `open` handling, operator ids, the plan entry,
 * state on barriers and backpressure live here once. A stateful stage
 * overrides {@link Stage.stateful} and the {@link IncrementalState}
 * contract: {@link Stage.snapshot}, {@link Stage.delta},
 * {@link Stage.restore} and {@link Stage.applyDelta}.
 */
export abstract class Stage extends Transform implements IncrementalState {
  /** Operator id taken from `open`; names the stage's folder in the checkpoint. */
  operatorId: number | null = null;
  /** Schema of this stage's output, known once planned. */
  outputSchema: Schema | null = null;
  #pending: { items: Iterator<StreamItem>; callback: TransformCallback } | null = null;

  constructor() {
    super({ objectMode: true, highWaterMark: STAGE_HIGH_WATER_MARK });
  }

  /**
   * Checks the input schema against the stage's options and returns the
   * output schema. Throws Spark's analysis errors. Pure: the driver calls it
   * before starting a query to refuse bad queries early, and the stage calls
   * it again when `open` arrives.
   */
  abstract plan(input: Schema, context: PlanContext): Schema;

  /** Handles one item of a planned stage and returns what to emit (a generator may emit lazily). */
  protected abstract process(item: StreamItem): Iterable<StreamItem>;

  /** The output mode downstream stages see: an aggregation states the mode it runs in. */
  outputModeAfter(queryMode: OutputMode | undefined): OutputMode | undefined {
    return queryMode;
  }

  /** Whether this stage merges partial-aggregate rows (see `ChunkAggregate`); others refuse them. */
  get acceptsPartialAggregates(): boolean {
    return false;
  }

  /** Whether this stage is an aggregation (complete mode needs one). */
  get aggregates(): boolean {
    return false;
  }

  /**
   * What kind of stateful operator this stage is, for Spark's checks on
   * several stateful operators in one query (`core/stateful-chain.ts`);
   * null for a stage that is none. Read after {@link Stage.plan}.
   */
  get statefulOperator(): StatefulOperatorInfo | null {
    return null;
  }

  /** Whether this stage keeps state that must be checkpointed under an operator id. */
  get stateful(): boolean {
    return false;
  }

  /**
   * What the planner may know of this stage: `'other'` (it only sees the
   * schema the stage plans), or one of the roles it rewrites around
   * (`'parse'`, `'watermark'`, `'window'`, `'aggregate'`).
   */
  get role(): 'parse' | 'watermark' | 'window' | 'aggregate' | 'other' {
    return 'other';
  }

  /** One line of the query's `explain()`. */
  describe(): string {
    const options = Object.entries(this.configuration())
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(', ');
    return `${this.operatorName}(${options})${this.operatorId === null ? '' : ` [state operator ${this.operatorId}]`}`;
  }

  /** The stage's kind in the plan and in its snapshots (its class name by default). */
  get operatorName(): string {
    return this.constructor.name;
  }

  /**
   * The options that shape the stage's output: recorded in the checkpoint
   * with the query's plan, so a restart with other values is refused naming
   * the difference. Nothing by default.
   */
  configuration(): Record<string, unknown> {
    return {};
  }

  /** The stage's entries in the query's plan (a stage that stands for several logical operators lists each). */
  planEntries(): PlanEntry[] {
    return [{ operator: this.operatorName, configuration: this.configuration(), ...(this.operatorId === null ? {} : { operatorId: this.operatorId }) }];
  }

  /** A stateless stage's snapshot holds its configuration only. */
  snapshot(): StateImage {
    return { stage: this.operatorName, version: 1, configuration: this.configuration(), kind: 'snapshot', partitions: [] };
  }

  /**
   * A stage whose state is not incremental hands its whole state: the
   * checkpoint writes it as a snapshot, every batch.
   */
  delta(): StateImage {
    return this.snapshot();
  }

  /**
   * {@link Stage.snapshot} of the state as it is now, built later (the
   * checkpoint writes it beside the next batches): a stage that can copy
   * its state cheaply now returns the function that reads the copy; null
   * (the default) has the checkpoint take `snapshot()` at once.
   */
  snapshotLater(): (() => StateImage) | null {
    return null;
  }

  /** A stateless stage checks the configuration only. */
  restore(image: StateImage | StageSnapshot): void {
    checkSnapshot(image, this.operatorName, 1, this.configuration());
  }

  /** A stage whose state is not incremental only ever gets snapshots: a whole state replaces the state. */
  applyDelta(image: StateImage): void {
    this.restore(image);
  }

  /**
   * Hands this stage's state to the barrier (subclasses call it once they
   * finished the batch), with its `stateOperators` entry, whose
   * `commitTimeMs` the checkpoint fills.
   */
  protected stamp(item: BarrierItem, progress: Record<string, unknown> | null = null): void {
    if (!this.stateful || this.operatorId === null) return;
    item.state[String(this.operatorId)] = { progress, delta: () => this.delta(), snapshot: () => this.snapshot(), snapshotLater: () => this.snapshotLater() };
  }

  async #open(item: OpenItem): Promise<StreamItem[]> {
    refusePartialInput(this.operatorName, this.acceptsPartialAggregates, item.schema);
    const before = item.statefulOperators ?? [];
    const output = this.plan(item.schema, { outputMode: item.outputMode, aggregated: item.aggregated, statefulOperators: before });
    this.outputSchema = output;
    const operator = this.statefulOperator;
    const statefulOperators = operator === null ? before : [...before, operator];
    if (operator !== null) checkGlobalWatermarkLimit(statefulOperators, item.outputMode ?? 'append');
    let nextOperatorId = item.nextOperatorId;
    if (this.stateful) {
      this.operatorId = nextOperatorId++;
      const recovered = item.recovered?.states[String(this.operatorId)];
      if (recovered !== undefined) await recovered.load(this);
    }
    return [
      {
        ...item,
        schema: output,
        nextOperatorId,
        aggregated: item.aggregated || this.aggregates,
        statefulOperators,
        outputMode: this.outputModeAfter(item.outputMode),
        plan: [...item.plan, ...this.planEntries()],
        // Only the first stage may take it (ChunkAggregate reads it before this).
        readAhead: undefined,
      },
    ];
  }

  override _transform(item: StreamItem, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (item.kind === 'open') {
      // Restoring a large state reads the checkpoint in bounded pieces: asynchronous.
      this.#open(item).then((out) => this.#drain(out[Symbol.iterator](), callback), (err: unknown) => callback(err as Error));
      return;
    }
    let out: Iterable<StreamItem>;
    try {
      if (this.outputSchema === null) throw new TidemarkError('ERR_PROTOCOL', `${this.constructor.name} received '${item.kind}' before 'open'`);
      else out = this.process(item);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.#drain(out[Symbol.iterator](), callback);
  }

  /**
   * Emits items with the same backpressure as {@link Stage.process}'s, then
   * calls `done`: for a stage whose items come from asynchronous work
   * (they must never be pushed around this, or a parked drain can stall).
   */
  protected emitItems(items: Iterable<StreamItem>, done: TransformCallback): void {
    this.#drain(items[Symbol.iterator](), done);
  }

  // Pushes until the readable side is full, then parks the rest until the consumer reads (see _read).
  #drain(items: Iterator<StreamItem>, callback: TransformCallback): void {
    for (;;) {
      let next: IteratorResult<StreamItem>;
      try {
        next = items.next();
      } catch (err) {
        callback(err as Error);
        return;
      }
      if (next.done === true) {
        callback();
        return;
      }
      if (!this.push(next.value)) {
        this.#pending = { items, callback };
        return;
      }
    }
  }

  override _read(size: number): void {
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      this.#drain(pending.items, pending.callback);
      if (this.#pending !== null) return;
    }
    // Transform parks its write callback until _read; release it, or a drain that finished here would stall the stream.
    super._read(size);
  }
}

/** Refuses a snapshot written by another stage class, format version or configuration, naming what differs. */
export function checkSnapshot(snapshot: StageSnapshot | StateImage, stage: string, version: number, configuration: Record<string, unknown>): void {
  if (snapshot.stage !== stage) {
    throw new TidemarkError('ERR_CHECKPOINT_MISMATCH', `the checkpoint holds the state of a ${snapshot.stage} stage where the query has a ${stage}`);
  }
  if (snapshot.version !== version) {
    throw new TidemarkError('ERR_SNAPSHOT_VERSION', `${stage} cannot read state format version ${snapshot.version} (it reads version ${version})`);
  }
  const keys = new Set([...Object.keys(configuration), ...Object.keys(snapshot.configuration)]);
  for (const key of keys) {
    const before = JSON.stringify(snapshot.configuration[key]);
    const now = JSON.stringify(configuration[key]);
    if (before !== now) {
      throw new TidemarkError(
        'ERR_CHECKPOINT_MISMATCH',
        `the query changed since the checkpoint was written: ${stage} ${key} was ${before ?? 'unset'}, is now ${now ?? 'unset'}`,
        { option: key },
      );
    }
  }
}

/** A state held as one JSON value (a stage whose state is not incremental): a snapshot of one record. */
export function wholeStateImage(stage: string, version: number, configuration: Record<string, unknown>, state: unknown): StateImage {
  return stateImage(stage, version, configuration, 'snapshot', [[state]]);
}

/** The state value of {@link wholeStateImage}'s image, or of a snapshot of the format before. */
export function wholeState(image: StateImage | StageSnapshot): unknown {
  return 'kind' in image ? (image.partitions[0]?.[0] ?? null) : image.state;
}

/** An image of a stage's state as records, per state partition (see {@link StateImage}). */
export function stateImage(stage: string, version: number, configuration: Record<string, unknown>, kind: StateImage['kind'], partitions: unknown[][]): StateImage {
  return { stage, version, configuration, kind, partitions };
}

/**
 * A stage's state checkpointed as records (puts and removes, Spark's HDFS
 * state store entries), as {@link restoreRecords} and {@link applyRecords}
 * load it.
 */
export interface RecordedState {
  /** Drops the whole state (before a snapshot's records are applied). */
  clear(): void;
  /** Applies one record; `fresh`: a snapshot's, whose groups are not held yet (each once). */
  applyRecord(record: unknown, fresh: boolean): void;
  /** Makes room at once for a snapshot's records before they are applied (optional). */
  reserve?(records: readonly unknown[]): void;
  /** Replaces the state with a whole state of the format before records (a {@link StageSnapshot}, or an image of one record). */
  restoreWhole(image: StageSnapshot | StateImage): void;
}

/**
 * The {@link RecordedState} of a core state that applies its own records and
 * restores its own whole state of the format before (from the one value of
 * {@link wholeState}): session windows and deduplication.
 */
export function recordedCore<R, W>(state: { clear(): void; applyRecord(record: R): void; restore(whole: W): void }): RecordedState {
  return {
    clear: () => state.clear(),
    applyRecord: (record) => state.applyRecord(record as R),
    restoreWhole: (image) => state.restore(wholeState(image) as W),
  };
}

/** The format versions a stage with {@link RecordedState} reads: its records', and its whole state's of the release before. */
export interface RecordFormats {
  readonly records: number;
  readonly whole: number;
}

/**
 * {@link IncrementalState.restore} of a stage whose state is records: a
 * snapshot of records replaces the state; a whole state of the format
 * before (a `.json` {@link StageSnapshot}, or a snapshot image of that
 * version) is read by `state.restoreWhole`. Refuses another stage, version
 * or configuration, naming the difference.
 */
export function restoreRecords(image: StateImage | StageSnapshot, stage: string, formats: RecordFormats, configuration: Record<string, unknown>, state: RecordedState): void {
  if (!('kind' in image) || (image.kind === 'snapshot' && image.version === formats.whole)) {
    checkSnapshot(image, stage, formats.whole, configuration);
    state.restoreWhole(image);
    return;
  }
  checkSnapshot(image, stage, formats.records, configuration);
  state.clear();
  applyImage(image, state);
}

/** {@link IncrementalState.applyDelta} of a stage whose state is records (format `version`). */
export function applyRecords(image: StateImage, stage: string, version: number, configuration: Record<string, unknown>, state: RecordedState): void {
  checkSnapshot(image, stage, version, configuration);
  applyImage(image, state);
}

function applyImage(image: StateImage, state: RecordedState): void {
  // A snapshot's groups are each held once and not yet held (restore clears first; partitions hold disjoint keys).
  const fresh = image.kind === 'snapshot';
  if (fresh && state.reserve !== undefined) for (const records of image.partitions) state.reserve(records);
  for (const records of image.partitions) for (const record of records) state.applyRecord(record, fresh);
}

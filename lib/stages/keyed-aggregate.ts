/**
 * `KeyedAggregate`: Spark's `groupBy(cols…).agg(…)` on a stream — `count`,
 * `count(col)`, `sum`, `avg`, `min`, `max` with Spark's result types, names
 * and null rules — with the watermark's late filter and eviction and the
 * three output modes. A thin shell: the rules live in
 * `core/keyed-aggregation.ts` and `core/aggregate-buffers.ts`.
 *
 * Group by any columns: a `window` column (event-time windows), the raw
 * event-time column, or no time at all. The column carrying the watermark
 * (set by a `Watermark` stage upstream, carried onto the window by `Window`)
 * is the event time of a group.
 *
 * @module
 */
import { PassThrough, type Readable } from 'node:stream';
import { TidemarkError } from '../errors.js';
import { RecordBatch } from '../core/batch.js';
import { createAggregateStore, type StoreSpec } from '../core/partial-aggregate.js';
import { defaultAggregateName, parseAggregates, resolveAggregates, type AggregateSpec } from '../core/aggregate-spec.js';
import { KeyedAggregation, type KeyedAggregationSnapshot, type KeyedStateRecord } from '../core/keyed-aggregation.js';
import { outputModeName, parseOutputMode, type OutputMode } from '../core/output-mode.js';
import { fieldIndex, isPartialAggregateSchema, requireField, simpleString, type Field, type Schema } from '../core/schema.js';
import type { StatefulOperatorInfo } from '../core/stateful-chain.js';
import type { BarrierItem, StageSnapshot, StateImage, StreamItem } from '../protocol.js';
import { Stage, applyRecords, restoreRecords, stateImage, type PlanContext, type RecordedState } from './stage.js';
import { decodeTypedArrays } from './snapshot-codec.js';

/** Options of {@link KeyedAggregate}. */
export interface KeyedAggregateOptions {
  /** Grouping columns, in output order (Spark's `groupBy(col("device"), window(...))` is `['device', 'window']`). */
  groupBy: readonly string[];
  /**
   * The aggregates, in result order after the grouping columns: Spark's
   * expressions as text (`"count, avg(temperature), max(temperature) as hottest"`)
   * or a list of expressions or parsed specs.
   */
  aggregates: string | ReadonlyArray<string | AggregateSpec>;
  /** Output mode; defaults to the query's, or `'append'` (Spark's default). */
  outputMode?: OutputMode | 'Append' | 'Update' | 'Complete';
  /** Most rows per emitted batch: bounds memory when a flush emits many windows. */
  maxRowsPerBatch?: number;
  /**
   * State partitions (Spark's `spark.sql.shuffle.partitions`): groups are
   * split by key hash, each partition is checkpointed to its own file. Fixed
   * by the first run of a checkpoint; a different value is refused on restart.
   * Default 1.
   */
  partitions?: number;
  /**
   * Route the rows the watermark drops to {@link KeyedAggregate.lateRows} instead
   * of only counting them. At-least-once: a re-executed batch routes its late
   * rows again. Default false.
   */
  emitLateRows?: boolean;
}

// core/keyed-aggregation records (KeyedStateRecord), written as deltas and snapshots.
const STATE_VERSION = 5;
// Lanes and buffers in one JSON value per partition (the release before); KeyedCount reads format 3 too.
const LEGACY_SNAPSHOT_VERSION = 4;
const FORMATS = { records: STATE_VERSION, whole: LEGACY_SNAPSHOT_VERSION };
const DEFAULT_MAX_ROWS_PER_BATCH = 8192;

/**
 * Aggregates rows per group across micro-batches.
 *
 * Append mode emits a group once, when the watermark passes its event time
 * (window end); update mode emits every group a batch changed, with its new
 * values; complete mode emits the whole table every batch and never evicts.
 */
export class KeyedAggregate extends Stage {
  // configuration
  readonly groupBy: readonly string[];
  readonly #specs: readonly AggregateSpec[];
  readonly #requestedMode: OutputMode | undefined;
  readonly #maxRowsPerBatch: number;
  readonly #partitionCount: number;
  #outputMode: OutputMode = 'append';
  #groupFields: Field[] = [];
  #groupIndexes: number[] = [];
  #eventTimeGroup = -1;
  // Partial-aggregate buffer columns of the input, when it is partial aggregates (empty otherwise).
  #partialIndexes: number[] = [];
  // checkpointed
  #state: KeyedAggregation | null = null;
  // transient
  readonly #lateRows: PassThrough | null;

  constructor(options: KeyedAggregateOptions) {
    super();
    const name = new.target.name;
    if (!Array.isArray(options?.groupBy) || options.groupBy.some((c) => typeof c !== 'string')) {
      throw new TidemarkError('ERR_INVALID_OPTION', `${name} needs groupBy: a list of column names`, { option: 'groupBy' });
    }
    const duplicate = options.groupBy.find((c, i) => options.groupBy.indexOf(c) !== i);
    if (duplicate !== undefined) throw new TidemarkError('ERR_INVALID_OPTION', `groupBy lists \`${duplicate}\` twice`, { option: 'groupBy' });
    this.groupBy = [...options.groupBy];
    this.#specs = parseAggregateList(options.aggregates);
    this.#requestedMode = options.outputMode === undefined ? undefined : parseOutputMode(options.outputMode);
    this.#maxRowsPerBatch = options.maxRowsPerBatch ?? DEFAULT_MAX_ROWS_PER_BATCH;
    if (!Number.isInteger(this.#maxRowsPerBatch) || this.#maxRowsPerBatch < 1) {
      throw new TidemarkError('ERR_INVALID_OPTION', `maxRowsPerBatch must be a positive integer, got ${options.maxRowsPerBatch}`, { option: 'maxRowsPerBatch' });
    }
    this.#partitionCount = options.partitions ?? 1;
    if (!Number.isInteger(this.#partitionCount) || this.#partitionCount < 1) {
      throw new TidemarkError('ERR_INVALID_OPTION', `partitions must be a positive integer, got ${options.partitions}`, { option: 'partitions' });
    }
    this.#lateRows = options.emitLateRows === true ? new PassThrough({ objectMode: true, highWaterMark: 1024 }) : null;
    this.once('close', () => this.#lateRows?.end());
  }

  /**
   * Rows dropped as late (row objects, timestamps as epoch ms), when built
   * with `emitLateRows`; ends when the stage ends. Read it, or it buffers.
   */
  get lateRows(): Readable {
    if (this.#lateRows === null) throw new TidemarkError('ERR_INVALID_OPTION', `${this.operatorName} was built without emitLateRows`, { option: 'emitLateRows' });
    return this.#lateRows;
  }

  /** Whether late rows go to {@link KeyedAggregate.lateRows}. */
  get emitsLateRows(): boolean {
    return this.#lateRows !== null;
  }

  /** Number of state partitions. */
  get partitions(): number {
    return this.#partitionCount;
  }

  /** The output mode in force once planned. */
  get outputMode(): OutputMode {
    return this.#outputMode;
  }

  /** Groups held in state. */
  get stateRows(): number {
    return this.#state?.size ?? 0;
  }

  override outputModeAfter(_queryMode: OutputMode | undefined): OutputMode {
    return this.#outputMode;
  }

  override get stateful(): boolean {
    return true;
  }

  override get aggregates(): boolean {
    return true;
  }

  override get statefulOperator(): StatefulOperatorInfo {
    return { kind: 'aggregation' };
  }

  override get role(): 'aggregate' {
    return 'aggregate';
  }

  /**
   * The buffers a partial aggregation where the rows are read must send this
   * stage, for aggregates over the columns of `input` (the parse's schema);
   * null when they read other columns.
   */
  partialStore(input: Schema): StoreSpec | null {
    try {
      return this.storeSpec(input);
    } catch {
      return null;
    }
  }

  /** Whether partial aggregates of `sent` are what this stage aggregates (same functions, columns and names, in order). */
  protected storeMatches(sent: StoreSpec): boolean {
    if (sent.kind !== 'aggregates' || sent.aggregates.length !== this.#specs.length) return false;
    return sent.aggregates.every((a, i) => {
      const spec = this.#specs[i]!;
      return a.fn === spec.fn && a.column === spec.column && a.name === (spec.alias ?? defaultAggregateName(spec));
    });
  }

  /** The aggregate buffers of a group, resolved against the input schema (Spark's analysis errors). */
  protected storeSpec(input: Schema): StoreSpec {
    return { kind: 'aggregates', aggregates: resolveAggregates(this.#specs, input, { option: 'aggregates' }) };
  }

  override get acceptsPartialAggregates(): boolean {
    return true;
  }

  override plan(input: Schema, context: PlanContext): Schema {
    const mode = this.#requestedMode ?? context.outputMode ?? 'append';
    if (this.#requestedMode !== undefined && context.outputMode !== undefined && this.#requestedMode !== context.outputMode) {
      throw new TidemarkError(
        'ERR_INVALID_OPTION',
        `${this.operatorName} outputMode '${this.#requestedMode}' differs from the query's output mode '${context.outputMode}'`,
        { option: 'outputMode' },
      );
    }
    const groupFields = this.groupBy.map((name) => requireField(input, name, 'groupBy'));
    const eventTimeGroup = groupFields.findIndex((f) => f.metadata?.watermarkDelayMs !== undefined);
    if (mode === 'append' && eventTimeGroup < 0) {
      throw new TidemarkError(
        'ERR_APPEND_WITHOUT_WATERMARK',
        'Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark',
        { option: 'outputMode' },
      );
    }
    const paneAt = groupFields.findIndex((f) => f.metadata?.timeWindow?.panes === true);
    if (paneAt >= 0 && this.#lateRows !== null) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'emitLateRows needs one row per window: build the Window without panes', { option: 'emitLateRows' });
    }
    let store: StoreSpec;
    this.#partialIndexes = [];
    if (isPartialAggregateSchema(input)) {
      // Rows aggregated where they were read (the raw columns are gone): their buffers must be this stage's.
      const partial = input.fields.filter((f) => f.metadata?.partialAggregate !== undefined);
      store = partial[0]!.metadata!.partialAggregate!.store as StoreSpec;
      if (!this.storeMatches(store)) throw new TidemarkError('ERR_PLAN_INPUT', `${this.operatorName} cannot merge partial aggregates of ${JSON.stringify(store)}`);
      this.#partialIndexes = partial.map((f) => fieldIndex(input, f.name));
    } else store = this.storeSpec(input);
    this.#outputMode = mode;
    this.#groupFields = groupFields;
    this.#groupIndexes = this.groupBy.map((name) => fieldIndex(input, name));
    this.#eventTimeGroup = eventTimeGroup;
    {
      // Planned again when the run opens: the state starts empty and is restored from the checkpoint.
      const pane = paneAt >= 0 ? groupFields[paneAt]!.metadata!.timeWindow! : null;
      this.#state = new KeyedAggregation({
        // The window column of panes holds windows once expanded: its key is the window's.
        keyFields: groupFields,
        outputMode: mode,
        eventTimeColumn: eventTimeGroup,
        store: createAggregateStore(store),
        panes: pane === null ? null : { column: paneAt, durationUs: pane.durationUs, slideUs: pane.slideUs },
        partitions: this.#partitionCount,
      });
    }
    const resultFields = this.#state!.store.resultFields();
    const clash = resultFields.find((f) => this.groupBy.includes(f.name));
    if (clash !== undefined) {
      throw new TidemarkError('ERR_INVALID_OPTION', `result column \`${clash.name}\` is also a grouping column: give the aggregate another name (\`… as name\`)`, { option: this.resultOption });
    }
    return { fields: [...groupFields.map(withoutPanes), ...resultFields] };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    const state = this.#state!;
    switch (item.kind) {
      case 'begin':
        // The watermarks apply only when a grouping column carries the watermark (state.watermarkApplies).
        state.beginBatch(item.watermarkMs, item.lateWatermarkMs);
        yield item;
        return;
      case 'rows': {
        const batch = item.batch;
        const groupColumns = this.#groupIndexes.map((i) => batch.columns[i]!);
        if (this.#partialIndexes.length > 0) {
          state.addPartial(groupColumns, this.#partialIndexes.map((i) => batch.columns[i]!), batch.length);
          return;
        }
        if (this.#lateRows === null) {
          state.addRows(groupColumns, batch.columns, batch.length);
          return;
        }
        const late: number[] = [];
        state.addRows(groupColumns, batch.columns, batch.length, null, late);
        for (const i of late) this.#lateRows.write(batch.row(i));
        return;
      }
      case 'barrier':
        yield* this.#finish(item);
        return;
      default:
        yield item;
    }
  }

  *#finish(barrier: BarrierItem): Iterable<StreamItem> {
    const state = this.#state!;
    const started = performance.now();
    const outcome = state.finishBatch();
    const tookMs = Math.round(performance.now() - started);
    if (state.watermarkApplies) {
      barrier.watermarkDriven = true;
      if (outcome.maxEvictedEventTimeUs > -Infinity) {
        const evictedMs = Math.floor(outcome.maxEvictedEventTimeUs / 1000);
        barrier.evictedUpToMs = Math.max(barrier.evictedUpToMs ?? -Infinity, evictedMs);
      }
    }
    const progress: Record<string, unknown> = {
      operatorName: 'stateStoreSave',
      numRowsTotal: outcome.numRowsTotal,
      numRowsUpdated: outcome.numRowsUpdated,
      allUpdatesTimeMs: tookMs,
      numRowsRemoved: outcome.numRowsRemoved,
      allRemovalsTimeMs: 0,
      commitTimeMs: 0,
      memoryUsedBytes: 0,
      numRowsDroppedByWatermark: outcome.numRowsDroppedByWatermark,
      numShufflePartitions: this.#partitionCount,
      numStateStoreInstances: this.#partitionCount,
      customMetrics: {},
    };
    barrier.progress.stateOperators.push(progress);
    // Emitted lazily, one bounded batch at a time, so a large flush waits for the consumer; the
    // groups the watermark closed leave the state only once they are written out.
    const schema = this.outputSchema!;
    const emitted = outcome.emitted;
    for (let from = 0; from < emitted.length; from += this.#maxRowsPerBatch) {
      const to = Math.min(emitted.length, from + this.#maxRowsPerBatch);
      yield { kind: 'rows', batch: new RecordBatch(schema, state.output(emitted, from, to), to - from) };
    }
    const removalStarted = performance.now();
    state.endBatch();
    progress['allRemovalsTimeMs'] = Math.round(performance.now() - removalStarted);
    // After the evicted groups left: what the state holds from now until the next batch.
    progress['memoryUsedBytes'] = state.bytesUsed;
    progress['customMetrics'] = { stateOnCurrentVersionSizeBytes: state.bytesUsed };
    this.stamp(barrier, progress);
    yield barrier;
  }

  /** The option naming the result columns (for errors). */
  protected get resultOption(): string {
    return 'aggregates';
  }

  /** The whole state: per partition, the groups as put records (see `KeyedAggregation.snapshotRecords`). */
  override snapshot(): StateImage {
    return this.#image('snapshot', this.keyState.snapshotRecords());
  }

  /** The state copied now (table and buffers as arrays), its snapshot records built when asked (see `KeyedAggregation.snapshotLater`). */
  override snapshotLater(): (() => StateImage) | null {
    const later = this.keyState.snapshotLater();
    return later === null ? null : () => this.#image('snapshot', later());
  }

  /** What the last batch changed: keys removed, groups updated (see `KeyedAggregation.deltaRecords`). */
  override delta(): StateImage {
    return this.#image('delta', this.keyState.deltaRecords());
  }

  override restore(image: StateImage | StageSnapshot): void {
    restoreRecords(image, this.operatorName, FORMATS, this.configuration(), this.#recorded());
  }

  override applyDelta(image: StateImage): void {
    applyRecords(image, this.operatorName, STATE_VERSION, this.configuration(), this.#recorded());
  }

  #recorded(): RecordedState {
    const state = this.keyState;
    return {
      clear: () => state.clear(),
      reserve: (records) => state.reserve(records as KeyedStateRecord[]),
      applyRecord: (record, fresh) => state.applyRecord(record as KeyedStateRecord, fresh),
      // A whole state in one JSON value: the checkpoint of the release before.
      restoreWhole: (image) => {
        state.clear();
        const snapshot = image as StageSnapshot;
        state.restore((snapshot.partitions ?? [snapshot.state]).map((p) => decodeTypedArrays(p) as KeyedAggregationSnapshot));
      },
    };
  }

  #image(kind: 'snapshot' | 'delta', partitions: unknown[][]): StateImage {
    return stateImage(this.operatorName, STATE_VERSION, this.configuration(), kind, partitions);
  }

  /** The keyed state (planned). */
  protected get keyState(): KeyedAggregation {
    if (this.#state === null) throw new TidemarkError('ERR_PROTOCOL', `${this.operatorName} must be planned before it is restored`);
    return this.#state;
  }

  /** The grouping fields (planned), as the output has them. */
  protected get outputKeyFields(): Field[] {
    return this.#groupFields.map(withoutPanes);
  }

  /** What shapes the state: recorded in the checkpoint, a restart with other values is refused. */
  override configuration(): Record<string, unknown> {
    return {
      groupBy: this.groupBy,
      groupTypes: this.#groupFields.map((f) => simpleString(f.dataType)),
      outputMode: outputModeName(this.#outputMode),
      eventTime: this.#eventTimeGroup >= 0 ? this.groupBy[this.#eventTimeGroup] : null,
      watermarkDelayMs: this.#eventTimeGroup >= 0 ? this.#groupFields[this.#eventTimeGroup]!.metadata?.watermarkDelayMs ?? null : null,
      window: windowConfiguration(this.#groupFields.find((f) => f.metadata?.timeWindow !== undefined)?.metadata?.timeWindow),
      ...this.resultConfiguration(),
      partitions: this.#partitionCount,
    };
  }

  /** The part of {@link configuration} that names the results. */
  protected resultConfiguration(): Record<string, unknown> {
    return { aggregates: this.#specs.map((s) => ({ fn: s.fn, column: s.column, alias: s.alias, ...(s.star === true ? { star: true } : {}) })) };
  }
}

// A pane column holds windows once the aggregation expanded it, and the time column a partial
// aggregate's window came from is gone: the output field is the window, whichever way it was computed.
function withoutPanes(f: Field): Field {
  const window = f.metadata?.timeWindow;
  if (window === undefined || (window.panes !== true && window.timeColumn === undefined)) return f;
  const { panes: _panes, timeColumn: _timeColumn, ...rest } = window;
  return { ...f, metadata: { ...f.metadata, timeWindow: rest } };
}

// The window a checkpoint was written with; panes are a way of computing it, not part of it.
function windowConfiguration(window: { durationUs: number; slideUs: number; startTimeUs: number } | undefined): Record<string, number> | null {
  return window === undefined ? null : { durationUs: window.durationUs, slideUs: window.slideUs, startTimeUs: window.startTimeUs };
}

function parseAggregateList(aggregates: KeyedAggregateOptions['aggregates']): AggregateSpec[] {
  if (typeof aggregates === 'string') return parseAggregates(aggregates, 'aggregates');
  if (!Array.isArray(aggregates) || aggregates.length === 0) {
    throw new TidemarkError('ERR_INVALID_OPTION', 'aggregates must list at least one aggregate, e.g. "count, avg(temperature)"', { option: 'aggregates' });
  }
  return aggregates.flatMap((a) => (typeof a === 'string' ? parseAggregates(a, 'aggregates') : [a]));
}

/**
 * `KeyedCount`: Spark's `groupBy(cols…).count()` on a stream, with the
 * watermark's late filter and eviction and the three output modes. A thin
 * shell: the rules live in `core/keyed-aggregation.ts`.
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
import { BatchBuilder, RecordBatch, type Column } from '../core/batch.js';
import { CountStore, type AggregateStore } from '../core/count-store.js';
import { KeyedAggregation, type KeyedAggregationSnapshot } from '../core/keyed-aggregation.js';
import { outputModeName, parseOutputMode, type OutputMode } from '../core/output-mode.js';
import { fieldIndex, requireField, simpleString, type Field, type Schema } from '../core/schema.js';
import type { StatefulOperatorInfo } from '../core/stateful-chain.js';
import type { BarrierItem, StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';
import { decodeTypedArrays, encodeTypedArrays } from './snapshot-codec.js';

/** Options of {@link KeyedCount}. */
export interface KeyedCountOptions {
  /** Grouping columns, in output order (Spark's `groupBy(col("action"), window(...))` is `['action', 'window']`). */
  groupBy: readonly string[];
  /** Output mode; defaults to the query's, or `'append'` (Spark's default). */
  outputMode?: OutputMode | 'Append' | 'Update' | 'Complete';
  /** Name of the count column. */
  countColumn?: string;
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
   * Route the rows the watermark drops to {@link KeyedCount.lateRows} instead
   * of only counting them. At-least-once: a re-executed batch routes its late
   * rows again. Default false.
   */
  emitLateRows?: boolean;
}

// 3: a Map of encoded keys, columns packed (read on restore); 4: core/keyed-aggregation lanes.
const SNAPSHOT_VERSION = 4;
const LEGACY_SNAPSHOT_VERSION = 3;
const DEFAULT_MAX_ROWS_PER_BATCH = 8192;

/**
 * Counts rows per group across micro-batches.
 *
 * Append mode emits a group once, when the watermark passes its event time
 * (window end); update mode emits every group a batch changed, with its new
 * total; complete mode emits the whole table every batch and never evicts.
 */
export class KeyedCount extends Stage {
  // configuration
  readonly groupBy: readonly string[];
  readonly countColumn: string;
  readonly #requestedMode: OutputMode | undefined;
  readonly #maxRowsPerBatch: number;
  readonly #partitionCount: number;
  #outputMode: OutputMode = 'append';
  #groupFields: Field[] = [];
  #groupIndexes: number[] = [];
  #eventTimeGroup = -1;
  // checkpointed
  #state: KeyedAggregation | null = null;
  // transient
  readonly #lateRows: PassThrough | null;

  constructor(options: KeyedCountOptions) {
    super();
    if (!Array.isArray(options?.groupBy) || options.groupBy.some((c) => typeof c !== 'string')) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'KeyedCount needs groupBy: a list of column names', { option: 'groupBy' });
    }
    const duplicate = options.groupBy.find((c, i) => options.groupBy.indexOf(c) !== i);
    if (duplicate !== undefined) throw new TidemarkError('ERR_INVALID_OPTION', `groupBy lists \`${duplicate}\` twice`, { option: 'groupBy' });
    this.groupBy = [...options.groupBy];
    this.countColumn = options.countColumn ?? 'count';
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
    if (this.#lateRows === null) throw new TidemarkError('ERR_INVALID_OPTION', 'KeyedCount was built without emitLateRows', { option: 'emitLateRows' });
    return this.#lateRows;
  }

  /** Whether late rows go to {@link KeyedCount.lateRows}. */
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

  /** A count alone: what a count push-down can compute where the rows are read. */
  get countsOnly(): boolean {
    return true;
  }

  override configuration(): Record<string, unknown> {
    return this.#configuration();
  }

  /** The aggregate buffers of a group: a count. */
  protected createStore(): AggregateStore {
    return new CountStore(this.countColumn);
  }

  override plan(input: Schema, context: PlanContext): Schema {
    const mode = this.#requestedMode ?? context.outputMode ?? 'append';
    if (this.#requestedMode !== undefined && context.outputMode !== undefined && this.#requestedMode !== context.outputMode) {
      throw new TidemarkError(
        'ERR_INVALID_OPTION',
        `KeyedCount outputMode '${this.#requestedMode}' differs from the query's output mode '${context.outputMode}'`,
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
    if (this.groupBy.includes(this.countColumn)) {
      throw new TidemarkError('ERR_INVALID_OPTION', `count column \`${this.countColumn}\` is also a grouping column`, { option: 'countColumn' });
    }
    const paneAt = groupFields.findIndex((f) => f.metadata?.timeWindow?.panes === true);
    if (paneAt >= 0 && this.#lateRows !== null) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'emitLateRows needs one row per window: build the Window without panes', { option: 'emitLateRows' });
    }
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
        store: this.createStore(),
        panes: pane === null ? null : { column: paneAt, durationUs: pane.durationUs, slideUs: pane.slideUs },
      });
    }
    const resultFields = this.#state!.store.resultFields();
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
        if (this.#lateRows === null) {
          state.addRows(groupColumns, batch.columns, batch.length);
          return;
        }
        const late: number[] = [];
        state.addRows(groupColumns, batch.columns, batch.length, null, late);
        for (const i of late) this.#lateRows.write(batch.row(i));
        return;
      }
      case 'counts':
        if (item.groupBy.length !== this.groupBy.length || item.groupBy.some((name, i) => name !== this.groupBy[i]) || this.#lateRows !== null) {
          throw new TidemarkError('ERR_PROTOCOL', `KeyedCount grouping by ${JSON.stringify(this.groupBy)} cannot take counts grouped by ${JSON.stringify(item.groupBy)}`);
        }
        state.addPartial(item.columns, [{ kind: 'f64', values: item.counts, nulls: null }], item.length);
        return;
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
    barrier.progress.stateOperators.push({
      operatorName: 'stateStoreSave',
      numRowsTotal: outcome.numRowsTotal,
      numRowsUpdated: outcome.numRowsUpdated,
      allUpdatesTimeMs: tookMs,
      numRowsRemoved: outcome.numRowsRemoved,
      allRemovalsTimeMs: 0,
      commitTimeMs: 0,
      memoryUsedBytes: outcome.memoryUsedBytes,
      numRowsDroppedByWatermark: outcome.numRowsDroppedByWatermark,
      numShufflePartitions: this.#partitionCount,
      numStateStoreInstances: this.#partitionCount,
      customMetrics: {},
    });
    // Emitted lazily, one bounded batch at a time, so a large flush waits for the consumer; the
    // groups the watermark closed leave the state only once they are written out.
    const schema = this.outputSchema!;
    const emitted = outcome.emitted;
    for (let from = 0; from < emitted.length; from += this.#maxRowsPerBatch) {
      const to = Math.min(emitted.length, from + this.#maxRowsPerBatch);
      yield { kind: 'rows', batch: new RecordBatch(schema, state.output(emitted, from, to), to - from) };
    }
    state.endBatch();
    this.stamp(barrier);
    yield barrier;
  }

  override snapshot(): StageSnapshot {
    const state = this.#state!;
    const base = { stage: 'KeyedCount', version: SNAPSHOT_VERSION, configuration: this.#configuration() };
    const slots = state.slotsInOrder();
    if (this.#partitionCount === 1) return { ...base, state: encodeTypedArrays(state.snapshot(slots)) };
    const parts = state.table.partitionsOf(slots, this.#partitionCount);
    return { ...base, state: null, partitions: parts.map((p) => encodeTypedArrays(state.snapshot(p))) };
  }

  override restore(snapshot: StageSnapshot): void {
    const state = this.#state;
    if (state === null) throw new TidemarkError('ERR_PROTOCOL', 'KeyedCount must be planned before it is restored');
    if (snapshot.stage === 'KeyedCount' && snapshot.version === LEGACY_SNAPSHOT_VERSION) {
      checkSnapshot(snapshot, 'KeyedCount', LEGACY_SNAPSHOT_VERSION, this.#configuration());
      this.#restoreLegacy(snapshot);
      return;
    }
    checkSnapshot(snapshot, 'KeyedCount', SNAPSHOT_VERSION, this.#configuration());
    const parts = (snapshot.partitions ?? [snapshot.state]).map((p) => decodeTypedArrays(p) as KeyedAggregationSnapshot);
    state.restore(parts);
  }

  // Format 3 (the release before): per partition, key values by column (numbers packed as
  // float64 bytes, structs as one array per field) and a count per group, in state order.
  #restoreLegacy(snapshot: StageSnapshot): void {
    const state = this.#state!;
    const keySchema: Schema = { fields: this.#groupFields.map(withoutPanes) };
    for (const part of snapshot.partitions ?? [snapshot.state]) {
      const legacy = part as LegacySnapshot;
      const builder = new BatchBuilder(keySchema, legacy.size);
      const columns = legacy.keys.map((column): { fields: Array<readonly unknown[]>; nulls: Set<number> } | readonly unknown[] =>
        'fields' in column ? { fields: column.fields.map(unpackLegacy), nulls: new Set(column.nulls) } : unpackLegacy(column),
      );
      for (let i = 0; i < legacy.size; i++) {
        columns.forEach((column, c) => {
          if ('nulls' in column) builder.columns[c]!.appendRaw(column.nulls.has(i) ? null : column.fields.map((f) => f[i] ?? null));
          else builder.columns[c]!.appendRaw(column[i] ?? null);
        });
        builder.endRow();
      }
      const keys = builder.finish();
      const counts: Column = { kind: 'f64', values: Float64Array.from(legacy.counts), nulls: null };
      state.restoreGroups(keys.columns, [counts], keys.length);
    }
  }

  #configuration(): Record<string, unknown> {
    return {
      groupBy: this.groupBy,
      groupTypes: this.#groupFields.map((f) => simpleString(f.dataType)),
      outputMode: outputModeName(this.#outputMode),
      eventTime: this.#eventTimeGroup >= 0 ? this.groupBy[this.#eventTimeGroup] : null,
      watermarkDelayMs: this.#eventTimeGroup >= 0 ? this.#groupFields[this.#eventTimeGroup]!.metadata?.watermarkDelayMs ?? null : null,
      window: windowConfiguration(this.#groupFields.find((f) => f.metadata?.timeWindow !== undefined)?.metadata?.timeWindow),
      countColumn: this.countColumn,
      partitions: this.#partitionCount,
    };
  }
}

// A pane column holds windows once the aggregation expanded it: the output field says window.
function withoutPanes(f: Field): Field {
  const window = f.metadata?.timeWindow;
  if (window?.panes !== true) return f;
  const { panes: _panes, ...rest } = window;
  return { ...f, metadata: { ...f.metadata, timeWindow: rest } };
}

// The window a checkpoint was written with; panes are a way of computing it, not part of it.
function windowConfiguration(window: { durationUs: number; slideUs: number; startTimeUs: number } | undefined): Record<string, number> | null {
  return window === undefined ? null : { durationUs: window.durationUs, slideUs: window.slideUs, startTimeUs: window.startTimeUs };
}

type LegacyPacked = { readonly values: readonly unknown[] } | { readonly f64: string };
interface LegacySnapshot {
  readonly size: number;
  readonly keys: ReadonlyArray<LegacyPacked | { readonly fields: readonly LegacyPacked[]; readonly nulls: readonly number[] }>;
  readonly counts: readonly number[];
}

function unpackLegacy(column: LegacyPacked): readonly unknown[] {
  if ('values' in column) return column.values;
  return Array.from(decodeTypedArrays({ $f64: column.f64 }) as Float64Array);
}

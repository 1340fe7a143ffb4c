/**
 * `SessionWindow`: Spark's `groupBy(session_window(time, gap), keys…).agg(…)`
 * on a stream (Spark 3.2+). A thin shell: the rules live in
 * `core/session-window.ts`, the aggregate buffers in `core/aggregate-buffers.ts`.
 *
 * One stage both assigns and aggregates, unlike `Window` + `KeyedCount`: a
 * row's session is only known once it is merged with the other rows of its
 * key and the sessions already in state, so there is no per-row column to
 * hand to an aggregation (Spark, too, plans the two as one operator chain
 * around one state store).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { ColumnBuilder, RecordBatch, type Column } from '../core/batch.js';
import { AggregateBuffers } from '../core/aggregate-buffers.js';
import { parseAggregates, resolveAggregates, type AggregateSpec, type ResolvedAggregate } from '../core/aggregate-spec.js';
import { outputModeName, parseOutputMode, type OutputMode } from '../core/output-mode.js';
import { WINDOW_TYPE, fieldIndex, simpleString, type Field, type Schema } from '../core/schema.js';
import { allocatingSlots, planSessionWindow, sessionGapUs, SessionWindowState, type EmittedSessions, type SessionStateRecord, type SessionStateSnapshot } from '../core/session-window.js';
import type { StatefulOperatorInfo } from '../core/stateful-chain.js';
import type { BarrierItem, StageSnapshot, StateImage, StreamItem } from '../protocol.js';
import { Stage, applyRecords, recordedCore, restoreRecords, stateImage, type PlanContext, type RecordedState } from './stage.js';

/** Options of {@link SessionWindow}. */
export interface SessionWindowOptions {
  /** The event-time column (a timestamp): `session_window(timeColumn, gap)`. */
  timeColumn: string;
  /**
   * The gap: a session runs from its first event to its last event + gap.
   * An interval string (`"10 minutes"`, no months) or milliseconds.
   */
  gap: string | number;
  /**
   * The grouping columns besides the session (Spark needs at least one). List
   * the session column's name (`as`) among them to place it; otherwise it
   * comes first, as in `groupBy(session_window(…), key)`.
   */
  groupBy: readonly string[];
  /** Name of the session column; Spark's is `session_window`. */
  as?: string;
  /**
   * The aggregates per session, in Spark's syntax (`"count, avg(temperature),
   * max(temperature) AS hottest"`) or parsed: `count`, `count(col)`, `sum`,
   * `avg`, `min`, `max`. Default `count` (Spark's `.count()`).
   */
  aggregates?: string | readonly AggregateSpec[];
  /** Output mode; defaults to the query's, or `'append'`. Update is refused, as Spark refuses it. */
  outputMode?: OutputMode | 'Append' | 'Update' | 'Complete';
  /** Most rows per emitted batch: bounds memory when a flush emits many sessions. */
  maxRowsPerBatch?: number;
}

// core records (SessionStateRecord: puts and removes), written as deltas and snapshots.
const STATE_VERSION = 2;
// The whole state in one record, written every batch by the release before.
const WHOLE_STATE_VERSION = 1;
const FORMATS = { records: STATE_VERSION, whole: WHOLE_STATE_VERSION };
const DEFAULT_MAX_ROWS_PER_BATCH = 8192;

/**
 * Session windows per group key, with their aggregates, across micro-batches.
 *
 * Output: the grouping columns (the session column `session_window`,
 * `struct<start: timestamp, end: timestamp>`, among them), then the
 * aggregates. Append mode (a watermark on the time column is required)
 * emits a session once, when the watermark passes its end; complete mode
 * emits every session every batch.
 *
 * @example
 * ```ts
 * const stages = [
 *   new Watermark({ eventTime: 'time', delay: '30 minutes' }),
 *   new SessionWindow({ timeColumn: 'time', gap: '10 minutes', groupBy: ['user'], aggregates: 'count, max(time) AS last' }),
 * ]
 * ```
 */
export class SessionWindow extends Stage {
  // configuration
  readonly timeColumn: string;
  readonly gapUs: number;
  readonly as: string;
  /** Grouping columns besides the session column. */
  readonly keyColumns: readonly string[];
  readonly #gapText: string | number;
  readonly #specs: readonly AggregateSpec[];
  readonly #requestedMode: OutputMode | undefined;
  readonly #maxRowsPerBatch: number;
  readonly #sessionAt: number;
  #outputMode: 'append' | 'complete' = 'append';
  #keyFields: Field[] = [];
  #keyIndexes: number[] = [];
  #timeIndex = -1;
  #watermarkDelayMs: number | null = null;
  #aggregates: ResolvedAggregate[] = [];
  // checkpointed
  #buffers: AggregateBuffers | null = null;
  #state: SessionWindowState | null = null;

  constructor(options: SessionWindowOptions) {
    super();
    if (typeof options?.timeColumn !== 'string' || options.timeColumn.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'SessionWindow needs a timeColumn name', { option: 'timeColumn' });
    }
    if (!Array.isArray(options.groupBy) || options.groupBy.some((c) => typeof c !== 'string')) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'SessionWindow needs groupBy: a list of column names', { option: 'groupBy' });
    }
    const duplicate = options.groupBy.find((c, i) => options.groupBy.indexOf(c) !== i);
    if (duplicate !== undefined) throw new TidemarkError('ERR_INVALID_OPTION', `groupBy lists \`${duplicate}\` twice`, { option: 'groupBy' });
    if (typeof options.gap !== 'string' && typeof options.gap !== 'number') {
      throw new TidemarkError('ERR_INVALID_OPTION', 'SessionWindow needs a gap: an interval such as "10 minutes", or milliseconds', { option: 'gap' });
    }
    this.timeColumn = options.timeColumn;
    this.#gapText = options.gap;
    this.gapUs = sessionGapUs(options.gap, 'gap');
    this.as = options.as ?? 'session_window';
    this.#sessionAt = Math.max(0, options.groupBy.indexOf(this.as));
    this.keyColumns = options.groupBy.filter((c) => c !== this.as);
    const aggregates = options.aggregates ?? 'count';
    this.#specs = typeof aggregates === 'string' ? parseAggregates(aggregates, 'aggregates') : [...aggregates];
    if (this.#specs.length === 0) throw new TidemarkError('ERR_INVALID_OPTION', 'SessionWindow needs at least one aggregate', { option: 'aggregates' });
    this.#requestedMode = options.outputMode === undefined ? undefined : parseOutputMode(options.outputMode);
    this.#maxRowsPerBatch = options.maxRowsPerBatch ?? DEFAULT_MAX_ROWS_PER_BATCH;
    if (!Number.isInteger(this.#maxRowsPerBatch) || this.#maxRowsPerBatch < 1) {
      throw new TidemarkError('ERR_INVALID_OPTION', `maxRowsPerBatch must be a positive integer, got ${options.maxRowsPerBatch}`, { option: 'maxRowsPerBatch' });
    }
  }

  /** The output mode in force once planned. */
  get outputMode(): OutputMode {
    return this.#outputMode;
  }

  /** Sessions held in state. */
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
    return { kind: 'sessionWindow' };
  }

  override configuration(): Record<string, unknown> {
    return {
      timeColumn: this.timeColumn,
      gapUs: this.gapUs,
      as: this.as,
      groupBy: this.#groupByInOrder(),
      keyTypes: this.#keyFields.map((f) => simpleString(f.dataType)),
      outputMode: outputModeName(this.#outputMode),
      watermarkDelayMs: this.#watermarkDelayMs,
      aggregates: this.#aggregates.map((a) => a.name),
    };
  }

  override plan(input: Schema, context: PlanContext): Schema {
    const mode = this.#requestedMode ?? context.outputMode ?? 'append';
    if (this.#requestedMode !== undefined && context.outputMode !== undefined && this.#requestedMode !== context.outputMode) {
      throw new TidemarkError('ERR_INVALID_OPTION', `SessionWindow outputMode '${this.#requestedMode}' differs from the query's output mode '${context.outputMode}'`, {
        option: 'outputMode',
      });
    }
    const sessionPlan = planSessionWindow({ input, timeColumn: this.timeColumn, gap: this.#gapText, groupBy: this.keyColumns, outputMode: mode });
    const keyFields = sessionPlan.keyIndexes.map((i) => input.fields[i]!);
    if (keyFields.some((f) => f.metadata?.timeWindow !== undefined)) {
      throw new TidemarkError(
        'ERR_MULTIPLE_WINDOWS',
        'Multiple time/session window expressions would result in a cartesian product of rows, therefore they are currently not supported.',
      );
    }
    if (fieldIndex(input, this.as) >= 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', `SessionWindow cannot add column \`${this.as}\`: the stream already has one`, { option: 'as' });
    }
    const aggregates = resolveAggregates(this.#specs, input, { option: 'aggregates' });
    const time = input.fields[sessionPlan.timeIndex]!;
    const sessionField: Field = {
      name: this.as,
      dataType: WINDOW_TYPE,
      nullable: true,
      // The session carries the time column's watermark, so an operator after it can judge its rows by its end.
      ...(time.metadata?.watermarkDelayMs === undefined ? {} : { metadata: { watermarkDelayMs: time.metadata.watermarkDelayMs } }),
    };
    const buffers = new AggregateBuffers(aggregates);
    const groupFields: Field[] = [...keyFields];
    groupFields.splice(this.#sessionAt, 0, sessionField);
    const fields = [...groupFields, ...buffers.resultFields()];
    const clash = fields.find((f, i) => fields.findIndex((g) => g.name === f.name) !== i);
    if (clash !== undefined) {
      throw new TidemarkError('ERR_INVALID_OPTION', `SessionWindow would output two columns named \`${clash.name}\`: alias the aggregate`, { option: 'aggregates' });
    }
    this.#outputMode = sessionPlan.outputMode;
    this.#keyFields = keyFields;
    this.#keyIndexes = [...sessionPlan.keyIndexes];
    this.#timeIndex = sessionPlan.timeIndex;
    this.#watermarkDelayMs = sessionPlan.hasWatermark ? time.metadata!.watermarkDelayMs! : null;
    this.#aggregates = aggregates;
    // Planned again when the run opens: the state starts empty and is restored from the checkpoint.
    this.#buffers = buffers;
    this.#state = new SessionWindowState({ outputMode: mode, hasWatermark: sessionPlan.hasWatermark, aggregates: allocatingSlots(buffers), keyWidth: keyFields.length });
    return { fields };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    const state = this.#state!;
    switch (item.kind) {
      case 'begin':
        state.beginBatch(item.watermarkMs, item.lateWatermarkMs);
        yield item;
        return;
      case 'rows': {
        const columns = item.batch.columns;
        state.add({
          length: item.batch.length,
          keys: this.#keyIndexes.map((i) => columns[i]!),
          time: columns[this.#timeIndex]!,
          gapUs: this.gapUs,
          aggregateInput: columns,
        });
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
    const emitted = outcome.emitted;
    if (state.watermarkApplies) {
      barrier.watermarkDriven = true;
      if (emitted.length > 0) {
        let maxEndUs = -Infinity;
        for (let i = 0; i < emitted.length; i++) if (emitted.endsUs[i]! > maxEndUs) maxEndUs = emitted.endsUs[i]!;
        barrier.evictedUpToMs = Math.max(barrier.evictedUpToMs ?? -Infinity, Math.floor(maxEndUs / 1000));
      }
    }
    const progress: Record<string, unknown> = {
      operatorName: 'sessionWindowStateStoreSaveExec',
      numRowsTotal: outcome.numRowsTotal,
      numRowsUpdated: outcome.numRowsUpdated,
      allUpdatesTimeMs: tookMs,
      numRowsRemoved: outcome.numRowsRemoved,
      allRemovalsTimeMs: 0,
      commitTimeMs: 0,
      memoryUsedBytes: state.bytesUsed + this.#buffers!.bytesUsed(),
      numRowsDroppedByWatermark: outcome.numRowsDroppedByWatermark,
      numShufflePartitions: 1,
      numStateStoreInstances: 1,
      customMetrics: {},
    };
    barrier.progress.stateOperators.push(progress);
    // One bounded batch at a time, so a large flush waits for the consumer.
    for (let from = 0; from < emitted.length; from += this.#maxRowsPerBatch) {
      const to = Math.min(emitted.length, from + this.#maxRowsPerBatch);
      yield { kind: 'rows', batch: this.#output(emitted, from, to) };
    }
    this.stamp(barrier, progress);
    yield barrier;
  }

  // Sessions [from, to) of what a batch emitted, as rows of the output schema.
  #output(emitted: EmittedSessions, from: number, to: number): RecordBatch {
    const schema = this.outputSchema!;
    const n = to - from;
    const keyColumns = this.#keyFields.map((f, k) => {
      const builder = new ColumnBuilder(f, n);
      for (let i = from; i < to; i++) builder.appendRaw(emitted.keys[i]![k]);
      return builder.finish();
    });
    const session: Column = {
      kind: 'struct',
      children: [
        { kind: 'f64', values: emitted.startsUs.slice(from, to), nulls: null },
        { kind: 'f64', values: emitted.endsUs.slice(from, to), nulls: null },
      ],
      nulls: null,
    };
    const groupColumns: Column[] = [...keyColumns];
    groupColumns.splice(this.#sessionAt, 0, session);
    const results = this.#buffers!.writeResults(emitted.slots.subarray(from, to), n);
    return new RecordBatch(schema, [...groupColumns, ...results], n);
  }

  #groupByInOrder(): string[] {
    const names = [...this.keyColumns];
    names.splice(this.#sessionAt, 0, this.as);
    return names;
  }

  /** Every session held, as puts (see `SessionWindowState.snapshotRecords`). */
  override snapshot(): StateImage {
    return stateImage('SessionWindow', STATE_VERSION, this.configuration(), 'snapshot', [this.#planned().snapshotRecords()]);
  }

  /** What the last batch changed: removes, then puts (see `SessionWindowState.deltaRecords`). */
  override delta(): StateImage {
    return stateImage('SessionWindow', STATE_VERSION, this.configuration(), 'delta', [this.#planned().deltaRecords()]);
  }

  override restore(image: StateImage | StageSnapshot): void {
    restoreRecords(image, 'SessionWindow', FORMATS, this.configuration(), this.#recorded());
  }

  override applyDelta(image: StateImage): void {
    applyRecords(image, 'SessionWindow', STATE_VERSION, this.configuration(), this.#recorded());
  }

  #recorded(): RecordedState {
    return recordedCore<SessionStateRecord, SessionStateSnapshot>(this.#planned());
  }

  #planned(): SessionWindowState {
    if (this.#state === null) throw new TidemarkError('ERR_PROTOCOL', 'SessionWindow must be planned before its state is read or restored');
    return this.#state;
  }
}

/**
 * `DropDuplicates`: Spark's streaming `dropDuplicates(cols)` and, with
 * `withinWatermark`, Spark 3.5's `dropDuplicatesWithinWatermark(cols)`. A
 * thin shell: the rules live in `core/dedup.ts`.
 *
 * One stage with an option rather than two: the two operators share every
 * rule but how long a key is held (until the watermark passes its event
 * time, or its event time + the watermark delay), and Spark implements them
 * as one base class with two subclasses.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { DeduplicateState, planDeduplicate, type DedupStateRecord, type DedupStateSnapshot } from '../core/dedup.js';
import { simpleString, type Schema } from '../core/schema.js';
import type { StatefulOperatorInfo } from '../core/stateful-chain.js';
import type { BarrierItem, StageSnapshot, StateImage, StreamItem } from '../protocol.js';
import { Stage, applyRecords, recordedCore, restoreRecords, stateImage, type PlanContext, type RecordedState } from './stage.js';

/** Options of {@link DropDuplicates}. */
export interface DropDuplicatesOptions {
  /**
   * The key columns (matched case-insensitively, as Spark does); absent or
   * null for every column (`dropDuplicates()`). An empty list is refused.
   */
  columns?: readonly string[] | null;
  /**
   * `dropDuplicatesWithinWatermark`: a key is held until its event time +
   * the watermark delay passes the watermark, whether or not the event time
   * is a key column; needs a `Watermark` upstream. Default false:
   * `dropDuplicates`, whose keys are evicted by the watermark only when the
   * event-time column is one of them (otherwise they are held forever).
   */
  withinWatermark?: boolean;
}

// core records (DedupStateRecord: puts and removes), written as deltas and snapshots.
const STATE_VERSION = 2;
// The whole state in one record, written every batch by the release before.
const WHOLE_STATE_VERSION = 1;
const FORMATS = { records: STATE_VERSION, whole: WHOLE_STATE_VERSION };

/**
 * Lets through the first row of each key, in input order, across
 * micro-batches and restarts.
 *
 * With a watermark upstream, a row whose event time is at or before the
 * previous batch's watermark is dropped first, as late
 * (`numRowsDroppedByWatermark`).
 *
 * @example
 * ```ts
 * const stages = [
 *   new Watermark({ eventTime: 'time', delay: '10 minutes' }),
 *   new DropDuplicates({ columns: ['id'], withinWatermark: true }),
 *   new Window({ timeColumn: 'time', duration: '1 hour' }),
 *   new KeyedCount({ groupBy: ['action', 'window'] }),
 * ]
 * ```
 */
export class DropDuplicates extends Stage {
  // configuration
  readonly columns: readonly string[] | null;
  readonly withinWatermark: boolean;
  #keyIndexes: number[] = [];
  #keyNames: string[] = [];
  #keyTypes: string[] = [];
  #eventTimeIndex = -1;
  #eventTimeName: string | null = null;
  #eventTimeKey = -1;
  #delayMs = 0;
  // checkpointed
  #state: DeduplicateState | null = null;

  constructor(options: DropDuplicatesOptions = {}) {
    super();
    const columns = options.columns ?? null;
    if (columns !== null && (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string'))) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'DropDuplicates columns must be a list of column names', { option: 'columns' });
    }
    this.columns = columns === null ? null : [...columns];
    this.withinWatermark = options.withinWatermark === true;
  }

  /** Keys held in state. */
  get stateRows(): number {
    return this.#state?.size ?? 0;
  }

  override get stateful(): boolean {
    return true;
  }

  override get operatorName(): string {
    return 'DropDuplicates';
  }

  override get statefulOperator(): StatefulOperatorInfo {
    return this.withinWatermark ? { kind: 'dropDuplicatesWithinWatermark' } : { kind: 'dropDuplicates', eventTimeKey: this.#eventTimeKey >= 0 };
  }

  override configuration(): Record<string, unknown> {
    return {
      columns: this.#keyNames,
      keyTypes: this.#keyTypes,
      withinWatermark: this.withinWatermark,
      eventTime: this.#eventTimeName,
      watermarkDelayMs: this.#eventTimeIndex < 0 ? null : this.#delayMs,
    };
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    const plan = planDeduplicate({ input, columns: this.columns, withinWatermark: this.withinWatermark });
    this.#keyIndexes = [...plan.keyIndexes];
    this.#keyNames = plan.keyIndexes.map((i) => input.fields[i]!.name);
    this.#keyTypes = plan.keyIndexes.map((i) => simpleString(input.fields[i]!.dataType));
    this.#eventTimeIndex = plan.eventTimeIndex;
    this.#eventTimeName = plan.eventTimeIndex < 0 ? null : input.fields[plan.eventTimeIndex]!.name;
    this.#eventTimeKey = plan.eventTimeKey;
    this.#delayMs = plan.delayMs;
    // Planned again when the run opens: the state starts empty and is restored from the checkpoint.
    this.#state = new DeduplicateState({
      withinWatermark: plan.withinWatermark,
      hasWatermark: plan.eventTimeIndex >= 0,
      eventTimeKey: plan.eventTimeKey,
      delayMs: plan.delayMs,
    });
    return input;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    const state = this.#state!;
    switch (item.kind) {
      case 'begin':
        state.beginBatch(item.watermarkMs, item.lateWatermarkMs);
        yield item;
        return;
      case 'rows': {
        const batch = item.batch;
        const columns = batch.columns;
        const kept = state.add(
          this.#keyIndexes.map((i) => columns[i]!),
          this.#eventTimeIndex < 0 ? null : columns[this.#eventTimeIndex]!,
          batch.length,
        );
        if (kept.length === batch.length) yield item;
        else if (kept.length > 0) yield { kind: 'rows', batch: batch.take(kept.rows, kept.length) };
        return;
      }
      case 'barrier':
        this.#finish(item);
        yield item;
        return;
      default:
        yield item;
    }
  }

  #finish(barrier: BarrierItem): void {
    const state = this.#state!;
    const started = performance.now();
    const outcome = state.finishBatch();
    const tookMs = Math.round(performance.now() - started);
    if (state.hasWatermark) {
      // Spark runs a no-data batch for a deduplication whenever the watermark moves (shouldRunAnotherBatch).
      barrier.watermarkDriven = true;
      if (outcome.maxEvictedEventTimeUs > -Infinity) {
        barrier.evictedUpToMs = Math.max(barrier.evictedUpToMs ?? -Infinity, Math.floor(outcome.maxEvictedEventTimeUs / 1000));
      }
    }
    const progress: Record<string, unknown> = {
      operatorName: this.withinWatermark ? 'dedupeWithinWatermark' : 'dedupe',
      numRowsTotal: outcome.numRowsTotal,
      numRowsUpdated: outcome.numRowsUpdated,
      allUpdatesTimeMs: tookMs,
      numRowsRemoved: outcome.numRowsRemoved,
      allRemovalsTimeMs: 0,
      commitTimeMs: 0,
      memoryUsedBytes: state.bytesUsed,
      numRowsDroppedByWatermark: outcome.numRowsDroppedByWatermark,
      numShufflePartitions: 1,
      numStateStoreInstances: 1,
      customMetrics: { numDroppedDuplicateRows: outcome.numDroppedDuplicateRows },
    };
    barrier.progress.stateOperators.push(progress);
    this.stamp(barrier, progress);
  }

  /** Every key held, as puts (see `DeduplicateState.snapshotRecords`). */
  override snapshot(): StateImage {
    return stateImage('DropDuplicates', STATE_VERSION, this.configuration(), 'snapshot', [this.#planned().snapshotRecords()]);
  }

  /** What the last batch changed: removes, then puts (see `DeduplicateState.deltaRecords`). */
  override delta(): StateImage {
    return stateImage('DropDuplicates', STATE_VERSION, this.configuration(), 'delta', [this.#planned().deltaRecords()]);
  }

  override restore(image: StateImage | StageSnapshot): void {
    restoreRecords(image, 'DropDuplicates', FORMATS, this.configuration(), this.#recorded());
  }

  override applyDelta(image: StateImage): void {
    applyRecords(image, 'DropDuplicates', STATE_VERSION, this.configuration(), this.#recorded());
  }

  #recorded(): RecordedState {
    return recordedCore<DedupStateRecord, DedupStateSnapshot>(this.#planned());
  }

  #planned(): DeduplicateState {
    if (this.#state === null) throw new TidemarkError('ERR_PROTOCOL', 'DropDuplicates must be planned before its state is read or restored');
    return this.#state;
  }
}

/**
 * Streaming deduplication, free of streams: Spark's `dropDuplicates(cols)`
 * (`StreamingDeduplicateExec`) and, Spark 3.5+,
 * `dropDuplicatesWithinWatermark(cols)` (`StreamingDeduplicateWithinWatermarkExec`).
 *
 * Rules (docs/sessions-and-deduplication.md has the sources):
 * - with a watermark on the input, a row whose event time is `<=` the
 *   late-events watermark (the previous batch's) is dropped first and
 *   counted; a null time is never late;
 * - a row whose key is held is dropped; otherwise it is let through and its
 *   key put in state. The output is the rows let through, in input order;
 * - `dropDuplicates`: with the event-time column among the key columns, a
 *   key is evicted once that time is `<=` the batch's watermark; without
 *   it, never (state grows without bound);
 * - `dropDuplicatesWithinWatermark`: a key expires at `eventTime + delay`
 *   and is evicted once `expiresAt <=` the batch's watermark; the key is
 *   then new again. A key let through with a null time never expires;
 * - eviction happens at the end of a batch, after its rows: a key that is
 *   due but not yet evicted still drops duplicates.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { Column } from './batch.js';
import type { Schema } from './schema.js';
import { KeyEncoder, packNumbers, recordRanges, unpackNumbers } from './state-keys.js';

// ---------------------------------------------------------------------------------------------
// Planning: column resolution and Spark's refusals

/** What a deduplication is asked to do. */
export interface DeduplicateQuery {
  /** Schema of the stage's input (watermark metadata included). */
  readonly input: Schema;
  /** Key columns; null for every column (Spark's `dropDuplicates()`). */
  readonly columns: readonly string[] | null;
  /** `dropDuplicatesWithinWatermark` rather than `dropDuplicates`. */
  readonly withinWatermark: boolean;
  /** False for a batch run (Spark refuses `dropDuplicatesWithinWatermark` there). Default true. */
  readonly streaming?: boolean;
  /** Option named in errors. Default `columns`. */
  readonly option?: string;
}

/** What {@link planDeduplicate} resolved. */
export interface DeduplicatePlan {
  /** Input columns of the key, in input order. */
  readonly keyIndexes: readonly number[];
  /** Input column carrying the watermark, or -1. */
  readonly eventTimeIndex: number;
  /** Position of the event-time column among the key columns, or -1 (`dropDuplicates` evicts by it). */
  readonly eventTimeKey: number;
  /** The watermark delay (ms); 0 without a watermark. */
  readonly delayMs: number;
  readonly withinWatermark: boolean;
}

/**
 * Resolves the key columns the way Spark's `Dataset.dropDuplicates` does
 * (case-insensitively, a name given twice counts once, every column of a
 * matching name is a key) and applies Spark's refusals, with its messages.
 *
 * @throws TidemarkError `ERR_UNKNOWN_COLUMN` (`UNRESOLVED_COLUMN_AMONG_FIELD_NAMES`), `ERR_INVALID_OPTION`
 *   (an empty column list), `ERR_DEDUP_ON_BATCH`, `ERR_DEDUP_WITHOUT_WATERMARK`.
 */
export function planDeduplicate(query: DeduplicateQuery): DeduplicatePlan {
  const { input, withinWatermark } = query;
  const option = query.option ?? 'columns';
  const fields = input.fields;
  let keyIndexes: number[];
  if (query.columns === null) keyIndexes = fields.map((_, i) => i);
  else {
    if (query.columns.length === 0) {
      // Spark's dropDuplicates(Seq()) keys every row alike and lets one row through, ever.
      throw new TidemarkError('ERR_INVALID_OPTION', `${option}: name at least one column (or none at all for every column)`, { option });
    }
    const picked = new Set<number>();
    for (const name of new Set(query.columns)) {
      const lower = name.toLowerCase();
      let found = false;
      fields.forEach((f, i) => {
        if (f.name.toLowerCase() === lower) {
          picked.add(i);
          found = true;
        }
      });
      if (!found) {
        throw new TidemarkError(
          'ERR_UNKNOWN_COLUMN',
          `[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name "${name}" among (${fields.map((f) => f.name).join(', ')}).`,
          { option },
        );
      }
    }
    keyIndexes = [...picked].sort((a, b) => a - b);
  }
  if (withinWatermark && query.streaming === false) {
    throw new TidemarkError('ERR_DEDUP_ON_BATCH', 'dropDuplicatesWithinWatermark is not supported with batch DataFrames/DataSets');
  }
  const eventTimeIndex = fields.findIndex((f) => f.metadata?.watermarkDelayMs !== undefined);
  if (withinWatermark && eventTimeIndex < 0) {
    throw new TidemarkError('ERR_DEDUP_WITHOUT_WATERMARK', 'dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark');
  }
  return {
    keyIndexes,
    eventTimeIndex,
    eventTimeKey: eventTimeIndex < 0 ? -1 : keyIndexes.indexOf(eventTimeIndex),
    delayMs: eventTimeIndex < 0 ? 0 : fields[eventTimeIndex]!.metadata!.watermarkDelayMs!,
    withinWatermark,
  };
}

// ---------------------------------------------------------------------------------------------
// State

/** How a {@link DeduplicateState} behaves. */
export interface DeduplicateOptions {
  /** `dropDuplicatesWithinWatermark` rather than `dropDuplicates`. */
  readonly withinWatermark: boolean;
  /** The input carries a watermark: late rows are dropped, and state is evicted. */
  readonly hasWatermark: boolean;
  /** `dropDuplicates`: position of the event-time column among the key columns, or -1 (never evicted). */
  readonly eventTimeKey?: number;
  /** `dropDuplicatesWithinWatermark`: the watermark delay (ms). */
  readonly delayMs?: number;
}

/** The rows of a batch let through: indices into it, in input order. */
export interface DedupSelection {
  readonly rows: Int32Array;
  readonly length: number;
}

/** What one micro-batch did (Spark's `stateOperators[i]` figures). */
export interface DedupBatchOutcome {
  /** Keys held after the batch. */
  readonly numRowsTotal: number;
  /** Keys added by the batch. */
  readonly numRowsUpdated: number;
  /** Keys evicted at the end of the batch. */
  readonly numRowsRemoved: number;
  /** Late rows dropped. */
  readonly numRowsDroppedByWatermark: number;
  /** Duplicates dropped (Spark's custom metric `numDroppedDuplicateRows`). */
  readonly numDroppedDuplicateRows: number;
  /**
   * Largest event time (µs) of a key evicted by the batch (`expiresAt - delay`
   * within the watermark), or -∞ when none was: where a drain leaves the
   * watermark, so that a redelivered key it evicted is late, not new.
   */
  readonly maxEvictedEventTimeUs: number;
}

/** Keys with their times in a checkpoint record, JSON-friendly. */
export interface DedupKeys {
  /** Key texts (values, not dictionary ids). */
  readonly keys: readonly string[];
  /** Per key: its event time (`dropDuplicates`, NaN when none) or `expiresAt` (µs), packed. */
  readonly times: string;
}

/** Checkpointed form of a whole {@link DeduplicateState} (format 1, before checkpoints were incremental). */
export interface DedupStateSnapshot extends DedupKeys {
  readonly version: 1;
}

/**
 * One record of an incremental checkpoint (Spark's HDFS state store delta
 * entries): keys to hold, with their times, or keys to drop. A snapshot is
 * puts only; a delta lists its removes first.
 */
export type DedupStateRecord = { readonly put: DedupKeys } | { readonly remove: { readonly keys: readonly string[] } };

/**
 * The keys a deduplication has let through, across micro-batches.
 *
 * Per micro-batch: {@link DeduplicateState.beginBatch},
 * {@link DeduplicateState.add} once or more (each returns the rows let
 * through), {@link DeduplicateState.finishBatch}; then the checkpoint takes
 * {@link DeduplicateState.deltaRecords} (what the batch changed) or
 * {@link DeduplicateState.snapshotRecords} (every key); a restart replays
 * them with {@link DeduplicateState.applyRecord}, snapshot then deltas.
 */
export class DeduplicateState {
  readonly withinWatermark: boolean;
  readonly hasWatermark: boolean;
  readonly #eventTimeKey: number;
  readonly #delayUs: number;
  readonly #encoder = new KeyEncoder();
  // checkpointed: key text → event time of the key (dropDuplicates) or expiresAt (within watermark), µs
  readonly #keys = new Map<string, number>();
  /** Characters of the key texts held, for {@link DeduplicateState.bytesUsed}. */
  #keyChars = 0;
  // one micro-batch
  #inBatch = false;
  // -0, not 0: a double from the start. A field that starts as a small integer and later
  // holds a timestamp changes the object's hidden class, which discards the code V8 optimised
  // for it (every method using the field is compiled again).
  #watermarkUs = -0;
  #lateWatermarkUs = -0;
  #late = 0;
  #duplicates = 0;
  readonly #added = new Set<string>();
  // the last finished batch, for deltaRecords()
  #addedKept: string[] = [];
  #removed: string[] = [];

  constructor(options: DeduplicateOptions) {
    if (options.withinWatermark && !options.hasWatermark) {
      throw new TidemarkError('ERR_DEDUP_WITHOUT_WATERMARK', 'dropDuplicatesWithinWatermark is not supported on streaming DataFrames/DataSets without watermark');
    }
    this.withinWatermark = options.withinWatermark;
    this.hasWatermark = options.hasWatermark;
    this.#eventTimeKey = options.withinWatermark ? -1 : (options.eventTimeKey ?? -1);
    this.#delayUs = (options.delayMs ?? 0) * 1000;
  }

  /** Keys held. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Memory the keys hold, estimated as the group table estimates its own: per
   * key its text (a 16-byte header and a byte a character, as V8 stores the
   * usual one-byte strings), a map entry (48) and a boxed double (16).
   */
  get bytesUsed(): number {
    return this.#keys.size * (16 + 48 + 16) + this.#keyChars;
  }

  /** Starts a micro-batch: `watermarkMs` evicts, `lateWatermarkMs` (the previous batch's) judges rows late. */
  beginBatch(watermarkMs: number, lateWatermarkMs: number): void {
    this.#watermarkUs = watermarkMs * 1000;
    this.#lateWatermarkUs = lateWatermarkMs * 1000;
    this.#late = 0;
    this.#duplicates = 0;
    this.#added.clear();
    this.#addedKept = [];
    this.#removed = [];
    this.#inBatch = true;
  }

  /**
   * Lets through the rows whose key is new, in input order.
   *
   * @param keys - the key columns.
   * @param eventTime - the column carrying the watermark (a timestamp, or a window whose end counts), or null without one.
   */
  add(keys: readonly Column[], eventTime: Column | null, length: number): DedupSelection {
    if (!this.#inBatch) throw new TidemarkError('ERR_PROTOCOL', 'DeduplicateState.add outside a micro-batch: call beginBatch first');
    const times = eventTime === null ? null : eventTime.kind === 'struct' ? eventTime.children[1]! : eventTime;
    if (times !== null && times.kind !== 'f64') throw new TidemarkError('ERR_PROTOCOL', `deduplication: the event-time column must be a timestamp, got ${times.kind}`);
    const timeValues = times === null ? null : (times as Extract<Column, { kind: 'f64' }>).values;
    const timeNulls = times === null ? null : (times as Extract<Column, { kind: 'f64' }>).nulls;
    const structNulls = eventTime !== null && eventTime.kind === 'struct' ? eventTime.nulls : null;
    const checksLate = this.hasWatermark && timeValues !== null;
    const lateUs = this.#lateWatermarkUs;
    const keyTimeColumn = this.#eventTimeKey >= 0 ? keys[this.#eventTimeKey]! : null;
    const out = new Int32Array(length);
    let n = 0;
    for (let i = 0; i < length; i++) {
      const isNullTime = (timeNulls !== null && timeNulls[i] === 1) || (structNulls !== null && structNulls[i] === 1);
      if (checksLate && !isNullTime && timeValues![i]! <= lateUs) {
        this.#late++;
        continue;
      }
      const text = this.#encoder.encodeAt(keys, i);
      if (this.#keys.has(text)) {
        this.#duplicates++;
        continue;
      }
      let time: number;
      if (this.withinWatermark) {
        // A null event time never expires (NaN is never <= a watermark), as the conformance
        // scenarios have it; see docs/sessions-and-deduplication.md for what Spark's code suggests.
        time = isNullTime || timeValues === null ? NaN : timeValues[i]! + this.#delayUs;
      } else {
        time = keyTimeColumn === null ? NaN : keyTime(keyTimeColumn, i);
      }
      this.#keys.set(text, time);
      this.#keyChars += text.length;
      this.#added.add(text);
      out[n++] = i;
    }
    return { rows: out, length: n };
  }

  /** Ends the micro-batch: evicts what the batch's watermark let expire. */
  finishBatch(): DedupBatchOutcome {
    if (!this.#inBatch) throw new TidemarkError('ERR_PROTOCOL', 'DeduplicateState.finishBatch outside a micro-batch: call beginBatch first');
    this.#inBatch = false;
    let removed = 0;
    let maxEvicted = -Infinity;
    const removedKeys: string[] = [];
    const evicts = this.hasWatermark && (this.withinWatermark || this.#eventTimeKey >= 0);
    if (evicts) {
      const watermarkUs = this.#watermarkUs;
      const delayUs = this.withinWatermark ? this.#delayUs : 0;
      for (const [text, time] of this.#keys) {
        // NaN (a null event time in the key) is never <= anything: never evicted, as in Spark.
        if (time <= watermarkUs) {
          this.#keys.delete(text);
          this.#keyChars -= text.length;
          if (time - delayUs > maxEvicted) maxEvicted = time - delayUs;
          removed++;
          if (!this.#added.has(text)) removedKeys.push(text);
        }
      }
    }
    this.#addedKept = [...this.#added].filter((text) => this.#keys.has(text));
    this.#removed = removedKeys;
    return {
      numRowsTotal: this.#keys.size,
      numRowsUpdated: this.#added.size,
      numRowsRemoved: removed,
      numRowsDroppedByWatermark: this.#late,
      numDroppedDuplicateRows: this.#duplicates,
      maxEvictedEventTimeUs: maxEvicted,
    };
  }

  #keysOf(texts: readonly string[]): DedupKeys {
    const times = new Float64Array(texts.length);
    for (let i = 0; i < texts.length; i++) times[i] = this.#keys.get(texts[i]!)!;
    return { keys: texts, times: packNumbers(times) };
  }

  // Puts of the given keys, at most RECORD_GROUPS a record.
  #puts(texts: readonly string[]): DedupStateRecord[] {
    return [...recordRanges(texts.length)].map(([from, to]) => ({ put: this.#keysOf(texts.slice(from, to)) }));
  }

  /** Every key held, with its time, as puts (copies). */
  snapshotRecords(): DedupStateRecord[] {
    return this.#puts([...this.#keys.keys()]);
  }

  /**
   * What the last finished batch changed (call between `finishBatch` and the
   * next `beginBatch`): the keys it evicted that were held before it, then
   * the keys it added that are still held. Applied to the state before the
   * batch, they give the state after it.
   */
  deltaRecords(): DedupStateRecord[] {
    const removes: DedupStateRecord[] = [...recordRanges(this.#removed.length)].map(([from, to]) => ({ remove: { keys: this.#removed.slice(from, to) } }));
    return [...removes, ...this.#puts(this.#addedKept)];
  }

  /** Drops every key (before a snapshot's records are applied). */
  clear(): void {
    this.#keys.clear();
    this.#keyChars = 0;
    this.#inBatch = false;
  }

  /** Replaces the whole state with a format-1 snapshot's. */
  restore(snapshot: DedupStateSnapshot): void {
    if (snapshot.version !== 1) throw new TidemarkError('ERR_SNAPSHOT_VERSION', `deduplication state: unknown snapshot version ${String(snapshot.version)}`);
    this.clear();
    this.applyRecord({ put: snapshot });
  }

  /** Applies a record of {@link DeduplicateState.snapshotRecords} or {@link DeduplicateState.deltaRecords}. */
  applyRecord(record: DedupStateRecord): void {
    if ('remove' in record && Array.isArray(record.remove?.keys)) {
      for (const text of record.remove.keys) if (this.#keys.delete(text)) this.#keyChars -= text.length;
      return;
    }
    const put = 'put' in record ? record.put : null;
    if (put === null || !Array.isArray(put?.keys) || typeof put.times !== 'string') {
      throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `deduplication state: a record that is neither a put nor a remove: ${JSON.stringify(record)?.slice(0, 80)}`);
    }
    const times = unpackNumbers(put.times);
    if (times.length !== put.keys.length) {
      throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `deduplication state: ${put.keys.length} keys but ${times.length} times`);
    }
    for (let i = 0; i < times.length; i++) {
      const text = put.keys[i]!;
      if (!this.#keys.has(text)) this.#keyChars += text.length;
      this.#keys.set(text, times[i]!);
    }
  }
}

// The event time a key column holds: a timestamp, or a window's end; NaN for null.
function keyTime(column: Column, i: number): number {
  if (column.kind === 'struct') {
    if (column.nulls !== null && column.nulls[i] === 1) return NaN;
    return keyTime(column.children[1]!, i);
  }
  if (column.kind !== 'f64') return NaN;
  return column.nulls !== null && column.nulls[i] === 1 ? NaN : column.values[i]!;
}

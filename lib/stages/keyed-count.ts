/**
 * `KeyedCount`: Spark's `groupBy(cols…).count()` on a stream, with the
 * watermark's late filter and eviction and the three output modes.
 *
 * Group by any columns: a `window` column (event-time windows), the raw
 * event-time column, or no time at all. The column carrying the watermark
 * (set by a `Watermark` stage upstream, carried onto the window by `Window`)
 * is the event time of a group.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { PassThrough, type Readable } from 'node:stream';
import { BatchBuilder, rawValueAt, type Column, type RecordBatch, type StringDictionary } from '../core/batch.js';
import { KeyedCountState, outputModeName, parseOutputMode, type GroupEntry, type KeyedCountStateSnapshot, type OutputMode } from '../core/keyed-state.js';
import { countGroups, type CountedGroups } from '../core/partial-count.js';
import { fieldIndex, requireField, simpleString, Types, type Field, type Schema } from '../core/schema.js';
import type { BarrierItem, StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

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

// 3: state by columns, numbers packed (see KeyedCountStateSnapshot).
const SNAPSHOT_VERSION = 3;
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
  // Set when the window column carries panes (see Window's `panes`): each pane counts for `perPane` windows.
  #panes: { column: number; durationUs: number; slideUs: number; startTimeUs: number; perPane: number } | null = null;
  // checkpointed
  #partitions: KeyedCountState[] = [];
  // transient
  #watermarkMs = 0;
  // Weak: a producer replaces a dictionary that grew large, and the old one must be able to go.
  readonly #quoted = new WeakMap<StringDictionary, string[]>();
  // Group texts of this micro-batch by (number or window start, string id): a group met again in
  // another chunk reuses its text instead of building a new string (the garbage of sliding windows).
  readonly #texts = new Map<number, Array<string | undefined>>();
  #textsDictionary: StringDictionary | null = null;
  readonly #lateRows: PassThrough | null;

  constructor(options: KeyedCountOptions) {
    super();
    if (!Array.isArray(options?.groupBy) || options.groupBy.some((c) => typeof c !== 'string')) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'KeyedCount needs groupBy: a list of column names', { option: 'groupBy' });
    }
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
    let n = 0;
    for (const p of this.#partitions) n += p.size;
    return n;
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
    if (fieldIndex(input, this.countColumn) >= 0 && this.groupBy.includes(this.countColumn)) {
      throw new TidemarkError('ERR_INVALID_OPTION', `count column \`${this.countColumn}\` is also a grouping column`, { option: 'countColumn' });
    }
    this.#outputMode = mode;
    this.#groupFields = groupFields;
    const paneAt = groupFields.findIndex((f) => f.metadata?.timeWindow?.panes === true);
    const paneWindow = paneAt >= 0 ? groupFields[paneAt]!.metadata!.timeWindow! : null;
    this.#panes = paneWindow === null ? null : { column: paneAt, durationUs: paneWindow.durationUs, slideUs: paneWindow.slideUs, startTimeUs: paneWindow.startTimeUs, perPane: paneWindow.durationUs / paneWindow.slideUs };
    if (this.#panes !== null && this.#lateRows !== null) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'emitLateRows needs one row per window: build the Window without panes', { option: 'emitLateRows' });
    }
    this.#groupIndexes = this.groupBy.map((name) => fieldIndex(input, name));
    this.#eventTimeGroup = eventTimeGroup;
    const isWindow = eventTimeGroup >= 0 && groupFields[eventTimeGroup]!.dataType.type === 'struct';
    const g = eventTimeGroup;
    if (this.#partitions.length === 0) {
      for (let p = 0; p < this.#partitionCount; p++) {
        this.#partitions.push(
          new KeyedCountState({
            outputMode: mode,
            hasWatermark: eventTimeGroup >= 0,
            // A window's event time is its end; a raw timestamp is its own.
            eventTimeOf: isWindow ? (key) => (key[g] as number[])[1]! : (key) => key[g] as number,
          }),
        );
      }
    }
    return { fields: [...groupFields, { name: this.countColumn, dataType: Types.long, nullable: false }] };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    switch (item.kind) {
      case 'begin':
        // Without a Watermark stage upstream no 'watermark' item follows; start the batch here.
        this.#watermarkMs = 0;
        this.#texts.clear();
        for (const p of this.#partitions) p.beginBatch(0, 0);
        yield item;
        return;
      case 'watermark':
        this.#watermarkMs = item.watermarkMs;
        for (const p of this.#partitions) p.beginBatch(item.watermarkMs, item.lateWatermarkMs);
        yield item;
        return;
      case 'rows':
        this.#accumulate(item.batch);
        return;
      case 'counts':
        if (item.groupBy.length !== this.groupBy.length || item.groupBy.some((name, i) => name !== this.groupBy[i]) || this.#lateRows !== null || !this.#combine(item.columns, item.length, item.counts)) {
          throw new TidemarkError('ERR_PROTOCOL', `KeyedCount grouping by ${JSON.stringify(this.groupBy)} cannot take counts grouped by ${JSON.stringify(item.groupBy)}`);
        }
        return;
      case 'barrier':
        yield* this.#finish(item);
        return;
      default:
        yield item;
    }
  }

  #accumulate(batch: RecordBatch): void {
    const groupColumns = this.#groupIndexes.map((i) => batch.columns[i]!);
    if (this.#lateRows === null && this.#combine(groupColumns, batch.length, null)) return;
    if (this.#panes !== null) {
      for (let i = 0; i < batch.length; i++) this.#addPaneGroup(groupColumns, i, 1);
      return;
    }
    const length = batch.length;
    const partitions = this.#partitions;
    const partitionCount = partitions.length;
    const eventColumn = this.#eventTimeGroup >= 0 ? groupColumns[this.#eventTimeGroup]! : null;
    const eventTimes = eventColumn === null ? null : eventColumn.kind === 'struct' ? (eventColumn.children[1] as { values: Float64Array }).values : (eventColumn as { values: Float64Array }).values;
    const checksLate = eventTimes !== null && partitions[0]!.watermarkApplies;
    let late: number[] | null = null;
    for (let i = 0; i < length; i++) {
      const key = this.#encodeAt(groupColumns, i);
      const state = partitionCount === 1 ? partitions[0]! : partitions[hashString(key) % partitionCount]!;
      if (checksLate && state.isLate(eventTimes[i]!)) {
        state.dropLate(key);
        if (this.#lateRows !== null) (late ??= []).push(i);
        continue;
      }
      if (!state.increment(key, 1)) state.insert(key, groupColumns.map((c) => rawValueAt(c, i)), 1);
    }
    if (late !== null) for (const i of late) this.#lateRows!.write(batch.row(i));
  }

  // The usual grouping — at most one string column and at most one number,
  // timestamp or window column — is first counted per batch in dense arrays
  // (core/partial-count.ts), so the state sees one update per group and batch
  // instead of one per row. Returns false for other groupings, which take the
  // per-row path. `weights` are the counts of rows that are partial counts already.
  #combine(groupColumns: readonly Column[], length: number, weights: Float64Array | null): boolean {
    if (groupColumns.length === 0 || groupColumns.length > 2) return false;
    let dictAt = -1;
    let numberAt = -1;
    for (let c = 0; c < groupColumns.length; c++) {
      const column = groupColumns[c]!;
      if (column.kind === 'dict' && dictAt < 0) dictAt = c;
      else if ((column.kind === 'f64' || (isWindowColumn(column) && this.#groupFields[c]!.metadata?.timeWindow !== undefined)) && numberAt < 0) numberAt = c;
      else return false;
    }
    const dict = dictAt >= 0 ? (groupColumns[dictAt] as Extract<Column, { kind: 'dict' }>) : null;
    const numberColumn = numberAt >= 0 ? groupColumns[numberAt]! : null;
    // A window's start identifies it within one Window stage's output (its end is start + duration).
    const numbers = numberColumn === null ? null : numberColumn.kind === 'struct' ? (numberColumn.children[0] as Extract<Column, { kind: 'f64' }>).values : (numberColumn as Extract<Column, { kind: 'f64' }>).values;
    const numberNulls = numberColumn === null ? null : numberColumn.kind === 'struct' ? numberColumn.nulls : (numberColumn as Extract<Column, { kind: 'f64' }>).nulls;
    const ids = dict === null ? null : dict.ids;
    const groups = countGroups(numbers, numberNulls, ids, dict === null ? 0 : dict.dictionary.size, length, weights);
    if (this.#panes !== null) {
      this.#addPanes(groupColumns, groups, dict);
      return true;
    }
    const partitions = this.#partitions;
    const partitionCount = partitions.length;
    const eventColumn = this.#eventTimeGroup >= 0 ? groupColumns[this.#eventTimeGroup]! : null;
    const eventTimes = eventColumn === null ? null : eventColumn.kind === 'struct' ? (eventColumn.children[1] as Extract<Column, { kind: 'f64' }>).values : (eventColumn as Extract<Column, { kind: 'f64' }>).values;
    const checksLate = eventTimes !== null && partitions[0]!.watermarkApplies;
    const texts = this.#textsFor(dict);
    for (let g = 0; g < groups.length; g++) {
      const row = groups.rows[g]!;
      const count = groups.counts[g]!;
      const idSlot = ids === null ? 0 : ids[row]! + 1;
      const number = numbers === null ? 0 : numbers[row]!;
      const cached = numberNulls !== null && numberNulls[row] === 1 ? null : textsOf(texts, number);
      const key = cached?.[idSlot] ?? this.#encodeAt(groupColumns, row);
      if (cached !== null) cached[idSlot] = key;
      const state = partitionCount === 1 ? partitions[0]! : partitions[hashString(key) % partitionCount]!;
      if (checksLate && state.isLate(eventTimes[row]!)) state.dropLate(key);
      else if (!state.increment(key, count)) state.insert(key, groupColumns.map((c) => rawValueAt(c, row)), count);
    }
    return true;
  }

  // Pane counts summed per (window, string key) first, in the order the per-row path would meet
  // them, so each window is encoded and looked up once per batch instead of once per pane.
  #addPanes(groupColumns: readonly Column[], groups: CountedGroups, dict: Extract<Column, { kind: 'dict' }> | null): void {
    const ids = dict === null ? null : dict.ids;
    const panes = this.#panes!;
    const paneColumn = groupColumns[panes.column] as Extract<Column, { kind: 'struct' }>;
    const paneStarts = (paneColumn.children[0] as Extract<Column, { kind: 'f64' }>).values;
    // Parallel arrays, not an object per window: this runs for every (pane, key) of every batch.
    const windowStarts: number[] = [];
    const rows: number[] = [];
    const counts: number[] = [];
    // Keyed by window number ((start − offset) / slide, a small integer): a double key would be boxed on every lookup.
    const startTimeUs = panes.startTimeUs;
    const index = new Map<number, Map<number, number>>();
    for (let g = 0; g < groups.length; g++) {
      const row = groups.rows[g]!;
      const count = groups.counts[g]!;
      if (paneColumn.nulls !== null && paneColumn.nulls[row] === 1) continue;
      const keyId = ids === null ? 0 : ids[row]!;
      const paneNumber = Math.round((paneStarts[row]! - startTimeUs) / panes.slideUs);
      for (let j = panes.perPane - 1; j >= 0; j--) {
        const windowNumber = paneNumber - j;
        let byKey = index.get(windowNumber);
        if (byKey === undefined) index.set(windowNumber, (byKey = new Map()));
        const at = byKey.get(keyId);
        if (at === undefined) {
          byKey.set(keyId, windowStarts.length);
          windowStarts.push(windowNumber);
          rows.push(row);
          counts.push(count);
        } else {
          counts[at] += count;
        }
      }
    }
    const partitions = this.#partitions;
    const checksLate = partitions[0]!.watermarkApplies;
    const eventIsWindow = this.#eventTimeGroup === panes.column;
    const texts = this.#textsFor(dict);
    for (let w = 0; w < windowStarts.length; w++) {
      const windowNumber = windowStarts[w]!;
      const windowStart = startTimeUs + windowNumber * panes.slideUs;
      const windowEnd = windowStart + panes.durationUs;
      const row = rows[w]!;
      const idSlot = ids === null ? 0 : ids[row]! + 1;
      const cached = textsOf(texts, windowNumber);
      let encoded = cached[idSlot];
      if (encoded === undefined) {
        // The same text as encodeRawKey, built without a key array (made only for a new group).
        encoded = '';
        for (let c = 0; c < groupColumns.length; c++) {
          if (c > 0) encoded += '|';
          encoded += c === panes.column ? `{${windowStart}:${windowEnd}}` : this.#encodeColumnAt(groupColumns[c]!, row);
        }
        cached[idSlot] = encoded;
      }
      const state = partitions.length === 1 ? partitions[0]! : partitions[hashString(encoded) % partitions.length]!;
      let eventTime: number | null = null;
      if (eventIsWindow) eventTime = windowEnd;
      else if (this.#eventTimeGroup >= 0) {
        const eventValue = rawValueAt(groupColumns[this.#eventTimeGroup]!, row);
        eventTime = Array.isArray(eventValue) ? (eventValue[1] as number) : (eventValue as number | null);
      }
      if (checksLate && eventTime !== null && state.isLate(eventTime)) state.dropLate(encoded);
      else if (!state.increment(encoded, counts[w]!)) {
        const key = groupColumns.map((column, c) => (c === panes.column ? [windowStart, windowEnd] : rawValueAt(column, row)));
        state.insert(encoded, key, counts[w]!);
      }
    }
  }

  // The batch's text cache, emptied when the strings come from another dictionary (ids would mean other strings).
  #textsFor(dict: Extract<Column, { kind: 'dict' }> | null): Map<number, Array<string | undefined>> {
    const dictionary = dict === null ? null : dict.dictionary;
    if (dictionary !== this.#textsDictionary) {
      this.#texts.clear();
      this.#textsDictionary = dictionary;
    }
    return this.#texts;
  }

  // A pane's count goes to every window that holds the pane, each judged late on its own, like
  // Spark's expanded rows: a row may be dropped from some of its windows and kept in others.
  #addPaneGroup(groupColumns: readonly Column[], row: number, count: number): void {
    const panes = this.#panes!;
    const paneColumn = groupColumns[panes.column]!;
    if (paneColumn.kind !== 'struct' || (paneColumn.nulls !== null && paneColumn.nulls[row] === 1)) return;
    const paneStart = (paneColumn.children[0] as Extract<Column, { kind: 'f64' }>).values[row]!;
    const values = groupColumns.map((c) => rawValueAt(c, row));
    const partitions = this.#partitions;
    const checksLate = partitions[0]!.watermarkApplies;
    const eventValue = this.#eventTimeGroup >= 0 ? values[this.#eventTimeGroup] : null;
    // The event time is the window's end when the watermark is on the window, else the grouped time itself.
    const otherEventTime = Array.isArray(eventValue) ? (eventValue[1] as number) : (eventValue as number | null);
    for (let j = panes.perPane - 1; j >= 0; j--) {
      const windowStart = paneStart - j * panes.slideUs;
      const windowEnd = windowStart + panes.durationUs;
      const key = values.slice();
      key[panes.column] = [windowStart, windowEnd];
      const encoded = encodeRawKey(this.#groupFields, key);
      const state = partitions.length === 1 ? partitions[0]! : partitions[hashString(encoded) % partitions.length]!;
      const eventTime = this.#eventTimeGroup === panes.column ? windowEnd : otherEventTime;
      if (checksLate && eventTime !== null && state.isLate(eventTime)) state.dropLate(encoded);
      else if (!state.increment(encoded, count)) state.insert(encoded, key, count);
    }
  }

  *#finish(barrier: BarrierItem): Iterable<StreamItem> {
    const started = performance.now();
    const emitted: GroupEntry[] = [];
    let total = 0;
    let updated = 0;
    let removed = 0;
    let dropped = 0;
    for (const state of this.#partitions) {
      const outcome = state.finishBatch();
      for (const entry of outcome.emitted) emitted.push(entry);
      total += outcome.numRowsTotal;
      updated += outcome.numRowsUpdated;
      removed += outcome.numRowsRemoved;
      dropped += outcome.numRowsDroppedByWatermark;
    }
    const tookMs = Math.round(performance.now() - started);
    if (this.#partitions[0]!.watermarkApplies && barrier.nextWatermarkMs !== null && barrier.nextWatermarkMs > this.#watermarkMs) {
      barrier.runAnotherBatch = true;
    }
    barrier.progress.stateOperators.push({
      operatorName: 'stateStoreSave',
      numRowsTotal: total,
      numRowsUpdated: updated,
      allUpdatesTimeMs: tookMs,
      numRowsRemoved: removed,
      allRemovalsTimeMs: 0,
      commitTimeMs: 0,
      memoryUsedBytes: 0,
      numRowsDroppedByWatermark: dropped,
      numShufflePartitions: this.#partitionCount,
      numStateStoreInstances: this.#partitionCount,
      customMetrics: {},
    });
    this.stamp(barrier);
    yield* this.#emit(emitted);
    yield barrier;
  }

  // Built lazily, one bounded batch at a time, so a large flush waits for the consumer.
  *#emit(groups: readonly GroupEntry[]): Iterable<StreamItem> {
    const schema = this.outputSchema!;
    const keyCount = this.#groupFields.length;
    for (let from = 0; from < groups.length; from += this.#maxRowsPerBatch) {
      const to = Math.min(groups.length, from + this.#maxRowsPerBatch);
      const builder = new BatchBuilder(schema, to - from);
      for (let g = from; g < to; g++) {
        const entry = groups[g]!;
        for (let k = 0; k < keyCount; k++) builder.columns[k]!.appendRaw(entry.key[k]);
        builder.columns[keyCount]!.appendNumber(entry.count);
        builder.endRow();
      }
      yield { kind: 'rows', batch: builder.finish() };
    }
  }

  // Group key text: per column, numbers as text, strings JSON-quoted (cached per dictionary id), null as 'n'.
  #encodeAt(groupColumns: readonly Column[], i: number): string {
    if (groupColumns.length === 1) return this.#encodeColumnAt(groupColumns[0]!, i);
    let key = '';
    for (let c = 0; c < groupColumns.length; c++) {
      if (c > 0) key += '|';
      key += this.#encodeColumnAt(groupColumns[c]!, i);
    }
    return key;
  }

  #encodeColumnAt(column: Column, i: number): string {
    switch (column.kind) {
      case 'f64':
        return column.nulls !== null && column.nulls[i] === 1 ? 'n' : String(column.values[i]);
      case 'dict': {
        const id = column.ids[i]!;
        if (id < 0) return 'n';
        let quoted = this.#quoted.get(column.dictionary);
        if (quoted === undefined) {
          quoted = [];
          this.#quoted.set(column.dictionary, quoted);
        }
        return (quoted[id] ??= JSON.stringify(column.dictionary.values[id]));
      }
      case 'bool':
        return column.nulls !== null && column.nulls[i] === 1 ? 'n' : column.values[i] === 1 ? 't' : 'f';
      case 'struct': {
        if (column.nulls !== null && column.nulls[i] === 1) return 'n';
        let key = '{';
        for (let c = 0; c < column.children.length; c++) key += (c > 0 ? ':' : '') + this.#encodeColumnAt(column.children[c]!, i);
        return key + '}';
      }
      case 'any': {
        const v = column.values[i];
        return v === null || v === undefined ? 'n' : JSON.stringify(v);
      }
    }
  }

  override snapshot(): StageSnapshot {
    const base = { stage: 'KeyedCount', version: SNAPSHOT_VERSION, configuration: this.#configuration() };
    if (this.#partitionCount === 1) return { ...base, state: this.#partitions[0]?.snapshot() ?? { size: 0, keys: [], counts: [] } };
    return { ...base, state: null, partitions: this.#partitions.map((p) => p.snapshot()) };
  }

  override restore(snapshot: StageSnapshot): void {
    if (this.#partitions.length === 0) throw new TidemarkError('ERR_PROTOCOL', 'KeyedCount must be planned before it is restored');
    checkSnapshot(snapshot, 'KeyedCount', SNAPSHOT_VERSION, this.#configuration());
    const parts = (snapshot.partitions ?? [snapshot.state]) as KeyedCountStateSnapshot[];
    const encode = (key: readonly unknown[]): string => encodeRawKey(this.#groupFields, key);
    this.#partitions.forEach((p, i) => p.restore(parts[i] ?? { size: 0, keys: [], counts: [] }, encode));
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

// The cached group texts of one number (or window), by string id + 1.
function textsOf(texts: Map<number, Array<string | undefined>>, number: number): Array<string | undefined> {
  let byId = texts.get(number);
  if (byId === undefined) texts.set(number, (byId = []));
  return byId;
}

function isWindowColumn(column: Column): boolean {
  return column.kind === 'struct' && column.children.length === 2 && column.children[0]!.kind === 'f64' && column.children[1]!.kind === 'f64';
}

// The window a checkpoint was written with; panes are a way of computing it, not part of it.
function windowConfiguration(window: { durationUs: number; slideUs: number; startTimeUs: number } | undefined): Record<string, number> | null {
  return window === undefined ? null : { durationUs: window.durationUs, slideUs: window.slideUs, startTimeUs: window.startTimeUs };
}

// FNV-1a: a stable partition for a key across runs and processes.
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// Same text as KeyedCount's per-row encoding, from storage values (used when restoring a snapshot).
function encodeRawKey(fields: readonly Field[], key: readonly unknown[]): string {
  return fields.map((f, c) => encodeRaw(f.dataType, key[c])).join('|');
}

function encodeRaw(t: Field['dataType'], value: unknown): string {
  if (value === null || value === undefined) return 'n';
  switch (t.type) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value === true ? 't' : 'f';
    case 'struct':
      return '{' + t.fields.map((f, c) => encodeRaw(f.dataType, (value as unknown[])[c])).join(':') + '}';
    case 'decimal':
    case 'binary':
    case 'array':
    case 'map':
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

/**
 * Keyed aggregation state with Spark's late filter, eviction and three
 * output modes (`StateStoreSaveExec`), free of streams: the one path into
 * keyed state, for raw rows and for partial aggregates alike.
 *
 * A batch's rows find their group's slot in a {@link GroupTable}; the
 * aggregate buffers of the slots (an {@link AggregateStore}) take the rows
 * column by column. A group's event time is the end of its window, or its
 * raw event time; both the late filter and eviction are inclusive (`<=`),
 * and a null event time is never late and never evicted (Spark's generated
 * predicate reads null as false).
 *
 * Per micro-batch: {@link KeyedAggregation.beginBatch},
 * {@link KeyedAggregation.addRows} / {@link KeyedAggregation.addPartial} any
 * number of times, {@link KeyedAggregation.finishBatch}, the emitted rows
 * read with {@link KeyedAggregation.output}, then
 * {@link KeyedAggregation.endBatch} (evicted groups go only then, so the
 * emitted rows can be read in bounded pieces first).
 *
 * Checkpoints are incremental (Spark's HDFS state store): between
 * {@link KeyedAggregation.endBatch} and the next
 * {@link KeyedAggregation.beginBatch}, {@link KeyedAggregation.deltaRecords}
 * is what the batch changed (groups updated, with their buffers; keys
 * removed) and {@link KeyedAggregation.snapshotRecords} the whole state,
 * both as {@link KeyedStateRecord}s of at most {@link RECORD_GROUPS} groups
 * (copies: the state may change once they are taken).
 * {@link KeyedAggregation.applyRecord} replays them, snapshot then deltas,
 * in order.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { StringDictionary, takeColumn, type Column } from './batch.js';
import type { AggregateStore } from './count-store.js';
import { GroupTable, keyLayout, type KeyColumnLayout, type KeyCursor } from './group-table.js';
import type { OutputMode } from './output-mode.js';
import type { Field } from './schema.js';
import { recordRanges } from './state-keys.js';

/** A sliding window whose rows carry panes (slide-sized slots) to expand into windows. */
export interface PaneExpansion {
  /** Index of the window column among the grouping columns. */
  readonly column: number;
  readonly durationUs: number;
  readonly slideUs: number;
}

/** Options of {@link KeyedAggregation}. */
export interface KeyedAggregationOptions {
  /** The grouping columns, in output order. */
  readonly keyFields: readonly Field[];
  readonly outputMode: OutputMode;
  /** Index among the grouping columns of the one carrying the watermark (a window or a timestamp), or -1. */
  readonly eventTimeColumn: number;
  /** The aggregate buffers of the groups. */
  readonly store: AggregateStore;
  /** Set when the window column carries panes. */
  readonly panes?: PaneExpansion | null;
  /** Strings of emitted keys are interned in a dictionary renewed past this size. */
  readonly maxOutputDictionary?: number;
  /** State partitions (Spark's shuffle partitions): checkpoint records are split by key hash. Default 1. */
  readonly partitions?: number;
}

/** What one micro-batch did, in Spark's progress terms. */
export interface AggregationBatchOutcome {
  /** Slots of the groups to emit, in emission order (readable until {@link KeyedAggregation.endBatch}). */
  readonly emitted: Int32Array;
  /** Late partial-aggregate rows dropped (one per late group per batch, as Spark counts). */
  readonly numRowsDroppedByWatermark: number;
  /** Groups updated by this batch. */
  readonly numRowsUpdated: number;
  /** Groups evicted by this batch. */
  readonly numRowsRemoved: number;
  /** Groups held after the batch. */
  readonly numRowsTotal: number;
  /** Memory the state holds (keys, buffers, indexes). */
  readonly memoryUsedBytes: number;
  /** Largest event time (µs) of the evicted groups, or -Infinity when none was. */
  readonly maxEvictedEventTimeUs: number;
}

export { RECORD_GROUPS } from './state-keys.js';

/**
 * Groups in a checkpoint record (format 5), lane by lane: numbers, a
 * struct's null flags, or strings as a dictionary of UTF-8 strings (`utf8`,
 * string `k` ending at `ends[k]`) with a dictionary id per group (-1: null).
 * A put carries the groups' insertion order and aggregate buffers; a
 * removal only the keys.
 */
export interface GroupsRecord {
  readonly size: number;
  readonly lanes: ReadonlyArray<{ readonly f64: Float64Array } | { readonly flag: Uint8Array } | { readonly utf8: Uint8Array; readonly ends: Int32Array; readonly ids: Int32Array }>;
  /** Per lane: positions of the groups whose lane is null, or null when none is. */
  readonly nulls: ReadonlyArray<Int32Array | null>;
  /** Insertion order numbers (puts). */
  readonly sequence?: Float64Array;
  /** The aggregate buffers, in the same order (puts; `AggregateStore.snapshot`). */
  readonly buffers?: unknown;
}

/** One record of a checkpoint: groups to hold (added or replaced), or keys to drop. */
export type KeyedStateRecord = { readonly put: GroupsRecord } | { readonly remove: GroupsRecord };

/** Checkpointed form of the release before (format 4): lanes and buffers of the groups, in insertion order. */
export interface KeyedAggregationSnapshot {
  readonly size: number;
  /** Insertion order numbers. */
  readonly sequence: Float64Array;
  /** Per lane: numbers, or strings as a small dictionary plus an id per group. */
  readonly lanes: ReadonlyArray<{ readonly f64: Float64Array } | { readonly dict: readonly string[]; readonly ids: Int32Array }>;
  /** Per lane: positions of the groups whose lane is null, or null. */
  readonly nulls: ReadonlyArray<Int32Array | null>;
  /** The aggregate buffers, in the same order. */
  readonly buffers: unknown;
}

const DEFAULT_MAX_OUTPUT_DICTIONARY = 1 << 16;

// Entries of the output key cache (a power of two).
const OUTPUT_CACHE_SIZE = 256;

/** Keyed state of one aggregation operator. */
export class KeyedAggregation {
  // configuration
  readonly outputMode: OutputMode;
  /** False without an event-time grouping column, or in complete mode: nothing is late, nothing is evicted. */
  readonly watermarkApplies: boolean;
  readonly table: GroupTable;
  readonly store: AggregateStore;
  readonly #keyFields: readonly Field[];
  // The lane of the group's event time, and of the null flag of the window struct holding it (-1: none).
  readonly #eventLane: number;
  readonly #eventStructLane: number;
  readonly #panes: PaneExpansion | null;
  readonly #maxOutputDictionary: number;
  readonly #partitions: number;
  // checkpointed: the table and the store (a group's event time is read from its key's lanes)
  // transient (one micro-batch)
  #touchedIn: Int32Array = new Int32Array(16);
  // Groups inserted from this sequence number on are new in the batch: their removal is no change.
  #batchFirstSequence = 0;
  // Keys the last batch removed that were held before it, per partition (for deltaRecords).
  #removedRecords: GroupsRecord[][] = [];
  #batch = 1;
  // -0, not 0: a double from the start. A field that starts as a small integer and later
  // holds a timestamp changes the object's hidden class, which discards the code V8 optimised
  // for it (every method using the field is compiled again).
  #watermarkUs = -0;
  #lateWatermarkUs = -0;
  #updated: Int32Array = new Int32Array(64);
  // See #dictionaryScratch.
  #dictionary: Int32Array = new Int32Array(0);
  #updatedCount = 0;
  #late: GroupTable | null = null;
  #evicted: Int32Array = new Int32Array(0);
  #outputDictionary = new StringDictionary();
  readonly #outputCachePool = new Int32Array(OUTPUT_CACHE_SIZE);
  readonly #outputCacheIds = new Int32Array(OUTPUT_CACHE_SIZE);

  constructor(options: KeyedAggregationOptions) {
    this.outputMode = options.outputMode;
    this.store = options.store;
    this.#keyFields = options.keyFields;
    this.#panes = options.panes ?? null;
    this.#maxOutputDictionary = options.maxOutputDictionary ?? DEFAULT_MAX_OUTPUT_DICTIONARY;
    this.#partitions = options.partitions ?? 1;
    const layout = keyLayout(options.keyFields);
    this.table = new GroupTable(layout);
    this.store.ensureCapacity(this.table.capacity);
    let lane = -1;
    let structLane = -1;
    if (options.eventTimeColumn >= 0) {
      const column = layout.columns[options.eventTimeColumn]!;
      if (column.kind === 'number') lane = column.lane;
      else if (column.kind === 'struct' && column.children.length === 2 && column.children[1]!.kind === 'number') {
        // A window's event time is its end.
        structLane = column.nullLane;
        lane = column.children[1]!.lane;
      } else throw new TidemarkError('ERR_PROTOCOL', `grouping column ${options.keyFields[options.eventTimeColumn]!.name} cannot carry event time`);
    }
    this.#eventLane = lane;
    this.#eventStructLane = structLane;
    this.watermarkApplies = lane >= 0 && options.outputMode !== 'complete';
  }

  /** Groups held. */
  get size(): number {
    return this.table.size;
  }

  /** Starts a micro-batch: `watermarkMs` evicts, `lateWatermarkMs` (the previous batch's) filters late rows. */
  beginBatch(watermarkMs: number, lateWatermarkMs: number): void {
    this.#watermarkUs = watermarkMs * 1000;
    this.#lateWatermarkUs = lateWatermarkMs * 1000;
    this.#batch++;
    this.#updatedCount = 0;
    if (this.#late !== null && this.#late.size > 0) this.#late = null;
    this.#evicted = new Int32Array(0);
    this.#removedRecords = [];
    this.#batchFirstSequence = this.table.nextSequence;
  }

  /**
   * Adds raw rows: `groupColumns` are the grouping columns of the rows,
   * `input` every column of the batch (the aggregates read theirs), each row
   * counted `weights[i]` times (once when null).
   */
  addRows(groupColumns: readonly Column[], input: readonly Column[], length: number, weights: Float64Array | null = null, late: number[] | null = null): void {
    if (late !== null && this.#panes !== null) throw new TidemarkError('ERR_PROTOCOL', 'late rows cannot be told apart once panes are expanded');
    this.#add(groupColumns, input, length, weights, false, late);
  }

  /** Adds partial aggregates: rows of grouping columns followed by the store's partial buffer columns. */
  addPartial(groupColumns: readonly Column[], partial: readonly Column[], length: number): void {
    this.#add(groupColumns, partial, length, null, true, null);
  }

  #add(groupColumns: readonly Column[], values: readonly Column[], length: number, weights: Float64Array | null, partial: boolean, lateRows: number[] | null): void {
    if (length === 0) return;
    if (this.#panes !== null) {
      const expanded = expandPanes(this.#panes, groupColumns, values, length, weights);
      groupColumns = expanded.groupColumns;
      values = expanded.values;
      weights = expanded.weights;
      length = expanded.length;
    }
    const table = this.table;
    const cursor = table.cursor(groupColumns, length);
    const slots = new Int32Array(length);
    const checksLate = this.watermarkApplies;
    const lateUs = this.#lateWatermarkUs;
    let lateCursor: KeyCursor | null = null;
    for (let i = 0; i < length; i++) {
      const eventTimeUs = this.#eventTimeOf(cursor, i);
      if (checksLate && eventTimeUs <= lateUs) {
        slots[i] = -1;
        lateRows?.push(i);
        const late = (this.#late ??= new GroupTable(table.layout));
        lateCursor ??= late.cursor(groupColumns, length);
        const h = late.hashRow(lateCursor, i);
        if (late.find(lateCursor, i, h) < 0) late.insert(lateCursor, i);
        continue;
      }
      const hash = table.hashRow(cursor, i);
      let slot = table.find(cursor, i, hash);
      if (slot < 0) {
        slot = table.insert(cursor, i, undefined, hash);
        this.#ensureCapacity();
        this.store.reset(slot);
      }
      if (this.#touchedIn[slot] !== this.#batch) {
        this.#touchedIn[slot] = this.#batch;
        if (this.#updatedCount === this.#updated.length) this.#updated = grow(this.#updated, this.#updated.length * 2);
        this.#updated[this.#updatedCount++] = slot;
      }
      slots[i] = slot;
    }
    if (partial) this.store.mergePartial(slots, length, values);
    else this.store.accumulate(slots, length, values, weights);
  }

  // NaN for a null event time: every comparison with it is false, so it is never late nor evicted.
  #eventTimeOf(cursor: KeyCursor, i: number): number {
    const lane = this.#eventLane;
    if (lane < 0) return NaN;
    const nulls = cursor.nulls[lane];
    if (nulls !== null && nulls !== undefined && nulls[i] === 1) return NaN;
    if (this.#eventStructLane >= 0 && cursor.numbers[this.#eventStructLane]![i] === 1) return NaN;
    return cursor.numbers[lane]![i]!;
  }

  // The per-slot arrays follow the table's capacity (which grows by half).
  #ensureCapacity(): void {
    const capacity = this.table.capacity;
    if (capacity <= this.#touchedIn.length) return;
    const touched = new Int32Array(capacity);
    touched.set(this.#touchedIn);
    this.#touchedIn = touched;
    this.store.ensureCapacity(capacity);
  }

  /** Ends the micro-batch: what to emit by the output mode, and which groups the watermark closes. */
  finishBatch(): AggregationBatchOutcome {
    const table = this.table;
    const updated = this.#updatedCount;
    let emitted: Int32Array;
    let evicted: Int32Array = new Int32Array(0);
    let maxEvicted = -Infinity;
    if (this.watermarkApplies) {
      const watermarkUs = this.#watermarkUs;
      const times = table.numberLane(this.#eventLane);
      const flags = this.#eventStructLane >= 0 ? table.flagLane(this.#eventStructLane) : null;
      let found: Int32Array = new Int32Array(64);
      let n = 0;
      for (let s = 0; s < table.capacity; s++) {
        // A null event time (or window) is never evicted.
        if (!table.isLive(s) || !(times[s]! <= watermarkUs) || table.isNull(s, this.#eventLane) || (flags !== null && flags[s] === 1)) continue;
        if (n === found.length) found = grow(found, n * 2);
        found[n++] = s;
        if (times[s]! > maxEvicted) maxEvicted = times[s]!;
      }
      evicted = table.inOrder(found.slice(0, n));
    }
    switch (this.outputMode) {
      case 'complete':
        emitted = table.slotsInOrder();
        break;
      case 'update':
        emitted = this.#updated.slice(0, updated);
        break;
      case 'append':
        emitted = evicted;
        break;
    }
    this.#evicted = evicted;
    return {
      emitted,
      numRowsDroppedByWatermark: this.#late?.size ?? 0,
      numRowsUpdated: updated,
      numRowsRemoved: evicted.length,
      numRowsTotal: table.size - evicted.length,
      memoryUsedBytes: this.bytesUsed,
      maxEvictedEventTimeUs: maxEvicted,
    };
  }

  /** Removes the groups the watermark closed (call once the emitted rows have been read). */
  endBatch(): void {
    const evicted = this.#evicted;
    // The keys held before this batch are what a checkpoint must remove; those the batch added never reached one.
    const first = this.#batchFirstSequence;
    let held = 0;
    for (let i = 0; i < evicted.length; i++) if (this.table.sequence(evicted[i]!) < first) held++;
    const before = held === evicted.length ? evicted : evicted.filter((slot) => this.table.sequence(slot) < first);
    this.#removedRecords = this.table.partitionsOf(before, this.#partitions).map((slots) => this.#records(slots, false));
    for (const slot of evicted) this.table.remove(slot);
    this.#evicted = new Int32Array(0);
  }

  /**
   * Memory held, everything counted at its allocated size: the keys (lanes,
   * index, insertion order, string arena), the aggregate buffers, the
   * per-batch marks, the batch's late groups, the keys kept for the
   * checkpoint, the scratch that numbers their strings, and the output
   * dictionary.
   */
  get bytesUsed(): number {
    let removed = 0;
    for (const records of this.#removedRecords) for (const r of records) removed += recordBytes(r);
    const output = this.#outputDictionary.size * 48;
    return this.table.bytesUsed + this.store.bytesUsed() + this.#touchedIn.byteLength + this.#updated.byteLength + this.#dictionary.byteLength + (this.#late?.bytesUsed ?? 0) + removed + output;
  }

  /** The grouping columns then the result columns of `slots[from..to)`. */
  output(slots: Int32Array, from: number, to: number): Column[] {
    const part = slots.subarray(from, to);
    if (this.#outputDictionary.size > this.#maxOutputDictionary) this.#outputDictionary = new StringDictionary();
    const keys = this.table.layout.columns.map((layout) => this.#keyColumn(layout, part, null));
    return [...keys, ...this.store.writeResults(part, part.length)];
  }

  #keyColumn(layout: KeyColumnLayout, slots: Int32Array, parentNull: Uint8Array | null): Column {
    const table = this.table;
    const n = slots.length;
    switch (layout.kind) {
      case 'number':
      case 'boolean': {
        const lane = table.numberLane(layout.lane);
        const values = layout.kind === 'number' ? new Float64Array(n) : new Uint8Array(n);
        let nulls: Uint8Array | null = null;
        for (let i = 0; i < n; i++) {
          const s = slots[i]!;
          if ((parentNull !== null && parentNull[i] === 1) || table.isNull(s, layout.lane)) (nulls ??= new Uint8Array(n))[i] = 1;
          else values[i] = lane[s]!;
        }
        return layout.kind === 'number' ? { kind: 'f64', values: values as Float64Array, nulls } : { kind: 'bool', values: values as Uint8Array, nulls };
      }
      case 'string': {
        const ids = new Int32Array(n);
        const dictionary = this.#outputDictionary;
        // Keys repeat across emitted groups (one per window): a small direct-mapped cache from pool
        // id to output id decodes and interns each only once, without a string per group held.
        const cachedPool = this.#outputCachePool.fill(-1);
        const cachedIds = this.#outputCacheIds;
        for (let i = 0; i < n; i++) {
          const poolId = parentNull !== null && parentNull[i] === 1 ? -1 : table.stringIdAt(slots[i]!, layout.lane);
          if (poolId < 0) {
            ids[i] = -1;
            continue;
          }
          const at = poolId & (OUTPUT_CACHE_SIZE - 1);
          if (cachedPool[at] !== poolId) {
            cachedPool[at] = poolId;
            cachedIds[at] = dictionary.intern(table.pool.value(poolId));
          }
          ids[i] = cachedIds[at]!;
        }
        return { kind: 'dict', ids, dictionary };
      }
      case 'json': {
        const values = new Array<unknown>(n);
        for (let i = 0; i < n; i++) {
          const text = parentNull !== null && parentNull[i] === 1 ? null : table.stringAt(slots[i]!, layout.lane);
          values[i] = text === null ? null : JSON.parse(text);
        }
        return { kind: 'any', values };
      }
      case 'struct': {
        const flags = table.flagLane(layout.nullLane);
        let nulls: Uint8Array | null = null;
        for (let i = 0; i < n; i++) if ((parentNull !== null && parentNull[i] === 1) || flags[slots[i]!] === 1) (nulls ??= new Uint8Array(n))[i] = 1;
        return { kind: 'struct', children: layout.children.map((child) => this.#keyColumn(child, slots, nulls)), nulls };
      }
    }
  }

  /** The groups in insertion order (what a snapshot writes, and complete mode emits). */
  slotsInOrder(): Int32Array {
    return this.table.slotsInOrder();
  }

  /** The groups in the form of the release before (format 4), for the given slots (all groups, in insertion order, by default). */
  snapshot(slots: Int32Array = this.table.slotsInOrder()): KeyedAggregationSnapshot {
    const table = this.table;
    const n = slots.length;
    const sequence = new Float64Array(n);
    for (let i = 0; i < n; i++) sequence[i] = table.sequence(slots[i]!);
    const lanes = table.layout.lanes.map((kind, l) => {
      if (kind !== 'str') {
        const f64 = new Float64Array(n);
        if (kind === 'f64') {
          const lane = table.numberLane(l);
          for (let i = 0; i < n; i++) f64[i] = lane[slots[i]!]!;
        } else {
          const lane = table.flagLane(l);
          for (let i = 0; i < n; i++) f64[i] = lane[slots[i]!]!;
        }
        return { f64 };
      }
      const dict: string[] = [];
      const numbering = new Map<number, number>();
      const ids = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const poolId = table.stringId(slots[i]!, l);
        if (poolId < 0) {
          ids[i] = -1;
          continue;
        }
        let id = numbering.get(poolId);
        if (id === undefined) numbering.set(poolId, (id = dict.push(table.pool.value(poolId)) - 1));
        ids[i] = id;
      }
      return { dict, ids };
    });
    const nulls = table.layout.lanes.map((_, l) => {
      const at: number[] = [];
      for (let i = 0; i < n; i++) if (table.isNull(slots[i]!, l)) at.push(i);
      return at.length === 0 ? null : Int32Array.from(at);
    });
    return { size: n, sequence, lanes, nulls, buffers: this.store.snapshot(slots, n) };
  }

  /** Adds the groups of a format-4 snapshot (several, for state split into partitions): a checkpoint of the release before. */
  restore(snapshots: readonly KeyedAggregationSnapshot[]): void {
    const table = this.table;
    const laneCount = table.layout.lanes.length;
    const numbers = new Float64Array(laneCount);
    const strings = new Array<string | null>(laneCount).fill(null);
    const nullLanes = new Uint8Array(laneCount);
    for (const snapshot of snapshots) {
      const nullSets = snapshot.nulls.map((at) => (at === null ? null : new Set(at)));
      const slots = new Int32Array(snapshot.size);
      for (let i = 0; i < snapshot.size; i++) {
        for (let l = 0; l < laneCount; l++) {
          const lane = snapshot.lanes[l]!;
          nullLanes[l] = nullSets[l]?.has(i) === true ? 1 : 0;
          if ('f64' in lane) numbers[l] = lane.f64[i]!;
          else strings[l] = lane.ids[i]! < 0 ? null : lane.dict[lane.ids[i]!]!;
        }
        const slot = table.insertLanes(numbers, strings, nullLanes, snapshot.sequence[i]!);
        this.#ensureCapacity();
        this.store.reset(slot);
        slots[i] = slot;
      }
      this.store.restore(snapshot.buffers, slots);
    }
  }

  /**
   * Adds groups in the given order from their key columns and partial
   * buffers (a checkpoint of an older format, read as rows).
   */
  restoreGroups(keyColumns: readonly Column[], partial: readonly Column[], length: number): void {
    const table = this.table;
    const cursor = table.cursor(keyColumns, length);
    const slots = new Int32Array(length);
    for (let i = 0; i < length; i++) {
      const slot = table.insert(cursor, i);
      this.#ensureCapacity();
      this.store.reset(slot);
      slots[i] = slot;
    }
    this.store.mergePartial(slots, length, partial);
  }

  /**
   * What the last batch changed, per partition: the keys it removed that
   * were held before it, then the groups it updated that are still held
   * (with their buffers). Call between {@link KeyedAggregation.endBatch} and
   * the next {@link KeyedAggregation.beginBatch}; the records are copies.
   */
  deltaRecords(): KeyedStateRecord[][] {
    const table = this.table;
    const updated = this.#updated.subarray(0, this.#updatedCount);
    let live = 0;
    for (let i = 0; i < updated.length; i++) if (table.isLive(updated[i]!)) live++;
    const kept = live === updated.length ? updated.slice() : updated.filter((slot) => table.isLive(slot));
    const puts = table.partitionsOf(kept, this.#partitions).map((slots) => this.#records(slots, true));
    return puts.map((records, p) => [...(this.#removedRecords[p] ?? []).map((r) => ({ remove: r })), ...records.map((r) => ({ put: r }))]);
  }

  /** The whole state, per partition, as puts (copies, in slot order: each carries its insertion order). */
  snapshotRecords(): KeyedStateRecord[][] {
    return this.table.partitionsOf(this.table.liveSlots(), this.#partitions).map((slots) => this.#records(slots, true).map((r) => ({ put: r })));
  }

  /**
   * {@link KeyedAggregation.snapshotRecords} of the state as it is now, read
   * later: the table and the buffers are copied whole now (memory copies),
   * the records built from the copies when the returned function is
   * called, whatever batches ran since. Null when the aggregate store
   * cannot be copied (take {@link KeyedAggregation.snapshotRecords} now).
   */
  snapshotLater(): (() => KeyedStateRecord[][]) | null {
    if (this.store.clone === undefined) return null;
    const table = this.table.clone();
    const store = this.store.clone();
    const partitions = this.#partitions;
    return () => table.partitionsOf(table.liveSlots(), partitions).map((slots) => this.#records(slots, true, table, store).map((r) => ({ put: r })));
  }

  /** Removes every group (before a snapshot's records are applied). */
  clear(): void {
    this.table.clear();
    this.#updatedCount = 0;
    this.#evicted = new Int32Array(0);
    this.#removedRecords = [];
  }

  /**
   * Makes room at once for the groups of snapshot records about to be
   * applied: slots, index and string pool sized once instead of grown
   * step by step through a million inserts.
   */
  reserve(records: readonly KeyedStateRecord[]): void {
    let groups = 0;
    let strings = 0;
    let bytes = 0;
    for (const record of records) {
      if (!('put' in record)) continue;
      groups += record.put.size;
      for (const lane of record.put.lanes ?? []) {
        if ('utf8' in lane) {
          strings += lane.ends.length;
          bytes += lane.utf8.length;
        }
      }
    }
    if (groups === 0) return;
    this.table.reserve(groups);
    this.table.pool.reserve(strings, bytes);
    this.#ensureCapacity();
  }

  /**
   * Applies a record of {@link KeyedAggregation.snapshotRecords} or
   * {@link KeyedAggregation.deltaRecords}. `fresh`: the record's groups are
   * known not to be held (a snapshot's: each key once, restored after a
   * clear), so they are inserted without a lookup first.
   */
  applyRecord(record: KeyedStateRecord, fresh = false): void {
    const put = 'put' in record;
    const groups = put ? record.put : record.remove;
    const table = this.table;
    const n = groups.size;
    if (!Number.isInteger(n) || n < 0 || !Array.isArray(groups.lanes) || groups.lanes.length !== table.layout.lanes.length) {
      throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `keyed state record: ${groups.lanes?.length} lanes, the key has ${table.layout.lanes.length}`);
    }
    const lanes = groups.lanes.map((lane, l) => {
      const kind = table.layout.lanes[l];
      if (kind === 'str' && 'utf8' in lane && lane.ids.length === n) return { bytes: lane.utf8, ends: lane.ends, ids: lane.ids };
      if (kind === 'f64' && 'f64' in lane && lane.f64.length === n) return { numbers: lane.f64 };
      if (kind === 'flag' && 'flag' in lane && lane.flag.length === n) return { numbers: Float64Array.from(lane.flag) };
      throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `keyed state record: lane ${l} is not a ${kind} lane of ${n} groups`);
    });
    const nulls = groups.nulls.map((at) => {
      if (at === null) return null;
      const mask = new Uint8Array(n);
      for (const i of at) mask[i] = 1;
      return mask;
    });
    const insertOnly = put && fresh;
    const cursor = table.laneCursor(lanes, nulls, n, !insertOnly);
    if (!put) {
      for (let i = 0; i < n; i++) {
        const slot = table.find(cursor, i, table.hashRow(cursor, i));
        if (slot >= 0) table.remove(slot);
      }
      return;
    }
    const sequence = groups.sequence;
    if (sequence === undefined || sequence.length !== n) throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', 'keyed state record: a put without the insertion order of its groups');
    const slots = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let slot = insertOnly ? -1 : table.find(cursor, i, table.hashRow(cursor, i));
      if (slot >= 0) table.setSequence(slot, sequence[i]!);
      else {
        slot = table.insert(cursor, i, sequence[i]!);
        this.#ensureCapacity();
      }
      this.store.reset(slot);
      slots[i] = slot;
    }
    this.store.restore(groups.buffers, slots);
  }

  // The given slots as records of at most RECORD_GROUPS groups; with `buffers`, puts (order and buffers too).
  #records(slots: Int32Array, buffers: boolean, table = this.table, store = this.store): GroupsRecord[] {
    const out: GroupsRecord[] = [];
    for (const [from, to] of recordRanges(slots.length)) out.push(this.#record(slots.subarray(from, to), buffers, table, store));
    return out;
  }

  // Of `table` and `store`: this state's, or copies (snapshotLater).
  #record(slots: Int32Array, buffers: boolean, table: GroupTable, store: AggregateStore): GroupsRecord {
    const pool = table.pool;
    const n = slots.length;
    const lanes = table.layout.lanes.map((kind, l): GroupsRecord['lanes'][number] => {
      if (kind === 'f64') {
        const lane = table.numberLane(l);
        const f64 = new Float64Array(n);
        for (let i = 0; i < n; i++) f64[i] = lane[slots[i]!]!;
        return { f64 };
      }
      if (kind === 'flag') {
        const lane = table.flagLane(l);
        const flag = new Uint8Array(n);
        for (let i = 0; i < n; i++) flag[i] = lane[slots[i]!]!;
        return { flag };
      }
      // A dictionary of the strings these groups use, copied as bytes from the pool's arena. Record ids by
      // pool id in a scratch array (-1: not yet in the dictionary), reset after: no Map entry per group.
      const numbering = this.#dictionaryScratch(pool.idLimit);
      const poolIds = new Int32Array(n);
      let count = 0;
      const ids = new Int32Array(n);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const poolId = table.stringId(slots[i]!, l);
        if (poolId < 0) {
          ids[i] = -1;
          continue;
        }
        let id = numbering[poolId]!;
        if (id < 0) {
          numbering[poolId] = id = count;
          poolIds[count++] = poolId;
          total += pool.byteLength(poolId);
        }
        ids[i] = id;
      }
      const utf8 = new Uint8Array(total);
      const ends = new Int32Array(count);
      let at = 0;
      for (let k = 0; k < count; k++) {
        const poolId = poolIds[k]!;
        at = pool.copyBytes(poolId, utf8, at);
        ends[k] = at;
        numbering[poolId] = -1;
      }
      return { utf8, ends, ids };
    });
    const nulls = table.layout.lanes.map((_, l) => {
      let at: number[] | null = null;
      for (let i = 0; i < n; i++) if (table.isNull(slots[i]!, l)) (at ??= []).push(i);
      return at === null ? null : Int32Array.from(at);
    });
    if (!buffers) return { size: n, lanes, nulls };
    const sequence = new Float64Array(n);
    for (let i = 0; i < n; i++) sequence[i] = table.sequence(slots[i]!);
    return { size: n, lanes, nulls, sequence, buffers: store.snapshot(slots, n) };
  }

  // Per pool id, its number in the dictionary a record is building (-1: none): all -1 between records.
  #dictionaryScratch(ids: number): Int32Array {
    if (this.#dictionary.length < ids) this.#dictionary = new Int32Array(Math.max(ids, this.#dictionary.length * 2)).fill(-1);
    return this.#dictionary;
  }

  /** The grouping fields. */
  get keyFields(): readonly Field[] {
    return this.#keyFields;
  }
}

/**
 * Each pane row stands for `duration / slide` windows: the rows repeated
 * once per window (in the order a row-by-row expansion meets them: a row's
 * windows by ascending start), the window column replaced by the windows.
 */
function expandPanes(
  panes: PaneExpansion,
  groupColumns: readonly Column[],
  values: readonly Column[],
  length: number,
  weights: Float64Array | null,
): { groupColumns: Column[]; values: Column[]; weights: Float64Array | null; length: number } {
  const perPane = Math.round(panes.durationUs / panes.slideUs);
  const paneColumn = groupColumns[panes.column]!;
  if (paneColumn.kind !== 'struct') throw new TidemarkError('ERR_PROTOCOL', 'a pane column must be a window struct');
  const paneStarts = (paneColumn.children[0] as Extract<Column, { kind: 'f64' }>).values;
  const total = length * perPane;
  const indices = new Int32Array(total);
  const starts = new Float64Array(total);
  const ends = new Float64Array(total);
  let nulls: Uint8Array | null = null;
  let k = 0;
  for (let i = 0; i < length; i++) {
    const isNull = paneColumn.nulls !== null && paneColumn.nulls[i] === 1;
    for (let j = perPane - 1; j >= 0; j--) {
      indices[k] = i;
      if (isNull) (nulls ??= new Uint8Array(total))[k] = 1;
      else {
        starts[k] = paneStarts[i]! - j * panes.slideUs;
        ends[k] = starts[k]! + panes.durationUs;
      }
      k++;
    }
  }
  const windows: Column = { kind: 'struct', children: [{ kind: 'f64', values: starts, nulls: null }, { kind: 'f64', values: ends, nulls: null }], nulls };
  const expandedGroups = groupColumns.map((c, i) => (i === panes.column ? windows : takeColumn(c, indices, total)));
  const expandedValues = values.map((c) => takeColumn(c, indices, total));
  let expandedWeights: Float64Array | null = null;
  if (weights !== null) {
    expandedWeights = new Float64Array(total);
    for (let r = 0; r < total; r++) expandedWeights[r] = weights[indices[r]!]!;
  }
  return { groupColumns: expandedGroups, values: expandedValues, weights: expandedWeights, length: total };
}

// Bytes a record's typed arrays hold (its buffers apart: they are small beside the keys).
function recordBytes(record: GroupsRecord): number {
  let bytes = record.sequence?.byteLength ?? 0;
  for (const lane of record.lanes) bytes += 'f64' in lane ? lane.f64.byteLength : 'flag' in lane ? lane.flag.byteLength : lane.utf8.byteLength + lane.ends.byteLength + lane.ids.byteLength;
  for (const at of record.nulls) bytes += at?.byteLength ?? 0;
  return bytes;
}

function grow(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

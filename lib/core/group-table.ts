/**
 * The keys of keyed state, compact: one slot per group, the key's parts in
 * typed arrays ("lanes"), and an open-addressing index over them. No object
 * and no string per group, so a state of a million (string, window) groups
 * costs a few dozen bytes each (issue "State that scales").
 *
 * A key is the grouping columns of a row, flattened into lanes:
 * numbers, timestamps, dates and booleans become a float64 lane; strings an
 * int32 lane of ids into the table's own string pool (by value, never by a
 * batch's dictionary id: dictionaries change); a struct (the `window`)
 * becomes the lanes of its fields plus its own null flag; any other type
 * (decimal, binary, array, map) is kept as its canonical JSON text in a
 * string lane. Floating-point keys are normalised as Spark's
 * `NormalizeFloatingNumbers` does: `-0.0` is `0.0`, every NaN is one NaN.
 *
 * Slots are reused after removal; {@link GroupTable.sequence} keeps the
 * insertion order, which is the order a state emits in (so a restart emits
 * the same bytes).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { Column } from './batch.js';
import type { DataType, Field } from './schema.js';

/** How one grouping column is stored. */
export type KeyColumnLayout =
  | { readonly kind: 'number'; readonly lane: number }
  | { readonly kind: 'boolean'; readonly lane: number }
  | { readonly kind: 'string'; readonly lane: number }
  | { readonly kind: 'json'; readonly lane: number }
  | { readonly kind: 'struct'; readonly nullLane: number; readonly children: readonly KeyColumnLayout[] };

/** The lanes of a key and how the grouping columns map onto them. */
export interface KeyLayout {
  /** One layout per grouping column, in grouping order. */
  readonly columns: readonly KeyColumnLayout[];
  /** Kind of each lane: float64 values, or ids into the string pool. */
  readonly lanes: readonly ('f64' | 'str')[];
}

/** The lanes the grouping fields need. */
export function keyLayout(fields: readonly Field[]): KeyLayout {
  const lanes: ('f64' | 'str')[] = [];
  const of = (t: DataType): KeyColumnLayout => {
    switch (t.type) {
      case 'byte':
      case 'short':
      case 'int':
      case 'long':
      case 'float':
      case 'double':
      case 'date':
      case 'timestamp':
      case 'timestamp_ntz':
        return { kind: 'number', lane: lanes.push('f64') - 1 };
      case 'boolean':
        return { kind: 'boolean', lane: lanes.push('f64') - 1 };
      case 'string':
        return { kind: 'string', lane: lanes.push('str') - 1 };
      case 'struct': {
        const nullLane = lanes.push('f64') - 1;
        return { kind: 'struct', nullLane, children: t.fields.map((f) => of(f.dataType)) };
      }
      default:
        return { kind: 'json', lane: lanes.push('str') - 1 };
    }
  };
  const columns = fields.map((f) => of(f.dataType));
  return { columns, lanes };
}

/**
 * Strings of the keys, each stored once with a count of the slots that use
 * it; an id freed by the last slot is reused.
 */
export class StringPool {
  readonly #values: Array<string | undefined> = [];
  readonly #ids = new Map<string, number>();
  #refs: Int32Array = new Int32Array(16);
  readonly #free: number[] = [];
  #bytes = 0;

  /** The id of `value`, or -1 when no key holds it. */
  lookup(value: string): number {
    return this.#ids.get(value) ?? -1;
  }

  /** The string of `id`. */
  value(id: number): string {
    return this.#values[id]!;
  }

  /** Takes a reference to `value`, adding it when new; returns its id. */
  acquire(value: string): number {
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.#free.length > 0 ? this.#free.pop()! : this.#values.length;
      if (id === this.#values.length) this.#values.push(value);
      else this.#values[id] = value;
      this.#ids.set(value, id);
      if (id >= this.#refs.length) this.#refs = growI32(this.#refs, id + 1);
      this.#refs[id] = 0;
      this.#bytes += stringBytes(value);
    }
    this.#refs[id]!++;
    return id;
  }

  /** Takes one more reference to an id already held. */
  retain(id: number): void {
    this.#refs[id]!++;
  }

  /** Drops a reference; the string goes when no slot holds it. */
  release(id: number): void {
    if (--this.#refs[id]! > 0) return;
    const value = this.#values[id]!;
    this.#ids.delete(value);
    this.#values[id] = undefined;
    this.#free.push(id);
    this.#bytes -= stringBytes(value);
  }

  /** Distinct strings held. */
  get size(): number {
    return this.#ids.size;
  }

  /** Memory held, estimated: the strings, the map entries and the arrays. */
  get bytesUsed(): number {
    return this.#bytes + this.#ids.size * 48 + this.#values.length * 8 + this.#refs.byteLength;
  }
}

// V8 stores one-byte strings with a byte per character, others with two; plus a header.
function stringBytes(s: string): number {
  let wide = false;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) {
      wide = true;
      break;
    }
  }
  return 16 + (wide ? 2 : 1) * s.length;
}

// Reinterprets a float64 as two int32 halves for hashing, without allocating.
const hashF64 = new Float64Array(1);
const hashI32 = new Int32Array(hashF64.buffer);

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return (h << 13) | (h >>> 19);
}

function hashNumber(h: number, v: number): number {
  // Spark's NormalizeFloatingNumbers: -0.0 groups with 0.0, every NaN with every NaN.
  hashF64[0] = v === 0 ? 0 : v !== v ? NaN : v;
  return mix(mix(h, hashI32[0]!), hashI32[1]!);
}

function finalHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const NULL_MARK = 0x6e756c6c;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/**
 * A batch's grouping columns, read lane by lane. String lanes hold the
 * batch's own ids (a dictionary's, or texts numbered for this batch) and a
 * translation of those ids into pool ids, filled once per distinct string
 * and updated when a string enters the pool.
 */
export interface KeyCursor {
  /** Per float64 lane: the values of the rows. */
  readonly numbers: ReadonlyArray<Float64Array | null>;
  /** Per string lane: the batch id of each row's string (-1 for null). */
  readonly local: ReadonlyArray<Int32Array | null>;
  /** Per string lane: batch id → pool id, or -1 when the pool does not hold it. */
  readonly translate: ReadonlyArray<Int32Array | null>;
  /** Per string lane: batch id → the string. */
  readonly texts: ReadonlyArray<readonly string[] | null>;
  /** Per lane: 1 where the row's value is null, or null when no row is. */
  readonly nulls: ReadonlyArray<Uint8Array | null>;
  readonly length: number;
}

/**
 * Slots of groups keyed by lanes.
 *
 * Lookups read a {@link KeyCursor} built once per batch by
 * {@link GroupTable.cursor}; insertion copies the row's lanes into the slot.
 */
export class GroupTable {
  readonly layout: KeyLayout;
  readonly pool = new StringPool();
  #capacity = 0;
  #size = 0;
  #sequenceCounter = 0;
  // per slot
  #f64: Float64Array[];
  #str: Int32Array[];
  #nulls: Array<Uint8Array | null>;
  #hashes: Int32Array = new Int32Array(0);
  #used: Uint8Array = new Uint8Array(0);
  #sequence: Float64Array = new Float64Array(0);
  #free: number[] = [];
  // open addressing, linear probing: slot + 1, 0 = empty
  #index: Int32Array = new Int32Array(16);
  #mask = 15;

  constructor(layout: KeyLayout, initialCapacity = 16) {
    this.layout = layout;
    this.#f64 = layout.lanes.map((k) => (k === 'f64' ? new Float64Array(0) : EMPTY_F64));
    this.#str = layout.lanes.map((k) => (k === 'str' ? new Int32Array(0) : EMPTY_I32));
    this.#nulls = layout.lanes.map(() => null);
    this.#grow(initialCapacity);
  }

  /** Groups held. */
  get size(): number {
    return this.#size;
  }

  /** Slots allocated (live or free): the bound of slot numbers. */
  get capacity(): number {
    return this.#capacity;
  }

  /** True when `slot` holds a group. */
  isLive(slot: number): boolean {
    return this.#used[slot] === 1;
  }

  /** Insertion order of a live slot: smaller came first. */
  sequence(slot: number): number {
    return this.#sequence[slot]!;
  }

  /** The float64 lane values of every slot (live or not). */
  numberLane(lane: number): Float64Array {
    return this.#f64[lane]!;
  }

  /** True when `lane` of `slot` is null. */
  isNull(slot: number, lane: number): boolean {
    const nulls = this.#nulls[lane];
    return nulls !== null && nulls !== undefined && nulls[slot] === 1;
  }

  /** The string id of a string lane at `slot`. */
  stringId(slot: number, lane: number): number {
    return this.#str[lane]![slot]!;
  }

  /** Memory held by the keys: lanes, index, order, pool. */
  get bytesUsed(): number {
    let bytes = this.#index.byteLength + this.#hashes.byteLength + this.#used.byteLength + this.#sequence.byteLength + this.#free.length * 8;
    for (const lane of this.#f64) bytes += lane.byteLength;
    for (const lane of this.#str) bytes += lane.byteLength;
    for (const nulls of this.#nulls) bytes += nulls?.byteLength ?? 0;
    return bytes + this.pool.bytesUsed;
  }

  /** Reads a batch's grouping columns (one column per layout column) for lookups. */
  cursor(columns: readonly Column[], length: number): KeyCursor {
    const laneCount = this.layout.lanes.length;
    const numbers = new Array<Float64Array | null>(laneCount).fill(null);
    const local = new Array<Int32Array | null>(laneCount).fill(null);
    const translate = new Array<Int32Array | null>(laneCount).fill(null);
    const texts = new Array<readonly string[] | null>(laneCount).fill(null);
    const nulls = new Array<Uint8Array | null>(laneCount).fill(null);
    const pool = this.pool;
    const fill = (layout: KeyColumnLayout, column: Column, parentNulls: Uint8Array | null): void => {
      switch (layout.kind) {
        case 'number':
        case 'boolean': {
          if (column.kind === 'f64') numbers[layout.lane] = column.values;
          else if (column.kind === 'bool') numbers[layout.lane] = Float64Array.from(column.values.subarray(0, length));
          else throw mismatch(layout.kind, column.kind);
          nulls[layout.lane] = orNulls(column.nulls, parentNulls, length);
          return;
        }
        case 'string': {
          if (column.kind !== 'dict') throw mismatch('string', column.kind);
          const values = column.dictionary.values;
          const ids = parentNulls === null ? column.ids : column.ids.slice(0, length);
          let rowNulls: Uint8Array | null = null;
          for (let i = 0; i < length; i++) {
            if (parentNulls !== null && parentNulls[i] === 1) (ids as Int32Array)[i] = -1;
            if (ids[i]! < 0) (rowNulls ??= new Uint8Array(length))[i] = 1;
          }
          local[layout.lane] = ids;
          // Only the ids this batch uses are looked up in the pool.
          const table = new Int32Array(values.length).fill(-2);
          for (let i = 0; i < length; i++) {
            const id = ids[i]!;
            if (id >= 0 && table[id] === -2) table[id] = pool.lookup(values[id]!);
          }
          translate[layout.lane] = table;
          texts[layout.lane] = values;
          nulls[layout.lane] = rowNulls;
          return;
        }
        case 'json': {
          const numbering = new Map<string, number>();
          const ids = new Int32Array(length);
          const batchTexts: string[] = [];
          let rowNulls: Uint8Array | null = null;
          for (let i = 0; i < length; i++) {
            const v = column.kind === 'any' ? column.values[i] : undefined;
            if (v === null || v === undefined || (parentNulls !== null && parentNulls[i] === 1)) {
              (rowNulls ??= new Uint8Array(length))[i] = 1;
              ids[i] = -1;
              continue;
            }
            const text = canonicalJson(v);
            let id = numbering.get(text);
            if (id === undefined) numbering.set(text, (id = batchTexts.push(text) - 1));
            ids[i] = id;
          }
          local[layout.lane] = ids;
          translate[layout.lane] = Int32Array.from(batchTexts, (text) => pool.lookup(text));
          texts[layout.lane] = batchTexts;
          nulls[layout.lane] = rowNulls;
          return;
        }
        case 'struct': {
          if (column.kind !== 'struct') throw mismatch('struct', column.kind);
          const structNulls = orNulls(column.nulls, parentNulls, length);
          const flags = new Float64Array(length);
          if (structNulls !== null) for (let i = 0; i < length; i++) flags[i] = structNulls[i]!;
          numbers[layout.nullLane] = flags;
          layout.children.forEach((child, c) => fill(child, column.children[c]!, structNulls));
          return;
        }
      }
    };
    this.layout.columns.forEach((layout, c) => fill(layout, columns[c]!, null));
    return { numbers, local, translate, texts, nulls, length };
  }

  /**
   * Hash of row `i` of a cursor, or 0 when the row's key holds a string the
   * pool does not know: such a row is in no group (0 is never a real hash).
   */
  hashRow(cursor: KeyCursor, i: number): number {
    let h = 0x2545f491;
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      const nulls = cursor.nulls[l];
      if (nulls !== null && nulls !== undefined && nulls[i] === 1) {
        h = mix(h, NULL_MARK);
        continue;
      }
      if (lanes[l] === 'f64') h = hashNumber(h, cursor.numbers[l]![i]!);
      else {
        const id = cursor.translate[l]![cursor.local[l]![i]!]!;
        if (id < 0) return 0;
        h = mix(h, id + 1);
      }
    }
    return finalHash(h) | 1;
  }

  #hashSlot(slot: number): number {
    let h = 0x2545f491;
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      if (this.isNull(slot, l)) {
        h = mix(h, NULL_MARK);
        continue;
      }
      h = lanes[l] === 'f64' ? hashNumber(h, this.#f64[l]![slot]!) : mix(h, this.#str[l]![slot]! + 1);
    }
    return finalHash(h) | 1;
  }

  #equalsRow(slot: number, cursor: KeyCursor, i: number): boolean {
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      const rowNulls = cursor.nulls[l];
      const rowNull = rowNulls !== null && rowNulls !== undefined && rowNulls[i] === 1;
      if (rowNull !== this.isNull(slot, l)) return false;
      if (rowNull) continue;
      if (lanes[l] === 'f64') {
        const a = this.#f64[l]![slot]!;
        const b = cursor.numbers[l]![i]!;
        if (a !== b && !(a !== a && b !== b)) return false;
      } else if (this.#str[l]![slot] !== cursor.translate[l]![cursor.local[l]![i]!]) return false;
    }
    return true;
  }

  /** The slot of row `i`'s group, or -1. `hash` is {@link GroupTable.hashRow}'s. */
  find(cursor: KeyCursor, i: number, hash: number): number {
    if (hash === 0) return -1;
    const index = this.#index;
    const mask = this.#mask;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const entry = index[at]!;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (this.#hashes[slot] === hash && this.#equalsRow(slot, cursor, i)) return slot;
    }
  }

  /**
   * Adds row `i`'s group (which must not be held) and returns its slot.
   * Strings the row brings enter the pool, and the cursor learns their pool
   * ids so later rows of the batch find the group.
   */
  insert(cursor: KeyCursor, i: number): number {
    if (this.#free.length === 0) this.#grow(this.#capacity * 2);
    const slot = this.#free.pop()!;
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      const rowNulls = cursor.nulls[l];
      const isNull = rowNulls !== null && rowNulls !== undefined && rowNulls[i] === 1;
      this.#setNull(slot, l, isNull);
      if (lanes[l] === 'f64') {
        const v = cursor.numbers[l]![i]!;
        // -0.0 is stored as 0.0 (Spark's NormalizeFloatingNumbers).
        this.#f64[l]![slot] = isNull || v === 0 ? 0 : v;
        continue;
      }
      if (isNull) {
        this.#str[l]![slot] = -1;
        continue;
      }
      const batchId = cursor.local[l]![i]!;
      const translate = cursor.translate[l] as Int32Array;
      let id = translate[batchId]!;
      if (id < 0) translate[batchId] = id = this.pool.acquire(cursor.texts[l]![batchId]!);
      else this.pool.retain(id);
      this.#str[l]![slot] = id;
    }
    this.#link(slot, this.#hashSlot(slot));
    return slot;
  }

  /**
   * Adds a group from its lane values (a restore); returns its slot.
   * `sequence` restores its place in the insertion order.
   */
  insertLanes(numbers: ArrayLike<number>, strings: ArrayLike<string | null>, nullLanes: ArrayLike<number>, sequence?: number): number {
    if (this.#free.length === 0) this.#grow(this.#capacity * 2);
    const slot = this.#free.pop()!;
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      const isNull = nullLanes[l] === 1;
      this.#setNull(slot, l, isNull);
      if (lanes[l] === 'f64') this.#f64[l]![slot] = isNull ? 0 : numbers[l]!;
      else this.#str[l]![slot] = isNull ? -1 : this.pool.acquire(strings[l]!);
    }
    this.#link(slot, this.#hashSlot(slot));
    if (sequence !== undefined) {
      this.#sequence[slot] = sequence;
      if (sequence >= this.#sequenceCounter) this.#sequenceCounter = sequence + 1;
    }
    return slot;
  }

  #link(slot: number, hash: number): void {
    this.#hashes[slot] = hash;
    this.#used[slot] = 1;
    this.#sequence[slot] = this.#sequenceCounter++;
    this.#size++;
    if (this.#size * 2 > this.#index.length) this.#rehash(this.#index.length * 2);
    const index = this.#index;
    const mask = this.#mask;
    let at = hash & mask;
    while (index[at] !== 0) at = (at + 1) & mask;
    index[at] = slot + 1;
  }

  /** Removes the group of `slot`. */
  remove(slot: number): void {
    if (this.#used[slot] !== 1) return;
    const index = this.#index;
    const mask = this.#mask;
    let at = this.#hashes[slot]! & mask;
    while (index[at] !== slot + 1) at = (at + 1) & mask;
    // Backward-shift deletion: no tombstones, so probes stay short however many groups come and go.
    let hole = at;
    for (let next = (hole + 1) & mask; index[next] !== 0; next = (next + 1) & mask) {
      const home = this.#hashes[index[next]! - 1]! & mask;
      const between = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!between) {
        index[hole] = index[next]!;
        hole = next;
      }
    }
    index[hole] = 0;
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      if (lanes[l] === 'str' && !this.isNull(slot, l)) this.pool.release(this.#str[l]![slot]!);
    }
    this.#used[slot] = 0;
    this.#free.push(slot);
    this.#size--;
  }

  /** Removes every group. */
  clear(): void {
    for (let s = 0; s < this.#capacity; s++) if (this.#used[s] === 1) this.remove(s);
    this.#sequenceCounter = 0;
  }

  /** Live slots in insertion order. */
  slotsInOrder(): Int32Array {
    const out = new Int32Array(this.#size);
    let n = 0;
    for (let s = 0; s < this.#capacity; s++) if (this.#used[s] === 1) out[n++] = s;
    return sortBySequence(out, this.#sequence);
  }

  /** `slots` sorted by insertion order (in place), returned. */
  inOrder(slots: Int32Array): Int32Array {
    return sortBySequence(slots, this.#sequence);
  }

  /**
   * `slots` split into `count` partitions by a hash of the key's content
   * (not of pool ids): the same key lands in the same partition in every
   * run and process, like Spark's shuffle partitions. Order is kept.
   */
  partitionsOf(slots: Int32Array, count: number): Int32Array[] {
    const parts: number[][] = Array.from({ length: count }, () => []);
    const stringHashes = new Map<number, number>();
    const lanes = this.layout.lanes;
    for (const slot of slots) {
      let h = 0x811c9dc5;
      for (let l = 0; l < lanes.length; l++) {
        if (this.isNull(slot, l)) {
          h = mix(h, NULL_MARK);
          continue;
        }
        if (lanes[l] === 'f64') {
          h = hashNumber(h, this.#f64[l]![slot]!);
          continue;
        }
        const id = this.#str[l]![slot]!;
        let sh = stringHashes.get(id);
        if (sh === undefined) stringHashes.set(id, (sh = fnv1a(this.pool.value(id))));
        h = mix(h, sh);
      }
      parts[(finalHash(h) >>> 0) % count]!.push(slot);
    }
    return parts.map((p) => Int32Array.from(p));
  }

  /** The string of a string lane at `slot`, or null. */
  stringAt(slot: number, lane: number): string | null {
    const id = this.#str[lane]![slot]!;
    return id < 0 ? null : this.pool.value(id);
  }

  #setNull(slot: number, lane: number, isNull: boolean): void {
    let nulls = this.#nulls[lane];
    if (!isNull) {
      if (nulls !== null && nulls !== undefined) nulls[slot] = 0;
      return;
    }
    if (nulls === null || nulls === undefined) this.#nulls[lane] = nulls = new Uint8Array(this.#capacity);
    nulls[slot] = 1;
  }

  #grow(capacity: number): void {
    const next = Math.max(capacity, 16);
    const old = this.#capacity;
    this.#f64 = this.#f64.map((a, l) => (this.layout.lanes[l] === 'f64' ? growF64(a, next) : a));
    this.#str = this.#str.map((a, l) => (this.layout.lanes[l] === 'str' ? growI32(a, next) : a));
    this.#nulls = this.#nulls.map((a) => (a === null ? null : growU8(a, next)));
    this.#hashes = growI32(this.#hashes, next);
    this.#used = growU8(this.#used, next);
    this.#sequence = growF64(this.#sequence, next);
    // Free slots are handed out lowest first.
    for (let s = next - 1; s >= old; s--) this.#free.push(s);
    this.#capacity = next;
  }

  #rehash(size: number): void {
    const index = new Int32Array(size);
    const mask = size - 1;
    for (let s = 0; s < this.#capacity; s++) {
      if (this.#used[s] !== 1) continue;
      let at = this.#hashes[s]! & mask;
      while (index[at] !== 0) at = (at + 1) & mask;
      index[at] = s + 1;
    }
    this.#index = index;
    this.#mask = mask;
  }
}

function sortBySequence(slots: Int32Array, sequence: Float64Array): Int32Array {
  // Most callers pass slots already close to insertion order; a typed-array sort is fast either way.
  const keyed = new Float64Array(slots.length);
  for (let i = 0; i < slots.length; i++) keyed[i] = sequence[slots[i]!]!;
  const order = Array.from(slots.keys()).sort((a, b) => keyed[a]! - keyed[b]!);
  const out = new Int32Array(slots.length);
  for (let i = 0; i < order.length; i++) out[i] = slots[order[i]!]!;
  return out;
}

function orNulls(own: Uint8Array | null, parent: Uint8Array | null, length: number): Uint8Array | null {
  if (parent === null) return own;
  if (own === null) return parent;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = own[i]! | parent[i]!;
  return out;
}

/** JSON text with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return JSON.stringify(Array.from(value));
  if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v)).join(',') + ']';
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return '{' + entries.map(([k, v]) => JSON.stringify(k) + ':' + canonicalJson(v)).join(',') + '}';
  }
  return JSON.stringify(value) ?? 'null';
}

function mismatch(expected: string, got: string): TidemarkError {
  return new TidemarkError('ERR_PROTOCOL', `a ${expected} grouping column arrived as a ${got} column`);
}

const EMPTY_F64 = new Float64Array(0);
const EMPTY_I32 = new Int32Array(0);

function growF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
function growI32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
function growU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}

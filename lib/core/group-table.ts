/**
 * The keys of keyed state, compact: one slot per group, the key's parts in
 * typed arrays ("lanes"), and an open-addressing index over them. No object
 * and no string per group: the strings live as UTF-8 bytes in one arena
 * with its own open-addressing index, so a state of a million (string,
 * window) groups costs about a hundred bytes each, everything counted
 * (issue "State that scales").
 *
 * A key is the grouping columns of a row, flattened into lanes:
 * numbers, timestamps, dates and booleans become a float64 lane; strings an
 * int32 lane of ids into the table's own string pool (by value, never by a
 * batch's dictionary id: dictionaries change); a struct (the `window`)
 * becomes the lanes of its fields plus its own null flag (a byte); any other type
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

/** How a lane is stored: float64 values, ids into the string pool, or a one-byte flag. */
export type LaneKind = 'f64' | 'str' | 'flag';

/** The lanes of a key and how the grouping columns map onto them. */
export interface KeyLayout {
  /** One layout per grouping column, in grouping order. */
  readonly columns: readonly KeyColumnLayout[];
  /** Kind of each lane: float64 values, ids into the string pool, or a struct's null flag (one byte). */
  readonly lanes: readonly LaneKind[];
}

/** The lanes the grouping fields need. */
export function keyLayout(fields: readonly Field[]): KeyLayout {
  const lanes: LaneKind[] = [];
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
        const nullLane = lanes.push('flag') - 1;
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
 * Strings of the keys, each stored once as UTF-8 bytes in one byte arena
 * (no JS string, no Map entry per key), found through an open-addressing
 * index over their hashes. An id counts the slots that use it; an id freed
 * by the last slot is reused, and the arena is compacted once more than
 * half of it is freed bytes.
 */
export class StringPool {
  // The arena, and per id: where its bytes start, how many, their hash, the slots that hold it.
  #arena: Uint8Array = new Uint8Array(256);
  #top = 0;
  #garbage = 0;
  #starts: Uint32Array = new Uint32Array(16);
  #lengths: Int32Array = new Int32Array(16);
  #hashes: Int32Array = new Int32Array(16);
  #refs: Int32Array = new Int32Array(16);
  // Ids never handed out start at #next; freed ids wait on a stack.
  #next = 0;
  #free: Int32Array = new Int32Array(16);
  #freeCount = 0;
  #size = 0;
  // id + 1, 0 = empty; at most half full.
  #index: Int32Array = new Int32Array(32);
  #mask = 31;
  // A lookup's string, as UTF-8.
  #scratch: Uint8Array = new Uint8Array(256);

  /** The id of `value`, or -1 when no key holds it. */
  lookup(value: string): number {
    const n = this.#encode(value);
    return this.#find(this.#scratch, 0, n, hashBytes(this.#scratch, 0, n));
  }

  /** The id of the UTF-8 string `bytes[start..end)`, or -1 when no key holds it. */
  lookupBytes(bytes: Uint8Array, start: number, end: number): number {
    return this.#find(bytes, start, end, hashBytes(bytes, start, end));
  }

  /** The string of `id`. */
  value(id: number): string {
    const start = this.#starts[id]!;
    return decodeUtf8(this.#arena, start, start + this.#lengths[id]!);
  }

  /** The UTF-8 bytes of `id`: a view, valid until the pool next changes. */
  bytesOf(id: number): Uint8Array {
    const start = this.#starts[id]!;
    return this.#arena.subarray(start, start + this.#lengths[id]!);
  }

  /** How many bytes the string of `id` has in UTF-8. */
  byteLength(id: number): number {
    return this.#lengths[id]!;
  }

  /** Copies the UTF-8 bytes of `id` into `target` at `at`; returns where they end. */
  copyBytes(id: number, target: Uint8Array, at: number): number {
    const arena = this.#arena;
    const start = this.#starts[id]!;
    const n = this.#lengths[id]!;
    // Keys are short: a loop beats a subarray view and a set for each.
    if (n <= 32) for (let i = 0; i < n; i++) target[at + i] = arena[start + i]!;
    else target.set(arena.subarray(start, start + n), at);
    return at + n;
  }

  /** Makes `target` a copy of this pool (array copies: a snapshot taken at a commit, read while this one changes). */
  copyInto(target: StringPool): void {
    target.#arena = this.#arena.slice(0, this.#top);
    target.#top = this.#top;
    target.#garbage = this.#garbage;
    target.#starts = this.#starts.slice();
    target.#lengths = this.#lengths.slice();
    target.#hashes = this.#hashes.slice();
    target.#refs = this.#refs.slice();
    target.#next = this.#next;
    target.#free = this.#free.slice();
    target.#freeCount = this.#freeCount;
    target.#size = this.#size;
    target.#index = this.#index.slice();
    target.#mask = this.#mask;
  }

  /** Every id handed out is below this. */
  get idLimit(): number {
    return this.#next;
  }

  /** Takes a reference to `value`, adding it when new; returns its id. */
  acquire(value: string): number {
    const n = this.#encode(value);
    return this.acquireBytes(this.#scratch, 0, n);
  }

  /** Takes a reference to the UTF-8 string `bytes[start..end)`, adding it when new; returns its id. */
  acquireBytes(bytes: Uint8Array, start: number, end: number): number {
    const hash = hashBytes(bytes, start, end);
    let id = this.#find(bytes, start, end, hash);
    if (id < 0) id = this.#add(bytes, start, end, hash);
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
    this.#unlink(id);
    this.#garbage += this.#lengths[id]!;
    this.#lengths[id] = 0;
    if (this.#freeCount === this.#free.length) this.#free = growI32(this.#free, this.#free.length * 2);
    this.#free[this.#freeCount++] = id;
    this.#size--;
    if (this.#garbage > 4096 && this.#garbage * 2 > this.#top) this.#compact();
  }

  /** Distinct strings held. */
  get size(): number {
    return this.#size;
  }

  /** Makes room for `more` strings of `bytes` bytes in all, at once (a restore knows how many come). */
  reserve(more: number, bytes: number): void {
    let index = this.#index.length;
    while ((this.#size + more) * 2 > index) index *= 2;
    if (index !== this.#index.length) this.#rehash(index);
    const ids = this.#next + more;
    if (ids > this.#starts.length) {
      this.#starts = growU32(this.#starts, ids);
      this.#lengths = growI32(this.#lengths, ids);
      this.#hashes = growI32(this.#hashes, ids);
      this.#refs = growI32(this.#refs, ids);
    }
    if (this.#top + bytes > this.#arena.length) {
      const grown = new Uint8Array(this.#top + bytes);
      grown.set(this.#arena.subarray(0, this.#top));
      this.#arena = grown;
    }
  }

  /**
   * A hash of `id`'s text that does not depend on ids (the same in every
   * run): FNV-1a over its UTF-16 code units, which for ASCII are its bytes.
   */
  contentHash(id: number): number {
    const arena = this.#arena;
    const start = this.#starts[id]!;
    const end = start + this.#lengths[id]!;
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) {
      const b = arena[i]!;
      if (b >= 0x80) return fnv1a(this.value(id));
      h = Math.imul(h ^ b, 0x01000193);
    }
    return h;
  }

  /** Memory held: the arena and the per-id arrays, capacity included. */
  get bytesUsed(): number {
    return this.#arena.byteLength + this.#starts.byteLength + this.#lengths.byteLength + this.#hashes.byteLength + this.#refs.byteLength + this.#free.byteLength + this.#index.byteLength + this.#scratch.byteLength;
  }

  // UTF-8 of `value` into the scratch buffer; returns its length.
  #encode(value: string): number {
    const n = value.length;
    if (this.#scratch.length < n * 3) this.#scratch = new Uint8Array(Math.max(n * 3, this.#scratch.length * 2));
    const out = this.#scratch;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return encoder.encodeInto(value, out).written;
      out[i] = c;
    }
    return n;
  }

  #find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const index = this.#index;
    const mask = this.#mask;
    const length = end - start;
    const arena = this.#arena;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const entry = index[at]!;
      if (entry === 0) return -1;
      const id = entry - 1;
      if (this.#hashes[id] !== hash || this.#lengths[id] !== length) continue;
      const from = this.#starts[id]!;
      let same = true;
      for (let k = 0; k < length; k++) {
        if (arena[from + k] !== bytes[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return id;
    }
  }

  #add(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const length = end - start;
    if ((this.#size + 1) * 2 > this.#index.length) this.#rehash(this.#index.length * 2);
    let id: number;
    if (this.#freeCount > 0) id = this.#free[--this.#freeCount]!;
    else {
      id = this.#next++;
      if (id === this.#starts.length) {
        const next = Math.ceil(this.#starts.length * 1.5);
        this.#starts = growU32(this.#starts, next);
        this.#lengths = growI32(this.#lengths, next);
        this.#hashes = growI32(this.#hashes, next);
        this.#refs = growI32(this.#refs, next);
      }
    }
    if (this.#top + length > this.#arena.length) {
      if (this.#garbage * 4 > this.#top) this.#compact();
      if (this.#top + length > this.#arena.length) {
        const grown = new Uint8Array(Math.max(this.#top + length, Math.ceil(this.#arena.length * 1.5)));
        grown.set(this.#arena.subarray(0, this.#top));
        this.#arena = grown;
      }
    }
    // `bytes` may be the arena itself only through bytesOf, which callers copy first.
    this.#arena.set(bytes.subarray(start, end), this.#top);
    this.#starts[id] = this.#top;
    this.#lengths[id] = length;
    this.#top += length;
    this.#hashes[id] = hash;
    this.#refs[id] = 0;
    this.#size++;
    const index = this.#index;
    const mask = this.#mask;
    let at = hash & mask;
    while (index[at] !== 0) at = (at + 1) & mask;
    index[at] = id + 1;
    return id;
  }

  #unlink(id: number): void {
    unlinkFromIndex(this.#index, this.#hashes, this.#mask, id);
  }

  #rehash(size: number): void {
    const index = new Int32Array(size);
    const mask = size - 1;
    for (let id = 0; id < this.#next; id++) {
      if (this.#refs[id]! <= 0) continue;
      let at = this.#hashes[id]! & mask;
      while (index[at] !== 0) at = (at + 1) & mask;
      index[at] = id + 1;
    }
    this.#index = index;
    this.#mask = mask;
  }

  // Copies the live strings (refs > 0) into a fresh arena sized for them, with room to grow.
  #compact(): void {
    const old = this.#arena;
    const arena = new Uint8Array(Math.max(256, Math.ceil((this.#top - this.#garbage) * 1.5)));
    let top = 0;
    for (let id = 0; id < this.#next; id++) {
      if (this.#refs[id]! <= 0) continue;
      const from = this.#starts[id]!;
      const length = this.#lengths[id]!;
      arena.set(old.subarray(from, from + length), top);
      this.#starts[id] = top;
      top += length;
    }
    this.#arena = arena;
    this.#top = top;
    this.#garbage = 0;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** The text of UTF-8 bytes `bytes[start..end)`. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 64) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  return decoder.decode(bytes.subarray(start, end));
}

/** UTF-8 bytes of `text`. */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x2545f491 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return finalHash(h) | 1;
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
  /** Per float64 or flag lane: the values of the rows (flags as 0 or 1). */
  readonly numbers: ReadonlyArray<Float64Array | null>;
  /** Per string lane: the batch id of each row's string (-1 for null). */
  readonly local: ReadonlyArray<Int32Array | null>;
  /** Per string lane: batch id → pool id, or -1 when the pool does not hold it. */
  readonly translate: ReadonlyArray<Int32Array | null>;
  /** Per string lane: takes a pool reference to the string of a batch id (adding it), returning its pool id. */
  readonly acquire: ReadonlyArray<((batchId: number) => number) | null>;
  /** Per lane: 1 where the row's value is null, or null when no row is. */
  readonly nulls: ReadonlyArray<Uint8Array | null>;
  readonly length: number;
}

/**
 * Slots of groups keyed by lanes.
 *
 * Lookups read a {@link KeyCursor} built once per batch by
 * {@link GroupTable.cursor}; insertion copies the row's lanes into the slot.
 * Slot arrays grow by half when full; a removed slot is reused first.
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
  #flags: Uint8Array[];
  #nulls: Array<Uint8Array | null>;
  #hashes: Int32Array = new Int32Array(0);
  #used: Uint8Array = new Uint8Array(0);
  #sequence: Float64Array = new Float64Array(0);
  // Slots never used start at #next; removed slots wait on a stack.
  #next = 0;
  #free: Int32Array = new Int32Array(16);
  #freeCount = 0;
  // open addressing, linear probing: slot + 1, 0 = empty
  #index: Int32Array = new Int32Array(16);
  #mask = 15;

  constructor(layout: KeyLayout, initialCapacity = 16) {
    this.layout = layout;
    this.#f64 = layout.lanes.map((k) => (k === 'f64' ? new Float64Array(0) : EMPTY_F64));
    this.#str = layout.lanes.map((k) => (k === 'str' ? new Int32Array(0) : EMPTY_I32));
    this.#flags = layout.lanes.map((k) => (k === 'flag' ? new Uint8Array(0) : EMPTY_U8));
    this.#nulls = layout.lanes.map(() => null);
    this.#grow(initialCapacity);
  }

  /** Groups held. */
  get size(): number {
    return this.#size;
  }

  /**
   * A copy of the table as it is now: its arrays copied whole (memory
   * copies, no walk over the groups), so a snapshot can be read from it
   * while this table goes on changing.
   */
  clone(): GroupTable {
    const copy = new GroupTable(this.layout);
    this.pool.copyInto(copy.pool);
    copy.#capacity = this.#capacity;
    copy.#size = this.#size;
    copy.#sequenceCounter = this.#sequenceCounter;
    copy.#f64 = this.#f64.map((a) => (a === EMPTY_F64 ? a : a.slice()));
    copy.#str = this.#str.map((a) => (a === EMPTY_I32 ? a : a.slice()));
    copy.#flags = this.#flags.map((a) => (a === EMPTY_U8 ? a : a.slice()));
    copy.#nulls = this.#nulls.map((a) => (a === null ? null : a.slice()));
    copy.#hashes = this.#hashes.slice();
    copy.#used = this.#used.slice();
    copy.#sequence = this.#sequence.slice();
    copy.#next = this.#next;
    copy.#free = this.#free.slice();
    copy.#freeCount = this.#freeCount;
    copy.#index = this.#index.slice();
    copy.#mask = this.#mask;
    return copy;
  }

  /** Slots allocated (live or free): the bound of slot numbers. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Makes room for `more` groups at once: slots and index sized once (a restore knows how many come). */
  reserve(more: number): void {
    const slots = this.#size + more;
    if (slots > this.#capacity) this.#grow(slots);
    let index = this.#index.length;
    while (slots * 2 > index) index *= 2;
    if (index !== this.#index.length) this.#rehash(index);
  }

  /** True when `slot` holds a group. */
  isLive(slot: number): boolean {
    return this.#used[slot] === 1;
  }

  /** Insertion order of a live slot: smaller came first. */
  sequence(slot: number): number {
    return this.#sequence[slot]!;
  }

  /** The next insertion's order number: every group inserted from now on has one at least this large. */
  get nextSequence(): number {
    return this.#sequenceCounter;
  }

  /** Sets the insertion order of a live slot (a group restored over one held). */
  setSequence(slot: number, sequence: number): void {
    this.#sequence[slot] = sequence;
    if (sequence >= this.#sequenceCounter) this.#sequenceCounter = sequence + 1;
  }

  /** The float64 lane values of every slot (live or not). */
  numberLane(lane: number): Float64Array {
    return this.#f64[lane]!;
  }

  /** The flag lane values (0 or 1) of every slot (live or not). */
  flagLane(lane: number): Uint8Array {
    return this.#flags[lane]!;
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

  /** Memory held by the keys: lanes, index, order, free slots, pool (capacity included). */
  get bytesUsed(): number {
    let bytes = this.#index.byteLength + this.#hashes.byteLength + this.#used.byteLength + this.#sequence.byteLength + this.#free.byteLength;
    for (const lane of this.#f64) bytes += lane.byteLength;
    for (const lane of this.#str) bytes += lane.byteLength;
    for (const lane of this.#flags) bytes += lane.byteLength;
    for (const nulls of this.#nulls) bytes += nulls?.byteLength ?? 0;
    return bytes + this.pool.bytesUsed;
  }

  /** Reads a batch's grouping columns (one column per layout column) for lookups. */
  cursor(columns: readonly Column[], length: number): KeyCursor {
    const laneCount = this.layout.lanes.length;
    const numbers = new Array<Float64Array | null>(laneCount).fill(null);
    const local = new Array<Int32Array | null>(laneCount).fill(null);
    const translate = new Array<Int32Array | null>(laneCount).fill(null);
    const acquire = new Array<((batchId: number) => number) | null>(laneCount).fill(null);
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
          acquire[layout.lane] = (id) => pool.acquire(values[id]!);
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
          acquire[layout.lane] = (id) => pool.acquire(batchTexts[id]!);
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
    return { numbers, local, translate, acquire, nulls, length };
  }

  /**
   * A cursor over groups given lane by lane (a checkpoint record): numbers
   * per float64 or flag lane, strings per string lane as a dictionary of
   * UTF-8 strings (`bytes`, each ending at `ends[k]`) and an id per group
   * (-1 for null), null flags per lane. Without `lookup` the cursor only
   * inserts: no string is looked up in the pool first.
   */
  laneCursor(
    lanes: ReadonlyArray<{ readonly numbers: Float64Array } | { readonly bytes: Uint8Array; readonly ends: Int32Array; readonly ids: Int32Array }>,
    nulls: ReadonlyArray<Uint8Array | null>,
    length: number,
    lookup = true,
  ): KeyCursor {
    const laneCount = this.layout.lanes.length;
    const numbers = new Array<Float64Array | null>(laneCount).fill(null);
    const local = new Array<Int32Array | null>(laneCount).fill(null);
    const translate = new Array<Int32Array | null>(laneCount).fill(null);
    const acquire = new Array<((batchId: number) => number) | null>(laneCount).fill(null);
    const pool = this.pool;
    lanes.forEach((lane, l) => {
      if ('numbers' in lane) {
        numbers[l] = lane.numbers;
        return;
      }
      const { bytes, ends } = lane;
      const startOf = (k: number): number => (k === 0 ? 0 : ends[k - 1]!);
      local[l] = lane.ids;
      // Without `lookup` (groups known to be new) the strings are looked up as they are inserted.
      translate[l] = lookup ? Int32Array.from({ length: ends.length }, (_, k) => pool.lookupBytes(bytes, startOf(k), ends[k]!)) : new Int32Array(ends.length).fill(-1);
      acquire[l] = (k) => pool.acquireBytes(bytes, startOf(k), ends[k]!);
    });
    return { numbers, local, translate, acquire, nulls, length };
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
      if (lanes[l] !== 'str') h = hashNumber(h, cursor.numbers[l]![i]!);
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
      const kind = lanes[l];
      h = kind === 'f64' ? hashNumber(h, this.#f64[l]![slot]!) : kind === 'flag' ? hashNumber(h, this.#flags[l]![slot]!) : mix(h, this.#str[l]![slot]! + 1);
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
      const kind = lanes[l];
      if (kind === 'f64') {
        const a = this.#f64[l]![slot]!;
        const b = cursor.numbers[l]![i]!;
        if (a !== b && !(a !== a && b !== b)) return false;
      } else if (kind === 'flag') {
        if (this.#flags[l]![slot] !== cursor.numbers[l]![i]) return false;
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
   * ids so later rows of the batch find the group. `sequence` restores the
   * group's place in the insertion order (a new group goes last). `hash`:
   * the row's {@link GroupTable.hashRow}, when the caller has it and it is
   * not 0 (0: computed here, once the row's strings are in the pool).
   */
  insert(cursor: KeyCursor, i: number, sequence?: number, hash = 0): number {
    const slot = this.#takeSlot();
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      const rowNulls = cursor.nulls[l];
      const isNull = rowNulls !== null && rowNulls !== undefined && rowNulls[i] === 1;
      this.#setNull(slot, l, isNull);
      const kind = lanes[l];
      if (kind === 'f64') {
        const v = cursor.numbers[l]![i]!;
        // -0.0 is stored as 0.0 (Spark's NormalizeFloatingNumbers).
        this.#f64[l]![slot] = isNull || v === 0 ? 0 : v;
        continue;
      }
      if (kind === 'flag') {
        this.#flags[l]![slot] = isNull ? 0 : cursor.numbers[l]![i]!;
        continue;
      }
      if (isNull) {
        this.#str[l]![slot] = -1;
        continue;
      }
      const batchId = cursor.local[l]![i]!;
      const translate = cursor.translate[l] as Int32Array;
      let id = translate[batchId]!;
      if (id < 0) translate[batchId] = id = cursor.acquire[l]!(batchId);
      else this.pool.retain(id);
      this.#str[l]![slot] = id;
    }
    this.#link(slot, hash !== 0 ? hash : this.#hashSlot(slot), sequence);
    return slot;
  }

  /**
   * Adds a group from its lane values (a restore of an older format);
   * returns its slot. `sequence` restores its place in the insertion order.
   */
  insertLanes(numbers: ArrayLike<number>, strings: ArrayLike<string | null>, nullLanes: ArrayLike<number>, sequence?: number): number {
    const slot = this.#takeSlot();
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      const isNull = nullLanes[l] === 1;
      this.#setNull(slot, l, isNull);
      const kind = lanes[l];
      if (kind === 'f64') this.#f64[l]![slot] = isNull ? 0 : numbers[l]!;
      else if (kind === 'flag') this.#flags[l]![slot] = isNull ? 0 : numbers[l]!;
      else this.#str[l]![slot] = isNull ? -1 : this.pool.acquire(strings[l]!);
    }
    this.#link(slot, this.#hashSlot(slot), sequence);
    return slot;
  }

  #takeSlot(): number {
    if (this.#freeCount > 0) return this.#free[--this.#freeCount]!;
    if (this.#next === this.#capacity) this.#grow(Math.ceil(this.#capacity * 1.5));
    return this.#next++;
  }

  #link(slot: number, hash: number, sequence: number | undefined): void {
    this.#hashes[slot] = hash;
    this.#used[slot] = 1;
    if (sequence === undefined) this.#sequence[slot] = this.#sequenceCounter++;
    else {
      this.#sequence[slot] = sequence;
      if (sequence >= this.#sequenceCounter) this.#sequenceCounter = sequence + 1;
    }
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
    unlinkFromIndex(this.#index, this.#hashes, this.#mask, slot);
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      if (lanes[l] === 'str' && !this.isNull(slot, l)) this.pool.release(this.#str[l]![slot]!);
    }
    this.#used[slot] = 0;
    if (this.#freeCount === this.#free.length) this.#free = growI32(this.#free, this.#free.length * 2);
    this.#free[this.#freeCount++] = slot;
    this.#size--;
  }

  /** Removes every group. */
  clear(): void {
    for (let s = 0; s < this.#next; s++) if (this.#used[s] === 1) this.remove(s);
    this.#sequenceCounter = 0;
  }

  /** Live slots in slot order (cheap: no sort). */
  liveSlots(): Int32Array {
    const out = new Int32Array(this.#size);
    let n = 0;
    for (let s = 0; s < this.#next; s++) if (this.#used[s] === 1) out[n++] = s;
    return out;
  }

  /** Live slots in insertion order. */
  slotsInOrder(): Int32Array {
    return sortBySequence(this.liveSlots(), this.#sequence);
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
    if (count === 1) return [slots];
    const parts: number[][] = Array.from({ length: count }, () => []);
    for (const slot of slots) parts[this.partitionOf(slot, count)]!.push(slot);
    return parts.map((p) => Int32Array.from(p));
  }

  /** The partition of a live slot's key among `count` (see {@link GroupTable.partitionsOf}). */
  partitionOf(slot: number, count: number): number {
    if (count === 1) return 0;
    let h = 0x811c9dc5;
    const lanes = this.layout.lanes;
    for (let l = 0; l < lanes.length; l++) {
      if (this.isNull(slot, l)) {
        h = mix(h, NULL_MARK);
        continue;
      }
      const kind = lanes[l];
      if (kind === 'f64') h = hashNumber(h, this.#f64[l]![slot]!);
      else if (kind === 'flag') h = hashNumber(h, this.#flags[l]![slot]!);
      else h = mix(h, this.pool.contentHash(this.#str[l]![slot]!));
    }
    return (finalHash(h) >>> 0) % count;
  }

  /** The string of a string lane at `slot`, or null. */
  stringAt(slot: number, lane: number): string | null {
    const id = this.#str[lane]![slot]!;
    return id < 0 ? null : this.pool.value(id);
  }

  /** The pool id of a string lane's value ({@link StringPool.value} reads it), or -1 for null. */
  stringIdAt(slot: number, lane: number): number {
    return this.#str[lane]![slot]!;
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
    const lanes = this.layout.lanes;
    this.#f64 = this.#f64.map((a, l) => (lanes[l] === 'f64' ? growF64(a, next) : a));
    this.#str = this.#str.map((a, l) => (lanes[l] === 'str' ? growI32(a, next) : a));
    this.#flags = this.#flags.map((a, l) => (lanes[l] === 'flag' ? growU8(a, next) : a));
    this.#nulls = this.#nulls.map((a) => (a === null ? null : growU8(a, next)));
    this.#hashes = growI32(this.#hashes, next);
    this.#used = growU8(this.#used, next);
    this.#sequence = growF64(this.#sequence, next);
    this.#capacity = next;
  }

  #rehash(size: number): void {
    const index = new Int32Array(size);
    const mask = size - 1;
    for (let s = 0; s < this.#next; s++) {
      if (this.#used[s] !== 1) continue;
      let at = this.#hashes[s]! & mask;
      while (index[at] !== 0) at = (at + 1) & mask;
      index[at] = s + 1;
    }
    this.#index = index;
    this.#mask = mask;
  }
}

// Slots up to which sortBySequence sorts packed keys natively: the radix sort's 65,536-bucket
// passes cost more than that many slots, and they run in cold code (a query sorts its evicted
// groups once a batch: a sliding window's 13,000 took 15 ms a batch before V8 optimised the loop).
const PACKED_SORT_UP_TO = 65_536;
// Integers a double holds exactly.
const EXACT_INTEGERS = 2 ** 53;

/**
 * `slots` sorted by their sequence numbers (unique non-negative integers):
 * up to {@link PACKED_SORT_UP_TO} slots, as `sequence × 2^k + slot` keys a
 * `Float64Array` sorts natively, when they are exact; else by an LSD radix
 * sort, 16 bits a pass, so a drain of a million groups sorts in linear time.
 */
function sortBySequence(slots: Int32Array, sequence: Float64Array): Int32Array {
  const n = slots.length;
  if (n < 2) return slots;
  let max = 0;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    const v = sequence[s]!;
    if (v > max) max = v;
    if (s > top) top = s;
  }
  if (n <= PACKED_SORT_UP_TO) {
    // A power of two above every slot: the keys keep the sequences' order, and the slot in the low bits.
    const scale = 2 ** (32 - Math.clz32(top));
    if (max * scale + top < EXACT_INTEGERS) return sortPacked(slots, sequence, scale);
  }
  let from: Int32Array = slots;
  let to: Int32Array = new Int32Array(n);
  const counts = new Int32Array(65536);
  for (let shift = 1; ; shift *= 65536) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[Math.floor(sequence[from[i]!]! / shift) % 65536]!++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const s = from[i]!;
      to[counts[Math.floor(sequence[s]! / shift) % 65536]!++] = s;
    }
    const t = from;
    from = to;
    to = t;
    if (max < shift * 65536) break;
  }
  if (from !== slots) slots.set(from);
  return slots;
}

function sortPacked(slots: Int32Array, sequence: Float64Array, scale: number): Int32Array {
  const n = slots.length;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    keys[i] = sequence[s]! * scale + s;
  }
  keys.sort();
  for (let i = 0; i < n; i++) slots[i] = keys[i]! % scale;
  return slots;
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
const EMPTY_U8 = new Uint8Array(0);

function growF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
function growU32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
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

/**
 * Removes `id` from an open-addressing index (linear probing; an entry is
 * `id + 1`, 0 is empty) by backward-shift deletion: no tombstones, so probes
 * stay short however many entries come and go.
 */
function unlinkFromIndex(index: Int32Array, hashes: Int32Array, mask: number, id: number): void {
  let at = hashes[id]! & mask;
  while (index[at] !== id + 1) at = (at + 1) & mask;
  let hole = at;
  for (let next = (hole + 1) & mask; index[next] !== 0; next = (next + 1) & mask) {
    const home = hashes[index[next]! - 1]! & mask;
    const between = hole <= next ? home > hole && home <= next : home > hole || home <= next;
    if (!between) {
      index[hole] = index[next]!;
      hole = next;
    }
  }
  index[hole] = 0;
}

/**
 * The columnar buffers behind {@link AggregateBuffers}: one "cell" per
 * buffer kind, each holding one value per group slot in a typed array (or a
 * plain array for strings, decimals and the rare exact-integer spill), and
 * each updating a whole batch in one loop — no object per group, no closure
 * per row.
 *
 * Aggregates share cells: `count(x)`, `sum(x)`, `avg(x)`, `min(x)` and
 * `max(x)` all read one non-null count of `x`; `sum(x)` and `avg(x)` of a
 * double column read one double sum. A cell's `id` names what it holds and is
 * also its partial-aggregate column's name and its key in snapshots.
 *
 * Merge order is part of the rules: min and max keep the value already held
 * when a new one compares equal (Spark's `greatest(buffer, input)` keeps its
 * first argument), so `-0.0` and `0.0` keep whichever came first, as in
 * Spark.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { StringDictionary, type Column } from './batch.js';
import { base64ToBytes } from './base64.js';
import { fitsPrecision, formatUnscaled, parseUnscaled } from './decimal.js';
import type { DataType, Field } from './schema.js';
import { compareUtf8 } from './string-order.js';

/** What every buffer kind does; see {@link AggregateBuffers} for the meaning of each operation. */
export interface Cell {
  /** Partial column name and snapshot key: `count`, `count(x)`, `sum(x)`, `max(x)`. */
  readonly id: string;
  /** Index of the input column read, or -1 (row count). */
  readonly inputIndex: number;
  grow(capacity: number): void;
  reset(slot: number): void;
  accumulate(slots: Int32Array, length: number, column: Column | null, weights: Float64Array | null): void;
  partialFields(): Field[];
  writePartial(slots: Int32Array, length: number): Column[];
  mergePartial(slots: Int32Array, length: number, columns: readonly Column[]): void;
  mergeSlots(target: number, source: number): void;
  snapshot(slots: Int32Array, length: number): unknown;
  restore(data: unknown, slots: Int32Array, length: number): void;
  bytesUsed(): number;
}

const TWO_53 = 9_007_199_254_740_992;

// ---------------------------------------------------------------------------------------------
// Shared helpers.

function grownF64(old: Float64Array, capacity: number, fill: number): Float64Array {
  const next = new Float64Array(capacity);
  next.set(old);
  if (fill !== 0) next.fill(fill, old.length);
  return next;
}

function f64Column(values: Float64Array, nulls: Uint8Array | null): Column {
  return { kind: 'f64', values, nulls };
}

function expectKind<K extends Column['kind']>(column: Column | null, kind: K, id: string): Extract<Column, { kind: K }> {
  if (column === null || column.kind !== kind) {
    throw new TidemarkError('ERR_PROTOCOL', `${id}: expected a ${kind} column, got ${column === null ? 'none' : column.kind}`);
  }
  return column as Extract<Column, { kind: K }>;
}

/** The values of `source` at `slots[0..length)`. */
function gather(source: Float64Array, slots: Int32Array, length: number): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = source[slots[i]!]!;
  return out;
}

// A snapshot holds doubles as a Float64Array: the state file writes it as a raw section (format 2),
// or in base64 where it writes text. Checkpoints of the releases before hold a base64 string.
function unpackF64(data: unknown, length: number, id: string): Float64Array {
  if (data instanceof Float64Array) {
    if (data.length !== length) throw corrupt(id);
    return data;
  }
  if (typeof data !== 'string') throw corrupt(id);
  const bytes = base64ToBytes(data);
  if (bytes.length !== length * 8) throw corrupt(id);
  return new Float64Array(bytes.buffer, bytes.byteOffset, length);
}

function corrupt(id: string): TidemarkError {
  return new TidemarkError('ERR_CHECKPOINT_CORRUPT', `aggregate state ${id}: the snapshot does not hold what this buffer wrote`);
}

function arrayOf(data: unknown, length: number, id: string): unknown[] {
  if (!Array.isArray(data) || data.length !== length) throw corrupt(id);
  return data;
}

/** Null mask: 1 where `counts[slots[i]]` is 0; null when no slot is empty. */
function emptyMask(counts: Float64Array, slots: Int32Array, length: number): Uint8Array | null {
  let mask: Uint8Array | null = null;
  for (let i = 0; i < length; i++) {
    if (counts[slots[i]!] === 0) (mask ??= new Uint8Array(length))[i] = 1;
  }
  return mask;
}

/** Adds `values[i]` (times `weights[i]`) to `target[slots[i]]`, skipping rows marked in `nulls` and slot -1. */
function addRows(target: Float64Array, slots: Int32Array, length: number, values: Float64Array, nulls: Uint8Array | null, weights: Float64Array | null): void {
  if (nulls === null) {
    if (weights === null) {
      for (let i = 0; i < length; i++) {
        const s = slots[i]!;
        if (s >= 0) target[s] += values[i]!;
      }
    } else {
      for (let i = 0; i < length; i++) {
        const s = slots[i]!;
        if (s >= 0) target[s] += values[i]! * weights[i]!;
      }
    }
  } else if (weights === null) {
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s >= 0 && nulls[i] !== 1) target[s] += values[i]!;
    }
  } else {
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s >= 0 && nulls[i] !== 1) target[s] += values[i]! * weights[i]!;
    }
  }
}

/** Adds one (or `weights[i]`) per row to `target[slots[i]]`, skipping rows marked in `nulls` and slot -1. */
function countRows(target: Float64Array, slots: Int32Array, length: number, nulls: Uint8Array | null, weights: Float64Array | null): void {
  if (weights !== null) {
    addRows(target, slots, length, weights, nulls, null);
    return;
  }
  if (nulls === null) {
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s >= 0) target[s]++;
    }
  } else {
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s >= 0 && nulls[i] !== 1) target[s]++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Counts and double sums: one Float64Array, merged by addition.

/** A per-slot total kept in a Float64Array: rows (`count`), non-null values (`count(x)`) or a double sum. */
abstract class TotalCell implements Cell {
  values: Float64Array = new Float64Array(0);
  abstract readonly id: string;
  abstract readonly inputIndex: number;
  abstract accumulate(slots: Int32Array, length: number, column: Column | null, weights: Float64Array | null): void;
  protected abstract readonly fieldType: DataType;

  grow(capacity: number): void {
    this.values = grownF64(this.values, capacity, 0);
  }
  reset(slot: number): void {
    this.values[slot] = 0;
  }
  partialFields(): Field[] {
    return [{ name: this.id, dataType: this.fieldType, nullable: false }];
  }
  writePartial(slots: Int32Array, length: number): Column[] {
    return [f64Column(gather(this.values, slots, length), null)];
  }
  mergePartial(slots: Int32Array, length: number, columns: readonly Column[]): void {
    const column = expectKind(columns[0] ?? null, 'f64', this.id);
    addRows(this.values, slots, length, column.values, column.nulls, null);
  }
  mergeSlots(target: number, source: number): void {
    this.values[target] += this.values[source]!;
  }
  snapshot(slots: Int32Array, length: number): unknown {
    return gather(this.values, slots, length);
  }
  restore(data: unknown, slots: Int32Array, length: number): void {
    const values = unpackF64(data, length, this.id);
    for (let i = 0; i < length; i++) this.values[slots[i]!] = values[i]!;
  }
  bytesUsed(): number {
    return this.values.byteLength;
  }
}

/** `count`: rows per slot. */
export class RowCountCell extends TotalCell {
  readonly id = 'count';
  readonly inputIndex = -1;
  protected readonly fieldType: DataType = { type: 'long' };
  accumulate(slots: Int32Array, length: number, _column: Column | null, weights: Float64Array | null): void {
    countRows(this.values, slots, length, null, weights);
  }
}

/** `count(x)`: non-null values of a column per slot; also what tells every other aggregate of `x` whether a slot saw a value. */
export class NonNullCell extends TotalCell {
  readonly id: string;
  protected readonly fieldType: DataType = { type: 'long' };
  constructor(
    column: string,
    readonly inputIndex: number,
  ) {
    super();
    this.id = `count(${column})`;
  }
  accumulate(slots: Int32Array, length: number, column: Column | null, weights: Float64Array | null): void {
    if (column === null) throw new TidemarkError('ERR_PROTOCOL', `${this.id}: no input column`);
    switch (column.kind) {
      case 'f64':
      case 'bool':
      case 'struct':
        countRows(this.values, slots, length, column.nulls, weights);
        return;
      case 'dict': {
        const ids = column.ids;
        const target = this.values;
        for (let i = 0; i < length; i++) {
          const s = slots[i]!;
          if (s >= 0 && ids[i]! >= 0) target[s] += weights === null ? 1 : weights[i]!;
        }
        return;
      }
      case 'any': {
        const values = column.values;
        const target = this.values;
        for (let i = 0; i < length; i++) {
          const s = slots[i]!;
          const v = values[i];
          if (s >= 0 && v !== null && v !== undefined) target[s] += weights === null ? 1 : weights[i]!;
        }
        return;
      }
    }
  }
}

/**
 * A double sum: Spark's `sum` of a float/double column and the running sum
 * of `avg` of any non-decimal number (Spark adds `CAST(x AS DOUBLE)`).
 * Starts at 0.0, so a sum of `-0.0` values is `0.0`, as in Spark.
 */
export class DoubleSumCell extends TotalCell {
  readonly id: string;
  protected readonly fieldType: DataType = { type: 'double' };
  constructor(
    /** Partial column name: `sum(x)`, or `sum(CAST(x AS DOUBLE))` beside an exact integral `sum(x)`. */
    id: string,
    readonly inputIndex: number,
  ) {
    super();
    this.id = id;
  }
  accumulate(slots: Int32Array, length: number, column: Column | null, weights: Float64Array | null): void {
    const c = expectKind(column, 'f64', this.id);
    addRows(this.values, slots, length, c.values, c.nulls, weights);
  }
}

// ---------------------------------------------------------------------------------------------
// Exact integral sums.

/**
 * `sum` of byte/short/int/bigint: exact, in two tiers. While a slot's sum
 * stays below 2^53 in magnitude it lives in a Float64Array, where integer
 * addition is exact, and each row costs one add and one compare. A sum that
 * reaches 2^53 moves to a `bigint` (the Float64Array then holds NaN, which
 * sends every later row of that slot to the exact path) and moves back when
 * it falls below again.
 *
 * Beyond the bigint range Spark's default (`spark.sql.ansi.enabled=false`)
 * wraps around as Java's `long` does; with `ansi` the add that leaves the
 * range throws `[ARITHMETIC_OVERFLOW]`, as Spark does. Wrapping once at the
 * end equals wrapping at every add, so the order of merges does not matter.
 *
 * Partial rows carry the sum in two bigint columns: `sum(x)`, the nearest
 * double, and `sum(x)#remainder`, the exact rest (0 below 2^53).
 */
export class LongSumCell implements Cell {
  readonly id: string;
  values: Float64Array = new Float64Array(0);
  /** Exact sums of slots at or beyond 2^53 (their `values` entry is NaN). */
  readonly big = new Map<number, bigint>();

  constructor(
    column: string,
    readonly inputIndex: number,
    readonly ansi: boolean,
  ) {
    this.id = `sum(${column})`;
  }

  grow(capacity: number): void {
    this.values = grownF64(this.values, capacity, 0);
  }
  reset(slot: number): void {
    this.values[slot] = 0;
    this.big.delete(slot);
  }

  accumulate(slots: Int32Array, length: number, column: Column | null, weights: Float64Array | null): void {
    const c = expectKind(column, 'f64', this.id);
    const values = c.values;
    const nulls = c.nulls;
    const sums = this.values;
    if (weights === null) {
      for (let i = 0; i < length; i++) {
        const s = slots[i]!;
        if (s < 0 || (nulls !== null && nulls[i] === 1)) continue;
        const v = values[i]!;
        const t = sums[s]! + v;
        if (t < TWO_53 && t > -TWO_53) sums[s] = t;
        else this.addRow(s, v);
      }
      return;
    }
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s < 0 || (nulls !== null && nulls[i] === 1)) continue;
      const v = values[i]!;
      const w = weights[i]!;
      const p = v * w;
      const t = sums[s]! + p;
      if (p < TWO_53 && p > -TWO_53 && t < TWO_53 && t > -TWO_53) sums[s] = t;
      else this.#addExact(s, exactInteger(v, this.id) * exactInteger(w, this.id));
    }
  }

  /** Adds `v` to `slot` exactly: the path of a row whose sum leaves the double tier. */
  addRow(slot: number, v: number): void {
    this.#addExact(slot, exactInteger(v, this.id));
  }

  /** The exact sum of `slot`. */
  exact(slot: number): bigint {
    const v = this.values[slot]!;
    return v === v ? BigInt(v) : this.big.get(slot)!;
  }

  #addExact(slot: number, delta: bigint): void {
    let sum = this.exact(slot) + delta;
    if (sum > 9_223_372_036_854_775_807n || sum < -9_223_372_036_854_775_808n) {
      if (this.ansi) {
        throw new TidemarkError(
          'ERR_ARITHMETIC_OVERFLOW',
          `[ARITHMETIC_OVERFLOW] long overflow in ${this.id}. Use 'try_sum' to tolerate overflow and return NULL instead. If necessary set "spark.sql.ansi.enabled" to "false" to bypass this error.`,
        );
      }
      sum = BigInt.asIntN(64, sum);
    }
    this.#set(slot, sum);
  }

  #set(slot: number, sum: bigint): void {
    if (sum < 9_007_199_254_740_992n && sum > -9_007_199_254_740_992n) {
      this.values[slot] = Number(sum);
      this.big.delete(slot);
    } else {
      this.values[slot] = NaN;
      this.big.set(slot, sum);
    }
  }

  partialFields(): Field[] {
    return [
      { name: this.id, dataType: { type: 'long' }, nullable: false },
      { name: this.id + '#remainder', dataType: { type: 'long' }, nullable: false },
    ];
  }
  writePartial(slots: Int32Array, length: number): Column[] {
    const main = new Float64Array(length);
    const rest = new Float64Array(length);
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      const v = this.values[s]!;
      if (v === v) main[i] = v;
      else {
        const exact = this.big.get(s)!;
        main[i] = Number(exact);
        rest[i] = Number(exact - BigInt(main[i]!));
      }
    }
    return [f64Column(main, null), f64Column(rest, null)];
  }
  mergePartial(slots: Int32Array, length: number, columns: readonly Column[]): void {
    const main = expectKind(columns[0] ?? null, 'f64', this.id).values;
    const rest = expectKind(columns[1] ?? null, 'f64', this.id + '#remainder').values;
    const sums = this.values;
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s < 0) continue;
      const m = main[i]!;
      const r = rest[i]!;
      const t = sums[s]! + m;
      if (r === 0 && m < TWO_53 && m > -TWO_53 && t < TWO_53 && t > -TWO_53) sums[s] = t;
      else this.#addExact(s, exactInteger(m, this.id) + exactInteger(r, this.id));
    }
  }
  mergeSlots(target: number, source: number): void {
    this.#addExact(target, this.exact(source));
  }
  snapshot(slots: Int32Array, length: number): unknown {
    const big: Array<[number, string]> = [];
    for (let i = 0; i < length; i++) {
      const b = this.big.get(slots[i]!);
      if (b !== undefined) big.push([i, b.toString()]);
    }
    return { sums: gather(this.values, slots, length), big };
  }
  restore(data: unknown, slots: Int32Array, length: number): void {
    const d = data as { sums?: unknown; big?: unknown } | null;
    if (d === null || typeof d !== 'object') throw corrupt(this.id);
    const sums = unpackF64(d.sums, length, this.id);
    for (let i = 0; i < length; i++) {
      this.big.delete(slots[i]!);
      this.values[slots[i]!] = sums[i]!;
    }
    if (!Array.isArray(d.big)) throw corrupt(this.id);
    for (const entry of d.big as unknown[]) {
      if (!Array.isArray(entry) || !Number.isInteger(entry[0]) || entry[0] < 0 || entry[0] >= length || typeof entry[1] !== 'string' || !/^-?\d+$/.test(entry[1])) {
        throw corrupt(this.id);
      }
      this.#set(slots[entry[0] as number]!, BigInt(entry[1]));
    }
    // A NaN sum stands for an exact one: each must have come with its digits.
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (this.values[s] !== this.values[s] && !this.big.has(s)) throw corrupt(this.id);
    }
  }
  bytesUsed(): number {
    return this.values.byteLength + this.big.size * 48;
  }
}

function exactInteger(v: number, id: string): bigint {
  if (!Number.isInteger(v)) throw new TidemarkError('ERR_SCHEMA_MISMATCH', `${id}: ${v} is not an integer, but the column is integral`);
  return BigInt(v);
}

// ---------------------------------------------------------------------------------------------
// Decimal sums.

/**
 * `sum` and `avg`'s running sum of a decimal(p,s) column, exact: unscaled
 * `bigint`s at scale s. Spark keeps the sum as decimal(min(38,p+10),s) and a
 * sum that no longer fits that precision becomes null for good (the
 * aggregation buffer cannot hold it; `Sum`'s `isEmpty` tells it from "no
 * value"). tidemark marks such a slot overflowed the same way: its result is
 * null, or with `ansi` an `[ARITHMETIC_OVERFLOW]` error when the result is
 * written. Partial rows carry the sum as a decimal string, null once
 * overflowed.
 */
export class DecimalSumCell implements Cell {
  readonly id: string;
  sums: bigint[] = [];
  overflowed = new Uint8Array(0);

  constructor(
    column: string,
    readonly inputIndex: number,
    /** Scale of the input and of the sum. */
    readonly scale: number,
    /** Precision of the sum's type (Spark's `sumDataType`). */
    readonly precision: number,
  ) {
    this.id = `sum(${column})`;
  }

  grow(capacity: number): void {
    for (let i = this.sums.length; i < capacity; i++) this.sums.push(0n);
    const flags = new Uint8Array(capacity);
    flags.set(this.overflowed);
    this.overflowed = flags;
  }
  reset(slot: number): void {
    this.sums[slot] = 0n;
    this.overflowed[slot] = 0;
  }
  #add(slot: number, delta: bigint): void {
    if (this.overflowed[slot] === 1) return;
    const sum = this.sums[slot]! + delta;
    if (fitsPrecision(sum, this.precision)) this.sums[slot] = sum;
    else this.overflowed[slot] = 1;
  }
  accumulate(slots: Int32Array, length: number, column: Column | null, weights: Float64Array | null): void {
    const values = expectKind(column, 'any', this.id).values;
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      const v = values[i];
      if (s < 0 || v === null || v === undefined) continue;
      const unscaled = parseUnscaled(v, this.scale);
      this.#add(s, weights === null ? unscaled : unscaled * BigInt(weights[i]!));
    }
  }
  partialFields(): Field[] {
    return [{ name: this.id, dataType: { type: 'decimal', precision: this.precision, scale: this.scale }, nullable: true }];
  }
  writePartial(slots: Int32Array, length: number): Column[] {
    const values = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      values[i] = this.overflowed[s] === 1 ? null : formatUnscaled(this.sums[s]!, this.scale);
    }
    return [{ kind: 'any', values }];
  }
  mergePartial(slots: Int32Array, length: number, columns: readonly Column[]): void {
    const values = expectKind(columns[0] ?? null, 'any', this.id).values;
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s < 0) continue;
      const v = values[i];
      // A null partial sum is an overflowed one ("no value" is 0 with a count of 0).
      if (v === null || v === undefined) this.overflowed[s] = 1;
      else this.#add(s, parseUnscaled(v, this.scale));
    }
  }
  mergeSlots(target: number, source: number): void {
    if (this.overflowed[source] === 1) this.overflowed[target] = 1;
    else this.#add(target, this.sums[source]!);
  }
  snapshot(slots: Int32Array, length: number): unknown {
    return (this.writePartial(slots, length)[0] as { values: unknown[] }).values;
  }
  restore(data: unknown, slots: Int32Array, length: number): void {
    const values = arrayOf(data, length, this.id);
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      this.reset(s);
      const v = values[i];
      if (v === null) this.overflowed[s] = 1;
      else if (typeof v === 'string') this.sums[s] = parseUnscaled(v, this.scale);
      else throw corrupt(this.id);
    }
  }
  bytesUsed(): number {
    return this.sums.length * 24 + this.overflowed.byteLength;
  }
}

// ---------------------------------------------------------------------------------------------
// Minimum and maximum.

/**
 * `min`/`max` of numbers, dates, timestamps and booleans (0/1), in a
 * Float64Array, with Spark's order of doubles (`SQLOrderingUtil`): NaN is
 * above every other value and equal to itself, `-0.0` equals `0.0`. An
 * empty slot holds the identity of the comparison (−∞ for max, NaN for
 * min), which no value loses to, so no "seen" flag is read per row;
 * whether a slot saw a value is the column's non-null count.
 */
export class NumberExtremeCell implements Cell {
  readonly id: string;
  values: Float64Array = new Float64Array(0);
  readonly #empty: number;

  constructor(
    column: string,
    readonly inputIndex: number,
    readonly isMax: boolean,
    readonly dataType: DataType,
    readonly nonNull: NonNullCell,
  ) {
    this.id = `${isMax ? 'max' : 'min'}(${column})`;
    this.#empty = isMax ? -Infinity : NaN;
  }

  grow(capacity: number): void {
    this.values = grownF64(this.values, capacity, this.#empty);
  }
  reset(slot: number): void {
    this.values[slot] = this.#empty;
  }
  accumulate(slots: Int32Array, length: number, column: Column | null): void {
    if (column === null || (column.kind !== 'f64' && column.kind !== 'bool')) throw new TidemarkError('ERR_PROTOCOL', `${this.id}: expected a number or boolean column`);
    if (this.isMax) maxRows(this.values, slots, length, column.values, column.nulls);
    else minRows(this.values, slots, length, column.values, column.nulls);
  }
  partialFields(): Field[] {
    return [{ name: this.id, dataType: this.dataType, nullable: true }];
  }
  writePartial(slots: Int32Array, length: number): Column[] {
    return [this.#column(slots, length)];
  }
  /** The values of `slots`, null where the slot saw no value, as a column of the input's kind. */
  #column(slots: Int32Array, length: number): Column {
    const nulls = emptyMask(this.nonNull.values, slots, length);
    const values = gather(this.values, slots, length);
    if (nulls !== null) for (let i = 0; i < length; i++) if (nulls[i] === 1) values[i] = 0;
    if (this.dataType.type === 'boolean') return { kind: 'bool', values: Uint8Array.from(values), nulls };
    return f64Column(values, nulls);
  }
  mergePartial(slots: Int32Array, length: number, columns: readonly Column[]): void {
    this.accumulate(slots, length, columns[0] ?? null);
  }
  mergeSlots(target: number, source: number): void {
    const v = this.values[source]!;
    const c = this.values[target]!;
    if (this.isMax ? v > c || (v !== v && c === c) : v < c || (c !== c && v === v)) this.values[target] = v;
  }
  /** Result column: as the partial one. */
  result(slots: Int32Array, length: number): Column {
    return this.#column(slots, length);
  }
  snapshot(slots: Int32Array, length: number): unknown {
    return gather(this.values, slots, length);
  }
  restore(data: unknown, slots: Int32Array, length: number): void {
    const values = unpackF64(data, length, this.id);
    for (let i = 0; i < length; i++) this.values[slots[i]!] = values[i]!;
  }
  bytesUsed(): number {
    return this.values.byteLength;
  }
}

function maxRows(target: Float64Array, slots: Int32Array, length: number, values: ArrayLike<number>, nulls: Uint8Array | null): void {
  for (let i = 0; i < length; i++) {
    const s = slots[i]!;
    if (s < 0 || (nulls !== null && nulls[i] === 1)) continue;
    const v = values[i]!;
    const c = target[s]!;
    // Strictly greater (equal keeps the first); NaN above everything.
    if (v > c || (v !== v && c === c)) target[s] = v;
  }
}

function minRows(target: Float64Array, slots: Int32Array, length: number, values: ArrayLike<number>, nulls: Uint8Array | null): void {
  for (let i = 0; i < length; i++) {
    const s = slots[i]!;
    if (s < 0 || (nulls !== null && nulls[i] === 1)) continue;
    const v = values[i]!;
    const c = target[s]!;
    // Strictly less (equal keeps the first); the empty NaN loses to any number.
    if (v < c || (c !== c && v === v)) target[s] = v;
  }
}

/** Comparison of the values an {@link ObjectExtremeCell} keeps. */
interface ObjectOrder<T> {
  /** The value of row `i` of `column`, or null. */
  read(column: Column, i: number): T | null;
  compare(a: T, b: T): number;
  /** The partial/result column of `values` (null for empty). */
  column(values: ReadonlyArray<T | null>): Column;
  /** JSON form of a value, and back. */
  toJson(v: T): string;
  fromJson(v: string): T;
  /** Rough heap bytes of a value. */
  size(v: T): number;
}

/** `min`/`max` of strings (by UTF-8 bytes) and decimals (by value), one plain array entry per slot; null is empty. */
export class ObjectExtremeCell<T> implements Cell {
  readonly id: string;
  values: Array<T | null> = [];
  #bytes = 0;

  constructor(
    column: string,
    readonly inputIndex: number,
    readonly isMax: boolean,
    readonly dataType: DataType,
    readonly order: ObjectOrder<T>,
  ) {
    this.id = `${isMax ? 'max' : 'min'}(${column})`;
  }

  grow(capacity: number): void {
    for (let i = this.values.length; i < capacity; i++) this.values.push(null);
  }
  reset(slot: number): void {
    this.#put(slot, null);
  }
  #put(slot: number, v: T | null): void {
    const old = this.values[slot];
    if (old !== null && old !== undefined) this.#bytes -= this.order.size(old);
    if (v !== null) this.#bytes += this.order.size(v);
    this.values[slot] = v;
  }
  #offer(slot: number, v: T): void {
    const c = this.values[slot];
    if (c === null || c === undefined) this.#put(slot, v);
    else {
      const cmp = this.order.compare(v, c);
      if (this.isMax ? cmp > 0 : cmp < 0) this.#put(slot, v);
    }
  }
  accumulate(slots: Int32Array, length: number, column: Column | null): void {
    if (column === null) throw new TidemarkError('ERR_PROTOCOL', `${this.id}: no input column`);
    if (column.kind === 'dict') {
      // Strings: compare once per distinct (slot, id) run; ids repeat a lot.
      const ids = column.ids;
      const strings = column.dictionary.values;
      for (let i = 0; i < length; i++) {
        const s = slots[i]!;
        const id = ids[i]!;
        if (s < 0 || id < 0) continue;
        const v = strings[id]! as unknown as T;
        if (this.values[s] !== v) this.#offer(s, v);
      }
      return;
    }
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s < 0) continue;
      const v = this.order.read(column, i);
      if (v !== null) this.#offer(s, v);
    }
  }
  partialFields(): Field[] {
    return [{ name: this.id, dataType: this.dataType, nullable: true }];
  }
  writePartial(slots: Int32Array, length: number): Column[] {
    return [this.result(slots, length)];
  }
  result(slots: Int32Array, length: number): Column {
    const out = new Array<T | null>(length);
    for (let i = 0; i < length; i++) out[i] = this.values[slots[i]!] ?? null;
    return this.order.column(out);
  }
  mergePartial(slots: Int32Array, length: number, columns: readonly Column[]): void {
    this.accumulate(slots, length, columns[0] ?? null);
  }
  mergeSlots(target: number, source: number): void {
    const v = this.values[source];
    if (v !== null && v !== undefined) this.#offer(target, v);
  }
  snapshot(slots: Int32Array, length: number): unknown {
    const out = new Array<string | null>(length);
    for (let i = 0; i < length; i++) {
      const v = this.values[slots[i]!];
      out[i] = v === null || v === undefined ? null : this.order.toJson(v);
    }
    return out;
  }
  restore(data: unknown, slots: Int32Array, length: number): void {
    const values = arrayOf(data, length, this.id);
    for (let i = 0; i < length; i++) {
      const v = values[i];
      if (v !== null && typeof v !== 'string') throw corrupt(this.id);
      this.#put(slots[i]!, v === null ? null : this.order.fromJson(v));
    }
  }
  bytesUsed(): number {
    return this.values.length * 8 + this.#bytes;
  }
}

/** Strings in Spark's order (UTF-8 bytes); dict or `any` columns in, dict columns out. */
export const STRING_ORDER: ObjectOrder<string> = {
  read(column, i) {
    if (column.kind === 'dict') {
      const id = column.ids[i]!;
      return id < 0 ? null : column.dictionary.values[id]!;
    }
    if (column.kind === 'any') {
      const v = column.values[i];
      return v === null || v === undefined ? null : String(v);
    }
    throw new TidemarkError('ERR_PROTOCOL', `a string column must be dict or any, got ${column.kind}`);
  },
  compare: compareUtf8,
  column(values) {
    const dictionary = new StringDictionary();
    const ids = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      ids[i] = v === null || v === undefined ? -1 : dictionary.intern(v);
    }
    return { kind: 'dict', ids, dictionary };
  },
  toJson: (v) => v,
  fromJson: (v) => v,
  size: (v) => 16 + 2 * v.length,
};

/** Decimals of one scale by value, as unscaled bigints; plain strings in `any` columns in and out. */
export function decimalOrder(scale: number): ObjectOrder<bigint> {
  return {
    read(column, i) {
      if (column.kind !== 'any') throw new TidemarkError('ERR_PROTOCOL', `a decimal column must be any, got ${column.kind}`);
      const v = column.values[i];
      return v === null || v === undefined ? null : parseUnscaled(v, scale);
    },
    compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    column: (values) => ({ kind: 'any', values: values.map((v) => (v === null ? null : formatUnscaled(v, scale))) }),
    toJson: (v) => formatUnscaled(v, scale),
    fromJson: (v) => parseUnscaled(v, scale),
    size: () => 32,
  };
}

// ---------------------------------------------------------------------------------------------
// One pass per number column.

/**
 * The buffers of one number column updated in a single loop: its non-null
 * count, double sum, exact integral sum, minimum and maximum. Separate
 * loops would each wait on their own read-modify-write of the slot's entry
 * (rows of a group come in runs); one loop overlaps them, about halving the
 * cost of `count, avg(x), max(x)`; the first such pass also counts the
 * rows for `count`. Used for unweighted rows of an f64 column; everything
 * else takes the cells' own loops.
 */
export class NumberColumnPass {
  constructor(
    /** The row count, when this pass also counts the rows (one pass per batch does). */
    readonly rowCount: RowCountCell | null,
    readonly nonNull: NonNullCell,
    readonly doubleSum: DoubleSumCell | null,
    readonly longSum: LongSumCell | null,
    readonly min: NumberExtremeCell | null,
    readonly max: NumberExtremeCell | null,
  ) {}

  /** The cells this pass updates. */
  cells(): Cell[] {
    return [this.rowCount, this.nonNull, this.doubleSum, this.longSum, this.min, this.max].filter((c): c is NonNullable<typeof c> => c !== null);
  }

  run(slots: Int32Array, length: number, values: Float64Array, nulls: Uint8Array | null): void {
    const rows = this.rowCount === null ? null : this.rowCount.values;
    const counts = this.nonNull.values;
    const sums = this.doubleSum === null ? null : this.doubleSum.values;
    const longSum = this.longSum;
    const longs = longSum === null ? null : longSum.values;
    const mins = this.min === null ? null : this.min.values;
    const maxs = this.max === null ? null : this.max.values;
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s < 0) continue;
      if (rows !== null) rows[s]++;
      if (nulls !== null && nulls[i] === 1) continue;
      const v = values[i]!;
      counts[s]++;
      if (sums !== null) sums[s] += v;
      if (longs !== null) {
        const t = longs[s]! + v;
        if (t < TWO_53 && t > -TWO_53) longs[s] = t;
        else longSum!.addRow(s, v);
      }
      if (maxs !== null) {
        const c = maxs[s]!;
        if (v > c || (v !== v && c === c)) maxs[s] = v;
      }
      if (mins !== null) {
        const c = mins[s]!;
        if (v < c || (c !== c && v === v)) mins[s] = v;
      }
    }
  }
}

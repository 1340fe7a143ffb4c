/**
 * Columnar record batches: what moves between stages.
 *
 * A {@link RecordBatch} holds `length` rows of a {@link Schema} as one column
 * per field. Numeric, date and timestamp columns are `Float64Array`s
 * (timestamps in **microseconds** since the epoch, dates in days), strings are
 * ids into a {@link StringDictionary} that a producer shares across the batches
 * it emits, so downstream stages can key dense arrays by id and never hash a
 * string per row. Structs (the `window` column) are columns of columns.
 *
 * Users' own stages do not need any of this: {@link RecordBatch.rows} gives a
 * row view (`{ time: 1469504400000, action: 'Open' }`, timestamps as epoch
 * milliseconds) and {@link RecordBatch.fromRows} builds a batch back.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { DataType, Field, Schema } from './schema.js';

/**
 * Append-only string ↔ id table. Ids are stable for the dictionary's life,
 * so a consumer may cache a translation keyed by the dictionary object.
 * Producers start a new dictionary when one grows past their limit, which
 * keeps memory bounded on high-cardinality columns.
 */
export class StringDictionary {
  /** `values[id]` is the string of `id`. */
  readonly values: string[] = [];
  readonly #ids = new Map<string, number>();

  /** The id of `value`, adding it when new. */
  intern(value: string): number {
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.#ids.set(value, id);
    }
    return id;
  }

  /** The id of `value`, or -1 when it was never interned. */
  lookup(value: string): number {
    return this.#ids.get(value) ?? -1;
  }

  /** Number of distinct strings. */
  get size(): number {
    return this.values.length;
  }
}

/** Numbers, dates (days) and timestamps (µs). `nulls[i] === 1` marks a null; `nulls` is null when no row is null. */
export interface Float64Column {
  readonly kind: 'f64';
  readonly values: Float64Array;
  readonly nulls: Uint8Array | null;
}

/** Strings as dictionary ids; id -1 is null. */
export interface DictColumn {
  readonly kind: 'dict';
  readonly ids: Int32Array;
  readonly dictionary: StringDictionary;
}

/** Booleans as 0/1. */
export interface BoolColumn {
  readonly kind: 'bool';
  readonly values: Uint8Array;
  readonly nulls: Uint8Array | null;
}

/** A struct: one child column per struct field. */
export interface StructColumn {
  readonly kind: 'struct';
  readonly children: readonly Column[];
  readonly nulls: Uint8Array | null;
}

/** Anything else (decimal as string, binary, array, map), as row values; `null` is null. */
export interface AnyColumn {
  readonly kind: 'any';
  readonly values: unknown[];
}

/** One column of a batch. Arrays may be longer than the batch: only the first `length` entries count. */
export type Column = Float64Column | DictColumn | BoolColumn | StructColumn | AnyColumn;

/** A row as users' own stages see it. */
export type Row = Record<string, unknown>;

const US_PER_MS = 1000;
const MS_PER_DAY = 86_400_000;

/** Which column kind stores a type. */
export function columnKindOf(t: DataType): Column['kind'] {
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
      return 'f64';
    case 'string':
      return 'dict';
    case 'boolean':
      return 'bool';
    case 'struct':
      return 'struct';
    default:
      return 'any';
  }
}

/** True when row `i` of `column` is null. */
export function isNullAt(column: Column, i: number): boolean {
  switch (column.kind) {
    case 'dict':
      return column.ids[i]! < 0;
    case 'any':
      return column.values[i] === null || column.values[i] === undefined;
    default:
      return column.nulls !== null && column.nulls[i] === 1;
  }
}

/**
 * The storage value of row `i`: the number of an f64 column (µs for
 * timestamps), the string of a dict column, the boolean of a bool column, an
 * array of child storage values for a struct, the value of an any column;
 * null for null. Lossless, unlike the row view, and cheap to compare.
 */
export function rawValueAt(column: Column, i: number): unknown {
  switch (column.kind) {
    case 'f64':
      return column.nulls !== null && column.nulls[i] === 1 ? null : column.values[i]!;
    case 'dict': {
      const id = column.ids[i]!;
      return id < 0 ? null : column.dictionary.values[id]!;
    }
    case 'bool':
      return column.nulls !== null && column.nulls[i] === 1 ? null : column.values[i] === 1;
    case 'struct':
      return column.nulls !== null && column.nulls[i] === 1 ? null : column.children.map((c) => rawValueAt(c, i));
    case 'any': {
      const v = column.values[i];
      return v === undefined ? null : v;
    }
  }
}

/** The row-view value of row `i` of a column of type `t`. */
export function valueAt(column: Column, t: DataType, i: number): unknown {
  switch (column.kind) {
    case 'f64': {
      if (column.nulls !== null && column.nulls[i] === 1) return null;
      const v = column.values[i]!;
      if (t.type === 'timestamp' || t.type === 'timestamp_ntz') return v / US_PER_MS;
      if (t.type === 'date') return new Date(v * MS_PER_DAY).toISOString().slice(0, 10);
      return v;
    }
    case 'dict': {
      const id = column.ids[i]!;
      return id < 0 ? null : column.dictionary.values[id]!;
    }
    case 'bool':
      return column.nulls !== null && column.nulls[i] === 1 ? null : column.values[i] === 1;
    case 'struct': {
      if (column.nulls !== null && column.nulls[i] === 1) return null;
      if (t.type !== 'struct') throw new TidemarkError('ERR_PROTOCOL', 'struct column with a non-struct type');
      const out: Row = {};
      for (let c = 0; c < t.fields.length; c++) out[t.fields[c]!.name] = valueAt(column.children[c]!, t.fields[c]!.dataType, i);
      return out;
    }
    case 'any': {
      const v = column.values[i];
      return v === undefined ? null : v;
    }
  }
}

/**
 * A batch of rows in columns. Immutable by convention: stages build new
 * batches rather than writing into one they received.
 */
export class RecordBatch {
  constructor(
    /** Column names and types, in order. */
    readonly schema: Schema,
    /** One column per schema field. */
    readonly columns: readonly Column[],
    /** Number of rows. */
    readonly length: number,
  ) {
    if (columns.length !== schema.fields.length) {
      throw new TidemarkError('ERR_PROTOCOL', `a batch needs ${schema.fields.length} columns, got ${columns.length}`);
    }
  }

  /** The column named `name`, or undefined. */
  column(name: string): Column | undefined {
    const i = this.schema.fields.findIndex((f) => f.name === name);
    return i < 0 ? undefined : this.columns[i];
  }

  /** Row `i` as a plain object. */
  row(i: number): Row {
    const out: Row = {};
    const fields = this.schema.fields;
    for (let c = 0; c < fields.length; c++) out[fields[c]!.name] = valueAt(this.columns[c]!, fields[c]!.dataType, i);
    return out;
  }

  /** All rows as plain objects (allocates: meant for users' stages, tests and sinks that print). */
  rows(): Row[] {
    const out = new Array<Row>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.row(i);
    return out;
  }

  /** A batch of the rows at `indices[0..count)`, in that order (used to expand sliding windows and to filter). */
  take(indices: Int32Array, count: number): RecordBatch {
    return new RecordBatch(
      this.schema,
      this.columns.map((c) => takeColumn(c, indices, count)),
      count,
    );
  }

  /** This batch with one more column appended. */
  withColumn(f: Field, column: Column): RecordBatch {
    return new RecordBatch({ fields: [...this.schema.fields, f] }, [...this.columns, column], this.length);
  }

  /** This batch under another schema of the same column layout (e.g. with new metadata). */
  withSchema(s: Schema): RecordBatch {
    return new RecordBatch(s, this.columns, this.length);
  }

  /**
   * Builds a batch from row objects. Timestamps may be epoch milliseconds
   * (number), `Date`s or epoch microseconds (`bigint`); dates `'YYYY-MM-DD'`
   * strings or `Date`s; missing properties are null.
   */
  static fromRows(s: Schema, rows: readonly Row[]): RecordBatch {
    const builder = new BatchBuilder(s, rows.length);
    for (const r of rows) builder.appendRow(r);
    return builder.finish();
  }

  /** An empty batch of schema `s`. */
  static empty(s: Schema): RecordBatch {
    return new BatchBuilder(s, 0).finish();
  }
}

function takeNulls(nulls: Uint8Array | null, indices: Int32Array, count: number): Uint8Array | null {
  if (nulls === null) return null;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = nulls[indices[i]!]!;
  return out;
}

/** The rows at `indices[0..count)` of a column, in that order. */
export function takeColumn(c: Column, indices: Int32Array, count: number): Column {
  switch (c.kind) {
    case 'f64': {
      const values = new Float64Array(count);
      for (let i = 0; i < count; i++) values[i] = c.values[indices[i]!]!;
      return { kind: 'f64', values, nulls: takeNulls(c.nulls, indices, count) };
    }
    case 'dict': {
      const ids = new Int32Array(count);
      for (let i = 0; i < count; i++) ids[i] = c.ids[indices[i]!]!;
      return { kind: 'dict', ids, dictionary: c.dictionary };
    }
    case 'bool': {
      const values = new Uint8Array(count);
      for (let i = 0; i < count; i++) values[i] = c.values[indices[i]!]!;
      return { kind: 'bool', values, nulls: takeNulls(c.nulls, indices, count) };
    }
    case 'struct':
      return { kind: 'struct', children: c.children.map((k) => takeColumn(k, indices, count)), nulls: takeNulls(c.nulls, indices, count) };
    case 'any': {
      const values = new Array<unknown>(count);
      for (let i = 0; i < count; i++) values[i] = c.values[indices[i]!];
      return { kind: 'any', values };
    }
  }
}

/** Converts a row-view timestamp to epoch µs, or throws. */
export function timestampToUs(value: unknown, column: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TidemarkError('ERR_SCHEMA_MISMATCH', `column ${column}: timestamp ${value} is not finite`);
    return Math.round(value * US_PER_MS);
  }
  if (value instanceof Date) return value.getTime() * US_PER_MS;
  if (typeof value === 'bigint') return Number(value);
  throw new TidemarkError(
    'ERR_SCHEMA_MISMATCH',
    `column ${column}: a timestamp must be epoch milliseconds (number), a Date or epoch microseconds (bigint), got ${JSON.stringify(value)}`,
  );
}

function dateToDays(value: unknown, column: string): number {
  if (value instanceof Date) return Math.floor(value.getTime() / MS_PER_DAY);
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return Math.floor(Date.parse(value + 'T00:00:00Z') / MS_PER_DAY);
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new TidemarkError('ERR_SCHEMA_MISMATCH', `column ${column}: a date must be 'YYYY-MM-DD', a Date or days since the epoch, got ${JSON.stringify(value)}`);
}

/** Grows a column value by value; {@link BatchBuilder} holds one per field. */
export class ColumnBuilder {
  readonly kind: Column['kind'];
  #length = 0;
  #f64: Float64Array;
  #u8: Uint8Array;
  #ids: Int32Array;
  #nulls: Uint8Array | null = null;
  #any: unknown[] = [];
  readonly #children: ColumnBuilder[];

  constructor(
    readonly field: Field,
    capacity: number,
    /** Dictionary to intern strings into; shared across batches by the caller. */
    readonly dictionary: StringDictionary = new StringDictionary(),
  ) {
    this.kind = columnKindOf(field.dataType);
    const cap = Math.max(capacity, 8);
    this.#f64 = this.kind === 'f64' ? new Float64Array(cap) : EMPTY_F64;
    this.#u8 = this.kind === 'bool' ? new Uint8Array(cap) : EMPTY_U8;
    this.#ids = this.kind === 'dict' ? new Int32Array(cap) : EMPTY_I32;
    const t = field.dataType;
    this.#children = t.type === 'struct' ? t.fields.map((f) => new ColumnBuilder(f, capacity)) : [];
  }

  /** Rows appended so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * Empties the builder and keeps its arrays, for a caller that is done with
   * every batch it finished (they share those arrays).
   */
  reset(): void {
    this.#length = 0;
    this.#nulls = null;
    this.#any = [];
    for (const child of this.#children) child.reset();
  }

  #grow(): void {
    const cap = this.#length * 2 + 8;
    if (this.kind === 'f64') this.#f64 = copyF64(this.#f64, cap);
    if (this.kind === 'bool') this.#u8 = copyU8(this.#u8, cap);
    if (this.kind === 'dict') this.#ids = copyI32(this.#ids, cap);
    if (this.#nulls !== null) this.#nulls = copyU8(this.#nulls, cap);
  }

  #capacity(): number {
    return this.kind === 'f64' ? this.#f64.length : this.kind === 'bool' ? this.#u8.length : this.kind === 'dict' ? this.#ids.length : Infinity;
  }

  #markNull(i: number): void {
    if (this.#nulls === null) this.#nulls = new Uint8Array(Math.max(this.#capacity() === Infinity ? 8 : this.#capacity(), i + 1));
    else if (this.#nulls.length <= i) this.#nulls = copyU8(this.#nulls, Math.max(i + 1, this.#nulls.length * 2));
    this.#nulls[i] = 1;
  }

  /** Appends a null. */
  appendNull(): void {
    if (this.#length >= this.#capacity()) this.#grow();
    const i = this.#length++;
    switch (this.kind) {
      case 'dict':
        this.#ids[i] = -1;
        return;
      case 'any':
        this.#any.push(null);
        return;
      case 'struct':
        for (const c of this.#children) c.appendNull();
        this.#markNull(i);
        return;
      default:
        this.#markNull(i);
    }
  }

  /** Appends a number to an f64 column (timestamps in µs, dates in days). */
  appendNumber(value: number): void {
    if (this.#length >= this.#f64.length) this.#grow();
    this.#f64[this.#length++] = value;
  }

  /** Appends a string to a dict column. */
  appendString(value: string): void {
    if (this.#length >= this.#ids.length) this.#grow();
    this.#ids[this.#length++] = this.dictionary.intern(value);
  }

  /** Appends the id of a string already interned in this column's dictionary. */
  appendDictId(id: number): void {
    if (this.#length >= this.#ids.length) this.#grow();
    this.#ids[this.#length++] = id;
  }

  /** Appends a boolean to a bool column. */
  appendBoolean(value: boolean): void {
    if (this.#length >= this.#u8.length) this.#grow();
    this.#u8[this.#length++] = value ? 1 : 0;
  }

  /** Appends a storage value as {@link rawValueAt} returns it. */
  appendRaw(value: unknown): void {
    if (value === null || value === undefined) return this.appendNull();
    switch (this.kind) {
      case 'f64':
        return this.appendNumber(value as number);
      case 'dict':
        return this.appendString(value as string);
      case 'bool':
        return this.appendBoolean(value as boolean);
      case 'struct': {
        if (this.#length >= this.#capacity()) this.#grow();
        this.#length++;
        const parts = value as unknown[];
        for (let c = 0; c < this.#children.length; c++) this.#children[c]!.appendRaw(parts[c]);
        return;
      }
      case 'any':
        this.#length++;
        this.#any.push(value);
        return;
    }
  }

  /** Appends a row-view value (see {@link RecordBatch.fromRows} for the conventions). */
  appendValue(value: unknown): void {
    if (value === null || value === undefined) return this.appendNull();
    const name = this.field.name;
    const t = this.field.dataType;
    switch (this.kind) {
      case 'f64':
        if (t.type === 'timestamp' || t.type === 'timestamp_ntz') return this.appendNumber(timestampToUs(value, name));
        if (t.type === 'date') return this.appendNumber(dateToDays(value, name));
        if (typeof value !== 'number') throw new TidemarkError('ERR_SCHEMA_MISMATCH', `column ${name}: expected a number, got ${JSON.stringify(value)}`);
        return this.appendNumber(value);
      case 'dict':
        return this.appendString(typeof value === 'string' ? value : JSON.stringify(value));
      case 'bool':
        if (typeof value !== 'boolean') throw new TidemarkError('ERR_SCHEMA_MISMATCH', `column ${name}: expected a boolean, got ${JSON.stringify(value)}`);
        return this.appendBoolean(value);
      case 'struct': {
        if (t.type !== 'struct' || typeof value !== 'object') {
          throw new TidemarkError('ERR_SCHEMA_MISMATCH', `column ${name}: expected an object, got ${JSON.stringify(value)}`);
        }
        if (this.#length >= this.#capacity()) this.#grow();
        this.#length++;
        const obj = value as Row;
        for (let c = 0; c < t.fields.length; c++) this.#children[c]!.appendValue(obj[t.fields[c]!.name]);
        return;
      }
      case 'any':
        this.#length++;
        this.#any.push(value);
        return;
    }
  }

  /** The column of the values appended so far; the builder must not be used afterwards. */
  finish(): Column {
    const n = this.#length;
    const nulls = this.#nulls === null ? null : this.#nulls.length === n ? this.#nulls : copyU8(this.#nulls, n);
    switch (this.kind) {
      case 'f64':
        return { kind: 'f64', values: this.#f64.subarray(0, n), nulls };
      case 'dict':
        return { kind: 'dict', ids: this.#ids.subarray(0, n), dictionary: this.dictionary };
      case 'bool':
        return { kind: 'bool', values: this.#u8.subarray(0, n), nulls };
      case 'struct':
        return { kind: 'struct', children: this.#children.map((c) => c.finish()), nulls };
      case 'any':
        return { kind: 'any', values: this.#any };
    }
  }
}

const EMPTY_F64 = new Float64Array(0);
const EMPTY_U8 = new Uint8Array(0);
const EMPTY_I32 = new Int32Array(0);

function copyF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
function copyU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
function copyI32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}

/** Builds a {@link RecordBatch} row by row or column by column. */
export class BatchBuilder {
  /** One builder per schema field. */
  readonly columns: ColumnBuilder[];
  #rows = 0;

  constructor(
    readonly schema: Schema,
    capacity = 1024,
    /** Dictionaries to reuse per field index (strings keep their ids across batches). */
    dictionaries: ReadonlyArray<StringDictionary | undefined> = [],
  ) {
    this.columns = schema.fields.map((f, i) => new ColumnBuilder(f, capacity, dictionaries[i] ?? new StringDictionary()));
  }

  /** Rows appended so far (through {@link BatchBuilder.appendRow} or {@link BatchBuilder.endRow}). */
  get length(): number {
    return this.#rows;
  }

  /** Appends one row object. */
  appendRow(row: Row): void {
    const fields = this.schema.fields;
    for (let c = 0; c < fields.length; c++) this.columns[c]!.appendValue(row[fields[c]!.name]);
    this.#rows++;
  }

  /** Counts a row whose columns were appended one by one. */
  endRow(): void {
    this.#rows++;
  }

  /** Empties the builder and keeps its arrays (see {@link ColumnBuilder.reset}). */
  reset(): void {
    this.#rows = 0;
    for (const column of this.columns) column.reset();
  }

  /** The batch; the builder must not be used afterwards. */
  finish(): RecordBatch {
    return new RecordBatch(this.schema, this.columns.map((c) => c.finish()), this.#rows);
  }
}

/**
 * What a notebook prints: `spark.read.json(dir)`'s schema inference
 * (`JsonInferSchema`) and `Dataset.show()`'s table (`showString`), so the
 * CLI can print a sink's output exactly as the Spark notebook shows it.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { javaDoubleToString, javaFloatToString } from './java-number.js';
import { convertJsonRecord } from './json-convert.js';
import type { DataType, Field, Schema } from './schema.js';
import { defaultTimeZone, formatDateDays, formatTimestampShow } from './timestamp.js';

/** Spark's default `columnNameOfCorruptRecord`. */
const CORRUPT_RECORD = '_corrupt_record';
const MAX_DECIMAL_PRECISION = 38;

// ---------------------------------------------------------------------------
// Schema inference.

/** Inference-time types: Spark's, plus NullType (a value seen only as null or ""). */
type InferredType =
  | { readonly k: 'null' }
  | { readonly k: 'string' }
  | { readonly k: 'long' }
  | { readonly k: 'double' }
  | { readonly k: 'boolean' }
  | { readonly k: 'decimal'; readonly p: number; readonly s: number }
  | { readonly k: 'array'; readonly e: InferredType }
  | { readonly k: 'struct'; readonly f: readonly InferredField[] };

interface InferredField {
  readonly name: string;
  readonly t: InferredType;
}

const NULL_T: InferredType = { k: 'null' };
const STRING_T: InferredType = { k: 'string' };
const LONG_T: InferredType = { k: 'long' };
const DOUBLE_T: InferredType = { k: 'double' };
const BOOLEAN_T: InferredType = { k: 'boolean' };
const LONG_AS_DECIMAL: InferredType = { k: 'decimal', p: 20, s: 0 };

const LONG_MIN = -9_223_372_036_854_775_808;
const LONG_LIMIT = 9_223_372_036_854_775_808;

/** Java `String.compareTo` order (UTF-16 code units), which Spark sorts struct fields by. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function inferField(v: unknown): InferredType {
  if (v === null || v === undefined) return NULL_T;
  switch (typeof v) {
    case 'string':
      // Empty strings count as null until all records are merged (Spark: JSON
      // generators that do not distinguish the two).
      return v.length === 0 ? NULL_T : STRING_T;
    case 'boolean':
      return BOOLEAN_T;
    case 'number': {
      if (!Number.isInteger(v)) return DOUBLE_T;
      if (v >= LONG_MIN && v < LONG_LIMIT) return LONG_T;
      // BigInteger token: DECIMAL(digits, 0) when it fits, else DOUBLE.
      const digits = BigInt(v).toString().replace('-', '').length;
      return digits <= MAX_DECIMAL_PRECISION ? { k: 'decimal', p: digits, s: 0 } : DOUBLE_T;
    }
    case 'object': {
      if (Array.isArray(v)) {
        let e: InferredType = NULL_T;
        for (const x of v) e = compatibleType(e, inferField(x));
        return { k: 'array', e };
      }
      const fields: InferredField[] = [];
      for (const name of Object.keys(v)) fields.push({ name, t: inferField((v as Record<string, unknown>)[name]) });
      fields.sort((a, b) => compareNames(a.name, b.name));
      return { k: 'struct', f: fields };
    }
    default:
      return STRING_T;
  }
}

function isNumeric(t: InferredType): boolean {
  return t.k === 'long' || t.k === 'double' || t.k === 'decimal';
}

function mergeDecimals(a: { p: number; s: number }, b: { p: number; s: number }): InferredType {
  const scale = Math.max(a.s, b.s);
  const range = Math.max(a.p - a.s, b.p - b.s);
  return range + scale > MAX_DECIMAL_PRECISION ? DOUBLE_T : { k: 'decimal', p: range + scale, s: scale };
}

/** `JsonInferSchema.compatibleType`: the most general type of two. */
function compatibleType(a: InferredType, b: InferredType): InferredType {
  if (a.k === 'null') return b;
  if (b.k === 'null') return a;
  if (a.k === b.k) {
    switch (a.k) {
      case 'decimal': {
        const bd = b as { p: number; s: number };
        return a.p === bd.p && a.s === bd.s ? a : mergeDecimals(a, bd);
      }
      case 'array':
        return { k: 'array', e: compatibleType(a.e, (b as { e: InferredType }).e) };
      case 'struct':
        return mergeStructs(a.f, (b as { f: readonly InferredField[] }).f);
      default:
        return a;
    }
  }
  if (isNumeric(a) && isNumeric(b)) {
    if (a.k === 'double' || b.k === 'double') return DOUBLE_T;
    // long with decimal: the decimal if it holds any long, else widen both.
    const d = (a.k === 'decimal' ? a : b) as { p: number; s: number };
    if (d.p - d.s >= 20) return d as InferredType;
    return mergeDecimals(LONG_AS_DECIMAL as { p: number; s: number }, d);
  }
  return STRING_T;
}

function mergeStructs(f1: readonly InferredField[], f2: readonly InferredField[]): InferredType {
  const out: InferredField[] = [];
  let i = 0;
  let j = 0;
  while (i < f1.length && j < f2.length) {
    const c = compareNames(f1[i]!.name, f2[j]!.name);
    if (c === 0) {
      out.push({ name: f1[i]!.name, t: compatibleType(f1[i]!.t, f2[j]!.t) });
      i++;
      j++;
    } else if (c < 0) {
      out.push(f1[i++]!);
    } else {
      out.push(f2[j++]!);
    }
  }
  while (i < f1.length) out.push(f1[i++]!);
  while (j < f2.length) out.push(f2[j++]!);
  return { k: 'struct', f: out };
}

function withCorruptField(struct: { f: readonly InferredField[] }): InferredType {
  if (struct.f.some((f) => f.name === CORRUPT_RECORD)) return struct as InferredType;
  const fields = [{ name: CORRUPT_RECORD, t: STRING_T }, ...struct.f];
  fields.sort((a, b) => compareNames(a.name, b.name));
  return { k: 'struct', f: fields };
}

/** `JsonInferSchema.compatibleRootType` (PERMISSIVE): top-level arrays unwrapped, non-objects add `_corrupt_record`. */
function compatibleRootType(a: InferredType, b: InferredType): InferredType {
  if (a.k === 'array') return compatibleRootType(a.e, b);
  if (b.k === 'array') return compatibleRootType(a, b.e);
  if (a.k === 'struct' && b.k === 'null') return a;
  if (a.k === 'null' && b.k === 'struct') return b;
  if (a.k === 'struct' && b.k !== 'struct') return withCorruptField(a);
  if (b.k === 'struct' && a.k !== 'struct') return withCorruptField(b);
  return compatibleType(a, b);
}

/** `canonicalizeType`: null-only → string, empty structs and unnamed fields dropped (undefined = drop). */
function canonicalize(t: InferredType): DataType | undefined {
  switch (t.k) {
    case 'null':
    case 'string':
      return { type: 'string' };
    case 'long':
      return { type: 'long' };
    case 'double':
      return { type: 'double' };
    case 'boolean':
      return { type: 'boolean' };
    case 'decimal':
      return { type: 'decimal', precision: t.p, scale: t.s };
    case 'array': {
      const e = canonicalize(t.e);
      return e === undefined ? undefined : { type: 'array', elementType: e, containsNull: true };
    }
    case 'struct': {
      const fields: Field[] = [];
      for (const f of t.f) {
        if (f.name.length === 0) continue;
        const dataType = canonicalize(f.t);
        if (dataType !== undefined) fields.push({ name: f.name, dataType, nullable: true });
      }
      return fields.length === 0 ? undefined : { type: 'struct', fields };
    }
  }
}

/**
 * The schema `spark.read.json` infers from parsed JSON records, so the CLI
 * can read a sink's output back as a notebook does: struct fields sorted by
 * name at every level, integers → BIGINT, other numbers → DOUBLE, strings
 * stay STRING (no timestamp inference), values seen only as null or `""` →
 * STRING, conflicts widen (BIGINT + DOUBLE → DOUBLE) or fall back to STRING,
 * top-level arrays contribute their elements, non-object records add a
 * `_corrupt_record` column. Integral float tokens (`1.0`) are indistinguishable
 * from integers after `JSON.parse` and infer as BIGINT (Spark: DOUBLE):
 * {@link inferJsonLinesSchema} reads the text and keeps them apart.
 *
 * @throws TidemarkError `ERR_UNABLE_TO_INFER_SCHEMA` when there is no record.
 */
export function inferJsonSchema(records: Iterable<unknown>): Schema {
  return schemaOfTypes(mapIterable(records, inferField));
}

/**
 * The schema `spark.read.json` infers from JSON lines, from their text as
 * Jackson's tokens give it: a number written with a fraction or an exponent
 * (`20.0`, `1.0E10`) is a DOUBLE even when its value is whole, as in Spark —
 * so a sink's `avg(temperature)` of `20.0` reads back as a double and
 * `show()` prints `20.0`, not `20`. Integers beyond BIGINT are DECIMAL by
 * their exact digits. A line that is not JSON is a record with only a
 * `_corrupt_record` string (PERMISSIVE). Otherwise as {@link inferJsonSchema}.
 *
 * @throws TidemarkError `ERR_UNABLE_TO_INFER_SCHEMA` when there is no line.
 */
export function inferJsonLinesSchema(lines: Iterable<string>): Schema {
  return schemaOfTypes(mapIterable(lines, inferJsonText));
}

function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Iterable<U> {
  for (const item of items) yield f(item);
}

const CORRUPT_LINE_T: InferredType = { k: 'struct', f: [{ name: CORRUPT_RECORD, t: STRING_T }] };
const LONG_MIN_BIG = -(2n ** 63n);
const LONG_LIMIT_BIG = 2n ** 63n;

// The type of one JSON line, from its tokens; a line JSON.parse refuses is a corrupt record.
function inferJsonText(text: string): InferredType {
  try {
    JSON.parse(text);
  } catch {
    return CORRUPT_LINE_T;
  }
  // Valid JSON from here on: the scan below need not check its syntax.
  let i = 0;
  const space = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): InferredType => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      // Duplicate keys: the last value, at the first one's place (what JSON.parse gives inferField).
      const fields = new Map<string, InferredType>();
      space();
      if (text[i] === '}') i++;
      else {
        for (;;) {
          space();
          const name = string();
          space();
          i++; // ':'
          fields.set(name, value());
          space();
          if (text[i++] === '}') break; // else ','
        }
      }
      const f = [...fields].map(([name, t]) => ({ name, t }));
      f.sort((a, b) => compareNames(a.name, b.name));
      return { k: 'struct', f };
    }
    if (c === '[') {
      i++;
      let e: InferredType = NULL_T;
      space();
      if (text[i] === ']') i++;
      else {
        for (;;) {
          e = compatibleType(e, value());
          space();
          if (text[i++] === ']') break;
        }
      }
      return { k: 'array', e };
    }
    if (c === '"') return string().length === 0 ? NULL_T : STRING_T;
    if (c === 't') return (i += 4), BOOLEAN_T;
    if (c === 'f') return (i += 5), BOOLEAN_T;
    if (c === 'n') return (i += 4), NULL_T;
    const start = i;
    while (i < text.length && '+-0123456789.eE'.includes(text[i]!)) i++;
    const token = text.slice(start, i);
    // Jackson's VALUE_NUMBER_FLOAT: Spark infers DOUBLE (prefersDecimal is off).
    if (/[.eE]/.test(token)) return DOUBLE_T;
    const n = BigInt(token);
    if (n >= LONG_MIN_BIG && n < LONG_LIMIT_BIG) return LONG_T;
    const digits = token.replace('-', '').length;
    return digits <= MAX_DECIMAL_PRECISION ? { k: 'decimal', p: digits, s: 0 } : DOUBLE_T;
  };
  return value();
}

function schemaOfTypes(types: Iterable<InferredType>): Schema {
  let root: InferredType = { k: 'struct', f: [] };
  let seen = false;
  for (const type of types) {
    seen = true;
    root = compatibleRootType(root, type);
  }
  if (!seen) {
    throw new TidemarkError('ERR_UNABLE_TO_INFER_SCHEMA', '[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for JSON. It must be specified manually.');
  }
  const t = canonicalize(root);
  return { fields: t !== undefined && t.type === 'struct' ? t.fields : [] };
}

/**
 * Parsed JSON records read under `schema` as the JSON reader does (PERMISSIVE):
 * rows of row-view values in schema order, structs as objects keyed in schema
 * order, one row per element of a top-level array of objects. A
 * `_corrupt_record` string column receives the malformed record, re-serialised
 * with `JSON.stringify` since the raw line is not at hand.
 */
export function jsonRecordsToRows(schema: Schema, records: Iterable<unknown>, options: { timeZone?: string } = {}): unknown[][] {
  const timeZone = options.timeZone ?? defaultTimeZone();
  const corrupt = schema.fields.findIndex((f) => f.name === CORRUPT_RECORD && f.dataType.type === 'string');
  const parseSchema: Schema = corrupt < 0 ? schema : { fields: schema.fields.filter((_, i) => i !== corrupt) };
  const rows: unknown[][] = [];
  const toRow = (values: unknown[], bad: unknown): unknown[] => {
    if (corrupt < 0) return values;
    const row = values.slice(0, corrupt);
    row.push(bad === undefined ? null : JSON.stringify(bad));
    for (let i = corrupt; i < values.length; i++) row.push(values[i]);
    return row;
  };
  for (const record of records) {
    if (Array.isArray(record)) {
      if (!record.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e))) {
        rows.push(toRow(new Array<unknown>(parseSchema.fields.length).fill(null), record));
        continue;
      }
      const converted = record.map((e) => convertJsonRecord(parseSchema, e, { timeZone }));
      const bad = converted.some((c) => c.failedField !== null) ? record : undefined;
      for (const c of converted) rows.push(toRow(c.values, bad));
      continue;
    }
    const c = convertJsonRecord(parseSchema, record, { timeZone });
    rows.push(toRow(c.values, c.failedField === null ? undefined : record));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// show().

function integerString(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) >= 1e21) return BigInt(v).toString();
  return String(v);
}

function timestampUs(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime() * 1000;
  return Math.round((v as number) * 1000);
}

function binaryString(v: unknown): string {
  const bytes = v instanceof Uint8Array ? v : new Uint8Array(0);
  let out = '[';
  for (let i = 0; i < bytes.length; i++) out += (i === 0 ? '' : ' ') + bytes[i]!.toString(16).toUpperCase().padStart(2, '0');
  return out + ']';
}

/** `ToPrettyString`: a non-null value of type `t` as `show()` prints it. */
function cellString(v: unknown, t: DataType, timeZone: string): string {
  if (v === null || v === undefined) return 'NULL';
  switch (t.type) {
    case 'string':
      return typeof v === 'string' ? v : String(v);
    case 'byte':
    case 'short':
    case 'int':
    case 'long':
      return integerString(v);
    case 'double':
      return javaDoubleToString(Number(v));
    case 'float':
      return javaFloatToString(Number(v));
    case 'boolean':
      return v ? 'true' : 'false';
    case 'decimal':
      return String(v);
    case 'date':
      if (typeof v === 'number') return formatDateDays(v);
      if (v instanceof Date) return formatDateDays(Math.floor(v.getTime() / 86_400_000));
      return String(v);
    case 'timestamp':
      return formatTimestampShow(timestampUs(v), timeZone);
    case 'timestamp_ntz':
      return formatTimestampShow(timestampUs(v), 'UTC');
    case 'binary':
      return binaryString(v);
    case 'array': {
      const items = v as readonly unknown[];
      let out = '[';
      for (let i = 0; i < items.length; i++) out += (i === 0 ? '' : ', ') + cellString(items[i], t.elementType, timeZone);
      return out + ']';
    }
    case 'map': {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
      let out = '{';
      for (let i = 0; i < entries.length; i++) {
        const [k, val] = entries[i]!;
        out += (i === 0 ? '' : ', ') + cellString(k, t.keyType, timeZone) + ' -> ' + cellString(val, t.valueType, timeZone);
      }
      return out + '}';
    }
    case 'struct': {
      const positional = Array.isArray(v);
      let out = '{';
      for (let i = 0; i < t.fields.length; i++) {
        const f = t.fields[i]!;
        const fv = positional ? (v as unknown[])[i] : (v as Record<string, unknown>)[f.name];
        out += (i === 0 ? '' : ', ') + cellString(fv, f.dataType, timeZone);
      }
      return out + '}';
    }
  }
}

/**
 * One cell as `show()` prints it, untruncated: `NULL`, Spark's number and
 * timestamp formats (in `timeZone`), structs as `{a, b}`, control characters
 * escaped. The live view's output table uses it so its cells read as the
 * console sink's.
 */
export function showCell(value: unknown, dataType: DataType, timeZone: string): string {
  return escapeMetaCharacters(cellString(value, dataType, timeZone));
}

/** `SchemaUtils.escapeMetaCharacters`: control characters that would break the table, written as escapes. */
function escapeMetaCharacters(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || c === 13 || c === 9 || c === 12 || c === 8 || c === 11 || c === 7) {
      return s
        .replaceAll('\n', '\\n')
        .replaceAll('\r', '\\r')
        .replaceAll('\t', '\\t')
        .replaceAll('\f', '\\f')
        .replaceAll('\b', '\\b')
        .replaceAll('\u000B', '\\v')
        .replaceAll('\u0007', '\\a');
    }
  }
  return s;
}

/** Spark's `fullWidthRegex` ranges: characters that take two columns in a terminal. */
function isFullWidth(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe10 && c <= 0xfe19) ||
    (c >= 0xfe30 && c <= 0xfe6f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6)
  );
}

/** `Utils.stringHalfWidth`: UTF-16 length plus one per full-width character. */
function halfWidth(s: string): number {
  let w = s.length;
  for (let i = 0; i < s.length; i++) if (isFullWidth(s.charCodeAt(i))) w++;
  return w;
}

/** `show()` options, with Spark's defaults. */
export interface ShowOptions {
  /** Rows to print (default 20). */
  readonly numRows?: number;
  /** true = cut cells at 20 characters and right-align (default); false or 0 = full cells, left-aligned; n > 0 = cut at n. */
  readonly truncate?: boolean | number;
  /** Session time zone for timestamps (default: the process's). */
  readonly timeZone?: string;
}

/**
 * Exactly what `Dataset.show(numRows, truncate)` prints, byte for byte, so
 * tidemark's CLI output can be diffed against a Spark notebook: header and
 * rows between `+---+` separators, cells padded to the widest (at least 3,
 * East-Asian wide characters counting 2), the `only showing top N rows` footer
 * when rows were left out. Ends with a newline; Spark's `println` adds
 * another, which is the caller's to print.
 *
 * @param rows - row-view values in schema order (timestamps epoch ms, structs
 *   as objects or arrays, maps as `Map` or objects); rows beyond `numRows`
 *   only decide the footer
 */
export function showString(schema: Schema, rows: readonly (readonly unknown[])[], options: ShowOptions = {}): string {
  const numRows = Math.max(0, Math.min(options.numRows ?? 20, 2_147_483_632 - 1));
  const truncate = options.truncate === undefined || options.truncate === true ? 20 : options.truncate === false ? 0 : options.truncate;
  const timeZone = options.timeZone ?? defaultTimeZone();
  const fields = schema.fields;
  const shown = rows.slice(0, numRows);
  const hasMoreData = rows.length > numRows;

  const cells: string[][] = [fields.map((f) => escapeMetaCharacters(f.name))];
  for (const row of shown) {
    cells.push(
      fields.map((f, i) => {
        const s = escapeMetaCharacters(cellString(row[i], f.dataType, timeZone));
        if (truncate > 0 && s.length > truncate) return truncate < 4 ? s.slice(0, truncate) : s.slice(0, truncate - 3) + '...';
        return s;
      }),
    );
  }

  const widths = fields.map(() => 3);
  for (const row of cells) for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i]!, halfWidth(row[i]!));

  const sep = '+' + widths.map((w) => '-'.repeat(w)).join('+') + '+\n';
  const line = (row: string[]): string =>
    '|' +
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - halfWidth(cell));
        return truncate > 0 ? pad + cell : cell + pad;
      })
      .join('|') +
    '|\n';

  let out = sep + line(cells[0]!) + sep;
  for (let r = 1; r < cells.length; r++) out += line(cells[r]!);
  out += sep;
  if (hasMoreData) out += `only showing top ${numRows} ${numRows === 1 ? 'row' : 'rows'}\n`;
  return out;
}

/**
 * Parsed JSON values → column values, by the rules of Spark's `JacksonParser`
 * (the JSON reader with a user schema).
 *
 * Input is what `JSON.parse` returns. Two consequences Spark users should know:
 *
 * - Number tokens lose their spelling: `1.0` and `1e3` arrive as the integers
 *   1 and 1000, so they are accepted where Spark requires a JSON *integer*
 *   (long/int columns, timestamps as epoch seconds) although Spark refuses
 *   float tokens there; integers beyond 2^53 arrive rounded.
 * - Duplicate keys are already resolved (last one wins, as in Spark).
 *
 * Nested failures follow `spark.sql.json.enablePartialResults=true` (Spark
 * 3.4+ default): a struct keeps the fields that converted and nulls the
 * failing one; a failing array element or map value fails the whole array or
 * map; either way the record counts as malformed.
 *
 * Row-view conventions (what {@link convertJsonValue} returns and what is
 * stored inside `any` columns): timestamps as epoch milliseconds (fractional
 * for µs), dates as `'YYYY-MM-DD'`, decimals as strings with exactly `scale`
 * digits, binary as `Uint8Array`, maps as `Map`, structs as plain objects.
 *
 * @module
 */
import { base64ToBytes } from './base64.js';
import type { ColumnBuilder } from './batch.js';
import type { DataType, Schema } from './schema.js';
import { civilToEpochDays, formatDateDays, stringToDateDays, stringToTimestampNtzUs, stringToTimestampUs } from './timestamp.js';

/** Reader settings the conversion depends on. */
export interface JsonConvertOptions {
  /** Zone for timestamp strings without one (Spark's `timeZone` option / session zone). */
  readonly timeZone: string;
}

/** {@link appendJsonRecord} settings. */
export interface JsonRecordOptions extends JsonConvertOptions {
  /**
   * When true a malformed record appends nothing (for DROPMALFORMED, and for
   * FAILFAST callers that throw); by default it appends the PERMISSIVE row.
   */
  readonly dropMalformed?: boolean;
  /**
   * A top-level `timestamp` or `timestamp_ntz` field whose value (µs since
   * the epoch; an NTZ value read as UTC) is above this fails, as a value
   * Spark cannot convert does: the record is malformed. Not Spark's: it is
   * how a reader refuses event times far in the future (`ParseSchema`'s
   * `maxEventTimeAhead`). No limit when absent.
   */
  readonly maxTimestampUs?: number;
}

const FAIL: unique symbol = Symbol('tidemark.jsonConversionFailed');
type Converted = unknown;

/** Where a converted value goes: straight into a typed builder, into a struct object for `appendValue`, or into a row view. */
const TOP = 0;
const FIELD = 1;
const ROW = 2;

/** Set when a nested struct field was nulled during the current conversion (partial result). */
let partial = false;

const LONG_MIN = -9_223_372_036_854_775_808;
const LONG_LIMIT = 9_223_372_036_854_775_808;

/** Own property of a parsed JSON object; inherited members (`constructor`, `__proto__`) read as missing. */
function own(o: object, name: string): unknown {
  const v = (o as Record<string, unknown>)[name];
  return typeof v === 'function' || v === Object.prototype ? undefined : v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function integral(v: unknown, min: number, limit: number): number | typeof FAIL {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v < limit ? v : FAIL;
}

/** "NaN"/"Infinity" spellings JacksonParser accepts for float and double columns. */
function nonNumeric(s: string): number | typeof FAIL {
  switch (s) {
    case 'NaN':
      return NaN;
    case '+INF':
    case '+Infinity':
    case 'Infinity':
      return Infinity;
    case '-INF':
    case '-Infinity':
      return -Infinity;
    default:
      return FAIL;
  }
}

/** Spark's legacy fallback for timestamp/date strings: drop every "GMT" and retry. */
function withoutGmt(s: string): string | null {
  return s.includes('GMT') ? s.replaceAll('GMT', '') : null;
}

function timestampUs(v: unknown, timeZone: string): number | typeof FAIL {
  if (typeof v === 'number') return Number.isInteger(v) && v >= LONG_MIN && v < LONG_LIMIT ? v * 1_000_000 : FAIL;
  if (typeof v !== 'string' || v.length === 0) return FAIL;
  let us = stringToTimestampUs(v, timeZone);
  if (us === null) {
    const cleaned = withoutGmt(v);
    if (cleaned !== null) us = stringToTimestampUs(cleaned, timeZone);
  }
  return us === null ? FAIL : us;
}

/**
 * Julian-calendar days → proleptic Gregorian days with the same year, month
 * and day (Spark's `rebaseJulianToGregorianDays`: first of the month plus
 * day - 1, so a Julian-only Feb 29 becomes Mar 1).
 */
function rebaseJulianToGregorianDays(days: number): number {
  if (days >= -141_427) return days; // 1582-10-15: both calendars agree from here on
  // Julian day number → Julian calendar date (Richards' algorithm, astronomical years).
  const c = days + 2_440_588 + 32_082;
  const d = Math.floor((4 * c + 3) / 1461);
  const e = c - Math.floor((1461 * d) / 4);
  const m = Math.floor((5 * e + 2) / 153);
  const day = e - Math.floor((153 * m + 2) / 5) + 1;
  const month = m + 3 - 12 * Math.floor(m / 10);
  const year = d - 4800 + Math.floor(m / 10);
  return civilToEpochDays(year, month, 1) + day - 1;
}

function dateDays(v: unknown): number | typeof FAIL {
  if (typeof v !== 'string' || v.length === 0) return FAIL;
  let days = stringToDateDays(v);
  if (days === null) {
    const cleaned = withoutGmt(v);
    if (cleaned !== null) days = stringToDateDays(cleaned);
  }
  if (days === null && /^[+-]?[0-9]+$/.test(v)) {
    // Spark 1.5 wrote dates as day numbers in strings (Integer.parseInt range).
    const n = Number(v);
    if (n >= -2_147_483_648 && n <= 2_147_483_647) days = rebaseJulianToGregorianDays(n);
  }
  return days === null ? FAIL : days;
}

/**
 * `new java.math.BigDecimal(text).setScale(scale, HALF_UP)` checked against
 * `precision`, printed plain with exactly `scale` fraction digits; null when
 * the text is not a number or the value does not fit.
 */
function decimalString(text: string, precision: number, scale: number): string | null {
  const n = text.length;
  let i = 0;
  let negative = false;
  if (text[0] === '-' || text[0] === '+') {
    negative = text[0] === '-';
    i = 1;
  }
  let digits = '';
  let fractionDigits = 0;
  let dot = false;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits += text[i];
      if (dot) fractionDigits++;
    } else if (c === 46 && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits.length === 0) return null;
  let exponent = 0;
  if (i < n && (text[i] === 'e' || text[i] === 'E')) {
    i++;
    let expNegative = false;
    if (text[i] === '-' || text[i] === '+') {
      expNegative = text[i] === '-';
      i++;
    }
    const start = i;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === start || i - start > 9) return null;
    exponent = Number(text.slice(start, i)) * (expNegative ? -1 : 1);
  }
  if (i !== n) return null;
  let unscaled = BigInt(digits);
  const valueScale = fractionDigits - exponent;
  if (unscaled === 0n) {
    // zero at any scale
  } else if (scale >= valueScale) {
    if (scale - valueScale > precision) return null;
    unscaled *= 10n ** BigInt(scale - valueScale);
  } else if (valueScale - scale > digits.length + 1) {
    unscaled = 0n; // |value| < 0.5 * 10^-scale: rounds to zero
  } else {
    const divisor = 10n ** BigInt(valueScale - scale);
    const remainder = unscaled % divisor;
    unscaled = unscaled / divisor + (remainder * 2n >= divisor ? 1n : 0n);
  }
  const plain = unscaled.toString();
  if (plain.length > precision) return null; // BigDecimal precision: digits of the unscaled value (1 for zero)
  const body = scale === 0 ? plain : plain.length <= scale ? '0.' + plain.padStart(scale, '0') : plain.slice(0, plain.length - scale) + '.' + plain.slice(plain.length - scale);
  return negative && unscaled !== 0n ? '-' + body : body;
}

/** Jackson's default base64 (MIME without line feeds, padding required). */
function base64Bytes(s: string): Uint8Array | typeof FAIL {
  const text = s.replace(/[\s]+/g, '');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return FAIL;
  return base64ToBytes(text);
}

function convertStruct(v: unknown, fields: readonly { readonly name: string; readonly dataType: DataType }[], timeZone: string, mode: number): Converted {
  if (!isObject(v)) return FAIL;
  const childMode = mode === ROW ? ROW : FIELD;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const r = convert(own(v, f.name), f.dataType, timeZone, childMode);
    if (r === FAIL) {
      out[f.name] = null;
      partial = true;
    } else {
      out[f.name] = r;
    }
  }
  return out;
}

/** One value; FAIL when JacksonParser would throw for it. */
function convert(v: unknown, t: DataType, timeZone: string, mode: number): Converted {
  if (v === null || v === undefined) return null;
  switch (t.type) {
    case 'string':
      return typeof v === 'string' ? v : JSON.stringify(v);
    case 'long':
      return integral(v, LONG_MIN, LONG_LIMIT);
    case 'int':
      return integral(v, -2_147_483_648, 2_147_483_648);
    case 'short':
      return integral(v, -32_768, 32_768);
    case 'byte': {
      // Jackson's getByteValue accepts -128..255 and wraps 128..255 to negative.
      const b = integral(v, -128, 256);
      return b === FAIL ? FAIL : b > 127 ? b - 256 : b;
    }
    case 'double':
      if (typeof v === 'number') return v;
      return typeof v === 'string' ? nonNumeric(v) : FAIL;
    case 'float':
      if (typeof v === 'number') return Math.fround(v);
      return typeof v === 'string' ? nonNumeric(v) : FAIL;
    case 'boolean':
      return typeof v === 'boolean' ? v : FAIL;
    case 'timestamp': {
      const us = timestampUs(v, timeZone);
      if (us === FAIL) return FAIL;
      return mode === TOP ? us : mode === FIELD ? BigInt(us) : us / 1000;
    }
    case 'timestamp_ntz': {
      const us = typeof v === 'string' && v.length > 0 ? stringToTimestampNtzUs(v) : null;
      if (us === null) return FAIL;
      return mode === TOP ? us : mode === FIELD ? BigInt(us) : us / 1000;
    }
    case 'date': {
      const days = dateDays(v);
      if (days === FAIL) return FAIL;
      return mode === ROW ? formatDateDays(days) : days;
    }
    case 'decimal': {
      let text: string;
      if (typeof v === 'number') text = String(v);
      else if (typeof v === 'string' && v.length > 0) text = v.replaceAll(',', '');
      else return FAIL;
      const d = decimalString(text, t.precision, t.scale);
      return d === null ? FAIL : d;
    }
    case 'binary':
      return typeof v === 'string' ? base64Bytes(v) : FAIL;
    case 'array': {
      if (!Array.isArray(v)) return FAIL;
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        const r = convert(v[i], t.elementType, timeZone, ROW);
        if (r === FAIL) return FAIL;
        out[i] = r;
      }
      return out;
    }
    case 'map': {
      if (!isObject(v)) return FAIL;
      const out = new Map<string, unknown>();
      for (const k of Object.keys(v)) {
        const r = convert(v[k], t.valueType, timeZone, ROW);
        if (r === FAIL) return FAIL;
        out.set(k, r);
      }
      return out;
    }
    case 'struct':
      return convertStruct(v, t.fields, timeZone, mode);
  }
}

/** Appends a value produced by `convert(…, TOP)`. */
function appendConverted(builder: ColumnBuilder, v: Converted): void {
  if (v === null) return builder.appendNull();
  switch (builder.kind) {
    case 'f64':
      return builder.appendNumber(v as number);
    case 'dict':
      return builder.appendString(v as string);
    case 'bool':
      return builder.appendBoolean(v as boolean);
    default:
      return builder.appendValue(v);
  }
}

/**
 * Converts one JSON value into `builder`'s column and appends it, so a
 * reader can fill columns without building row objects. String columns take
 * any token, keeping non-strings as `JSON.stringify` text (Spark 3.x
 * re-serialises compactly too, but prints float tokens Java-style, `1.5E10`;
 * Spark 4 keeps the exact input text, whitespace included — neither can be
 * recovered after `JSON.parse`).
 *
 * @returns false when Spark would fail to convert the value (including a
 *   struct with a failing field); nothing is appended then, so the caller can
 *   append null (PERMISSIVE) or drop the record.
 */
export function appendJsonValue(builder: ColumnBuilder, value: unknown, options: JsonConvertOptions): boolean {
  partial = false;
  const r = convert(value, builder.field.dataType, options.timeZone, TOP);
  if (r === FAIL || partial) return false;
  appendConverted(builder, r);
  return true;
}

/**
 * Converts one JSON value to its row-view value, for callers that want
 * values rather than columns (tests, `show()`, users' own stages). Strict:
 * a partially converted struct counts as a failure.
 */
export function convertJsonValue(value: unknown, dataType: DataType, options: JsonConvertOptions): { ok: true; value: unknown } | { ok: false } {
  partial = false;
  const r = convert(value, dataType, options.timeZone, ROW);
  return r === FAIL || partial ? { ok: false } : { ok: true, value: r };
}

let scratch: unknown[] = [];

/**
 * Fills one row of `builders` (one per field of `schema`) from a parsed JSON
 * record with PERMISSIVE semantics: exact field-name match, extra keys
 * ignored, missing keys null, a failing field null (a struct field keeps its
 * converted part). The caller decides what a malformed record means
 * (DROPMALFORMED, FAILFAST); to reproduce `columnNameOfCorruptRecord`, pass
 * the schema without that column and fill it from the raw line. Top-level
 * arrays must be split by the caller (one record per element). Call
 * `BatchBuilder.endRow()` after it when using a {@link BatchBuilder}.
 *
 * @returns null for a good record; `{ failedField }` for a malformed one:
 *   the index of the first failing field, or -1 when `record` is not a JSON
 *   object (all fields null).
 */
export function appendJsonRecord(builders: readonly ColumnBuilder[], schema: Schema, record: unknown, options: JsonRecordOptions): { failedField: number } | null {
  const fields = schema.fields;
  const n = fields.length;
  if (!isObject(record)) {
    if (options.dropMalformed !== true) for (let i = 0; i < n; i++) builders[i]!.appendNull();
    return { failedField: -1 };
  }
  const timeZone = options.timeZone;
  const maxTimestampUs = options.maxTimestampUs ?? Infinity;
  if (scratch.length < n) scratch = new Array<unknown>(n);
  const values = scratch;
  let failed = -1;
  for (let i = 0; i < n; i++) {
    const f = fields[i]!;
    partial = false;
    const r = convert(own(record, f.name), f.dataType, timeZone, TOP);
    if (r === FAIL || (typeof r === 'number' && r > maxTimestampUs && (f.dataType.type === 'timestamp' || f.dataType.type === 'timestamp_ntz'))) {
      values[i] = null;
      if (failed < 0) failed = i;
    } else {
      values[i] = r;
      if (partial && failed < 0) failed = i;
    }
  }
  if (failed < 0 || options.dropMalformed !== true) {
    for (let i = 0; i < n; i++) appendConverted(builders[i]!, values[i]);
  }
  for (let i = 0; i < n; i++) values[i] = undefined;
  return failed < 0 ? null : { failedField: failed };
}

/**
 * One parsed JSON record as row-view values in schema order, with the same
 * PERMISSIVE rules as {@link appendJsonRecord}; for paths that print or
 * inspect rows rather than build batches (`show()`, tests).
 *
 * @returns the values and the first failing field index (-1 not an object,
 *   `null` when the record is good)
 */
export function convertJsonRecord(schema: Schema, record: unknown, options: JsonConvertOptions): { values: unknown[]; failedField: number | null } {
  const fields = schema.fields;
  const values = new Array<unknown>(fields.length).fill(null);
  if (!isObject(record)) return { values, failedField: -1 };
  let failed: number | null = null;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    partial = false;
    const r = convert(own(record, f.name), f.dataType, options.timeZone, ROW);
    if (r === FAIL) {
      if (failed === null) failed = i;
    } else {
      values[i] = r;
      if (partial && failed === null) failed = i;
    }
  }
  return { values, failedField: failed };
}

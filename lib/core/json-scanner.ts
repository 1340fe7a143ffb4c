/**
 * A schema-compiled scanner for flat JSON lines: reads the bytes of one line
 * straight into columns, with no string per line, no `JSON.parse` and no
 * object per record.
 *
 * It handles the common shape only — an object whose fields are timestamps
 * given as integer seconds, strings without escapes, integers, booleans or
 * null, in any key order, with any whitespace and unknown keys of any kind —
 * and reports anything else (escapes, non-ASCII text, numbers where it wants
 * integers, string timestamps, duplicate keys, broken JSON…) so the caller
 * runs the general path (`JSON.parse` + Spark's conversion rules) on that
 * line. Both paths give the same rows: a differential fuzz test keeps it so.
 *
 * @module
 */
import { StringDictionary, type ColumnBuilder } from './batch.js';
import type { DataType, Schema } from './schema.js';

const enum Kind {
  Timestamp,
  String,
  Integer,
  Boolean,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const NEWLINE = 0x0a;

// Integers beyond 2^53 lose precision in a double; leave them to the general path.
const MAX_EXACT_DIGITS = 15;
// Deeper nesting in an unknown field is left to the general path.
const MAX_SKIP_DEPTH = 64;

function kindOf(t: DataType): { kind: Kind; min: number; max: number } | null {
  switch (t.type) {
    case 'timestamp':
      return { kind: Kind.Timestamp, min: -Infinity, max: Infinity };
    case 'string':
      return { kind: Kind.String, min: 0, max: 0 };
    case 'boolean':
      return { kind: Kind.Boolean, min: 0, max: 1 };
    case 'byte':
      return { kind: Kind.Integer, min: -128, max: 127 };
    case 'short':
      return { kind: Kind.Integer, min: -32768, max: 32767 };
    case 'int':
      return { kind: Kind.Integer, min: -2147483648, max: 2147483647 };
    case 'long':
      return { kind: Kind.Integer, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
    default:
      return null;
  }
}

/**
 * Interns strings by their UTF-8 bytes: a string is decoded once, the first
 * time its bytes are seen; afterwards a hash and a byte compare give its id.
 */
export class ByteInterner {
  readonly dictionary: StringDictionary;
  readonly #buckets = new Map<number, Array<{ bytes: Uint8Array; id: number }>>();

  constructor(dictionary: StringDictionary = new StringDictionary()) {
    this.dictionary = dictionary;
  }

  /** The id of the ASCII text in `bytes[start, end)`. */
  idOf(bytes: Uint8Array, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    const bucket = this.#buckets.get(h);
    if (bucket !== undefined) {
      const length = end - start;
      outer: for (const entry of bucket) {
        if (entry.bytes.length !== length) continue;
        for (let i = 0; i < length; i++) if (entry.bytes[i] !== bytes[start + i]) continue outer;
        return entry.id;
      }
    }
    const copy = bytes.slice(start, end);
    let text = '';
    for (let i = 0; i < copy.length; i++) text += String.fromCharCode(copy[i]!);
    const id = this.dictionary.intern(text);
    const entry = { bytes: copy, id };
    if (bucket === undefined) this.#buckets.set(h, [entry]);
    else bucket.push(entry);
    return id;
  }
}

/** Reads one JSON line into columns, or declines. Built by {@link compileScanner}. */
export class JsonLineScanner {
  readonly #names: Uint8Array[];
  readonly #kinds: Kind[];
  readonly #min: number[];
  readonly #max: number[];
  readonly #interners: Array<ByteInterner | null>;
  // Values of the line being read, committed to the columns only when the whole line was understood.
  readonly #numbers: Float64Array;
  readonly #isNull: Uint8Array;
  readonly #seen: Uint8Array;
  #pos = 0;

  /** @internal */
  constructor(fields: Array<{ name: string; kind: Kind; min: number; max: number }>, dictionaries: ReadonlyArray<StringDictionary | null>) {
    this.#names = fields.map((f) => new TextEncoder().encode(f.name));
    this.#kinds = fields.map((f) => f.kind);
    this.#min = fields.map((f) => f.min);
    this.#max = fields.map((f) => f.max);
    this.#interners = fields.map((f, i) => (f.kind === Kind.String ? new ByteInterner(dictionaries[i] ?? new StringDictionary()) : null));
    this.#numbers = new Float64Array(fields.length);
    this.#isNull = new Uint8Array(fields.length);
    this.#seen = new Uint8Array(fields.length);
  }

  /** The dictionary string field `index` interns into. */
  dictionaryOf(index: number): StringDictionary | null {
    return this.#interners[index]?.dictionary ?? null;
  }

  /** Starts interning string field `index` into a new dictionary (the caller bounds dictionary size). */
  resetDictionary(index: number, dictionary: StringDictionary): void {
    if (this.#interners[index] !== null) this.#interners[index] = new ByteInterner(dictionary);
  }

  /**
   * Reads the line that starts at `bytes[start]` into `columns` (one
   * builder per schema field, same order). The line ends at the next `\n` or
   * at `limit`. Returns the index of that `\n` (or `limit`), or -1, having
   * appended nothing, when the line needs the general path.
   */
  scanLine(bytes: Uint8Array, start: number, limit: number, columns: readonly ColumnBuilder[]): number {
    const end = limit;
    const n = this.#kinds.length;
    this.#seen.fill(0);
    this.#isNull.fill(1);
    this.#pos = start;
    this.#skipSpace(bytes, end);
    if (this.#pos >= end || bytes[this.#pos] !== OPEN_BRACE) return -1;
    this.#pos++;
    this.#skipSpace(bytes, end);
    if (this.#pos < end && bytes[this.#pos] === CLOSE_BRACE) {
      this.#pos++;
    } else {
      for (;;) {
        if (this.#pos >= end || bytes[this.#pos] !== QUOTE) return -1;
        const keyStart = ++this.#pos;
        while (this.#pos < end && bytes[this.#pos] !== QUOTE) {
          const k = bytes[this.#pos]!;
          if (k === BACKSLASH || k < 0x20 || k >= 0x80) return -1;
          this.#pos++;
        }
        if (this.#pos >= end) return -1;
        const field = this.#fieldOf(bytes, keyStart, this.#pos);
        this.#pos++;
        this.#skipSpace(bytes, end);
        if (this.#pos >= end || bytes[this.#pos] !== COLON) return -1;
        this.#pos++;
        this.#skipSpace(bytes, end);
        if (field < 0) {
          if (!this.#skipValue(bytes, end)) return -1;
        } else {
          if (this.#seen[field] === 1) return -1; // duplicate key: last wins, leave it to JSON.parse
          this.#seen[field] = 1;
          if (!this.#readValue(field, bytes, end)) return -1;
        }
        this.#skipSpace(bytes, end);
        if (this.#pos >= end) return -1;
        const c = bytes[this.#pos]!;
        this.#pos++;
        if (c === CLOSE_BRACE) break;
        if (c !== COMMA) return -1;
        this.#skipSpace(bytes, end);
      }
    }
    this.#skipSpace(bytes, end);
    if (this.#pos !== end && bytes[this.#pos] !== NEWLINE) return -1;
    for (let i = 0; i < n; i++) {
      const column = columns[i]!;
      if (this.#isNull[i] === 1) column.appendNull();
      else if (this.#kinds[i] === Kind.String) column.appendDictId(this.#numbers[i]!);
      else if (this.#kinds[i] === Kind.Boolean) column.appendBoolean(this.#numbers[i] === 1);
      else column.appendNumber(this.#numbers[i]!);
    }
    return this.#pos;
  }

  #fieldOf(bytes: Uint8Array, start: number, end: number): number {
    const names = this.#names;
    const length = end - start;
    outer: for (let f = 0; f < names.length; f++) {
      const name = names[f]!;
      if (name.length !== length) continue;
      for (let i = 0; i < length; i++) if (name[i] !== bytes[start + i]) continue outer;
      return f;
    }
    return -1;
  }

  #skipSpace(bytes: Uint8Array, end: number): void {
    let p = this.#pos;
    while (p < end) {
      const c = bytes[p]!;
      // A newline ends the line: it is never whitespace inside one.
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
      p++;
    }
    this.#pos = p;
  }

  #readValue(field: number, bytes: Uint8Array, end: number): boolean {
    const c = bytes[this.#pos]!;
    if (c === 0x6e) return this.#literal(bytes, end, 'null');
    switch (this.#kinds[field]) {
      case Kind.String: {
        if (c !== QUOTE) return false; // a non-string token becomes its JSON text: general path
        const s = ++this.#pos;
        let p = s;
        while (p < end) {
          const b = bytes[p]!;
          if (b === QUOTE) break;
          if (b === BACKSLASH || b < 0x20 || b >= 0x80) return false; // escapes, control and non-ASCII text: general path
          p++;
        }
        if (p >= end) return false;
        this.#numbers[field] = this.#interners[field]!.idOf(bytes, s, p);
        this.#isNull[field] = 0;
        this.#pos = p + 1;
        return true;
      }
      case Kind.Boolean:
        if (c === 0x74 && this.#literal(bytes, end, 'true')) {
          this.#numbers[field] = 1;
          this.#isNull[field] = 0;
          return true;
        }
        if (c === 0x66 && this.#literal(bytes, end, 'false')) {
          this.#numbers[field] = 0;
          this.#isNull[field] = 0;
          return true;
        }
        return false;
      default: {
        const value = this.#integer(bytes, end);
        if (value === null || value < this.#min[field]! || value > this.#max[field]!) return false;
        // A timestamp from a JSON integer is epoch seconds (Spark's JacksonParser).
        this.#numbers[field] = this.#kinds[field] === Kind.Timestamp ? value * 1_000_000 : value;
        this.#isNull[field] = 0;
        return true;
      }
    }
  }

  // A JSON integer (no fraction, no exponent) of at most 15 digits, or null.
  #integer(bytes: Uint8Array, end: number): number | null {
    let p = this.#pos;
    let negative = false;
    if (bytes[p] === MINUS) {
      negative = true;
      p++;
    }
    const digitsStart = p;
    let value = 0;
    while (p < end) {
      const d = bytes[p]! - 0x30;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
      p++;
    }
    const digits = p - digitsStart;
    if (digits === 0 || digits > MAX_EXACT_DIGITS) return null;
    if (digits > 1 && bytes[digitsStart] === 0x30) return null; // leading zero: invalid JSON
    if (p < end) {
      const c = bytes[p]!;
      if (c === 0x2e || c === 0x65 || c === 0x45) return null; // fraction or exponent
    }
    this.#pos = p;
    return negative ? -value : value;
  }

  #literal(bytes: Uint8Array, end: number, word: string): boolean {
    const p = this.#pos;
    if (p + word.length > end) return false;
    for (let i = 0; i < word.length; i++) if (bytes[p + i] !== word.charCodeAt(i)) return false;
    this.#pos = p + word.length;
    return true;
  }

  // Skips (and validates) any JSON value of an unknown key, nested ones
  // included, so a line the general path would call malformed is never
  // accepted here. Non-ASCII text is declined: the general path checks UTF-8.
  #skipValue(bytes: Uint8Array, end: number, depth = 0): boolean {
    if (depth > MAX_SKIP_DEPTH || this.#pos >= end) return false;
    const c = bytes[this.#pos]!;
    if (c === QUOTE) return this.#skipString(bytes, end);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      this.#pos++;
      this.#skipSpace(bytes, end);
      if (this.#pos < end && bytes[this.#pos] === close) {
        this.#pos++;
        return true;
      }
      for (;;) {
        if (c === OPEN_BRACE) {
          if (this.#pos >= end || bytes[this.#pos] !== QUOTE || !this.#skipString(bytes, end)) return false;
          this.#skipSpace(bytes, end);
          if (this.#pos >= end || bytes[this.#pos] !== COLON) return false;
          this.#pos++;
          this.#skipSpace(bytes, end);
        }
        if (!this.#skipValue(bytes, end, depth + 1)) return false;
        this.#skipSpace(bytes, end);
        if (this.#pos >= end) return false;
        const next = bytes[this.#pos]!;
        this.#pos++;
        if (next === close) return true;
        if (next !== COMMA) return false;
        this.#skipSpace(bytes, end);
      }
    }
    if (c === 0x74) return this.#literal(bytes, end, 'true');
    if (c === 0x66) return this.#literal(bytes, end, 'false');
    if (c === 0x6e) return this.#literal(bytes, end, 'null');
    return this.#skipNumber(bytes, end);
  }

  #skipString(bytes: Uint8Array, end: number): boolean {
    let p = this.#pos + 1;
    while (p < end) {
      const b = bytes[p]!;
      if (b === QUOTE) {
        this.#pos = p + 1;
        return true;
      }
      if (b < 0x20 || b >= 0x80) return false;
      if (b === BACKSLASH) {
        const e = bytes[p + 1];
        if (e === 0x75) {
          for (let i = 2; i < 6; i++) if (!isHex(bytes[p + i])) return false;
          p += 6;
          continue;
        }
        if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return false;
        p += 2;
        continue;
      }
      p++;
    }
    return false;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  #skipNumber(bytes: Uint8Array, end: number): boolean {
    let p = this.#pos;
    if (bytes[p] === MINUS) p++;
    if (p >= end) return false;
    if (bytes[p] === 0x30) p++;
    else if (isDigit(bytes[p])) while (p < end && isDigit(bytes[p])) p++;
    else return false;
    if (p < end && bytes[p] === 0x2e) {
      p++;
      if (!isDigit(bytes[p])) return false;
      while (p < end && isDigit(bytes[p])) p++;
    }
    if (p < end && (bytes[p] === 0x65 || bytes[p] === 0x45)) {
      p++;
      if (bytes[p] === 0x2b || bytes[p] === MINUS) p++;
      if (!isDigit(bytes[p])) return false;
      while (p < end && isDigit(bytes[p])) p++;
    }
    this.#pos = p;
    return true;
  }
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

/**
 * A scanner for `schema`, or null when a field type is not one it reads
 * (the caller then uses the general path for every line).
 *
 * @param dictionaries - per field, the dictionary string columns intern into.
 */
export function compileScanner(schema: Schema, dictionaries: ReadonlyArray<StringDictionary | null> = []): JsonLineScanner | null {
  const fields: Array<{ name: string; kind: Kind; min: number; max: number }> = [];
  for (const f of schema.fields) {
    const k = kindOf(f.dataType);
    if (k === null) return null;
    fields.push({ name: f.name, ...k });
  }
  return new JsonLineScanner(fields, dictionaries);
}

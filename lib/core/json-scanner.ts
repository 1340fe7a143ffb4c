/**
 * A schema-compiled scanner for flat JSON lines: reads the bytes of one line
 * straight into columns, with no string per line, no `JSON.parse` and no
 * object per record.
 *
 * It handles the common shape only — an object whose fields are timestamps
 * given as integer seconds, strings without escapes, integers, booleans or
 * null, in any key order, with any whitespace and unknown keys of any kind —
 * and reports anything else (escapes, non-ASCII text, numbers where it wants
 * integers, string timestamps, timestamps above the limit a caller set with
 * {@link JsonLineScanner.setMaxTimestampUs}, duplicate keys, broken JSON…) so the caller
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
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const CACHE_SIZE = 256;
const CACHE_MASK = CACHE_SIZE - 1;

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
  readonly #idBytes: Uint8Array[] = [];
  readonly #cacheHash = new Int32Array(CACHE_SIZE);
  readonly #cacheId = new Int32Array(CACHE_SIZE);
  readonly #cacheBytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(CACHE_SIZE);

  constructor(dictionary: StringDictionary = new StringDictionary()) {
    this.dictionary = dictionary;
  }

  /** The id of the ASCII text in `bytes[start, end)`. */
  idOf(bytes: Uint8Array, start: number, end: number): number {
    let h = FNV_OFFSET;
    for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
    return this.idOfHashed(bytes, start, end, h);
  }

  /** {@link ByteInterner.idOf} when the caller computed the FNV-1a hash while scanning. */
  idOfHashed(bytes: Uint8Array, start: number, end: number, h: number): number {
    // A direct-mapped cache in front of the map: repeated values (the usual case) cost one compare.
    const slot = h & CACHE_MASK;
    const cached = this.#cacheBytes[slot];
    if (cached !== undefined && this.#cacheHash[slot] === h) {
      const length = end - start;
      if (cached.length === length) {
        let same = true;
        for (let i = 0; i < length; i++) {
          if (cached[i] !== bytes[start + i]) {
            same = false;
            break;
          }
        }
        if (same) return this.#cacheId[slot]!;
      }
    }
    const id = this.#lookup(bytes, start, end, h);
    this.#cacheHash[slot] = h;
    this.#cacheId[slot] = id;
    this.#cacheBytes[slot] = this.#bytesOf(id, bytes, start, end);
    return id;
  }

  #bytesOf(id: number, bytes: Uint8Array, start: number, end: number): Uint8Array {
    return this.#idBytes[id] ?? bytes.slice(start, end);
  }

  #lookup(bytes: Uint8Array, start: number, end: number, h: number): number {
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
    this.#idBytes[id] = copy;
    const entry = { bytes: copy, id };
    if (bucket === undefined) this.#buckets.set(h, [entry]);
    else bucket.push(entry);
    return id;
  }
}

/** A `DataView` over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type TemplateFunction = (bytes: Uint8Array, view: DataView, start: number, end: number, columns: readonly ColumnBuilder[]) => number;
type TemplateFactory = (interners: ReadonlyArray<ByteInterner | null>, limit: Float64Array) => TemplateFunction;

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
  // [0]: the largest timestamp (µs) read here; above it the general path decides (a malformed
  // record). One cell the compiled template reads too, so a new limit needs no new template.
  readonly #maxTimestampUs = new Float64Array([Infinity]);
  // The layout of the last compact line (`{"a":1,"b":"x"}`: no spaces, no
  // unknown keys, no nulls): field order and the literal bytes before each
  // value. Lines of one file nearly always share it, so it is tried first.
  #templateFields: number[] | null = null;
  #templateLiterals: Uint8Array[] = [];
  #lineFields: number[] = [];
  #compiledTemplate: TemplateFunction | null = null;
  #compact = true;
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

  /**
   * Declines (leaves to the general path) a line whose integer timestamp is
   * above `us` µs. Infinity (the default) sets no limit.
   */
  setMaxTimestampUs(us: number): void {
    this.#maxTimestampUs[0] = us;
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
   * appended nothing, when the line needs the general path. `view` is a
   * `DataView` over exactly `bytes` (pass one made per chunk, not per line).
   */
  scanLine(bytes: Uint8Array, start: number, limit: number, columns: readonly ColumnBuilder[], view: DataView = viewOf(bytes)): number {
    if (this.#compiledTemplate !== null) {
      const end = this.#compiledTemplate(bytes, view, start, limit, columns);
      if (end >= 0) return end;
    }
    return this.#scanGeneral(bytes, start, limit, columns);
  }

  #scanGeneral(bytes: Uint8Array, start: number, limit: number, columns: readonly ColumnBuilder[]): number {
    // Hot path: locals instead of fields, whitespace skipped inline.
    const end = limit;
    const lineFields = this.#lineFields;
    lineFields.length = 0;
    let compact = true;
    const n = this.#kinds.length;
    const seen = this.#seen;
    const isNull = this.#isNull;
    const kinds = this.#kinds;
    const numbers = this.#numbers;
    const interners = this.#interners;
    const mins = this.#min;
    const maxes = this.#max;
    const maxTimestampUs = this.#maxTimestampUs[0]!;
    for (let i = 0; i < n; i++) {
      seen[i] = 0;
      isNull[i] = 1;
    }
    let p = start;
    let c = 0;
    while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
    if (p >= end || bytes[p] !== OPEN_BRACE) return -1;
    p++;
    while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
    if (p < end && bytes[p] === CLOSE_BRACE) {
      p++;
    } else {
      for (;;) {
        if (p >= end || bytes[p] !== QUOTE) return -1;
        const keyStart = ++p;
        while (p < end && (c = bytes[p]!) !== QUOTE) {
          if (c === BACKSLASH || c < 0x20 || c >= 0x80) return -1;
          p++;
        }
        if (p >= end) return -1;
        const field = this.#fieldOf(bytes, keyStart, p);
        if (field < 0) compact = false;
        else lineFields.push(field);
        p++;
        while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
        if (p >= end || bytes[p] !== COLON) return -1;
        p++;
        while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
        if (field < 0) {
          this.#pos = p;
          if (!this.#skipValue(bytes, end)) return -1;
          p = this.#pos;
        } else {
          if (seen[field] === 1) return -1; // duplicate key: last wins, leave it to JSON.parse
          seen[field] = 1;
          const kind = kinds[field];
          c = p < end ? bytes[p]! : 0;
          if (kind === Kind.String && c === QUOTE) {
            // The common cases, inline: an ASCII string without escapes…
            const s = ++p;
            let h = FNV_OFFSET;
            while (p < end && (c = bytes[p]!) !== QUOTE) {
              if (c === BACKSLASH || c < 0x20 || c >= 0x80) return -1; // escapes, control and non-ASCII text: general path
              h = Math.imul(h ^ c, FNV_PRIME);
              p++;
            }
            if (p >= end) return -1;
            numbers[field] = interners[field]!.idOfHashed(bytes, s, p, h);
            isNull[field] = 0;
            p++;
          } else if ((kind === Kind.Timestamp || kind === Kind.Integer) && (c === MINUS || (c >= 0x30 && c <= 0x39))) {
            // …and an integer of at most 15 digits (no fraction, exponent or leading zero).
            const negative = c === MINUS;
            if (negative) p++;
            const digitsStart = p;
            let value = 0;
            while (p < end && (c = bytes[p]!) >= 0x30 && c <= 0x39) {
              value = value * 10 + (c - 0x30);
              p++;
            }
            const digits = p - digitsStart;
            if (digits === 0 || digits > MAX_EXACT_DIGITS || (digits > 1 && bytes[digitsStart] === 0x30)) return -1;
            if (p < end && ((c = bytes[p]!) === 0x2e || c === 0x65 || c === 0x45)) return -1;
            if (negative) value = -value;
            if (value < mins[field]! || value > maxes[field]!) return -1;
            // A timestamp from a JSON integer is epoch seconds (Spark's JacksonParser).
            if (kind === Kind.Timestamp) {
              value *= 1_000_000;
              if (value > maxTimestampUs) return -1;
            }
            numbers[field] = value;
            isNull[field] = 0;
          } else {
            this.#pos = p;
            if (!this.#readValue(field, bytes, end)) return -1;
            p = this.#pos;
          }
        }
        while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
        if (p >= end) return -1;
        c = bytes[p]!;
        p++;
        if (c === CLOSE_BRACE) break;
        if (c !== COMMA) return -1;
        while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
      }
    }
    const closed = p;
    while (p < end && ((c = bytes[p]!) === 0x20 || c === 0x09 || c === 0x0d)) p++;
    if (p !== end && bytes[p] !== NEWLINE) return -1;
    for (let i = 0; i < n; i++) if (seen[i] === 1 && isNull[i] === 1) compact = false;
    if (compact && closed === p && p - start === this.#compactLength(lineFields, bytes, start, p)) this.#learn(lineFields);
    for (let i = 0; i < n; i++) {
      const column = columns[i]!;
      if (isNull[i] === 1) column.appendNull();
      else if (kinds[i] === Kind.String) column.appendDictId(numbers[i]!);
      else if (kinds[i] === Kind.Boolean) column.appendBoolean(numbers[i] === 1);
      else column.appendNumber(numbers[i]!);
    }
    return p;
  }

  // Length of `{"k1":v1,"k2":v2}` with the values as they are in the line: equal to the
  // line's length exactly when no whitespace was skipped anywhere.
  #compactLength(fields: readonly number[], bytes: Uint8Array, start: number, end: number): number {
    let length = 2 + Math.max(0, fields.length - 1);
    for (const f of fields) length += this.#names[f]!.length + 3;
    // Value bytes: everything else. Count them by walking the line once more (cheap: only when not yet learned).
    if (this.#templateFields !== null && sameOrder(this.#templateFields, fields)) return -1;
    let valueBytes = 0;
    let p = start + 1;
    for (let k = 0; k < fields.length; k++) {
      p += (k > 0 ? 1 : 0) + this.#names[fields[k]!]!.length + 3;
      const valueStart = p;
      if (bytes[p] === QUOTE) {
        p++;
        while (p < end && bytes[p] !== QUOTE) p++;
        p++;
      } else {
        while (p < end && bytes[p] !== COMMA && bytes[p] !== CLOSE_BRACE) p++;
      }
      valueBytes += p - valueStart;
    }
    return length + valueBytes;
  }

  #learn(fields: readonly number[]): void {
    // `{}` opens with no literal before a value: not worth a template.
    if (fields.length === 0) return;
    const encoder = new TextEncoder();
    this.#templateFields = [...fields];
    this.#templateLiterals = fields.map((f, k) => encoder.encode(`${k === 0 ? '{' : ','}"${new TextDecoder().decode(this.#names[f])}":`));
    this.#compiledTemplate = this.#compileTemplate();
  }

  // The template as straight-line code: constants compared inline, no loop over the layout.
  // Generated because V8 then compiles each comparison to one instruction, which is most of the
  // scanner's time. Any difference from the layout returns -1 and the general scan decides.
  #compileTemplate(): TemplateFunction {
    const fields = this.#templateFields!;
    const lines: string[] = ['let c = 0;'];
    fields.forEach((field, k) => {
      const literal = this.#templateLiterals[k]!;
      // Four bytes per compare where the literal allows (little-endian words), then the rest.
      const compares: string[] = [];
      let i = 0;
      for (; i + 4 <= literal.length; i += 4) compares.push(`view.getUint32(p + ${i}, true) !== ${(literal[i]! | (literal[i + 1]! << 8) | (literal[i + 2]! << 16) | (literal[i + 3]! << 24)) >>> 0}`);
      for (; i + 2 <= literal.length; i += 2) compares.push(`view.getUint16(p + ${i}, true) !== ${literal[i]! | (literal[i + 1]! << 8)}`);
      for (; i < literal.length; i++) compares.push(`bytes[p + ${i}] !== ${literal[i]}`);
      const checks = compares.join(' || ');
      lines.push(`if (p + ${literal.length} > end || ${checks}) return -1;`, `p += ${literal.length};`);
      const kind = this.#kinds[field];
      if (kind === Kind.String) {
        lines.push(
          'if (p >= end || bytes[p] !== 34) return -1;',
          `const s${k} = ++p;`,
          `let h${k} = ${FNV_OFFSET};`,
          'while (p < end && (c = bytes[p]) !== 34) {',
          '  if (c === 92 || c < 32 || c >= 128) return -1;',
          `  h${k} = Math.imul(h${k} ^ c, ${FNV_PRIME});`,
          '  p++;',
          '}',
          'if (p >= end) return -1;',
          `const v${k} = interners[${field}].idOfHashed(bytes, s${k}, p, h${k});`,
          'p++;',
        );
      } else if (kind === Kind.Timestamp || kind === Kind.Integer) {
        lines.push(
          `const n${k} = p < end && bytes[p] === 45;`,
          `if (n${k}) p++;`,
          `const d${k} = p;`,
          `let v${k} = 0;`,
          `while (p < end && (c = bytes[p]) >= 48 && c <= 57) { v${k} = v${k} * 10 + (c - 48); p++; }`,
          `if (p === d${k} || p - d${k} > ${MAX_EXACT_DIGITS} || (p - d${k} > 1 && bytes[d${k}] === 48)) return -1;`,
          `if (n${k}) v${k} = -v${k};`,
          `if (v${k} < ${this.#min[field]} || v${k} > ${this.#max[field]}) return -1;`,
          kind === Kind.Timestamp ? `v${k} *= 1000000; if (v${k} > limit[0]) return -1;` : '',
        );
      } else {
        lines.push('return -1;');
      }
    });
    lines.push('if (p >= end || bytes[p] !== 125) return -1;', 'p++;', 'if (p !== end && bytes[p] !== 10) return -1;');
    for (let f = 0; f < this.#kinds.length; f++) {
      const k = fields.indexOf(f);
      if (k < 0) lines.push(`columns[${f}].appendNull();`);
      else if (this.#kinds[f] === Kind.String) lines.push(`columns[${f}].appendDictId(v${k});`);
      else lines.push(`columns[${f}].appendNumber(v${k});`);
    }
    lines.push('return p;');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the scanner is compiled from the schema on purpose
    const build = new Function('interners', 'limit', `return function scanTemplate(bytes, view, p, end, columns) {\n${lines.join('\n')}\n};`) as TemplateFactory;
    return build(this.#interners, this.#maxTimestampUs);
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
        const number = this.#kinds[field] === Kind.Timestamp ? value * 1_000_000 : value;
        if (this.#kinds[field] === Kind.Timestamp && number > this.#maxTimestampUs[0]!) return false;
        this.#numbers[field] = number;
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

function sameOrder(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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

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
  Double,
  Float,
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
    case 'double':
      return { kind: Kind.Double, min: -Infinity, max: Infinity };
    case 'float':
      return { kind: Kind.Float, min: -Infinity, max: Infinity };
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
type CodeHelpers = [readDouble: typeof readDouble, doubleValue: typeof doubleValue];
type TemplateFactory = (recognizers: ReadonlyArray<StringRecognizer | null>, limit: Float64Array, ...helpers: CodeHelpers) => TemplateFunction;

/**
 * Where a fused kernel ({@link JsonLineScanner.compileKernel}) puts what it
 * reads: the event-time figures, the slot (window or pane) of each time, the
 * group of each (slot, key) and the kept values of each row. The kernel keeps
 * the hot fields in locals and writes them back when it returns.
 *
 * The kernel calls no method of the sink. What it cannot do with its locals
 * (a slot or a group seen for the first time, room for more rows) it asks
 * for: it stops at the start of that line with {@link KernelSink.need} set,
 * and the caller does it and calls the kernel again from there. That keeps
 * rarely run code out of the kernel. V8 optimises the kernel while it reads
 * a worker's first lines, and code it inlined there before it ever ran (the
 * first slot an hour of event time later) would send the kernel back to the
 * interpreter, for tens of milliseconds, the first time it ran.
 */
export interface KernelSink {
  /** Event-time figures so far (µs; a null time counts as 0 in max and min). */
  maxUs: number;
  minUs: number;
  sumUs: number;
  /** Rows so far (each line the kernel reads is one). */
  rows: number;
  /** Lines the kernel read. */
  lines: number;
  /** The current slot: `[lastStart, lastEnd)`, and its groups by key (group + 1, 0: none yet). */
  lastStart: number;
  lastEnd: number;
  cur: Int32Array;
  /** The slot current before it (`prevStart` NaN: none): the kernel swaps the two itself. */
  prevStart: number;
  prevSlot: Int32Array;
  /** The length of a slot (µs). */
  readonly slideUs: number;
  /** Rows per group. */
  counts: Float64Array;
  /** The group of each row (-1: a null time), and each kept value and whether it is null. */
  rowGroups: Int32Array;
  values: Float64Array[];
  nulls: Uint8Array[];
  /**
   * Set by the kernel when it returns: {@link KernelNeed.none}, or what the
   * line it stopped at needs first: the slot holding `needTime`
   * (`KernelNeed.slot`), a group for key `needKey` (string id + 1, 0: null)
   * in the current slot (`KernelNeed.group`), or room for more rows than
   * `rows` (`KernelNeed.rows`).
   */
  need: number;
  needTime: number;
  needKey: number;
  /**
   * The group the caller made for the key the kernel asked for, when the
   * slot's array cannot hold it (a key past its dense part), else -1: the
   * line the kernel reads first takes it. The kernel sets it back to -1.
   */
  givenGroup: number;
}

/** Values of {@link KernelSink.need}. */
export const KernelNeed = { none: 0, slot: 1, group: 2, rows: 3 } as const;

/** What a fused kernel reads besides the layout: indexes of the scanner's fields, -1 for none. */
export interface KernelTarget {
  /** The event-time field (a timestamp). */
  readonly timeField: number;
  /** The grouping string field. */
  readonly keyField: number;
  /** Fields whose values each row keeps (numbers, timestamps in µs). */
  readonly valueFields: readonly number[];
}

/** A compiled fused kernel: see {@link JsonLineScanner.compileKernel}. `maxLine`: a longer line stops it. */
export type ChunkKernel = (bytes: Uint8Array, view: DataView, p: number, end: number, sink: KernelSink, maxLine: number) => number;
type KernelFactory = (recognizers: ReadonlyArray<StringRecognizer | null>, limit: Float64Array, ...helpers: CodeHelpers) => ChunkKernel;

const RECOGNIZER_BITS = 8;
const RECOGNIZER_SIZE = 1 << RECOGNIZER_BITS;
// Larger than any chunk: an empty entry's closing quote is never found.
const NO_LENGTH = 1 << 30;

/**
 * Recognises the strings of one field by their first four bytes and their
 * length, in front of a {@link ByteInterner}: a direct-mapped table keyed by
 * the first word gives a candidate; its closing quote in the right place and
 * the four bytes before that quote equal (and, for strings over 8 bytes, the
 * middle) make it that string. A miss takes the byte loop and the interner,
 * and enters the string. Only strings the scanner validated (ASCII, no
 * escape or control character) are entered, so a match is one too. Strings
 * are entered and looked up only by code compiled for one layout, right
 * after the field's literal and opening quote: the bytes around a short
 * string that its words cover are the same in every line.
 */
export class StringRecognizer {
  readonly words = new Int32Array(RECOGNIZER_SIZE);
  readonly lengths = new Int32Array(RECOGNIZER_SIZE).fill(NO_LENGTH);
  readonly tails = new Int32Array(RECOGNIZER_SIZE);
  readonly ids = new Int32Array(RECOGNIZER_SIZE);
  readonly #bytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(RECOGNIZER_SIZE);
  #interner: ByteInterner;

  constructor(interner: ByteInterner) {
    this.#interner = interner;
  }

  /** Forgets every string (the interner's dictionary was replaced). */
  reset(interner: ByteInterner): void {
    this.#interner = interner;
    this.lengths.fill(NO_LENGTH);
    this.#bytes.fill(undefined);
  }

  /** Whether `bytes` from `p` hold the middle of entry `h` (bytes 4 to length - 4): strings over 8 bytes. */
  same(h: number, bytes: Uint8Array, p: number): boolean {
    const entry = this.#bytes[h]!;
    const stop = entry.length - 4;
    for (let i = 4; i < stop; i++) if (entry[i] !== bytes[p + i]) return false;
    return true;
  }

  /** The id of the validated text `bytes[s, e)` whose FNV-1a hash is `hash`, entered for the next time (`end`: the chunk's end). */
  learn(bytes: Uint8Array, view: DataView, s: number, e: number, hash: number, end: number): number {
    const id = this.#interner.idOfHashed(bytes, s, e, hash);
    if (s + 4 <= end) {
      const word = view.getInt32(s, true);
      const h = Math.imul(word, -1640531535) >>> (32 - RECOGNIZER_BITS);
      const length = e - s;
      this.words[h] = word;
      this.lengths[h] = length;
      // The last word, whatever the length: a string under 4 bytes shares it with the bytes before
      // it, which are the field's literal and the opening quote in every line read this way. One
      // comparison for every length, because a branch on the length mispredicts on keys of mixed
      // lengths (the notebook's actions), which cost 7 ns a line.
      this.tails[h] = e >= 4 ? view.getInt32(e - 4, true) : 0;
      this.ids[h] = id;
      this.#bytes[h] = length > 8 ? bytes.slice(s, e) : undefined;
    }
    return id;
  }
}

/** One field of a learned layout, as the code generator needs it. */
interface LayoutField {
  readonly field: number;
  readonly kind: Kind;
  /** The bytes before the value: `{"name":` or `,"name":`. */
  readonly literal: Uint8Array;
  /** Digits of the value in the line that taught the layout (integers and timestamps; 0: negative or other). */
  readonly digits: number;
  readonly min: number;
  readonly max: number;
}

// Locals of the generated factory: each string field's recogniser and its arrays.
function recognizerLocals(layout: readonly LayoutField[]): string {
  return layout
    .filter((f) => f.kind === Kind.String)
    .map((f) => `const R${f.field} = recognizers[${f.field}], W${f.field} = R${f.field}.words, L${f.field} = R${f.field}.lengths, T${f.field} = R${f.field}.tails, I${f.field} = R${f.field}.ids;`)
    .join('\n');
}

// Little-endian words: `(w & 0xf0f0f0f0) === 0x30303030 && ((w + 0x06060606) & 0xf0f0f0f0) === 0x30303030`
// holds exactly when the four bytes are ASCII digits (no byte can carry into the next).
const HIGH_NIBBLES = 0xf0f0f0f0 | 0;
const DIGIT_NIBBLES = 0x30303030;

/**
 * Code that reads field `f` (the `k`-th of the layout) from `p`: its literal,
 * then its value into `v<k>` (string id, number, timestamp µs, boolean 0/1),
 * with `z<k>` true for a JSON null when `nulls` allows them. `fail` leaves
 * the line to the general path.
 */
function fieldCode(f: LayoutField, k: number, fail: string, nulls: boolean): string[] {
  const literal = f.literal;
  const compares: string[] = [];
  let i = 0;
  for (; i + 4 <= literal.length; i += 4) compares.push(`view.getInt32(p + ${i}, true) !== ${(literal[i]! | (literal[i + 1]! << 8) | (literal[i + 2]! << 16) | (literal[i + 3]! << 24)) | 0}`);
  for (; i + 2 <= literal.length; i += 2) compares.push(`view.getUint16(p + ${i}, true) !== ${literal[i]! | (literal[i + 1]! << 8)}`);
  for (; i < literal.length; i++) compares.push(`bytes[p + ${i}] !== ${literal[i]}`);
  const out = [`if (p + ${literal.length} > end || ${compares.join(' || ')}) ${fail}`, `p += ${literal.length};`, `let v${k} = 0;`];
  const value = valueCode(f, k, fail);
  if (!nulls) return [...out, ...value];
  // "null": its first byte, then the little-endian word. A value is seldom null, and the byte
  // alone turns most values away with one load and a predictable branch.
  return [...out, `let z${k} = false;`, `if (p < end && bytes[p] === 110 && p + 4 <= end && view.getInt32(p, true) === 1819047278) { z${k} = true; p += 4; } else {`, ...value, '}'];
}

function valueCode(f: LayoutField, k: number, fail: string): string[] {
  const v = `v${k}`;
  switch (f.kind) {
    case Kind.String:
      return [
        `if (p >= end || bytes[p] !== 34) ${fail}`,
        'p++;',
        `${v} = -1;`,
        'if (p + 4 <= end) {',
        '  const w = view.getInt32(p, true);',
        `  const h = Math.imul(w, -1640531535) >>> ${32 - RECOGNIZER_BITS};`,
        `  if (W${f.field}[h] === w) {`,
        `    const q = p + L${f.field}[h];`,
        `    if (q < end && bytes[q] === 34 && view.getInt32(q - 4, true) === T${f.field}[h] && (q - p <= 8 || R${f.field}.same(h, bytes, p))) { ${v} = I${f.field}[h]; p = q + 1; }`,
        '  }',
        '}',
        `if (${v} < 0) {`,
        '  const s = p;',
        `  let h = ${FNV_OFFSET};`,
        '  while (p < end && (c = bytes[p]) !== 34) {',
        `    if (c === 92 || c < 32 || c >= 128) ${fail}`,
        `    h = Math.imul(h ^ c, ${FNV_PRIME});`,
        '    p++;',
        '  }',
        `  if (p >= end) ${fail}`,
        `  ${v} = R${f.field}.learn(bytes, view, s, p, h, end);`,
        '  p++;',
        '}',
      ];
    case Kind.Timestamp:
    case Kind.Integer: {
      const out = [...integerCode(f, v, fail)];
      if (f.min > -Number.MAX_SAFE_INTEGER || f.max < Number.MAX_SAFE_INTEGER) out.push(`if (${v} < ${f.min} || ${v} > ${f.max}) ${fail}`);
      // A timestamp from a JSON integer is epoch seconds (Spark's JacksonParser).
      if (f.kind === Kind.Timestamp) out.push(`${v} *= 1000000;`, `if (${v} > maxTimestampUs) ${fail}`);
      return out;
    }
    case Kind.Double:
    case Kind.Float:
      return [`{ const stop = readDouble(bytes, p, end); if (stop < 0) ${fail} p = stop; }`, `${v} = ${f.kind === Kind.Float ? 'Math.fround(doubleValue())' : 'doubleValue()'};`];
    case Kind.Boolean:
      // "true", "fals" + "e" as little-endian words.
      return [`if (p + 4 <= end && view.getInt32(p, true) === 1702195828) { ${v} = 1; p += 4; } else if (p + 5 <= end && view.getInt32(p, true) === 1936482662 && bytes[p + 4] === 101) { ${v} = 0; p += 5; } else ${fail}`];
  }
}

// An integer of at most 15 digits (no fraction, exponent or leading zero) into `v`: the number of
// digits the layout was learned with at once, four per compare, else one by one.
function integerCode(f: LayoutField, v: string, fail: string): string[] {
  const loop = [
    `const neg = p < end && bytes[p] === 45;`,
    'if (neg) p++;',
    'const d = p;',
    `while (p < end && (c = bytes[p]) >= 48 && c <= 57) { ${v} = ${v} * 10 + (c - 48); p++; }`,
    `if (p === d || p - d > ${MAX_EXACT_DIGITS} || (p - d > 1 && bytes[d] === 48)) ${fail}`,
    `if (p < end && ((c = bytes[p]) === 46 || c === 101 || c === 69)) ${fail}`,
    `if (neg) ${v} = -${v};`,
  ];
  const n = f.digits;
  if (n < 4 || n > MAX_EXACT_DIGITS) return ['{', ...loop, '}'];
  const checks: string[] = [`p + ${n} <= end`, `bytes[p] !== 48`];
  const parts: string[] = [];
  let i = 0;
  let word = 0;
  for (; i + 4 <= n; i += 4, word++) {
    checks.push(`((a${word} = view.getInt32(p + ${i}, true)) & ${HIGH_NIBBLES}) === ${DIGIT_NIBBLES}`, `((a${word} + 101058054) & ${HIGH_NIBBLES}) === ${DIGIT_NIBBLES}`);
    // Digits d0..d3 (d0 in the low byte): d0 * 10 + d1 and d2 * 10 + d3 in bytes 0 and 2, no carry.
    parts.push(`(((t = Math.imul(a${word} - ${DIGIT_NIBBLES}, 10) + ((a${word} - ${DIGIT_NIBBLES}) >>> 8)) & 255) * 100 + ((t >>> 16) & 255))`);
  }
  for (; i < n; i++) {
    checks.push(`(b${i} = bytes[p + ${i}] - 48) >= 0`, `b${i} <= 9`);
    parts.push(`b${i}`);
  }
  // Not followed by another digit (nor a fraction or exponent, which the next literal refuses anyway).
  checks.push(`(p + ${n} === end || (c = bytes[p + ${n}]) < 48 || c > 57)`);
  let expression = parts[0]!;
  for (let j = 1, at = 4; j < parts.length; j++) {
    const digits = at + 4 <= n ? 4 : 1;
    at += digits;
    expression = `(${expression}) * ${10 ** digits} + ${parts[j]}`;
  }
  const locals = [...Array.from({ length: word }, (_, w) => `a${w} = 0`), ...Array.from({ length: n - word * 4 }, (_, j) => `b${word * 4 + j} = 0`), 't = 0'];
  return ['{', `let ${locals.join(', ')};`, `if (${checks.join(' && ')}) { ${v} = ${expression}; p += ${n}; } else {`, ...loop, '}', '}'];
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);
// The value readDouble read last (a module variable, not an object per call).
let lastDouble = 0;

/** The number {@link readDouble} read last. */
function doubleValue(): number {
  return lastDouble;
}

/**
 * Reads a JSON number at `p` when JSON.parse's value for it is one exact
 * IEEE operation — at most 15 significant digits times or divided by a power
 * of ten up to 10^22 (Clinger's fast path: both operands exact, one correctly
 * rounded result) — leaving the value in {@link doubleValue} and returning
 * where the number ends; -1 for anything else (other numbers, and what is
 * not a JSON number), which the caller leaves to JSON.parse.
 */
function readDouble(bytes: Uint8Array, p: number, end: number): number {
  let c = 0;
  const negative = p < end && bytes[p] === 45;
  if (negative) p++;
  const digitsStart = p;
  let mantissa = 0;
  while (p < end && (c = bytes[p]!) >= 48 && c <= 57) {
    mantissa = mantissa * 10 + (c - 48);
    p++;
  }
  let digits = p - digitsStart;
  if (digits === 0 || (digits > 1 && bytes[digitsStart] === 48)) return -1;
  let scale = 0;
  if (p < end && bytes[p] === 46) {
    p++;
    const fractionStart = p;
    while (p < end && (c = bytes[p]!) >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      p++;
    }
    if (p === fractionStart) return -1;
    digits += p - fractionStart;
    scale = fractionStart - p;
  }
  if (p < end && ((c = bytes[p]!) === 101 || c === 69)) {
    p++;
    const sign = p < end && (bytes[p] === 45 || bytes[p] === 43) ? bytes[p++] : 43;
    const exponentStart = p;
    let exponent = 0;
    while (p < end && (c = bytes[p]!) >= 48 && c <= 57) {
      exponent = exponent * 10 + (c - 48);
      p++;
    }
    if (p === exponentStart || p - exponentStart > 3) return -1;
    scale += sign === 45 ? -exponent : exponent;
  }
  if (digits > MAX_EXACT_DIGITS) return -1;
  let value: number;
  if (scale === 0) value = mantissa;
  else if (scale > 0 && scale <= 22) value = mantissa * POWERS_OF_TEN[scale]!;
  else if (scale < 0 && scale >= -22) value = mantissa / POWERS_OF_TEN[-scale]!;
  else return -1;
  lastDouble = negative ? -value : value;
  return p;
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
  // [0]: the largest timestamp (µs) read here; above it the general path decides (a malformed
  // record). One cell the compiled template reads too, so a new limit needs no new template.
  readonly #maxTimestampUs = new Float64Array([Infinity]);
  // The layout of the last compact line (`{"a":1,"b":"x"}`: no spaces, no
  // unknown keys, no nulls): field order and the literal bytes before each
  // value. Lines of one file nearly always share it, so it is tried first.
  #templateFields: number[] | null = null;
  #templateLiterals: Uint8Array[] = [];
  // Digits of each integer value of the line that taught the layout: the template reads that
  // many at once and takes the digit loop only for other lengths.
  #templateDigits: number[] = [];
  #lineFields: number[] = [];
  readonly #lineDigits: Int32Array;
  #compiledTemplate: TemplateFunction | null = null;
  // Fused kernels of the learned layout (see compileKernel), by target; emptied when it changes.
  #kernels = new Map<string, ChunkKernel>();
  #layoutVersion = 0;
  readonly #recognizers: Array<StringRecognizer | null>;
  #pos = 0;

  /** @internal */
  constructor(fields: Array<{ name: string; kind: Kind; min: number; max: number }>, dictionaries: ReadonlyArray<StringDictionary | null>) {
    this.#names = fields.map((f) => new TextEncoder().encode(f.name));
    this.#kinds = fields.map((f) => f.kind);
    this.#min = fields.map((f) => f.min);
    this.#max = fields.map((f) => f.max);
    this.#interners = fields.map((f, i) => (f.kind === Kind.String ? new ByteInterner(dictionaries[i] ?? new StringDictionary()) : null));
    this.#recognizers = this.#interners.map((interner) => (interner === null ? null : new StringRecognizer(interner)));
    this.#numbers = new Float64Array(fields.length);
    this.#isNull = new Uint8Array(fields.length);
    this.#seen = new Uint8Array(fields.length);
    this.#lineDigits = new Int32Array(fields.length);
  }

  /** Changes each time the scanner learns a layout: a kernel compiled before is stale. */
  get layoutVersion(): number {
    return this.#layoutVersion;
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
    if (this.#interners[index] === null) return;
    this.#interners[index] = new ByteInterner(dictionary);
    this.#recognizers[index]!.reset(this.#interners[index]);
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
            this.#lineDigits[field] = negative ? 0 : digits;
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
    this.#templateDigits = fields.map((f) => this.#lineDigits[f]!);
    this.#compiledTemplate = this.#compileTemplate();
    this.#kernels = new Map();
    this.#layoutVersion++;
  }

  // The learned layout, field by field, for code generation.
  #layout(): LayoutField[] {
    return this.#templateFields!.map((field, k) => ({
      field,
      kind: this.#kinds[field]!,
      literal: this.#templateLiterals[k]!,
      digits: this.#templateDigits[k]!,
      min: this.#min[field]!,
      max: this.#max[field]!,
    }));
  }

  // The template as straight-line code: constants compared inline, no loop over the layout.
  // Generated because V8 then compiles each comparison to one instruction, which is most of the
  // scanner's time. Any difference from the layout returns -1 and the general scan decides.
  #compileTemplate(): TemplateFunction {
    const layout = this.#layout();
    const lines: string[] = ['let c = 0;', 'const maxTimestampUs = limit[0];'];
    layout.forEach((f, k) => lines.push(...fieldCode(f, k, 'return -1;', false)));
    lines.push('if (p >= end || bytes[p] !== 125) return -1;', 'p++;', 'if (p !== end && bytes[p] !== 10) return -1;');
    for (let f = 0; f < this.#kinds.length; f++) {
      const k = layout.findIndex((l) => l.field === f);
      if (k < 0) lines.push(`columns[${f}].appendNull();`);
      else if (this.#kinds[f] === Kind.String) lines.push(`columns[${f}].appendDictId(v${k});`);
      else if (this.#kinds[f] === Kind.Boolean) lines.push(`columns[${f}].appendBoolean(v${k} === 1);`);
      else lines.push(`columns[${f}].appendNumber(v${k});`);
    }
    lines.push('return p;');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the scanner is compiled from the schema on purpose
    const build = new Function('recognizers', 'limit', 'readDouble', 'doubleValue', `${recognizerLocals(layout)}\nreturn function scanTemplate(bytes, view, p, end, columns) {\n${lines.join('\n')}\n};`) as TemplateFactory;
    return build(this.#recognizers, this.#maxTimestampUs, readDouble, doubleValue);
  }

  /**
   * The learned layout fused with what a partial aggregation does with each
   * line (see {@link KernelTarget}), or null before a layout is learned. The
   * kernel reads line after line from `p` while they have the layout (a
   * null value allowed anywhere), hands each one's time, key and values to
   * `sink`, and returns where it stopped: the start of the first line it
   * could not read (or past the end). It appends nothing for that line: the
   * caller gives the sink what it asked for ({@link KernelSink.need}) and
   * calls the kernel again, or, when it asked for nothing, reads the line
   * the general way. Kernels are kept per target until the
   * layout changes ({@link JsonLineScanner.layoutVersion}).
   */
  compileKernel(target: KernelTarget): ChunkKernel | null {
    if (this.#templateFields === null) return null;
    const id = `${target.timeField}/${target.keyField}/${target.valueFields.join(',')}`;
    let kernel = this.#kernels.get(id);
    if (kernel === undefined) {
      kernel = this.#buildKernel(target);
      this.#kernels.set(id, kernel);
    }
    return kernel;
  }

  #buildKernel(target: KernelTarget): ChunkKernel {
    const layout = this.#layout();
    const at = (field: number): number => (field < 0 ? -1 : layout.findIndex((l) => l.field === field));
    const fail = '{ p = ls; break line; }';
    const timeK = at(target.timeField);
    if (timeK >= 0 && layout[timeK]!.kind !== Kind.Timestamp) throw new TypeError('the kernel time field must be a timestamp');
    const keyK = at(target.keyField);
    if (keyK >= 0 && layout[keyK]!.kind !== Kind.String) throw new TypeError('the kernel key field must be a string');
    const values = target.valueFields.map(at);
    const lines: string[] = [
      'let c = 0;',
      'let maxUs = g.maxUs, minUs = g.minUs, sumUs = g.sumUs, rows = g.rows, lines = 0;',
      'let lastStart = g.lastStart, lastEnd = g.lastEnd, cur = g.cur, counts = g.counts, prevStart = g.prevStart, prevSlot = g.prevSlot;',
      'const slideUs = g.slideUs;',
      'let need = 0, needTime = 0, needKey = 0;',
      'const first = p, given = g.givenGroup;',
      // Loop invariants in locals: V8 reloaded the typed-array cell every line (the counts it
      // stores into could be the same memory), and compared the length limit as a double.
      'const maxTimestampUs = limit[0];',
      'const maxLength = maxLine >= end - p ? end : maxLine;',
    ];
    if (values.length > 0) {
      lines.push('let rowGroups = g.rowGroups, cap = rowGroups.length;');
      values.forEach((_, j) => lines.push(`let x${j} = g.values[${j}], n${j} = g.nulls[${j}];`));
    }
    lines.push('line: for (;;) {', 'const ls = p;', 'if (p >= end) break;');
    layout.forEach((f, k) => lines.push(...fieldCode(f, k, fail, true)));
    lines.push(`if (p >= end || bytes[p] !== 125) ${fail}`, 'p++;', `if ((p !== end && bytes[p] !== 10) || p - ls > maxLength) ${fail}`, 'let gi = -1;');
    // Whatever the line needs from the sink is asked for before anything is counted: the kernel
    // reads the line again once the caller has done it.
    if (values.length > 0) lines.push(`if (rows >= cap) { need = ${KernelNeed.rows}; p = ls; break line; }`);
    const timeNull = timeK < 0 ? 'true' : `z${timeK}`;
    const key = keyK < 0 ? '0' : `(z${keyK} ? 0 : v${keyK} + 1)`;
    lines.push(
      `if (${timeNull}) {`,
      '  if (0 > maxUs) maxUs = 0;',
      '  if (0 < minUs) minUs = 0;',
      '} else {',
      `  const t = v${timeK};`,
      '  if (!(t >= lastStart && t < lastEnd)) {',
      '    if (t >= prevStart && t < prevStart + slideUs) {',
      '      const start = prevStart, slot = prevSlot;',
      '      prevStart = lastStart; prevSlot = cur; lastStart = start; lastEnd = start + slideUs; cur = slot;',
      `    } else { need = ${KernelNeed.slot}; needTime = t; p = ls; break line; }`,
      '  }',
      `  const k = ${key};`,
      '  gi = k < cur.length ? cur[k] - 1 : -1;',
      '  if (gi < 0) {',
      `    if (ls !== first || given < 0) { need = ${KernelNeed.group}; needKey = k; p = ls; break line; }`,
      '    gi = given;',
      '  }',
      // Not `if (t > maxUs)`: times rise on most lines and fall back on many, so that branch
      // mispredicted on every other line (8 ns a line). Choosing through memory keeps `>`'s result exact.
      '  MAX[0] = maxUs; MAX[1] = t; maxUs = MAX[(t > maxUs) | 0];',
      '  if (t < minUs) minUs = t;',
      '  sumUs += t;',
      '  counts[gi]++;',
      '}',
      'lines++;',
    );
    if (values.length > 0) {
      lines.push('rowGroups[rows] = gi;');
      values.forEach((k, j) => lines.push(k < 0 ? `x${j}[rows] = 0; n${j}[rows] = 1;` : `if (z${k}) { x${j}[rows] = 0; n${j}[rows] = 1; } else { x${j}[rows] = v${k}; n${j}[rows] = 0; }`));
    }
    lines.push('rows++;', 'p++;', '}');
    lines.push(
      'g.maxUs = maxUs; g.minUs = minUs; g.sumUs = sumUs; g.rows = rows; g.lines += lines;',
      'g.lastStart = lastStart; g.lastEnd = lastEnd; g.cur = cur; g.prevStart = prevStart; g.prevSlot = prevSlot;',
      'g.need = need; g.needTime = needTime; g.needKey = needKey; g.givenGroup = -1;',
      'return p;',
    );
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the kernel is compiled from the schema and the plan on purpose
    const build = new Function('recognizers', 'limit', 'readDouble', 'doubleValue', `${recognizerLocals(layout)}\nconst MAX = new Float64Array(2);\nreturn function scanKernel(bytes, view, p, end, g, maxLine) {\n${lines.join('\n')}\n};`) as KernelFactory;
    return build(this.#recognizers, this.#maxTimestampUs, readDouble, doubleValue);
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
      case Kind.Double:
      case Kind.Float: {
        const value = this.#double(bytes, end);
        if (value === null) return false;
        this.#numbers[field] = this.#kinds[field] === Kind.Float ? Math.fround(value) : value;
        this.#isNull[field] = 0;
        return true;
      }
      default: {
        const value = this.#integer(bytes, end);
        if (value === null || value < this.#min[field]! || value > this.#max[field]!) return false;
        this.#lineDigits[field] = this.#lastDigits;
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
    this.#lastDigits = negative ? 0 : digits;
    return negative ? -value : value;
  }

  #lastDigits = 0;

  // A JSON number as JSON.parse reads it, when that is one exact IEEE operation (at most 15
  // significant digits, a power of ten up to 10^22: Clinger's fast path); null otherwise (and
  // for anything that is not a JSON number), which leaves the line to the general path.
  #double(bytes: Uint8Array, end: number): number | null {
    const p = this.#pos;
    const stop = readDouble(bytes, p, end);
    if (stop < 0) return null;
    this.#pos = stop;
    return lastDouble;
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

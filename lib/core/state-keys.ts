/**
 * Group keys of stateful operators as text, and the compact packing their
 * snapshots use. Stream-free and free of `node:` imports.
 *
 * State is keyed by the *values* of the key columns, never by dictionary
 * ids: a producer starts a new {@link StringDictionary} when one grows past
 * its limit, and a restarted query reads strings into fresh dictionaries, so
 * an id means nothing across batches. The text of a key is built so that
 * two keys have the same text exactly when Spark would group them together:
 * strings are JSON-quoted (so no separator inside a string can be mistaken
 * for one between columns), `-0` is written as `0` (Spark normalises floating
 * zeros in aggregation keys; its streaming deduplication does not, a
 * difference docs/sessions-and-deduplication.md records), null is `n`.
 *
 * @module
 */
import type { Column, StringDictionary } from './batch.js';

function numberText(n: number): string {
  // String(-0) is already "0"; NaN is "NaN" and equal to itself, as Spark's normalised NaN.
  return String(n);
}

/**
 * The text of one storage value (what {@link rawValueAt} returns): the same
 * text {@link KeyEncoder.encodeAt} builds from the column.
 */
export function encodeValue(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  switch (typeof value) {
    case 'number':
      return numberText(value);
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 't' : 'f';
    case 'bigint':
      return 'b' + value.toString();
    default:
      if (Array.isArray(value)) return '{' + value.map(encodeValue).join(',') + '}';
      return 'o' + JSON.stringify(value);
  }
}

/** The text of a whole key: one {@link encodeValue} per column, joined by `|`. */
export function encodeKeyValues(values: readonly unknown[]): string {
  if (values.length === 1) return encodeValue(values[0]);
  let text = '';
  for (let c = 0; c < values.length; c++) {
    if (c > 0) text += '|';
    text += encodeValue(values[c]);
  }
  return text;
}

/**
 * Builds key texts straight from columns, without a value array per row.
 * Quoted dictionary strings are cached per dictionary object, so a string
 * column costs one array read per row once its strings have been seen.
 */
export class KeyEncoder {
  readonly #quoted = new WeakMap<StringDictionary, Array<string | undefined>>();

  /** The key text of row `i` of `columns` (equal to {@link encodeKeyValues} of its raw values). */
  encodeAt(columns: readonly Column[], i: number): string {
    if (columns.length === 1) return this.#encodeColumnAt(columns[0]!, i);
    let text = '';
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) text += '|';
      text += this.#encodeColumnAt(columns[c]!, i);
    }
    return text;
  }

  #encodeColumnAt(column: Column, i: number): string {
    switch (column.kind) {
      case 'f64':
        return column.nulls !== null && column.nulls[i] === 1 ? 'n' : numberText(column.values[i]!);
      case 'dict': {
        const id = column.ids[i]!;
        if (id < 0) return 'n';
        let quoted = this.#quoted.get(column.dictionary);
        if (quoted === undefined) {
          quoted = [];
          this.#quoted.set(column.dictionary, quoted);
        }
        return (quoted[id] ??= JSON.stringify(column.dictionary.values[id]));
      }
      case 'bool':
        return column.nulls !== null && column.nulls[i] === 1 ? 'n' : column.values[i] === 1 ? 't' : 'f';
      case 'struct': {
        if (column.nulls !== null && column.nulls[i] === 1) return 'n';
        let text = '{';
        for (let c = 0; c < column.children.length; c++) {
          if (c > 0) text += ',';
          text += this.#encodeColumnAt(column.children[c]!, i);
        }
        return text + '}';
      }
      case 'any':
        return encodeValue(column.values[i]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packing: snapshots are written every micro-batch, so numbers travel as the base64 of their
// float64 bytes (exact, NaN included, about 11 characters a number) rather than decimal text.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Standard base64 (with `=` padding) of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  if (i < n) {
    const b1 = i + 1 < n ? bytes[i + 1]! : 0;
    const v = (bytes[i]! << 16) | (b1 << 8);
    chunk += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + (i + 1 < n ? ALPHABET[(v >> 6) & 63]! : '=') + '=';
  }
  parts.push(chunk);
  return parts.join('');
}

/** The bytes of a base64 text written by {@link bytesToBase64}; throws on any other character. */
export function base64ToBytes(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  const out = new Uint8Array(Math.floor((end * 6) / 8));
  let bits = 0;
  let buffer = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    const v = code < 128 ? DECODE[code]! : -1;
    if (v < 0) throw new RangeError(`not base64: character ${JSON.stringify(text[i])} at ${i}`);
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 255;
    }
  }
  return out;
}

/** Numbers as the base64 of their little-endian float64 bytes. */
export function packNumbers(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  return bytesToBase64(bytes);
}

/** The numbers of a {@link packNumbers} text. */
export function unpackNumbers(text: string): Float64Array {
  const bytes = base64ToBytes(text);
  if (bytes.length % 8 !== 0) throw new RangeError(`packed numbers: ${bytes.length} bytes is not a whole number of float64`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** One column of key values in a snapshot: packed numbers when every value is a number, else a JSON array. */
export type PackedColumn = { readonly f64: string } | { readonly values: readonly unknown[] };

/** Packs one column of storage values (numbers only → base64; anything else, nulls included → JSON array). */
export function packColumn(values: readonly unknown[]): PackedColumn {
  for (const v of values) if (typeof v !== 'number') return { values };
  return { f64: packNumbers(values as readonly number[]) };
}

/** The values of a {@link packColumn} result. */
export function unpackColumn(column: PackedColumn): readonly unknown[] {
  if ('values' in column) return column.values;
  return Array.from(unpackNumbers(column.f64));
}

/** Key value arrays (one per key, all of the same width) as packed columns. */
export function packKeys(keys: ReadonlyArray<readonly unknown[]>, width: number): PackedColumn[] {
  const columns: PackedColumn[] = [];
  for (let c = 0; c < width; c++) columns.push(packColumn(keys.map((k) => k[c] ?? null)));
  return columns;
}

/** The key value arrays of {@link packKeys} columns. */
export function unpackKeys(columns: readonly PackedColumn[], count: number): Array<readonly unknown[]> {
  const values = columns.map(unpackColumn);
  const keys: Array<readonly unknown[]> = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = values.map((column) => column[i] ?? null);
  return keys;
}

/**
 * Most groups (keys, sessions) in one checkpoint record of a stateful
 * operator: a record is written as one line, so lines stay a few MB.
 */
export const RECORD_GROUPS = 65_536;

/** `[from, to)` ranges of at most {@link RECORD_GROUPS} covering `[0, length)`: the records a list of groups is cut into. */
export function* recordRanges(length: number): IterableIterator<readonly [number, number]> {
  for (let from = 0; from < length; from += RECORD_GROUPS) yield [from, Math.min(length, from + RECORD_GROUPS)];
}

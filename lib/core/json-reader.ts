/**
 * Spark's JSON reader as a pure, stream-free object: one line of text, or a
 * line-aligned chunk of bytes, into rows of a schema, with Spark's
 * conversion rules and parse modes. `ParseSchema` is its stage; the same
 * code can run anywhere a chunk can be sent.
 *
 * @module
 */
import { TidemarkError, lineTooLong } from '../errors.js';
import { BatchBuilder, StringDictionary, type ColumnBuilder } from './batch.js';
import { appendJsonRecord } from './json-convert.js';
import { compileScanner, viewOf, type JsonLineScanner } from './json-scanner.js';
import { fieldIndex, type Schema } from './schema.js';

/** Spark's parse modes. */
export type ParseMode = 'PERMISSIVE' | 'DROPMALFORMED' | 'FAILFAST';

/** What a reader needs to know; validated by `ParseSchema`. */
export interface JsonReaderOptions {
  /** Output schema, corrupt-record column included when present. */
  readonly schema: Schema;
  readonly mode: ParseMode;
  readonly columnNameOfCorruptRecord: string;
  readonly timeZone: string;
}

/** Where a line came from, for errors. */
export interface LineLocation {
  readonly file: string | null;
  readonly line: number | null;
}

/** A string column's dictionary is replaced past this many entries, which bounds memory on unique values. */
export const MAX_DICTIONARY_SIZE = 1 << 16;

/** Reads JSON lines into batches of a schema. */
export class JsonReader {
  readonly schema: Schema;
  readonly mode: ParseMode;
  readonly #timeZone: string;
  readonly #corruptIndex: number;
  readonly #dataSchema: Schema;
  #dictionaries: StringDictionary[];
  #scanner: JsonLineScanner | null;
  #scratch: BatchBuilder | null = null;
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(options: JsonReaderOptions) {
    this.schema = options.schema;
    this.mode = options.mode;
    this.#timeZone = options.timeZone;
    this.#corruptIndex = fieldIndex(this.schema, options.columnNameOfCorruptRecord);
    this.#dataSchema = { fields: this.schema.fields.filter((_, i) => i !== this.#corruptIndex) };
    this.#dictionaries = this.schema.fields.map(() => new StringDictionary());
    this.#scanner = compileScanner(this.#dataSchema, this.#dataDictionaries());
  }

  #dataDictionaries(): StringDictionary[] {
    return this.#dictionaries.filter((_, i) => i !== this.#corruptIndex);
  }

  /** A builder for the next batch, sharing the reader's string dictionaries (replaced once they grow large). */
  newBuilder(capacity: number): BatchBuilder {
    this.#boundDictionaries();
    return new BatchBuilder(this.schema, capacity, this.#dictionaries);
  }

  /**
   * The same builder each time, emptied, for a caller that is done with the
   * previous batch before it asks again (a count that reads a chunk's batch
   * and drops it): no new arrays per chunk.
   */
  scratchBuilder(capacity: number): BatchBuilder {
    if (this.#boundDictionaries() || this.#scratch === null) this.#scratch = new BatchBuilder(this.schema, capacity, this.#dictionaries);
    else this.#scratch.reset();
    return this.#scratch;
  }

  // Replaces dictionaries that grew large; true when one was replaced.
  #boundDictionaries(): boolean {
    let replaced = false;
    for (let i = 0; i < this.#dictionaries.length; i++) {
      if (this.#dictionaries[i]!.size > MAX_DICTIONARY_SIZE) {
        this.#dictionaries[i] = new StringDictionary();
        replaced = true;
      }
    }
    if (replaced) this.#scanner = compileScanner(this.#dataSchema, this.#dataDictionaries());
    return replaced;
  }

  /**
   * Reads a chunk of whole lines (`bytes` ends at a newline, or at the end
   * of its file). Lines the compiled scanner reads go straight into the
   * columns; the others take {@link JsonReader.readText}. Returns the number
   * of lines (blank ones included) and of records read.
   *
   * @param firstLine - 1-based number of the chunk's first line in its file.
   * @param fileStart - the chunk opens its file (a byte-order mark is skipped).
   */
  readChunk(bytes: Uint8Array, builder: BatchBuilder, file: string, firstLine: number, fileStart: boolean, maxLineLength: number): { lines: number; records: number } {
    const dataBuilders = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    const scanner = this.#scanner;
    const view = viewOf(bytes);
    let line = firstLine;
    let records = 0;
    let pos = 0;
    const end = bytes.length;
    if (fileStart && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) pos = 3;
    while (pos < end) {
      const newline = scanner === null ? -1 : scanner.scanLine(bytes, pos, end, dataBuilders, view);
      if (newline >= 0) {
        if (newline - pos > maxLineLength) throw lineTooLong(file, line, maxLineLength);
        corrupt?.appendNull();
        builder.endRow();
        records++;
        pos = newline + 1;
        line++;
        continue;
      }
      let lineEnd = bytes.indexOf(0x0a, pos);
      if (lineEnd < 0) lineEnd = end;
      if (lineEnd - pos > maxLineLength) throw lineTooLong(file, line, maxLineLength);
      // split2's /\r?\n/: a \r is part of the line ending only before a \n.
      const textEnd = lineEnd < end && lineEnd > pos && bytes[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd;
      let text: string;
      let valid = true;
      try {
        text = this.#utf8.decode(bytes.subarray(pos, textEnd));
      } catch {
        text = Buffer.from(bytes.buffer, bytes.byteOffset + pos, textEnd - pos).toString('utf8');
        valid = false;
      }
      if (!isBlank(text)) records++;
      this.#readText(text, valid, builder, dataBuilders, corrupt, { file, line });
      pos = lineEnd + 1;
      line++;
    }
    return { lines: line - firstLine, records };
  }

  /** Reads one line of text (`valid` false: its bytes were not UTF-8) into `builder`. */
  readText(text: string, valid: boolean, builder: BatchBuilder, where: LineLocation): void {
    const dataBuilders = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    this.#readText(text, valid, builder, dataBuilders, corrupt, where);
  }

  // One line through JSON.parse and Spark's conversion rules, with the parse mode.
  #readText(text: string, valid: boolean, builder: BatchBuilder, dataBuilders: readonly ColumnBuilder[], corrupt: ColumnBuilder | null, where: LineLocation): void {
    if (isBlank(text)) return;
    let parsed: unknown;
    let broken = !valid;
    if (!broken) {
      try {
        parsed = JSON.parse(text);
      } catch {
        broken = true;
      }
    }
    if (broken) {
      if (this.mode === 'FAILFAST') throw malformed(text, where);
      if (this.mode === 'DROPMALFORMED') return;
      for (const b of dataBuilders) b.appendNull();
      corrupt?.appendString(text);
      builder.endRow();
      return;
    }
    const options = { timeZone: this.#timeZone, dropMalformed: this.mode !== 'PERMISSIVE' };
    // A top-level array is one record per element.
    const records = Array.isArray(parsed) ? parsed : [parsed];
    for (const record of records) {
      const failed = appendJsonRecord(dataBuilders, this.#dataSchema, record, options);
      if (failed === null) {
        corrupt?.appendNull();
        builder.endRow();
      } else if (this.mode === 'PERMISSIVE') {
        corrupt?.appendString(text);
        builder.endRow();
      } else if (this.mode === 'FAILFAST') {
        throw malformed(text, where);
      }
    }
  }
}

/** FAILFAST's error, with Spark's message and the file and line. */
export function malformed(text: string, where: LineLocation): TidemarkError {
  const { file, line } = where;
  const at = file === null ? '' : ` (${file}${line === null ? '' : `, line ${line}`})`;
  return new TidemarkError(
    'ERR_MALFORMED_RECORD',
    `[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: ${text}. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.${at}`,
    { ...(file === null ? {} : { file }), ...(line === null ? {} : { line }) },
  );
}

/** True for a line of JSON whitespace only (no record, no error). */
export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

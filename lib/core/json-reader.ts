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
import { appendJsonRecord, convertJsonValue } from './json-convert.js';
import { compileScanner, viewOf, type ChunkKernel, type JsonLineScanner } from './json-scanner.js';
import { fieldIndex, type Schema } from './schema.js';
import { formatTimestampUtcMillis } from './timestamp.js';

/** Spark's parse modes. */
export type ParseMode = 'PERMISSIVE' | 'DROPMALFORMED' | 'FAILFAST';

/** What a reader needs to know; validated by `ParseSchema`. */
export interface JsonReaderOptions {
  /** Output schema, corrupt-record column included when present. */
  readonly schema: Schema;
  readonly mode: ParseMode;
  readonly columnNameOfCorruptRecord: string;
  readonly timeZone: string;
  /**
   * A top-level timestamp more than this past the batch's processing time
   * (see {@link JsonReader.setBatchTimestamp}) makes its record malformed;
   * `text` is the option as the user wrote it, for messages. None when
   * absent or null.
   */
  readonly maxEventTimeAhead?: { readonly us: number; readonly text: string } | null;
}

/** What {@link JsonReader.readChunk} read. */
export interface ChunkRead {
  /** Lines, blank ones included. */
  readonly lines: number;
  /** Records: lines that are not blank. */
  readonly records: number;
  /** Malformed records kept (PERMISSIVE) or dropped (DROPMALFORMED); an array line counts each bad element. */
  readonly malformed: number;
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
  readonly #maxEventTimeAhead: { readonly us: number; readonly text: string } | null;
  // Set per micro-batch from its processing time; Infinity until then, or without the option.
  #maxTimestampUs = Infinity;
  #batchTimestampMs = NaN;

  constructor(options: JsonReaderOptions) {
    this.schema = options.schema;
    this.mode = options.mode;
    this.#timeZone = options.timeZone;
    this.#maxEventTimeAhead = options.maxEventTimeAhead ?? null;
    this.#corruptIndex = fieldIndex(this.schema, options.columnNameOfCorruptRecord);
    this.#dataSchema = { fields: this.schema.fields.filter((_, i) => i !== this.#corruptIndex) };
    this.#dictionaries = this.schema.fields.map(() => new StringDictionary());
    this.#scanner = compileScanner(this.#dataSchema, this.#dataDictionaries());
  }

  /**
   * The processing time of the micro-batch about to be read (Spark's
   * `batchTimestampMs`): with `maxEventTimeAhead`, a timestamp more than that
   * past it is malformed. Taken from the batch's `begin`, so a re-executed
   * batch decides the same.
   */
  setBatchTimestamp(batchTimestampMs: number): void {
    if (this.#maxEventTimeAhead === null) return;
    this.#batchTimestampMs = batchTimestampMs;
    this.#maxTimestampUs = batchTimestampMs * 1000 + this.#maxEventTimeAhead.us;
    this.#scanner?.setMaxTimestampUs(this.#maxTimestampUs);
  }

  /**
   * The scanner's fused kernel for the layout it learned last (see
   * `JsonLineScanner.compileKernel`), reading the given schema columns (-1:
   * none), or null: no layout learned yet, or no scanner for this schema.
   * Compare {@link JsonReader.layoutVersion} to know when to ask again.
   */
  kernel(timeIndex: number, keyIndex: number, valueIndexes: readonly number[]): ChunkKernel | null {
    const data = (i: number): number => (i < 0 || i === this.#corruptIndex ? -1 : i > this.#corruptIndex && this.#corruptIndex >= 0 ? i - 1 : i);
    return this.#scanner?.compileKernel({ timeField: data(timeIndex), keyField: data(keyIndex), valueFields: valueIndexes.map(data) }) ?? null;
  }

  /** Changes when the scanner learns a layout or is replaced: kernels asked for before are stale. */
  get layoutVersion(): number {
    return this.#scannerGeneration * 65536 + (this.#scanner?.layoutVersion ?? 0);
  }

  #scannerGeneration = 0;

  /** The dictionary string column `index` of the schema interns into now. */
  dictionaryOf(index: number): StringDictionary {
    return this.#dictionaries[index]!;
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
    if (replaced) {
      this.#scannerGeneration++;
      this.#scanner = compileScanner(this.#dataSchema, this.#dataDictionaries());
      this.#scanner?.setMaxTimestampUs(this.#maxTimestampUs);
    }
    return replaced;
  }

  /**
   * Reads a chunk of whole lines (`bytes` ends at a newline, or at the end
   * of its file). Lines the compiled scanner reads go straight into the
   * columns; the others take {@link JsonReader.readText}. Returns the number
   * of lines (blank ones included), of records and of malformed records read.
   *
   * @param firstLine - 1-based number of the chunk's first line in its file.
   * @param fileStart - the chunk opens its file (a byte-order mark is skipped).
   */
  readChunk(bytes: Uint8Array, builder: BatchBuilder, file: string, firstLine: number, fileStart: boolean, maxLineLength: number): ChunkRead {
    const dataBuilders = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    const scanner = this.#scanner;
    const view = viewOf(bytes);
    let line = firstLine;
    let records = 0;
    let malformed = 0;
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
      malformed += this.#readText(text, valid, builder, dataBuilders, corrupt, { file, line });
      pos = lineEnd + 1;
      line++;
    }
    return { lines: line - firstLine, records, malformed };
  }

  /**
   * Reads one line of text (`valid` false: its bytes were not UTF-8) into
   * `builder`. Returns the number of malformed records it held (kept or
   * dropped by the parse mode).
   */
  readText(text: string, valid: boolean, builder: BatchBuilder, where: LineLocation): number {
    const dataBuilders = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    return this.#readText(text, valid, builder, dataBuilders, corrupt, where);
  }

  // One line through JSON.parse and Spark's conversion rules, with the parse mode; returns its malformed records.
  #readText(text: string, valid: boolean, builder: BatchBuilder, dataBuilders: readonly ColumnBuilder[], corrupt: ColumnBuilder | null, where: LineLocation): number {
    if (isBlank(text)) return 0;
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
      if (this.mode === 'DROPMALFORMED') return 1;
      for (const b of dataBuilders) b.appendNull();
      corrupt?.appendString(text);
      builder.endRow();
      return 1;
    }
    const options = { timeZone: this.#timeZone, dropMalformed: this.mode !== 'PERMISSIVE', maxTimestampUs: this.#maxTimestampUs };
    // A top-level array is one record per element.
    const records = Array.isArray(parsed) ? parsed : [parsed];
    let bad = 0;
    for (const record of records) {
      const failed = appendJsonRecord(dataBuilders, this.#dataSchema, record, options);
      if (failed === null) {
        corrupt?.appendNull();
        builder.endRow();
        continue;
      }
      bad++;
      if (this.mode === 'PERMISSIVE') {
        corrupt?.appendString(text);
        builder.endRow();
      } else if (this.mode === 'FAILFAST') {
        throw malformed(text, where, this.#aheadReason(record, failed.failedField));
      }
    }
    return bad;
  }

  // Why field `index` of `record` failed when it is a timestamp past the limit (for FAILFAST's message), else null.
  #aheadReason(record: unknown, index: number): string | null {
    const ahead = this.#maxEventTimeAhead;
    const field = this.#dataSchema.fields[index];
    if (ahead === null || field === undefined || typeof record !== 'object' || record === null) return null;
    const converted = convertJsonValue((record as Record<string, unknown>)[field.name], field.dataType, { timeZone: this.#timeZone });
    if (!converted.ok || typeof converted.value !== 'number' || converted.value * 1000 <= this.#maxTimestampUs) return null;
    return `\`${field.name}\` is ${formatTimestampUtcMillis(converted.value)}, more than maxEventTimeAhead (${ahead.text}) past the batch's processing time ${formatTimestampUtcMillis(this.#batchTimestampMs)}.`;
  }
}

/**
 * FAILFAST's error, with Spark's message, then why when tidemark has more to
 * say (`reason`), then the file and line.
 */
export function malformed(text: string, where: LineLocation, reason: string | null = null): TidemarkError {
  const { file, line } = where;
  const at = file === null ? '' : ` (${file}${line === null ? '' : `, line ${line}`})`;
  return new TidemarkError(
    'ERR_MALFORMED_RECORD',
    `[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: ${text}. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.${reason === null ? '' : ` ${reason}`}${at}`,
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

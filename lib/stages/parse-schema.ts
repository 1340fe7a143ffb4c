/**
 * `ParseSchema`: Spark's JSON reader with a user schema
 * (`spark.readStream.schema("time timestamp, action string").json(dir)`),
 * as a stage that turns lines into typed rows.
 *
 * Conversion follows Spark's JacksonParser (an integer timestamp is epoch
 * seconds, a string is cast; missing fields are null, extra fields ignored),
 * and malformed records are handled by the parse mode: PERMISSIVE (nulls,
 * and the raw line in `columnNameOfCorruptRecord` when the schema has that
 * column), DROPMALFORMED (dropped), FAILFAST (the query fails, naming file
 * and line).
 *
 * @module
 */
import { TidemarkError, lineTooLong } from '../errors.js';
import { BatchBuilder, rawValueAt, StringDictionary, type Column, type ColumnBuilder, type RecordBatch } from '../core/batch.js';
import { compileScanner, type JsonLineScanner } from '../core/json-scanner.js';
import { parseDDL, schemaToDDL } from '../core/ddl.js';
import { appendJsonRecord } from '../core/json-convert.js';
import { fieldIndex, type Schema } from '../core/schema.js';
import { defaultTimeZone, isValidTimeZone } from '../core/timestamp.js';
import type { StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

/** Spark's parse modes. */
export type ParseMode = 'PERMISSIVE' | 'DROPMALFORMED' | 'FAILFAST';

/** Options of {@link ParseSchema}. */
export interface ParseSchemaOptions {
  /** The rows' schema: a Spark DDL string (`"time timestamp, action string"`) or a schema value. */
  schema: string | Schema;
  /** What to do with a malformed record; PERMISSIVE by default. Case-insensitive. */
  mode?: ParseMode | Lowercase<ParseMode>;
  /** Column that receives the raw text of a malformed record (PERMISSIVE), when the schema has it. */
  columnNameOfCorruptRecord?: string;
  /** Zone of timestamp strings that carry none; the process's zone by default (Spark's session zone). */
  timeZone?: string;
}

const SNAPSHOT_VERSION = 1;
// A string column's dictionary is replaced past this many entries, which bounds memory on unique values.
const MAX_DICTIONARY_SIZE = 1 << 16;

/**
 * Parses JSON lines (the `value` column of a `FileSource`, or of any stream
 * with a `value` string column) into rows of a schema.
 */
export class ParseSchema extends Stage {
  // configuration
  readonly schema: Schema;
  readonly mode: ParseMode;
  readonly columnNameOfCorruptRecord: string;
  readonly timeZone: string;
  readonly #corruptIndex: number;
  readonly #dataSchema: Schema;
  // transient
  #valueIndex = -1;
  #fileIndex = -1;
  #lineIndex = -1;
  #validIndex = -1;
  #chunkIndex = -1;
  #offsetIndex = -1;
  #maxLineLength = Infinity;
  #dictionaries: StringDictionary[];
  #scanner: JsonLineScanner | null;
  // Line number of the next line of each file being read in chunks.
  readonly #nextLine = new Map<string, number>();
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });
  // Lines read in chunk mode this micro-batch (blank lines excluded): the batch's input rows.
  #recordsInBatch = 0;

  constructor(options: ParseSchemaOptions) {
    super();
    if (options?.schema === undefined) throw new TidemarkError('ERR_INVALID_OPTION', 'ParseSchema needs a schema', { option: 'schema' });
    const parsed = typeof options.schema === 'string' ? parseDDL(options.schema) : options.schema;
    // File sources force every field nullable (spark.sql.streaming.fileSource.schema.forceNullable).
    this.schema = { fields: parsed.fields.map((f) => ({ ...f, nullable: true })) };
    const mode = (options.mode ?? 'PERMISSIVE').toUpperCase();
    if (mode !== 'PERMISSIVE' && mode !== 'DROPMALFORMED' && mode !== 'FAILFAST') {
      throw new TidemarkError('ERR_INVALID_OPTION', `mode must be PERMISSIVE, DROPMALFORMED or FAILFAST, got '${options.mode}'`, { option: 'mode' });
    }
    this.mode = mode;
    this.columnNameOfCorruptRecord = options.columnNameOfCorruptRecord ?? '_corrupt_record';
    this.timeZone = options.timeZone ?? defaultTimeZone();
    if (!isValidTimeZone(this.timeZone)) throw new TidemarkError('ERR_INVALID_OPTION', `unknown time zone '${this.timeZone}'`, { option: 'timeZone' });
    this.#corruptIndex = fieldIndex(this.schema, this.columnNameOfCorruptRecord);
    if (this.#corruptIndex >= 0 && this.schema.fields[this.#corruptIndex]!.dataType.type !== 'string') {
      throw new TidemarkError('ERR_INVALID_OPTION', 'The field for corrupt records must be string type and nullable', { option: 'columnNameOfCorruptRecord' });
    }
    this.#dataSchema = { fields: this.schema.fields.filter((_, i) => i !== this.#corruptIndex) };
    this.#dictionaries = this.schema.fields.map(() => new StringDictionary());
    this.#scanner = compileScanner(this.#dataSchema, this.#dataDictionaries());
  }

  #dataDictionaries(): StringDictionary[] {
    return this.#dictionaries.filter((_, i) => i !== this.#corruptIndex);
  }

  override get stateful(): boolean {
    // No state, but its configuration is checkpointed so a restart with another schema is refused.
    return true;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    this.#chunkIndex = fieldIndex(input, 'chunk');
    this.#valueIndex = fieldIndex(input, 'value');
    if (this.#chunkIndex >= 0) {
      this.#maxLineLength = input.fields[this.#chunkIndex]!.metadata?.maxLength ?? Infinity;
      this.#fileIndex = fieldIndex(input, 'file');
      this.#offsetIndex = fieldIndex(input, 'offset');
      return this.schema;
    }
    if (this.#valueIndex < 0 || input.fields[this.#valueIndex]!.dataType.type !== 'string') {
      throw new TidemarkError('ERR_SCHEMA_MISMATCH', 'ParseSchema reads a `value` string column or a `chunk` binary column (a FileSource emits one)');
    }
    this.#fileIndex = fieldIndex(input, 'file');
    this.#lineIndex = fieldIndex(input, 'line');
    this.#validIndex = fieldIndex(input, 'valid');
    return this.schema;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    if (item.kind !== 'rows') {
      if (item.kind === 'barrier') {
        if (this.#chunkIndex >= 0) item.progress.numInputRows = this.#recordsInBatch;
        this.#recordsInBatch = 0;
        this.stamp(item);
      }
      yield item;
      return;
    }
    const out = this.#chunkIndex >= 0 ? this.#parseChunks(item.batch) : this.#parse(item.batch);
    if (out.length > 0) yield { kind: 'rows', batch: out };
  }

  #refreshDictionaries(): void {
    let replaced = false;
    for (let i = 0; i < this.#dictionaries.length; i++) {
      if (this.#dictionaries[i]!.size > MAX_DICTIONARY_SIZE) {
        this.#dictionaries[i] = new StringDictionary();
        replaced = true;
      }
    }
    if (replaced) this.#scanner = compileScanner(this.#dataSchema, this.#dataDictionaries());
  }

  #parse(batch: RecordBatch): RecordBatch {
    this.#refreshDictionaries();
    const builder = new BatchBuilder(this.schema, batch.length, this.#dictionaries);
    const dataBuilders = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    const values = batch.columns[this.#valueIndex]! as Extract<Column, { kind: 'dict' }>;
    const valid = this.#validIndex >= 0 ? (batch.columns[this.#validIndex] as Extract<Column, { kind: 'bool' }>) : null;
    for (let i = 0; i < batch.length; i++) {
      const id = values.ids[i]!;
      if (id < 0) continue;
      this.#parseText(values.dictionary.values[id]!, valid === null || valid.values[i] === 1, builder, dataBuilders, corrupt, () => this.#lineOf(batch, i));
    }
    return builder.finish();
  }

  // The fast path: scan line-aligned byte chunks with the compiled scanner;
  // a line it declines goes through #parseText like any other line.
  #parseChunks(batch: RecordBatch): RecordBatch {
    this.#refreshDictionaries();
    const chunks = batch.columns[this.#chunkIndex] as Extract<Column, { kind: 'any' }>;
    let capacity = 0;
    for (let r = 0; r < batch.length; r++) capacity += Math.ceil(((chunks.values[r] as Uint8Array | null)?.length ?? 0) / 32);
    const builder = new BatchBuilder(this.schema, capacity, this.#dictionaries);
    const dataBuilders = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    const scanner = this.#scanner;
    const maxLineLength = this.#maxLineLength;
    for (let r = 0; r < batch.length; r++) {
      const bytes = chunks.values[r] as Uint8Array | null;
      if (bytes === null) continue;
      const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, r) as string) : '(input)';
      const offset = this.#offsetIndex >= 0 ? (rawValueAt(batch.columns[this.#offsetIndex]!, r) as number) : 0;
      let line = offset === 0 ? 1 : (this.#nextLine.get(file) ?? 1);
      let pos = 0;
      const end = bytes.length;
      // A byte-order mark opens the file's first chunk only.
      if (offset === 0 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) pos = 3;
      while (pos < end) {
        const newline = scanner === null ? -1 : scanner.scanLine(bytes, pos, end, dataBuilders);
        if (newline >= 0) {
          if (newline - pos > maxLineLength) throw lineTooLong(file, line, maxLineLength);
          corrupt?.appendNull();
          builder.endRow();
          this.#recordsInBatch++;
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
        const lineNumber = line;
        if (!isBlank(text)) this.#recordsInBatch++;
        this.#parseText(text, valid, builder, dataBuilders, corrupt, () => ({ file, line: lineNumber }));
        pos = lineEnd + 1;
        line++;
      }
      this.#nextLine.set(file, line);
    }
    return builder.finish();
  }

  // One line through JSON.parse and Spark's conversion rules, with the parse mode.
  #parseText(text: string, valid: boolean, builder: BatchBuilder, dataBuilders: readonly ColumnBuilder[], corrupt: ColumnBuilder | null, where: () => { file: string | null; line: number | null }): void {
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
      if (this.mode === 'FAILFAST') throw this.#failFast(text, where());
      if (this.mode === 'DROPMALFORMED') return;
      for (const b of dataBuilders) b.appendNull();
      corrupt?.appendString(text);
      builder.endRow();
      return;
    }
    const options = { timeZone: this.timeZone, dropMalformed: this.mode !== 'PERMISSIVE' };
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
        throw this.#failFast(text, where());
      }
    }
  }

  #lineOf(batch: RecordBatch, i: number): { file: string | null; line: number | null } {
    const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, i) as string | null) : null;
    const line = this.#lineIndex >= 0 ? (rawValueAt(batch.columns[this.#lineIndex]!, i) as number | null) : null;
    return { file, line };
  }

  #failFast(text: string, where: { file: string | null; line: number | null }): TidemarkError {
    const { file, line } = where;
    const at = file === null ? '' : ` (${file}${line === null ? '' : `, line ${line}`})`;
    return new TidemarkError(
      'ERR_MALFORMED_RECORD',
      `[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: ${text}. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.${at}`,
      { ...(file === null ? {} : { file }), ...(line === null ? {} : { line }) },
    );
  }

  override snapshot(): StageSnapshot {
    return { stage: 'ParseSchema', version: SNAPSHOT_VERSION, configuration: this.#configuration(), state: null };
  }

  override restore(snapshot: StageSnapshot): void {
    checkSnapshot(snapshot, 'ParseSchema', SNAPSHOT_VERSION, this.#configuration());
  }

  #configuration(): Record<string, unknown> {
    return { schema: schemaToDDL(this.schema), mode: this.mode, columnNameOfCorruptRecord: this.columnNameOfCorruptRecord };
  }
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

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
import { TidemarkError } from '../errors.js';
import { rawValueAt, type Column, type RecordBatch } from '../core/batch.js';
import { parseDDL, schemaToDDL } from '../core/ddl.js';
import { JsonReader, type LineLocation, type ParseMode } from '../core/json-reader.js';
import { fieldIndex, type Schema } from '../core/schema.js';
import { defaultTimeZone, isValidTimeZone } from '../core/timestamp.js';
import type { StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

export type { ParseMode } from '../core/json-reader.js';

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
  // transient
  #valueIndex = -1;
  #fileIndex = -1;
  #lineIndex = -1;
  #validIndex = -1;
  #chunkIndex = -1;
  #offsetIndex = -1;
  #maxLineLength = Infinity;
  readonly #reader: JsonReader;
  // The file being read in chunks (a source reads one file at a time) and its next line number.
  #lineFile: string | null = null;
  #nextLine = 1;
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
    const corruptIndex = fieldIndex(this.schema, this.columnNameOfCorruptRecord);
    if (corruptIndex >= 0 && this.schema.fields[corruptIndex]!.dataType.type !== 'string') {
      throw new TidemarkError('ERR_INVALID_OPTION', 'The field for corrupt records must be string type and nullable', { option: 'columnNameOfCorruptRecord' });
    }
    this.#reader = new JsonReader({ schema: this.schema, mode: this.mode, columnNameOfCorruptRecord: this.columnNameOfCorruptRecord, timeZone: this.timeZone });
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

  #parse(batch: RecordBatch): RecordBatch {
    const reader = this.#reader;
    const builder = reader.newBuilder(batch.length);
    const values = batch.columns[this.#valueIndex]! as Extract<Column, { kind: 'dict' }>;
    const valid = this.#validIndex >= 0 ? (batch.columns[this.#validIndex] as Extract<Column, { kind: 'bool' }>) : null;
    for (let i = 0; i < batch.length; i++) {
      const id = values.ids[i]!;
      if (id < 0) continue;
      reader.readText(values.dictionary.values[id]!, valid === null || valid.values[i] === 1, builder, this.#lineOf(batch, i));
    }
    return builder.finish();
  }

  // The fast path: line-aligned byte chunks through the reader's compiled scanner.
  #parseChunks(batch: RecordBatch): RecordBatch {
    const chunks = batch.columns[this.#chunkIndex] as Extract<Column, { kind: 'any' }>;
    let capacity = 0;
    for (let r = 0; r < batch.length; r++) capacity += Math.ceil(((chunks.values[r] as Uint8Array | null)?.length ?? 0) / 32);
    const builder = this.#reader.newBuilder(capacity);
    for (let r = 0; r < batch.length; r++) {
      const bytes = chunks.values[r] as Uint8Array | null;
      if (bytes === null) continue;
      const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, r) as string) : '(input)';
      const offset = this.#offsetIndex >= 0 ? (rawValueAt(batch.columns[this.#offsetIndex]!, r) as number) : 0;
      const firstLine = offset === 0 || file !== this.#lineFile ? 1 : this.#nextLine;
      const { lines, records } = this.#reader.readChunk(bytes, builder, file, firstLine, offset === 0, this.#maxLineLength);
      this.#recordsInBatch += records;
      this.#lineFile = file;
      this.#nextLine = firstLine + lines;
    }
    return builder.finish();
  }

  #lineOf(batch: RecordBatch, i: number): LineLocation {
    const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, i) as string | null) : null;
    const line = this.#lineIndex >= 0 ? (rawValueAt(batch.columns[this.#lineIndex]!, i) as number | null) : null;
    return { file, line };
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


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
import { BatchBuilder, StringDictionary, type Column, type ColumnBuilder, type RecordBatch } from '../core/batch.js';
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
  #dictionaries: StringDictionary[];

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
  }

  override get stateful(): boolean {
    // No state, but its configuration is checkpointed so a restart with another schema is refused.
    return true;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    this.#valueIndex = fieldIndex(input, 'value');
    if (this.#valueIndex < 0 || input.fields[this.#valueIndex]!.dataType.type !== 'string') {
      throw new TidemarkError('ERR_SCHEMA_MISMATCH', 'ParseSchema reads a `value` string column (a FileSource emits one)');
    }
    this.#fileIndex = fieldIndex(input, 'file');
    this.#lineIndex = fieldIndex(input, 'line');
    this.#validIndex = fieldIndex(input, 'valid');
    return this.schema;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    if (item.kind !== 'rows') {
      if (item.kind === 'barrier') this.stamp(item);
      yield item;
      return;
    }
    const out = this.#parse(item.batch);
    if (out.length > 0) yield { kind: 'rows', batch: out };
  }

  #parse(batch: RecordBatch): RecordBatch {
    for (let i = 0; i < this.#dictionaries.length; i++) {
      if (this.#dictionaries[i]!.size > MAX_DICTIONARY_SIZE) this.#dictionaries[i] = new StringDictionary();
    }
    const builder = new BatchBuilder(this.schema, batch.length, this.#dictionaries);
    const dataBuilders: ColumnBuilder[] = builder.columns.filter((_, i) => i !== this.#corruptIndex);
    const corrupt = this.#corruptIndex >= 0 ? builder.columns[this.#corruptIndex]! : null;
    const values = batch.columns[this.#valueIndex]! as Extract<Column, { kind: 'dict' }>;
    const valid = this.#validIndex >= 0 ? (batch.columns[this.#validIndex] as Extract<Column, { kind: 'bool' }>) : null;
    const options = { timeZone: this.timeZone, dropMalformed: this.mode !== 'PERMISSIVE' };
    for (let i = 0; i < batch.length; i++) {
      const id = values.ids[i]!;
      if (id < 0) continue;
      const text = values.dictionary.values[id]!;
      if (isBlank(text)) continue;
      let parsed: unknown;
      let broken = valid !== null && valid.values[i] === 0;
      if (!broken) {
        try {
          parsed = JSON.parse(text);
        } catch {
          broken = true;
        }
      }
      if (broken) {
        this.#malformed(batch, i, text, dataBuilders, corrupt, builder);
        continue;
      }
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
          throw this.#failFast(batch, i, text);
        }
      }
    }
    return builder.finish();
  }

  #malformed(batch: RecordBatch, i: number, text: string, dataBuilders: ColumnBuilder[], corrupt: ColumnBuilder | null, builder: BatchBuilder): void {
    if (this.mode === 'FAILFAST') throw this.#failFast(batch, i, text);
    if (this.mode === 'DROPMALFORMED') return;
    for (const b of dataBuilders) b.appendNull();
    corrupt?.appendString(text);
    builder.endRow();
  }

  #failFast(batch: RecordBatch, i: number, text: string): TidemarkError {
    const file = this.#fileIndex >= 0 ? (batch.row(i)[batch.schema.fields[this.#fileIndex]!.name] as string | null) : null;
    const lineValue = this.#lineIndex >= 0 ? (batch.row(i)[batch.schema.fields[this.#lineIndex]!.name] as number | null) : null;
    const where = file === null ? '' : ` (${file}${lineValue === null ? '' : `, line ${lineValue}`})`;
    return new TidemarkError(
      'ERR_MALFORMED_RECORD',
      `[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: ${text}. Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'.${where}`,
      { ...(file === null ? {} : { file }), ...(lineValue === null ? {} : { line: lineValue }) },
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

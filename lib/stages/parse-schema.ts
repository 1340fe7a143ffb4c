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
 * and line). Malformed records kept or dropped are counted in the progress
 * (`sources[0].metrics.numMalformedRecords`).
 *
 * Beyond Spark: with `maxEventTimeAhead`, a timestamp too far past the
 * micro-batch's processing time makes its record malformed, so that one
 * absurd time (an epoch in ms written as seconds) cannot carry the
 * watermark years ahead and make every later row late.
 *
 * @module
 */
import { defaultChunkWorkers } from './chunk-workers.js';
import { TidemarkError } from '../errors.js';
import { rawValueAt, type Column, type RecordBatch } from '../core/batch.js';
import { parseDDL, schemaToDDL } from '../core/ddl.js';
import { windowDurationUs } from '../core/interval.js';
import { JsonReader, type JsonReaderOptions, type LineLocation, type ParseMode } from '../core/json-reader.js';
import { fieldIndex, type Schema } from '../core/schema.js';
import { isValidTimeZone } from '../core/timestamp.js';
import { hostTimeZone } from '../host-time-zone.js';
import type { StreamItem } from '../protocol.js';
import { Stage, type PlanContext } from './stage.js';
import type { NullableRow, RowOf, RowTyped } from '../core/row-types.js';
import { ChunkInput } from './chunk-input.js';

export type { ParseMode } from '../core/json-reader.js';

/** Options of {@link ParseSchema}. */
export interface ParseSchemaOptions<S extends string = string> {
  /**
   * The rows' schema: a Spark DDL string (`"time timestamp, action string"`)
   * or a schema value. A string literal types the rows
   * (`RowOf<typeof parse>`: every column nullable, as a file source makes it).
   */
  schema: S | Schema;
  /** What to do with a malformed record; PERMISSIVE by default. Case-insensitive. */
  mode?: ParseMode | Lowercase<ParseMode>;
  /** Column that receives the raw text of a malformed record (PERMISSIVE), when the schema has it. */
  columnNameOfCorruptRecord?: string;
  /** Zone of timestamp strings that carry none; the process's zone by default (Spark's session zone). */
  timeZone?: string;
  /**
   * Not Spark's: a record whose timestamp is more than this past the
   * micro-batch's processing time (its `batchTimestampMs`, the same when the
   * batch is re-executed) is malformed, and `mode` decides (PERMISSIVE: that
   * field is null and the raw line goes to the corrupt-record column;
   * DROPMALFORMED: dropped; FAILFAST: the query fails naming file and line).
   * An interval string (`"1 day"`) or milliseconds. Applies to every
   * top-level `timestamp` and `timestamp_ntz` field (an NTZ value is read as
   * UTC). Off by default, as in Spark, where such a time is accepted and
   * carries the watermark with it.
   *
   * Not part of the checkpointed configuration: it may be added when a query
   * is restarted.
   */
  maxEventTimeAhead?: string | number;
  /**
   * Worker threads that read and aggregate chunks when the planner
   * aggregates where the lines are read (`ChunkAggregate`): by default one
   * per core but one (`os.availableParallelism() - 1`: the query's own
   * thread keeps a core busy), so none on a single core. 0 keeps the work on
   * the query's thread.
   */
  workers?: number;
}

/**
 * Parses JSON lines (the `value` column of a `FileSource`, or of any stream
 * with a `value` string column) into rows of a schema.
 */
export class ParseSchema<S extends string = string> extends Stage implements RowTyped<NullableRow<RowOf<S>>> {
  declare readonly '~row'?: NullableRow<RowOf<S>>;
  declare readonly '~input'?: NullableRow<RowOf<S>>;
  // configuration
  readonly schema: Schema;
  readonly mode: ParseMode;
  readonly columnNameOfCorruptRecord: string;
  readonly timeZone: string;
  readonly #options: ParseSchemaOptions;
  /** `maxEventTimeAhead` in µs, or null when not set. */
  readonly maxEventTimeAheadUs: number | null;
  readonly #maxEventTimeAheadText: string | null;
  /** Worker threads a `ChunkAggregate` planned in its place uses. */
  readonly workers: number;
  // transient
  #valueIndex = -1;
  #fileIndex = -1;
  #lineIndex = -1;
  #validIndex = -1;
  #chunked = false;
  readonly #reader: JsonReader;
  readonly #chunks: ChunkInput;

  constructor(options: ParseSchemaOptions<S>) {
    super();
    if (options?.schema === undefined) throw new TidemarkError('ERR_INVALID_OPTION', 'ParseSchema needs a schema', { option: 'schema' });
    this.#options = { ...options };
    const parsed = typeof options.schema === 'string' ? parseDDL(options.schema) : options.schema;
    // File sources force every field nullable (spark.sql.streaming.fileSource.schema.forceNullable).
    this.schema = { fields: parsed.fields.map((f) => ({ ...f, nullable: true })) };
    const mode = (options.mode ?? 'PERMISSIVE').toUpperCase();
    if (mode !== 'PERMISSIVE' && mode !== 'DROPMALFORMED' && mode !== 'FAILFAST') {
      throw new TidemarkError('ERR_INVALID_OPTION', `mode must be PERMISSIVE, DROPMALFORMED or FAILFAST, got '${options.mode}'`, { option: 'mode' });
    }
    this.mode = mode;
    this.columnNameOfCorruptRecord = options.columnNameOfCorruptRecord ?? '_corrupt_record';
    this.timeZone = options.timeZone ?? hostTimeZone();
    if (!isValidTimeZone(this.timeZone)) throw new TidemarkError('ERR_INVALID_OPTION', `unknown time zone '${this.timeZone}'`, { option: 'timeZone' });
    const corruptIndex = fieldIndex(this.schema, this.columnNameOfCorruptRecord);
    if (corruptIndex >= 0 && this.schema.fields[corruptIndex]!.dataType.type !== 'string') {
      throw new TidemarkError('ERR_INVALID_OPTION', 'The field for corrupt records must be string type and nullable', { option: 'columnNameOfCorruptRecord' });
    }
    if (options.maxEventTimeAhead === undefined) {
      this.maxEventTimeAheadUs = null;
      this.#maxEventTimeAheadText = null;
    } else {
      const us = windowDurationUs(options.maxEventTimeAhead, 'maxEventTimeAhead');
      if (us < 0) throw new TidemarkError('ERR_INVALID_OPTION', `maxEventTimeAhead must not be negative, got '${options.maxEventTimeAhead}'`, { option: 'maxEventTimeAhead' });
      this.maxEventTimeAheadUs = us;
      this.#maxEventTimeAheadText = typeof options.maxEventTimeAhead === 'number' ? `${options.maxEventTimeAhead} ms` : options.maxEventTimeAhead.trim();
    }
    this.#reader = new JsonReader(this.readerOptions());
    this.#chunks = new ChunkInput(this.#reader);
    this.workers = options.workers ?? defaultChunkWorkers();
    if (!Number.isInteger(this.workers) || this.workers < 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', `workers must be a non-negative integer, got ${options.workers}`, { option: 'workers' });
    }
  }

  /** The options this stage was built with (a stage planned in its place reads with the same). */
  get options(): Readonly<ParseSchemaOptions> {
    return this.#options;
  }

  /** What the JSON reader is built with (plain data: it also goes to worker threads). */
  readerOptions(): JsonReaderOptions {
    const ahead = this.maxEventTimeAheadUs === null ? null : { us: this.maxEventTimeAheadUs, text: this.#maxEventTimeAheadText! };
    return { schema: this.schema, mode: this.mode, columnNameOfCorruptRecord: this.columnNameOfCorruptRecord, timeZone: this.timeZone, maxEventTimeAhead: ahead };
  }

  override get role(): 'parse' {
    return 'parse';
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    this.#chunked = ChunkInput.accepts(input);
    if (this.#chunked) {
      this.#chunks.plan(input);
      return this.schema;
    }
    this.#valueIndex = fieldIndex(input, 'value');
    if (this.#valueIndex < 0 || input.fields[this.#valueIndex]!.dataType.type !== 'string') {
      throw new TidemarkError('ERR_SCHEMA_MISMATCH', 'ParseSchema reads a `value` string column or a `chunk` binary column (a FileSource emits one)');
    }
    this.#fileIndex = fieldIndex(input, 'file');
    this.#lineIndex = fieldIndex(input, 'line');
    this.#validIndex = fieldIndex(input, 'valid');
    return this.schema;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    switch (item.kind) {
      case 'begin':
        this.#reader.setBatchTimestamp(item.batchTimestampMs);
        yield item;
        return;
      case 'barrier':
        this.#chunks.finishBatch(item, this.#chunked);
        yield item;
        return;
      case 'rows': {
        const out = this.#chunked ? this.#parseChunks(item.batch) : this.#parse(item.batch);
        if (out.length > 0) yield { kind: 'rows', batch: out };
        return;
      }
      default:
        yield item;
    }
  }

  // The fast path: line-aligned byte chunks through the reader's compiled scanner.
  #parseChunks(batch: RecordBatch): RecordBatch {
    const builder = this.#reader.newBuilder(this.#chunks.capacityOf(batch));
    this.#chunks.readAll(batch, builder);
    return builder.finish();
  }

  #parse(batch: RecordBatch): RecordBatch {
    const reader = this.#reader;
    const builder = reader.newBuilder(batch.length);
    const values = batch.columns[this.#valueIndex]! as Extract<Column, { kind: 'dict' }>;
    const valid = this.#validIndex >= 0 ? (batch.columns[this.#validIndex] as Extract<Column, { kind: 'bool' }>) : null;
    for (let i = 0; i < batch.length; i++) {
      const id = values.ids[i]!;
      if (id < 0) continue;
      this.#chunks.addMalformed(reader.readText(values.dictionary.values[id]!, valid === null || valid.values[i] === 1, builder, this.#lineOf(batch, i)));
    }
    return builder.finish();
  }

  #lineOf(batch: RecordBatch, i: number): LineLocation {
    const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, i) as string | null) : null;
    const line = this.#lineIndex >= 0 ? (rawValueAt(batch.columns[this.#lineIndex]!, i) as number | null) : null;
    return { file, line };
  }

  override configuration(): Record<string, unknown> {
    return { schema: schemaToDDL(this.schema), mode: this.mode, columnNameOfCorruptRecord: this.columnNameOfCorruptRecord };
  }
}


/**
 * `CheckpointSink`: Spark's file sink, in JSON (`writeStream.format('json')`),
 * Parquet (`format('parquet')`, see `parquet-file.ts`) or CSV
 * (`format('csv').option('header', true)`, see `csv-file.ts`). Each micro-batch
 * becomes one JSON Lines file (or one Parquet or CSV file) in the output directory,
 * made visible by its entry in `<path>/_spark_metadata` (see
 * {@link writeSinkLogEntry}), so the directory reads back exactly-once in
 * Spark and in tidemark alike.
 *
 * Crash behaviour, step by step: the data file is written under a temp name,
 * fsynced and renamed (a reader never sees half a file); then the manifest
 * entry is written the same way (the commit point); then the query commits
 * the batch in its checkpoint. A crash between the data file and the
 * manifest leaves an orphan `part-…json` that readers ignore; the
 * re-executed batch writes a new file under a new uuid, and the next open
 * deletes the orphan and any temp file (see {@link openSinkLog}: the
 * checkpoint's lock and the directory's ownership record make that safe).
 * A crash after the manifest re-executes the batch, which is then skipped
 * (Spark's "Skipping already committed batch N").
 *
 * At open the sink also refuses a directory another query writes
 * (`ERR_OUTPUT_OWNED`) and a manifest that lacks a batch the checkpoint
 * committed (`ERR_CHECKPOINT_CORRUPT`).
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { TidemarkError } from '../errors.js';
import { writeFileAtomicPieces } from '../checkpoint/atomic-file.js';
import { columnKindOf, isNullAt, type Column, type RecordBatch, type StringDictionary } from '../core/batch.js';
import type { DataType, Field, Schema } from '../core/schema.js';
import { jacksonDouble, jacksonFloat } from '../core/java-number.js';
import { formatDateDays, formatTimestampIso } from '../core/timestamp.js';
import { Sink, sinkTimeZone, type SinkPlan, type SinkRun } from './sink.js';
import { hasSinkBatch, openSinkLog, sinkLogFileFor, writeSinkLogEntry } from './file-sink-log.js';
import { checkParquetSchema, encodeParquet } from './parquet-file.js';
import { checkCsvSchema, CsvWriter } from './csv-file.js';

/** The formats {@link CheckpointSink} writes. */
export type FileSinkFormat = 'json' | 'parquet' | 'csv';

const FORMATS: readonly FileSinkFormat[] = ['json', 'parquet', 'csv'];

// Data files this process is writing and has not yet logged: never orphans, whichever sink opens.
const writing = new Set<string>();

/** Options of {@link CheckpointSink}. */
export interface CheckpointSinkOptions {
  /** Output directory (created when missing). */
  path: string;
  /**
   * `json` (the default: JSON Lines, as Spark's JSON writer) or `parquet`
   * (snappy-compressed Parquet as Spark writes it with
   * `outputTimestampType=TIMESTAMP_MICROS`: DuckDB, pyarrow and Spark read it
   * as it is; strings, booleans, numbers, dates, timestamps and structs of them)
   * or `csv` (a header line, then one line per row, as Spark's CSV writer with
   * `header` true; struct, array, map and binary columns are refused at start,
   * as Spark refuses them).
   */
  format?: FileSinkFormat;
  /** Session time zone timestamps are printed in; the process's zone by default, as Spark's JVM default. */
  timeZone?: string;
}

/**
 * The file sink (JSON or Parquet). Append mode only, and it needs a checkpoint location:
 * both are refused at start with Spark's messages.
 *
 * @example
 * ```ts
 * const sink = new CheckpointSink({ path: './out', timeZone: 'Asia/Kolkata' })
 * await startQuery({ source, stages, sink, checkpointLocation: './chk', outputMode: 'append' })
 * ```
 */
export class CheckpointSink extends Sink {
  /** The output directory as given. */
  readonly path: string;
  /** `json`, `parquet` or `csv`. */
  readonly format: FileSinkFormat;
  /** Zone of the written timestamps. */
  readonly timeZone: string;
  readonly #dir: string;
  readonly #writers = new WeakMap<Schema, LineWriter>();
  readonly #csvWriters = new WeakMap<Schema, CsvWriter>();

  constructor(options: CheckpointSinkOptions) {
    super();
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', "'path' is not specified", { option: 'path' });
    }
    const format: unknown = options.format ?? 'json';
    if (!FORMATS.includes(format as FileSinkFormat)) {
      throw new TidemarkError('ERR_INVALID_OPTION', `CheckpointSink writes format 'json', 'parquet' or 'csv', got ${JSON.stringify(format)}`, { option: 'format' });
    }
    const timeZone = sinkTimeZone(options.timeZone);
    this.path = options.path;
    this.format = format as FileSinkFormat;
    this.timeZone = timeZone;
    this.#dir = resolve(options.path);
  }

  override get description(): string {
    return `FileSink[${this.path}]`;
  }

  override get outputPath(): string {
    return this.path;
  }

  /**
   * Refuses what Spark refuses when a file sink is created: a non-append
   * output mode, then a missing checkpoint location (a file sink's
   * exactly-once guarantee rests on the checkpoint). Other checks follow.
   */
  override plan(plan: SinkPlan): void {
    if (plan.outputMode !== 'append') {
      const mode = plan.outputMode === 'update' ? 'Update' : 'Complete';
      throw new TidemarkError('ERR_UNSUPPORTED_OUTPUT_MODE', `Data source ${this.format} does not support ${mode} output mode`, { option: 'outputMode' });
    }
    if (plan.checkpointLocation === null) {
      throw new TidemarkError(
        'ERR_MISSING_CHECKPOINT_LOCATION',
        'checkpointLocation must be specified either through option("checkpointLocation", ...) or SparkSession.conf.set("spark.sql.streaming.checkpointLocation", ...)',
        { option: 'checkpointLocation' },
      );
    }
    // A column Parquet output cannot hold is refused before anything is written.
    if (this.format === 'parquet') checkParquetSchema(plan.schema);
    if (this.format === 'csv') checkCsvSchema(plan.schema);
    super.plan(plan);
  }

  protected override async openSink(plan: SinkPlan, run: SinkRun): Promise<void> {
    await openSinkLog(this.#dir, { queryId: run.queryId, checkpoint: plan.checkpointLocation === null ? null : resolve(plan.checkpointLocation), lastCommittedBatchId: run.lastCommittedBatchId, writing });
  }

  protected override async hasBatch(batchId: number): Promise<boolean> {
    return hasSinkBatch(this.#dir, batchId);
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[]): Promise<number> {
    let count = 0;
    for (const batch of batches) count += batch.length;
    if (this.format === 'json') {
      await this.#publish(batchId, `part-00000-${randomUUID()}-c000.json`, textPieces(batches, '', (s) => this.#jsonWriter(s)));
      return count;
    }
    // The output schema (an empty batch has no batch to take it from).
    const schema = this.sinkPlan?.schema ?? batches[0]?.schema;
    if (schema === undefined) throw new TidemarkError('ERR_PROTOCOL', `${this.description} wrote a batch before 'open'`);
    if (this.format === 'csv') {
      // The header line even for an empty batch, as Spark 3 writes it.
      const header = this.#csvWriter(schema).header + '\n';
      await this.#publish(batchId, `part-00000-${randomUUID()}-c000.csv`, textPieces(batches, header, (s) => this.#csvWriter(s)));
      return count;
    }
    // Spark's name for snappy Parquet; one file per batch, even an empty one (its schema is the output's).
    await this.#publish(batchId, `part-00000-${randomUUID()}-c000.snappy.parquet`, [await encodeParquet(schema, batches)]);
    return count;
  }

  #jsonWriter(schema: Schema): LineWriter {
    let writer = this.#writers.get(schema);
    if (writer === undefined) {
      writer = new LineWriter(schema, this.timeZone);
      this.#writers.set(schema, writer);
    }
    return writer;
  }

  #csvWriter(schema: Schema): CsvWriter {
    let writer = this.#csvWriters.get(schema);
    if (writer === undefined) {
      writer = new CsvWriter(schema, this.timeZone);
      this.#csvWriters.set(schema, writer);
    }
    return writer;
  }

  /** Writes the data file atomically (its content piece by piece), then its manifest entry (the commit point). */
  async #publish(batchId: number, name: string, content: Iterable<string | Uint8Array>): Promise<void> {
    const file = join(this.#dir, name);
    writing.add(file);
    try {
      await writeFileAtomicPieces(file, content);
      await writeSinkLogEntry(this.#dir, batchId, [await sinkLogFileFor(file)]);
    } finally {
      writing.delete(file);
    }
  }
}

// Bytes of output lines gathered before they are written.
const PIECE_BYTES = 1 << 20;
// Characters of output lines gathered before they are written into a piece.
const TEXT_CHARS = 16_384;

// ---------------------------------------------------------------------------------------------
// JSON lines, by the rules of Spark's JacksonGenerator.

/** Writes the JSON text of a non-null value of a column at row `i`. */
type ColumnWriter = (column: Column, i: number) => string;

/**
 * A row as the JSON sink writes it (Spark's `JacksonGenerator` rules: null
 * fields left out, timestamps in the given zone). Compiled once per schema:
 * one writer per field, field names pre-escaped. Other sinks that write
 * JSON rows (`JetStreamSink`) use it, so every JSON output reads the same.
 */
export class LineWriter {
  readonly #names: string[];
  readonly #writers: ColumnWriter[];

  constructor(schema: Schema, zone: string) {
    this.#names = schema.fields.map((f) => quote(f.name) + ':');
    this.#writers = schema.fields.map((f) => columnWriter(f.dataType, zone));
  }

  line(batch: RecordBatch, i: number): string {
    return writeFields(this.#names, this.#writers, batch.columns, i);
  }
}

/** `{…}` with null fields omitted (`spark.sql.jsonGenerator.ignoreNullFields=true`). */
function writeFields(names: readonly string[], writers: readonly ColumnWriter[], columns: readonly Column[], i: number): string {
  let out = '{';
  let first = true;
  for (let c = 0; c < writers.length; c++) {
    const column = columns[c]!;
    if (isNullAt(column, i)) continue;
    out += (first ? '' : ',') + names[c]! + writers[c]!(column, i);
    first = false;
  }
  return out + '}';
}


/** Quoted dictionary strings, computed once per id. */
const quotedByDictionary = new WeakMap<StringDictionary, string[]>();

function columnWriter(t: DataType, zone: string): ColumnWriter {
  switch (t.type) {
    case 'string':
      return (column, i) => {
        if (column.kind !== 'dict') return quote(String(rawAny(column, i)));
        const id = column.ids[i]!;
        let cache = quotedByDictionary.get(column.dictionary);
        if (cache === undefined) {
          cache = [];
          quotedByDictionary.set(column.dictionary, cache);
        }
        return (cache[id] ??= quote(column.dictionary.values[id]!));
      };
    case 'boolean':
      return (column, i) => (column.kind === 'bool' ? (column.values[i] === 1 ? 'true' : 'false') : valueJson(t, rawAny(column, i), zone));
    case 'struct': {
      const names = t.fields.map((f) => quote(f.name) + ':');
      const writers = t.fields.map((f) => columnWriter(f.dataType, zone));
      return (column, i) => (column.kind === 'struct' ? writeFields(names, writers, column.children, i) : valueJson(t, rawAny(column, i), zone));
    }
    default:
      if (isF64(t)) {
        const f = f64Writer(t, zone);
        return (column, i) => (column.kind === 'f64' ? f(column.values[i]!) : valueJson(t, rawAny(column, i), zone));
      }
      return (column, i) => valueJson(t, rawAny(column, i), zone);
  }
}

function rawAny(column: Column, i: number): unknown {
  if (column.kind === 'any') return column.values[i];
  throw new TidemarkError('ERR_PROTOCOL', `unexpected ${column.kind} column for the JSON writer`);
}


// Formatted timestamps a writer keeps (per column): bounded, since raw event times need not repeat.
const TIMESTAMP_TEXTS_KEPT = 4096;
// Timestamps a writer compares before its map: a sliding window's emission cycles through about
// duration / slide of them.
const RECENT_TIMESTAMPS = 8;

/** The JSON text of a stored f64 value (µs for timestamps, days for dates). */
function f64Writer(t: DataType, zone: string): (v: number) => string {
  switch (t.type) {
    case 'timestamp': {
      // Aggregated output repeats its timestamps (a window's bounds once per key, shared by
      // neighbouring windows): formatting each once saves most of a sink's allocation. The last
      // few are compared first: a map lookup boxes the double key, and rows of one window or of
      // neighbouring windows come together.
      const texts = new Map<number, string>();
      const recent = new Float64Array(RECENT_TIMESTAMPS).fill(NaN);
      const recentTexts = new Array<string>(RECENT_TIMESTAMPS).fill('');
      let next = 0;
      return (v) => {
        for (let k = 0; k < RECENT_TIMESTAMPS; k++) if (recent[k] === v) return recentTexts[k]!;
        let text = texts.get(v);
        if (text === undefined) {
          if (texts.size >= TIMESTAMP_TEXTS_KEPT) texts.clear();
          text = '"' + formatTimestampIso(v, zone) + '"';
          texts.set(v, text);
        }
        recent[next] = v;
        recentTexts[next] = text;
        next = (next + 1) % RECENT_TIMESTAMPS;
        return text;
      };
    }
    case 'timestamp_ntz':
      return (v) => '"' + formatTimestampNtz(v) + '"';
    case 'date':
      return (v) => '"' + formatDateDays(v) + '"';
    case 'double':
      return jacksonDouble;
    case 'float':
      return jacksonFloat;
    default:
      return integer;
  }
}

/** `yyyy-MM-dd'T'HH:mm:ss[.SSS]` of a zone-less timestamp (Spark's `timestampNTZFormat` default). */
function formatTimestampNtz(us: number): string {
  const iso = formatTimestampIso(us, 'UTC');
  return iso.slice(0, iso.length - 1);
}

function integer(v: number): string {
  return String(Math.trunc(v));
}

/** The JSON text of a non-null row-view value (inside `any` columns: arrays, maps, decimals, binary). */
function valueJson(t: DataType, v: unknown, zone: string): string {
  switch (t.type) {
    case 'string':
      return quote(typeof v === 'string' ? v : String(v));
    case 'boolean':
      return v === true ? 'true' : 'false';
    case 'byte':
    case 'short':
    case 'int':
    case 'long':
      return typeof v === 'bigint' ? v.toString() : integer(Number(v));
    case 'float':
      return jacksonFloat(Number(v));
    case 'double':
      return jacksonDouble(Number(v));
    case 'decimal': {
      const s = String(v);
      return /^-?\d+(\.\d+)?$/.test(s) ? s : quote(s);
    }
    case 'date':
      return quote(typeof v === 'number' ? formatDateDays(v) : v instanceof Date ? v.toISOString().slice(0, 10) : String(v));
    case 'timestamp':
    case 'timestamp_ntz': {
      const us = v instanceof Date ? v.getTime() * 1000 : typeof v === 'bigint' ? Number(v) : Math.round(Number(v) * 1000);
      return '"' + (t.type === 'timestamp' ? formatTimestampIso(us, zone) : formatTimestampNtz(us)) + '"';
    }
    case 'binary':
      return '"' + Buffer.from(v as Uint8Array).toString('base64') + '"';
    case 'array': {
      const items = v as readonly unknown[];
      let out = '[';
      for (let k = 0; k < items.length; k++) {
        const item = items[k];
        out += (k === 0 ? '' : ',') + (item === null || item === undefined ? 'null' : valueJson(t.elementType, item, zone));
      }
      return out + ']';
    }
    case 'map': {
      const entries: Iterable<[unknown, unknown]> = v instanceof Map ? v : Object.entries(v as object);
      let out = '{';
      let first = true;
      for (const [key, value] of entries) {
        out += (first ? '' : ',') + quote(String(key)) + ':' + (value === null || value === undefined ? 'null' : valueJson(t.valueType, value, zone));
        first = false;
      }
      return out + '}';
    }
    case 'struct':
      return structJson(t.fields, v as Record<string, unknown>, zone);
  }
}

function structJson(fields: readonly Field[], v: Record<string, unknown>, zone: string): string {
  let out = '{';
  let first = true;
  for (const f of fields) {
    const value = v[f.name];
    if (value === null || value === undefined) continue;
    out += (first ? '' : ',') + quote(f.name) + ':' + valueJson(f.dataType, value, zone);
    first = false;
  }
  return out + '}';
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
const HEX = '0123456789ABCDEF';

/** Jackson's string escaping: `"` `\` and control characters (`\n`-style or `\u00XX`, upper-case hex); `/` and non-ASCII as is. */
function quote(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(from, i);
    from = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0d:
        out += '\\r';
        break;
      default:
        out += '\\u00' + HEX[c >> 4]! + HEX[c & 15]!;
    }
  }
  return out + s.slice(from) + '"';
}

// A type stored as numbers (columnKindOf is the one place that decides).
function isF64(t: DataType): boolean {
  return columnKindOf(t) === 'f64';
}

/**
 * A text data file's content (one line per row after `first`) as UTF-8, in
 * pieces of about a megabyte: a drain of millions of groups never becomes
 * one string. Lines are gathered into strings of about 16 K characters, each
 * written into the piece at once. Appended to one string instead, the lines
 * made a rope of small strings that lived until the file was written: 67,000
 * rows of a sliding window took 230 ms, mostly garbage collection. Written
 * one by one, each line paid `Buffer.write`'s own cost, more than making it.
 */
function* textPieces(batches: readonly RecordBatch[], first: string, writerOf: (schema: Schema) => { line(batch: RecordBatch, row: number): string }): Generator<Uint8Array> {
  let piece = Buffer.allocUnsafe(PIECE_BYTES);
  let at = 0;
  for (const text of texts(batches, first, writerOf)) {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    const room = text.length * 3;
    if (at + room > piece.length) {
      if (at > 0) yield piece.subarray(0, at);
      piece = Buffer.allocUnsafe(Math.max(PIECE_BYTES, room));
      at = 0;
    }
    at += piece.write(text, at);
  }
  if (at > 0) yield piece.subarray(0, at);
}

// `first`, then the lines (each with its newline), gathered into strings of about TEXT_CHARS characters.
function* texts(batches: readonly RecordBatch[], first: string, writerOf: (schema: Schema) => { line(batch: RecordBatch, row: number): string }): Generator<string> {
  let text = first;
  for (const batch of batches) {
    const writer = writerOf(batch.schema);
    for (let i = 0; i < batch.length; i++) {
      text += writer.line(batch, i) + '\n';
      if (text.length < TEXT_CHARS) continue;
      yield text;
      text = '';
    }
  }
  if (text.length > 0) yield text;
}

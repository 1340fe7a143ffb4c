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
import { availableParallelism } from 'node:os';
import type { TransformCallback } from 'node:stream';
import { TidemarkError } from '../errors.js';
import { StringDictionary, rawValueAt, type Column, type RecordBatch } from '../core/batch.js';
import { parseDDL, schemaToDDL } from '../core/ddl.js';
import { windowDurationUs } from '../core/interval.js';
import { JsonReader, MAX_DICTIONARY_SIZE, type ChunkRead, type JsonReaderOptions, type LineLocation, type ParseMode } from '../core/json-reader.js';
import { partialCount, type PartialCountPlan, type PartialCounts } from '../core/partial-count.js';
import { giveReadBuffer, isReadBuffer } from '../core/read-buffers.js';
import { fieldIndex, sqlTypeName, type Schema } from '../core/schema.js';
import { defaultTimeZone, isValidTimeZone } from '../core/timestamp.js';
import type { CountsItem, StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';
import { CountWorkers } from './count-workers.js';
import type { CountReply } from './count-worker.js';

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
   * Worker threads that read and count chunks once a count is pushed down
   * (see {@link ParseSchema.pushDownCount}): one per core by default
   * (`os.availableParallelism()`), and none on a single core, where the
   * stage counts on its own thread. 0 keeps the work on this thread.
   */
  workers?: number;
}

/**
 * The aggregation a `ParseSchema` may run itself: `Watermark → Window →
 * KeyedCount` right after it, counting by a window that gives one slot per
 * row (tumbling, or panes) and at most one string column.
 */
export interface CountPushdown {
  /** The `KeyedCount`'s grouping columns, in its order: the window's name and maybe one string column. */
  readonly groupBy: readonly string[];
  /** The `Window`'s columns and arithmetic. */
  readonly window: CountsItem['window'];
}

// Chunks handed to each worker before the stage waits for the oldest; most are one read buffer (1 MiB).
const CHUNKS_IN_FLIGHT_PER_WORKER = 8;

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
  readonly #options: ParseSchemaOptions;
  /** `maxEventTimeAhead` in µs, or null when not set. */
  readonly maxEventTimeAheadUs: number | null;
  readonly #maxEventTimeAheadText: string | null;
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
  // Malformed records kept or dropped this micro-batch, on any path.
  #malformedInBatch = 0;
  // The current micro-batch's processing time, from its `begin` (workers are sent it with every chunk).
  #batchTimestampMs = NaN;
  readonly #workerCount: number;
  #pushdown: CountPushdown | null = null;
  // Set once planned on chunks with a count pushed down.
  #countPlan: PartialCountPlan | null = null;
  #keyDictionary = new StringDictionary();
  #workers: CountWorkers | null = null;
  // Chunks with the workers, in input order.
  readonly #inFlight: Array<{ reply: Promise<CountReply>; file: string; offset: number }> = [];
  // The source gives its chunks away (FileSource): they may move to a worker instead of being copied.
  #chunksHandedOver = false;

  constructor(options: ParseSchemaOptions) {
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
    this.timeZone = options.timeZone ?? defaultTimeZone();
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
    this.#reader = new JsonReader(this.#readerOptions());
    const cores = availableParallelism();
    this.#workerCount = options.workers ?? (cores > 1 ? cores : 0);
    if (!Number.isInteger(this.#workerCount) || this.#workerCount < 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', `workers must be a non-negative integer, got ${options.workers}`, { option: 'workers' });
    }
  }

  #readerOptions(): JsonReaderOptions {
    const ahead = this.maxEventTimeAheadUs === null ? null : { us: this.maxEventTimeAheadUs, text: this.#maxEventTimeAheadText! };
    return { schema: this.schema, mode: this.mode, columnNameOfCorruptRecord: this.columnNameOfCorruptRecord, timeZone: this.timeZone, maxEventTimeAhead: ahead };
  }

  /**
   * Lets this stage read, window and count chunks itself — on worker threads
   * when it has any — and send {@link CountsItem}s, which the `Watermark`,
   * `Window` and `KeyedCount` after it take instead of rows (Spark's partial
   * aggregation before the state store). Same output, same checkpoints.
   * `startQuery` calls it when the stages after this one allow; it applies
   * only to a chunked `FileSource` input.
   */
  pushDownCount(pushdown: CountPushdown): void {
    const problem = this.countPushdownProblem(pushdown);
    if (problem !== null) throw new TidemarkError('ERR_INVALID_OPTION', `a pushed-down count ${problem.message}`, { option: problem.option });
    this.#pushdown = pushdown;
  }

  /** A new `ParseSchema` like this one that counts `pushdown` itself (see {@link ParseSchema.pushDownCount}); this one is left as it is. */
  withCountPushdown(pushdown: CountPushdown): ParseSchema {
    const copy = new ParseSchema(this.#options);
    copy.pushDownCount(pushdown);
    return copy;
  }

  override get role(): 'parse' {
    return 'parse';
  }

  override describe(): string {
    const base = super.describe();
    const pushdown = this.#pushdown;
    if (pushdown === null) return base;
    const workers = this.#workerCount === 0 ? 'on this thread' : `on ${this.#workerCount} worker threads`;
    return `${base} with a partial count by [${pushdown.groupBy.join(', ')}]${pushdown.window.panes ? ' over panes' : ''}, ${workers}`;
  }

  /** Why this stage cannot count `pushdown` itself (the option at fault and a message), or null when it can. */
  countPushdownProblem(pushdown: CountPushdown): { option: string; message: string } | null {
    const window = pushdown.window;
    const keys = pushdown.groupBy.filter((name) => name !== window.as);
    if (!pushdown.groupBy.includes(window.as) || keys.length > 1) {
      return { option: 'groupBy', message: `groups by the window and at most one string column, got ${JSON.stringify(pushdown.groupBy)}` };
    }
    if (window.slideUs !== window.durationUs && !window.panes) return { option: 'window', message: 'needs one window per row: a tumbling window, or panes' };
    const time = this.schema.fields.find((f) => f.name === window.timeColumn);
    if (time === undefined || (time.dataType.type !== 'timestamp' && time.dataType.type !== 'timestamp_ntz')) {
      return { option: 'timeColumn', message: `windows a timestamp column of the schema; \`${window.timeColumn}\` is ${time === undefined ? 'not in it' : sqlTypeName(time.dataType)}` };
    }
    const key = keys[0] === undefined ? undefined : this.schema.fields.find((f) => f.name === keys[0]);
    if (keys[0] !== undefined && key?.dataType.type !== 'string') return { option: 'groupBy', message: `groups by a string column of the schema; \`${keys[0]}\` is not one` };
    return null;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    this.#chunkIndex = fieldIndex(input, 'chunk');
    this.#valueIndex = fieldIndex(input, 'value');
    if (this.#chunkIndex >= 0) {
      this.#maxLineLength = input.fields[this.#chunkIndex]!.metadata?.maxLength ?? Infinity;
      this.#chunksHandedOver = input.fields[this.#chunkIndex]!.metadata?.handedOver === true;
      this.#fileIndex = fieldIndex(input, 'file');
      this.#offsetIndex = fieldIndex(input, 'offset');
      this.#countPlan = this.#pushdown === null ? null : this.#planCount(this.#pushdown);
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

  // Checked by pushDownCount: the time column and the key are in the schema.
  #planCount(pushdown: CountPushdown): PartialCountPlan {
    const keyName = pushdown.groupBy.find((name) => name !== pushdown.window.as);
    const keyIndex = keyName === undefined ? -1 : fieldIndex(this.schema, keyName);
    return { timeIndex: fieldIndex(this.schema, pushdown.window.timeColumn), keyIndex, slideUs: pushdown.window.slideUs, startTimeUs: pushdown.window.startTimeUs };
  }

  /** Whether this stage sends counts instead of rows (planned on chunks with a count pushed down). */
  get countsPushedDown(): boolean {
    return this.#countPlan !== null;
  }

  // With workers, chunks go out as they come and their counts are sent on in input order; the
  // stream waits only when too many are out, and before any other item so that order holds.
  override _transform(item: StreamItem, encoding: BufferEncoding, callback: TransformCallback): void {
    if (item.kind === 'open') {
      super._transform(item, encoding, (err?: Error | null) => {
        if (err == null && this.#countPlan !== null && this.#workerCount > 0 && this.#workers === null) {
          this.#workers = new CountWorkers(this.#workerCount, { reader: this.#readerOptions(), plan: this.#countPlan });
        }
        callback(err);
      });
      return;
    }
    const workers = this.#workers;
    if (workers === null) {
      super._transform(item, encoding, callback);
      return;
    }
    if (item.kind === 'rows') {
      const batch = item.batch;
      const chunks = batch.columns[this.#chunkIndex] as Extract<Column, { kind: 'any' }>;
      for (let r = 0; r < batch.length; r++) {
        const bytes = chunks.values[r] as Uint8Array | null;
        if (bytes === null) continue;
        const { file, offset } = this.#chunkAt(batch, r);
        // A buffer of Node's shared pool (small chunks) holds other buffers' bytes too: copy those.
        const readBuffer = this.#chunksHandedOver && isReadBuffer(bytes.buffer);
        const move = readBuffer || (this.#chunksHandedOver && bytes.buffer.byteLength > Buffer.poolSize);
        this.#inFlight.push({ reply: workers.count(bytes, file, offset === 0, this.#maxLineLength, move, readBuffer, this.#batchTimestampMs), file, offset });
      }
      this.#settle(workers.size * CHUNKS_IN_FLIGHT_PER_WORKER).then((counts) => this.emitItems(counts, callback), callback);
      return;
    }
    this.#settle(0).then((counts) => this.emitItems(counts, (err) => (err == null ? super._transform(item, encoding, callback) : callback(err))), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#settle(0).then((counts) => this.emitItems(counts, callback), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // The workers stop in the background: the stream's end need not wait for their exit.
    void this.#workers?.close();
    this.#workers = null;
    this.#inFlight.length = 0;
    callback(err);
  }

  // Takes replies in input order until at most `limit` chunks are out, and returns their counts.
  async #settle(limit: number): Promise<CountsItem[]> {
    const out: CountsItem[] = [];
    while (this.#inFlight.length > limit) {
      const chunk = this.#inFlight.shift()!;
      const reply = await chunk.reply;
      const firstLine = this.#firstLineOf(chunk.file, chunk.offset);
      if (!reply.ok) {
        // Read it again here, where its first line is known, for the error with the right line
        // (the reader still has this batch's processing time: a batch's chunks settle before its barrier).
        this.#reader.readChunk(reply.bytes, this.#reader.newBuilder(1024), chunk.file, firstLine, chunk.offset === 0, this.#maxLineLength);
        throw new TidemarkError('ERR_WORKER', `a count worker failed on ${chunk.file}: ${reply.message}`, { file: chunk.file });
      }
      if (reply.buffer !== null) giveReadBuffer(reply.buffer, true);
      this.#chunkRead(chunk.file, firstLine, reply);
      // A chunk of null times has no groups but still has event-time figures for the watermark.
      if (reply.counts.length > 0 || reply.counts.eventTime !== null) out.push(this.#countsItem(reply.counts));
    }
    return out;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    if (item.kind !== 'rows') {
      if (item.kind === 'begin') {
        this.#batchTimestampMs = item.batchTimestampMs;
        this.#reader.setBatchTimestamp(item.batchTimestampMs);
      } else if (item.kind === 'barrier') {
        if (this.#chunkIndex >= 0) item.progress.numInputRows = this.#recordsInBatch;
        item.progress.numMalformedRecords = (item.progress.numMalformedRecords ?? 0) + this.#malformedInBatch;
        this.#recordsInBatch = 0;
        this.#malformedInBatch = 0;
        this.stamp(item);
      }
      yield item;
      return;
    }
    const out = this.#chunkIndex >= 0 ? this.#parseChunks(item.batch) : this.#parse(item.batch);
    if (this.#countPlan !== null) {
      const counts = partialCount(out, this.#countPlan);
      if (counts.length > 0 || counts.eventTime !== null) yield this.#countsItem(counts);
    } else if (out.length > 0) yield { kind: 'rows', batch: out };
  }

  #countsItem(counts: PartialCounts): CountsItem {
    const pushdown = this.#pushdown!;
    const window = pushdown.window;
    if (this.#keyDictionary.size > MAX_DICTIONARY_SIZE) this.#keyDictionary = new StringDictionary();
    const dictionary = this.#keyDictionary;
    const columns = pushdown.groupBy.map((name): Column => {
      if (name === window.as) {
        const ends = new Float64Array(counts.length);
        for (let g = 0; g < counts.length; g++) ends[g] = counts.slotStarts[g]! + window.slideUs;
        return { kind: 'struct', children: [{ kind: 'f64', values: counts.slotStarts, nulls: null }, { kind: 'f64', values: ends, nulls: null }], nulls: null };
      }
      const ids = new Int32Array(counts.length);
      for (let g = 0; g < counts.length; g++) {
        const key = counts.keys![g]!;
        ids[g] = key === null ? -1 : dictionary.intern(key);
      }
      return { kind: 'dict', ids, dictionary };
    });
    return { kind: 'counts', groupBy: pushdown.groupBy, columns, counts: counts.counts, length: counts.length, window, eventTime: counts.eventTime };
  }

  // A source reads one file at a time: a chunk continues the line numbers of the one before, unless it opens a file.
  #firstLineOf(file: string, offset: number): number {
    return offset === 0 || file !== this.#lineFile ? 1 : this.#nextLine;
  }

  #chunkRead(file: string, firstLine: number, read: ChunkRead): void {
    this.#recordsInBatch += read.records;
    this.#malformedInBatch += read.malformed;
    this.#lineFile = file;
    this.#nextLine = firstLine + read.lines;
  }

  #chunkAt(batch: RecordBatch, r: number): { file: string; offset: number } {
    const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, r) as string) : '(input)';
    const offset = this.#offsetIndex >= 0 ? (rawValueAt(batch.columns[this.#offsetIndex]!, r) as number) : 0;
    return { file, offset };
  }

  #parse(batch: RecordBatch): RecordBatch {
    const reader = this.#reader;
    const builder = reader.newBuilder(batch.length);
    const values = batch.columns[this.#valueIndex]! as Extract<Column, { kind: 'dict' }>;
    const valid = this.#validIndex >= 0 ? (batch.columns[this.#validIndex] as Extract<Column, { kind: 'bool' }>) : null;
    for (let i = 0; i < batch.length; i++) {
      const id = values.ids[i]!;
      if (id < 0) continue;
      this.#malformedInBatch += reader.readText(values.dictionary.values[id]!, valid === null || valid.values[i] === 1, builder, this.#lineOf(batch, i));
    }
    return builder.finish();
  }

  // The fast path: line-aligned byte chunks through the reader's compiled scanner.
  #parseChunks(batch: RecordBatch): RecordBatch {
    const chunks = batch.columns[this.#chunkIndex] as Extract<Column, { kind: 'any' }>;
    let capacity = 0;
    for (let r = 0; r < batch.length; r++) capacity += Math.ceil(((chunks.values[r] as Uint8Array | null)?.length ?? 0) / 32);
    // Counted where it is read, the batch is dropped before the next chunk: its arrays can serve again.
    const builder = this.#countPlan === null ? this.#reader.newBuilder(capacity) : this.#reader.scratchBuilder(capacity);
    for (let r = 0; r < batch.length; r++) {
      const bytes = chunks.values[r] as Uint8Array | null;
      if (bytes === null) continue;
      const { file, offset } = this.#chunkAt(batch, r);
      const firstLine = this.#firstLineOf(file, offset);
      const read = this.#reader.readChunk(bytes, builder, file, firstLine, offset === 0, this.#maxLineLength);
      // Read into columns (strings copied): a read buffer the source handed over can go round again.
      if (this.#chunksHandedOver) giveReadBuffer(bytes.buffer);
      this.#chunkRead(file, firstLine, read);
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


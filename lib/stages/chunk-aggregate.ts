/**
 * `ChunkAggregate`: `ParseSchema → Window → partial aggregation` in one
 * stage, where the bytes are read (Spark's partial `HashAggregate` before
 * the state store). The planner puts it in place of a `ParseSchema` and a
 * `Window` feeding a keyed aggregation, when the window gives one slot per
 * row (tumbling, or panes) and the grouping is the window and at most one
 * string column: each byte chunk is parsed, windowed and aggregated — on
 * worker threads when there are any — and only its groups go on, as rows
 * whose partial-aggregate columns the aggregation merges. A sliding window
 * is counted in panes, whose groups go on as the windows they lie in.
 *
 * Its rows are partial aggregates (their schema says so): only a stage that
 * merges them (a keyed aggregation, the watermark) takes them; any other
 * refuses them when the query is planned. Results, progress figures and
 * checkpoints are those of the stages it stands for.
 *
 * @module
 */
import type { TransformCallback } from 'node:stream';
import { TidemarkError } from '../errors.js';
import { RecordBatch, StringDictionary, type Column } from '../core/batch.js';
import { schemaToDDL } from '../core/ddl.js';
import { ChunkAggregator } from '../core/chunk-aggregator.js';
import { MAX_DICTIONARY_SIZE, type JsonReader } from '../core/json-reader.js';
import { partialFieldsOf, type PartialAggregatePlan, type PartialAggregates, type StoreSpec } from '../core/partial-aggregate.js';
import { giveReadBuffer, isReadBuffer } from '../core/read-buffers.js';
import { WINDOW_TYPE, fieldIndex, type Field, type Schema } from '../core/schema.js';
import type { BarrierItem, BeginItem, PlanEntry, ReadAheadItem, StreamItem } from '../protocol.js';
import { ChunkInput } from './chunk-input.js';
import type { ChunkReply } from './chunk-worker.js';
import { ChunkWorkerPool, type ChunkSession } from './chunk-workers.js';
import type { ParseSchema } from './parse-schema.js';
import { Stage, type PlanContext } from './stage.js';

/** The window a `ChunkAggregate` assigns: one slot per row. */
export interface ChunkWindow {
  readonly timeColumn: string;
  /** Name of the window column. */
  readonly as: string;
  readonly durationUs: number;
  readonly slideUs: number;
  readonly startTimeUs: number;
  /** Slots are panes of a sliding window: each chunk's panes go on as the windows they stand for. */
  readonly panes: boolean;
}

/** Options of {@link ChunkAggregate}. */
export interface ChunkAggregateOptions {
  /** The parse it stands for. */
  readonly parse: ParseSchema;
  /** The window it stands for. */
  readonly window: ChunkWindow;
  /** The aggregation's grouping columns, in its order: the window and at most one string column of the parse schema. */
  readonly groupBy: readonly string[];
  /** The aggregation's buffers. */
  readonly store: StoreSpec;
  /** The window's plan entry (its configuration), for the query's fingerprint. */
  readonly windowEntry: PlanEntry;
}

// Chunks handed to each worker before the stage waits for the oldest; most are one read buffer (1 MiB).
const CHUNKS_IN_FLIGHT_PER_WORKER = 8;
// While the batch before commits, nothing is settled and the main thread's emission and commit
// last longer than 8 chunks of scanning: more may be out then (24 measured 1.05× against 8).
const READ_AHEAD_CHUNKS_PER_WORKER = 24;

/**
 * Why a chunk aggregate cannot stand for `parse → window → aggregation by
 * groupBy`, or null when it can.
 */
export function chunkAggregateProblem(parse: ParseSchema, window: ChunkWindow, groupBy: readonly string[]): string | null {
  const keys = groupBy.filter((name) => name !== window.as);
  if (!groupBy.includes(window.as) || keys.length > 1) return `it groups by the window and at most one string column, not ${JSON.stringify(groupBy)}`;
  if (window.slideUs !== window.durationUs && !window.panes) return 'it needs one window per row: a tumbling window, or panes';
  if (window.as === window.timeColumn) return 'the window replaces its time column';
  const time = parse.schema.fields.find((f) => f.name === window.timeColumn);
  if (time === undefined || (time.dataType.type !== 'timestamp' && time.dataType.type !== 'timestamp_ntz')) return `\`${window.timeColumn}\` is not a timestamp column of the schema`;
  const key = keys[0] === undefined ? undefined : parse.schema.fields.find((f) => f.name === keys[0]);
  if (keys[0] !== undefined && key?.dataType.type !== 'string') return `\`${keys[0]}\` is not a string column of the schema`;
  return null;
}

/** Parses, windows and partially aggregates byte chunks (see the module documentation). */
export class ChunkAggregate extends Stage {
  // configuration
  readonly parse: ParseSchema;
  readonly window: ChunkWindow;
  readonly groupBy: readonly string[];
  readonly store: StoreSpec;
  readonly #windowEntry: PlanEntry;
  readonly #plan: PartialAggregatePlan;
  // transient
  readonly #aggregator: ChunkAggregator;
  readonly #reader: JsonReader;
  readonly #chunks: ChunkInput;
  #batchTimestampMs = NaN;
  #keyDictionary = new StringDictionary();
  #session: ChunkSession | null = null;
  // Chunks with the workers, in input order; the last `#readAhead.chunks` are the next batch's, read ahead.
  readonly #inFlight: Array<{ reply: Promise<ChunkReply>; file: string; offset: number }> = [];
  // Chunks whose reply has not come yet, and who waits for one to come.
  #unanswered = 0;
  #answered: (() => void) | null = null;
  // The read-ahead items taken since the last barrier (batch, items, chunks); null without any.
  #readAhead: { batchId: number; items: number; chunks: number } | null = null;
  // Whether this stage took the executor's read-ahead offer.
  #readsAhead = false;
  // A barrier going out (its batch's chunks settling) while the next batch's chunks are read ahead.
  #barrierOut: Promise<void> | null = null;

  constructor(options: ChunkAggregateOptions) {
    super();
    const problem = chunkAggregateProblem(options.parse, options.window, options.groupBy);
    if (problem !== null) throw new TidemarkError('ERR_INVALID_OPTION', `a chunk aggregate cannot stand for this query: ${problem}`, { option: 'groupBy' });
    this.parse = options.parse;
    this.window = options.window;
    this.groupBy = [...options.groupBy];
    this.store = options.store;
    this.#windowEntry = options.windowEntry;
    const keyName = this.groupBy.find((name) => name !== this.window.as);
    this.#plan = {
      timeIndex: fieldIndex(this.parse.schema, this.window.timeColumn),
      keyIndex: keyName === undefined ? -1 : fieldIndex(this.parse.schema, keyName),
      slideUs: this.window.slideUs,
      startTimeUs: this.window.startTimeUs,
      store: this.store,
      panesPerWindow: this.window.panes ? Math.round(this.window.durationUs / this.window.slideUs) : 1,
    };
    this.#aggregator = new ChunkAggregator({ reader: this.parse.readerOptions(), plan: this.#plan });
    this.#reader = this.#aggregator.reader;
    this.#chunks = new ChunkInput(this.#reader);
  }

  /** Worker threads it reads on (0: the query's thread). */
  get workers(): number {
    return this.parse.workers;
  }

  override planEntries(): PlanEntry[] {
    // The operators it stands for: a checkpoint restarts with or without it.
    return [...this.parse.planEntries(), this.#windowEntry];
  }

  override describe(): string {
    const where = this.workers === 0 ? 'on the query thread' : this.workers === 1 ? 'on 1 worker thread' : `on ${this.workers} worker threads`;
    const what = this.store.kind === 'count' ? 'count' : this.store.aggregates.map((a) => a.name).join(', ');
    return `ChunkAggregate(schema=${schemaToDDL(this.parse.schema)}, window=${this.window.timeColumn} ${this.window.durationUs}/${this.window.slideUs}/${this.window.startTimeUs} µs${this.window.panes ? ' over panes' : ''}) with a partial ${what} by [${this.groupBy.join(', ')}], ${where}`;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    if (!ChunkInput.accepts(input)) throw new TidemarkError('ERR_SCHEMA_MISMATCH', 'ChunkAggregate reads the byte chunks of a FileSource (`chunk`, `file`, `offset`)');
    this.#chunks.plan(input);
    const fields: Field[] = this.groupBy.map((name): Field => {
      if (name !== this.window.as) return this.parse.schema.fields[fieldIndex(this.parse.schema, name)]!;
      const time = this.parse.schema.fields[fieldIndex(this.parse.schema, this.window.timeColumn)]!;
      const w = this.window;
      return {
        name: w.as,
        dataType: WINDOW_TYPE,
        nullable: true,
        // Panes are counted but go out as their windows (ChunkAggregator): the rows are windows.
        metadata: { ...time.metadata, timeWindow: { durationUs: w.durationUs, slideUs: w.slideUs, startTimeUs: w.startTimeUs, timeColumn: w.timeColumn } },
      };
    });
    const partial = partialFieldsOf(this.store).map((f) => ({ ...f, metadata: { ...f.metadata, partialAggregate: { store: this.store } } }));
    return { fields: [...fields, ...partial] };
  }

  // With workers, chunks go out as they come and their groups are sent on in input order; the
  // stream waits only when too many are out, and before any other item so that order holds.
  override _transform(item: StreamItem, encoding: BufferEncoding, callback: TransformCallback): void {
    // Only the next batch's chunks read ahead pass a barrier still going out; anything else waits for it.
    if (item.kind !== 'readAhead' && this.#afterBarrierOut(() => this._transform(item, encoding, callback))) return;
    if (item.kind === 'open') {
      // The executor's offer goes to the first stage only; the chunks read ahead are read on the
      // workers, and a batch's processing time cannot be known before its begin.
      const offer = item.readAhead;
      if (offer !== undefined && !offer.taken && item.plan.length === 0 && this.workers > 0 && this.parse.maxEventTimeAheadUs === null) {
        offer.taken = true;
        this.#readsAhead = true;
      }
      super._transform(item, encoding, (err?: Error | null) => {
        if (err == null && this.workers > 0 && this.#session === null) {
          try {
            this.#session = ChunkWorkerPool.shared(this.workers).openSession({ reader: this.parse.readerOptions(), plan: this.#plan });
          } catch (failure) {
            callback(failure as Error);
            return;
          }
        }
        callback(err);
      });
      return;
    }
    const session = this.#session;
    if (item.kind === 'readAhead') {
      try {
        this.#takeReadAhead(item, session);
      } catch (err) {
        callback(err as Error);
        return;
      }
      // Nothing is emitted before the batch's begin: wait only for the workers to keep up.
      this.#awaitAnswers(session!.workers * READ_AHEAD_CHUNKS_PER_WORKER).then(() => callback(), callback);
      return;
    }
    if (session === null) {
      super._transform(item, encoding, callback);
      return;
    }
    if (item.kind === 'rows') {
      this.#send(session, item.batch, this.#batchTimestampMs);
      this.#settle(session.workers * CHUNKS_IN_FLIGHT_PER_WORKER).then((out) => this.emitItems(out, callback), callback);
      return;
    }
    if (item.kind === 'begin') {
      this.#batchTimestampMs = item.batchTimestampMs;
      try {
        // The chunks read ahead are this batch's first: they stay in flight, behind its begin.
        if (this.#beginsWithReadAhead(item)) {
          super._transform(item, encoding, callback);
          return;
        }
      } catch (err) {
        callback(err as Error);
        return;
      }
    }
    if (item.kind === 'barrier' && this.#readsAhead) {
      this.#sendBarrier(item, encoding);
      // Taken at once: the next batch's chunks, read ahead while this one commits, go to the workers
      // while this batch's last chunks are still being read there and while the stages after this
      // one finish the batch. Taken only after the barrier went out, the workers sat idle for that.
      callback();
      return;
    }
    this.#settle(0).then((out) => this.emitItems(out, (err) => (err == null ? super._transform(item, encoding, callback) : callback(err))), callback);
  }

  // Settles the batch's chunks (those in flight now: the chunks read ahead come after them) and
  // sends the barrier on, in the background; a failure destroys the stream.
  #sendBarrier(barrier: BarrierItem, encoding: BufferEncoding): void {
    const chunks = this.#inFlight.length;
    this.#barrierOut = new Promise<void>((resolve) => {
      const fail = (err: Error): void => {
        this.destroy(err);
        resolve();
      };
      this.#settle(0, chunks).then(
        (out) =>
          this.emitItems(out, (err) => {
            if (err != null) fail(err);
            else super._transform(barrier, encoding, (e) => (e != null ? fail(e) : resolve()));
          }),
        fail,
      );
    });
  }

  // False when no barrier is going out; else runs `then` once it went out, unless its failure
  // destroyed the stream (nothing more is taken then).
  #afterBarrierOut(then: () => void): boolean {
    const barrierOut = this.#barrierOut;
    if (barrierOut === null) return false;
    void barrierOut.then(() => {
      this.#barrierOut = null;
      if (!this.destroyed) then();
    });
    return true;
  }

  // Hands a batch's chunks to the workers, in order.
  #send(session: ChunkSession, batch: RecordBatch, batchTimestampMs: number): number {
    const handedOver = this.#chunks.handedOver;
    let sent = 0;
    for (const chunk of this.#chunks.chunks(batch)) {
      const bytes = chunk.bytes;
      // A read buffer is shared memory: the worker reads it in place. Any other buffer is copied,
      // or moved when it is large and not a slice of Node's pool of small buffers (which holds
      // other buffers' bytes too).
      const readBuffer = handedOver && isReadBuffer(bytes.buffer);
      const move = !readBuffer && handedOver && bytes.buffer.byteLength > Buffer.poolSize;
      this.#unanswered++;
      // A read buffer is reused once the worker answered, not when the reply is settled: replies of
      // chunks read ahead may wait for a whole commit. A failed chunk's bytes are read again here
      // to report the error: its buffer is left to the garbage collector.
      const reply = session.read(bytes, chunk.file, chunk.offset === 0, this.#chunks.maxLineLength, move, batchTimestampMs).then(
        (answer) => {
          this.#answer();
          if (answer.ok && readBuffer) giveReadBuffer(bytes.buffer);
          return answer;
        },
        (err: unknown) => {
          this.#answer();
          throw err;
        },
      );
      // A reply dropped unsettled (the query stopped) must not be an unhandled rejection.
      reply.catch(() => undefined);
      this.#inFlight.push({ reply, file: chunk.file, offset: chunk.offset });
      sent++;
    }
    return sent;
  }

  #answer(): void {
    this.#unanswered--;
    const waiting = this.#answered;
    this.#answered = null;
    waiting?.();
  }

  // Resolves once at most `limit` chunks are still being read.
  async #awaitAnswers(limit: number): Promise<void> {
    while (this.#unanswered > limit) await new Promise<void>((resolve) => (this.#answered = resolve));
  }

  #takeReadAhead(item: ReadAheadItem, session: ChunkSession | null): void {
    if (!this.#readsAhead || session === null) throw new TidemarkError('ERR_PROTOCOL', 'ChunkAggregate received read-ahead rows it did not ask for');
    const ahead = this.#readAhead;
    if (ahead !== null && ahead.batchId !== item.batchId) this.#dropReadAhead();
    const taken = this.#readAhead ?? { batchId: item.batchId, items: 0, chunks: 0 };
    // Which processing time the batch gets is not known yet: only queries that do not use it read ahead.
    taken.chunks += this.#send(session, item.batch, NaN);
    taken.items++;
    this.#readAhead = taken;
  }

  // True when `begin` starts the batch the chunks in flight were read ahead for; any others are dropped.
  #beginsWithReadAhead(begin: BeginItem): boolean {
    const ahead = this.#readAhead;
    const expected = begin.readAhead ?? 0;
    if (expected === 0) {
      if (ahead !== null) this.#dropReadAhead();
      return false;
    }
    if (ahead === null || ahead.batchId !== begin.batchId || ahead.items !== expected) {
      throw new TidemarkError('ERR_PROTOCOL', `batch ${begin.batchId} begins with ${expected} items read ahead, but ChunkAggregate took ${ahead === null ? 0 : ahead.items}${ahead !== null && ahead.batchId !== begin.batchId ? ` for batch ${ahead.batchId}` : ''}: a stage before it dropped or reordered them`);
    }
    this.#readAhead = null;
    return true;
  }

  // The chunks read ahead for a batch that did not start (the query stopped): their replies are not
  // wanted; their read buffers still come back.
  #dropReadAhead(): void {
    const ahead = this.#readAhead;
    if (ahead === null) return;
    this.#inFlight.splice(this.#inFlight.length - ahead.chunks, ahead.chunks);
    this.#readAhead = null;
  }

  override _flush(callback: TransformCallback): void {
    if (this.#afterBarrierOut(() => this._flush(callback))) return;
    this.#dropReadAhead();
    this.#settle(0).then(
      (out) => this.emitItems(out, callback),
      (err: Error) => callback(err),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#session?.close();
    this.#session = null;
    this.#inFlight.length = 0;
    callback(err);
  }

  // Takes replies in input order until at most `limit` chunks are out (or `count` are taken), and
  // returns their rows.
  async #settle(limit: number, count = Infinity): Promise<StreamItem[]> {
    const out: StreamItem[] = [];
    for (let taken = 0; taken < count && this.#inFlight.length > limit; taken++) {
      const chunk = this.#inFlight.shift()!;
      const reply = await chunk.reply;
      const firstLine = this.#chunks.firstLineOf(chunk);
      if (!reply.ok) {
        // Read it again here, where its first line is known, for the error with the right line
        // (the reader has this batch's processing time: a batch's chunks settle before its barrier).
        this.#reader.readChunk(reply.bytes, this.#reader.newBuilder(1024), chunk.file, firstLine, chunk.offset === 0, this.#chunks.maxLineLength);
        throw new TidemarkError('ERR_WORKER', `a chunk worker failed on ${chunk.file}: ${reply.message}`, { file: chunk.file });
      }
      this.#chunks.chunkRead(chunk.file, firstLine, reply);
      const rows = this.#rowsOf(reply.groups);
      if (rows !== null) out.push(rows);
    }
    return out;
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    switch (item.kind) {
      case 'begin':
        this.#batchTimestampMs = item.batchTimestampMs;
        this.#reader.setBatchTimestamp(item.batchTimestampMs);
        yield item;
        return;
      case 'barrier':
        this.#chunks.finishBatch(item, true);
        yield item;
        return;
      case 'rows': {
        // On this thread, chunk by chunk, as a worker would.
        for (const chunk of this.#chunks.chunks(item.batch)) {
          const firstLine = this.#chunks.firstLineOf(chunk);
          const read = this.#aggregator.read(chunk.bytes, chunk.file, chunk.offset === 0, this.#chunks.maxLineLength, this.#batchTimestampMs, firstLine);
          if (this.#chunks.handedOver) giveReadBuffer(chunk.bytes.buffer);
          this.#chunks.chunkRead(chunk.file, firstLine, read);
          const rows = this.#rowsOf(read.groups);
          if (rows !== null) yield rows;
        }
        return;
      }
      default:
        yield item;
    }
  }

  // A chunk's groups as partial-aggregate rows; a chunk of null times has no groups but still has
  // event-time figures for the watermark.
  #rowsOf(groups: PartialAggregates): StreamItem | null {
    if (groups.length === 0 && groups.eventTime === null) return null;
    const w = this.window;
    if (this.#keyDictionary.size > MAX_DICTIONARY_SIZE) this.#keyDictionary = new StringDictionary();
    const dictionary = this.#keyDictionary;
    const columns = this.groupBy.map((name): Column => {
      if (name === w.as) {
        const ends = new Float64Array(groups.length);
        for (let g = 0; g < groups.length; g++) ends[g] = groups.slotStarts[g]! + w.durationUs;
        return { kind: 'struct', children: [{ kind: 'f64', values: groups.slotStarts, nulls: null }, { kind: 'f64', values: ends, nulls: null }], nulls: null };
      }
      const ids = new Int32Array(groups.length);
      for (let g = 0; g < groups.length; g++) {
        const key = groups.keys![g]!;
        ids[g] = key === null ? -1 : dictionary.intern(key);
      }
      return { kind: 'dict', ids, dictionary };
    });
    return { kind: 'rows', batch: new RecordBatch(this.outputSchema!, [...columns, ...groups.partial], groups.length), eventTime: groups.eventTime };
  }
}

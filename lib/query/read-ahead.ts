/**
 * Reading the next micro-batch while the one before commits.
 *
 * Between two batches the executor waits: the stages emit what the batch
 * closed, the sink writes it, the checkpoint writes state and `commits/N`,
 * and only then is batch N+1 planned and read, as Spark orders it. On two
 * cores that leaves the chunk workers idle for a fifth of a run. With
 * `availableNow` and a source whose next batch does not depend on when it
 * is asked (a file source, whose listing is frozen), what N+1 reads is fixed
 * already, so its first rows can be read and sent ahead as `readAhead`
 * items. The stage that took the offer parses them on its workers and holds
 * the results until `begin N+1`; the offsets of N+1 are still written after
 * `commits/N`, with the watermark N left, exactly as before.
 *
 * A crash while reading ahead leaves at most the source's own log entry for
 * N+1 written without its offsets: the state a crash between Spark's
 * `latestOffset` and its offset log write leaves, which a restart plans as
 * the next batch. A source that can (`Source.planAhead`) has N+1 read while
 * that entry is written; the offsets still wait for it.
 *
 * @module
 */
import type { RecordBatch } from '../core/batch.js';
import type { StreamItem } from '../protocol.js';
import { sameOffset, type Offset, type Source } from '../sources/source.js';

/** What a read-ahead leaves to the batch it was for. */
export interface ReadAheadResult {
  /** The batch's end offset, as `latestOffset` planned it (`start` or null: nothing new). */
  readonly end: Offset | null;
  /** `readAhead` items sent before the batch's `begin`. */
  readonly items: number;
  /** Rows in them. */
  readonly rows: number;
  /** The rest of the batch's rows, to send after its `begin`; null when there is nothing new. */
  readonly rest: AsyncIterable<RecordBatch> | null;
}

async function* rowsOf(rows: AsyncIterable<RecordBatch> | Iterable<RecordBatch>): AsyncGenerator<RecordBatch> {
  yield* rows;
}

/** Plans batch `batchId` and sends its rows ahead until {@link ReadAhead.finish}. */
export class ReadAhead {
  readonly batchId: number;
  readonly #source: Source;
  readonly #start: Offset | null;
  readonly #send: (item: StreamItem) => Promise<void>;
  readonly #running: Promise<void>;
  #end: Offset | null = null;
  #rows: AsyncGenerator<RecordBatch> | null = null;
  // A batch of rows read after finish() was asked for: it goes first after begin.
  #held: RecordBatch | null = null;
  #exhausted = false;
  #items = 0;
  #rowCount = 0;
  #stopping = false;
  // The write of what the source records about the batch (see Source.planAhead).
  #recorded: Promise<void> = Promise.resolve();

  /** Starts planning batch `batchId` after `start` and sending its rows through `send`. */
  constructor(source: Source, start: Offset | null, batchId: number, send: (item: StreamItem) => Promise<void>) {
    this.#source = source;
    this.#start = start;
    this.batchId = batchId;
    this.#send = send;
    this.#running = this.#run();
    // Awaited by finish() or abandon(); until then a failure must not be an unhandled rejection.
    this.#running.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const source = this.#source;
    let end: Offset | null;
    if (source.planAhead === undefined) end = await source.latestOffset(this.#start, 'limited');
    else {
      // The batch's files are read while its log entry is written: both wait for the query's
      // thread between their steps, which at a batch's end is busy finishing the batch before.
      const planned = await source.planAhead(this.#start, 'limited');
      end = planned.end;
      this.#recorded = planned.recorded;
    }
    this.#end = end;
    if (end === null || sameOffset(end, this.#start)) return;
    const rows = rowsOf(this.#source.getBatch(this.#start, end, this.batchId));
    this.#rows = rows;
    while (!this.#stopping) {
      const next = await rows.next();
      if (next.done === true) {
        this.#exhausted = true;
        return;
      }
      if (this.#stopping) {
        this.#held = next.value;
        return;
      }
      await this.#send({ kind: 'readAhead', batchId: this.batchId, batch: next.value });
      this.#items++;
      this.#rowCount += next.value.length;
    }
  }

  /**
   * Stops sending ahead and hands over the batch: its planned end, how many
   * items went ahead, and the rows still to send. Rethrows a failure of the
   * planning or the reading (the batch before is committed by then).
   */
  async finish(): Promise<ReadAheadResult> {
    this.#stopping = true;
    try {
      await this.#running;
      // The batch's offsets are written next: its source record must be durable first.
      await this.#recorded;
    } catch (err) {
      await this.#rows?.return(undefined).catch(() => undefined);
      throw err;
    }
    const rows = this.#rows;
    if (rows === null) return { end: this.#end, items: 0, rows: 0, rest: null };
    const remaining: AsyncGenerator<RecordBatch> = rows;
    const held = this.#held;
    const exhausted = this.#exhausted;
    async function* rest(): AsyncGenerator<RecordBatch> {
      if (held !== null) yield held;
      if (!exhausted) yield* remaining;
    }
    return { end: this.#end, items: this.#items, rows: this.#rowCount, rest: rest() };
  }

  /** Stops and closes what the source opened (the query stops or failed); failures are dropped. */
  async abandon(): Promise<void> {
    this.#stopping = true;
    await this.#running.catch(() => undefined);
    // No write may outlive the run (its checkpoint lock goes with it).
    await this.#recorded.catch(() => undefined);
    await this.#rows?.return(undefined).catch(() => undefined);
  }
}

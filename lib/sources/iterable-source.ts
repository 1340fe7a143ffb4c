/**
 * `IterableSource`: events your program receives — from a socket, a queue
 * client, a webhook handler — as an async iterable (an async generator, a
 * Node `Readable` in object mode, any `for await`-able) of row objects,
 * read as a stream by a query.
 *
 * What it promises, plainly: **at-least-once across restarts, and only if
 * whatever feeds the iterable delivers again what was not acknowledged.**
 * The source keeps the rows it received in memory until their micro-batch
 * is committed, so within one run a batch re-executed reads exactly the same
 * rows (its offsets, `{"source":"<id>","rows":N}`, count rows of this run).
 * Nothing it received survives the process: after a crash, the rows of the
 * batch in flight, and those received but not yet in a batch, are gone
 * from tidemark. Give `onCommit` to acknowledge rows upstream once their
 * batch is committed (a message queue's `ack`): a queue then delivers the
 * unacknowledged ones again to the next run, and some rows may be counted
 * twice (those committed whose acknowledgement the crash cut off). For
 * exactly-once input, use a source with replayable offsets (`FileSource`,
 * `JetStreamSource`).
 *
 * `onCommit` is called with the row objects as the iterable gave them (so
 * a row may carry the handle to acknowledge it, in a field outside the
 * schema), once their batch is committed — when the query plans its next
 * batch with data, as Spark calls `Source.commit`.
 *
 * Rows are pulled as they come, up to `maxBufferedRows` received but not
 * yet in a batch (then the iterable waits: backpressure). With
 * `Trigger.AvailableNow` the query reads until the iterable ends. A failing
 * iterable fails the query (`ERR_SOURCE_FAILED`) once the rows received
 * before the failure are processed.
 *
 * One source, one run: it reads its iterable once; a restarted query needs
 * a new `IterableSource` (over an iterable that continues where the
 * upstream's acknowledgements say).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { TidemarkError } from '../errors.js';
import { RecordBatch, type Row } from '../core/batch.js';
import type { Schema } from '../core/schema.js';
import { parseDDL } from '../core/ddl.js';
import { SourceBase, refuseQueryOptions, type Offset, type PlanMode, type SourceContext } from './source.js';

/** Options of {@link IterableSource}. */
export interface IterableSourceOptions<R extends Row = Row> {
  /** The rows' schema: a schema value or a Spark DDL string (`"time timestamp, action string"`). */
  schema: Schema | string;
  /** The events: an async or sync iterable of row objects, or a Node `Readable` in object mode. */
  events: AsyncIterable<R> | Iterable<R>;
  /** Called with the rows of committed batches, in arrival order: acknowledge them upstream. */
  onCommit?: (rows: readonly R[]) => void | Promise<void>;
  /** At most this many rows per micro-batch. */
  maxRowsPerTrigger?: number;
  /** Rows received but not yet in a batch before the iterable is made to wait (default 100000). */
  maxBufferedRows?: number;
  /** A name for what the events are (default `iterable`): a checkpoint written with another name is refused. */
  name?: string;
}

const DEFAULT_MAX_BUFFERED_ROWS = 100_000;
const ROWS_PER_BATCH = 4096;

interface IterableOffset {
  readonly source: string;
  readonly rows: number;
}

function offsetOf(value: Offset | null): IterableOffset | null {
  if (value === null || typeof value !== 'object') return null;
  const o = value as Partial<IterableOffset>;
  return typeof o.source === 'string' && typeof o.rows === 'number' ? { source: o.source, rows: o.rows } : null;
}

/**
 * A source of events from an async iterable or an object-mode `Readable`.
 *
 * @example
 * ```ts
 * async function* events() { for await (const m of queue) yield { time: m.time, action: m.action, message: m } }
 * const source = new IterableSource({ schema: 'time timestamp, action string', events: events(), onCommit: (rows) => rows.forEach((r) => r.message.ack()) })
 * ```
 */
export class IterableSource<R extends Row = Row> extends SourceBase {
  readonly schema: Schema;
  readonly description: string;
  /** What the events are, as given by `name`. */
  readonly name: string;
  /** Identifies this source's rows in its offsets: new for every source object. */
  readonly id = randomUUID();
  readonly #events: AsyncIterable<R> | Iterable<R>;
  readonly #onCommit: ((rows: readonly R[]) => void | Promise<void>) | null;
  readonly #maxRowsPerTrigger: number | null;
  readonly #maxBufferedRows: number;
  /** Rows received and not yet released; `#rows[0]` is row number `#base` of this source. */
  #rows: R[] = [];
  #base = 0;
  /** Rows handed to a planned batch (this source's row count at the last plan). */
  #planned = 0;
  #ended = false;
  #failure: unknown = null;
  #started = false;
  #closed = false;
  #availableNow = false;
  #iterator: AsyncIterator<R> | Iterator<R> | null = null;
  #arrival: Array<() => void> = [];
  #space: (() => void) | null = null;

  constructor(options: IterableSourceOptions<R>) {
    super();
    refuseQueryOptions('IterableSource', options);
    const s = typeof options?.schema === 'string' ? parseDDL(options.schema) : options?.schema;
    if (s === undefined || !Array.isArray(s.fields)) throw new TidemarkError('ERR_INVALID_OPTION', 'IterableSource needs a schema', { option: 'schema' });
    const events = options.events as unknown;
    if (events === null || typeof events !== 'object' || (typeof (events as AsyncIterable<R>)[Symbol.asyncIterator] !== 'function' && typeof (events as Iterable<R>)[Symbol.iterator] !== 'function')) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'IterableSource needs events: an async iterable (an async generator), an iterable, or a Node Readable in object mode', { option: 'events' });
    }
    this.schema = s;
    this.#events = options.events;
    this.#onCommit = options.onCommit ?? null;
    this.#maxRowsPerTrigger = options.maxRowsPerTrigger === undefined ? null : positiveInteger(options.maxRowsPerTrigger, 'maxRowsPerTrigger');
    this.#maxBufferedRows = positiveInteger(options.maxBufferedRows ?? DEFAULT_MAX_BUFFERED_ROWS, 'maxBufferedRows');
    this.name = options.name ?? 'iterable';
    this.description = `IterableSource[${this.name}]`;
  }

  /** Rows received and not yet released (committed rows are released), for tests of memory. */
  get heldRows(): number {
    return this.#rows.length;
  }

  override fingerprint(): Record<string, unknown> {
    return { iterable: this.name };
  }

  override async open(_context: SourceContext): Promise<void> {
    if (this.#started) {
      throw new TidemarkError('ERR_INVALID_SOURCE', `${this.description} reads its events once: a new run of the query needs a new IterableSource`, { option: 'source' });
    }
    this.#started = true;
    void this.#pump();
  }

  override async prepareForAvailableNow(): Promise<void> {
    this.#availableNow = true;
  }

  override async latestOffset(start: Offset | null, mode: PlanMode): Promise<Offset | null> {
    const from = offsetOf(start);
    const first = from !== null && from.source === this.id ? from.rows : 0;
    // Available now: until the iterable ends, a plan waits for rows rather than end the run.
    while (this.#availableNow && this.#count === first && !this.#ended && this.#failure === null && !this.#closed) await this.#nextArrival();
    if (this.#count === first && this.#failure !== null) {
      throw new TidemarkError('ERR_SOURCE_FAILED', `the events of ${this.description} failed: ${(this.#failure as Error)?.message ?? String(this.#failure)}`, { option: 'events', cause: this.#failure });
    }
    if (this.#count === first) return start;
    const limit = mode === 'limited' && this.#maxRowsPerTrigger !== null ? this.#maxRowsPerTrigger : Infinity;
    const end = Math.min(this.#count, first + limit);
    this.#planned = Math.max(this.#planned, end);
    this.#space?.();
    return { source: this.id, rows: end };
  }

  override *getBatch(start: Offset | null, end: Offset, batchId: number): Iterable<RecordBatch> {
    const to = offsetOf(end);
    if (to === null) throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `an IterableSource offset in the checkpoint is unreadable: ${JSON.stringify(end)}`);
    if (to.source !== this.id) {
      // Planned by an earlier run: its rows died with it. A redelivering upstream brings them again.
      this.emit(
        'warning',
        new TidemarkError('ERR_DATA_LOSS', `batch ${batchId} was planned by an earlier run of the query; ${this.description} does not keep rows across runs, so it is re-executed without them (they come again only if the upstream delivers unacknowledged events again)`),
      );
      return;
    }
    const from = offsetOf(start);
    const first = from !== null && from.source === this.id ? from.rows : 0;
    if (first < this.#base) throw new TidemarkError('ERR_PROTOCOL', `${this.description}: rows ${first}..${to.rows} were asked for, but rows before ${this.#base} were released`);
    for (let i = first; i < to.rows; i += ROWS_PER_BATCH) {
      yield RecordBatch.fromRows(this.schema, this.#rows.slice(i - this.#base, Math.min(to.rows, i + ROWS_PER_BATCH) - this.#base));
    }
  }

  // Committed rows are never read again: acknowledged upstream, then let go.
  override async commit(end: Offset): Promise<void> {
    const to = offsetOf(end);
    if (to === null || to.source !== this.id || to.rows <= this.#base) return;
    const released = this.#rows.slice(0, to.rows - this.#base);
    this.#rows = this.#rows.slice(to.rows - this.#base);
    this.#base = to.rows;
    if (this.#onCommit !== null && released.length > 0) {
      try {
        await this.#onCommit(released);
      } catch (err) {
        // The batch is committed whatever happens here: the upstream delivers the rows again (at-least-once).
        this.emit('warning', new TidemarkError('ERR_SOURCE_FAILED', `onCommit of ${this.description} failed for ${released.length} committed rows: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      }
    }
  }

  override async waitForData(signal: AbortSignal): Promise<void> {
    if (this.#count > this.#planned || this.#failure !== null) return;
    await new Promise<void>((resolve) => {
      this.#arrival.push(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    this.#space?.();
    const iterator = this.#iterator;
    // Ends the upstream iterable (a generator's `finally` runs; a Readable is destroyed).
    await Promise.resolve(iterator?.return?.()).catch(() => undefined);
  }

  get #count(): number {
    return this.#base + this.#rows.length;
  }

  async #pump(): Promise<void> {
    const events = this.#events as AsyncIterable<R> & Iterable<R>;
    const iterator: AsyncIterator<R> | Iterator<R> = typeof events[Symbol.asyncIterator] === 'function' ? events[Symbol.asyncIterator]() : events[Symbol.iterator]();
    this.#iterator = iterator;
    try {
      for (;;) {
        while (this.#count - this.#planned >= this.#maxBufferedRows && !this.#closed) {
          await new Promise<void>((resolve) => {
            this.#space = resolve;
          });
          this.#space = null;
        }
        if (this.#closed) return;
        const next = await iterator.next();
        if (next.done === true || this.#closed) break;
        const row = next.value;
        if (row === null || typeof row !== 'object') {
          throw new TidemarkError('ERR_SCHEMA_MISMATCH', `${this.description} received ${JSON.stringify(row)}, not a row object (one property per column)`);
        }
        this.#rows.push(row);
        this.#wake();
      }
      this.#ended = true;
    } catch (err) {
      this.#failure = err;
    }
    this.#wake();
  }

  #nextArrival(): Promise<void> {
    return new Promise((resolve) => this.#arrival.push(resolve));
  }

  #wake(): void {
    const waiting = this.#arrival;
    this.#arrival = [];
    for (const resolve of waiting) resolve();
  }
}

function positiveInteger(value: number, option: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TidemarkError('ERR_INVALID_OPTION', `${option} must be a positive integer, got ${value}`, { option });
  return value;
}

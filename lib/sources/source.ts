/**
 * What a source is: Spark's `Source` — a schema, offsets, and the data
 * between two offsets, read again exactly when a batch is re-executed. The
 * micro-batch loop that drives sources (triggers, the offsets log, commits)
 * is the executor's (`query/executor.ts`); a source only answers it.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { TidemarkError } from '../errors.js';
import type { RecordBatch } from '../core/batch.js';
import type { Schema } from '../core/schema.js';

/** A source's position: any JSON value (a count, a log index, sequences per partition). */
export type Offset = unknown;

/** How much a batch may take: `limited` applies rate limits such as `maxFilesPerTrigger` (`Trigger.Once` ignores them). */
export type PlanMode = 'limited' | 'unlimited';

/** Where a source keeps its own log in the checkpoint (`<checkpoint>/sources/<i>`). */
export interface SourceLogLocation {
  readonly directory: string;
  /** Log files from this batch id on carry a checksum; earlier ones were written before checksums. */
  readonly checksumsFrom: number;
}

/** What the executor gives a source when a run starts. */
export interface SourceContext {
  /** The source's own log in the checkpoint, or null without a checkpoint directory. */
  readonly log: SourceLogLocation | null;
  /** The query's id (stable across restarts). */
  readonly queryId: string;
  /** The offset of the last committed batch, or null on a fresh checkpoint. */
  readonly committedOffset: Offset | null;
}

/** What {@link Source.planAhead} planned: the batch's end, and the write of its record. */
export interface PlannedAhead {
  /** As {@link Source.latestOffset} returns it. */
  readonly end: Offset | null;
  /** Settles once what the source records about the batch is durable; rejects when that write failed. */
  readonly recorded: Promise<void>;
}

/**
 * A source of micro-batches.
 *
 * The executor calls {@link Source.open} once per run, then per batch
 * {@link Source.latestOffset} and {@link Source.getBatch}, and
 * {@link Source.commit} once a batch is committed. A batch that did not
 * commit before a crash is read again with the same offsets: `getBatch` must
 * return the same rows for the same offsets.
 */
export interface Source {
  /** Schema of the rows. */
  readonly schema: Schema;
  /** Spark's description in progress reports (`MemoryStream[…]`, `FileStreamSource[file:/…]`). */
  readonly description: string;
  /** Marks tidemark sources (checked when a query starts). */
  readonly isTidemarkSource: true;
  /** Starts a run: reads the source's own log, checks it can continue from `committedOffset`. */
  open(context: SourceContext): Promise<void>;
  /**
   * The end offset of the next batch given the last committed one, or
   * `start` itself (or null) when there is nothing new. May record what it
   * chose (a file source appends its log), since the batch is then planned.
   */
  latestOffset(start: Offset | null, mode: PlanMode): Promise<Offset | null>;
  /** The rows after `start` up to `end`, read by micro-batch `batchId` (for errors); called again with the same offsets when a batch is re-executed. */
  getBatch(start: Offset | null, end: Offset, batchId: number): AsyncIterable<RecordBatch> | Iterable<RecordBatch>;
  /** Data up to `end` is committed: release it, clean it up (Spark's `Source.commit`). */
  commit(end: Offset): Promise<void>;
  /** With `availableNow`: fixes what "available now" means; called once at the start of the run. */
  prepareForAvailableNow(): Promise<void>;
  /**
   * True when, after {@link Source.prepareForAvailableNow}, the next batch
   * `latestOffset` plans does not depend on when it is asked: the executor
   * then plans and reads it while the batch before commits (its offsets are
   * still written after that commit). A file source's listing is frozen.
   */
  readonly plansAhead?: boolean;
  /**
   * For a source that {@link Source.plansAhead}: plans the next batch as
   * {@link Source.latestOffset} does, but gives its end before what it
   * records is durable, so that {@link Source.getBatch} can read it at once;
   * `recorded` settles once the record is written (the executor awaits it
   * before it writes the batch's offsets). Absent: the executor reads ahead
   * after `latestOffset`.
   */
  planAhead?(start: Offset | null, mode: PlanMode): Promise<PlannedAhead>;
  /** Resolves when new data may be available (or `signal` aborts). */
  waitForData(signal: AbortSignal): Promise<void>;
  /** Ends the run: closes files and connections. */
  close(): Promise<void>;
  /**
   * What the source reads (a path, a stream), stored in the checkpoint: a
   * restart on the same checkpoint with a different one is refused naming
   * the difference.
   */
  fingerprint(): Record<string, unknown>;
  /** Figures since the last call, for the progress of the batch just read (`sources[i].metrics`, string values as Spark's); called once per batch. */
  metrics(): Record<string, string>;
  /** Throws when files written at `path` would be read as input (a file source): a file sink there is refused. */
  refuseOutputAt?(path: string): void;
}

/** True when `value` is a tidemark source. */
export function isSource(value: unknown): value is Source {
  return typeof value === 'object' && value !== null && (value as Partial<Source>).isTidemarkSource === true;
}

/** The error for a value used as a source that is not one: what it is, and what to use instead. */
export function notASource(value: unknown, option = 'source'): TidemarkError {
  const what = value === null || value === undefined ? String(value) : typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
  return new TidemarkError(
    'ERR_INVALID_SOURCE',
    `${what} is not a tidemark source: read files with FileSource, rows your program adds with MemorySource, an async iterable or a Node Readable of objects with IterableSource, a NATS JetStream stream with JetStreamSource`,
    { option },
  );
}

/** Options that belong to the query, not to a source (Spark's `writeStream` side). */
const QUERY_OPTIONS = ['checkpointLocation', 'trigger', 'drain', 'outputMode', 'noDataMicroBatches', 'queryName'] as const;

/** Refuses a query option given to a source: it would be ignored, and a checkpoint location ignored loses exactly-once. */
export function refuseQueryOptions(sourceName: string, options: object | undefined): void {
  for (const key of QUERY_OPTIONS) {
    if (options !== undefined && key in options && (options as Record<string, unknown>)[key] !== undefined) {
      throw new TidemarkError(
        'ERR_INVALID_OPTION',
        `${key} is an option of the query, not of ${sourceName}: startQuery({ source, ${key}, … }) or pipeline(microBatches(source, { ${key} }), …)`,
        { option: key },
      );
    }
  }
}

/** Events of a source. */
export interface SourceEvents {
  /** Something the user should know that does not stop the query (a file that could not be cleaned, files skipped by age). */
  warning: [warning: TidemarkError];
}

/**
 * Base class of sources: the defaults of the optional parts of
 * {@link Source}, a `warning` event, and an async iterator that refuses to
 * be read outside a query (so `pipeline(source, …)` says what to do instead
 * of reading nothing).
 */
export abstract class SourceBase extends EventEmitter<SourceEvents> implements Source {
  abstract readonly schema: Schema;
  abstract readonly description: string;
  readonly isTidemarkSource = true as const;

  async open(_context: SourceContext): Promise<void> {}
  abstract latestOffset(start: Offset | null, mode: PlanMode): Promise<Offset | null>;
  abstract getBatch(start: Offset | null, end: Offset, batchId: number): AsyncIterable<RecordBatch> | Iterable<RecordBatch>;
  async commit(_end: Offset): Promise<void> {}
  async prepareForAvailableNow(): Promise<void> {}

  waitForData(signal: AbortSignal): Promise<void> {
    return sleep(100, signal);
  }

  async close(): Promise<void> {}

  fingerprint(): Record<string, unknown> {
    return {};
  }

  metrics(): Record<string, string> {
    return {};
  }

  /** A source is run by a query, not read as a stream: this says how. */
  [Symbol.asyncIterator](): AsyncIterator<never> {
    throw new TidemarkError(
      'ERR_INVALID_SOURCE',
      `${this.description} is run by a query, not read as a stream: startQuery({ source, stages, sink }) or pipeline(microBatches(source, { checkpointLocation, trigger }), ...stages, sink)`,
      { option: 'source' },
    );
  }
}

/** Whether two offsets are the same: offsets are JSON values, compared as the offsets log writes them. */
export function sameOffset(a: Offset | null, b: Offset | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

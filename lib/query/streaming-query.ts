/**
 * The query driver: `startQuery` assembles `source → stages → sink` with
 * `stream.pipeline` and owns its lifecycle, like Spark's
 * `writeStream.start()` and `StreamingQuery`. It never runs the rules on a
 * side path: every micro-batch, checkpoint and output comes from the
 * pipeline itself.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { TidemarkError } from '../errors.js';
import { parseOutputMode, type OutputMode } from '../core/output-mode.js';
import type { Schema } from '../core/schema.js';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { isSource, notASource, type Source } from '../sources/source.js';
import { MicroBatchExecution, type ExecutionStatus } from './executor.js';
import { planQuery } from './planner.js';
import type { Sink } from '../sinks/sink.js';
import type { Row } from '../core/batch.js';
import type { TriggerOption } from './trigger.js';
import type { StreamingQueryProgress } from './progress.js';
import { progressIterator, type ProgressIterator, type ProgressIteratorOptions } from './progress-iterator.js';

/** Options of {@link startQuery}. */
export interface StartQueryOptions {
  /** Query name (Spark's `queryName`); unique among active queries of a manager. */
  name?: string;
  /** Where rows come from: a tidemark source (`FileSource`, `MemorySource`, `IterableSource`, `JetStreamSource`). */
  source: Source;
  /** Stages between source and sink, in order. Any `Transform` that speaks the protocol may be used. */
  stages?: readonly Transform[];
  /** Where results go. */
  sink: Sink;
  /** Checkpoint directory; in memory when omitted (only sinks that do not need one allow that). */
  checkpointLocation?: string;
  /** When micro-batches run. */
  trigger?: TriggerOption;
  /** `append` (default), `update` or `complete`. */
  outputMode?: OutputMode | string;
  /** Spark's no-data micro-batches; default true. */
  noDataMicroBatches?: boolean;
  /**
   * Deltas between two full snapshots of a stateful stage's state in the
   * checkpoint (Spark's `spark.sql.streaming.stateStore.minDeltasForSnapshot`);
   * default 10. Fewer: faster restarts, more bytes written.
   */
  minDeltasForSnapshot?: number;
  /** End bounded runs with a batch whose watermark is +∞ (every window is emitted). */
  drain?: boolean;
  /**
   * Let the planner choose faster stages that give the same results (panes
   * for sliding windows, counting where the bytes are read); default true.
   * `false` runs the stages exactly as given. `query.explain()` shows the choice.
   */
  optimize?: boolean;
  /** The registry to register in; the process-wide {@link streams} by default. */
  manager?: StreamingQueryManager;
  /**
   * Stops the query when aborted, as {@link StreamingQuery.stop} does: the
   * micro-batch in flight completes and commits, `awaitTermination()`
   * resolves. A signal already aborted makes `startQuery` reject with its
   * reason (an `AbortError`) before the checkpoint is touched.
   */
  signal?: AbortSignal;
}

/** Progress entries kept in `recentProgress` (Spark's `numRecentProgressUpdates`). */
export const RECENT_PROGRESS_LIMIT = 100;

/** Events of a {@link StreamingQuery}. */
export interface StreamingQueryEvents {
  /** A micro-batch committed; its progress. */
  progress: [progress: StreamingQueryProgress];
  /** The query ended: stopped (null) or failed (the exception). */
  terminated: [exception: TidemarkError | null];
  /** Something the user should know that does not stop the query (files skipped by age, a missing file ignored, a file not cleaned). */
  warning: [warning: Error];
}

/**
 * A running query (Spark's `StreamingQuery`). Emits `progress` after every
 * committed micro-batch and `terminated` once when it ends.
 */
export class StreamingQuery extends EventEmitter<StreamingQueryEvents> {
  /** Stable across restarts from the same checkpoint. */
  readonly id: string;
  /** New for every start. */
  readonly runId: string;
  readonly name: string | null;
  /** When this run started (epoch ms). */
  readonly startedAtMs: number;
  readonly #execution: MicroBatchExecution;
  readonly #sink: Sink | null;
  readonly #plan: readonly string[];
  readonly #terminated: Promise<void>;
  readonly #progress: StreamingQueryProgress[] = [];
  #active = true;
  #exception: TidemarkError | null = null;

  /** @internal Use {@link startQuery}. */
  constructor(args: {
    id: string;
    runId: string;
    name: string | null;
    execution: MicroBatchExecution;
    sink?: Sink;
    plan?: readonly string[];
    run: Promise<void>;
    onEnd: () => void;
  }) {
    super();
    this.id = args.id;
    this.runId = args.runId;
    this.name = args.name;
    this.startedAtMs = Date.now();
    this.#execution = args.execution;
    this.#sink = args.sink ?? null;
    this.#plan = args.plan ?? [];
    args.execution.on('progress', (p: StreamingQueryProgress) => {
      this.#progress.push(p);
      if (this.#progress.length > RECENT_PROGRESS_LIMIT) this.#progress.shift();
      this.emit('progress', p);
    });
    args.execution.on('warning', (warning: Error) => {
      // Unheard warnings are not errors: EventEmitter throws only for 'error'.
      this.emit('warning', warning);
    });
    this.#terminated = args.run.then(
      () => {
        this.#active = false;
        args.onEnd();
        this.emit('terminated', null);
      },
      (err: unknown) => {
        this.#active = false;
        const cause = err instanceof Error ? err : new Error(String(err));
        this.#exception = new TidemarkError(
          'ERR_QUERY_FAILED',
          `[STREAM_FAILED] Query [id = ${this.id}, runId = ${this.runId}] terminated with exception: ${cause.message}`,
          { cause },
        );
        args.onEnd();
        this.emit('terminated', this.#exception);
      },
    );
  }

  /**
   * The plan the query runs, one line per operator from source to sink
   * (Spark's `explain()`).
   */
  explain(): string {
    return this.#plan.join('\n');
  }

  /** Up to 20 rows of the last micro-batch that wrote rows (row view), for monitoring. */
  get recentOutput(): Row[] {
    return this.#sink?.lastOutputSample ?? [];
  }

  /** The schema of the rows the sink writes (of {@link StreamingQuery.recentOutput}), once the run has opened; null before. */
  get outputSchema(): Schema | null {
    return this.#sink?.sinkPlan?.schema ?? null;
  }

  /** True until the query stops or fails. */
  get isActive(): boolean {
    return this.#active;
  }

  /** The failure that ended the query, or null. Its `cause` is the original error. */
  get exception(): TidemarkError | null {
    return this.#exception;
  }

  /** The last micro-batch's progress, or null before the first. */
  get lastProgress(): StreamingQueryProgress | null {
    return this.#progress.length === 0 ? null : this.#progress[this.#progress.length - 1]!;
  }

  /** Up to the last 100 progress reports, oldest first. */
  get recentProgress(): StreamingQueryProgress[] {
    return [...this.#progress];
  }

  /**
   * The progress of every micro-batch committed from now on, as an async
   * iterator that ends when the query ends (and throws its failure).
   * Bounded: a consumer that falls more than `bufferSize` (100) reports
   * behind loses the oldest, counted in `dropped`; the query never waits.
   *
   * @example
   * ```ts
   * for await (const p of query.progress()) console.log(p.batchId, p.numInputRows)
   * ```
   */
  progress(options: ProgressIteratorOptions = {}): ProgressIterator {
    return progressIterator(this, options);
  }

  /**
   * The global event-time watermark (ms) the next micro-batch will use, or
   * null when the query has no watermark or has not started its first batch.
   */
  get watermarkMs(): number | null {
    return this.#execution.watermarkMs;
  }

  /** What the query is doing now. */
  get status(): ExecutionStatus {
    return this.#active ? this.#execution.status : { message: 'Stopped', isDataAvailable: false, isTriggerActive: false };
  }

  /**
   * Waits for the query to end. With a timeout, resolves false if it is still
   * running then (Spark's `awaitTermination(timeout)`); rejects with the
   * failure if the query failed.
   */
  async awaitTermination(timeoutMs?: number): Promise<boolean> {
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
      throw new TidemarkError('ERR_INVALID_OPTION', `Timeout must be positive, but got ${timeoutMs}`, { option: 'timeoutMs' });
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut =
      timeoutMs === undefined
        ? new Promise<boolean>(() => {})
        : new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs);
          });
    try {
      const ended = await Promise.race([this.#terminated.then(() => true), timedOut]);
      if (ended && this.#exception !== null) throw this.#exception;
      return ended;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Waits until every datum available now is processed and committed (Spark's `processAllAvailable`). */
  async processAllAvailable(): Promise<void> {
    if (this.#exception !== null) throw this.#exception;
    await Promise.race([
      this.#execution.whenIdle().catch(() => undefined),
      this.#terminated,
    ]);
    if (this.#exception !== null) throw this.#exception;
  }

  /** Stops the query after the micro-batch in flight; idempotent; resolves when it has stopped. */
  async stop(): Promise<void> {
    this.#execution.stop();
    await this.#terminated;
  }
}

/**
 * Spark's `StreamingQueryListener`: told when a query of a manager starts,
 * commits a micro-batch and ends. Every method is optional; a listener that
 * throws is not called again for that event and does not stop the query.
 */
export interface StreamingQueryListener {
  onQueryStarted?(query: StreamingQuery): void;
  onQueryProgress?(query: StreamingQuery, progress: StreamingQueryProgress): void;
  onQueryTerminated?(query: StreamingQuery, exception: TidemarkError | null): void;
}

/** Registry of active queries (Spark's `spark.streams`). */
export class StreamingQueryManager {
  readonly #active = new Map<string, StreamingQuery>();
  readonly #listeners = new Set<StreamingQueryListener>();

  /** Adds a listener (Spark's `streams.addListener`); it hears about queries started from now on. */
  addListener(listener: StreamingQueryListener): void {
    this.#listeners.add(listener);
  }

  /** Removes a listener. */
  removeListener(listener: StreamingQueryListener): void {
    this.#listeners.delete(listener);
  }

  #tell(call: (listener: StreamingQueryListener) => void): void {
    for (const listener of this.#listeners) {
      try {
        call(listener);
      } catch {
        // A monitoring listener must never stop a query.
      }
    }
  }

  /** Active queries, in start order. */
  get active(): StreamingQuery[] {
    return [...this.#active.values()];
  }

  /** The active query with this id, if any. */
  get(id: string): StreamingQuery | undefined {
    return this.#active.get(id);
  }

  /** Stops every active query. */
  async stopAll(): Promise<void> {
    await Promise.all(this.active.map((q) => q.stop()));
  }

  /** @internal */
  register(query: StreamingQuery): void {
    this.#active.set(query.id, query);
    query.on('progress', (progress) => this.#tell((l) => l.onQueryProgress?.(query, progress)));
    query.once('terminated', (exception) => this.#tell((l) => l.onQueryTerminated?.(query, exception)));
    this.#tell((l) => l.onQueryStarted?.(query));
  }

  /** @internal */
  unregister(query: StreamingQuery): void {
    if (this.#active.get(query.id) === query) this.#active.delete(query.id);
  }
}

/** The process-wide registry. */
export const streams = new StreamingQueryManager();

/**
 * Starts a streaming query: checks it (Spark's errors), opens the
 * checkpoint, and runs `pipeline(source, ...stages, sink)` until stopped.
 *
 * @example
 * ```ts
 * const query = await startQuery({
 *   name: 'counts', source, sink, checkpointLocation: './chk', outputMode: 'append',
 *   stages: [new Watermark({ eventTime: 'time', delay: '2 hours' }), new Window({ timeColumn: 'time', duration: '1 hour' }),
 *            new KeyedCount({ groupBy: ['action', 'window'] })],
 * })
 * await query.awaitTermination(6000)
 * await query.stop()
 * ```
 */
export async function startQuery(options: StartQueryOptions): Promise<StreamingQuery> {
  const signal = options.signal;
  // Node's convention: an aborted signal refuses the operation with its reason.
  signal?.throwIfAborted();
  const manager = options.manager ?? streams;
  if (!isSource(options.source)) throw notASource(options.source);
  const outputMode = parseOutputMode(options.outputMode ?? 'append');
  const stages = options.stages ?? [];
  const checkpointLocation = options.checkpointLocation ?? null;
  const plan = planQuery(options.source, stages, options.sink, { outputMode, checkpointLocation, optimize: options.optimize ?? true });
  const name = options.name ?? null;
  if (name !== null && manager.active.some((q) => q.name === name)) {
    throw new TidemarkError(
      'ERR_DUPLICATE_QUERY_NAME',
      `Cannot start query with name ${name} as a query with that name is already active in this SparkSession`,
      { option: 'name' },
    );
  }
  const checkpoint = await Checkpoint.open(checkpointLocation);
  // Spark's default (stopActiveRunOnRestart): a new run of the same query stops the old one.
  await manager.get(checkpoint.id)?.stop();
  const runId = randomUUID();
  let execution: MicroBatchExecution;
  try {
    execution = new MicroBatchExecution(
      options.source,
      {
        outputMode,
        queryName: name,
        ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
        ...(options.noDataMicroBatches === undefined ? {} : { noDataMicroBatches: options.noDataMicroBatches }),
        ...(options.minDeltasForSnapshot === undefined ? {} : { minDeltasForSnapshot: options.minDeltasForSnapshot }),
        ...(options.drain === undefined ? {} : { drain: options.drain }),
      },
      checkpoint,
      runId,
    );
  } catch (err) {
    await checkpoint.close();
    throw err;
  }
  const run = pipeline([execution, ...plan.stages, options.sink] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  let query: StreamingQuery | null = null;
  query = new StreamingQuery({
    id: checkpoint.id,
    runId,
    name,
    execution,
    sink: options.sink,
    plan: plan.explain.split('\n'),
    run,
    onEnd: () => {
      if (query !== null) manager.unregister(query);
    },
  });
  manager.register(query);
  if (signal !== undefined) stopOnAbort(query, signal);
  return query;
}

// The signal stops the query (it may have been aborted while the checkpoint opened); the listener goes with the query.
function stopOnAbort(query: StreamingQuery, signal: AbortSignal): void {
  const onAbort = (): void => void query.stop().catch(() => undefined);
  if (signal.aborted) {
    onAbort();
    return;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  query.once('terminated', () => signal.removeEventListener('abort', onAbort));
}

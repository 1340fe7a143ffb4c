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
import { parseOutputMode, type OutputMode } from '../core/keyed-state.js';
import type { Schema } from '../core/schema.js';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import type { MicroBatchSource, SourceStatus } from '../sources/micro-batch-source.js';
import { checkOutputOutsideInput } from '../sources/file-source.js';
import { Stage } from '../stages/stage.js';
import { Window } from '../stages/window.js';
import { KeyedCount } from '../stages/keyed-count.js';
import { ParseSchema } from '../stages/parse-schema.js';
import { Watermark } from '../stages/watermark.js';
import { isPlannable } from '../stages/row-stages.js';
import type { Sink } from '../sinks/sink.js';
import type { Row } from '../core/batch.js';
import type { TriggerOption } from './trigger.js';
import type { StreamingQueryProgress } from './progress.js';

/** Options of {@link startQuery}. */
export interface StartQueryOptions {
  /** Query name (Spark's `queryName`); unique among active queries of a manager. */
  name?: string;
  /** Where rows come from. */
  source: MicroBatchSource;
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
  /** End bounded runs with a batch whose watermark is +∞ (every window is emitted). */
  drain?: boolean;
  /** The registry to register in; the process-wide {@link streams} by default. */
  manager?: StreamingQueryManager;
}

/** Progress entries kept in `recentProgress` (Spark's `numRecentProgressUpdates`). */
export const RECENT_PROGRESS_LIMIT = 100;

/** Events of a {@link StreamingQuery}. */
export interface StreamingQueryEvents {
  /** A micro-batch committed; its progress. */
  progress: [progress: StreamingQueryProgress];
  /** The query ended: stopped (null) or failed (the exception). */
  terminated: [exception: TidemarkError | null];
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
  readonly #source: MicroBatchSource;
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
    source: MicroBatchSource;
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
    this.#source = args.source;
    this.#sink = args.sink ?? null;
    this.#plan = args.plan ?? [];
    args.source.on('progress', (p: StreamingQueryProgress) => {
      this.#progress.push(p);
      if (this.#progress.length > RECENT_PROGRESS_LIMIT) this.#progress.shift();
      this.emit('progress', p);
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

  /** What the query is doing now. */
  get status(): SourceStatus {
    return this.#active ? this.#source.status : { message: 'Stopped', isDataAvailable: false, isTriggerActive: false };
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
      this.#source.whenIdle().catch(() => undefined),
      this.#terminated,
    ]);
    if (this.#exception !== null) throw this.#exception;
  }

  /** Stops the query after the micro-batch in flight; idempotent; resolves when it has stopped. */
  async stop(): Promise<void> {
    this.#source.stop();
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
 * Checks a query the way Spark's analyzer does at `start()`: each stage
 * plans its output schema from its input, the sink checks the result.
 * Throws the first refusal. Other transforms are asked for their output
 * schema when they have a `plan` method (`mapRows` does), and otherwise
 * assumed to keep the schema.
 */
export function planQuery(source: MicroBatchSource, stages: readonly Transform[], sink: Sink, outputMode: OutputMode, checkpointLocation: string | null): Schema {
  checkOutputOutsideInput(source, sink);
  let schema = source.schema;
  let aggregated = false;
  let mode: OutputMode | undefined = outputMode;
  for (const [i, stage] of stages.entries()) {
    if (stage instanceof Window) choosePanes(stage, stages[i + 1], schema);
    if (stage instanceof ParseSchema && !stage.countsPushedDown) choosePushdown(stage, stages.slice(i + 1), schema);
    if (stage instanceof Stage) {
      schema = stage.plan(schema, { outputMode: mode, aggregated });
      aggregated ||= stage.aggregates;
      mode = stage.outputModeAfter(mode);
    } else if (isPlannable(stage)) {
      schema = stage.plan(schema, { outputMode: mode, aggregated });
    }
  }
  sink.plan({ schema, outputMode: mode ?? outputMode, aggregated, checkpointLocation });
  return schema;
}

// A sliding Window feeding a KeyedCount that groups by it can send panes instead of one row per
// window: the same counts for a fraction of the work. Only the driver sees both stages, so it decides.
function choosePanes(window: Window, next: Transform | undefined, input: Schema): void {
  if (window.panes || !window.panesPossible || !(next instanceof KeyedCount) || next.emitsLateRows) return;
  if (!next.groupBy.includes(window.as)) return;
  const time = input.fields.find((f) => f.name === window.timeColumn);
  if (time === undefined || (time.dataType.type !== 'timestamp' && time.dataType.type !== 'timestamp_ntz')) return;
  window.usePanes();
}

// `ParseSchema → [Watermark on the window's time] → Window → KeyedCount` counting by the window
// and at most one string column can be counted where it is parsed (on worker threads): the
// driver sees the whole chain, so it decides. Decided before planning, which is where the
// stages read their options (panes are chosen first, as the window's plan needs them).
function choosePushdown(parse: ParseSchema, rest: readonly Transform[], input: Schema): void {
  if (!input.fields.some((f) => f.name === 'chunk')) return;
  let at = 0;
  const watermark = rest[at] instanceof Watermark ? (rest[at++] as Watermark) : null;
  const window = rest[at];
  const count = rest[at + 1];
  if (!(window instanceof Window) || !(count instanceof KeyedCount) || count.emitsLateRows) return;
  if (watermark !== null && watermark.eventTime !== window.timeColumn) return;
  choosePanes(window, count, parse.schema);
  if (window.as === window.timeColumn) return;
  const spec = window.spec;
  const pushdown = {
    groupBy: count.groupBy,
    window: { timeColumn: window.timeColumn, as: window.as, durationUs: spec.durationUs, slideUs: spec.slideUs, startTimeUs: spec.startTimeUs, panes: window.panes },
  };
  if (parse.countPushdownProblem(pushdown) === null) parse.pushDownCount(pushdown);
}

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
  const manager = options.manager ?? streams;
  const outputMode = parseOutputMode(options.outputMode ?? 'append');
  const stages = options.stages ?? [];
  const checkpointLocation = options.checkpointLocation ?? null;
  planQuery(options.source, stages, options.sink, outputMode, checkpointLocation);
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
  options.source
    .configure({
      outputMode,
      queryName: name,
      runId,
      ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
      ...(options.noDataMicroBatches === undefined ? {} : { noDataMicroBatches: options.noDataMicroBatches }),
      ...(options.drain === undefined ? {} : { drain: options.drain }),
    })
    .useCheckpoint(checkpoint);
  const run = pipeline([options.source, ...stages, options.sink] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  let query: StreamingQuery | null = null;
  query = new StreamingQuery({
    id: checkpoint.id,
    runId,
    name,
    source: options.source,
    sink: options.sink,
    plan: [options.source.description, ...stages.map((s) => s.constructor.name), options.sink.description],
    run,
    onEnd: () => {
      if (query !== null) manager.unregister(query);
    },
  });
  manager.register(query);
  return query;
}

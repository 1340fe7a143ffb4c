/**
 * The base of every source: a `Readable` of {@link StreamItem}s that runs
 * Spark's micro-batch loop (`MicroBatchExecution`) in-band.
 *
 * Per micro-batch: plan the end offset, write `offsets/N`, emit
 * `begin · rows* · barrier`, wait until the sink committed batch N, then
 * plan the next one. Between batches the trigger decides when to look for
 * data; a no-data batch runs when the last batch said the watermark moved
 * (Spark's `noDataMicroBatches`). On start it emits `open` with the
 * recovered stage snapshots and re-executes a batch that did not commit.
 *
 * @module
 */
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { TidemarkError } from '../errors.js';
import type { RecordBatch } from '../core/batch.js';
import type { Schema } from '../core/schema.js';
import type { OutputMode } from '../core/keyed-state.js';
import { Checkpoint, type OffsetLogEntry } from '../checkpoint/checkpoint.js';
import { barrier as newBarrier, type BarrierItem, type StreamItem } from '../protocol.js';
import { DEFAULT_TRIGGER, isBounded, parseTrigger, type Trigger, type TriggerOption } from '../query/trigger.js';
import { buildProgress, type StreamingQueryProgress } from '../query/progress.js';

/** A source's position: any JSON value (a count, a log index). */
export type Offset = unknown;

/** How much a batch may take: `limited` applies rate limits such as `maxFilesPerTrigger` (`Trigger.Once` ignores them). */
export type PlanMode = 'limited' | 'unlimited';

/** Options every source takes (the query driver sets them when it starts a query). */
export interface MicroBatchSourceOptions {
  /** Checkpoint directory; an in-memory checkpoint when omitted. */
  checkpointLocation?: string | null;
  /** When micro-batches run. Default: back to back. */
  trigger?: TriggerOption;
  /** Spark's `spark.sql.streaming.noDataMicroBatches.enabled`; default true. */
  noDataMicroBatches?: boolean;
  /** The query's output mode, announced to the stages in `open`. */
  outputMode?: OutputMode;
  /** Flink-style end of input: a bounded run ends with a batch whose watermark is +∞, closing every window. */
  drain?: boolean;
  /** Query name and run id for progress reports. */
  queryName?: string | null;
  runId?: string;
}

/** What the run loop is doing (Spark's `StreamingQueryStatus`). */
export interface SourceStatus {
  message: string;
  isDataAvailable: boolean;
  isTriggerActive: boolean;
}

const IDLE_POLL_MS = 100;
/** Offsets-log conf key marking a drain batch. */
const DRAIN_CONF = 'tidemark.drain';

/**
 * Base class of sources. Subclasses say what data exists ({@link
 * MicroBatchSource.planBatch}) and read it ({@link MicroBatchSource.readRange}).
 */
export abstract class MicroBatchSource extends Readable {
  /** Schema of the rows this source emits. */
  abstract readonly schema: Schema;
  /** Spark's source description (`MemoryStream[…]`, `FileStreamSource[file:/…]`). */
  abstract readonly description: string;

  #options: MicroBatchSourceOptions;
  #checkpoint: Checkpoint | null = null;
  #trigger: Trigger = DEFAULT_TRIGGER;
  #started = false;
  #stopping = false;
  #readWaiter: (() => void) | null = null;
  #wake: (() => void) | null = null;
  #checkGeneration = 0;
  #idleWaiters: Array<{ generation: number; resolve: () => void; reject: (e: Error) => void }> = [];
  #status: SourceStatus = { message: 'Initializing sources', isDataAvailable: false, isTriggerActive: false };

  constructor(options: MicroBatchSourceOptions = {}) {
    super({ objectMode: true, highWaterMark: 8 });
    this.#options = { ...options };
    this.#trigger = parseTrigger(options.trigger);
  }

  /** Sets run options before the run starts (the query driver uses this). */
  configure(options: MicroBatchSourceOptions): this {
    if (this.#started) throw new TidemarkError('ERR_PROTOCOL', 'a source cannot be configured once it has started');
    this.#options = { ...this.#options, ...options };
    if (options.trigger !== undefined) this.#trigger = parseTrigger(options.trigger);
    return this;
  }

  /** Uses an already opened checkpoint (the driver opens it to learn the query id). */
  useCheckpoint(checkpoint: Checkpoint): this {
    this.#checkpoint = checkpoint;
    return this;
  }

  /** The trigger in force. */
  get trigger(): Trigger {
    return this.#trigger;
  }

  /** The run options in force. */
  get options(): Readonly<MicroBatchSourceOptions> {
    return this.#options;
  }

  /** The run's checkpoint, once started. */
  get checkpoint(): Checkpoint | null {
    return this.#checkpoint;
  }

  /** What the loop is doing now. */
  get status(): SourceStatus {
    return { ...this.#status };
  }

  /**
   * The end offset of the next batch given the last committed one, or
   * `start` itself (or null) when there is nothing new. May record what it
   * chose (a file source appends its log) because the batch is then planned.
   */
  protected abstract planBatch(start: Offset | null, mode: PlanMode): Promise<Offset | null>;

  /** The rows between two offsets; called again with the same offsets when a batch is re-executed. */
  protected abstract readRange(start: Offset | null, end: Offset): AsyncIterable<RecordBatch> | Iterable<RecordBatch>;

  /** Resolves when new data may be available; the default polls. */
  protected waitForData(signal: AbortSignal): Promise<void> {
    return sleep(IDLE_POLL_MS, signal);
  }

  /** Called once before the run, with the checkpoint; sources with logs read them here. */
  protected async recoverSource(_checkpoint: Checkpoint): Promise<void> {}

  /** With `availableNow`: fixes what "available now" means, called once at the start of the run. */
  protected async freezeAvailable(): Promise<void> {}

  /** Called when the batch after the one ending at `end` is planned (Spark's `Source.commit`: clean-up of consumed input). */
  protected async commitOffset(_end: Offset): Promise<void> {}

  /** Ends the run after the batch in flight, if any (graceful stop). */
  stop(): void {
    this.#stopping = true;
    this.#wake?.();
    if (!this.#started) {
      this.push(null);
      void this.#checkpoint?.close();
    }
  }

  /**
   * Resolves once every datum available now is processed and committed, and
   * no no-data batch is due (Spark's `processAllAvailable`).
   */
  whenIdle(): Promise<void> {
    if (this.destroyed || this.readableEnded) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#idleWaiters.push({ generation: this.#checkGeneration, resolve, reject });
      this.#wake?.();
    });
  }

  /** A streaming source cannot be collected like a bounded stream: refused with Spark's message. */
  override toArray(options?: { signal?: AbortSignal }): Promise<unknown[]> {
    if (!isBounded(this.#trigger)) {
      return Promise.reject(new TidemarkError('ERR_UNSUPPORTED_OPERATION', 'Queries with streaming sources must be executed with writeStream.start()'));
    }
    return super.toArray(options);
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#run().then(
        async () => {
          await this.#checkpoint?.close();
          this.#settleIdle();
          if (!this.destroyed) this.push(null);
        },
        async (err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          await this.#checkpoint?.close().catch(() => {});
          this.#rejectIdle(error);
          if (!this.destroyed) this.destroy(error);
        },
      );
    }
    const waiter = this.#readWaiter;
    if (waiter !== null) {
      this.#readWaiter = null;
      waiter();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopping = true;
    const reason = error ?? new TidemarkError('ERR_QUERY_FAILED', 'the stream was destroyed');
    this.#checkpoint?.abortWaiters(reason);
    // A running loop releases the lock itself once it has settled: never while it may still write.
    if (!this.#started) void this.#checkpoint?.close().catch(() => {});
    this.#rejectIdle(reason);
    this.#wake?.();
    const waiter = this.#readWaiter;
    this.#readWaiter = null;
    waiter?.();
    callback(error);
  }

  async #push(item: StreamItem): Promise<void> {
    if (this.destroyed) throw new TidemarkError('ERR_QUERY_FAILED', 'the stream was destroyed');
    if (!this.push(item)) {
      await new Promise<void>((resolve) => {
        this.#readWaiter = resolve;
      });
      if (this.destroyed) throw new TidemarkError('ERR_QUERY_FAILED', 'the stream was destroyed');
    }
  }

  async #run(): Promise<void> {
    const checkpoint = this.#checkpoint ?? (await Checkpoint.open(this.#options.checkpointLocation ?? null));
    this.#checkpoint = checkpoint;
    const recovery = await checkpoint.recover();
    await this.recoverSource(checkpoint);
    const last = recovery.lastCommitted;
    await this.#push({
      kind: 'open',
      schema: this.schema,
      outputMode: this.#options.outputMode,
      recovered: last === null ? null : { batchId: last.batchId, snapshots: last.snapshots },
      nextOperatorId: 0,
      aggregated: false,
      checkpoint,
    });
    const run = {
      batchId: last === null ? 0 : last.batchId + 1,
      committedOffset: last === null ? null : (last.offsets.sourceOffsets[0] ?? null),
      watermarkMs: last === null ? 0 : Math.max(last.offsets.batchWatermarkMs, last.commit.nextBatchWatermarkMs),
      // No no-data batch right after a restart: there is no previous execution to ask.
      runAnotherBatch: false,
      previousTriggerStartMs: null as number | null,
      conf: last?.offsets.conf ?? {},
    };
    if (recovery.pending !== null) {
      const pending = recovery.pending;
      const end = pending.offsets.sourceOffsets[0] ?? null;
      const drain = pending.offsets.conf[DRAIN_CONF] === 'true';
      await this.#execute(run, pending.batchId, end, pending.offsets, performance.now(), drain || JSON.stringify(end) === JSON.stringify(run.committedOffset), drain);
    }
    if (this.#trigger.kind === 'availableNow') await this.freezeAvailable();
    const trigger = this.#trigger;
    let nextTickMs = Date.now();
    while (!this.#stopping) {
      if (trigger.kind === 'processingTime' && trigger.intervalMs > 0) {
        const now = Date.now();
        if (nextTickMs > now) {
          this.#status = { message: 'Waiting for next trigger', isDataAvailable: false, isTriggerActive: false };
          await this.#sleepOrWake(nextTickMs - now);
          if (this.#stopping) break;
        }
        const started = Date.now();
        nextTickMs = Math.floor(started / trigger.intervalMs) * trigger.intervalMs + trigger.intervalMs;
      }
      const generation = ++this.#checkGeneration;
      const triggerStart = performance.now();
      this.#status = { message: 'Processing new data', isDataAvailable: false, isTriggerActive: true };
      const end = await this.planBatch(run.committedOffset, trigger.kind === 'once' ? 'unlimited' : 'limited');
      const hasData = end !== null && JSON.stringify(end) !== JSON.stringify(run.committedOffset);
      const noDataBatch = !hasData && run.runAnotherBatch && (this.#options.noDataMicroBatches ?? true) && trigger.kind !== 'once';
      if (hasData || noDataBatch) {
        if (noDataBatch) this.#status = { message: 'No new data but cleaning up state', isDataAvailable: false, isTriggerActive: true };
        else this.#status = { message: 'Processing new data', isDataAvailable: true, isTriggerActive: true };
        const entry: OffsetLogEntry = {
          batchWatermarkMs: run.watermarkMs,
          batchTimestampMs: Date.now(),
          conf: run.conf,
          sourceOffsets: [hasData ? end : run.committedOffset],
        };
        await checkpoint.writeOffsets(run.batchId, entry);
        if (hasData && run.committedOffset !== null) await this.commitOffset(run.committedOffset);
        await this.#execute(run, run.batchId, hasData ? end : run.committedOffset, entry, triggerStart, !hasData);
        if (trigger.kind === 'once') break;
        continue;
      }
      this.#status = { message: 'Waiting for data to arrive', isDataAvailable: false, isTriggerActive: false };
      this.#settleIdle(generation);
      if (trigger.kind === 'once' || trigger.kind === 'availableNow') break;
      if (trigger.kind === 'processingTime' && trigger.intervalMs > 0) continue;
      await this.#waitForDataOrWake();
    }
    if (this.#options.drain === true && !this.#stopping && isBounded(trigger)) {
      // Recorded in the offsets so that a crash during this batch re-executes it as a drain.
      const entry: OffsetLogEntry = { batchWatermarkMs: run.watermarkMs, batchTimestampMs: Date.now(), conf: { ...run.conf, [DRAIN_CONF]: 'true' }, sourceOffsets: [run.committedOffset] };
      await checkpoint.writeOffsets(run.batchId, entry);
      await this.#execute(run, run.batchId, run.committedOffset, entry, performance.now(), true, true);
    }
    this.#status = { message: 'Stopped', isDataAvailable: false, isTriggerActive: false };
  }

  async #execute(
    run: { batchId: number; committedOffset: Offset | null; watermarkMs: number; runAnotherBatch: boolean; previousTriggerStartMs: number | null },
    batchId: number,
    end: Offset | null,
    entry: OffsetLogEntry,
    triggerStart: number,
    noData: boolean,
    drain = false,
  ): Promise<void> {
    const checkpoint = this.#checkpoint!;
    const walDone = performance.now();
    const start = run.committedOffset;
    const committed = checkpoint.awaitCommit(batchId);
    // The loop awaits `committed` below; until then a failure must not surface as an unhandled rejection.
    committed.catch(() => {});
    await this.#push({ kind: 'begin', batchId, batchTimestampMs: entry.batchTimestampMs, drain });
    let numInputRows = 0;
    if (!noData && end !== null) {
      for await (const batch of this.readRange(start, end)) {
        numInputRows += batch.length;
        await this.#push({ kind: 'rows', batch });
      }
    }
    const barrier: BarrierItem = newBarrier(batchId);
    await this.#push(barrier);
    const done = await committed;
    const finished = performance.now();
    numInputRows = done.progress.numInputRows ?? numInputRows;
    run.batchId = batchId + 1;
    run.committedOffset = end;
    if (done.nextWatermarkMs !== null) run.watermarkMs = Math.max(run.watermarkMs, done.nextWatermarkMs);
    run.runAnotherBatch = done.runAnotherBatch;
    const triggerStartMs = Date.now() - (finished - triggerStart);
    const progress: StreamingQueryProgress = buildProgress({
      id: checkpoint.id,
      runId: this.#options.runId ?? (this.#options.runId = randomUUID()),
      name: this.#options.queryName ?? null,
      barrier: done,
      numInputRows,
      source: { description: this.description, startOffset: start, endOffset: end, latestOffset: end },
      timings: {
        triggerStartMs,
        previousTriggerStartMs: run.previousTriggerStartMs,
        latestOffset: 0,
        walCommit: Math.round(walDone - triggerStart),
        addBatch: Math.round(finished - walDone),
        commitOffsets: 0,
        triggerExecution: Math.round(finished - triggerStart),
      },
    });
    run.previousTriggerStartMs = triggerStartMs;
    this.emit('progress', progress);
  }

  async #waitForDataOrWake(): Promise<void> {
    const controller = new AbortController();
    const woken = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    try {
      await Promise.race([this.waitForData(controller.signal), woken]);
    } finally {
      this.#wake = null;
      controller.abort();
    }
  }

  async #sleepOrWake(ms: number): Promise<void> {
    const controller = new AbortController();
    const woken = new Promise<void>((resolve) => {
      this.#wake = () => {
        // processAllAvailable does not cut a processing-time wait short; stop does.
        if (this.#stopping) resolve();
      };
    });
    try {
      await Promise.race([sleep(ms, controller.signal), woken]);
    } finally {
      this.#wake = null;
      controller.abort();
    }
  }

  #settleIdle(generation = Infinity): void {
    const ready = this.#idleWaiters.filter((w) => w.generation < generation);
    this.#idleWaiters = this.#idleWaiters.filter((w) => w.generation >= generation);
    for (const w of ready) w.resolve();
  }

  #rejectIdle(error: Error): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w.reject(error);
  }
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

/**
 * The micro-batch executor: Spark's `MicroBatchExecution`, in-band. It
 * drives a {@link Source} and emits the protocol (`open`, then per
 * micro-batch `begin · rows* · barrier`) into the pipeline of stages and
 * the sink; the sink reports back through a {@link CommitPort}.
 *
 * Per micro-batch: ask the source for its end offset, write `offsets/N`
 * (the write-ahead entry, with the watermark the batch uses), emit the
 * batch, wait until the sink's output is durable, compute the next global
 * watermark from what the `Watermark` stages saw (Spark's
 * `WatermarkTracker`), commit state and `commits/N`, then plan the next
 * batch. Between batches the trigger decides when to look for data; a
 * no-data batch runs when the watermark moved and a stateful stage waits on
 * it. On start it re-executes a batch that did not commit, with the same
 * offsets and watermark.
 *
 * @module
 */
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { invalidOption, TidemarkError } from '../errors.js';
import type { OutputMode } from '../core/output-mode.js';
import { EventTimeStats, WatermarkTracker } from '../core/watermark.js';
import { formatTimestampUtcMillis } from '../core/timestamp.js';
import { Checkpoint, type CheckpointRecovery, type OffsetLogEntry } from '../checkpoint/checkpoint.js';
import { barrier as newBarrier, type BarrierItem, type BeginItem, type CommitPort, type PlanEntry, type ReadAheadOffer, type RecoveredState, type StreamItem } from '../protocol.js';
import { isSource, notASource, sameOffset, sleep, type Offset, type Source } from '../sources/source.js';
import { DEFAULT_TRIGGER, isBounded, parseTrigger, type Trigger, type TriggerOption } from './trigger.js';
import { buildProgress, type StreamingQueryProgress } from './progress.js';
import { ReadAhead, type ReadAheadResult } from './read-ahead.js';

/** How a query runs its micro-batches (the `writeStream` side of Spark). */
export interface ExecutionOptions {
  /** Checkpoint directory; an in-memory checkpoint when omitted. */
  checkpointLocation?: string | null;
  /** When micro-batches run. Default: back to back. */
  trigger?: TriggerOption;
  /** Spark's `spark.sql.streaming.noDataMicroBatches.enabled`; default true. */
  noDataMicroBatches?: boolean;
  /** Spark's `spark.sql.streaming.stateStore.minDeltasForSnapshot`: state deltas between two snapshots; default 10. */
  minDeltasForSnapshot?: number;
  /** The query's output mode, announced to the stages in `open`. */
  outputMode?: OutputMode;
  /**
   * Flink-style end of input: a bounded run ends with a batch whose
   * watermark is +∞, closing every window; the watermark then rests at the
   * end of the last window emitted, so later runs count later windows.
   */
  drain?: boolean;
  /** Query name for progress reports. */
  queryName?: string | null;
}

/** What the loop is doing (Spark's `StreamingQueryStatus`). */
export interface ExecutionStatus {
  message: string;
  isDataAvailable: boolean;
  isTriggerActive: boolean;
}

/** Events of a {@link MicroBatchExecution}. */
export interface MicroBatchExecutionEvents {
  progress: [progress: StreamingQueryProgress];
  /** Something the user should know that does not stop the query (from the source: files skipped by age, a file that could not be cleaned). */
  warning: [warning: Error];
}

/** Offsets-log conf key marking a drain batch. */
const DRAIN_CONF = 'tidemark.drain';
/** Offsets-log conf key holding what the source reads. */
const SOURCE_CONF = 'tidemark.source.0';
/** Offsets-log conf key holding the query's operators and their configuration. */
const PLAN_CONF = 'tidemark.plan';
/** The watermark the release before left after a drain (+∞ in spirit, the year 2243). */
const LEGACY_DRAINED_WATERMARK_MS = 8_640_000_000_000;
// Stages that checkpointed only their configuration before the query fingerprint did it for them.
const LEGACY_CONFIGURATION_ONLY = new Set(['ParseSchema', 'Watermark', 'Window']);

interface RunState {
  batchId: number;
  committedOffset: Offset | null;
  /** Watermark the next batch evicts with. */
  watermarkMs: number;
  /** Watermark the next batch judges late rows with (the previous batch's). */
  lateWatermarkMs: number;
  runAnotherBatch: boolean;
  previousTriggerStartMs: number | null;
  conf: Record<string, string>;
  tracker: WatermarkTracker;
}

/**
 * A source's micro-batches as a readable stream of protocol items, the head
 * of a pipeline. `startQuery` builds one; a pipeline composed by hand starts
 * with {@link microBatches}.
 */
export class MicroBatchExecution extends Readable {
  /** The source it drives. */
  readonly source: Source;
  /** New for every run. */
  readonly runId: string;
  readonly #options: ExecutionOptions;
  readonly #trigger: Trigger;
  #checkpoint: Checkpoint | null;
  #started = false;
  #stopping = false;
  #readWaiter: (() => void) | null = null;
  #wake: (() => void) | null = null;
  #checkGeneration = 0;
  #idleWaiters: Array<{ generation: number; resolve: () => void; reject: (e: Error) => void }> = [];
  #status: ExecutionStatus = { message: 'Initializing sources', isDataAvailable: false, isTriggerActive: false };
  #sinkOpened: { resolve: (plan: readonly PlanEntry[]) => void; reject: (e: Error) => void } | null = null;
  #run: RunState | null = null;
  #hasWatermark = false;
  // The first stage takes rows read ahead (see read-ahead.ts), and the next batch being read ahead.
  #readsAhead = false;
  #ahead: ReadAhead | null = null;
  // What availableNow reads is fixed (the source prepared for it): only then is a batch planned ahead.
  #availableNowFixed = false;

  constructor(source: Source, options: ExecutionOptions = {}, checkpoint: Checkpoint | null = null, runId: string = randomUUID()) {
    super({ objectMode: true, highWaterMark: 8 });
    if (!isSource(source)) throw notASource(source);
    this.source = source;
    this.#options = { ...options };
    this.#trigger = parseTrigger(options.trigger);
    const deltas = options.minDeltasForSnapshot;
    if (deltas !== undefined && !(Number.isSafeInteger(deltas) && deltas >= 0)) {
      throw invalidOption('minDeltasForSnapshot', `minDeltasForSnapshot must be a whole number of deltas, 0 or more (0: a snapshot every batch); got ${String(deltas)}`);
    }
    this.#checkpoint = checkpoint;
    this.runId = runId;
    this.#relayWarnings(source as unknown as Partial<Pick<NodeJS.EventEmitter, 'on' | 'off'>>);
  }

  // The source's warnings, and the checkpoint's (a snapshot that could not be written), reach the query.
  #relayWarnings(emitter: Partial<Pick<NodeJS.EventEmitter, 'on' | 'off'>>): void {
    if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') return;
    const relay = (warning: Error): void => void this.emit('warning', warning);
    emitter.on('warning', relay);
    this.once('close', () => emitter.off!('warning', relay));
  }

  /** The trigger in force. */
  get trigger(): Trigger {
    return this.#trigger;
  }

  /** The run's checkpoint, once started. */
  get checkpoint(): Checkpoint | null {
    return this.#checkpoint;
  }

  /** The global watermark (ms) the next micro-batch will use, or null without a watermark. */
  get watermarkMs(): number | null {
    return this.#hasWatermark ? (this.#run?.watermarkMs ?? null) : null;
  }

  /** What the loop is doing now. */
  get status(): ExecutionStatus {
    return { ...this.#status };
  }

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

  /** A streaming query cannot be collected like a bounded stream: refused with Spark's message. */
  override toArray(options?: { signal?: AbortSignal }): Promise<unknown[]> {
    if (!isBounded(this.#trigger)) {
      return Promise.reject(new TidemarkError('ERR_UNSUPPORTED_OPERATION', 'Queries with streaming sources must be executed with writeStream.start()'));
    }
    return super.toArray(options);
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#execute().then(
        async () => {
          await this.#close();
          this.#settleIdle();
          if (!this.destroyed) this.push(null);
        },
        async (err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          await this.#close().catch(() => {});
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
    this.#sinkOpened?.reject(reason);
    // A running loop releases the lock itself once it has settled: never while it may still write.
    if (!this.#started) void this.#close().catch(() => {});
    this.#rejectIdle(reason);
    this.#wake?.();
    const waiter = this.#readWaiter;
    this.#readWaiter = null;
    waiter?.();
    callback(error);
  }

  async #close(): Promise<void> {
    await this.#abandonReadAhead();
    await this.source.close().catch(() => {});
    await this.#checkpoint?.close();
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

  // The sink's side: it announces the plan once, then reports each durable batch.
  #port(): CommitPort {
    return {
      opened: (plan) => this.#sinkOpened?.resolve(plan),
      commit: async (barrier) => {
        const run = this.#run;
        const checkpoint = this.#checkpoint;
        if (run === null || checkpoint === null) throw new TidemarkError('ERR_PROTOCOL', 'a batch was committed before the run started');
        barrier.nextWatermarkMs = this.#nextWatermark(run, barrier);
        await checkpoint.commit(barrier);
      },
    };
  }

  // Spark's WatermarkTracker.updateWatermark, after the sink wrote the batch; a drain batch leaves the
  // watermark at the end of the last window it emitted (never +∞: later runs count later windows).
  #nextWatermark(run: RunState, barrier: BarrierItem): number | null {
    if (barrier.watermarks.length === 0) return null;
    const inputs = barrier.watermarks.map((w) => {
      const stats = new EventTimeStats();
      if (w.figures !== null) stats.merge(w.figures.maxMs, w.figures.minMs, w.figures.sumMs, w.figures.count);
      return { delayMs: w.delayMs, stats };
    });
    const next = run.tracker.update(inputs);
    if (!barrier.drained) return next;
    const drained = Math.max(next, barrier.evictedUpToMs ?? next);
    run.tracker = WatermarkTracker.restore({ globalWatermarkMs: drained, policy: run.tracker.policy });
    return drained;
  }

  async #execute(): Promise<void> {
    const checkpoint = this.#checkpoint ?? (await Checkpoint.open(this.#options.checkpointLocation ?? null));
    this.#checkpoint = checkpoint;
    this.#relayWarnings(checkpoint);
    if (this.#options.minDeltasForSnapshot !== undefined) checkpoint.minDeltasForSnapshot = this.#options.minDeltasForSnapshot;
    const recovery = await checkpoint.recover();
    const last = recovery.lastCommitted;
    const latestConf = recovery.pending?.offsets.conf ?? last?.offsets.conf ?? {};
    this.#checkSource(latestConf);
    if (last !== null && last.commit.nextBatchWatermarkMs >= LEGACY_DRAINED_WATERMARK_MS) {
      throw new TidemarkError(
        'ERR_CHECKPOINT_DRAINED',
        `checkpoint ${checkpoint.location}: it was drained by an earlier release of tidemark, which left its watermark at +∞ (the year 2243): every later row would be dropped as late. Start a new checkpoint and output directory.`,
        { option: 'checkpointLocation' },
      );
    }
    const committedOffset = last === null ? null : (last.offsets.sourceOffsets[0] ?? null);
    await this.source.open({ log: checkpoint.sourceLog(0), queryId: checkpoint.id, committedOffset });
    const watermarkMs = last === null ? 0 : Math.max(last.offsets.batchWatermarkMs, last.commit.nextBatchWatermarkMs);
    const run: RunState = {
      batchId: last === null ? 0 : last.batchId + 1,
      committedOffset,
      watermarkMs,
      // After a drain the next batch judges lateness by where the drain left the watermark.
      lateWatermarkMs: last === null ? 0 : last.offsets.conf[DRAIN_CONF] === 'true' ? watermarkMs : last.offsets.batchWatermarkMs,
      // No no-data batch right after a restart: there is no previous execution to ask.
      runAnotherBatch: false,
      previousTriggerStartMs: null,
      conf: withSourceFingerprint(latestConf, this.source.fingerprint()),
      tracker: WatermarkTracker.restore({ globalWatermarkMs: watermarkMs, policy: 'min' }),
    };
    this.#run = run;
    const planned = new Promise<readonly PlanEntry[]>((resolve, reject) => {
      this.#sinkOpened = { resolve, reject };
    });
    planned.catch(() => {});
    const readAhead: ReadAheadOffer | undefined = this.#trigger.kind === 'availableNow' && this.source.plansAhead === true ? { taken: false } : undefined;
    await this.#push({
      kind: 'open',
      schema: this.source.schema,
      outputMode: this.#options.outputMode,
      recovered: last === null ? null : { batchId: last.batchId, states: renumberLegacyStates(last.states) },
      nextOperatorId: 0,
      aggregated: false,
      statefulOperators: [],
      query: { id: checkpoint.id, runId: this.runId, name: this.#options.queryName ?? null, checkpointLocation: checkpoint.location },
      plan: [],
      commits: this.#port(),
      readAhead,
    });
    const plan = await planned;
    this.#readsAhead = readAhead?.taken === true;
    this.#sinkOpened = null;
    this.#hasWatermark = plan.some((entry) => entry.operator === 'Watermark');
    checkPlan(checkpoint, latestConf[PLAN_CONF], plan);
    run.conf[PLAN_CONF] = JSON.stringify(plan.map(({ operator, configuration }) => ({ operator, configuration })));
    if (recovery.pending !== null) await this.#replay(run, recovery);
    if (this.#trigger.kind === 'availableNow') {
      await this.source.prepareForAvailableNow();
      this.#availableNowFixed = true;
    }
    await this.#loop(run, checkpoint);
    await this.#abandonReadAhead();
    if (this.#options.drain === true && !this.#stopping && isBounded(this.#trigger)) {
      // Recorded in the offsets so that a crash during this batch re-executes it as a drain.
      const entry: OffsetLogEntry = { batchWatermarkMs: run.watermarkMs, batchTimestampMs: Date.now(), conf: { ...run.conf, [DRAIN_CONF]: 'true' }, sourceOffsets: [run.committedOffset] };
      await checkpoint.writeOffsets(run.batchId, entry);
      await this.#batch(run, run.batchId, run.committedOffset, entry, triggerClock(), true, true, null);
    }
    this.#status = { message: 'Stopped', isDataAvailable: false, isTriggerActive: false };
  }

  // A checkpoint belongs to one input: a restart reading another is refused, naming the difference.
  #checkSource(conf: Readonly<Record<string, string>>): void {
    const recorded = conf[SOURCE_CONF];
    if (recorded === undefined) return;
    let before: Record<string, unknown>;
    try {
      before = JSON.parse(recorded) as Record<string, unknown>;
    } catch {
      throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `the checkpoint's offsets log has an unreadable ${SOURCE_CONF}: ${recorded}`);
    }
    const now = this.source.fingerprint();
    const name = this.source.constructor.name;
    // What was recorded must be the same now; what a newer release records for the first time is accepted.
    for (const key of Object.keys(before)) {
      const was = JSON.stringify(before[key]);
      const is = JSON.stringify(now[key]);
      if (was !== is) {
        throw new TidemarkError('ERR_CHECKPOINT_MISMATCH', `the query changed since the checkpoint was written: ${name} ${key} was ${was ?? 'unset'}, is now ${is ?? 'unset'}`, { option: key });
      }
    }
  }

  // A batch planned before a crash runs again with the same offsets and watermark.
  async #replay(run: RunState, recovery: CheckpointRecovery): Promise<void> {
    const pending = recovery.pending!;
    const end = pending.offsets.sourceOffsets[0] ?? null;
    const drain = pending.offsets.conf[DRAIN_CONF] === 'true';
    const noData = drain || sameOffset(end, run.committedOffset);
    run.watermarkMs = pending.offsets.batchWatermarkMs;
    await this.#batch(run, pending.batchId, end, pending.offsets, triggerClock(), noData, drain, null);
  }

  async #loop(run: RunState, checkpoint: Checkpoint): Promise<void> {
    const trigger = this.#trigger;
    let nextTickMs = Date.now();
    while (!this.#stopping) {
      if (trigger.kind === 'processingTime' && trigger.intervalMs > 0) {
        // Until the clock reads the tick (Spark's clock.waitTillTime): a timer may fire a little
        // before Date.now() gets there, and a batch must never start in the previous interval.
        for (let now = Date.now(); nextTickMs > now && !this.#stopping; now = Date.now()) {
          this.#status = { message: 'Waiting for next trigger', isDataAvailable: false, isTriggerActive: false };
          await this.#sleepOrWake(nextTickMs - now);
        }
        if (this.#stopping) break;
      }
      const generation = ++this.#checkGeneration;
      const triggerStart = triggerClock();
      if (trigger.kind === 'processingTime' && trigger.intervalMs > 0) {
        nextTickMs = Math.floor(triggerStart.epochMs / trigger.intervalMs) * trigger.intervalMs + trigger.intervalMs;
      }
      this.#status = { message: 'Processing new data', isDataAvailable: false, isTriggerActive: true };
      // Planned (and partly read) already when the batch before read ahead.
      const ahead = this.#ahead;
      this.#ahead = null;
      const readAhead = ahead === null ? null : await ahead.finish();
      const end = readAhead !== null ? readAhead.end : await this.source.latestOffset(run.committedOffset, trigger.kind === 'once' ? 'unlimited' : 'limited');
      const hasData = end !== null && !sameOffset(end, run.committedOffset);
      const noDataBatch = !hasData && run.runAnotherBatch && (this.#options.noDataMicroBatches ?? true) && trigger.kind !== 'once';
      if (hasData || noDataBatch) {
        this.#status = noDataBatch
          ? { message: 'No new data but cleaning up state', isDataAvailable: false, isTriggerActive: true }
          : { message: 'Processing new data', isDataAvailable: true, isTriggerActive: true };
        const entry: OffsetLogEntry = {
          batchWatermarkMs: run.watermarkMs,
          batchTimestampMs: Date.now(),
          conf: run.conf,
          sourceOffsets: [hasData ? end : run.committedOffset],
        };
        await checkpoint.writeOffsets(run.batchId, entry);
        if (hasData && run.committedOffset !== null) await this.source.commit(run.committedOffset);
        await this.#batch(run, run.batchId, hasData ? end : run.committedOffset, entry, triggerStart, !hasData, false, hasData ? readAhead : null);
        if (trigger.kind === 'once') break;
        continue;
      }
      this.#status = { message: 'Waiting for data to arrive', isDataAvailable: false, isTriggerActive: false };
      this.#settleIdle(generation);
      if (trigger.kind === 'once' || trigger.kind === 'availableNow') break;
      if (trigger.kind === 'processingTime' && trigger.intervalMs > 0) continue;
      await this.#waitForDataOrWake();
    }
  }

  // `ahead`: the batch was planned and its first rows sent while the one before committed.
  async #batch(run: RunState, batchId: number, end: Offset | null, entry: OffsetLogEntry, triggerStart: TriggerClock, noData: boolean, drain: boolean, ahead: ReadAheadResult | null): Promise<void> {
    const checkpoint = this.#checkpoint!;
    const walDone = performance.now();
    const start = run.committedOffset;
    const committed = checkpoint.awaitCommit(batchId);
    // The loop awaits `committed` below; until then a failure must not surface as an unhandled rejection.
    committed.catch(() => {});
    const batchWatermarkMs = drain ? Infinity : entry.batchWatermarkMs;
    const begin: BeginItem = { kind: 'begin', batchId, batchTimestampMs: entry.batchTimestampMs, drain, watermarkMs: batchWatermarkMs, lateWatermarkMs: run.lateWatermarkMs, ...(ahead !== null && ahead.items > 0 ? { readAhead: ahead.items } : {}) };
    await this.#push(begin);
    let numInputRows = ahead?.rows ?? 0;
    if (!noData && end !== null) {
      for await (const batch of ahead?.rest ?? this.source.getBatch(start, end, batchId)) {
        numInputRows += batch.length;
        await this.#push({ kind: 'rows', batch });
      }
    }
    const barrier: BarrierItem = newBarrier(batchId);
    barrier.drained = drain;
    await this.#push(barrier);
    // Read before the next batch is planned and read ahead, which counts towards the next report.
    const sourceMetrics = this.source.metrics();
    // While the stages finish this batch and the checkpoint commits it, the workers read the next.
    if (this.#readsAhead && this.#availableNowFixed && !drain && !this.#stopping && this.#ahead === null) {
      this.#ahead = new ReadAhead(this.source, end, batchId + 1, (item) => this.#push(item));
    }
    let done: BarrierItem;
    try {
      done = await committed;
    } catch (err) {
      await this.#abandonReadAhead();
      throw err;
    }
    const finished = performance.now();
    numInputRows = done.progress.numInputRows ?? numInputRows;
    run.batchId = batchId + 1;
    run.committedOffset = end;
    const next = done.nextWatermarkMs;
    // Spark's shouldRunAnotherBatch: a stateful stage waits on the watermark and it moved.
    run.runAnotherBatch = done.watermarkDriven && next !== null && next > entry.batchWatermarkMs && !drain;
    run.lateWatermarkMs = drain && next !== null ? next : entry.batchWatermarkMs;
    if (next !== null) run.watermarkMs = Math.max(run.watermarkMs, next);
    const triggerStartMs = triggerStart.epochMs;
    const progress = buildProgress({
      id: checkpoint.id,
      runId: this.runId,
      name: this.#options.queryName ?? null,
      barrier: done,
      numInputRows,
      eventTime: eventTimeProgress(done, drain ? (next ?? entry.batchWatermarkMs) : entry.batchWatermarkMs),
      source: { description: this.source.description, startOffset: start, endOffset: end, latestOffset: end, metrics: sourceMetrics },
      timings: {
        triggerStartMs,
        previousTriggerStartMs: run.previousTriggerStartMs,
        latestOffset: 0,
        walCommit: Math.round(walDone - triggerStart.perf),
        addBatch: Math.round(finished - walDone),
        commitOffsets: 0,
        triggerExecution: Math.round(finished - triggerStart.perf),
      },
    });
    run.previousTriggerStartMs = triggerStartMs;
    this.emit('progress', progress);
  }

  async #abandonReadAhead(): Promise<void> {
    const ahead = this.#ahead;
    this.#ahead = null;
    await ahead?.abandon();
  }

  async #waitForDataOrWake(): Promise<void> {
    const controller = new AbortController();
    const woken = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    try {
      await Promise.race([this.source.waitForData(controller.signal), woken]);
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

/** When a trigger started: the epoch time it reports (progress `timestamp`, interval ticks) and a monotonic time for durations. */
interface TriggerClock {
  readonly epochMs: number;
  readonly perf: number;
}

function triggerClock(): TriggerClock {
  return { epochMs: Date.now(), perf: performance.now() };
}

/**
 * The head of a pipeline composed by hand: `source`'s micro-batches, run
 * with `options` (checkpoint, trigger, drain, output mode).
 *
 * @example
 * ```ts
 * await pipeline(
 *   microBatches(new FileSource({ path: './data' }), { checkpointLocation: './chk', trigger: 'availableNow' }),
 *   new ParseSchema({ schema: 'time timestamp, action string' }),
 *   …,
 *   new CheckpointSink({ path: './out' }),
 * )
 * ```
 */
export function microBatches(source: Source, options: ExecutionOptions = {}): MicroBatchExecution {
  return new MicroBatchExecution(source, options);
}

// The offsets conf with what the source reads (nothing recorded when it says nothing).
function withSourceFingerprint(conf: Readonly<Record<string, string>>, fingerprint: Record<string, unknown>): Record<string, string> {
  const out = { ...conf };
  if (Object.keys(fingerprint).length > 0) out[SOURCE_CONF] = JSON.stringify({ ...JSON.parse(conf[SOURCE_CONF] ?? '{}'), ...fingerprint });
  return out;
}

// Spark's progress `eventTime`: the watermark when the query has one, and the figures when the batch had rows.
function eventTimeProgress(barrier: BarrierItem, watermarkMs: number): Record<string, string> | undefined {
  if (barrier.watermarks.length === 0) return undefined;
  const stats = new EventTimeStats();
  for (const w of barrier.watermarks) if (w.figures !== null) stats.merge(w.figures.maxMs, w.figures.minMs, w.figures.sumMs, w.figures.count);
  const watermark = formatTimestampUtcMillis(watermarkMs);
  if (stats.count === 0) return { watermark };
  return { avg: formatTimestampUtcMillis(stats.avg), max: formatTimestampUtcMillis(stats.max), min: formatTimestampUtcMillis(stats.min), watermark };
}

// A plan recorded by an earlier run must match the one now: a checkpoint belongs to one query.
// Operators are matched by kind and rank (the second Window is `Window#1`), not by position: a
// plan the planner rewrote (a chunk aggregate standing for a parse and a window) records the same.
function checkPlan(checkpoint: Checkpoint, recorded: string | undefined, plan: readonly PlanEntry[]): void {
  if (recorded === undefined) return;
  const before = byKind(JSON.parse(recorded) as PlanEntry[]);
  const now = byKind(plan);
  const names = (entries: ReadonlyMap<string, PlanEntry>): string => [...entries.values()].map((e) => e.operator).sort().join(', ');
  for (const key of new Set([...before.keys(), ...now.keys()])) {
    const was = before.get(key);
    const is = now.get(key);
    if (was === undefined || is === undefined) {
      throw new TidemarkError(
        'ERR_CHECKPOINT_MISMATCH',
        `the query changed since checkpoint ${checkpoint.location} was written: its operators were ${names(before) || '(none)'}, are now ${names(now) || '(none)'}`,
      );
    }
    for (const option of new Set([...Object.keys(was.configuration), ...Object.keys(is.configuration)])) {
      const a = JSON.stringify(was.configuration[option]);
      const b = JSON.stringify(is.configuration[option]);
      if (a !== b) {
        throw new TidemarkError('ERR_CHECKPOINT_MISMATCH', `the query changed since the checkpoint was written: ${was.operator} ${option} was ${a ?? 'unset'}, is now ${b ?? 'unset'}`, { option });
      }
    }
  }
}

function byKind(entries: readonly PlanEntry[]): Map<string, PlanEntry> {
  const out = new Map<string, PlanEntry>();
  const ranks = new Map<string, number>();
  for (const entry of entries) {
    const rank = ranks.get(entry.operator) ?? 0;
    ranks.set(entry.operator, rank + 1);
    out.set(`${entry.operator}#${rank}`, entry);
  }
  return out;
}

// Checkpoints of the release before gave ParseSchema, Watermark and Window operator ids too (they
// checkpointed their configuration): drop their states and renumber the stateful ones in order.
function renumberLegacyStates(states: Readonly<Record<string, RecoveredState>>): Record<string, RecoveredState> {
  const ids = Object.keys(states).map(Number).sort((a, b) => a - b);
  if (!ids.some((id) => LEGACY_CONFIGURATION_ONLY.has(states[String(id)]!.stage))) return { ...states };
  const out: Record<string, RecoveredState> = {};
  let next = 0;
  for (const id of ids) {
    const state = states[String(id)]!;
    if (!LEGACY_CONFIGURATION_ONLY.has(state.stage)) out[String(next++)] = state;
  }
  return out;
}

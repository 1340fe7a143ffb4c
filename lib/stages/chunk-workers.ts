/**
 * Worker threads that read and aggregate chunks for `ChunkAggregate`, one
 * pool per process and size, shared by every query: a worker's start-up
 * (loading the reader, compiling its scanner) is paid once, not per query,
 * and an idle worker does not keep the process alive. Each query opens a
 * session with its reader options and plan; a chunk goes to the worker with
 * the fewest chunks in hand, and replies come back as promises the query
 * awaits in chunk order.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TidemarkError } from '../errors.js';
import type { ChunkReply, ChunkRequest, ChunkSessionConfig, ChunkWorkerMessage } from './chunk-worker.js';

// The compiled worker sits beside this module; under a TypeScript loader (the tests) it is the .ts file.
function workerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './chunk-worker.ts' : './chunk-worker.js', here);
}

interface Slot {
  readonly worker: Worker;
  inHand: number;
}

const pools = new Map<number, ChunkWorkerPool>();

/**
 * Worker threads a query reads on by default: one per core but one, which
 * the query's own thread keeps busy (it hands out the chunks, merges their
 * groups, emits, writes and commits); none on a single core. On two cores,
 * one worker ran the notebook's query 1.00–1.05× and its sliding window
 * 1.07–1.08× as fast as two did: with two, three busy threads shared the two
 * cores, and each worker pays its own start-up and compiles its own code.
 */
export function defaultChunkWorkers(): number {
  return Math.max(0, availableParallelism() - 1);
}

/**
 * Starts the process's default pool now, before a query needs it: a
 * worker's start-up (a Node environment, its modules) then overlaps the
 * rest of the process's start-up instead of delaying the first chunks.
 * The workers are unref'd: unused, they cost their start-up and keep
 * nothing alive.
 */
export function prestartChunkWorkers(): void {
  const size = defaultChunkWorkers();
  if (size > 0) ChunkWorkerPool.shared(size);
}

/** A fixed set of chunk workers shared by the queries of a process. */
export class ChunkWorkerPool {
  readonly #slots: Slot[] = [];
  readonly #waiting = new Map<number, { resolve: (reply: ChunkReply) => void; reject: (err: Error) => void; session: number }>();
  #nextSeq = 0;
  #nextSession = 1;
  #failure: Error | null = null;

  /** The process's pool of `size` workers, started on first use (and again after a failure). */
  static shared(size: number): ChunkWorkerPool {
    let pool = pools.get(size);
    if (pool === undefined || pool.#failure !== null) {
      pool = new ChunkWorkerPool(size);
      pools.set(size, pool);
    }
    return pool;
  }

  private constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(workerUrl());
      // Referenced only while it holds chunks: an idle worker must not keep the process alive.
      worker.unref();
      const slot: Slot = { worker, inHand: 0 };
      // An unref() before the worker is online does not hold for its message port (seen on Node 20): again once online.
      worker.once('online', () => {
        if (slot.inHand === 0) worker.unref();
      });
      worker.on('message', (reply: ChunkReply) => this.#reply(slot, reply));
      worker.on('error', (err: Error) => this.#fail(new TidemarkError('ERR_WORKER', `a chunk worker failed: ${err.message}`, { cause: err })));
      worker.on('exit', (code) => this.#fail(new TidemarkError('ERR_WORKER', `a chunk worker exited with code ${code}`)));
      this.#slots.push(slot);
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.#slots.length;
  }

  /** Starts a query's session: every worker learns its reader options and plan. */
  openSession(config: ChunkSessionConfig): ChunkSession {
    if (this.#failure !== null) throw this.#failure;
    const session = this.#nextSession++;
    this.#broadcast({ type: 'open', session, config });
    return new ChunkSession(this, session);
  }

  /** @internal */
  closeSession(session: number): void {
    for (const [seq, waiting] of this.#waiting) {
      if (waiting.session !== session) continue;
      this.#waiting.delete(seq);
      waiting.reject(new TidemarkError('ERR_WORKER', 'the query stopped before the chunk was read'));
    }
    if (this.#failure === null) this.#broadcast({ type: 'close', session });
  }

  /** @internal */
  read(session: number, bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, move: boolean, batchTimestampMs: number): Promise<ChunkReply> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.inHand < slot.inHand) slot = s;
    const seq = this.#nextSeq++;
    const request: ChunkRequest = { type: 'read', session, seq, bytes, file, fileStart, maxLineLength, batchTimestampMs };
    const reply = new Promise<ChunkReply>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject, session });
      if (slot.inHand++ === 0) slot.worker.ref();
      slot.worker.postMessage(request, move ? [bytes.buffer as ArrayBuffer] : []);
    });
    // A caller that stopped (its stream was destroyed) no longer awaits: that must not be an unhandled rejection.
    reply.catch(() => undefined);
    return reply;
  }

  #broadcast(message: ChunkWorkerMessage): void {
    for (const slot of this.#slots) slot.worker.postMessage(message);
  }

  #reply(slot: Slot, reply: ChunkReply): void {
    if (--slot.inHand === 0) slot.worker.unref();
    const waiting = this.#waiting.get(reply.seq);
    if (waiting === undefined) return;
    this.#waiting.delete(reply.seq);
    waiting.resolve(reply);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    if (pools.get(this.#slots.length) === this) pools.delete(this.#slots.length);
    for (const waiting of this.#waiting.values()) waiting.reject(err);
    this.#waiting.clear();
    for (const slot of this.#slots) void slot.worker.terminate();
  }
}

/** One query's use of a pool. */
export class ChunkSession {
  readonly #pool: ChunkWorkerPool;
  readonly #id: number;
  #closed = false;

  /** @internal Use {@link ChunkWorkerPool.openSession}. */
  constructor(pool: ChunkWorkerPool, id: number) {
    this.#pool = pool;
    this.#id = id;
  }

  /** Number of workers. */
  get workers(): number {
    return this.#pool.size;
  }

  /**
   * Reads and aggregates a chunk on the least busy worker. With `move`, the
   * bytes' buffer is transferred (the caller loses it; a failed chunk's bytes
   * come back in the reply), else shared (a `SharedArrayBuffer`, read in
   * place: the caller must not reuse it before the reply) or copied.
   */
  read(bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, move: boolean, batchTimestampMs: number): Promise<ChunkReply> {
    if (this.#closed) return Promise.reject(new TidemarkError('ERR_WORKER', 'the chunk session is closed'));
    return this.#pool.read(this.#id, bytes, file, fileStart, maxLineLength, move, batchTimestampMs);
  }

  /** Ends the session; chunks still in hand are abandoned (their promises reject). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.closeSession(this.#id);
  }
}

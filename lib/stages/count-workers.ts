/**
 * Worker threads that read and count chunks for `ParseSchema`'s count
 * push-down. Each runs `count-worker.ts`; a chunk goes to the worker with
 * the fewest chunks in hand, and replies come back as promises the stage
 * awaits in chunk order.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { TidemarkError } from '../errors.js';
import type { CountReply, CountRequest, CountWorkerData } from './count-worker.js';

// The compiled worker sits beside this module; under a TypeScript loader (the tests) it is the .ts file.
function workerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './count-worker.ts' : './count-worker.js', here);
}

interface Slot {
  readonly worker: Worker;
  inHand: number;
}

/** A fixed set of count workers. */
export class CountWorkers {
  readonly #slots: Slot[];
  readonly #waiting = new Map<number, { resolve: (reply: CountReply) => void; reject: (err: Error) => void }>();
  #nextSeq = 0;
  #failure: Error | null = null;
  #closed = false;

  constructor(size: number, data: CountWorkerData) {
    this.#slots = [];
    for (let i = 0; i < size; i++) {
      const worker = new Worker(workerUrl(), { workerData: data });
      // Referenced only while it holds chunks: an idle worker must not keep the process alive.
      worker.unref();
      const slot: Slot = { worker, inHand: 0 };
      worker.on('message', (reply: CountReply) => this.#reply(slot, reply));
      worker.on('error', (err: Error) => this.#fail(new TidemarkError('ERR_WORKER', `a count worker failed: ${err.message}`, { cause: err })));
      worker.on('exit', (code) => {
        if (!this.#closed) this.#fail(new TidemarkError('ERR_WORKER', `a count worker exited with code ${code}`));
      });
      this.#slots.push(slot);
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.#slots.length;
  }

  /**
   * Reads and counts a chunk on the least busy worker. With `move`, the
   * bytes' buffer is transferred (the caller loses it; a failed chunk's
   * bytes come back in the reply), else copied; with `giveBack` too, the
   * reply brings the buffer back for reuse. `batchTimestampMs` is the
   * processing time of the chunk's micro-batch (the reader's
   * `maxEventTimeAhead` is measured from it).
   */
  count(bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, move: boolean, giveBack: boolean, batchTimestampMs: number): Promise<CountReply> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new TidemarkError('ERR_WORKER', 'the count workers are closed'));
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.inHand < slot.inHand) slot = s;
    const seq = this.#nextSeq++;
    const request: CountRequest = { seq, bytes, file, fileStart, maxLineLength, batchTimestampMs, giveBack: move && giveBack };
    const reply = new Promise<CountReply>((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      if (slot.inHand++ === 0) slot.worker.ref();
      slot.worker.postMessage(request, move ? [bytes.buffer as ArrayBuffer] : []);
    });
    // A caller that stopped (its stream was destroyed) no longer awaits: that must not be an unhandled rejection.
    reply.catch(() => undefined);
    return reply;
  }

  /** Stops the workers; chunks still in hand are abandoned (their promises reject). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new TidemarkError('ERR_WORKER', 'the count workers were closed'));
    // An unreferenced worker's exit does not hold the event loop: without this, a process with
    // nothing else to do could end before `terminate()` resolves, and its awaiter would never run.
    for (const slot of this.#slots) slot.worker.ref();
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #reply(slot: Slot, reply: CountReply): void {
    if (--slot.inHand === 0) slot.worker.unref();
    const waiting = this.#waiting.get(reply.seq);
    if (waiting === undefined) return;
    this.#waiting.delete(reply.seq);
    waiting.resolve(reply);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiting of this.#waiting.values()) waiting.reject(err);
    this.#waiting.clear();
  }
}

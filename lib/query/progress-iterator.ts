/**
 * A query's progress as an async iterator (`for await (const p of
 * query.progress())`), beside the `progress` event.
 *
 * Design:
 * - It listens from the moment `progress()` is called, not from the first
 *   `next()`: a batch that commits between the call and the loop is not lost.
 * - The buffer is bounded (`bufferSize`, default 100 as Spark's
 *   `recentProgress`): a consumer slower than the query never slows it and
 *   never grows memory; past the bound the oldest progress is dropped and
 *   counted in `dropped` (the newest always arrive, as with `lastProgress`).
 * - It ends when the query ends: after the buffered progress, normally when
 *   the query stopped, with the query's exception when it failed. A query
 *   already ended gives an iterator that ends at once (or throws its failure).
 * - `break`/`return()` stops listening; the query goes on. `signal` does the
 *   same from outside the loop and rejects the pending `next()` with the
 *   signal's reason (an `AbortError`), as Node's `events.on` does.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { StreamingQueryProgress } from './progress.js';

/** Options of `StreamingQuery.progress()`. */
export interface ProgressIteratorOptions {
  /** Progress reports held for a slow consumer before the oldest is dropped; default 100. */
  readonly bufferSize?: number;
  /** Stops the iteration (not the query): the pending `next()` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The iterator `StreamingQuery.progress()` returns. */
export interface ProgressIterator extends AsyncIterableIterator<StreamingQueryProgress> {
  /** Progress reports dropped so far because the buffer was full (the consumer fell behind). */
  readonly dropped: number;
}

/** Default of {@link ProgressIteratorOptions.bufferSize}. */
export const DEFAULT_PROGRESS_BUFFER = 100;

/** What the iterator needs of a query: its events and whether it still runs. */
export interface ProgressEmitter {
  readonly isActive: boolean;
  readonly exception: Error | null;
  on(event: 'progress', listener: (progress: StreamingQueryProgress) => void): unknown;
  on(event: 'terminated', listener: (exception: Error | null) => void): unknown;
  off(event: 'progress', listener: (progress: StreamingQueryProgress) => void): unknown;
  off(event: 'terminated', listener: (exception: Error | null) => void): unknown;
}

type Waiter = { resolve: (result: IteratorResult<StreamingQueryProgress>) => void; reject: (err: unknown) => void };

/**
 * An async iterator over `query`'s progress from now on (see the module notes).
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for a `bufferSize` that is not a positive integer
 */
export function progressIterator(query: ProgressEmitter, options: ProgressIteratorOptions = {}): ProgressIterator {
  const bufferSize = options.bufferSize ?? DEFAULT_PROGRESS_BUFFER;
  if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) {
    throw new TidemarkError('ERR_INVALID_OPTION', `bufferSize must be a positive integer, got ${bufferSize}`, { option: 'bufferSize' });
  }
  const signal = options.signal;
  const buffer: StreamingQueryProgress[] = [];
  let head = 0;
  let dropped = 0;
  let waiter: Waiter | null = null;
  // Set once no more progress will come: null while listening.
  let ending: { error: unknown } | null = null;

  const onProgress = (p: StreamingQueryProgress): void => {
    if (waiter !== null) {
      const w = waiter;
      waiter = null;
      w.resolve({ value: p, done: false });
      return;
    }
    buffer.push(p);
    if (buffer.length - head > bufferSize) {
      head++;
      dropped++;
    }
    // Compact now and then, so a long run does not keep a growing array.
    if (head > 1024 && head * 2 > buffer.length) {
      buffer.splice(0, head);
      head = 0;
    }
  };
  const finish = (error: unknown): void => {
    if (ending !== null) return;
    ending = { error };
    query.off('progress', onProgress);
    query.off('terminated', onTerminated);
    signal?.removeEventListener('abort', onAbort);
    if (waiter !== null && buffer.length === head) {
      const w = waiter;
      waiter = null;
      if (error === null) w.resolve({ value: undefined, done: true });
      else w.reject(error);
    }
  };
  const onTerminated = (exception: Error | null): void => finish(exception);
  const onAbort = (): void => {
    buffer.length = 0;
    head = 0;
    finish(signal!.reason);
  };

  if (signal?.aborted === true) ending = { error: signal.reason };
  else if (!query.isActive) ending = { error: query.exception };
  else {
    query.on('progress', onProgress);
    query.on('terminated', onTerminated);
    signal?.addEventListener('abort', onAbort, { once: true });
  }

  const iterator: ProgressIterator = {
    get dropped() {
      return dropped;
    },
    next(): Promise<IteratorResult<StreamingQueryProgress>> {
      if (head < buffer.length) {
        const value = buffer[head++]!;
        return Promise.resolve({ value, done: false });
      }
      if (ending !== null) {
        const { error } = ending;
        // An error is reported once; afterwards the iterator is simply done.
        ending = { error: null };
        return error === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
      }
      if (waiter !== null) return Promise.reject(new TidemarkError('ERR_INVALID_OPTION', 'progress(): next() called again before the previous call resolved'));
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return(): Promise<IteratorResult<StreamingQueryProgress>> {
      finish(null);
      buffer.length = 0;
      head = 0;
      ending = { error: null };
      if (waiter !== null) {
        const w = waiter;
        waiter = null;
        w.resolve({ value: undefined, done: true });
      }
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

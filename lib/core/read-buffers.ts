/**
 * Read buffers that go round instead of being allocated per read: a
 * `FileSource` reads file chunks into them and hands the chunks over; the
 * `ParseSchema` that reads a chunk gives its buffer back once done (after a
 * count worker returned it, when the chunk went to one). A fresh 1 MiB
 * buffer per read costs page faults and, when it is moved to a worker, sits
 * there as garbage until that worker's next collection.
 *
 * Only buffers this module made are taken back, so a buffer that other
 * memory shares (Node's pool of small buffers) can never be reused.
 *
 * The buffers are `SharedArrayBuffer`s: a chunk goes to a count worker and
 * back by reference, not moved. Moving it detached an `ArrayBuffer` in both
 * threads, and the first detach in a thread makes V8 check for a detached
 * buffer on every typed-array access it compiles from then on: 5 ns of the
 * chunk kernel's 29 a line, and every function optimised before it compiled
 * again. The thread that took a buffer gives it back once no one reads it
 * (after the worker's answer, for a chunk a worker read).
 *
 * @module
 */

// Buffers kept per size: enough for the chunks in flight to the count workers, plus the stream buffers.
const KEPT_PER_SIZE = 48;

const free = new Map<number, SharedArrayBuffer[]>();
const made = new WeakSet<SharedArrayBuffer>();
// Buffers in a free list: a buffer given back twice must not be handed out twice.
const idle = new WeakSet<SharedArrayBuffer>();

/** A buffer of `size` bytes, reused when one was given back. Its contents are not cleared. */
export function takeReadBuffer(size: number): Uint8Array {
  const buffer = free.get(size)?.pop() ?? new SharedArrayBuffer(size);
  idle.delete(buffer);
  made.add(buffer);
  return new Uint8Array(buffer);
}

/** Whether `buffer` came from {@link takeReadBuffer} (and may be given back). */
export function isReadBuffer(buffer: ArrayBufferLike): buffer is SharedArrayBuffer {
  return buffer instanceof SharedArrayBuffer && made.has(buffer);
}

/** Gives a buffer back for reuse. The caller must know that no one reads it any more. */
export function giveReadBuffer(buffer: ArrayBufferLike): void {
  if (!isReadBuffer(buffer) || idle.has(buffer)) return;
  let list = free.get(buffer.byteLength);
  if (list === undefined) free.set(buffer.byteLength, (list = []));
  if (list.length >= KEPT_PER_SIZE) return;
  idle.add(buffer);
  list.push(buffer);
}

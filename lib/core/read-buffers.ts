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
 * @module
 */

// Buffers kept per size: enough for the chunks in flight to the count workers, plus the stream buffers.
const KEPT_PER_SIZE = 48;

const free = new Map<number, ArrayBuffer[]>();
const made = new WeakSet<ArrayBuffer>();
// Buffers in a free list: a buffer given back twice must not be handed out twice.
const idle = new WeakSet<ArrayBuffer>();

/** A buffer of `size` bytes, reused when one was given back. Its contents are not cleared. */
export function takeReadBuffer(size: number): Uint8Array {
  const buffer = free.get(size)?.pop() ?? new ArrayBuffer(size);
  idle.delete(buffer);
  made.add(buffer);
  return new Uint8Array(buffer);
}

/** Whether `buffer` came from {@link takeReadBuffer} (and may be given back). */
export function isReadBuffer(buffer: ArrayBufferLike): boolean {
  return buffer instanceof ArrayBuffer && made.has(buffer);
}

/**
 * Gives a buffer back for reuse. The caller must hold the only views on it.
 * A buffer moved to a worker and back is a new object: pass
 * `returned: true` for one that left as a read buffer.
 */
export function giveReadBuffer(buffer: ArrayBufferLike, returned = false): void {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return;
  if ((!returned && !made.has(buffer)) || idle.has(buffer)) return;
  let list = free.get(buffer.byteLength);
  if (list === undefined) free.set(buffer.byteLength, (list = []));
  if (list.length >= KEPT_PER_SIZE) return;
  idle.add(buffer);
  list.push(buffer);
}

/**
 * V8 compiles typed-array and `DataView` access without a check for a
 * detached buffer until the first `ArrayBuffer` of the thread is detached
 * (moved to another thread by `postMessage`). That first detach throws away
 * every function optimised so far, which are compiled again. A thread that
 * will move buffers (the chunk workers and the thread that feeds them) pays
 * that once per thread, at start, before anything is optimised: the chunk
 * kernel was otherwise compiled twice in each worker, tens of milliseconds of
 * CPU each on a busy machine, and read its second chunk in the interpreter.
 *
 * @module
 */

let detached = false;

/** Detaches one 8-byte buffer, once per thread, so code is compiled for detachable buffers from the start. */
export function expectTransfers(): void {
  if (detached) return;
  detached = true;
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
}

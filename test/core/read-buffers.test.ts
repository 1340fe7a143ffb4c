import t from 'tap';
import { giveReadBuffer, isReadBuffer, takeReadBuffer } from '../../lib/core/read-buffers.js';

// Sizes no other test or stage uses, so the shared free lists start empty here.
t.test('a buffer given back is the next one taken of its size', async (t) => {
  const first = takeReadBuffer(1001);
  t.equal(first.length, 1001);
  t.ok(isReadBuffer(first.buffer));
  giveReadBuffer(first.buffer);
  t.equal(takeReadBuffer(1001).buffer, first.buffer);
  t.not(takeReadBuffer(1001).buffer, first.buffer, 'taken once, handed out once');
});

t.test('memory the pool did not make is never taken back, shared or not', async (t) => {
  const foreign = new ArrayBuffer(1002);
  t.notOk(isReadBuffer(foreign));
  t.notOk(isReadBuffer(Buffer.from('shared slab').buffer));
  giveReadBuffer(foreign);
  t.not(takeReadBuffer(1002).buffer, foreign);
  const sharedElsewhere = new SharedArrayBuffer(1003);
  t.notOk(isReadBuffer(sharedElsewhere));
  giveReadBuffer(sharedElsewhere);
  t.not(takeReadBuffer(1003).buffer, sharedElsewhere);
});

t.test('a read buffer is shared memory: a worker given a chunk of it reads the same bytes, nothing is moved', async (t) => {
  const bytes = takeReadBuffer(1005);
  t.ok(bytes.buffer instanceof SharedArrayBuffer);
  bytes.set([1, 2, 3]);
  const copy = structuredClone({ bytes: bytes.subarray(1, 3) });
  t.ok(copy.bytes.buffer instanceof SharedArrayBuffer);
  bytes[2] = 9;
  t.strictSame([...copy.bytes], [2, 9], 'the copy sees a write made after it: the same memory');
  t.equal(bytes.buffer.byteLength, 1005, 'not detached');
});

t.test('a buffer given back twice is handed out once', async (t) => {
  const buffer = takeReadBuffer(1004).buffer;
  giveReadBuffer(buffer);
  giveReadBuffer(buffer);
  const a = takeReadBuffer(1004).buffer;
  const b = takeReadBuffer(1004).buffer;
  t.equal(a, buffer);
  t.not(b, buffer);
});

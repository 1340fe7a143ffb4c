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

t.test('memory the pool did not make is never taken back, unless it left as a read buffer', async (t) => {
  const foreign = new ArrayBuffer(1002);
  t.notOk(isReadBuffer(foreign));
  t.notOk(isReadBuffer(Buffer.from('shared slab').buffer));
  giveReadBuffer(foreign);
  t.not(takeReadBuffer(1002).buffer, foreign);
  const returned = new ArrayBuffer(1003);
  giveReadBuffer(returned, true);
  t.equal(takeReadBuffer(1003).buffer, returned);
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

import t from 'tap';
import fc from 'fast-check';
import { base64ToBytes, bytesToBase64 } from '../../lib/core/base64.js';

t.test('base64 is the standard alphabet with = padding', async (t) => {
  t.equal(bytesToBase64(Uint8Array.of()), '');
  t.equal(bytesToBase64(Uint8Array.of(1)), 'AQ==');
  t.equal(bytesToBase64(Uint8Array.of(1, 2)), 'AQI=');
  t.equal(bytesToBase64(Uint8Array.of(1, 2, 3)), 'AQID');
  t.equal(bytesToBase64(Uint8Array.of(251, 255)), '+/8=');
});

t.test('any bytes round-trip, and agree with node’s Buffer', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
      const text = bytesToBase64(bytes);
      const back = base64ToBytes(text);
      return text === Buffer.from(bytes).toString('base64') && back.length === bytes.length && back.every((b, i) => b === bytes[i]);
    }),
    { numRuns: 200 },
  );
  t.pass('200 arrays');
});

t.test('text that is not base64 is a corrupt snapshot', async (t) => {
  t.throws(() => base64ToBytes('abc'), { code: 'ERR_CHECKPOINT_CORRUPT' });
  t.throws(() => base64ToBytes('ab$='), { code: 'ERR_CHECKPOINT_CORRUPT' });
});

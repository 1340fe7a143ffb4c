import t from 'tap';
import fc from 'fast-check';
import { compareUtf8 } from '../../lib/core/string-order.js';

const utf8 = new TextEncoder();
function byBytes(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

t.test("strings order by UTF-8 bytes: 'Z' < 'a' < 'é' < 'ｚ' < '😀'", async (t) => {
  const sorted = ['😀', 'ｚ', 'é', 'a', 'Z'].sort(compareUtf8);
  t.same(sorted, ['Z', 'a', 'é', 'ｚ', '😀']);
});

t.test("UTF-16 order differs where a character above U+FFFF meets one in U+E000–U+FFFF: JavaScript's < puts '😀' first", async (t) => {
  t.ok('😀' < 'ｚ', 'UTF-16 code units');
  t.ok(compareUtf8('😀', 'ｚ') > 0, 'UTF-8 bytes');
  t.ok(compareUtf8('\uFFFD', '𐀀') < 0);
});

t.test('a prefix sorts first and equal strings compare 0', async (t) => {
  t.ok(compareUtf8('ab', 'abc') < 0);
  t.equal(compareUtf8('é😀', 'é😀'), 0);
});

t.test('compareUtf8 agrees in sign with a byte-by-byte comparison of the encodings', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => Math.sign(compareUtf8(a, b)) === Math.sign(byBytes(a, b))),
    { numRuns: 5000 },
  );
  t.pass('5000 pairs');
});

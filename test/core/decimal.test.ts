import t from 'tap';
import { divideHalfUp, divideResultType, fitsPrecision, formatUnscaled, parseUnscaled, rescaleHalfUp } from '../../lib/core/decimal.js';

t.test('decimal strings convert to unscaled integers at a scale and back with exactly that many digits', async (t) => {
  t.equal(parseUnscaled('-12.5', 2), -1250n);
  t.equal(parseUnscaled('12.50', 2), 1250n);
  t.equal(parseUnscaled('7', 2), 700n);
  t.equal(parseUnscaled('0.05', 2), 5n);
  t.equal(formatUnscaled(-1250n, 2), '-12.50');
  t.equal(formatUnscaled(5n, 3), '0.005');
  t.equal(formatUnscaled(-5n, 3), '-0.005');
  t.equal(formatUnscaled(42n, 0), '42');
});

t.test('a decimal with digits beyond the scale is refused, not rounded', async (t) => {
  t.throws(() => parseUnscaled('1.234', 2), { code: 'ERR_SCHEMA_MISMATCH' });
  t.throws(() => parseUnscaled('abc', 2), { code: 'ERR_SCHEMA_MISMATCH' });
  t.equal(parseUnscaled('1.2300', 2), 123n);
});

t.test('HALF_UP rounds halves away from zero', async (t) => {
  t.equal(divideHalfUp(5n, 2n), 3n);
  t.equal(divideHalfUp(-5n, 2n), -3n);
  t.equal(divideHalfUp(7n, 3n), 2n);
  t.equal(divideHalfUp(-7n, 3n), -2n);
  t.equal(rescaleHalfUp(12345n, 3, 1), 123n);
  t.equal(rescaleHalfUp(12350n, 3, 1), 124n);
  t.equal(rescaleHalfUp(12n, 1, 3), 1200n);
});

t.test('precision counts the digits of the unscaled value', async (t) => {
  t.ok(fitsPrecision(99999n, 5));
  t.notOk(fitsPrecision(100000n, 5));
  t.notOk(fitsPrecision(-100000n, 5));
});

t.test("a decimal division's type is Spark's: scale max(6, s1+p2+1), precision capped at 38 keeping at least 6 fraction digits", async (t) => {
  t.same(divideResultType({ precision: 20, scale: 2 }, { precision: 20, scale: 0 }), { precision: 38, scale: 20 });
  t.same(divideResultType({ precision: 5, scale: 2 }, { precision: 3, scale: 0 }), { precision: 9, scale: 6 });
  t.same(divideResultType({ precision: 38, scale: 10 }, { precision: 20, scale: 0 }), { precision: 38, scale: 10 });
  t.same(divideResultType({ precision: 38, scale: 2 }, { precision: 20, scale: 0 }), { precision: 38, scale: 6 });
});

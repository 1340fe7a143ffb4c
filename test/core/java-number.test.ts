/**
 * Java's number text: `Double.toString`/`Float.toString` of JDK 19+ (what
 * `show()` prints) and Jackson's JSON tokens (what the JSON sink writes).
 */
import t from 'tap';
import fc from 'fast-check';
import { jacksonDouble, jacksonFloat, javaDoubleToString, javaDoubleToStringGeneral, javaFloatToString } from '../../lib/core/java-number.js';

t.test('doubles between 10^-3 and 10^7 print plain with at least one fraction digit', async (t) => {
  t.equal(javaDoubleToString(21.5), '21.5');
  t.equal(javaDoubleToString(100), '100.0');
  t.equal(javaDoubleToString(0.001), '0.001');
  t.equal(javaDoubleToString(9999999), '9999999.0');
  t.equal(javaDoubleToString(-123456.789), '-123456.789');
  t.equal(javaDoubleToString(0.1 + 0.2), '0.30000000000000004');
});

t.test('doubles outside 10^-3 to 10^7 print as d.dddE±n without a plus sign', async (t) => {
  t.equal(javaDoubleToString(1e10), '1.0E10');
  t.equal(javaDoubleToString(1e7), '1.0E7');
  t.equal(javaDoubleToString(1e-5), '1.0E-5');
  t.equal(javaDoubleToString(0.0009999), '9.999E-4');
  t.equal(javaDoubleToString(-2.5e-10), '-2.5E-10');
  t.equal(javaDoubleToString(1e21), '1.0E21');
  t.equal(javaDoubleToString(Number.MAX_VALUE), '1.7976931348623157E308');
});

t.test('zeros, NaN and the infinities print as Java names them', async (t) => {
  t.equal(javaDoubleToString(0), '0.0');
  t.equal(javaDoubleToString(-0), '-0.0');
  t.equal(javaDoubleToString(NaN), 'NaN');
  t.equal(javaDoubleToString(Infinity), 'Infinity');
  t.equal(javaDoubleToString(-Infinity), '-Infinity');
});

t.test('digits are the shortest that read back, as JDK 19+ prints them (JDK 17 printed 4.6566128730773926E-10 for 2^-31)', async (t) => {
  t.equal(javaDoubleToString(2 ** -31), '4.656612873077393E-10');
  t.equal(javaDoubleToString(2e23), '2.0E23');
  t.equal(javaDoubleToString(1e23), '1.0E23');
});

t.test('a value whose shortest form has one digit prints the closest of one or two digits (JDK 19+)', async (t) => {
  t.equal(javaDoubleToString(Number.MIN_VALUE), '4.9E-324');
  t.equal(javaDoubleToString(2 * Number.MIN_VALUE), '9.9E-324');
  t.equal(javaDoubleToString(4 * Number.MIN_VALUE), '2.0E-323');
  t.equal(javaFloatToString(1.401298464324817e-45), '1.4E-45');
});

t.test('floats print their own shortest digits, not the double’s', async (t) => {
  t.equal(javaFloatToString(0.1), '0.1');
  t.equal(javaFloatToString(Math.fround(0.1)), '0.1');
  t.equal(javaFloatToString(1e10), '1.0E10');
  t.equal(javaFloatToString(16777216), '1.6777216E7');
  t.equal(javaFloatToString(3.4028234663852886e38), '3.4028235E38');
  // Float.MIN_NORMAL: JDK 17 printed 1.17549435E-38, one digit more than needed.
  t.equal(javaFloatToString(1.1754943508222875e-38), '1.1754944E-38');
  t.equal(javaFloatToString(-0), '-0.0');
  t.equal(javaFloatToString(NaN), 'NaN');
});

t.test('Jackson writes finite numbers as Java prints them and NaN/Infinity as JSON strings', async (t) => {
  t.equal(jacksonDouble(21.5), '21.5');
  t.equal(jacksonDouble(1e10), '1.0E10');
  t.equal(jacksonDouble(NaN), '"NaN"');
  t.equal(jacksonDouble(Infinity), '"Infinity"');
  t.equal(jacksonDouble(-Infinity), '"-Infinity"');
  t.equal(jacksonFloat(0.1), '0.1');
  t.equal(jacksonFloat(NaN), '"NaN"');
});

t.test('every double reads back from its text, and normal doubles keep JavaScript’s shortest digits', async (t) => {
  const digits = (s: string): string => s.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  fc.assert(
    fc.property(fc.double({ noNaN: true }), (d) => {
      const text = javaDoubleToString(d);
      if (!Object.is(Number(text), d)) return false;
      return Math.abs(d) < 2.2250738585072014e-308 || digits(text) === digits(Math.abs(d).toExponential());
    }),
    { numRuns: 5000 },
  );
  t.pass('5000 doubles');
});

t.test('every float reads back from its text as the same float', async (t) => {
  fc.assert(
    fc.property(fc.float({ noNaN: true }), (f) => Object.is(Math.fround(Number(javaFloatToString(f))), Math.fround(f))),
    { numRuns: 5000 },
  );
  t.pass('5000 floats');
});

t.test('the plain-range shortcut prints what the general route prints, for every double', async (t) => {
  const plain = fc.oneof(
    fc.double({ min: 1e-3, max: 1e7, noNaN: true }),
    fc.double({ min: -1e7, max: -1e-3, noNaN: true }),
    fc.integer({ min: -9_999_999, max: 9_999_999 }).map((n) => n / 8),
    fc.constantFrom(1e-3, -1e-3, 9_999_999.999999998, 1e7, -1e7, 0.001, 0.0009999999999999998, 21.5, 22, 1e10),
  );
  fc.assert(
    fc.property(fc.oneof(plain, fc.double()), (d) => javaDoubleToString(d) === javaDoubleToStringGeneral(d)),
    { numRuns: 20_000 },
  );
  t.pass('20,000 doubles, both routes equal');
});

/**
 * Java's number text, as Spark prints it: `Double.toString` and
 * `Float.toString` (what `show()` prints through `ToPrettyString`, which
 * calls `String.valueOf`), and the JSON number tokens Spark's JSON writer
 * (`JacksonGenerator`) emits through Jackson's `writeNumber(double|float)`.
 *
 * Which JDK: the digits are those of JDK 19 and later (JDK-4511638,
 * Giulietti's Schubfach): the shortest decimal that reads back as the same
 * value, the closest to it when several are as short, with one exception —
 * when a single digit would do, the closest decimal of one *or two* digits
 * is printed (`4.9E-324`, not `5.0E-324`). JavaScript's own shortest digits
 * are the same rule without that exception, which only matters for tiny
 * subnormals (`Double.MIN_VALUE`, `Float.MIN_VALUE` and a few neighbours).
 *
 * Spark 3.5 runs on Java 8/11/17 and Spark 4.0 on 17/21. JDK 17 and older
 * use the former `FloatingDecimal`, which for a minority of values prints
 * a digit more than needed or not the closest last digit (JDK 17:
 * `4.6566128730773926E-10` for 2^-31, JDK 21 and tidemark:
 * `4.656612873077393E-10`); both read back as the same double. tidemark
 * follows JDK 19+, the only specified behaviour.
 *
 * Layout (both JDKs): `-` for negatives; plain `ddd.ddd` (at least one
 * fraction digit) for 10^-3 ≤ |v| < 10^7, else `d.dddE±n` without a `+`;
 * `0.0`, `-0.0`, `NaN`, `Infinity`, `-Infinity`.
 *
 * Jackson writes `Double.toString` (its fast writer,
 * `USE_FAST_DOUBLE_WRITER`, is off by default and Spark does not turn it
 * on) and, with `QUOTE_NON_NUMERIC_NUMBERS` on by default, NaN and the
 * infinities as JSON strings (`"NaN"`).
 *
 * @module
 */

/** `Double.toString(d)` of JDK 19+: `21.5`, `1.0E10`, `1.0E-5`, `NaN`, `-0.0`. */
export function javaDoubleToString(d: number): string {
  // The common case, on the hot path of every sink that writes doubles: between 10^-3 and 10^7
  // JavaScript also prints plain decimals with the shortest digits, and a one-digit value there
  // is never one of the subnormals where Java prefers two digits; only the ".0" may be missing.
  const abs = d < 0 ? -d : d;
  if (abs >= 1e-3 && abs < 1e7) {
    const text = String(d);
    return text.includes('.') ? text : text + '.0';
  }
  return javaDoubleToStringGeneral(d);
}

/**
 * `Double.toString` by the general route (shortest digits, Java's layout), for every double; the
 * reference {@link javaDoubleToString}'s plain-range shortcut is tested against.
 *
 * @internal
 */
export function javaDoubleToStringGeneral(d: number): string {
  const special = specialText(d);
  if (special !== null) return special;
  let exponential = Math.abs(d).toExponential();
  // One significant digit: Java prints the closest of one or two digits.
  if (exponential.charCodeAt(1) === 101 /* e */) exponential = closestTwoDigits(Math.abs(d), exponential, (s) => Number(s));
  return layout(d < 0, exponential);
}

/** `Float.toString(f)` of JDK 19+ (`f` is rounded to float32 first): `0.1`, `1.0E10`, `1.4E-45`. */
export function javaFloatToString(f: number): string {
  const v = Math.fround(f);
  const special = specialText(v);
  if (special !== null) return special;
  const abs = Math.abs(v);
  // The shortest digits that read back as the same float: toPrecision(p) is
  // the closest p-digit decimal, so the first p that reads back is shortest
  // and closest. Nine digits always suffice for a float.
  let exponential = abs.toExponential();
  for (let p = 1; p <= 9; p++) {
    const candidate = abs.toExponential(p - 1);
    if (Math.fround(Number(candidate)) === abs) {
      exponential = candidate;
      break;
    }
  }
  if (exponential.charCodeAt(1) === 101 /* e */) exponential = closestTwoDigits(abs, exponential, (s) => Math.fround(Number(s)));
  return layout(v < 0, trimExponential(exponential));
}

/** The JSON token Jackson writes for a double: `Double.toString`, or a quoted `"NaN"`/`"Infinity"`/`"-Infinity"`. */
export function jacksonDouble(d: number): string {
  return Number.isFinite(d) ? javaDoubleToString(d) : '"' + javaDoubleToString(d) + '"';
}

/** The JSON token Jackson writes for a float: `Float.toString`, or a quoted non-finite value. */
export function jacksonFloat(f: number): string {
  return Number.isFinite(f) ? javaFloatToString(f) : '"' + javaFloatToString(f) + '"';
}

function specialText(d: number): string | null {
  if (d !== d) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  return null;
}

/**
 * JDK 19+'s rule for a value whose shortest form has one digit: the
 * closest decimal of one or two digits. `toExponential(1)` is the closest
 * two-digit decimal; it replaces the one-digit form when it reads back as
 * the same value and differs from it (`4.9e-324` for 5e-324).
 */
function closestTwoDigits(abs: number, oneDigit: string, readBack: (s: string) => number): string {
  const two = abs.toExponential(1);
  if (readBack(two) !== abs) return oneDigit;
  return trimExponential(two);
}

/** `1.0e-5` → `1e-5`: the significant digits without trailing zeros. */
function trimExponential(e: string): string {
  const cut = e.indexOf('e');
  let mantissa = e.slice(0, cut);
  if (mantissa.includes('.')) mantissa = mantissa.replace(/0+$/, '').replace(/\.$/, '');
  return mantissa + e.slice(cut);
}

/** Java's layout of the digits of `exponential` (`d[.ddd]e±n`, the absolute value). */
function layout(negative: boolean, exponential: string): string {
  const cut = exponential.indexOf('e');
  const digits = cut > 1 ? exponential[0]! + exponential.slice(2, cut) : exponential[0]!;
  const exp = Number(exponential.slice(cut + 1));
  let out: string;
  if (exp >= -3 && exp < 7) {
    if (exp >= 0) {
      const whole = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, '0');
      const fraction = digits.slice(exp + 1);
      out = whole + '.' + (fraction === '' ? '0' : fraction);
    } else {
      out = '0.' + '0'.repeat(-exp - 1) + digits;
    }
  } else {
    out = digits[0]! + '.' + (digits.length > 1 ? digits.slice(1) : '0') + 'E' + exp;
  }
  return negative ? '-' + out : out;
}

/**
 * Exact decimal arithmetic on scaled `bigint`s, the way Spark's `Decimal`
 * computes `sum` and `avg` of a `decimal(p,s)` column.
 *
 * A decimal value is held as its unscaled integer: `12.50` at scale 2 is
 * `1250n`. Row views and `any` columns carry decimals as plain strings with
 * exactly `scale` fraction digits (see `json-convert.ts`); {@link
 * parseUnscaled} and {@link formatUnscaled} convert between the two.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

/** Spark's `DecimalType.MAX_PRECISION`. */
export const MAX_DECIMAL_PRECISION = 38;
/** Spark's `DecimalType.MINIMUM_ADJUSTED_SCALE`. */
const MINIMUM_ADJUSTED_SCALE = 6;

const POWERS: bigint[] = [];
/** 10^n as a bigint. */
export function pow10(n: number): bigint {
  let p = POWERS[n];
  if (p === undefined) {
    p = 10n ** BigInt(n);
    POWERS[n] = p;
  }
  return p;
}

/**
 * The unscaled value of a plain decimal string at `scale`: `"-12.5"` at
 * scale 2 is `-1250n`. A number is taken as its shortest decimal text.
 * Throws a coded error for text that is not a plain decimal or has more
 * fraction digits than `scale`.
 */
export function parseUnscaled(value: unknown, scale: number): bigint {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' ? String(value) : '';
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) throw notDecimal(value, scale);
  const fraction = m[3] ?? '';
  if (fraction.length > scale) {
    // Trailing zeros beyond the scale are harmless; other digits would be lost.
    if (!/^0*$/.test(fraction.slice(scale))) throw notDecimal(value, scale);
  }
  const digits = (m[2] ?? '') + fraction.slice(0, scale).padEnd(scale, '0');
  const unscaled = BigInt(digits === '' ? '0' : digits);
  return m[1] === '-' ? -unscaled : unscaled;
}

/** The plain text of `unscaled` at `scale`, exactly `scale` fraction digits: `(-1250n, 2)` → `"-12.50"`. */
export function formatUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const plain = (negative ? -unscaled : unscaled).toString();
  const body = scale === 0 ? plain : plain.length <= scale ? '0.' + plain.padStart(scale, '0') : plain.slice(0, plain.length - scale) + '.' + plain.slice(plain.length - scale);
  return negative ? '-' + body : body;
}

/** True when `unscaled` has at most `precision` digits (Spark's `changePrecision` succeeds). */
export function fitsPrecision(unscaled: bigint, precision: number): boolean {
  const limit = pow10(precision);
  return unscaled < limit && unscaled > -limit;
}

/** `num / den` rounded HALF_UP (halves away from zero), Java's `RoundingMode.HALF_UP`; `den` > 0. */
export function divideHalfUp(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r = num % den;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice < den) return q;
  return num < 0n ? q - 1n : q + 1n;
}

/** `unscaled` moved from scale `from` to scale `to`, rounding HALF_UP when `to` < `from`. */
export function rescaleHalfUp(unscaled: bigint, from: number, to: number): bigint {
  if (to >= from) return unscaled * pow10(to - from);
  return divideHalfUp(unscaled, pow10(from - to));
}

/** A decimal type's precision and scale. */
export interface DecimalShape {
  readonly precision: number;
  readonly scale: number;
}

/** Spark's `DecimalType.bounded(p, s)`: both capped at 38. */
export function boundedDecimal(precision: number, scale: number): DecimalShape {
  return { precision: Math.min(precision, MAX_DECIMAL_PRECISION), scale: Math.min(scale, MAX_DECIMAL_PRECISION) };
}

/**
 * The type of `decimal(p1,s1) / decimal(p2,s2)` with
 * `spark.sql.decimalOperations.allowPrecisionLoss=true` (the default):
 * scale `max(6, s1 + p2 + 1)`, precision `p1 - s1 + s2 + scale`, then
 * `DecimalType.adjustPrecisionScale` when that exceeds 38.
 */
export function divideResultType(a: DecimalShape, b: DecimalShape): DecimalShape {
  const scale = Math.max(MINIMUM_ADJUSTED_SCALE, a.scale + b.precision + 1);
  const precision = a.precision - a.scale + b.scale + scale;
  if (precision <= MAX_DECIMAL_PRECISION) return { precision, scale };
  const intDigits = precision - scale;
  const minScale = Math.min(scale, MINIMUM_ADJUSTED_SCALE);
  return { precision: MAX_DECIMAL_PRECISION, scale: Math.max(MAX_DECIMAL_PRECISION - intDigits, minScale) };
}

function notDecimal(value: unknown, scale: number): TidemarkError {
  return new TidemarkError('ERR_SCHEMA_MISMATCH', `${JSON.stringify(String(value))} is not a decimal of scale ${scale}`);
}

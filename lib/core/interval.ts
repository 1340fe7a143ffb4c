/**
 * Interval strings as Spark parses them (`IntervalUtils.stringToInterval`):
 * `"1 hour"`, `"10 minutes"`, `"1 day 2 hours"`, `"interval 5 seconds"`,
 * `"-10 seconds"`, `"1.5 seconds"`.
 *
 * A Spark interval has three parts that do not convert into each other in
 * general (months, days, microseconds); callers decide how: windows refuse
 * months, watermark delays count a month as 31 days.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

/** Spark's `CalendarInterval`. */
export interface CalendarInterval {
  readonly months: number;
  readonly days: number;
  readonly microseconds: number;
}

export const US_PER_MS = 1_000;
export const US_PER_SECOND = 1_000_000;
export const US_PER_MINUTE = 60 * US_PER_SECOND;
export const US_PER_HOUR = 60 * US_PER_MINUTE;
export const US_PER_DAY = 24 * US_PER_HOUR;

type Unit = 'year' | 'month' | 'week' | 'day' | 'hour' | 'minute' | 'second' | 'millisecond' | 'microsecond';
const UNITS: readonly Unit[] = ['year', 'month', 'week', 'day', 'hour', 'minute', 'second', 'millisecond', 'microsecond'];

function parseError(input: string, reason: string, option?: string): TidemarkError {
  return new TidemarkError(
    'ERR_INVALID_INTERVAL',
    `Error parsing '${input}' to interval, ${reason}`,
    option === undefined ? {} : { option },
  );
}

/**
 * Parses a Spark interval string. Units may be singular or plural; only
 * seconds may carry a fraction (up to 9 digits, truncated to microseconds).
 *
 * @param option - named in the error when the string comes from an option.
 */
export function parseInterval(input: string, option?: string): CalendarInterval {
  const tokens = input.trim().toLowerCase().split(/\s+/).filter((s) => s.length > 0);
  let i = 0;
  if (tokens[0] === 'interval') i = 1;
  if (i >= tokens.length) throw parseError(input, 'interval string cannot be empty', option);
  let months = 0;
  let days = 0;
  let microseconds = 0;
  while (i < tokens.length) {
    const valueText = tokens[i]!;
    const unitText = tokens[i + 1];
    const m = /^([+-]?)(\d+)(?:\.(\d*))?$/.exec(valueText);
    if (m === null) throw parseError(input, `invalid value '${valueText}'`, option);
    if (unitText === undefined) throw parseError(input, `missing unit after '${valueText}'`, option);
    const unit = UNITS.find((u) => unitText === u || unitText === u + 's');
    if (unit === undefined) throw parseError(input, `invalid unit '${unitText}'`, option);
    const sign = m[1] === '-' ? -1 : 1;
    const whole = Number(m[2]);
    const fraction = m[3];
    if (fraction !== undefined && unit !== 'second') throw parseError(input, `'${valueText}' cannot have fractional part`, option);
    if (fraction !== undefined && fraction.length > 9) throw parseError(input, `'${valueText}' cannot have more than 9 fractional digits`, option);
    const fractionUs = fraction === undefined || fraction.length === 0 ? 0 : Math.trunc(Number((fraction + '000000000').slice(0, 9)) / 1000);
    switch (unit) {
      case 'year':
        months += sign * whole * 12;
        break;
      case 'month':
        months += sign * whole;
        break;
      case 'week':
        days += sign * whole * 7;
        break;
      case 'day':
        days += sign * whole;
        break;
      case 'hour':
        microseconds += sign * whole * US_PER_HOUR;
        break;
      case 'minute':
        microseconds += sign * whole * US_PER_MINUTE;
        break;
      case 'second':
        microseconds += sign * (whole * US_PER_SECOND + fractionUs);
        break;
      case 'millisecond':
        microseconds += sign * whole * US_PER_MS;
        break;
      case 'microsecond':
        microseconds += sign * whole;
        break;
    }
    i += 2;
  }
  if (!Number.isSafeInteger(microseconds) || !Number.isSafeInteger(days) || !Number.isSafeInteger(months)) {
    throw parseError(input, 'interval is out of range', option);
  }
  return { months, days, microseconds };
}

/**
 * A window duration in microseconds (`TimeWindow.getIntervalInMicroSeconds`):
 * months are refused with Spark's message, a day is 24 hours.
 * A number is taken as milliseconds, the unit of every time in tidemark's API.
 */
export function windowDurationUs(value: string | number, option?: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TidemarkError('ERR_INVALID_INTERVAL', `${option ?? 'duration'} must be a finite number of milliseconds, got ${value}`, option === undefined ? {} : { option });
    return Math.round(value * US_PER_MS);
  }
  const cal = parseInterval(value, option);
  if (cal.months !== 0) {
    throw new TidemarkError('ERR_INVALID_INTERVAL', `Intervals greater than a month is not supported (${value}).`, option === undefined ? {} : { option });
  }
  return cal.days * US_PER_DAY + cal.microseconds;
}

/**
 * A watermark delay in milliseconds, as `withWatermark` computes it: a month
 * counts as 31 days. Negative delays are refused with Spark's message.
 */
export function watermarkDelayMs(value: string | number, option = 'delay'): number {
  let totalUs: number;
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TidemarkError('ERR_INVALID_INTERVAL', `${option} must be a finite number of milliseconds, got ${value}`, { option });
    totalUs = Math.round(value * US_PER_MS);
    text = intervalToString({ months: 0, days: 0, microseconds: totalUs });
  } else {
    const cal = parseInterval(value, option);
    totalUs = cal.months * 31 * US_PER_DAY + cal.days * US_PER_DAY + cal.microseconds;
    text = intervalToString(cal);
  }
  if (totalUs < 0) {
    throw new TidemarkError('ERR_NEGATIVE_DELAY', `requirement failed: delay threshold (${text}) should not be negative.`, { option });
  }
  return Math.floor(totalUs / US_PER_MS);
}

function appendUnit(parts: string[], value: number, unit: string): void {
  if (value !== 0) parts.push(`${value} ${unit}`);
}

/** Spark's `CalendarInterval.toString`: `1 years -1 months 2 days 3 hours 4.5 seconds`. */
export function intervalToString(cal: CalendarInterval): string {
  if (cal.months === 0 && cal.days === 0 && cal.microseconds === 0) return '0 seconds';
  const parts: string[] = [];
  if (cal.months !== 0) {
    appendUnit(parts, Math.trunc(cal.months / 12), 'years');
    appendUnit(parts, cal.months % 12, 'months');
  }
  appendUnit(parts, cal.days, 'days');
  if (cal.microseconds !== 0) {
    let rest = cal.microseconds;
    appendUnit(parts, Math.trunc(rest / US_PER_HOUR), 'hours');
    rest %= US_PER_HOUR;
    appendUnit(parts, Math.trunc(rest / US_PER_MINUTE), 'minutes');
    rest %= US_PER_MINUTE;
    if (rest !== 0) parts.push(`${formatSeconds(rest)} seconds`);
  }
  return parts.join(' ');
}

function formatSeconds(us: number): string {
  const sign = us < 0 ? '-' : '';
  const abs = Math.abs(us);
  const whole = Math.trunc(abs / US_PER_SECOND);
  const frac = (abs % US_PER_SECOND).toString().padStart(6, '0').replace(/0+$/, '');
  return sign + whole + (frac.length > 0 ? '.' + frac : '');
}

const HUMAN_UNITS: readonly (readonly [number, string])[] = [
  [US_PER_DAY, 'day'],
  [US_PER_HOUR, 'hour'],
  [US_PER_MINUTE, 'minute'],
];

/**
 * A duration in µs as people write it, and as an interval string parses it
 * back: `5 minutes`, `1 hour 30 minutes`, `1.5 seconds`, `250 milliseconds`,
 * `-5 minutes`, `0 seconds`. For messages, where Spark's own texts print
 * microseconds (`The window duration (-300000000)…`).
 */
export function formatDurationUs(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  if (us === 0) return '0 seconds';
  const sign = us < 0 ? '-' : '';
  let rest = Math.abs(us);
  const parts: string[] = [];
  for (const [size, unit] of HUMAN_UNITS) {
    const n = Math.trunc(rest / size);
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
    rest -= n * size;
  }
  if (rest > 0) {
    if (rest >= US_PER_SECOND || parts.length > 0) {
      const seconds = formatSeconds(rest);
      parts.push(`${seconds} ${seconds === '1' ? 'second' : 'seconds'}`);
    } else if (rest % US_PER_MS === 0) {
      const ms = rest / US_PER_MS;
      parts.push(`${ms} ${ms === 1 ? 'millisecond' : 'milliseconds'}`);
    } else {
      parts.push(`${rest} ${rest === 1 ? 'microsecond' : 'microseconds'}`);
    }
  }
  // The sign on each part, as Spark's parser reads `-1 hour -30 minutes` (a lone leading '-' applies to its number only).
  return parts.map((p) => sign + p).join(' ');
}

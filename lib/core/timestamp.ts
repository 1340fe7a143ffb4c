/**
 * Timestamps and dates the way Spark reads and prints them.
 *
 * Parsing follows `SparkDateTimeUtils.stringToTimestamp` / `stringToDate`
 * (what `CAST(str AS TIMESTAMP)` and the JSON reader without a
 * `timestampFormat` use); zone ids follow `java.time.ZoneId.of(id, SHORT_IDS)`
 * after Spark's `getZoneId` normalisation. Printing follows the JSON writer
 * (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`), `show()` (`yyyy-MM-dd HH:mm:ss[.ffffff]`)
 * and the progress reporter (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`).
 *
 * Instants are epoch **microseconds** (numbers, as {@link RecordBatch} stores
 * them); zone offsets come from `Intl.DateTimeFormat` and are cached per zone
 * and per UTC hour, so a value costs a map lookup, not a formatter call.
 *
 * Calendar: proleptic Gregorian, like Spark 3+. Zone rules: the ICU tz data
 * of the running Node, which may be a different tzdata release than the JVM's.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;
const US_PER_MS = 1000;
const US_PER_SECOND = 1_000_000;
/** 2^63 as a double: Spark's `Math.multiplyExact` overflow bound for µs. */
const LONG_LIMIT = 9_223_372_036_854_775_808;
/** Offsets are looked up at instants clamped to this range (before: LMT is constant; after: keeps ICU's year 4 digits). */
const OFFSET_QUERY_MIN = -5_364_662_400_000; // 1800-01-01T00:00:00Z
const OFFSET_QUERY_MAX = 253_402_300_799_000; // 9999-12-31T23:59:59Z
const ZONE_CACHE_LIMIT = 1024;
const HOUR_CACHE_LIMIT = 200_000;

// ---------------------------------------------------------------------------
// Proleptic Gregorian calendar arithmetic (H. Hinnant's civil algorithms).

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (astronomical years:
 * 0 is 1 BC), the arithmetic behind every date Spark stores; `day` may run
 * past the month's end (it simply adds days).
 */
export function civilToEpochDays(y: number, m: number, d: number): number {
  return daysFromCivil(y, m, d);
}

function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = m > 2 ? m - 3 : m + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

// Outputs of civilFromDays (module scratch: no tuple per call).
let civilYear = 1970;
let civilMonth = 1;
let civilDay = 1;

function civilFromDays(days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  civilDay = doy - Math.floor((153 * mp + 2) / 5) + 1;
  civilMonth = mp < 10 ? mp + 3 : mp - 9;
  civilYear = yoe + era * 400 + (civilMonth <= 2 ? 1 : 0);
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// ---------------------------------------------------------------------------
// Zones.

interface Transition {
  /** First instant (ms) with `after`. */
  readonly at: number;
  readonly before: number;
  readonly after: number;
}

/** A resolved zone: either a fixed offset or an Intl-backed region with caches. */
interface Zone {
  readonly id: string;
  /** Constant offset in ms, or null for a region with rules. */
  readonly fixedMs: number | null;
  readonly fmt: Intl.DateTimeFormat | null;
  /** UTC hour bucket → offset ms; NaN marks a bucket holding a transition (see `transitions`). */
  readonly utcHours: Map<number, number>;
  readonly transitions: Map<number, Transition>;
  /** Local hour bucket → offset ms, for local hours far from any transition. */
  readonly localHours: Map<number, number>;
  lastHour: number;
  lastOffset: number;
}

function fixedZone(id: string, offsetMs: number): Zone {
  return {
    id,
    fixedMs: offsetMs === 0 ? 0 : offsetMs,
    fmt: null,
    utcHours: new Map(),
    transitions: new Map(),
    localHours: new Map(),
    lastHour: NaN,
    lastOffset: 0,
  };
}

const UTC_ZONE = fixedZone('UTC', 0);

/** `java.time.ZoneId.SHORT_IDS`, which Spark passes to `ZoneId.of`. */
const SHORT_IDS: Readonly<Record<string, string>> = {
  ACT: 'Australia/Darwin',
  AET: 'Australia/Sydney',
  AGT: 'America/Argentina/Buenos_Aires',
  ART: 'Africa/Cairo',
  AST: 'America/Anchorage',
  BET: 'America/Sao_Paulo',
  BST: 'Asia/Dhaka',
  CAT: 'Africa/Harare',
  CNT: 'America/St_Johns',
  CST: 'America/Chicago',
  CTT: 'Asia/Shanghai',
  EAT: 'Africa/Addis_Ababa',
  ECT: 'Europe/Paris',
  IET: 'America/Indiana/Indianapolis',
  IST: 'Asia/Kolkata',
  JST: 'Asia/Tokyo',
  MIT: 'Pacific/Apia',
  NET: 'Asia/Yerevan',
  NST: 'Pacific/Auckland',
  PLT: 'Asia/Karachi',
  PNT: 'America/Phoenix',
  PRT: 'America/Puerto_Rico',
  PST: 'America/Los_Angeles',
  SST: 'Pacific/Guadalcanal',
  VST: 'Asia/Ho_Chi_Minh',
  EST: '-05:00',
  MST: '-07:00',
  HST: '-10:00',
};

/** Two digits at `pos` (java.time `ZoneOffset.parseNumber`), or -1. */
function offsetNumber(s: string, pos: number, precededByColon: boolean): number {
  if (precededByColon && s.charCodeAt(pos - 1) !== 58) return -1;
  const a = s.charCodeAt(pos) - 48;
  const b = s.charCodeAt(pos + 1) - 48;
  if (!(a >= 0 && a <= 9 && b >= 0 && b <= 9)) return -1;
  return a * 10 + b;
}

/** `java.time.ZoneOffset.of`: `Z`, `±h`, `±hh`, `±hh:mm`, `±hhmm`, `±hh:mm:ss`, `±hhmmss`; ms or null. */
function parseOffsetId(id: string): number | null {
  if (id === 'Z') return 0;
  let s = id;
  let h: number;
  let m = 0;
  let sec = 0;
  switch (s.length) {
    case 2:
      s = s[0] + '0' + s[1];
      h = offsetNumber(s, 1, false);
      break;
    case 3:
      h = offsetNumber(s, 1, false);
      break;
    case 5:
      h = offsetNumber(s, 1, false);
      m = offsetNumber(s, 3, false);
      break;
    case 6:
      h = offsetNumber(s, 1, false);
      m = offsetNumber(s, 4, true);
      break;
    case 7:
      h = offsetNumber(s, 1, false);
      m = offsetNumber(s, 3, false);
      sec = offsetNumber(s, 5, false);
      break;
    case 9:
      h = offsetNumber(s, 1, false);
      m = offsetNumber(s, 4, true);
      sec = offsetNumber(s, 7, true);
      break;
    default:
      return null;
  }
  if (h < 0 || m < 0 || sec < 0) return null;
  const first = s[0];
  if (first !== '+' && first !== '-') return null;
  if (h > 18 || m > 59 || sec > 59) return null;
  const total = h * 3600 + m * 60 + sec;
  if (total > 18 * 3600) return null;
  return (first === '-' ? -total : total) * MS_PER_SECOND;
}

/** `java.time.ZoneRegion.checkName`. */
function isRegionName(id: string): boolean {
  if (id.length < 2) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) continue;
    if (i === 0) return false;
    if ((c >= 48 && c <= 57) || c === 47 || c === 126 || c === 46 || c === 95 || c === 43 || c === 45) continue;
    return false;
  }
  return true;
}

function regionZone(id: string): Zone | null {
  if (!isRegionName(id)) return null;
  // Java's tz ids are case-sensitive and every one has an upper-case letter; ICU
  // matches case-insensitively. Refusing all-lower-case ids catches the usual
  // mistakes (`utc`, `asia/kolkata`) that Spark refuses.
  if (id.toLowerCase() === id) return null;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: id,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return null;
  }
  const resolved = fmt.resolvedOptions().timeZone;
  if (resolved === 'UTC' || resolved === 'Etc/UTC' || resolved === 'Etc/GMT' || resolved === 'GMT') return fixedZone(id, 0);
  return {
    id,
    fixedMs: null,
    fmt,
    utcHours: new Map(),
    transitions: new Map(),
    localHours: new Map(),
    lastHour: NaN,
    lastOffset: 0,
  };
}

/** `ZoneId.of(id)` for ids starting with `UTC`, `GMT` or `UT`. */
function prefixedZone(id: string, prefixLength: number): Zone | null {
  if (id.length === prefixLength) return fixedZone(id, 0);
  const c = id[prefixLength];
  if (c !== '+' && c !== '-') return regionZone(id);
  const off = parseOffsetId(id.slice(prefixLength));
  return off === null ? null : fixedZone(id, off);
}

function buildZone(raw: string): Zone | null {
  // SparkDateTimeUtils.getZoneId: pad `±h:` and `±hh:m` (accepted before Spark 3.0).
  let id = raw.replace(/([+-])(\d):/, (_m, sign: string, h: string) => `${sign}0${h}:`);
  id = id.replace(/([+-])(\d\d):(\d)$/, (_m, sign: string, h: string, m: string) => `${sign}${h}:0${m}`);
  id = SHORT_IDS[id] ?? id;
  if (id.length <= 1 || id[0] === '+' || id[0] === '-') {
    const off = parseOffsetId(id);
    return off === null ? null : fixedZone(id, off);
  }
  if (id.startsWith('UTC') || id.startsWith('GMT')) return prefixedZone(id, 3);
  if (id.startsWith('UT')) return prefixedZone(id, 2);
  return regionZone(id);
}

const zoneCache = new Map<string, Zone | null>();
let lastZoneId = '';
let lastZone: Zone | null = null;

function resolveZone(id: string): Zone | null {
  if (id === lastZoneId && lastZone !== null) return lastZone;
  let z = zoneCache.get(id);
  if (z === undefined) {
    z = buildZone(id);
    if (zoneCache.size >= ZONE_CACHE_LIMIT) zoneCache.clear();
    zoneCache.set(id, z);
  }
  if (z !== null) {
    lastZoneId = id;
    lastZone = z;
  }
  return z;
}

function requireZone(id: string): Zone {
  const z = resolveZone(id);
  if (z === null) {
    throw new TidemarkError('ERR_INVALID_OPTION', `Invalid time zone "${id}": expected a region id such as "Asia/Kolkata", "UTC" or an offset such as "+05:30"`, {
      option: 'timeZone',
    });
  }
  return z;
}

/** Offset (ms) of a region at `t` straight from Intl (slow: one formatter call). */
function rawOffset(z: Zone, t: number): number {
  const clamped = t < OFFSET_QUERY_MIN ? OFFSET_QUERY_MIN : t > OFFSET_QUERY_MAX ? OFFSET_QUERY_MAX : t;
  const at = Math.floor(clamped / MS_PER_SECOND) * MS_PER_SECOND;
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  for (const p of z.fmt!.formatToParts(at)) {
    switch (p.type) {
      case 'year':
        y = Number(p.value);
        break;
      case 'month':
        mo = Number(p.value);
        break;
      case 'day':
        d = Number(p.value);
        break;
      case 'hour':
        h = Number(p.value);
        break;
      case 'minute':
        mi = Number(p.value);
        break;
      case 'second':
        s = Number(p.value);
        break;
      default:
        break;
    }
  }
  const local = daysFromCivil(y, mo, d) * MS_PER_DAY + h * MS_PER_HOUR + mi * MS_PER_MINUTE + s * MS_PER_SECOND;
  return local - at;
}

/** Fills the cache entry of UTC hour `hour`; returns its offset, or NaN when a transition falls inside it. */
function fillHour(z: Zone, hour: number): number {
  if (z.utcHours.size >= HOUR_CACHE_LIMIT) {
    z.utcHours.clear();
    z.transitions.clear();
    z.localHours.clear();
  }
  const start = hour * MS_PER_HOUR;
  const last = start + MS_PER_HOUR - MS_PER_SECOND;
  const a = rawOffset(z, start);
  const b = rawOffset(z, last);
  if (a === b) {
    z.utcHours.set(hour, a);
    return a;
  }
  // Transitions happen on whole seconds: find the first second with offset `b`.
  let lo = start;
  let hi = last;
  while (hi - lo > MS_PER_SECOND) {
    const mid = lo + Math.floor((hi - lo) / (2 * MS_PER_SECOND)) * MS_PER_SECOND;
    if (rawOffset(z, mid) === a) lo = mid;
    else hi = mid;
  }
  z.transitions.set(hour, { at: hi, before: a, after: b });
  z.utcHours.set(hour, NaN);
  return NaN;
}

/** Offset (ms) of zone `z` at instant `t` (epoch ms). */
function offsetAt(z: Zone, t: number): number {
  if (z.fixedMs !== null) return z.fixedMs;
  const hour = Math.floor(t / MS_PER_HOUR);
  if (hour === z.lastHour) return z.lastOffset;
  let off = z.utcHours.get(hour);
  if (off === undefined) off = fillHour(z, hour);
  if (off !== off) {
    const tr = z.transitions.get(hour)!;
    return t < tr.at ? tr.before : tr.after;
  }
  z.lastHour = hour;
  z.lastOffset = off;
  return off;
}

/**
 * The instant of local date-time `local` (ms, as if UTC) in `z`, resolved as
 * `ZonedDateTime.of(ldt, zone)` does: a gap shifts the time forward by the
 * gap's length, an overlap takes the earlier offset.
 */
function localToUtcMs(z: Zone, local: number): number {
  if (z.fixedMs !== null) return local - z.fixedMs;
  const hour = Math.floor(local / MS_PER_HOUR);
  const cached = z.localHours.get(hour);
  if (cached !== undefined) return local - cached;
  const start = hour * MS_PER_HOUR;
  const o1 = offsetAt(z, start - MS_PER_DAY - MS_PER_HOUR);
  const o2 = offsetAt(z, start + MS_PER_DAY + MS_PER_HOUR);
  if (o1 === o2 && offsetAt(z, start - o1) === o1 && offsetAt(z, start + MS_PER_HOUR - 1 - o1) === o1) {
    z.localHours.set(hour, o1);
    return local - o1;
  }
  const before = offsetAt(z, local - MS_PER_DAY);
  const after = offsetAt(z, local + MS_PER_DAY);
  const tBefore = local - before;
  if (offsetAt(z, tBefore) === before) return tBefore;
  const tAfter = local - after;
  if (offsetAt(z, tAfter) === after) return tAfter;
  // Gap: java.time moves the local time forward by the gap (after - before) and
  // applies `after`, which is the instant `local - before`.
  return tBefore;
}

// ---------------------------------------------------------------------------
// Parsing.

/** `UTF8String.isWhitespaceOrISOControl` on ASCII: what Spark trims around a timestamp. */
function isTrimmed(c: number): boolean {
  return c <= 32 || c === 127;
}

const PARSE_FAIL = 0;
const PARSE_OK = 1;
const PARSE_JUST_TIME = 2;

// Outputs of parseTimestampString (module scratch, reused per value).
const seg = [1, 1, 1, 0, 0, 0, 0, 0, 0];
let tzStart = -1;
let tzEnd = -1;

function validTimestampDigits(segment: number, digits: number): boolean {
  return (
    segment === 6 ||
    (segment === 0 && digits >= 4 && digits <= 6) ||
    (segment === 7 && digits <= 2) ||
    (segment !== 0 && segment !== 6 && segment !== 7 && digits > 0 && digits <= 2)
  );
}

/** Char-by-char port of `SparkDateTimeUtils.parseTimestampString`. */
function parseTimestampString(s: string): number {
  let j = 0;
  const n = s.length;
  while (j < n && isTrimmed(s.charCodeAt(j))) j++;
  let end = n - 1;
  while (end > j && isTrimmed(s.charCodeAt(end))) end--;
  end++;
  if (j >= end) return PARSE_FAIL;
  seg[0] = 1;
  seg[1] = 1;
  seg[2] = 1;
  seg[3] = 0;
  seg[4] = 0;
  seg[5] = 0;
  seg[6] = 0;
  seg[7] = 0;
  seg[8] = 0;
  tzStart = -1;
  tzEnd = -1;
  let i = 0;
  let value = 0;
  let digits = 0;
  let digitsMilli = 0;
  let justTime = false;
  let yearSign = 0;
  const first = s.charCodeAt(j);
  if (first === 45 || first === 43) {
    yearSign = first === 45 ? -1 : 1;
    j++;
  }
  while (j < end) {
    const b = s.charCodeAt(j);
    const d = b - 48;
    if (d < 0 || d > 9) {
      if (j === 0 && b === 84) {
        justTime = true;
        i += 3;
      } else if (i < 2) {
        if (b === 45) {
          if (!validTimestampDigits(i, digits)) return PARSE_FAIL;
          seg[i] = value;
          value = 0;
          digits = 0;
          i++;
        } else if (i === 0 && b === 58 && yearSign === 0) {
          justTime = true;
          if (!validTimestampDigits(3, digits)) return PARSE_FAIL;
          seg[3] = value;
          value = 0;
          digits = 0;
          i = 4;
        } else {
          return PARSE_FAIL;
        }
      } else if (i === 2) {
        if (b !== 32 && b !== 84) return PARSE_FAIL;
        if (!validTimestampDigits(i, digits)) return PARSE_FAIL;
        seg[i] = value;
        value = 0;
        digits = 0;
        i++;
      } else if (i === 3 || i === 4) {
        if (b !== 58) return PARSE_FAIL;
        if (!validTimestampDigits(i, digits)) return PARSE_FAIL;
        seg[i] = value;
        value = 0;
        digits = 0;
        i++;
      } else if (i === 5 || i === 6) {
        if (b === 46 && i === 5) {
          if (!validTimestampDigits(i, digits)) return PARSE_FAIL;
          seg[i] = value;
          value = 0;
          digits = 0;
          i++;
        } else {
          if (!validTimestampDigits(i, digits)) return PARSE_FAIL;
          seg[i] = value;
          value = 0;
          digits = 0;
          i++;
          tzStart = j;
          tzEnd = end;
          j = end - 1;
        }
        if (i === 6 && b !== 46) i++;
      } else {
        if (i < 9 && (b === 58 || b === 32)) {
          if (!validTimestampDigits(i, digits)) return PARSE_FAIL;
          seg[i] = value;
          value = 0;
          digits = 0;
          i++;
        } else {
          return PARSE_FAIL;
        }
      }
    } else {
      if (i === 6) digitsMilli++;
      // Digits past the 6th (nanoseconds) are dropped, as Spark does.
      if (i !== 6 || digits < 6) value = value * 10 + d;
      digits++;
    }
    j++;
  }
  if (i > 8 || !validTimestampDigits(i, digits)) return PARSE_FAIL;
  seg[i] = value;
  while (digitsMilli < 6) {
    seg[6] = seg[6]! * 10;
    digitsMilli++;
  }
  if (yearSign !== 0) seg[0] = seg[0]! * yearSign;
  return justTime ? PARSE_JUST_TIME : PARSE_OK;
}

/** The zone written in `s[start, end)` (trimmed like Java's `String.trim`), or null when invalid. */
function zoneOfSpan(s: string, start: number, end: number): Zone | null {
  while (start < end && s.charCodeAt(start) <= 32) start++;
  while (end > start && s.charCodeAt(end - 1) <= 32) end--;
  if (end - start === 1 && s.charCodeAt(start) === 90) return UTC_ZONE;
  return resolveZone(s.slice(start, end));
}

/** Local time-of-day fields → instant in µs, or null when Spark returns null. */
function segmentsToUs(kind: number, zone: Zone): number | null {
  const h = seg[3]!;
  const mi = seg[4]!;
  const sec = seg[5]!;
  if (h > 23 || mi > 59 || sec > 59) return null;
  let days: number;
  if (kind === PARSE_JUST_TIME) {
    // Spark: a time without a date is on today's date in the zone.
    const now = Date.now();
    days = Math.floor((now + offsetAt(zone, now)) / MS_PER_DAY);
  } else {
    const y = seg[0]!;
    const m = seg[1]!;
    const d = seg[2]!;
    if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
    days = daysFromCivil(y, m, d);
  }
  const local = days * MS_PER_DAY + h * MS_PER_HOUR + mi * MS_PER_MINUTE + sec * MS_PER_SECOND;
  const us = localToUtcMs(zone, local) * US_PER_MS + seg[6]!;
  return us >= -LONG_LIMIT && us < LONG_LIMIT ? us : null;
}

/**
 * Spark's CAST of a string to TIMESTAMP, used by the JSON reader when no
 * `timestampFormat` is set: the accepted shapes are deliberately loose
 * (`2016`, `2016-7-26 8:30`, `2016-07-26T08:30:00.123456+05:30`,
 * `… Asia/Kolkata`), and anything else is null rather than an error so a
 * reader can apply its parse mode. Strings without a zone are read in
 * `defaultZone` (the reader's `timeZone` option); local times in a DST gap
 * move forward by the gap, ambiguous ones take the earlier offset, as
 * java.time does. A bare time (`12:30:00`) lands on today's date, as in Spark.
 *
 * @param s - the text of the JSON string
 * @param defaultZone - zone id for strings without one; an invalid id throws `ERR_INVALID_OPTION`
 * @returns epoch microseconds, or null when Spark would return null
 */
export function stringToTimestampUs(s: string, defaultZone: string): number | null {
  const kind = parseTimestampString(s);
  if (kind === PARSE_FAIL) return null;
  let zone: Zone | null;
  if (tzStart >= 0) {
    zone = zoneOfSpan(s, tzStart, tzEnd);
    if (zone === null) return null;
  } else {
    zone = requireZone(defaultZone);
  }
  return segmentsToUs(kind, zone);
}

/**
 * Spark's parse of a string into TIMESTAMP_NTZ: the same shapes as
 * {@link stringToTimestampUs}, but a zone suffix or a bare time makes the
 * value invalid, because a zone-less timestamp must not silently drop one.
 *
 * @returns microseconds of the local date-time as if it were UTC, or null
 */
export function stringToTimestampNtzUs(s: string): number | null {
  const kind = parseTimestampString(s);
  if (kind !== PARSE_OK || tzStart >= 0) return null;
  return segmentsToUs(kind, UTC_ZONE);
}

const dateSeg = [1, 1, 1];

/**
 * Spark's CAST of a string to DATE (`SparkDateTimeUtils.stringToDate`):
 * `yyyy`, `yyyy-[m]m`, `yyyy-[m]m-[d]d`, optionally followed by a space or
 * `T` and anything. The JSON reader relies on this looseness to read dates
 * out of timestamp strings.
 *
 * @returns days since 1970-01-01, or null when the text is not a date
 */
export function stringToDateDays(s: string): number | null {
  let j = 0;
  const n = s.length;
  while (j < n && isTrimmed(s.charCodeAt(j))) j++;
  let end = n - 1;
  while (end > j && isTrimmed(s.charCodeAt(end))) end--;
  end++;
  if (j >= end) return null;
  let sign = 1;
  const first = s.charCodeAt(j);
  if (first === 45 || first === 43) {
    sign = first === 45 ? -1 : 1;
    j++;
  }
  dateSeg[0] = 1;
  dateSeg[1] = 1;
  dateSeg[2] = 1;
  let i = 0;
  let value = 0;
  let digits = 0;
  for (; j < end; j++) {
    const b = s.charCodeAt(j);
    if (b === 32 || b === 84) break;
    if (i < 2 && b === 45) {
      if (!validDateDigits(i, digits)) return null;
      dateSeg[i] = value;
      value = 0;
      digits = 0;
      i++;
    } else {
      const d = b - 48;
      if (d < 0 || d > 9) return null;
      value = value * 10 + d;
      digits++;
    }
  }
  if (!validDateDigits(i, digits)) return null;
  if (i < 2 && j < end) return null;
  dateSeg[i] = value;
  const y = sign * dateSeg[0]!;
  const m = dateSeg[1]!;
  const d = dateSeg[2]!;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
  return daysFromCivil(y, m, d);
}

function validDateDigits(segment: number, digits: number): boolean {
  return (segment === 0 && digits >= 4 && digits <= 7) || (segment !== 0 && digits > 0 && digits <= 2);
}

// ---------------------------------------------------------------------------
// Printing.

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

function pad3(n: number): string {
  return n < 10 ? '00' + n : n < 100 ? '0' + n : '' + n;
}

function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : '' + n;
}

/** java.time `uuuu`: at least 4 digits, `+` past 9999, `-` before year 0. */
function yearString(y: number, plusPastPad: boolean): string {
  if (y < 0) return '-' + pad4(-y);
  if (y > 9999 && plusPastPad) return '+' + y;
  return pad4(y);
}

/** java.time `XXX`: `Z` for zero, else `±hh:mm` (seconds of an LMT offset are not printed). */
function offsetString(offsetMs: number): string {
  const total = Math.round(offsetMs / MS_PER_SECOND);
  if (total === 0) return 'Z';
  const abs = Math.abs(total);
  return (total < 0 ? '-' : '+') + pad2(Math.floor(abs / 3600) % 100) + ':' + pad2(Math.floor(abs / 60) % 60);
}

// Outputs of splitLocal.
let localHour = 0;
let localMinute = 0;
let localSecond = 0;
let localMilli = 0;

/** Splits a local instant (ms, as if UTC) into civil fields. */
function splitLocal(local: number): void {
  const days = Math.floor(local / MS_PER_DAY);
  let rem = local - days * MS_PER_DAY;
  civilFromDays(days);
  localHour = Math.floor(rem / MS_PER_HOUR);
  rem -= localHour * MS_PER_HOUR;
  localMinute = Math.floor(rem / MS_PER_MINUTE);
  rem -= localMinute * MS_PER_MINUTE;
  localSecond = Math.floor(rem / MS_PER_SECOND);
  localMilli = rem - localSecond * MS_PER_SECOND;
}

/**
 * The JSON writer's rendering of a timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`
 * in the session zone), so the files tidemark writes are byte-identical to
 * Spark's: milliseconds always printed (µs floored), the UTC offset as `Z`.
 *
 * @param us - epoch microseconds
 * @param zone - zone id; an invalid id throws `ERR_INVALID_OPTION`
 */
export function formatTimestampIso(us: number, zone: string): string {
  const z = requireZone(zone);
  const ms = Math.floor(us / US_PER_MS);
  const off = offsetAt(z, ms);
  splitLocal(ms + off);
  return (
    yearString(civilYear, true) +
    '-' +
    pad2(civilMonth) +
    '-' +
    pad2(civilDay) +
    'T' +
    pad2(localHour) +
    ':' +
    pad2(localMinute) +
    ':' +
    pad2(localSecond) +
    '.' +
    pad3(localMilli) +
    offsetString(off)
  );
}

/**
 * `show()`'s rendering of a timestamp (`yyyy-MM-dd HH:mm:ss[.ffffff]` in
 * the session zone, trailing zero digits of the fraction dropped), so printed
 * tables match Spark's character for character.
 *
 * @param us - epoch microseconds
 * @param zone - zone id; an invalid id throws `ERR_INVALID_OPTION`
 */
export function formatTimestampShow(us: number, zone: string): string {
  const z = requireZone(zone);
  const whole = Math.floor(us);
  const secs = Math.floor(whole / US_PER_SECOND);
  let frac = whole - secs * US_PER_SECOND;
  const ms = secs * MS_PER_SECOND;
  splitLocal(ms + offsetAt(z, ms));
  let out =
    yearString(civilYear, true) +
    '-' +
    pad2(civilMonth) +
    '-' +
    pad2(civilDay) +
    ' ' +
    pad2(localHour) +
    ':' +
    pad2(localMinute) +
    ':' +
    pad2(localSecond);
  if (frac > 0) {
    let width = 6;
    while (frac % 10 === 0) {
      frac /= 10;
      width--;
    }
    out += '.' + String(frac).padStart(width, '0');
  }
  return out;
}

/**
 * The progress reporter's timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, always
 * UTC), used for `timestamp` and `eventTime` in progress JSON.
 *
 * @param ms - epoch milliseconds (fractions are floored)
 */
export function formatTimestampUtcMillis(ms: number): string {
  splitLocal(Math.floor(ms));
  return (
    yearString(civilYear, false) +
    '-' +
    pad2(civilMonth) +
    '-' +
    pad2(civilDay) +
    'T' +
    pad2(localHour) +
    ':' +
    pad2(localMinute) +
    ':' +
    pad2(localSecond) +
    '.' +
    pad3(localMilli) +
    'Z'
  );
}

/**
 * A date as Spark prints it (`yyyy-MM-dd`), used for row views and `show()`
 * so dates outside 0000–9999 keep Spark's sign conventions.
 *
 * @param days - days since 1970-01-01
 */
export function formatDateDays(days: number): string {
  civilFromDays(days);
  return yearString(civilYear, true) + '-' + pad2(civilMonth) + '-' + pad2(civilDay);
}

/**
 * What the host says of its zone without asking ICU: the `TZ` variable, and
 * where `/etc/localtime` points (null when it is not a link or is missing).
 */
export interface HostZoneHint {
  readonly tz: string | undefined;
  readonly localtime: string | null;
}

// Links ICU reads as the zone it reports as `UTC` (a Debian or Alpine image's usual default).
const UTC_LOCALTIME = /(?:^|\/)zoneinfo\/(?:Etc\/)?UTC$/;

/**
 * The zone Spark would use by default (the JVM's, i.e. the process's): the
 * default for `spark.sql.session.timeZone`, which decides how zone-less
 * strings are read and how timestamps are printed. Honours `TZ`.
 *
 * With a `host` hint that says UTC (`TZ=UTC`, or no `TZ` and
 * `/etc/localtime` linking to `zoneinfo/UTC` or `zoneinfo/Etc/UTC`), the
 * answer is `UTC` without initialising ICU's formatter, the 20–50 ms that
 * was the query start's longest single step; any other host asks ICU.
 */
export function defaultTimeZone(host?: HostZoneHint): string {
  if (host !== undefined && (host.tz === 'UTC' || (host.tz === undefined && host.localtime !== null && UTC_LOCALTIME.test(host.localtime)))) return 'UTC';
  const id = new Intl.DateTimeFormat().resolvedOptions().timeZone;
  return id !== undefined && resolveZone(id) !== null ? id : 'UTC';
}

/**
 * Whether `zone` is an id Spark's `timeZone` option accepts (region ids,
 * `UTC`/`GMT`/`UT` with an optional offset, `Z`, `±hh[:mm]`, short ids such
 * as `PST`), so options can be refused up front instead of per value.
 */
export function isValidTimeZone(zone: string): boolean {
  return resolveZone(zone) !== null;
}

/**
 * `tidemark run`'s flags checked against each other and against `--schema`
 * before anything starts, with messages that name the flag or column and
 * say how to fix it: `--window: "1 hr" is not an interval; write e.g.
 * "1 hour" or "90 minutes"`. Durations are printed as people write them,
 * never in microseconds (Spark's own texts, which the library keeps, print
 * `The window duration (-300000000) must be greater than 0.`).
 *
 * What only the engine can judge (Spark's refusals of a query: append
 * without a watermark…) stays the engine's, with its code; the CLI adds the
 * way out (see `failure.ts`).
 *
 * @module
 */
import { parseDDL } from '../core/ddl.js';
import { formatDurationUs, parseInterval, US_PER_DAY, US_PER_MS } from '../core/interval.js';
import { isTimestampType, simpleString, type Schema } from '../core/schema.js';
import { closestName } from '../core/suggest.js';
import { isValidTimeZone } from '../core/timestamp.js';
import { timeStringAsMs } from '../core/file-selection.js';
import { isTidemarkError } from '../errors.js';
import { UsageError } from './args.js';

/** The options `run` checks (a subset of its `RunOptions`). */
export interface CheckedRunOptions {
  readonly schema: string;
  readonly groupBy: readonly string[];
  readonly window?: string;
  readonly slide?: string;
  readonly startTime?: string;
  readonly sessionWindow?: string;
  readonly eventTime?: string;
  readonly watermark?: string;
  readonly dropDuplicates?: { readonly columns: readonly string[] | null; readonly withinWatermark: boolean };
  readonly trigger?: string;
  readonly timeZone?: string;
  readonly maxEventTimeAhead?: string;
  readonly maxFileAge?: string;
}

const EXAMPLE = 'write e.g. "1 hour" or "90 minutes"';

function usage(message: string): UsageError {
  return new UsageError(message, 'run');
}

/** `"1 hr"` → µs, or a usage error naming the flag. Months are refused for everything but a delay. */
export function intervalFlagUs(flag: string, text: string, options: { months?: 'refuse' | 'allow' } = {}): number {
  let cal;
  try {
    cal = parseInterval(text);
  } catch {
    throw usage(`${flag}: "${text}" is not an interval; ${EXAMPLE}`);
  }
  if (cal.months !== 0) {
    if (options.months !== 'allow') throw usage(`${flag}: "${text}" has months or years, which have no fixed length; write it in days, e.g. "30 days"`);
    return cal.months * 31 * US_PER_DAY + cal.days * US_PER_DAY + cal.microseconds;
  }
  return cal.days * US_PER_DAY + cal.microseconds;
}

function positive(flag: string, text: string, us: number, example: string): void {
  if (us > 0) return;
  const fix = us < 0 ? formatDurationUs(-us) : example;
  throw usage(`${flag}: "${text}" is ${us < 0 ? 'negative' : 'zero'}; it must be longer than 0, e.g. "${fix}"`);
}

function notNegative(flag: string, text: string, us: number, example: string): void {
  if (us >= 0) return;
  throw usage(`${flag}: "${text}" is negative; write a duration of 0 or more, e.g. "${formatDurationUs(-us) || example}"`);
}

function columnList(schema: Schema): string {
  return schema.fields.map((f) => f.name).join(', ');
}

/** A usage error for a column `--flag` names that `--schema` does not have. */
function unknownColumn(flag: string, name: string, schema: Schema): UsageError {
  const hit = closestName(
    name,
    schema.fields.map((f) => f.name),
  );
  return usage(`${flag}: --schema has no column '${name}'${hit === null ? '' : `; did you mean '${hit}'?`} (columns: ${columnList(schema)})`);
}

/** The DDL schema, or a usage error that says what is wrong and gives an example. */
export function schemaFlag(text: string): Schema {
  try {
    return parseDDL(text);
  } catch (err) {
    if (!isTidemarkError(err)) throw err;
    const detail = err.message.replace(/^Cannot parse schema "[\s\S]*?": /, '');
    const type = /unsupported data type "([A-Z_0-9]+)/.exec(detail);
    const hint = type === null ? null : closestName(type[1]!.toLowerCase(), TYPE_NAMES);
    throw usage(`--schema: cannot parse "${text}": ${detail}${hint === null ? '' : ` (did you mean ${hint}?)`}; write e.g. "time timestamp, action string"`);
  }
}

const TYPE_NAMES = ['string', 'boolean', 'tinyint', 'smallint', 'int', 'bigint', 'float', 'double', 'decimal', 'date', 'timestamp', 'timestamp_ntz', 'binary', 'array', 'map', 'struct'];

/** The zone, or a usage error with the closest IANA name. */
export function timeZoneFlag(zone: string): string {
  if (isValidTimeZone(zone)) return zone;
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const hit = closestName(zone, ['UTC', ...zones]);
  throw usage(`--time-zone: unknown zone '${zone}'${hit === null ? '' : `; did you mean '${hit}'?`} (an IANA name such as UTC or Europe/Paris, or an offset such as +02:00)`);
}

/** Checks a trigger string: `available-now`, `once`, `processingTime=<interval>`. */
export function triggerFlag(text: string): void {
  if (text === 'once' || text === 'available-now' || text === 'availableNow') return;
  const m = /^processingTime\s*=\s*(.+)$/i.exec(text);
  if (m === null) {
    const hit = closestName(text, ['available-now', 'once', 'processingTime']);
    throw usage(`--trigger: '${text}' is not a trigger${hit === null ? '' : `; did you mean '${hit}'?`} (write available-now, once or "processingTime=10 seconds")`);
  }
  const interval = m[1]!.trim();
  let us: number;
  try {
    us = intervalFlagUs('--trigger', interval);
  } catch {
    throw usage(`--trigger: "${interval}" in "${text}" is not an interval; write e.g. "processingTime=10 seconds"`);
  }
  if (us < 0) throw usage(`--trigger: "${text}" has a negative interval; write e.g. "processingTime=${formatDurationUs(-us)}"`);
}

/**
 * Checks the flags of a run against each other and `--schema`.
 *
 * @throws UsageError naming the flag (or column) and the fix
 */
export function checkRunOptions(options: CheckedRunOptions): void {
  const schema = schemaFlag(options.schema);
  const has = (name: string): boolean => schema.fields.some((f) => f.name === name);

  // Durations.
  let windowUs: number | null = null;
  if (options.window !== undefined) {
    windowUs = intervalFlagUs('--window', options.window);
    positive('--window', options.window, windowUs, '1 hour');
  }
  let slideUs = windowUs;
  if (options.slide !== undefined && windowUs !== null) {
    slideUs = intervalFlagUs('--slide', options.slide);
    positive('--slide', options.slide, slideUs, formatDurationUs(windowUs / 2));
    if (slideUs > windowUs) {
      throw usage(
        `--slide: ${formatDurationUs(slideUs)} is longer than --window (${formatDurationUs(windowUs)}); a window slides by at most its length, e.g. --slide "${formatDurationUs(windowUs / 2)}"`,
      );
    }
  }
  if (options.startTime !== undefined && slideUs !== null) {
    const startUs = intervalFlagUs('--start-time', options.startTime);
    if (Math.abs(startUs) >= slideUs) {
      const from = options.slide === undefined ? '--window' : '--slide';
      throw usage(
        `--start-time: ${formatDurationUs(startUs)} is not shorter than the slide (${formatDurationUs(slideUs)}, from ${from}); windows start every slide, so an offset is less than one, e.g. --start-time "${formatDurationUs(Math.floor(slideUs / 4 / US_PER_MS) * US_PER_MS)}"`,
      );
    }
  }
  if (options.sessionWindow !== undefined) {
    const gapUs = intervalFlagUs('--session-window', options.sessionWindow);
    positive('--session-window', options.sessionWindow, gapUs, '10 minutes');
  }
  if (options.watermark !== undefined) {
    const delayUs = intervalFlagUs('--watermark', options.watermark, { months: 'allow' });
    notNegative('--watermark', options.watermark, delayUs, '2 hours');
  }
  if (options.maxEventTimeAhead !== undefined) {
    const aheadUs = intervalFlagUs('--max-event-time-ahead', options.maxEventTimeAhead);
    notNegative('--max-event-time-ahead', options.maxEventTimeAhead, aheadUs, '1 day');
  }
  if (options.maxFileAge !== undefined) {
    try {
      timeStringAsMs(options.maxFileAge);
    } catch {
      throw usage(`--max-file-age: '${options.maxFileAge}' is not an age; write a number and a unit, e.g. 7d, 12h or 30m`);
    }
  }
  if (options.trigger !== undefined) triggerFlag(options.trigger);
  if (options.timeZone !== undefined) timeZoneFlag(options.timeZone);

  // Columns.
  const needsTime = options.window !== undefined || options.sessionWindow !== undefined || options.watermark !== undefined;
  if (needsTime) {
    const eventTime = options.eventTime ?? 'time';
    if (!has(eventTime)) {
      if (options.eventTime !== undefined) throw unknownColumn('--event-time', eventTime, schema);
      const timestamps = schema.fields.filter((f) => isTimestampType(f.dataType)).map((f) => f.name);
      const example = timestamps[0];
      throw usage(
        `--schema has no column 'time', the event-time column by default; ` +
          (example === undefined
            ? `add a timestamp column to --schema (e.g. "time timestamp, ${columnList(schema)}")`
            : `name yours with --event-time (e.g. --event-time ${example})`) +
          ` (columns: ${columnList(schema)})`,
      );
    }
    const field = schema.fields.find((f) => f.name === eventTime)!;
    if (!isTimestampType(field.dataType)) {
      const timestamps = schema.fields.filter((f) => isTimestampType(f.dataType)).map((f) => f.name);
      const flag = options.eventTime === undefined ? '--schema' : '--event-time';
      throw usage(
        `${flag}: the event-time column '${eventTime}' is ${simpleString(field.dataType)}, not a timestamp; ` +
          (timestamps.length === 0
            ? `declare it "${eventTime} timestamp" in --schema`
            : `name a timestamp column with --event-time (${timestamps.join(', ')})`),
      );
    }
  }
  // The window column the query makes may be placed among the grouping columns (`--group-by window,action`).
  const made = options.window !== undefined ? 'window' : options.sessionWindow !== undefined ? 'session_window' : null;
  for (const name of options.groupBy) if (name !== made && !has(name)) throw unknownColumn('--group-by', name, schema);
  const dedup = options.dropDuplicates;
  if (dedup !== undefined && dedup.columns !== null) {
    const flag = dedup.withinWatermark ? '--drop-duplicates-within-watermark' : '--drop-duplicates';
    for (const name of dedup.columns) if (!has(name)) throw unknownColumn(flag, name, schema);
  }
}

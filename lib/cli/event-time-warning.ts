/**
 * `tidemark run`'s warning for an event time far in the future: one such
 * record (an epoch in milliseconds written as seconds) carries the
 * watermark with it, and every later row is then late. Spark accepts it
 * silently; the CLI says so, on stderr, for the batch that read it.
 *
 * @module
 */
import { windowDurationUs, US_PER_MS } from '../core/interval.js';
import { civilToEpochDays } from '../core/timestamp.js';
import type { StreamingQueryProgress } from '../query/progress.js';

/**
 * How far past its batch's processing time a max event time must be for the
 * warning, when `--max-event-time-ahead` is not given: one day. Clocks of
 * event producers are rarely off by more than hours (time zones included),
 * while a time written in the wrong unit is years away.
 */
export const DEFAULT_EVENT_TIME_WARNING = '1 day';

const MS_PER_DAY = 86_400_000;

// `formatTimestampUtcMillis`'s shape; the year may have more than 4 digits or a sign.
const ISO_UTC = /^([+-]?\d+)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/;

/** Epoch ms of a progress timestamp (any year), or null when it is not one. */
export function progressTimeMs(text: string): number | null {
  const m = ISO_UTC.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as [number, number, number, number, number, number, number, number];
  return civilToEpochDays(y, mo, d) * MS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1000 + ms;
}

/**
 * The warning line for a batch whose max event time is more than `ahead`
 * (an interval string) past its processing time (the progress `timestamp`,
 * when its trigger started), or null. A batch without event-time figures
 * (no watermark in the query, or no rows) has none.
 */
export function eventTimeWarning(progress: StreamingQueryProgress, ahead: string = DEFAULT_EVENT_TIME_WARNING): string | null {
  const max = progress.eventTime?.['max'];
  if (max === undefined) return null;
  const maxMs = progressTimeMs(max);
  const processingMs = progressTimeMs(progress.timestamp);
  if (maxMs === null || processingMs === null) return null;
  if (maxMs - processingMs <= windowDurationUs(ahead, 'maxEventTimeAhead') / US_PER_MS) return null;
  return (
    `warning: batch ${progress.batchId}: max event time ${max} is more than ${ahead} past the batch's processing time ${progress.timestamp}; ` +
    `the watermark follows it, so later rows may all be late (--max-event-time-ahead makes such records malformed)`
  );
}

/**
 * Window assignment exactly as Spark ≥ 3.4 computes it (SPARK-39347):
 * every window `[k·slide + startTime, k·slide + startTime + duration)` that
 * contains the event time; start inclusive, end exclusive. Times are epoch
 * microseconds, as Spark stores timestamps.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { windowDurationUs } from './interval.js';

/** A validated window definition, in microseconds. Immutable. */
export interface WindowSpec {
  readonly durationUs: number;
  readonly slideUs: number;
  readonly startTimeUs: number;
}

/** Window options as users write them: Spark interval strings, or numbers of milliseconds. */
export interface WindowSpecOptions {
  /** Window length: `"1 hour"`, `"10 minutes"`. */
  duration: string | number;
  /** Distance between window starts; defaults to `duration` (tumbling windows). */
  slide?: string | number | null;
  /** Offset of window starts from the epoch; may be negative; `|startTime| < slide`. */
  startTime?: string | number | null;
}

function invalid(message: string, option: string): TidemarkError {
  return new TidemarkError('ERR_INVALID_WINDOW', message, { option });
}

/**
 * Parses and validates a window definition with Spark's checks and messages
 * (`TimeWindow.checkInputDataTypes`; values in the messages are µs).
 */
export function windowSpec(options: WindowSpecOptions): WindowSpec {
  const durationUs = windowDurationUs(options.duration, 'duration');
  const slideUs = options.slide === undefined || options.slide === null ? durationUs : windowDurationUs(options.slide, 'slide');
  const startTimeUs = options.startTime === undefined || options.startTime === null ? 0 : windowDurationUs(options.startTime, 'startTime');
  if (durationUs <= 0) throw invalid(`The window duration (${durationUs}) must be greater than 0.`, 'duration');
  if (slideUs <= 0) throw invalid(`The slide duration (${slideUs}) must be greater than 0.`, 'slide');
  if (slideUs > durationUs) {
    throw invalid(`The slide duration (${slideUs}) must be less than or equal to the windowDuration (${durationUs}).`, 'slide');
  }
  if (Math.abs(startTimeUs) >= slideUs) {
    throw invalid(`The absolute value of start time (${startTimeUs}) must be less than the slideDuration (${slideUs}).`, 'startTime');
  }
  return { durationUs, slideUs, startTimeUs };
}

/** The most windows one event can fall in: `ceil(duration / slide)`. */
export function maxWindowsPerEvent(spec: WindowSpec): number {
  return Math.ceil(spec.durationUs / spec.slideUs);
}

/**
 * Writes the starts of the windows containing `timeUs` into `starts`
 * (ascending) and returns how many there are. `starts` must hold
 * {@link maxWindowsPerEvent} values. No allocation: this runs per event.
 */
export function assignWindows(spec: WindowSpec, timeUs: number, starts: Float64Array): number {
  const { durationUs, slideUs, startTimeUs } = spec;
  // JavaScript's % follows the dividend's sign like Java's, which is what the formula expects.
  const remainder = (timeUs - startTimeUs) % slideUs;
  const lastStart = timeUs - (remainder < 0 ? remainder + slideUs : remainder);
  const candidates = Math.ceil(durationUs / slideUs);
  let n = 0;
  for (let i = candidates - 1; i >= 0; i--) {
    const start = lastStart - i * slideUs;
    if (start <= timeUs && timeUs < start + durationUs) starts[n++] = start;
  }
  return n;
}

/** Spark's `window_time(window)`: the last microsecond inside the window. */
export function windowTimeUs(windowEndUs: number): number {
  return windowEndUs - 1;
}

import t from 'tap';
import { formatDurationUs, intervalToString, parseInterval, US_PER_DAY, watermarkDelayMs, windowDurationUs } from '../../lib/core/interval.js';

/** An interval string in µs (days as 24 hours). */
function intervalToMicros(text: string): number {
  const cal = parseInterval(text);
  return cal.days * US_PER_DAY + cal.microseconds;
}

t.test('parses the notebook intervals', async (t) => {
  t.equal(windowDurationUs('1 hour'), 3_600_000_000);
  t.equal(windowDurationUs('10 minutes'), 600_000_000);
  t.equal(watermarkDelayMs('2 hours'), 7_200_000);
});

t.test('sums several units and accepts an "interval" prefix and plurals', async (t) => {
  t.equal(windowDurationUs('1 day 2 hours'), (24 + 2) * 3_600_000_000);
  t.equal(windowDurationUs('interval 5 seconds'), 5_000_000);
  t.equal(windowDurationUs('1 week'), 7 * 86_400_000_000);
  t.equal(windowDurationUs('3 milliseconds 4 microseconds'), 3004);
});

t.test('keeps fractional seconds to the microsecond', async (t) => {
  t.equal(windowDurationUs('1.5 seconds'), 1_500_000);
  t.equal(windowDurationUs('0.0000019 seconds'), 1);
});

t.test('a number is milliseconds', async (t) => {
  t.equal(windowDurationUs(1500), 1_500_000);
  t.equal(watermarkDelayMs(2500), 2500);
});

t.test('refuses months in a window with Spark message', async (t) => {
  t.throws(() => windowDurationUs('1 month', 'duration'), {
    code: 'ERR_INVALID_INTERVAL',
    message: 'Intervals greater than a month is not supported (1 month).',
    option: 'duration',
  });
  t.throws(() => windowDurationUs('2 years'), { message: 'Intervals greater than a month is not supported (2 years).' });
});

t.test('refuses fractions on units other than seconds, unknown units and empty strings', async (t) => {
  t.throws(() => parseInterval('1.5 hours'), { code: 'ERR_INVALID_INTERVAL', message: "Error parsing '1.5 hours' to interval, '1.5' cannot have fractional part" });
  t.throws(() => parseInterval('10 fortnights'), { message: "Error parsing '10 fortnights' to interval, invalid unit 'fortnights'" });
  t.throws(() => parseInterval(''), { message: "Error parsing '' to interval, interval string cannot be empty" });
  t.throws(() => parseInterval('ten seconds'), { message: "Error parsing 'ten seconds' to interval, invalid value 'ten'" });
  t.throws(() => parseInterval('10'), { message: "Error parsing '10' to interval, missing unit after '10'" });
});

t.test('a watermark delay counts a month as 31 days', async (t) => {
  t.equal(watermarkDelayMs('1 month'), 31 * 86_400_000);
});

t.test('negative delays are refused with Spark message (err_negative_watermark_delay)', async (t) => {
  const cases: Array<[string, string]> = [
    ['-1 year', '-1 years'],
    ['1 year -13 months', '-1 months'],
    ['1 month -40 days', '1 months -40 days'],
    ['-10 seconds', '-10 seconds'],
  ];
  for (const [input, shown] of cases) {
    t.throws(() => watermarkDelayMs(input), {
      code: 'ERR_NEGATIVE_DELAY',
      message: `requirement failed: delay threshold (${shown}) should not be negative.`,
      option: 'delay',
    }, input);
  }
});

t.test('prints intervals like CalendarInterval.toString', async (t) => {
  t.equal(intervalToString(parseInterval('1 day 2 hours 3 minutes 4.5 seconds')), '1 days 2 hours 3 minutes 4.5 seconds');
  t.equal(intervalToString(parseInterval('0 seconds')), '0 seconds');
  t.equal(intervalToString(parseInterval('14 months')), '1 years 2 months');
});

t.test('formatDurationUs prints a duration as people write it, in the units an interval string parses back', async (t) => {
  const cases: Array<[number, string]> = [
    [5 * 60_000_000, '5 minutes'],
    [-5 * 60_000_000, '-5 minutes'],
    [90 * 60_000_000, '1 hour 30 minutes'],
    [-90 * 60_000_000, '-1 hour -30 minutes'],
    [86_400_000_000 + 1_000_000, '1 day 1 second'],
    [1_500_000, '1.5 seconds'],
    [250_000, '250 milliseconds'],
    [1, '1 microsecond'],
    [0, '0 seconds'],
  ];
  for (const [us, text] of cases) {
    t.equal(formatDurationUs(us), text, `${us} µs`);
    if (us !== 0) t.equal(intervalToMicros(text), us, `"${text}" parses back`);
  }
});

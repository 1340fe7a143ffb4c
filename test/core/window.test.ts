import t from 'tap';
import fc from 'fast-check';
import { assignWindows, maxWindowsPerEvent, windowSpec, windowTimeUs, type WindowSpec } from '../../lib/core/window.js';

const S = 1_000_000;

function windowsOf(spec: WindowSpec, timeUs: number): Array<[number, number]> {
  const starts = new Float64Array(maxWindowsPerEvent(spec));
  const n = assignWindows(spec, timeUs, starts);
  return Array.from(starts.subarray(0, n), (s) => [s, s + spec.durationUs]);
}

t.test('a tumbling window holds its start and excludes its end', async (t) => {
  const spec = windowSpec({ duration: '10 seconds' });
  t.strictSame(windowsOf(spec, 30 * S), [[30 * S, 40 * S]]);
  t.strictSame(windowsOf(spec, 40 * S - 1), [[30 * S, 40 * S]]);
});

t.test('sliding 10 s every 3 s puts 19:39:27 in four windows (Spark example)', async (t) => {
  const spec = windowSpec({ duration: '10 seconds', slide: '3 seconds' });
  const ts = 1459107567 * S;
  t.strictSame(windowsOf(spec, ts).map(([s]) => s / S - 1459107500), [58, 61, 64, 67]);
});

t.test('a start time shifts windows, and works before the epoch', async (t) => {
  const spec = windowSpec({ duration: '10 seconds', slide: '10 seconds', startTime: '5 seconds' });
  t.strictSame(windowsOf(spec, 2 * S), [[-5 * S, 5 * S]]);
});

t.test('negative start time is the same grid as the positive complement', async (t) => {
  const minus = windowSpec({ duration: '10 seconds', startTime: '-5 seconds' });
  const plus = windowSpec({ duration: '10 seconds', startTime: '5 seconds' });
  for (const ts of [-17 * S, -1, 0, 3 * S, 123456789]) t.strictSame(windowsOf(minus, ts), windowsOf(plus, ts));
});

t.test('negative event times fall in the window that contains them (SPARK-39347)', async (t) => {
  const spec = windowSpec({ duration: '10 seconds' });
  t.strictSame(windowsOf(spec, -1), [[-10 * S, 0]]);
  t.strictSame(windowsOf(spec, -10 * S), [[-10 * S, 0]]);
  t.strictSame(windowsOf(spec, -10 * S - 1), [[-20 * S, -10 * S]]);
});

t.test('every assigned window contains the time, and no other window on the grid does', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: -49, max: 49 }),
      fc.integer({ min: -1_000_000, max: 1_000_000 }),
      (a, b, startSeed, ts) => {
        const duration = Math.max(a, b);
        const slide = Math.min(a, b);
        const startTime = startSeed % slide;
        const spec = windowSpec({ duration, slide, startTime });
        const got = windowsOf(spec, ts * 1000).map(([s]) => s);
        const expected: number[] = [];
        const slideUs = slide * 1000;
        const kMin = Math.floor((ts * 1000 - startTime * 1000 - duration * 1000) / slideUs) - 1;
        for (let k = kMin; k <= kMin + duration / slide + 3; k++) {
          const s = k * slideUs + startTime * 1000;
          if (s <= ts * 1000 && ts * 1000 < s + duration * 1000) expected.push(s);
        }
        return JSON.stringify(got) === JSON.stringify(expected);
      },
    ),
  );
});

t.test('invalid windows are refused with Spark messages', async (t) => {
  t.throws(() => windowSpec({ duration: '1 second', slide: '1 minute' }), {
    code: 'ERR_INVALID_WINDOW',
    message: 'The slide duration (60000000) must be less than or equal to the windowDuration (1000000).',
    option: 'slide',
  });
  t.throws(() => windowSpec({ duration: '1 second', slide: '1 second', startTime: '1 minute' }), {
    message: 'The absolute value of start time (60000000) must be less than the slideDuration (1000000).',
    option: 'startTime',
  });
  t.throws(() => windowSpec({ duration: '1 second', slide: '1 second', startTime: '1 second' }), {
    message: 'The absolute value of start time (1000000) must be less than the slideDuration (1000000).',
  });
  t.throws(() => windowSpec({ duration: '0 seconds' }), { message: 'The window duration (0) must be greater than 0.' });
  t.throws(() => windowSpec({ duration: '1 second', slide: '-1 second' }), { message: 'The slide duration (-1000000) must be greater than 0.' });
  t.throws(() => windowSpec({ duration: '1 month' }), { code: 'ERR_INVALID_INTERVAL', message: 'Intervals greater than a month is not supported (1 month).' });
});

t.test('window_time is the last microsecond of the window', async (t) => {
  t.equal(windowTimeUs(1459107500 * S), 1459107500 * S - 1);
});

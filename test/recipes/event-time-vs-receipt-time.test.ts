/**
 * Recipe event-time-vs-receipt-time: the same events per hour of event time
 * and per hour of receipt time. Receipt time is the clock's: the golden run
 * fixes `Date.now`, which the source reads once per micro-batch.
 */
import t from 'tap';
import { run } from '../../recipes/event-time-vs-receipt-time.js';
import { capture, golden } from './harness.js';

/** Runs `fn` with `Date.now()` stopped at `ms`. */
async function atClock<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const now = Date.now;
  Date.now = () => ms;
  try {
    return await fn();
  } finally {
    Date.now = now;
  }
}

t.test('by event time four windows of 2016, by receipt time one window of now (golden, clock at 2024-03-01T12:34:56Z)', async (t) => {
  const { out, text } = capture();
  await atClock(Date.parse('2024-03-01T12:34:56Z'), () => run({ out }));
  t.equal(text(), await golden('event-time-vs-receipt-time.txt', text()));
});

t.test('with the real clock all seven events fall in the hour the recipe ran in, by receipt time', async (t) => {
  const { out, text } = capture();
  const hour = (ms: number): number => Math.floor(ms / 3_600_000) * 3_600_000;
  const from = hour(Date.now());
  await run({ out });
  const to = hour(Date.now());
  // The receipt-time query's last table: after both uploads.
  const last = text().split('By receipt time')[1]!.split('Batch: 1')[1]!;
  const windows = [...last.matchAll(/^\|\{(\S+) (\S+), \S+ \S+\}\|(\d+) *\|$/gm)].map((m) => ({ start: Date.parse(`${m[1]}T${m[2]}Z`), count: Number(m[3]) }));
  t.equal(windows.reduce((n, w) => n + w.count, 0), 7);
  t.ok(windows.every((w) => w.start >= from && w.start <= to), 'every window starts in an hour the run was in');
});

/**
 * Recipe sliding-windows: 10-minute windows every 5 minutes, one event in
 * two windows.
 */
import t from 'tap';
import { run } from '../../recipes/sliding-windows.js';
import { capture, golden } from './harness.js';

t.test('prints the two windows of one event and the counts per sliding window (golden)', async (t) => {
  const { out, text } = capture();
  await run({ out });
  t.equal(text(), await golden('sliding-windows.txt', text()));
});

t.test('the counts add up to twice the events', async (t) => {
  const { out, text } = capture();
  await run({ out });
  const counts = [...text().matchAll(/^\|\{[^}]*\}\|(\d+) *\|$/gm)].map((m) => Number(m[1]));
  t.strictSame(counts, [1, 2, 3, 2]);
});

/**
 * Recipe watermark (In[29]): which window is written at which micro-batch,
 * and which late row is dropped, from deliveries the recipe controls.
 */
import t from 'tap';
import { run } from '../../recipes/watermark.js';
import { capture, golden } from './harness.js';

t.test('prints each batch, its watermark and its dropped rows (golden)', async (t) => {
  const { out, text } = capture();
  await run({ out });
  t.equal(text(), await golden('watermark.txt', text()));
});

t.test('the 10:00-11:00 window is written by the no-data batch after 13:30 arrives, and 10:45 Open is then dropped', async (t) => {
  const { out, text } = capture();
  await run({ out });
  const progress = text()
    .split('\n')
    .filter((l) => l.startsWith('batch '));
  t.strictSame(progress.slice(4, 7), [
    'batch 4: 1 new rows, watermark 10:40, dropped as late: 0, windows kept in state: 6',
    'batch 5: 0 new rows, watermark 11:30, dropped as late: 0, windows kept in state: 3',
    'batch 6: 2 new rows, watermark 11:30, dropped as late: 1, windows kept in state: 3',
  ]);
  t.match(text(), /Batch: 5\n-+\n\+-+\+-+\+-+\+\n\|action\|window +\|count\|\n\+[-+]+\n\|Open  \|\{2016-07-26 10:00:00, 2016-07-26 11:00:00\}\|2    \|/);
});

/**
 * Recipe events-from-your-program: an async generator's events counted
 * through IterableSource, acknowledged once their batch is committed.
 */
import t from 'tap';
import { join } from 'node:path';
import { run } from '../../recipes/events-from-your-program.js';
import { capture, golden, notebookData } from './harness.js';

const root = t.testdir();
const data = await notebookData(join(root, 'data'));

t.test('prints the hourly counts and what was acknowledged (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('events-from-your-program.txt', text()));
});

t.test('every event is acknowledged once its batch is committed, except the last batch', async (t) => {
  const result = await run({ dataDir: data, workDir: t.testdir(), out: capture().out });
  t.equal(result.delivered, 12000);
  t.ok(result.lastBatchRows > 0 && result.lastBatchRows <= 2000, `the last batch had ${result.lastBatchRows} events (maxRowsPerTrigger 2000)`);
  t.equal(result.acknowledged, result.delivered - result.lastBatchRows);
});

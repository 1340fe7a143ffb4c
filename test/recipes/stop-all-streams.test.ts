/**
 * Recipe stop-all-streams (In[27]): named queries listed while active, a
 * duplicate name refused, all stopped by the loop.
 */
import t from 'tap';
import { join } from 'node:path';
import { streams } from 'tidemark';
import { run } from '../../recipes/stop-all-streams.js';
import { capture, golden, notebookData } from './harness.js';

const data = await notebookData(join(t.testdir(), 'data'));

t.test("lists the three queries, refuses a duplicate name, stops them all (golden, the notebook's 1-second trigger)", async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, out });
  t.equal(text(), await golden('stop-all-streams.txt', text()));
});

t.test('leaves no active query in the process-wide registry', async (t) => {
  await run({ dataDir: data, out: capture().out, trigger: { processingTime: 0 } });
  t.strictSame(streams.active, []);
});

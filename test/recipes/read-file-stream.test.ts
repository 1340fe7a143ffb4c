/**
 * Recipe read-file-stream (In[10] with the console sink): its printed
 * output, one update-mode table per micro-batch of 10 files.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../recipes/read-file-stream.js';
import { capture, golden, notebookData, readGolden } from './harness.js';

const data = await notebookData(join(t.testdir(), 'data'));

t.test('prints one update-mode table per micro-batch of 10 files (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, out });
  t.equal(text(), await golden('read-file-stream.txt', text()));
});

t.test('a window read in two micro-batches is printed by both, its count grown', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, out });
  const batches = text().split(/\nBatch: /).slice(1);
  t.equal(batches.length, 3, 'three micro-batches of 10 files');
  const clickAt0930 = batches.map((b) => /\|Click \|\{2016-07-26 09:30:00, 2016-07-26 10:30:00\}\|(\d+) *\|/.exec(b)?.[1]);
  t.strictSame(clickAt0930.slice(0, 2).every((c) => c !== undefined), true, 'in batches 0 and 1');
  t.ok(Number(clickAt0930[1]) > Number(clickAt0930[0]), `${clickAt0930[0]} then ${clickAt0930[1]}`);
});

t.test('without a data directory it generates the data set into workDir/data and prints the same', async (t) => {
  const workDir = t.testdir();
  const { out, text } = capture();
  await run({ workDir, out });
  t.equal((await readdir(join(workDir, 'data'))).length, 30);
  t.equal(text(), await readGolden('read-file-stream.txt'));
});

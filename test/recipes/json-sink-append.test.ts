/**
 * Recipe json-sink-append (In[15]-[17]): its printed output, with the
 * notebook's trigger and with available-now, and the same output after a
 * crash and restart at every micro-batch boundary.
 */
import t from 'tap';
import { join } from 'node:path';
import { run } from '../../recipes/json-sink-append.js';
import { capture, committedBatches, CRASH_MESSAGE, CrashingJsonSink, crashesAt, describeCrash, golden, notebookData, readGolden, sortTableRows } from './harness.js';

const data = await notebookData(join(t.testdir(), 'data'));

t.test('prints the refusal without a watermark, then the table read back (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out, trigger: 'availableNow' });
  t.equal(text(), await golden('json-sink-append.txt', text()));
});

t.test("the notebook's trigger (1 second) and 6-second wait write the same table", async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('json-sink-append.txt', text()));
});

t.test('a crash at every micro-batch boundary, then a restart from the checkpoint, prints the golden output', async (t) => {
  const expected = await readGolden('json-sink-append.txt');
  const reference = await run({ dataDir: data, workDir: t.testdir(), out: capture().out, trigger: 'availableNow' });
  const batches = await committedBatches(reference.checkpointLocation);
  t.strictSame(batches, [0, 1, 2, 3], 'three batches of 10 files, then a no-data batch that writes the closed windows');
  for (const crash of crashesAt(batches)) {
    await t.test(describeCrash(crash), async (t) => {
      const workDir = t.testdir();
      const crashed = run({ dataDir: data, workDir, out: capture().out, trigger: 'availableNow', makeJsonSink: (o) => new CrashingJsonSink(o, crash) });
      if (crash.batchId > batches.at(-1)!) await crashed;
      else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
      const { out, text } = capture();
      await run({ dataDir: data, workDir, out, trigger: 'availableNow' });
      t.equal(sortTableRows(text()), sortTableRows(expected), 'the same text, the same rows in each table');
    });
  }
});

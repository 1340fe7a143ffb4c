/**
 * Recipe late-data-side-output: rows behind the watermark written to late/,
 * exactly once, across a crash and restart at every micro-batch boundary.
 */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type LateDataResult } from '../../recipes/late-data-side-output.js';
import { capture, committedBatches, CRASH_MESSAGE, CrashingJsonSink, crashesAt, describeCrash, golden, notebookData, readGolden, sortTableRows } from './harness.js';

const root = t.testdir();
const data = await notebookData(join(root, 'data'));
const reference: LateDataResult = await run({ dataDir: data, workDir: join(root, 'reference'), out: capture().out });

/** The late files' names and lines. */
async function lateFiles(dir: string): Promise<Record<string, string[]>> {
  const files: Record<string, string[]> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = (await readFile(join(dir, name), 'utf8')).split('\n').filter((l) => l !== '');
  return files;
}

t.test('prints the counts and the late rows read back (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('late-data-side-output.txt', text()));
});

t.test("the late rows are the ones the count dropped, in the upload's batch file, with the window they missed", async (t) => {
  // Spark counts dropped rows after partial aggregation: one per group, and the two 03:xx Opens are one group.
  t.equal(reference.droppedThisRun, 2, 'numRowsDroppedByWatermark: Open and Click of 08:30-09:30');
  t.strictSame(await lateFiles(reference.lateDir), {
    'batch-00004.json': [
      '{"time":"2016-07-26T08:40:00.000+05:30","action":"Open","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"}}',
      '{"time":"2016-07-26T08:55:00.000+05:30","action":"Click","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"}}',
      '{"time":"2016-07-26T09:10:00.000+05:30","action":"Open","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"}}',
    ],
  });
});

t.test('a crash at every micro-batch boundary, then a restart, gives the golden output and each late row once', async (t) => {
  const expected = await readGolden('late-data-side-output.txt');
  const expectedLate = await lateFiles(reference.lateDir);
  const batches = await committedBatches(reference.checkpointLocation);
  t.strictSame(batches, [0, 1, 2, 3, 4, 5], 'three batches of 10 files, a no-data batch, the upload, a no-data batch');
  for (const crash of crashesAt(batches)) {
    await t.test(describeCrash(crash), async (t) => {
      const workDir = t.testdir();
      const crashed = run({ dataDir: data, workDir, out: capture().out, makeJsonSink: (o) => new CrashingJsonSink(o, crash) });
      if (crash.batchId > batches.at(-1)!) await crashed;
      else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
      const { out, text } = capture();
      const result = await run({ dataDir: data, workDir, out });
      t.equal(sortTableRows(text()), sortTableRows(expected), 'the same text, the same rows in each table');
      t.strictSame(await lateFiles(result.lateDir), expectedLate);
    });
  }
});

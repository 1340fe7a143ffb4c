/**
 * Recipe shuffle-partitions (In[25]): timings per micro-batch with 200
 * state partitions and with one per core, one state file per partition, and
 * the same output after a crash and restart at every micro-batch boundary
 * of either query.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { CheckpointSink, showDirectory } from 'tidemark';
import { run, type ShufflePartitionsResult } from '../../recipes/shuffle-partitions.js';
import { capture, committedBatches, CRASH_MESSAGE, CrashingJsonSink, crashesAt, describeCrash, golden, notebookData, sortTableRows } from './harness.js';

const root = t.testdir();
const data = await notebookData(join(root, 'data'));
const reference: ShufflePartitionsResult = await run({ dataDir: data, workDir: join(root, 'reference'), out: capture().out, trigger: 'availableNow', partitions: [200, 2] });

/** Timings vary run to run: every `<n> ms` becomes `# ms`, padding included. */
function withoutTimings(text: string): string {
  return text.replace(/ *\d+ ms/g, ' # ms');
}

/** Both outputs read back, as the recipe prints them. */
async function outputs(result: ShufflePartitionsResult): Promise<string[]> {
  return Promise.all(result.runs.map((r) => showDirectory(r.outputDir, { truncate: false, timeZone: 'Asia/Kolkata' })));
}

t.test('prints a timing table per run, then the output read back (golden, timings blanked)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out, trigger: 'availableNow', partitions: [200, 2] });
  t.equal(withoutTimings(text()), await golden('shuffle-partitions.txt', withoutTimings(text())));
});

/** The count's state directory: the operator with the most partitions (the others keep one). */
async function countState(checkpointLocation: string): Promise<{ dir: string; partitions: string[] }> {
  const state = join(checkpointLocation, 'state');
  const operators = await Promise.all((await readdir(state)).map(async (op) => ({ dir: join(state, op), partitions: await readdir(join(state, op)) })));
  return operators.sort((a, b) => b.partitions.length - a.partitions.length)[0]!;
}

t.test('each micro-batch writes one state file per partition', async (t) => {
  const [many, few] = reference.runs;
  const manyState = await countState(many!.checkpointLocation);
  t.equal(manyState.partitions.length, 200);
  t.equal((await countState(few!.checkpointLocation)).partitions.length, 2);
  for (const p of ['0', '137', '199']) t.strictSame((await readdir(join(manyState.dir, p))).sort(), ['1.snapshot', '2.delta', '3.delta', '4.delta'], `partition ${p}: the whole state after batch 0, then what batches 1-3 changed`);
});

t.test('committing 200 state files per micro-batch takes longer than committing 2', async (t) => {
  const mean = (r: ShufflePartitionsResult['runs'][number]) => r.batches.reduce((n, b) => n + b.commit, 0) / r.batches.length;
  const [many, few] = reference.runs;
  t.strictSame(many!.batches.map((b) => b.batchId), [0, 1, 2, 3]);
  t.strictSame(few!.batches.map((b) => b.numInputRows), [4000, 4000, 4000, 0]);
  t.ok(mean(many!) > mean(few!), `${mean(many!).toFixed(1)} ms > ${mean(few!).toFixed(1)} ms`);
});

// 8 partitions stand in for 200 here: the same code path (state split by key hash, a file per partition),
// at a twenty-fifth of the fsyncs, for 32 runs of the recipe.
t.test('a crash at every micro-batch boundary of either query, then a restart, writes the same outputs', async (t) => {
  const expected = (await outputs(reference)).map(sortTableRows);
  for (const [i, partitions] of [8, 2].entries()) {
    const batches = await committedBatches(reference.runs[i]!.checkpointLocation);
    for (const crash of crashesAt(batches)) {
      await t.test(`${partitions} partitions: ${describeCrash(crash)}`, async (t) => {
        const workDir = t.testdir();
        const crashed = run({
          dataDir: data,
          workDir,
          out: capture().out,
          trigger: 'availableNow',
          partitions: [8, 2],
          // Only the query under test crashes.
          makeJsonSink: (o) => (o.path.includes(`partitions-${partitions}${sep}`) ? new CrashingJsonSink(o, crash) : new CheckpointSink(o)),
        });
        if (crash.batchId > batches.at(-1)!) await crashed;
        else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
        const result = await run({ dataDir: data, workDir, out: capture().out, trigger: 'availableNow', partitions: [8, 2] });
        t.strictSame((await outputs(result)).map(sortTableRows), expected);
      });
    }
  }
});

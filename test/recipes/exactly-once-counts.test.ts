/**
 * Recipe exactly-once-counts: each event of a stream with redeliveries is
 * counted once, also across a crash and restart at every micro-batch
 * boundary.
 */
import t from 'tap';
import { join } from 'node:path';
import { clickstream, writeClickstream } from 'tidemark/internals';
import { CLICKSTREAM_DATA } from '../../recipes/common.js';
import { run, type ExactlyOnceResult } from '../../recipes/exactly-once-counts.js';
import { capture, committedBatches, CRASH_MESSAGE, CrashingJsonSink, crashesAt, describeCrash, golden, readGolden, sortTableRows } from './harness.js';

const DATA = { ...CLICKSTREAM_DATA, duplicateFraction: 0.1 };
const root = t.testdir();
const data = join(root, 'clicks');
await writeClickstream(data, DATA);
const reference: ExactlyOnceResult = await run({ dataDir: data, workDir: join(root, 'reference'), out: capture().out });

t.test('prints the plan, what came in and what was counted, and the counts (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('exactly-once-counts.txt', text()));
});

t.test('the redeliveries are dropped: the counts add up to the distinct events', async (t) => {
  const { events, delivered } = clickstream(DATA);
  t.equal(reference.delivered, delivered.length);
  t.equal(reference.distinct, events.length);
  t.ok(reference.delivered - reference.distinct > 100, `${reference.delivered - reference.distinct} redeliveries`);
  t.equal(reference.counted, events.length);
  t.equal(reference.duplicatesDroppedThisRun, reference.delivered - reference.distinct, 'numDroppedDuplicateRows counts each redelivery');
});

t.test('a crash at every micro-batch boundary, then a restart, gives the same counts', async (t) => {
  const expected = await readGolden('exactly-once-counts.txt');
  const batches = await committedBatches(reference.checkpointLocation);
  t.ok(batches.length >= 5, `${batches.length} batches`);
  for (const crash of crashesAt(batches)) {
    await t.test(describeCrash(crash), async (t) => {
      const workDir = t.testdir();
      const crashed = run({ dataDir: data, workDir, out: capture().out, makeJsonSink: (o) => new CrashingJsonSink(o, crash) });
      if (crash.batchId > batches.at(-1)!) await crashed;
      else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
      const { out, text } = capture();
      const result = await run({ dataDir: data, workDir, out });
      t.equal(sortTableRows(text()), sortTableRows(expected), 'the same text, the same rows in each table');
      t.equal(result.counted, result.distinct);
    });
  }
});

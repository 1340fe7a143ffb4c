/**
 * A checkpoint and output written by 0.1 (before checksums, state lists and
 * ownership records: test/fixtures/legacy-checkpoint-0.1.0) keep restarting,
 * and give what an uninterrupted run gives; files written after the upgrade
 * are held to the new rules.
 */
import t from 'tap';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateDataset } from '../../lib/gen.js';
import { startQuery, type StreamingQuery } from '../../lib/query/streaming-query.js';
import { readSinkOwner } from '../../lib/sinks/file-sink-log.js';
import { Checkpoint } from '../../lib/checkpoint/checkpoint.js';
import { failureOf, notebookQuery } from './notebook-query.js';
import { committedLines, installFixture as installCheckpointFixture } from './fixture-checkpoints.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/legacy-checkpoint-0.1.0', import.meta.url));

// 0.1 wrote no checksum sidecars; its paths are file URLs.
const installFixture = (root: string): Promise<void> => installCheckpointFixture(FIXTURE, root, { placeholder: 'file://@ROOT@', replacement: pathToFileURL(root).href, sidecars: false });

/** The fixture's query (see its README), over `root/in`. */
function run(root: string, out: string, chk: string): Promise<StreamingQuery> {
  return startQuery(notebookQuery({ input: join(root, 'in'), out, chk, window: '5 minutes', watermark: '10 minutes' }));
}

t.test('a checkpoint and output written by 0.1 restart and give the same output as an uninterrupted run', async (t) => {
  const root = t.testdir();
  await installFixture(root);
  // The fixture read files 0-5; files 6-11 arrived while it was stopped.
  await generateDataset(join(root, 'in'), { files: 12, lines: 300, seed: 5, firstMtimeMs: 1_700_000_000_000 });
  const before = await committedLines(join(root, 'out'));
  t.equal(before.length, 20, 'the fixture committed 20 rows');

  await (await run(root, join(root, 'out'), join(root, 'chk'))).awaitTermination();
  await (await run(root, join(root, 'out-baseline'), join(root, 'chk-baseline'))).awaitTermination();
  const baseline = await committedLines(join(root, 'out-baseline'));
  t.ok(baseline.length > before.length, 'the continuation emits more windows');
  t.strictSame(await committedLines(join(root, 'out')), baseline);

  // What the upgrade recorded: files present then are read without a checksum; every later one has its own.
  const metadata = JSON.parse(await readFile(join(root, 'chk', 'metadata'), 'utf8')) as unknown;
  t.strictSame(metadata, { id: '90fde256-d512-48d4-9f92-9dac9c90e339', tidemark: { checksumsFrom: { offsets: 7, commits: 7, 'sources/0': 6 } } });
  const offsets = await readdir(join(root, 'chk', 'offsets'));
  t.notOk(offsets.includes('.6.crc'), 'a file of 0.1 keeps having no sidecar');
  t.ok(offsets.includes('.7.crc'), 'the first file written after the upgrade has one');
  t.match(await readSinkOwner(join(root, 'out')), { checkpoint: join(root, 'chk'), checksumsFrom: 7 }, 'the query that wrote the 0.1 output adopted it');
});

t.test('after the upgrade of a 0.1 checkpoint, a sidecar deleted from a file written since is refused, naming the file', async (t) => {
  const root = t.testdir();
  await installFixture(root);
  await generateDataset(join(root, 'in'), { files: 8, lines: 300, seed: 5, firstMtimeMs: 1_700_000_000_000 });
  await (await run(root, join(root, 'out'), join(root, 'chk'))).awaitTermination();
  const commits = (await readdir(join(root, 'chk', 'commits'))).filter((n) => /^\d+$/.test(n)).map(Number);
  const last = Math.max(...commits);
  t.ok(last >= 7, 'batches ran after the upgrade');
  await rm(join(root, 'chk', 'commits', `.${last}.crc`));
  const checkpoint = await Checkpoint.open(join(root, 'chk'));
  t.teardown(() => checkpoint.close());
  const path = join(root, 'chk', 'commits', String(last));
  await t.rejects(checkpoint.recover(), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: path,
    message: `${path} has lost its checksum file ${join(root, 'chk', 'commits', `.${last}.crc`)}: it cannot be trusted`,
  });
});

t.test('an output directory written by 0.1 is refused to a new checkpoint: its log records no owner', async (t) => {
  const root = t.testdir();
  await installFixture(root);
  await generateDataset(join(root, 'in'), { files: 6, lines: 300, seed: 5, firstMtimeMs: 1_700_000_000_000 });
  const query = await run(root, join(root, 'out'), join(root, 'chk-new'));
  const error = await failureOf(query);
  t.equal(error.code, 'ERR_OUTPUT_OWNED');
  t.equal(error.file, join(root, 'out', '_spark_metadata'));
  t.equal(
    error.message,
    `output directory ${join(root, 'out')} already holds batches up to 6 written by another query (its _spark_metadata records no owner), and this query ${query.id} (checkpoint ${join(root, 'chk-new')}) has committed no batch: writing there would skip that query's batches. Write this query to another output directory, or restart the query that wrote ${join(root, 'out')} with its own checkpoint.`,
  );
  t.equal(await readSinkOwner(join(root, 'out')), null, 'nothing was claimed');
});

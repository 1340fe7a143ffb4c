/**
 * A checkpoint whose state files are JSON text (main at 713dfcf, before the
 * binary state files: test/fixtures/text-state-checkpoint-713dfcf) keeps
 * restarting, and gives what an uninterrupted run gives.
 */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset } from '../../lib/gen.js';
import { startQuery, type StreamingQuery } from '../../lib/query/streaming-query.js';
import { notebookQuery } from './notebook-query.js';
import { committedLines, installFixture as installCheckpointFixture } from './fixture-checkpoints.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/text-state-checkpoint-713dfcf', import.meta.url));

const installFixture = (root: string): Promise<void> => installCheckpointFixture(FIXTURE, root, { placeholder: '@ROOT@', replacement: root, sidecars: true });

function run(root: string, out: string, chk: string): Promise<StreamingQuery> {
  return startQuery(notebookQuery({ input: join(root, 'in'), out, chk, window: '5 minutes', watermark: '10 minutes' }));
}

t.test('a checkpoint whose state files are JSON text restarts and gives the same output as an uninterrupted run', async (t) => {
  const root = t.testdir();
  await installFixture(root);
  const stateFiles = (await readdir(join(root, 'chk', 'state', '0', '0'))).filter((n) => !n.startsWith('.')).sort();
  t.strictSame(stateFiles, ['1.snapshot', '2.delta', '3.delta', '4.delta', '5.delta', '6.delta', '7.delta'], 'the fixture holds a snapshot and its deltas');
  t.equal((await readFile(join(root, 'chk', 'state', '0', '0', '1.snapshot'), 'utf8')).slice(0, 10), '{"stage":"', 'as JSON text');
  // The fixture read files 0-5; files 6-11 arrived while it was stopped.
  await generateDataset(join(root, 'in'), { files: 12, lines: 300, seed: 5, firstMtimeMs: 1_700_000_000_000 });
  const before = await committedLines(join(root, 'out'));

  await (await run(root, join(root, 'out'), join(root, 'chk'))).awaitTermination();
  await (await run(root, join(root, 'out-baseline'), join(root, 'chk-baseline'))).awaitTermination();
  const baseline = await committedLines(join(root, 'out-baseline'));
  t.ok(baseline.length > before.length, 'the continuation emits more windows');
  t.strictSame(await committedLines(join(root, 'out')), baseline);
});

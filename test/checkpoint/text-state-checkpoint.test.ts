/**
 * A checkpoint whose state files are JSON text (main at 713dfcf, before the
 * binary state files: test/fixtures/text-state-checkpoint-713dfcf) keeps
 * restarting, and gives what an uninterrupted run gives.
 */
import t from 'tap';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset } from '../../lib/gen.js';
import { startQuery, type StreamingQuery } from '../../lib/query/streaming-query.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { checksumFile, checksumPath, isChecksumName } from '../../lib/checkpoint/checksum.js';
import { notebookQuery } from './notebook-query.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/text-state-checkpoint-713dfcf', import.meta.url));

/** Copies the fixture under `root`, its `@ROOT@` placeholders replaced by `root` (and the sidecars of those files rewritten). */
async function installFixture(root: string): Promise<void> {
  await cp(FIXTURE, root, { recursive: true, filter: (src) => !src.endsWith('README.md') });
  const rewrite = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await rewrite(path);
      else if (!isChecksumName(entry.name)) {
        const text = await readFile(path, 'utf8');
        if (!text.includes('@ROOT@')) continue;
        const bytes = Buffer.from(text.replaceAll('@ROOT@', root));
        await writeFile(path, bytes);
        await writeFile(checksumPath(path), checksumFile(bytes));
      }
    }
  };
  await rewrite(root);
}

function run(root: string, out: string, chk: string): Promise<StreamingQuery> {
  return startQuery(notebookQuery({ input: join(root, 'in'), out, chk, window: '5 minutes', watermark: '10 minutes' }));
}

async function committedLines(out: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(out)) if (text !== '') lines.push(text);
  return lines.sort();
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

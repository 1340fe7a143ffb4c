/**
 * Recipe foreach-batch-upsert: each batch upserted into a table, idempotent
 * by batch id, across the crash the recipe stages after batch 1's write.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../recipes/foreach-batch-upsert.js';
import { capture, golden, notebookData } from './harness.js';

const root = t.testdir();
const data = await notebookData(join(root, 'data'));

t.test('prints each call, the crash, the skipped re-pass and the table (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('foreach-batch-upsert.txt', text()));
});

t.test('batch 1 is passed again after the crash and skipped; run again, nothing changes', async (t) => {
  const workDir = t.testdir();
  const first = capture();
  const result = await run({ dataDir: data, workDir, out: first.out });
  t.match(first.text(), /batch 1: \d+ rows upserted\nquery failed: the process dies after writing batch 1, before the batch commits\n\nRestart from the checkpoint:\nbatch 1: \d+ rows passed again; the table already has batch 1: skipped\n/);
  const table = await readFile(result.tablePath, 'utf8');
  const again = capture();
  await run({ dataDir: data, workDir, out: again.out });
  t.equal(await readFile(result.tablePath, 'utf8'), table, 'a third start finds nothing new');
});

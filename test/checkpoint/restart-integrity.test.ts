/**
 * A restart of the CLI's query from a checkpoint or output that lost a
 * piece is refused (issue 10, defect #4), never run on what is left: each
 * refusal is `ERR_CHECKPOINT_CORRUPT` naming the file. One file per
 * micro-batch, three files, then the query restarts.
 */
import t from 'tap';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startQuery, type StreamingQuery } from '../../lib/query/streaming-query.js';
import { failureOf, notebookQuery as notebook } from './notebook-query.js';

async function placeInput(input: string, files: number): Promise<void> {
  await mkdir(input, { recursive: true });
  for (let i = 0; i < files; i++) {
    const path = join(input, `f${i}.json`);
    await writeFile(path, `{"time":${1_700_000_000 + 60 * i},"action":"Open"}\n{"time":${1_700_000_030 + 60 * i},"action":"Close"}\n`);
    await utimes(path, 1_700_000_000 + i, 1_700_000_000 + i);
  }
}

function notebookQuery(root: string): Promise<StreamingQuery> {
  return startQuery(notebook({ input: join(root, 'in'), out: join(root, 'out'), chk: join(root, 'chk'), window: '1 minute', watermark: '1 minute' }));
}

/** Runs the notebook query over three files. */
async function ranThreeFiles(root: string): Promise<void> {
  await placeInput(join(root, 'in'), 3);
  await (await notebookQuery(root)).awaitTermination();
}

t.test('issue 10 #4: a restart after state/<op>/ was deleted is refused, instead of counting from empty state', async (t) => {
  const root = t.testdir();
  await ranThreeFiles(root);
  const commits = (await readdir(join(root, 'chk', 'commits'))).filter((n) => /^\d+$/.test(n)).map(Number);
  t.ok(Math.max(...commits) < 10, 'fewer batches than a snapshot interval: one chain from version 1');
  await rm(join(root, 'chk', 'state', '0'), { recursive: true });
  const error = await failureOf(await notebookQuery(root));
  // The first file the last commit lists: the snapshot its chain of deltas starts from.
  t.match(error, { code: 'ERR_CHECKPOINT_CORRUPT', file: join(root, 'chk', 'state', '0', '0', '1.snapshot') });
});

t.test('issue 10 #4: a restart after sources/ was deleted is refused, naming the source log entry the offsets refer to', async (t) => {
  const root = t.testdir();
  await ranThreeFiles(root);
  await rm(join(root, 'chk', 'sources'), { recursive: true });
  const error = await failureOf(await notebookQuery(root));
  const path = join(root, 'chk', 'sources', '0', '2');
  t.match(error, {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: path,
    message: `${path} is missing from the file source log ${join(root, 'chk', 'sources', '0')}: the checkpoint's offsets say the files of source log entries up to 2 were read, but the log ends at -1`,
  });
});

t.test('issue 10 #4: a tampered source log is refused, naming the file', async (t) => {
  const root = t.testdir();
  await ranThreeFiles(root);
  const path = join(root, 'chk', 'sources', '0', '1');
  await writeFile(path, (await readFile(path, 'utf8')).replace('f1.json', 'f3.json'));
  const error = await failureOf(await notebookQuery(root));
  t.match(error, { code: 'ERR_CHECKPOINT_CORRUPT', file: path, message: new RegExp(`^${path} was changed or damaged after it was written`) });
});

t.test('issue 10 #4: the sink refuses at open an output log that lacks a batch the checkpoint committed, naming it', async (t) => {
  const root = t.testdir();
  await ranThreeFiles(root);
  const path = join(root, 'out', '_spark_metadata', '1');
  await rm(path);
  const error = await failureOf(await notebookQuery(root));
  t.match(error, { code: 'ERR_CHECKPOINT_CORRUPT', file: path, message: new RegExp(`^${path} is missing from the file sink log ${join(root, 'out', '_spark_metadata')}: it is needed to read batches up to \\d+$`) });
});

t.test('issue 10 #4: the sink refuses at open an output log that ends before the last committed batch, naming the first missing entry', async (t) => {
  const root = t.testdir();
  await ranThreeFiles(root);
  const names = (await readdir(join(root, 'out', '_spark_metadata'))).filter((n) => /^\d+$/.test(n)).map(Number);
  const last = Math.max(...names);
  await rm(join(root, 'out', '_spark_metadata', String(last)));
  const error = await failureOf(await notebookQuery(root));
  const path = join(root, 'out', '_spark_metadata', String(last));
  t.match(error, { code: 'ERR_CHECKPOINT_CORRUPT', file: path, message: new RegExp(`^${path} is missing from the file sink log .*: the checkpoint ${join(root, 'chk')} committed batches up to ${last}, so the log must list the files of each of them`) });
});

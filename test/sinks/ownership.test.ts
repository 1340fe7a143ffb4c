/**
 * Which query owns an output directory (issue 10, defect #9, second half),
 * and what a crash leaves behind (defect #16: temp and orphan files): the
 * sink log records its owner, a query with another checkpoint is refused at
 * start, and the owning query cleans its directory when it opens.
 */
import t from 'tap';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startQuery } from '../../lib/query/streaming-query.js';
import { readSinkLog, readSinkOwner } from '../../lib/sinks/file-sink-log.js';
import { failureOf, notebookQuery } from '../checkpoint/notebook-query.js';

async function placeInput(input: string, files: number): Promise<void> {
  await mkdir(input, { recursive: true });
  for (let i = 0; i < files; i++) {
    const path = join(input, `f${i}.json`);
    await writeFile(path, `{"time":${1_700_000_000 + 60 * i},"action":"Open"}\n`);
    await utimes(path, 1_700_000_000 + i, 1_700_000_000 + i);
  }
}

async function run(root: string, chk: string): Promise<Awaited<ReturnType<typeof startQuery>>> {
  return startQuery(notebookQuery({ input: join(root, 'in'), out: join(root, 'out'), chk: join(root, chk), window: '1 minute', watermark: '1 minute' }));
}

t.test('the owner record is _spark_metadata/.tidemark-owner with its sidecar; Spark lists only the numbered batch files there', async (t) => {
  const root = t.testdir();
  await placeInput(join(root, 'in'), 2);
  const query = await run(root, 'chk');
  await query.awaitTermination();
  const log = join(root, 'out', '_spark_metadata');
  t.strictSame(JSON.parse(await readFile(join(log, '.tidemark-owner'), 'utf8')), { queryId: query.id, checkpoint: join(root, 'chk'), checksumsFrom: 0 });
  t.strictSame((await readdir(log)).filter((n) => !/^\d+$/.test(n)).sort(), ['..tidemark-owner.crc', '.0.crc', '.1.crc', '.2.crc', '.tidemark-owner']);
  t.strictSame(await readSinkOwner(join(root, 'out')), { queryId: query.id, checkpoint: join(root, 'chk'), checksumsFrom: 0 });
});

t.test('issue 10 #9: a new checkpoint pointed at an output directory another query wrote is refused at start, naming both query ids and the fix', async (t) => {
  const root = t.testdir();
  await placeInput(join(root, 'in'), 2);
  const first = await run(root, 'chk-a');
  await first.awaitTermination();
  const before = await readSinkLog(join(root, 'out'));
  const namesBefore = (await readdir(join(root, 'out'))).sort();
  const second = await run(root, 'chk-b');
  const error = await failureOf(second);
  t.equal(error.code, 'ERR_OUTPUT_OWNED');
  t.equal(error.file, join(root, 'out', '_spark_metadata', '.tidemark-owner'));
  t.equal(
    error.message,
    `output directory ${join(root, 'out')} belongs to query ${first.id} (checkpoint ${join(root, 'chk-a')}), not to this query ${second.id} (checkpoint ${join(root, 'chk-b')}): two queries writing one directory would skip each other's batches. Write this query to another output directory, or restart the query that wrote ${join(root, 'out')} with its own checkpoint (${join(root, 'chk-a')}).`,
  );
  t.strictSame(await readSinkLog(join(root, 'out')), before, 'nothing was committed to the output');
  t.strictSame((await readdir(join(root, 'out'))).sort(), namesBefore, 'nothing was written or deleted there');
});

t.test('issue 10 #16: temp files a crash left are removed when the checkpoint and the sink open; other files stay', async (t) => {
  const root = t.testdir();
  await placeInput(join(root, 'in'), 2);
  await (await run(root, 'chk')).awaitTermination();
  const chk = join(root, 'chk');
  const out = join(root, 'out');
  // Our temp names (`.<name>.<pid>.<n>.tmp`) where a crashed write leaves them, and files that are not ours.
  const temps = [
    join(chk, '.metadata.4242.0.tmp'),
    join(chk, 'offsets', '.3.4242.1.tmp'),
    join(chk, 'commits', '..3.crc.4242.2.tmp'),
    join(chk, 'state', '0', '0', '.4.json.4242.3.tmp'),
    join(chk, 'sources', '0', '.2.4242.4.tmp'),
    join(out, '.part-00000-0b5c2c0e-3d4c-4c43-9b7e-2f4f0a7d1e2a-c000.json.4242.5.tmp'),
    join(out, '_spark_metadata', '.3.4242.6.tmp'),
  ];
  const others = [join(chk, 'offsets', '.keep'), join(chk, 'notes.tmp'), join(out, 'README.txt'), join(out, '.hidden.tmp'), join(out, 'part-0.json')];
  for (const path of [...temps, ...others]) await writeFile(path, 'x');
  await (await run(root, 'chk')).awaitTermination();
  const left = async (paths: string[]) => {
    const found: string[] = [];
    for (const path of paths) if (await readFile(path).then(() => true, () => false)) found.push(path);
    return found;
  };
  t.strictSame(await left(temps), [], 'every temp file is gone');
  t.strictSame(await left(others), others, 'no other file was touched');
});

t.test('issue 10 #16: data files no log entry lists are removed when the owning query opens, and only then', async (t) => {
  const root = t.testdir();
  await placeInput(join(root, 'in'), 2);
  await (await run(root, 'chk-a')).awaitTermination();
  const out = join(root, 'out');
  // A batch that crashed between its data file and its log entry.
  const orphan = join(out, 'part-00000-0b5c2c0e-3d4c-4c43-9b7e-2f4f0a7d1e2a-c000.json');
  await writeFile(orphan, '{"action":"Open"}\n');
  t.equal((await failureOf(await run(root, 'chk-b'))).code, 'ERR_OUTPUT_OWNED');
  t.ok((await readdir(out)).includes('part-00000-0b5c2c0e-3d4c-4c43-9b7e-2f4f0a7d1e2a-c000.json'), 'another query never deletes it');
  await (await run(root, 'chk-a')).awaitTermination();
  t.notOk((await readdir(out)).includes('part-00000-0b5c2c0e-3d4c-4c43-9b7e-2f4f0a7d1e2a-c000.json'), 'the owner does');
  const listed = (await readSinkLog(out)).map((f) => f.path.slice(f.path.lastIndexOf('/') + 1));
  t.strictSame((await readdir(out)).filter((n) => n.startsWith('part-')).sort(), listed.sort(), 'every data file left is listed');
});

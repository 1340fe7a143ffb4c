/**
 * Logs stay bounded (issue 10, defect #5): the sink log and the file source
 * log are compacted every 10 batches and superseded files deleted; offsets,
 * commits and state keep the last 100 batches. The query is the CLI's
 * notebook query, one tiny file per micro-batch.
 *
 * The figure is 1,500 batches, which takes minutes on a loaded
 * machine (every batch fsyncs a dozen files). The test runs
 * `TIDEMARK_LOG_BATCHES` files (120 by default: past the 100 retained
 * batches and many compactions, so every file count below is already the
 * steady one); the 1,500 run is the same test:
 *
 *     TIDEMARK_LOG_BATCHES=1500 npx tap --disable-coverage --timeout 1200 test/checkpoint/retention.test.ts
 *
 * The sink log's size is about two compact files of one entry per data
 * file, each entry about 140 bytes plus the length of the data file's path
 * (a short temporary directory here, as a real output path).
 *
 * @module
 */
import t from 'tap';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, MIN_BATCHES_TO_RETAIN } from '../../lib/checkpoint/checkpoint.js';
import { barrier } from '../../lib/protocol.js';
import { wholeStateImage } from '../../lib/stages/stage.js';
import { startQuery } from '../../lib/query/streaming-query.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { notebookQuery } from './notebook-query.js';

const FILES = Number(process.env['TIDEMARK_LOG_BATCHES'] ?? 120);
const ACTIONS = ['Open', 'Close', 'Scroll'];
const BASE_S = 1_700_000_000;

/** Every file under `dir`: count and bytes. */
async function usage(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = await usage(path);
      files += inner.files;
      bytes += inner.bytes;
    } else {
      files++;
      bytes += (await stat(path)).size;
    }
  }
  return { files, bytes };
}

/** Names in `dir` without sidecars, sorted by batch id. */
async function logNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
}

/** The names a compacted log holds after batch `last`: the previous compact generation, the latest compact file, the deltas after it. */
function expectedLogNames(last: number): string[] {
  const latestCompact = Math.floor((last + 1) / 10) * 10 - 1;
  const names: string[] = [];
  for (let id = Math.max(0, latestCompact - 10); id <= last; id++) names.push((id + 1) % 10 === 0 ? `${id}.compact` : String(id));
  return names;
}

t.test(`issue 10 #5: ${FILES} one-file micro-batches leave _spark_metadata under 1 MiB and the checkpoint under 800 files, and every row is in the output`, async (t) => {
  // A short root, as a real output path: the log's size grows with the length of the data files' paths.
  const root = await mkdtemp(join(tmpdir(), 'tidemark-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const input = join(root, 'in');
  await mkdir(input);
  const expected = new Map<string, number>();
  for (let i = 0; i < FILES; i++) {
    const path = join(input, `f${String(i).padStart(5, '0')}.json`);
    const action = ACTIONS[i % 3]!;
    await writeFile(path, JSON.stringify({ time: BASE_S + i, action }) + '\n');
    await utimes(path, BASE_S + i, BASE_S + i); // one file per batch, in name order
    const key = `${action} ${Math.floor((BASE_S + i) / 60) * 60_000}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const out = join(root, 'out');
  const chk = join(root, 'chk');
  const query = await startQuery(notebookQuery({ input, out, chk, window: '1 minute', watermark: '1 minute', drain: true }));
  await query.awaitTermination();
  const lastBatch = query.lastProgress!.batchId;

  const counted: Array<[string, number]> = [];
  for await (const { text } of readCommittedJsonLines(out)) {
    if (text === '') continue;
    const row = JSON.parse(text) as { action: string; window: { start: string }; count: number };
    counted.push([`${row.action} ${Date.parse(row.window.start)}`, row.count]);
  }
  t.strictSame(counted.sort(), [...expected].sort(), `every one of the ${FILES} rows is counted in its window, each (action, window) once`);

  const log = await usage(join(out, '_spark_metadata'));
  const checkpoint = await usage(chk);
  t.comment(`${lastBatch + 1} batches: _spark_metadata ${log.files} files, ${log.bytes} bytes; checkpoint ${checkpoint.files} files, ${checkpoint.bytes} bytes`);
  t.ok(log.bytes < 1024 * 1024, `_spark_metadata holds ${log.bytes} bytes, under 1 MiB`);
  t.ok(checkpoint.files < 800, `the checkpoint holds ${checkpoint.files} files, under 800`);

  // Why the figures stay there however long the query runs:
  t.strictSame(await logNames(join(out, '_spark_metadata')), expectedLogNames(lastBatch), 'the sink log keeps two compact generations');
  t.strictSame(await logNames(join(chk, 'sources', '0')), expectedLogNames(FILES - 1), 'the source log is compacted the same way');
  const retained = Array.from({ length: Math.min(100, lastBatch + 1) }, (_, i) => String(lastBatch - Math.min(100, lastBatch + 1) + 1 + i));
  for (const sub of ['offsets', 'commits']) {
    t.strictSame(await logNames(join(chk, sub)), retained, `${sub} keeps the last 100 batches`);
    t.strictSame((await readdir(join(chk, sub))).filter((n) => n.startsWith('.')).length, retained.length, `${sub} keeps their sidecars only`);
  }
  for (const operator of ['0']) {
    // A snapshot every 10 deltas, written beside the batches (the versions a commit lists it at depend on when it is
    // durable): kept is exactly what the retained commits list, from the snapshot the oldest of them starts from.
    const present = (await logNames(join(chk, 'state', operator, '0'))).filter((n) => /^\d+\.(snapshot|delta)$/.test(n));
    const needed = new Set<string>();
    for (const id of retained) for (const file of await listedFiles(chk, Number(id), operator)) needed.add(file);
    t.strictSame([...needed].filter((n) => !present.includes(n)), [], `state of operator ${operator}: every file a retained commit lists is kept`);
    const floor = Math.min(...[...needed].map((n) => Number(n.split('.')[0])));
    t.strictSame(present.filter((n) => Number(n.split('.')[0]) < floor), [], `state of operator ${operator}: nothing older than the oldest retained chain`);
    t.ok(present.length <= lastBatch + 2 - floor + Math.ceil((lastBatch + 2 - floor) / 10), `state of operator ${operator}: a delta per version and a snapshot every 10 at most`);
  }
});

/** The state files commits/N lists for an operator (names in its partition 0). */
async function listedFiles(chk: string, batchId: number, operator: string): Promise<string[]> {
  const text = await readFile(join(chk, 'commits', String(batchId)), 'utf8');
  return (JSON.parse(text.split('\n')[1]!) as { stateFiles: Record<string, Array<{ file: string }>> }).stateFiles[operator]!.map((r) => r.file.slice(2));
}

t.test('what a crash between a commit and its purge left (offsets, commits, state and sidecars of old batches) goes at the next start', async (t) => {
  const dir = t.testdir();
  const checkpoint = await Checkpoint.open(dir);
  for (let n = 0; n <= MIN_BATCHES_TO_RETAIN + 4; n++) {
    await checkpoint.writeOffsets(n, { batchWatermarkMs: 0, batchTimestampMs: n, conf: {}, sourceOffsets: [n] });
    const b = barrier(n);
    const image = () => wholeStateImage('X', 1, {}, { n });
    b.state['0'] = { progress: null, snapshot: image, delta: image };
    await checkpoint.commit(b);
  }
  await checkpoint.close();
  // As if the purges of batches 2 and 3 had not happened.
  await writeFile(join(dir, 'offsets', '2'), 'v1');
  await writeFile(join(dir, 'offsets', '.2.crc'), 'crc');
  await writeFile(join(dir, 'commits', '.3.crc'), 'crc');
  await writeFile(join(dir, 'state', '0', '0', '4.json'), '{}');
  const again = await Checkpoint.open(dir);
  t.equal((await again.recover()).lastCommitted?.batchId, MIN_BATCHES_TO_RETAIN + 4);
  await again.close();
  const first = 5; // batches 5..104 are the last 100
  t.strictSame(await logNames(join(dir, 'offsets')), Array.from({ length: 100 }, (_, i) => String(first + i)));
  t.strictSame((await readdir(join(dir, 'offsets'))).length, 200, 'each with its sidecar, nothing else');
  t.strictSame((await readdir(join(dir, 'commits'))).length, 200);
  // A whole state every batch: each retained batch needs its own snapshot only; the file of the format before goes too.
  t.strictSame(await logNames(join(dir, 'state', '0', '0')), Array.from({ length: 100 }, (_, i) => `${first + i + 1}.snapshot`));
});

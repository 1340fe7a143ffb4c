/**
 * The file source's log `sources/0` (Spark's `FileStreamSourceLog`):
 * compacted every 10 entries into `K.compact`, each file with its `.K.crc`
 * (issue 10, defect #5), read back on restart so no file is read twice.
 */
import t from 'tap';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileSource } from '../../lib/sources/file-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';

async function placeFiles(dir: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const path = join(dir, `${String(i).padStart(2, '0')}.txt`);
    await writeFile(path, `line ${i}`);
    await utimes(path, 1_600_000_000 + i, 1_600_000_000 + i);
  }
}

/** Runs the source over `input` until it has read everything available; the lines of each batch, by batch id. */
async function linesPerBatch(input: string, chk: string): Promise<Array<[number, string[]]>> {
  const sink = new MemorySink();
  const query = await startQuery({ source: new FileSource({ path: input, maxFilesPerTrigger: 1, framing: 'lines' }), sink, trigger: 'availableNow', checkpointLocation: chk, manager: new StreamingQueryManager() });
  await query.awaitTermination();
  return [...sink.batches].sort((a, b) => a[0] - b[0]).map(([id, rows]) => [id, rows.map((r) => r['value'] as string)]);
}

t.test('issue 10 #5: the source log is compacted every 10 entries into K.compact holding every entry so far; a restart reads no file twice', async (t) => {
  const dir = t.testdir({ in: {} });
  const input = join(dir, 'in');
  const chk = join(dir, 'chk');
  await placeFiles(input, 0, 22);
  t.equal((await linesPerBatch(input, chk)).length, 22);
  const log = join(chk, 'sources', '0');
  // 19.compact superseded 0..8 (deleted); 9.compact and the deltas after it stay one generation more, as in the sink log.
  const kept = ['9.compact', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19.compact', '20', '21'];
  t.strictSame((await readdir(log)).sort(), [...kept, ...kept.map((n) => `.${n}.crc`)].sort());
  const uri = (i: number) => pathToFileURL(join(input, `${String(i).padStart(2, '0')}.txt`)).href;
  t.equal(
    await readFile(join(log, '9.compact'), 'utf8'),
    ['v1', ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ path: uri(i), timestamp: (1_600_000_000 + i) * 1000, batchId: i }))].join('\n'),
    "Spark's FileStreamSourceLog format: every entry of batches 0..9",
  );
  await placeFiles(input, 22, 23);
  t.strictSame(await linesPerBatch(input, chk), [[22, ['line 22']]], 'only the new file is read');
});

t.test('a batch re-executed after a restart reads its files from the compact file that holds its entry', async (t) => {
  const dir = t.testdir({ in: {} });
  const input = join(dir, 'in');
  const chk = join(dir, 'chk');
  await placeFiles(input, 0, 10);
  await linesPerBatch(input, chk);
  // A crash after the sink wrote batch 9, before its commit.
  await rm(join(chk, 'commits', '9'));
  t.strictSame(await linesPerBatch(input, chk), [[9, ['line 9']]]);
});

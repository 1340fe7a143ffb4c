import t from 'tap';
import { readdirSync } from 'node:fs';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSource } from '../../lib/sources/file-source.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { Row } from '../../lib/core/batch.js';

// Writes files with mtimes 1 s apart (in the given order), like Spark's tests.
async function placeFiles(dir: string, files: Array<[string, string]>, baseMs = 1_600_000_000_000): Promise<void> {
  for (const [i, [name, content]] of files.entries()) {
    await writeFile(join(dir, name), content);
    const at = new Date(baseMs + i * 1000);
    await utimes(join(dir, name), at, at);
  }
}

async function linesPerBatch(input: string, options: Record<string, unknown>, checkpointLocation?: string): Promise<string[][]> {
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: input, framing: 'lines', ...options }),
    sink,
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
    ...(checkpointLocation === undefined ? {} : { checkpointLocation }),
  });
  await query.awaitTermination();
  return [...sink.batches].sort((a, b) => a[0] - b[0]).map(([, rows]) => rows.map((r) => r['value'] as string));
}

t.test('fss_max_files_per_trigger: oldest files first, at most N per batch, across steps', async (t) => {
  const dir = t.testdir({ in: {}, chk: {} });
  const input = join(dir, 'in');
  const chk = join(dir, 'chk');
  const all = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
  await placeFiles(input, all.slice(0, 3).map((n) => [`${n}.txt`, n]));
  t.strictSame(await linesPerBatch(input, { maxFilesPerTrigger: '2' }, chk), [['1', '2'], ['3']]);
  await placeFiles(input, all.slice(3, 7).map((n) => [`${n}.txt`, n]), 1_600_000_010_000);
  t.strictSame(await linesPerBatch(input, { maxFilesPerTrigger: 2 }, chk), [['4', '5'], ['6', '7']]);
  await placeFiles(input, all.slice(7).map((n) => [`${n}.txt`, n]), 1_600_000_020_000);
  t.strictSame(await linesPerBatch(input, { maxFilesPerTrigger: 2 }, chk), [['8', '9'], ['10', '11'], ['12']]);
});

t.test('fss_latest_first: newest first, and maxFileAge is ignored with a limit', async (t) => {
  const dir = t.testdir({ a: {}, b: {}, c: {} });
  await placeFiles(join(dir, 'a'), [['1.txt', '1'], ['2.txt', '2']]);
  t.strictSame(await linesPerBatch(join(dir, 'a'), { maxFilesPerTrigger: 1, latestFirst: false }), [['1'], ['2']]);
  await placeFiles(join(dir, 'b'), [['1.txt', '1'], ['2.txt', '2']]);
  t.strictSame(await linesPerBatch(join(dir, 'b'), { maxFilesPerTrigger: 1, latestFirst: 'true' }), [['2'], ['1']]);
  await writeFile(join(dir, 'c', '1.txt'), '1');
  await writeFile(join(dir, 'c', '2.txt'), '2');
  await utimes(join(dir, 'c', '1.txt'), new Date(1_600_000_000_000), new Date(1_600_000_000_000));
  await utimes(join(dir, 'c', '2.txt'), new Date(1_600_003_600_000), new Date(1_600_003_600_000));
  t.strictSame(await linesPerBatch(join(dir, 'c'), { maxFilesPerTrigger: 1, latestFirst: true, maxFileAge: '1m' }), [['2'], ['1']]);
});

t.test('fss_fault_tolerance_restart: processed files are not read again; a file added while stopped is', async (t) => {
  const dir = t.testdir({ in: {}, chk: {} });
  const input = join(dir, 'in');
  const chk = join(dir, 'chk');
  await placeFiles(input, [['a.txt', 'drop1\nkeep2\nkeep3']]);
  const kept = (batches: string[][]) => batches.flat().filter((v) => v.includes('keep'));
  t.strictSame(kept(await linesPerBatch(input, {}, chk)), ['keep2', 'keep3']);
  await placeFiles(input, [['b.txt', 'drop4\nkeep5\nkeep6']], 1_600_000_005_000);
  t.strictSame(kept(await linesPerBatch(input, {}, chk)), ['keep5', 'keep6']);
  await placeFiles(input, [['c.txt', 'drop7\nkeep8\nkeep9']], 1_600_000_009_000);
  t.strictSame(kept(await linesPerBatch(input, {}, chk)), ['keep8', 'keep9']);
  t.strictSame((await readdir(join(chk, 'sources', '0'))).sort(), ['.0.crc', '.1.crc', '.2.crc', '0', '1', '2'], 'one log entry per batch, each with its checksum');
  t.match(await readFile(join(chk, 'sources', '0', '0'), 'utf8'), /^v1\n\{"path":"file:\/\/\/.*a\.txt","timestamp":1600000000000,"batchId":0\}$/);
});

t.test('fss_clean_source_timing: files of batch N are cleaned when batch N+1 is planned', async (t) => {
  for (const mode of ['delete', 'archive'] as const) {
    const dir = t.testdir({ in: {}, archive: {} });
    const input = join(dir, 'in');
    const archive = join(dir, 'archive');
    await placeFiles(input, [['keep1', 'keep1'], ['keep2', 'keep2'], ['keep3', 'keep3']]);
    const seenAfterBatch: string[][] = [];
    const sink = new MemorySink();
    const source = new FileSource({ path: input, framing: 'lines', maxFilesPerTrigger: 1, cleanSource: mode, ...(mode === 'archive' ? { sourceArchiveDir: archive } : {}) });
    sink.on('batch', () => {
      seenAfterBatch.push([]);
    });
    const query = await startQuery({ source, sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
    query.on('progress', () => {
      seenAfterBatch[seenAfterBatch.length - 1] = readdirSync(input).sort();
    });
    await query.awaitTermination();
    t.strictSame(seenAfterBatch, [['keep1', 'keep2', 'keep3'], ['keep2', 'keep3'], ['keep3']], `${mode}: one file behind`);
    if (mode === 'archive') t.strictSame(await readdir(join(archive, input)), ['keep1', 'keep2']);
  }
});

t.test('maxFilesPerTrigger is refused at construction with Spark message', async (t) => {
  t.throws(() => new FileSource({ path: '.', maxFilesPerTrigger: '10.1' }), {
    code: 'ERR_INVALID_OPTION',
    message: "Invalid value '10.1' for option 'maxFilesPerTrigger', must be a positive integer",
    option: 'maxFilesPerTrigger',
  });
});

t.test('names starting with _ or . and ._COPYING_ files are not read', async (t) => {
  const dir = t.testdir({ '_SUCCESS': 'x', '.hidden': 'x', 'a.json._COPYING_': 'x', 'a.json': 'real' });
  t.strictSame((await linesPerBatch(dir, {})).flat(), ['real']);
});

t.test('a line longer than maxLineLength fails the query naming file and line', async (t) => {
  const dir = t.testdir({ 'a.json': `short\n${'x'.repeat(300)}\n` });
  const query = await startQuery({ source: new FileSource({ path: dir, maxLineLength: 100, framing: 'lines' }), sink: new MemorySink(), trigger: 'availableNow', manager: new StreamingQueryManager() });
  const error = await query.awaitTermination().catch((e: unknown) => e as Error & { cause: Error & { code: string; line: number } });
  t.match(error, { code: 'ERR_QUERY_FAILED' });
  t.match((error as { cause: unknown }).cause, { code: 'ERR_LINE_TOO_LONG', line: 2, message: `${join(dir, 'a.json')}: line 2 is longer than maxLineLength (100 bytes)` });
});

t.test('multiLine reads a JSON array file as one record per element, and a single object as one record', async (t) => {
  const dir = t.testdir({ 'a.json': '[\n {"time": 1, "action": "Open"},\n {"time": 2,\n  "action": "Close"}\n]\n', 'b.json': '{"time": 3,\n "action": "Click"}' });
  await utimes(join(dir, 'b.json'), new Date(Date.now() + 5000), new Date(Date.now() + 5000));
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: dir, multiLine: true }),
    stages: [new ParseSchema({ schema: 'time timestamp, action string', timeZone: 'UTC' })],
    sink,
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  t.strictSame(sink.rows(), [{ time: 1000, action: 'Open' }, { time: 2000, action: 'Close' }, { time: 3000, action: 'Click' }] as Row[]);
});

t.test('a long unfinished line across read chunks is refused too, naming its line', async (t) => {
  const dir = t.testdir({ 'a.json': `one\ntwo\n${'y'.repeat(3 * 1024 * 1024)}` });
  const query = await startQuery({ source: new FileSource({ path: dir, maxLineLength: 1024 * 1024, framing: 'lines' }), sink: new MemorySink(), trigger: 'availableNow', manager: new StreamingQueryManager() });
  const error = await query.awaitTermination().catch((e: unknown) => e as { cause: unknown });
  t.match((error as { cause: unknown }).cause, { code: 'ERR_LINE_TOO_LONG', line: 3 });
});

t.test('a line cut by a read goes to the front of the next read buffer: one chunk per read, each of whole lines', async (t) => {
  const dir = t.testdir({ in: {} });
  const input = join(dir, 'in');
  // Reads of 10 bytes: `bbbbb` (cut, at most half a buffer) starts the second read, `e` the fourth.
  await placeFiles(input, [['a.json', 'aaaa\nbbbbbb\ncc\ndddddddd\ne\n']]);
  const sink = new MemorySink();
  const query = await startQuery({ source: new FileSource({ path: input, readBufferBytes: 10 }), sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  const chunks = sink.rows().map((r) => [r['offset'], Buffer.from(r['chunk'] as Uint8Array).toString('latin1')]);
  t.strictSame(chunks, [
    [0, 'aaaa\n'],
    [5, 'bbbbbb\ncc\n'],
    [15, 'dddddddd\n'],
    [24, 'e\n'],
  ]);
});

/**
 * A checkpoint that lost a piece is refused, never read as empty (issue 10,
 * defect #4): every file the checkpoint and the sink log write carries a
 * checksum checked on read, and every piece the checkpoint's own records
 * say must exist is required. Each refusal is `ERR_CHECKPOINT_CORRUPT`
 * naming the file.
 */
import t from 'tap';
import { Buffer } from 'node:buffer';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Checkpoint } from '../../lib/checkpoint/checkpoint.js';
import { checksumFile, checksumPath } from '../../lib/checkpoint/checksum.js';
import { barrier, type StateImage } from '../../lib/protocol.js';

/** A stage's state handed to a barrier: a snapshot every batch. */
const handed = (image: StateImage) => ({ progress: null, snapshot: () => image, delta: () => image });

/** Hadoop's sidecar for `data`, spelled out: `crc\0`, int 512, one big-endian CRC32 per 512 bytes. */
function hadoopSidecar(data: Buffer): Buffer {
  const sums: Buffer[] = [Buffer.from('crc\0', 'latin1'), Buffer.from([0, 0, 2, 0])];
  for (let at = 0; at < data.length; at += 512) {
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc32(data.subarray(at, at + 512)));
    sums.push(sum);
  }
  return Buffer.concat(sums);
}

const entry = (n: number) => ({ batchWatermarkMs: 0, batchTimestampMs: n, conf: {}, sourceOffsets: [n] });

/** A checkpoint with batch 0 committed: operators 0 and 1, operator 1 in two partitions. */
async function committedCheckpoint(dir: string): Promise<void> {
  const checkpoint = await Checkpoint.open(dir);
  await checkpoint.writeOffsets(0, entry(0));
  const b = barrier(0);
  b.state['0'] = handed({ stage: 'X', version: 1, configuration: {}, kind: 'snapshot', partitions: [[{ text: 'x'.repeat(700) }]] });
  b.state['1'] = handed({ stage: 'Y', version: 1, configuration: {}, kind: 'snapshot', partitions: [[{ n: 1 }], [{ n: 2 }]] });
  await checkpoint.commit(b);
  await checkpoint.close();
}

/** Opens `dir` and recovers it; the promise of the recovery, the checkpoint closed after. */
async function recoverAgain(t: { teardown(fn: () => unknown): void }, dir: string): Promise<unknown> {
  const checkpoint = await Checkpoint.open(dir);
  t.teardown(() => checkpoint.close());
  return checkpoint.recover();
}

t.test('a sidecar is Hadoop ChecksumFileSystem format: "crc\\0", bytesPerChecksum 512, a big-endian CRC32 per 512-byte chunk', async (t) => {
  t.equal(checksumFile(Buffer.from('hello')).toString('hex'), '637263000000020036' + '10a686', 'CRC32("hello") = 0x3610a686');
  t.equal(checksumFile(Buffer.alloc(0)).toString('hex'), '6372630000000200', 'an empty file has the header only');
  const long = Buffer.from('y'.repeat(1300));
  t.strictSame(checksumFile(long), hadoopSidecar(long));
  t.equal(checksumFile(long).length, 8 + 3 * 4);
});

t.test('issue 10 #4: metadata, offsets and commits are written with their .N.crc sidecars; state files are covered by their commit', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  for (const file of ['metadata', 'offsets/0', 'commits/0']) {
    const path = join(dir, file);
    t.strictSame(await readFile(checksumPath(path)), hadoopSidecar(await readFile(path)), `${file} has its sidecar`);
  }
  const commit = JSON.parse((await readFile(join(dir, 'commits', '0'), 'utf8')).split('\n')[1]!) as { stateFiles: Record<string, Array<{ file: string; size: number; crc32: string }>> };
  t.strictSame(Object.keys(commit.stateFiles), ['0', '1']);
  t.strictSame(commit.stateFiles['1']!.map((r) => r.file), ['0/1.snapshot', '1/1.snapshot'], 'both partitions of operator 1');
  for (const [operator, records] of Object.entries(commit.stateFiles)) {
    for (const record of records) {
      const bytes = await readFile(join(dir, 'state', operator, record.file));
      t.strictSame([record.size, record.crc32], [bytes.length, crc32(bytes).toString(16).padStart(8, '0')], `state/${operator}/${record.file} as its commit records it`);
    }
  }
});

t.test('issue 10 #4: a tampered offsets file is refused, naming it', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  const path = join(dir, 'offsets', '0');
  await writeFile(path, (await readFile(path, 'utf8')).replace('"batchTimestampMs":0', '"batchTimestampMs":9'));
  await t.rejects(recoverAgain(t, dir), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: path,
    message: `${path} was changed or damaged after it was written: its checksum file ${join(dir, 'offsets', '.0.crc')} does not match bytes 0..57`,
  });
});

t.test('issue 10 #4: a commit whose sidecar was deleted is refused, naming it', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  await rm(join(dir, 'commits', '.0.crc'));
  await t.rejects(recoverAgain(t, dir), { code: 'ERR_CHECKPOINT_CORRUPT', file: join(dir, 'commits', '0') });
});

t.test('issue 10 #4: deleting state/ is refused, naming the first state file the last commit lists', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  await rm(join(dir, 'state'), { recursive: true });
  const path = join(dir, 'state', '0', '0', '1.snapshot');
  await t.rejects(recoverAgain(t, dir), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: path,
    message: `checkpoint ${dir}: ${path} is missing: ${join(dir, 'commits', '0')} lists it as state of operator 0 after batch 0`,
  });
});

t.test('issue 10 #4: deleting state/<op>/ or one partition of it is refused, naming the file', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  await rm(join(dir, 'state', '1', '1'), { recursive: true });
  await t.rejects(recoverAgain(t, dir), { code: 'ERR_CHECKPOINT_CORRUPT', file: join(dir, 'state', '1', '1', '1.snapshot') });
  await rm(join(dir, 'state', '1'), { recursive: true });
  await t.rejects(recoverAgain(t, dir), { code: 'ERR_CHECKPOINT_CORRUPT', file: join(dir, 'state', '1', '0', '1.snapshot') });
});

t.test('issue 10 #4: a tampered state file is refused, naming it and the commit that records it', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  const path = join(dir, 'state', '1', '1', '1.snapshot');
  const bytes = await readFile(path);
  bytes.write('{"n":3}', bytes.indexOf('{"n":2}'), 'latin1');
  await writeFile(path, bytes);
  await t.rejects(recoverAgain(t, dir), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: path,
    message: new RegExp(`^checkpoint ${dir}: ${path} was changed or damaged after it was written: ${join(dir, 'commits', '0')} records (\\d+) bytes with CRC32 [0-9a-f]{8}, the file has \\1 bytes with CRC32 [0-9a-f]{8}$`),
  });
});

t.test('a checkpoint whose metadata is lost while its offsets remain is refused: the query id is gone', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  await rm(join(dir, 'metadata'));
  await t.rejects(Checkpoint.open(dir), { code: 'ERR_CHECKPOINT_CORRUPT', file: join(dir, 'metadata'), message: `checkpoint ${dir}: ${join(dir, 'metadata')} is missing, but offsets/0 exists: the query id is lost` });
});

t.test('tampered metadata is refused, naming it', async (t) => {
  const dir = t.testdir();
  await committedCheckpoint(dir);
  const path = join(dir, 'metadata');
  const metadata = JSON.parse(await readFile(path, 'utf8')) as { id: string };
  await writeFile(path, JSON.stringify({ ...metadata, id: 'someone-else' }) + '\n');
  await t.rejects(Checkpoint.open(dir), { code: 'ERR_CHECKPOINT_CORRUPT', file: path, message: new RegExp(`^${path} was changed or damaged after it was written`) });
});

t.test('a crash while a 0.1 checkpoint was being upgraded (its new metadata sidecar landed, the new metadata did not) still opens', async (t) => {
  const dir = t.testdir({ metadata: '{"id":"q"}\n', offsets: { '0': 'v1\n{"batchWatermarkMs":0,"batchTimestampMs":0,"conf":{}}\n0' }, commits: {} });
  await writeFile(join(dir, '.metadata.crc'), checksumFile(Buffer.from('{"id":"q","tidemark":{"checksumsFrom":{"offsets":1,"commits":0}}}\n')));
  const checkpoint = await Checkpoint.open(dir);
  t.equal(checkpoint.id, 'q');
  t.strictSame((await checkpoint.recover()).pending, { batchId: 0, offsets: entry(0) });
  await checkpoint.close();
  t.strictSame(JSON.parse(await readFile(join(dir, 'metadata'), 'utf8')), { id: 'q', tidemark: { checksumsFrom: { offsets: 1, commits: 0 } } });
});

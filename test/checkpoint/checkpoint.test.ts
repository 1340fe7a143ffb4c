import t from 'tap';
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checkpoint } from '../../lib/checkpoint/checkpoint.js';
import { barrier, type RecoveredState, type StageSnapshot, type StateImage } from '../../lib/protocol.js';
import { wholeState, wholeStateImage } from '../../lib/stages/stage.js';

/** A stage's state handed to a barrier: a whole state (a snapshot every batch). */
const whole = (stage: string, state: unknown) => {
  const image = () => wholeStateImage(stage, 1, {}, state);
  return { progress: null, snapshot: image, delta: image };
};

/** What a recovered state loads into a stage: the images it is handed, in order. */
async function loaded(state: RecoveredState | undefined): Promise<unknown[]> {
  const out: unknown[] = [];
  await state?.load({ restore: (image: StateImage | StageSnapshot) => void out.push(wholeState(image)), applyDelta: (image: StateImage) => void out.push(image) });
  return out;
}

const checkpointModule = fileURLToPath(new URL('../../dist/checkpoint/checkpoint.js', import.meta.url));

t.test('a fresh checkpoint gets a query id that survives reopening', async (t) => {
  const dir = t.testdir();
  const a = await Checkpoint.open(dir);
  await a.close();
  const b = await Checkpoint.open(dir);
  t.equal(b.id, a.id);
  // Spark reads `id`; `tidemark` says which files carry checksums (all of them, in a checkpoint this release created).
  t.strictSame(JSON.parse(await readFile(join(dir, 'metadata'), 'utf8')), { id: a.id, tidemark: { checksumsFrom: {} } });
  await b.close();
});

t.test('offsets without a commit are a batch to re-execute; with a commit, the next batch resumes after it', async (t) => {
  const dir = t.testdir();
  const cp = await Checkpoint.open(dir);
  t.strictSame(await cp.recover(), { lastCommitted: null, pending: null });
  const entry = { batchWatermarkMs: 0, batchTimestampMs: 1000, conf: {}, sourceOffsets: [1] };
  await cp.writeOffsets(0, entry);
  await cp.close();
  const reopened = await Checkpoint.open(dir);
  t.strictSame(await reopened.recover(), { lastCommitted: null, pending: { batchId: 0, offsets: entry } });
  const b = barrier(0);
  b.nextWatermarkMs = 5000;
  b.state['0'] = whole('X', { n: 1 });
  await reopened.commit(b);
  await reopened.close();
  const third = await Checkpoint.open(dir);
  const recovery = await third.recover();
  t.equal(recovery.pending, null);
  // The commit lists the state files it covers, with their size and CRC32: here a snapshot (state file format 2:
  // magic, format, header length, then the JSON header holding the one record, padded to 8 bytes; no typed array, no section).
  const stateFiles = { '0': [{ file: '0/1.snapshot', size: 144, crc32: '4199fa9d' }] };
  const header = '{"stage":"X","version":1,"configuration":{},"kind":"snapshot","partition":0,"numPartitions":1,"sections":[],"records":[{"n":1}]}';
  const prefix = Buffer.alloc(16);
  prefix.write('TMST', 0, 'latin1');
  prefix.writeUInt32LE(2, 4);
  prefix.writeUInt32LE(header.length, 8);
  t.strictSame(await readFile(join(dir, 'state', '0', '0', '1.snapshot')), Buffer.concat([prefix, Buffer.from(header), Buffer.alloc(144 - 16 - header.length)]));
  const { states, ...rest } = recovery.lastCommitted!;
  t.strictSame(rest, { batchId: 0, offsets: entry, commit: { nextBatchWatermarkMs: 5000, stateFiles } });
  t.strictSame(Object.keys(states), ['0']);
  t.strictSame(await loaded(states['0']), [{ n: 1 }]);
  t.equal(await readFile(join(dir, 'commits', '0'), 'utf8'), `v1\n{"nextBatchWatermarkMs":5000,"stateFiles":${JSON.stringify(stateFiles)}}`);
  t.equal(await readFile(join(dir, 'offsets', '0'), 'utf8'), 'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1000,"conf":{}}\n1');
  await third.close();
});

t.test('a commit log ahead of the offsets log is refused as corrupt', async (t) => {
  const dir = t.testdir();
  const cp = await Checkpoint.open(dir);
  await cp.close();
  await writeFile(join(dir, 'commits', '0'), 'v1\n{"nextBatchWatermarkMs":0}');
  const again = await Checkpoint.open(dir);
  await t.rejects(again.recover(), { code: 'ERR_CHECKPOINT_CORRUPT', message: `checkpoint ${dir}: commits/0 exists without offsets/0` });
  await again.close();
});

t.test('a second process on the same checkpoint is refused; after that process is killed, the lock is taken over', async (t) => {
  const dir = t.testdir();
  const child = spawn(process.execPath, ['--input-type=module', '-e', `const { Checkpoint } = await import(${JSON.stringify(checkpointModule)}); await Checkpoint.open(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  await t.rejects(Checkpoint.open(dir), { code: 'ERR_CHECKPOINT_LOCKED', message: new RegExp(`^checkpoint ${dir} is in use by process ${child.pid} on `) });
  child.kill('SIGKILL');
  await once(child, 'exit');
  const mine = await Checkpoint.open(dir);
  t.match(JSON.parse(await readFile(join(dir, '.lock'), 'utf8')), { pid: process.pid });
  await mine.close();
  await t.rejects(readFile(join(dir, '.lock')), { code: 'ENOENT' }, 'closing the last handle removes the lock');
  await rm(dir, { recursive: true, force: true });
});

t.test('a commit marker written by 0.1 whose state files did not all land is not a commit: the batch runs again', async (t) => {
  // 0.1 published a batch's state files and its commit marker together, so a crash could leave the marker alone.
  // This release publishes the marker after its state files and lists them in it; a 0.1 checkpoint keeps 0.1's reading.
  const entry = (n: number) => ({ batchWatermarkMs: 0, batchTimestampMs: n, conf: {}, sourceOffsets: [n] });
  const offsets = (n: number) => `v1\n{"batchWatermarkMs":0,"batchTimestampMs":${n},"conf":{}}\n${n}`;
  const state = (n: number) => JSON.stringify({ stage: 'X', version: 1, configuration: {}, state: { n } });
  const dir = t.testdir({
    metadata: '{"id":"q"}\n',
    offsets: { '0': offsets(0), '1': offsets(1) },
    commits: { '0': 'v1\n{"nextBatchWatermarkMs":0}', '1': 'v1\n{"nextBatchWatermarkMs":0}' },
    // A crash between the renames: commits/1 landed, state/0/0/2.json did not.
    state: { '0': { '0': { '1.json': state(0) } } },
  });
  const again = await Checkpoint.open(dir);
  const recovery = await again.recover();
  t.equal(recovery.lastCommitted?.batchId, 0);
  t.strictSame(await loaded(recovery.lastCommitted?.states['0']), [{ n: 0 }]);
  t.strictSame(recovery.pending, { batchId: 1, offsets: entry(1) });
  await again.close();
});

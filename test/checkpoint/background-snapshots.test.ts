/**
 * Snapshots written beside the micro-batches (issue 13, "without stopping
 * the batch"): a commit that brings a chain to `minDeltasForSnapshot`
 * deltas writes its delta and copies the state; the snapshot is written
 * after the commit, and only a commit after it is durable lists the chain
 * from it. A crash before that loses nothing; retention keeps whatever a
 * retained commit lists.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checkpoint, MIN_BATCHES_TO_RETAIN } from '../../lib/checkpoint/checkpoint.js';
import { barrier, type StateImage } from '../../lib/protocol.js';

/** A counter as incremental state: a delta adds what its batch added, a snapshot holds the total. */
class Counter {
  total = 0;
  added = 0;
  add(n: number): void {
    this.total += n;
    this.added += n;
  }
  handed() {
    const image = (kind: 'snapshot' | 'delta', value: number): StateImage => ({ stage: 'Counter', version: 1, configuration: {}, kind, partitions: [[{ value }]] });
    const added = this.added;
    this.added = 0;
    return { progress: null, delta: () => image('delta', added), snapshot: () => image('snapshot', this.total) };
  }
}

async function commitBatch(cp: Checkpoint, batchId: number, counter: Counter, n: number): Promise<void> {
  await cp.writeOffsets(batchId, { batchWatermarkMs: 0, batchTimestampMs: 0, conf: {}, sourceOffsets: [batchId] });
  counter.add(n);
  const b = barrier(batchId);
  b.state['0'] = counter.handed();
  await cp.commit(b);
}

async function listed(dir: string, batchId: number): Promise<string[]> {
  const text = await readFile(join(dir, 'commits', String(batchId)), 'utf8');
  return (JSON.parse(text.split('\n')[1]!) as { stateFiles: Record<string, Array<{ file: string }>> }).stateFiles['0']!.map((r) => r.file);
}

/** The total a restart loads: the snapshot, then each delta. */
async function recoveredTotal(dir: string): Promise<{ batchId: number; total: number }> {
  const cp = await Checkpoint.open(dir);
  try {
    const recovery = await cp.recover();
    let total = 0;
    await recovery.lastCommitted!.states['0']!.load({
      restore: (image) => void (total = ((image as StateImage).partitions[0]![0] as { value: number }).value),
      applyDelta: (image) => void (total += (image.partitions[0]![0] as { value: number }).value),
    });
    return { batchId: recovery.lastCommitted!.batchId, total };
  } finally {
    await cp.close();
  }
}

t.test('the commit that reaches minDeltasForSnapshot lists its delta; the snapshot is listed by the first commit after it is durable', async (t) => {
  const dir = t.testdir();
  const cp = await Checkpoint.open(dir);
  cp.minDeltasForSnapshot = 2;
  await cp.recover();
  const counter = new Counter();
  await commitBatch(cp, 0, counter, 1);
  await commitBatch(cp, 1, counter, 2);
  await commitBatch(cp, 2, counter, 3);
  t.strictSame(await listed(dir, 2), ['0/1.snapshot', '0/2.delta', '0/3.delta'], 'the chain reached 2 deltas: the commit lists the delta, not the snapshot it asked for');
  await cp.snapshotsWritten();
  t.ok((await readdir(join(dir, 'state', '0', '0'))).includes('3.snapshot'), 'the snapshot of version 3 is written, after the commit');
  await commitBatch(cp, 3, counter, 4);
  t.strictSame(await listed(dir, 3), ['0/3.snapshot', '0/4.delta'], 'the next commit lists the chain from it');
  await cp.close();
  t.strictSame(await recoveredTotal(dir), { batchId: 3, total: 10 });
});

t.test('a snapshot that cannot be written is a warning (ERR_CHECKPOINT_SNAPSHOT), not a silent loss: the deltas stay listed', async (t) => {
  const dir = t.testdir();
  const cp = await Checkpoint.open(dir);
  cp.minDeltasForSnapshot = 2;
  const warnings: Array<{ code: string; message: string }> = [];
  cp.on('warning', (w: { code: string; message: string }) => warnings.push(w));
  await cp.recover();
  const counter = new Counter();
  await commitBatch(cp, 0, counter, 1);
  await commitBatch(cp, 1, counter, 2);
  // A directory where the snapshot's file must go: its rename fails (as a full or failing disk would).
  await mkdir(join(dir, 'state', '0', '0', '3.snapshot'));
  await commitBatch(cp, 2, counter, 3);
  await cp.snapshotsWritten();
  t.equal(warnings.length, 1);
  t.equal(warnings[0]!.code, 'ERR_CHECKPOINT_SNAPSHOT');
  t.match(warnings[0]!.message, /^the snapshot of state operator 0 at version 3 could not be written \(.+\); its deltas stay listed/);
  await commitBatch(cp, 3, counter, 4);
  t.strictSame(await listed(dir, 3), ['0/1.snapshot', '0/2.delta', '0/3.delta', '0/4.delta'], 'the chain of deltas goes on');
  await cp.close();
  t.strictSame(await recoveredTotal(dir), { batchId: 3, total: 10 });
});

t.test('a snapshot written but not listed (the run stopped first) is not read: the restart reads the chain of deltas', async (t) => {
  const dir = t.testdir();
  const cp = await Checkpoint.open(dir);
  cp.minDeltasForSnapshot = 2;
  await cp.recover();
  const counter = new Counter();
  for (let b = 0; b < 3; b++) await commitBatch(cp, b, counter, b + 1);
  await cp.close();
  t.ok((await readdir(join(dir, 'state', '0', '0'))).includes('3.snapshot'), 'closing waits for the snapshot being written');
  t.strictSame(await recoveredTotal(dir), { batchId: 2, total: 6 });
  const again = await Checkpoint.open(dir);
  again.minDeltasForSnapshot = 2;
  await again.recover();
  const resumed = new Counter();
  resumed.total = 6;
  await commitBatch(again, 3, resumed, 4);
  t.strictSame(await listed(dir, 3), ['0/1.snapshot', '0/2.delta', '0/3.delta', '0/4.delta'], 'the new run continues the listed chain');
  await again.close();
  t.strictSame(await recoveredTotal(dir), { batchId: 3, total: 10 });
});

const checkpointModule = fileURLToPath(new URL('../../dist/checkpoint/checkpoint.js', import.meta.url));
const protocolModule = fileURLToPath(new URL('../../dist/protocol.js', import.meta.url));

t.test('SIGKILL right after the commit that starts a snapshot (the snapshot being written): the restart loads the same state', async (t) => {
  const dir = t.testdir();
  // Batches 0-2 (a snapshot every 2 deltas: commit 2 starts writing 3.snapshot), then the process kills itself.
  const code = `
const { Checkpoint } = await import(${JSON.stringify(checkpointModule)});
const { barrier } = await import(${JSON.stringify(protocolModule)});
const cp = await Checkpoint.open(${JSON.stringify(dir)});
cp.minDeltasForSnapshot = 2;
await cp.recover();
let total = 0;
for (let id = 0; id < 3; id++) {
  await cp.writeOffsets(id, { batchWatermarkMs: 0, batchTimestampMs: 0, conf: {}, sourceOffsets: [id] });
  total += id + 1;
  const image = (kind, value) => ({ stage: 'Counter', version: 1, configuration: {}, kind, partitions: [[{ value }]] });
  const b = barrier(id);
  const added = id + 1, whole = total;
  b.state['0'] = { progress: null, delta: () => image('delta', added), snapshot: () => image('snapshot', whole) };
  await cp.commit(b);
}
process.kill(process.pid, 'SIGKILL');
`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  t.strictSame([exitCode, signal], [null, 'SIGKILL']);
  t.strictSame(await listed(dir, 2), ['0/1.snapshot', '0/2.delta', '0/3.delta'], 'the last commit lists the deltas');
  t.strictSame(await recoveredTotal(dir), { batchId: 2, total: 6 }, 'nothing lost');
  const names = await readdir(join(dir, 'state', '0', '0'));
  t.notOk(names.some((n) => n.endsWith('.tmp')), 'what the killed write left is removed when the checkpoint opens');
});

t.test('retention keeps every state file a retained commit lists, and nothing older than the oldest of them', async (t) => {
  const dir = t.testdir();
  const cp = await Checkpoint.open(dir);
  cp.minDeltasForSnapshot = 3;
  await cp.recover();
  const counter = new Counter();
  const batches = MIN_BATCHES_TO_RETAIN + 30;
  for (let b = 0; b < batches; b++) {
    await commitBatch(cp, b, counter, 1);
    // Every few batches, the next commit finds the snapshot durable; otherwise it may still be being written.
    if (b % 4 === 0) await cp.snapshotsWritten();
  }
  await cp.close();
  const present = new Set((await readdir(join(dir, 'state', '0', '0'))).filter((n) => !n.startsWith('.')));
  const oldest = batches - MIN_BATCHES_TO_RETAIN;
  let floor = Infinity;
  for (let b = oldest; b < batches; b++) {
    const files = await listed(dir, b);
    for (const file of files) t.ok(present.has(file.slice(2)), `${file}, listed by commits/${b}, is kept`, { diagnostic: false });
    floor = Math.min(floor, Number(/^0\/(\d+)\./.exec(files[0]!)![1]));
  }
  t.ok(floor > 1, 'the oldest retained commit lists a chain from a later snapshot than the first');
  t.strictSame([...present].filter((n) => Number(n.split('.')[0]) < floor), [], 'no state file older than what the oldest retained commit lists');
  t.strictSame(await recoveredTotal(dir), { batchId: batches - 1, total: batches });
});

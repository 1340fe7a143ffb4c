/**
 * One process per checkpoint (issue 10, defect #3): taking the lock is
 * atomic, and taking over a stale lock is safe against a racing taker.
 *
 * Two starter processes run side by side; each round both are told at the
 * same moment to open the same checkpoint (a fresh directory per round), and
 * each answers while the winner still holds it. Two long-lived processes
 * rather than a new pair per round: the race is in `Checkpoint.open`, and 60
 * process start-ups would dominate the run time on a loaded machine.
 */
import t from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Checkpoint } from '../../lib/checkpoint/checkpoint.js';

const checkpointModule = fileURLToPath(new URL('../../dist/checkpoint/checkpoint.js', import.meta.url));

// `open <dir>` → opens it, answers `locked` (holding it until `close`, then answers `closed`) or the error's code.
const STARTER = `
const { Checkpoint } = await import(${JSON.stringify(checkpointModule)});
const { createInterface } = await import('node:readline');
let held = null;
process.stdout.write('ready\\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'close') {
    await held.close();
    held = null;
    process.stdout.write('closed\\n');
    continue;
  }
  try {
    held = await Checkpoint.open(line.slice('open '.length));
    process.stdout.write('locked\\n');
  } catch (err) {
    process.stdout.write((err.code ?? err.message) + '\\n');
  }
}
`;

interface Starter {
  child: ChildProcessWithoutNullStreams;
  next: () => Promise<string>;
}

function starter(): Starter {
  const child = spawn(process.execPath, ['--input-type=module', '-e', STARTER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, next: async () => String((await lines.next()).value) };
}

/** Runs `dirs.length` rounds of simultaneous starts by two processes; returns each round's outcomes, sorted. */
async function simultaneousStarts(dirs: readonly string[]): Promise<string[][]> {
  const pair = [starter(), starter()];
  let stderr = '';
  for (const s of pair) s.child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (const s of pair) if ((await s.next()) !== 'ready') throw new Error(`a starter failed: ${stderr}`);
    const rounds: string[][] = [];
    for (const dir of dirs) {
      for (const s of pair) s.child.stdin.write(`open ${dir}\n`);
      // Both answer while a winner still holds the lock: two `locked` would mean both held it at once.
      const outcomes = await Promise.all(pair.map((s) => s.next()));
      for (const [i, s] of pair.entries()) {
        if (outcomes[i] !== 'locked') continue;
        s.child.stdin.write('close\n');
        if ((await s.next()) !== 'closed') throw new Error(`a starter failed: ${stderr}`);
      }
      rounds.push(outcomes.sort());
    }
    if (stderr !== '') throw new Error(stderr);
    return rounds;
  } finally {
    for (const s of pair) s.child.stdin.end();
    await Promise.all(pair.map((s) => (s.child.exitCode === null ? once(s.child, 'exit') : null)));
  }
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

t.test('issue 10 #3: of 30 pairs of simultaneous starts on a fresh checkpoint, exactly one of each pair holds it; the other gets ERR_CHECKPOINT_LOCKED', async (t) => {
  const root = t.testdir();
  const outcomes = await simultaneousStarts(Array.from({ length: 30 }, (_, i) => join(root, `chk-${i}`)));
  t.strictSame(outcomes, Array.from({ length: 30 }, () => ['ERR_CHECKPOINT_LOCKED', 'locked']));
});

t.test('issue 10 #3: of 10 pairs of simultaneous starts on a checkpoint whose lock owner died, exactly one of each pair takes it over', async (t) => {
  const root = t.testdir();
  const pid = await deadPid();
  const dirs = Array.from({ length: 10 }, (_, i) => join(root, `chk-${i}`));
  for (const dir of dirs) {
    await mkdir(dir);
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z', token: 'stale' }) + '\n');
  }
  t.strictSame(await simultaneousStarts(dirs), Array.from({ length: 10 }, () => ['ERR_CHECKPOINT_LOCKED', 'locked']));
});

t.test('a taker that died holding the takeover mutex does not block the next one, and what it left is cleaned', async (t) => {
  const pid = await deadPid();
  const stale = JSON.stringify({ pid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z', token: 'stale' }) + '\n';
  const owner = JSON.stringify({ pid, hostname: hostname() });
  const dir = t.testdir({
    '.lock': stale,
    // Died after taking the mutex; another died before renaming its mutex into place, and one before linking its claim.
    '.lock.takeover': { [`owner.${pid}.00000000-0000-0000-0000-000000000000`]: owner },
    [`.lock.takeover.${pid}.00000000-0000-0000-0000-000000000001`]: { [`owner.${pid}.00000000-0000-0000-0000-000000000001`]: owner },
    [`.lock.${pid}.00000000-0000-0000-0000-000000000002.claim`]: stale,
  });
  const checkpoint = await Checkpoint.open(dir);
  t.match(JSON.parse(await readFile(join(dir, '.lock'), 'utf8')), { pid: process.pid });
  t.strictSame((await readdir(dir)).filter((n) => n.startsWith('.lock')), ['.lock'], 'only our lock is left');
  await checkpoint.close();
});

t.test('an empty lock file (an older release died while writing it) names no one and is taken over', async (t) => {
  const dir = t.testdir({ '.lock': '' });
  const checkpoint = await Checkpoint.open(dir);
  t.match(JSON.parse(await readFile(join(dir, '.lock'), 'utf8')), { pid: process.pid, hostname: hostname() });
  await checkpoint.close();
});

t.test('a lock held by a live process on another host is never taken over', async (t) => {
  const dir = t.testdir({ '.lock': JSON.stringify({ pid: 1, hostname: 'elsewhere.example', since: '2026-01-01T00:00:00.000Z' }) });
  await t.rejects(Checkpoint.open(dir), {
    code: 'ERR_CHECKPOINT_LOCKED',
    file: join(dir, '.lock'),
    message: `checkpoint ${dir} is in use by process 1 on elsewhere.example (since 2026-01-01T00:00:00.000Z): stop that query first, or delete ${join(dir, '.lock')} if it is gone`,
  });
});

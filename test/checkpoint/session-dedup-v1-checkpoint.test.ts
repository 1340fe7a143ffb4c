/**
 * Checkpoints of a session window and of a deduplication written while
 * their state was a whole snapshot every batch (format 1,
 * test/fixtures/checkpoints) keep restarting: the continuation gives exactly
 * what an uninterrupted run gives, and what is written after the upgrade
 * is incremental (deltas on top of the format-1 snapshot).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeClickstream, type ClickstreamOptions } from '../../lib/gen-clickstream.js';
import { withoutSummary } from '../cli/run-summary.js';
import { committedLines, installFixture } from './fixture-checkpoints.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/checkpoints', import.meta.url));
const SCHEMA = 'id string, time timestamp, user string, action string';

interface Case {
  readonly fixture: string;
  readonly input: ClickstreamOptions & { linesPerFile: number };
  readonly flags: readonly string[];
}

const CASES: readonly Case[] = [
  {
    fixture: 'session-window-v1',
    input: { users: 12, seed: 11, linesPerFile: 30 },
    flags: ['--group-by', 'user', '--session-window', '10 minutes', '--watermark', '30 minutes'],
  },
  {
    fixture: 'drop-duplicates-v1',
    input: { users: 12, seed: 11, linesPerFile: 30, duplicateFraction: 0.2 },
    flags: ['--drop-duplicates-within-watermark', 'id', '--watermark', '10 minutes'],
  },
];

/** Writes the clickstream's first `files` files into `root/in`, with the fixture's modification times. */
async function installInput(c: Case, root: string, files: number): Promise<number> {
  const all = join(root, 'all');
  await rm(all, { recursive: true, force: true });
  await writeClickstream(all, c.input);
  await mkdir(join(root, 'in'), { recursive: true });
  const names = (await readdir(all)).sort();
  for (const [i, name] of names.slice(0, files).entries()) {
    await rename(join(all, name), join(root, 'in', name));
    await utimes(join(root, 'in', name), 1_700_000_000 + i, 1_700_000_000 + i);
  }
  return names.length;
}

function run(c: Case, root: string, out: string, chk: string, drain: boolean): Promise<{ code: number; stderr: string }> {
  const args = [
    CLI, 'run', '--input', join(root, 'in'), '--schema', SCHEMA, ...c.flags, '--output-mode', 'append',
    '--output', out, '--checkpoint', chk, '--trigger', 'available-now', '--max-files-per-trigger', '1', ...(drain ? ['--drain'] : []),
  ];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { ...process.env, TZ: 'UTC' } }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr: withoutSummary(stderr) });
    });
  });
}

async function listedState(chk: string, batchId: number): Promise<string[]> {
  const text = await readFile(join(chk, 'commits', String(batchId)), 'utf8');
  const entry = JSON.parse(text.slice(text.indexOf('\n') + 1)) as { stateFiles: Record<string, Array<{ file: string }>> };
  return entry.stateFiles['0']!.map((r) => r.file);
}

for (const c of CASES) {
  t.test(`${c.fixture}: a restart of a whole-state checkpoint, then of the deltas written on top of it, gives the output of an uninterrupted run`, async (t) => {
    const root = t.testdir();
    await installFixture(join(FIXTURES, c.fixture), root, { placeholder: '@ROOT@', replacement: root, sidecars: true });
    t.strictSame(await listedState(join(root, 'chk'), 5), ['0/6.snapshot'], 'the fixture holds a whole state, as a snapshot');
    const before = (await committedLines(join(root, 'out'))).length;
    const files = await installInput(c, root, 8);
    t.ok(files > 8, 'files remain for the second restart');
    const first = await run(c, root, join(root, 'out'), join(root, 'chk'), false);
    t.strictSame(first, { code: 0, stderr: '' });
    t.strictSame(await listedState(join(root, 'chk'), 8), ['0/6.snapshot', '0/7.delta', '0/8.delta', '0/9.delta'], 'the batches after the upgrade wrote deltas on the old snapshot');
    await installInput(c, root, files);
    const second = await run(c, root, join(root, 'out'), join(root, 'chk'), true);
    t.strictSame(second, { code: 0, stderr: '' });

    const base = join(root, 'baseline');
    await installInput(c, base, files);
    t.strictSame(await run(c, base, join(base, 'out'), join(base, 'chk'), true), { code: 0, stderr: '' });
    const expected = await committedLines(join(base, 'out'));
    t.ok(expected.length > before, 'the continuation emits more rows');
    t.strictSame(await committedLines(join(root, 'out')), expected);
  });
}

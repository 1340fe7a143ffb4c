/**
 * `tidemark run --session-window`, `--drop-duplicates` and
 * `--drop-duplicates-within-watermark` on a generated clickstream: the
 * output equals a plain batch computation over the events, with and without
 * SIGKILLs and restarts; the flags' usage errors name them.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeClickstream, type ClickEvent } from '../../lib/gen-clickstream.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { withoutSummary } from './run-summary.js';
import { mulberry32 as prng } from '../../lib/core/prng.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };
const SCHEMA = 'id string, time timestamp, user string, action string';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tidemark(args: readonly string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 16 << 20, env: ENV }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

async function outputRows(dir: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for await (const { text } of readCommittedJsonLines(dir)) if (text.length > 0) rows.push(JSON.parse(text) as Record<string, unknown>);
  return rows;
}

const iso = (s: number): string => new Date(s * 1000).toISOString();

/** The batch computation: per user, events in time order, a new session when the next event comes more than `gapS` after the last. */
function batchSessions(events: readonly ClickEvent[], gapS: number): string[] {
  const byUser = new Map<string, number[]>();
  for (const e of events) (byUser.get(e.user) ?? byUser.set(e.user, []).get(e.user)!).push(e.time);
  const out: string[] = [];
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    let first = times[0]!;
    let last = first;
    let count = 0;
    for (const time of times) {
      if (time > last + gapS) {
        out.push(`${user}|${iso(first)}|${iso(last + gapS)}|${count}`);
        first = time;
        count = 0;
      }
      last = time;
      count++;
    }
    out.push(`${user}|${iso(first)}|${iso(last + gapS)}|${count}`);
  }
  return out.sort();
}

/** The batch count of distinct ids per (action, hour). */
function batchDistinctCounts(events: readonly ClickEvent[]): string[] {
  const ids = new Map<string, Set<string>>();
  for (const e of events) {
    const start = Math.floor(e.time / 3600) * 3600;
    const key = `${e.action}|${iso(start)}|${iso(start + 3600)}`;
    (ids.get(key) ?? ids.set(key, new Set()).get(key)!).add(e.id);
  }
  return [...ids].map(([key, set]) => `${key}|${set.size}`).sort();
}

const sessionText = (rows: ReadonlyArray<Record<string, unknown>>): string[] =>
  rows
    .map((r) => {
      const w = r['session_window'] as { start: string; end: string };
      return `${String(r['user'])}|${new Date(w.start).toISOString()}|${new Date(w.end).toISOString()}|${String(r['count'])}`;
    })
    .sort();

const windowText = (rows: ReadonlyArray<Record<string, unknown>>): string[] =>
  rows
    .map((r) => {
      const w = r['window'] as { start: string; end: string };
      return `${String(r['action'])}|${new Date(w.start).toISOString()}|${new Date(w.end).toISOString()}|${String(r['count'])}`;
    })
    .sort();

function sessionArgs(input: string, out: string, chk: string): string[] {
  return [
    'run',
    '--input', input,
    '--schema', SCHEMA,
    '--group-by', 'user',
    '--session-window', '10 minutes',
    '--watermark', '30 minutes',
    '--output-mode', 'append',
    '--output', out,
    '--checkpoint', chk,
    '--trigger', 'available-now',
    '--max-files-per-trigger', '1',
    '--drain',
  ];
}

function dedupArgs(input: string, out: string, chk: string): string[] {
  return [
    'run',
    '--input', input,
    '--schema', SCHEMA,
    '--drop-duplicates-within-watermark', 'id',
    '--group-by', 'action',
    '--window', '1 hour',
    '--watermark', '10 minutes',
    '--output-mode', 'append',
    '--output', out,
    '--checkpoint', chk,
    '--trigger', 'available-now',
    '--max-files-per-trigger', '1',
    '--drain',
  ];
}

const root = t.testdir();
const clicks = await writeClickstream(join(root, 'clicks'), { users: 60, seed: 3, linesPerFile: 100 });
const doubled = await writeClickstream(join(root, 'doubled'), { users: 60, seed: 3, linesPerFile: 100, duplicateFraction: 0.1 });

t.test('--session-window: 60 users, bursts 0–120 s apart, 20–60 minutes between bursts: exactly the batch sessions', async (t) => {
  const dir = t.testdir();
  const r = await tidemark(sessionArgs(join(root, 'clicks'), join(dir, 'out'), join(dir, 'chk')));
  t.equal(r.code, 0);
  t.equal(withoutSummary(r.stderr), '');
  const expected = batchSessions(clicks.events, 600);
  t.equal(expected.length, 240, 'one session per burst: 60 users × 4 bursts');
  t.strictSame(sessionText(await outputRows(join(dir, 'out'))), expected, 'start = first event, end = last + gap, count');
});

t.test('--drop-duplicates-within-watermark id: 10 % of events delivered twice, counted once per (action, window)', async (t) => {
  const dir = t.testdir();
  t.ok(doubled.delivered.length > doubled.events.length * 1.05, `${doubled.delivered.length - doubled.events.length} of ${doubled.events.length} events delivered twice`);
  const r = await tidemark(dedupArgs(join(root, 'doubled'), join(dir, 'out'), join(dir, 'chk')));
  t.equal(r.code, 0);
  t.equal(withoutSummary(r.stderr), '');
  t.strictSame(windowText(await outputRows(join(dir, 'out'))), batchDistinctCounts(doubled.events));
});

t.test('without the deduplication the same query counts the redeliveries', async (t) => {
  const dir = t.testdir();
  const args = dedupArgs(join(root, 'doubled'), join(dir, 'out'), join(dir, 'chk'));
  args.splice(args.indexOf('--drop-duplicates-within-watermark'), 2);
  t.equal((await tidemark(args)).code, 0);
  const total = (rows: string[]): number => rows.reduce((n, r) => n + Number(r.split('|')[3]), 0);
  t.equal(total(windowText(await outputRows(join(dir, 'out')))), doubled.delivered.length);
});

t.test('--drop-duplicates alone writes the rows let through, each id once', async (t) => {
  const dir = t.testdir();
  const r = await tidemark([
    'run', '--input', join(root, 'doubled'), '--schema', SCHEMA, '--drop-duplicates', 'id', '--output-mode', 'append',
    '--output', join(dir, 'out'), '--checkpoint', join(dir, 'chk'), '--trigger', 'available-now',
  ]);
  t.equal(r.code, 0);
  const ids = (await outputRows(join(dir, 'out'))).map((row) => row['id'] as string);
  t.equal(ids.length, doubled.events.length);
  t.equal(new Set(ids).size, ids.length);
});

const USAGE_CASES: Array<[string, (args: string[]) => string[], string]> = [
  ['--window and --session-window together', (a) => [...a, '--window', '1 hour'], 'flags --window and --session-window cannot be used together'],
  ['--slide with a session window', (a) => [...a, '--slide', '5 minutes'], 'flag --slide needs --window (a session window has none)'],
  [
    'both deduplication flags',
    (a) => [...a, '--drop-duplicates', 'id', '--drop-duplicates-within-watermark', 'id'],
    'flags --drop-duplicates and --drop-duplicates-within-watermark cannot be used together',
  ],
  ['* among other columns', (a) => [...a, '--drop-duplicates', '*,id'], 'flag --drop-duplicates: * stands for every column, list no other'],
  [
    '--drop-duplicates-within-watermark without --watermark',
    (a) => [...a.filter((x, i) => x !== '--watermark' && a[i - 1] !== '--watermark'), '--drop-duplicates-within-watermark', 'id'],
    'flag --drop-duplicates-within-watermark needs --watermark',
  ],
  ['--group-by without a window', (a) => [...a.filter((x, i) => x !== '--session-window' && a[i - 1] !== '--session-window'), '--drop-duplicates', 'id'], 'flag --group-by needs --window or --session-window'],
];

for (const [what, edit, message] of USAGE_CASES) {
  t.test(`usage error: ${what}`, async (t) => {
    const dir = t.testdir();
    const r = await tidemark(edit(sessionArgs(join(root, 'clicks'), join(dir, 'out'), join(dir, 'chk'))));
    t.equal(r.code, 2);
    t.equal(r.stderr, `tidemark: ${message}\nRun 'tidemark run --help' for usage.\n`);
  });
}

t.test('a gap the session window cannot take is a usage error naming the flag and the fix', async (t) => {
  const dir = t.testdir();
  const r = await tidemark(sessionArgs(join(root, 'clicks'), join(dir, 'out'), join(dir, 'chk')).map((a) => (a === '10 minutes' ? '1 month' : a)));
  t.equal(r.code, 2);
  t.equal(r.stderr, `tidemark: --session-window: "1 month" has months or years, which have no fixed length; write it in days, e.g. "30 days"\nRun 'tidemark run --help' for usage.\n`);
});

t.test('--session-window in update mode is refused with Spark message', async (t) => {
  const dir = t.testdir();
  const r = await tidemark(sessionArgs(join(root, 'clicks'), join(dir, 'out'), join(dir, 'chk')).map((a) => (a === 'append' ? 'update' : a)));
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    'tidemark: Update output mode not supported for session window on streaming DataFrames/DataSets (code ERR_SESSION_WINDOW_UPDATE_MODE)\n' +
      '  session windows take --output-mode append (with --watermark) or --output-mode complete\n',
  );
});

// ------------------------------------------------------------------------------------------------
// SIGKILL and restart


async function committedBatches(chk: string): Promise<number> {
  try {
    return (await readdir(join(chk, 'commits'))).filter((f) => /^\d+$/.test(f)).length;
  } catch {
    return 0;
  }
}

/** Runs the CLI; SIGKILLs it once the checkpoint has committed `killAfter` batches, if it is still running then. */
function runKilled(args: readonly string[], chk: string, killAfter: number | null): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let done = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (killAfter !== null) {
      void (async () => {
        while (!done && (await committedBatches(chk)) < killAfter) await new Promise((r) => setTimeout(r, 2));
        if (!done) child.kill('SIGKILL');
      })();
    }
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal, stderr });
    });
  });
}

for (const [name, args, read] of [
  ['--session-window', sessionArgs, sessionText],
  ['--drop-duplicates-within-watermark then --window', dedupArgs, windowText],
] as const) {
  t.test(`${name}: SIGKILL after a seeded number of committed batches, restarts until exit 0: the output of an uninterrupted run`, async (t) => {
    const input = join(root, name.startsWith('--session') ? 'clicks' : 'doubled');
    const dir = t.testdir();
    const baseline = await runKilled(args(input, join(dir, 'out-baseline'), join(dir, 'chk-baseline')), join(dir, 'chk-baseline'), null);
    t.equal(baseline.code, 0);
    const total = await committedBatches(join(dir, 'chk-baseline'));
    const expected = read(await outputRows(join(dir, 'out-baseline')));
    const random = prng(name.length);
    const out = join(dir, 'out');
    const chk = join(dir, 'chk');
    const killedAt: number[] = [];
    for (let start = 0; ; start++) {
      // Kill points move forward through the run: every restart resumes, then dies a few batches later.
      const killAfter = start < 5 ? Math.min(total - 1, (await committedBatches(chk)) + 1 + Math.floor(random() * 4)) : null;
      const exit = await runKilled(args(input, out, chk), chk, killAfter);
      if (exit.signal === 'SIGKILL') {
        killedAt.push(await committedBatches(chk));
        continue;
      }
      t.equal(exit.code, 0, `start ${start} ends by itself with exit 0`);
      t.equal(withoutSummary(exit.stderr), '');
      break;
    }
    t.comment(`batches committed at each kill: ${killedAt.join(', ')} (of ${total})`);
    t.ok(killedAt.some((n) => n > 0 && n < total), 'some kills landed mid-run');
    t.strictSame(read(await outputRows(out)), expected, 'the same rows, none twice');
  });
}

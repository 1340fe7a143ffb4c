/**
 * Exactly-once output across crashes: `tidemark run` is killed with SIGKILL
 * at random points (seeded delays) and restarted from its checkpoint until it
 * exits 0; the committed output must then hold exactly the rows of an
 * uninterrupted run — same counts, no (action, window) row twice.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset } from '../../lib/gen.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { withoutSummary } from './run-summary.js';
import { mulberry32 as prng } from '../../lib/core/prng.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };


interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

/** When to send SIGKILL: after a delay, or once the checkpoint has committed `batches` micro-batches. */
type Kill = { afterMs: number } | { chk: string; batches: number };

/** Runs the CLI; with `kill`, sends SIGKILL at that point if it is still running. */
function run(args: readonly string[], kill?: Kill): Promise<Exit> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let done = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (kill !== undefined && 'afterMs' in kill) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    if (kill !== undefined && 'chk' in kill) {
      const poll = async (): Promise<void> => {
        while (!done && (await committedBatches(kill.chk)) < kill.batches) await new Promise((r) => setTimeout(r, 5));
        if (!done) child.kill('SIGKILL');
      };
      void poll();
    }
    child.on('close', (code, signal) => {
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve({ code, signal, stderr, ms: performance.now() - started });
    });
  });
}

function queryArgs(input: string, out: string, chk: string): string[] {
  return [
    'run',
    '--input', input,
    '--schema', 'time timestamp, action string',
    '--group-by', 'action',
    '--window', '5 minutes',
    '--watermark', '10 minutes',
    '--output-mode', 'append',
    '--output', out,
    '--checkpoint', chk,
    '--trigger', 'available-now',
    '--max-files-per-trigger', '1',
    '--drain',
  ];
}

/** Micro-batches committed in a checkpoint so far. */
async function committedBatches(chk: string): Promise<number> {
  try {
    return (await readdir(join(chk, 'commits'))).filter((f) => /^\d+$/.test(f)).length;
  } catch {
    return 0;
  }
}

/** Committed rows as `action|start|end|count` strings, sorted (a multiset). */
async function committedRows(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for await (const { text } of readCommittedJsonLines(dir)) {
    if (text.length === 0) continue;
    const r = JSON.parse(text) as { action: string; window: { start: string; end: string }; count: number };
    rows.push(`${r.action}|${r.window.start}|${r.window.end}|${r.count}`);
  }
  return rows.sort();
}

const ROUNDS = [
  { seed: 11, kills: 6 },
  { seed: 23, kills: 6 },
  { seed: 37, kills: 6 },
];

t.test('SIGKILL at random points, restarts until exit 0: the output equals an uninterrupted run', async (t) => {
  const root = t.testdir();
  const input = join(root, 'in');
  await generateDataset(input, { files: 24, lines: 250, seed: 42 });

  const startup = await run(['--version']);
  const baseline = await run(queryArgs(input, join(root, 'out-baseline'), join(root, 'chk-baseline')));
  const totalBatches = await committedBatches(join(root, 'chk-baseline'));
  t.comment(`start-up ${Math.round(startup.ms)} ms, whole run ${Math.round(baseline.ms)} ms, ${totalBatches} batches`);
  t.equal(baseline.code, 0, 'the uninterrupted run succeeds');
  t.equal(withoutSummary(baseline.stderr), '');
  const expected = await committedRows(join(root, 'out-baseline'));
  t.ok(expected.length > 40, 'the query emits windows over many batches');
  const keys = expected.map((r) => r.split('|').slice(0, 3).join('|'));
  t.equal(new Set(keys).size, keys.length, 'the baseline has one row per (action, window)');

  let totalKills = 0;
  let midRunKills = 0;
  for (const { seed, kills } of ROUNDS) {
    await t.test(`round with seed ${seed}`, async (t) => {
      const random = prng(seed);
      const out = join(root, `out-${seed}`);
      const chk = join(root, `chk-${seed}`);
      const args = queryArgs(input, out, chk);
      const progressAtKills: number[] = [];
      let killed = 0;
      let starts = 0;
      for (;;) {
        starts++;
        // The first kill lands right after a seeded number of committed batches (so always mid-run), the
        // next ones after a seeded delay between start-up and most of a whole run; after `kills` kills, it finishes.
        const kill: Kill | undefined =
          killed === 0
            ? { chk, batches: 1 + Math.floor(random() * (totalBatches - 2)) }
            : killed < kills
              ? { afterMs: Math.round(startup.ms + random() * 0.8 * (baseline.ms - startup.ms)) }
              : undefined;
        const exit = await run(args, kill);
        if (exit.signal === 'SIGKILL') {
          killed++;
          progressAtKills.push(await committedBatches(chk));
          continue;
        }
        t.equal(exit.code, 0, `start ${starts} ends by itself with exit 0`);
        t.equal(withoutSummary(exit.stderr), '', `start ${starts} reports nothing but its summary`);
        break;
      }
      totalKills += killed;
      t.comment(`batches committed at each kill: ${progressAtKills.join(', ')} (of ${totalBatches})`);
      midRunKills += progressAtKills.filter((n) => n > 0 && n < totalBatches).length;
      const rows = await committedRows(out);
      t.same(rows, expected, `the same rows after ${killed} kills and ${starts} starts`);
      const rowKeys = rows.map((r) => r.split('|').slice(0, 3).join('|'));
      t.equal(new Set(rowKeys).size, rowKeys.length, 'no (action, window) row twice');
    });
  }
  t.ok(totalKills > 0, 'runs were killed');
  t.ok(midRunKills > 0, 'some kills landed after a committed batch, before the end');
});

/**
 * Incremental checkpoints survive SIGKILL (issue 13): a query whose state
 * is written as deltas with a snapshot every few (so most kills land near a
 * delta or a snapshot write) is killed at seeded random moments — some
 * right after it starts, while it recovers its state from a snapshot and
 * deltas — and restarted until it ends by itself; its committed output is
 * then exactly an uninterrupted run's. For windowed counts, session windows
 * and deduplication.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset } from '../../lib/gen.js';
import { writeClickstream } from '../../lib/gen-clickstream.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { mulberry32 as prng } from '../../lib/core/prng.js';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));


/** A query of the test: its input, stages (code over the built library's exports) and snapshot interval. */
interface CrashQuery {
  readonly name: string;
  readonly write: (dir: string) => Promise<unknown>;
  readonly schema: string;
  readonly stages: string;
  readonly minDeltasForSnapshot: number;
  readonly seeds: readonly number[];
}

const CLICKS = 'id string, time timestamp, user string, action string';

const QUERIES: readonly CrashQuery[] = [
  {
    name: 'windowed count',
    write: (dir) => generateDataset(dir, { files: 16, lines: 200, seed: 5 }),
    schema: 'time timestamp, action string',
    stages: `new Watermark({ eventTime: 'time', delay: '10 minutes' }), new Window({ timeColumn: 'time', duration: '5 minutes' }), new KeyedCount({ groupBy: ['action', 'window'] })`,
    minDeltasForSnapshot: 2,
    seeds: [3, 8],
  },
  {
    name: 'session window',
    write: (dir) => writeClickstream(dir, { users: 30, seed: 4, linesPerFile: 50 }),
    schema: CLICKS,
    stages: `new Watermark({ eventTime: 'time', delay: '30 minutes' }), new SessionWindow({ timeColumn: 'time', gap: '10 minutes', groupBy: ['user'], aggregates: 'count, max(time) AS last' })`,
    minDeltasForSnapshot: 3,
    seeds: [5],
  },
  {
    name: 'deduplication within the watermark',
    write: (dir) => writeClickstream(dir, { users: 30, seed: 4, linesPerFile: 50, duplicateFraction: 0.1 }),
    schema: CLICKS,
    stages: `new Watermark({ eventTime: 'time', delay: '10 minutes' }), new DropDuplicates({ columns: ['id'], withinWatermark: true })`,
    minDeltasForSnapshot: 3,
    seeds: [6],
  },
];

/** The query, in a process of its own (the built library): one file a micro-batch, a snapshot every few deltas, a drain at the end. */
function script(q: CrashQuery, input: string, out: string, chk: string): string {
  return `
const { startQuery, FileSource, ParseSchema, Watermark, Window, KeyedCount, SessionWindow, DropDuplicates, CheckpointSink, StreamingQueryManager } = await import(${JSON.stringify(DIST)});
const query = await startQuery({
  source: new FileSource({ path: ${JSON.stringify(input)}, framing: 'chunks', maxFilesPerTrigger: 1 }),
  stages: [new ParseSchema({ schema: ${JSON.stringify(q.schema)}, timeZone: 'UTC', workers: 0 }), ${q.stages}],
  sink: new CheckpointSink({ path: ${JSON.stringify(out)}, timeZone: 'UTC' }),
  checkpointLocation: ${JSON.stringify(chk)},
  outputMode: 'append',
  trigger: 'availableNow',
  drain: true,
  minDeltasForSnapshot: ${q.minDeltasForSnapshot},
  manager: new StreamingQueryManager(),
});
await query.awaitTermination();
`;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

function run(code: string, killAfterMs?: number): Promise<Exit> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (exitCode, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ code: exitCode, signal, stderr, ms: performance.now() - started });
    });
  });
}

async function committedRows(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for await (const { text } of readCommittedJsonLines(dir)) if (text.length > 0) rows.push(text);
  return rows.sort();
}

async function stateFiles(chk: string): Promise<string[]> {
  try {
    return await readdir(join(chk, 'state', '0', '0'));
  } catch {
    return [];
  }
}

/** The longest chain (snapshot, then deltas) a commit of `chk` lists for operator 0. */
async function longestChain(chk: string): Promise<string[]> {
  let longest: string[] = [];
  for (const name of (await readdir(join(chk, 'commits'))).filter((n) => /^\d+$/.test(n))) {
    const text = await readFile(join(chk, 'commits', name), 'utf8');
    const files = (JSON.parse(text.slice(text.indexOf('\n') + 1)) as { stateFiles?: Record<string, Array<{ file: string }>> }).stateFiles?.['0']?.map((r) => r.file) ?? [];
    if (files.length > longest.length) longest = files;
  }
  return longest;
}

for (const q of QUERIES) {
  t.test(`${q.name}: SIGKILL during delta and snapshot writes and during recovery: the output equals an uninterrupted run`, async (t) => {
    const root = t.testdir();
    const input = join(root, 'in');
    await q.write(input);
    const startup = await run('');
    const baseline = await run(script(q, input, join(root, 'out-baseline'), join(root, 'chk-baseline')));
    t.equal(baseline.code, 0, 'the uninterrupted run succeeds');
    t.equal(baseline.stderr, '');
    const expected = await committedRows(join(root, 'out-baseline'));
    t.ok(expected.length > 20, 'the query emits rows over many batches');
    const names = await stateFiles(join(root, 'chk-baseline'));
    t.ok(names.some((n) => n.endsWith('.snapshot')) && names.some((n) => n.endsWith('.delta')), 'the run wrote snapshots and deltas');
    t.equal((await longestChain(join(root, 'chk-baseline'))).length, q.minDeltasForSnapshot + 1, `a restart replays up to ${q.minDeltasForSnapshot} deltas on a snapshot`);

    for (const seed of q.seeds) {
      await t.test(`seed ${seed}`, async (t) => {
        const random = prng(seed);
        const out = join(root, `out-${seed}`);
        const chk = join(root, `chk-${seed}`);
        const code = script(q, input, out, chk);
        let kills = 0;
        let early = 0;
        for (let starts = 1; ; starts++) {
          // Every other restart is killed soon after node is up, while it recovers; the others anywhere in a run.
          const recovering = kills > 0 && kills % 2 === 1;
          const killAfterMs = kills >= 6 ? undefined : recovering ? startup.ms + random() * 150 : startup.ms + random() * (baseline.ms - startup.ms);
          const exit = await run(code, killAfterMs);
          if (exit.signal === 'SIGKILL') {
            kills++;
            if (recovering) early++;
            continue;
          }
          t.equal(exit.code, 0, `start ${starts} ends by itself`);
          t.equal(exit.stderr, '', `start ${starts} reports nothing`);
          break;
        }
        t.comment(`${kills} kills, ${early} of them soon after a start`);
        t.strictSame(await committedRows(out), expected, 'the same rows, none twice');
      });
    }
  });
}

/**
 * Two builds of tidemark on the notebook's query, interleaved: is a change
 * slower? Runs `node <cli> run …` (the `tidemark` scenario's command) with
 * the baseline's `cli.js` and this tree's `dist/cli.js` alternately, a fresh
 * checkpoint and output per run, checks that both wrote the data set's
 * counts, and prints each pair and the median of `wall(baseline) /
 * wall(candidate)` (above 1: the candidate is faster).
 *
 * ```sh
 * git worktree add /tmp/base <commit> && (cd /tmp/base && ln -s "$PWD/node_modules" . && npx tsc -p tsconfig.build.json)
 * npm run build && npx tsc -p tsconfig.bench.json
 * node dist-bench/paired-cli.js --baseline /tmp/base/dist/cli.js --runs 7 [--slide "10 minutes"] [--files 20 --lines 200000]
 * ```
 *
 * Pairs alternate which build goes first, so a slow moment of the machine
 * hits both alike.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI, DATA_DEFAULTS, WINDOW_SECONDS, diffCounts, flags, intFlag, median } from './common.js';
import { ensureDataSet, expectedSliding, expectedTumbling, warmPageCache } from './data.js';
import { readTidemarkOutput, tidemarkArgs } from './scenarios/tidemark.js';

const { values } = flags(process.argv.slice(2), {
  baseline: { type: 'string' },
  candidate: { type: 'string' },
  runs: { type: 'string' },
  files: { type: 'string' },
  lines: { type: 'string' },
  slide: { type: 'string' },
});
if (typeof values.baseline !== 'string') {
  process.stderr.write('paired-cli: --baseline PATH/TO/dist/cli.js is required\n');
  process.exit(2);
}
const baseline = resolve(values.baseline);
const candidate = typeof values.candidate === 'string' ? resolve(values.candidate) : CLI;
const runs = intFlag(values.runs, 'runs', 5);
const slide = typeof values.slide === 'string' ? values.slide : undefined;
const data = await ensureDataSet({ files: intFlag(values.files, 'files', DATA_DEFAULTS.files), lines: intFlag(values.lines, 'lines', DATA_DEFAULTS.lines) });
await warmPageCache(data.files);
const expected = slide === undefined ? expectedTumbling(data.panes) : expectedSliding(data.panes);

async function timeRun(cli: string): Promise<number> {
  const runDir = await mkdtemp(join(tmpdir(), 'tidemark-paired-'));
  try {
    const started = process.hrtime.bigint();
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn(process.execPath, tidemarkArgs(data.dir, runDir, { cli, ...(slide === undefined ? {} : { slide }) }), { stdio: ['ignore', 'ignore', 'inherit'] });
      child.once('error', fail);
      child.once('exit', (c) => done(c));
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (code !== 0) throw new Error(`${cli} exited with ${code}`);
    const output = await readTidemarkOutput(join(runDir, 'output'), WINDOW_SECONDS);
    const diff = diffCounts(expected, output.counts);
    if (output.duplicates > 0 || output.badRows > 0 || !diff.equal) {
      throw new Error(`${cli}: wrong output (${output.duplicates} duplicates, ${output.badRows} bad rows, ${diff.differing} groups differ: ${diff.examples.join('; ')})`);
    }
    return wallMs;
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

process.stdout.write(`${data.events} events, ${runs} pairs${slide === undefined ? '' : `, slide ${slide}`}\nbaseline  ${baseline}\ncandidate ${candidate}\n`);
const ratios: number[] = [];
for (let i = 0; i < runs; i++) {
  const order = i % 2 === 0 ? [baseline, candidate] : [candidate, baseline];
  const walls = new Map<string, number>();
  for (const cli of order) walls.set(cli, await timeRun(cli));
  const ratio = walls.get(baseline)! / walls.get(candidate)!;
  ratios.push(ratio);
  process.stdout.write(`pair ${i + 1}: baseline ${walls.get(baseline)!.toFixed(0)} ms, candidate ${walls.get(candidate)!.toFixed(0)} ms, ratio ${ratio.toFixed(3)}\n`);
}
process.stdout.write(`median wall(baseline)/wall(candidate): ${median(ratios).toFixed(3)} (above 1: the candidate is faster)\n`);

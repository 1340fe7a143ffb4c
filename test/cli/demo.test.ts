/**
 * `tidemark demo`: generate, run the notebook's query, show its output —
 * in process, with a sentence before each step.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateLines } from '../../lib/gen.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tidemark(args: readonly string[], cwd?: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 16 << 20, env: ENV, ...(cwd === undefined ? {} : { cwd }) }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

t.test('narrates three steps and ends with the show table of the output', async (t) => {
  const dir = join(t.testdir(), 'demo');
  const r = await tidemark(['demo', '--dir', dir]);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  const show = await tidemark(['show', join(dir, 'output'), '--truncate', 'false']);
  t.equal(show.code, 0);
  t.ok(r.stdout.endsWith(`show(truncate=False) prints it:\n\n${show.stdout}`), 'the table of show --truncate false closes the demo');
  const steps = r.stdout.split('\n').filter((l) => /^\d\. /.test(l));
  t.equal(steps.length, 3);
  t.match(steps[0], /^1\. Generating the input: 10 files of 2000 JSON events .* in .*input\.$/);
  t.match(steps[1], /^2\. Running the notebook's query: count events per action and 1-hour window, with a 2-hour watermark, in append mode, /);
  t.match(steps[2], /^3\. Reading .*output back as spark\.read\.json\(\.\.\.\)\.show\(truncate=False\) prints it:$/);
  t.match(r.stdout, new RegExp(`\\n   wrote 10 files, 20000 events, \\d+ bytes to ${join(dir, 'input').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  t.match(r.stdout, /\n   done: \d+ micro-batches, 20000 input rows\.\n/);
});

t.test('its output counts every generated event once per action and hour', async (t) => {
  const dir = join(t.testdir(), 'demo');
  t.equal((await tidemark(['demo', '--dir', dir])).code, 0);
  const expected = new Map<string, number>();
  for (const line of generateLines({ files: 10, lines: 2000, seed: 1 })) {
    const { time, action } = JSON.parse(line) as { time: number; action: string };
    const key = `${action}|${new Date(Math.floor(time / 3600) * 3600_000).toISOString()}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const actual = new Map<string, number>();
  for await (const { text } of readCommittedJsonLines(join(dir, 'output'))) {
    if (text.length === 0) continue;
    const row = JSON.parse(text) as { action: string; window: { start: string }; count: number };
    const key = `${row.action}|${new Date(row.window.start).toISOString()}`;
    t.notOk(actual.has(key), `one row for ${key}`);
    actual.set(key, row.count);
  }
  t.same([...actual].sort(), [...expected].sort());
});

t.test('defaults to ./tidemark-demo and replaces an earlier demo directory', async (t) => {
  const cwd = t.testdir();
  t.equal((await tidemark(['demo'], cwd)).code, 0);
  await writeFile(join(cwd, 'tidemark-demo', 'leftover.txt'), 'x');
  const r = await tidemark(['demo'], cwd);
  t.equal(r.code, 0);
  t.same((await readdir(join(cwd, 'tidemark-demo'))).sort(), ['.tidemark-demo', 'checkpoint', 'input', 'output']);
});

t.test('refuses to remove a non-empty directory it did not make', async (t) => {
  const dir = join(t.testdir(), 'precious');
  await mkdir(dir);
  await writeFile(join(dir, 'thesis.tex'), 'keep me');
  const r = await tidemark(['demo', '--dir', dir]);
  t.equal(r.code, 1);
  t.equal(r.stderr, `tidemark: refusing to remove ${dir}: it is not empty and was not made by tidemark demo (code ERR_INVALID_OPTION)\n`);
  t.equal(await readFile(join(dir, 'thesis.tex'), 'utf8'), 'keep me');
});

t.test('runs in process: the demo module does not spawn processes', async (t) => {
  const source = await readFile(fileURLToPath(new URL('../../lib/cli/demo.ts', import.meta.url)), 'utf8');
  t.notMatch(source, /child_process/);
  t.match(source, /from '\.\/gen\.js'/);
  t.match(source, /from '\.\/run\.js'/);
  t.match(source, /from '\.\/show\.js'/);
});

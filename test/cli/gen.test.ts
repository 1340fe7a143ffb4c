/**
 * `tidemark gen DIR`: writes the synthetic data set and prints one summary line.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateLines, GEN_DEFAULTS } from '../../lib/gen.js';
import { iotLines } from '../../lib/gen-iot.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tidemark(args: readonly string[], cwd?: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 16 << 20, ...(cwd === undefined ? {} : { cwd }) }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

async function totalBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
  return n;
}

t.test('writes N files of N lines and prints files, events and bytes', async (t) => {
  const dir = join(t.testdir(), 'data');
  const r = await tidemark(['gen', dir, '--files', '3', '--lines', '50', '--seed', '7']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.same(await readdir(dir), ['part-00000.json', 'part-00001.json', 'part-00002.json']);
  t.equal(r.stdout, `wrote 3 files, 150 events, ${await totalBytes(dir)} bytes to ${dir}\n`);
});

t.test('the files hold the generator lines for the seed, in order', async (t) => {
  const dir = join(t.testdir(), 'data');
  await tidemark(['gen', dir, '--files', '2', '--lines', '4', '--seed', '3']);
  const text = (await readFile(join(dir, 'part-00000.json'), 'utf8')) + (await readFile(join(dir, 'part-00001.json'), 'utf8'));
  t.equal(text, [...generateLines({ files: 2, lines: 4, seed: 3 })].map((l) => l + '\n').join(''));
});

t.test('--kind iot writes the IoT readings for the seed', async (t) => {
  const dir = join(t.testdir(), 'data');
  const r = await tidemark(['gen', dir, '--kind', 'iot', '--files', '2', '--lines', '40', '--seed', '3']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `wrote 2 files, 80 events, ${await totalBytes(dir)} bytes to ${dir}\n`);
  const text = (await readFile(join(dir, 'part-00000.json'), 'utf8')) + (await readFile(join(dir, 'part-00001.json'), 'utf8'));
  t.equal(text, [...iotLines({ files: 2, lines: 40, seed: 3 })].map((l) => l + '\n').join(''));
});

t.test('--kind takes notebook or iot', async (t) => {
  const r = await tidemark(['gen', join(t.testdir(), 'data'), '--kind', 'sensors']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: --kind: 'sensors' is not one of notebook or iot\nRun 'tidemark gen --help' for usage.\n");
});

t.test('defaults: 10 files of 1000 lines', async (t) => {
  const dir = join(t.testdir(), 'data');
  const r = await tidemark(['gen', dir]);
  t.equal(r.code, 0);
  t.equal((await readdir(dir)).length, GEN_DEFAULTS.files);
  t.equal(r.stdout, `wrote ${GEN_DEFAULTS.files} files, ${GEN_DEFAULTS.files * GEN_DEFAULTS.lines} events, ${await totalBytes(dir)} bytes to ${dir}\n`);
});

t.test('a relative DIR is resolved against the working directory', async (t) => {
  const cwd = t.testdir();
  const r = await tidemark(['gen', 'rel', '--files', '1', '--lines', '1'], cwd);
  t.equal(r.code, 0);
  t.equal(r.stdout, `wrote 1 file, 1 events, ${await totalBytes(join(cwd, 'rel'))} bytes to ${join(cwd, 'rel')}\n`);
});

t.test('the same seed writes the same bytes', async (t) => {
  const root = t.testdir();
  await tidemark(['gen', join(root, 'a'), '--files', '2', '--lines', '30', '--seed', '11']);
  await tidemark(['gen', join(root, 'b'), '--files', '2', '--lines', '30', '--seed', '11']);
  for (const f of ['part-00000.json', 'part-00001.json']) {
    t.equal(await readFile(join(root, 'b', f), 'utf8'), await readFile(join(root, 'a', f), 'utf8'), f);
  }
});

t.test('DIR is required', async (t) => {
  const r = await tidemark(['gen']);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.equal(r.stderr, "tidemark: missing the data set directory DIR\nRun 'tidemark gen --help' for usage.\n");
});

t.test('a count that is not an integer is a usage error', async (t) => {
  const r = await tidemark(['gen', join(t.testdir(), 'data'), '--files', 'many']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: --files: 'many' is not an integer; write e.g. --files 10\nRun 'tidemark gen --help' for usage.\n");
});

t.test('a flag without its value is a usage error', async (t) => {
  const r = await tidemark(['gen', join(t.testdir(), 'data'), '--lines']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: flag --lines needs a value\nRun 'tidemark gen --help' for usage.\n");
});

t.test('a count the generator refuses is a tidemark error with exit 1', async (t) => {
  const r = await tidemark(['gen', join(t.testdir(), 'data'), '--files', '0']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, "tidemark: Invalid value '0' for option 'files', must be a positive integer (code ERR_INVALID_OPTION)\n");
});

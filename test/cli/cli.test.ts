/**
 * The `tidemark` entry point: top-level help and version, dispatch, usage
 * errors, and the help of every command listing every flag.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUN_USAGE } from '../../lib/cli/run.js';
import { SHOW_USAGE } from '../../lib/cli/show.js';
import { GEN_USAGE } from '../../lib/cli/gen.js';
import { DEMO_USAGE } from '../../lib/cli/demo.js';
import { PUBLISH_USAGE } from '../../lib/cli/publish.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tidemark(args: readonly string[], nodeArgs: readonly string[] = []): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, CLI, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

t.test('--help prints the command list on stdout and exits 0', async (t) => {
  const r = await tidemark(['--help']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.match(r.stdout, /^Usage: tidemark <command> \[flags\]\n/);
  for (const command of ['run', 'publish', 'show', 'gen', 'demo']) t.match(r.stdout, new RegExp(`\\n  ${command} `), `lists ${command}`);
  t.equal((await tidemark(['-h'])).stdout, r.stdout, '-h is --help');
});

t.test('--help loads no module but the entry point', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'hooks.mjs'), "export async function load(url, context, next) { if (url.startsWith('file:')) process.stderr.write('LOADED ' + url + '\\n'); return next(url, context); }\n");
  await writeFile(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  const r = await tidemark(['--help'], ['--import', join(dir, 'register.mjs')]);
  t.equal(r.code, 0);
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => fileURLToPath(l.slice('LOADED '.length)));
  t.same(loaded, [CLI]);
});

t.test('without a command it prints the usage on stderr and exits 2', async (t) => {
  const r = await tidemark([]);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^Usage: tidemark <command> \[flags\]\n/);
});

t.test('an unknown command is a usage error', async (t) => {
  const r = await tidemark(['frobnicate']);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.equal(r.stderr, "tidemark: unknown command 'frobnicate'\nRun 'tidemark --help' for the list of commands.\n");
});

t.test('an unknown top-level flag is a usage error', async (t) => {
  const r = await tidemark(['--frobnicate']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: unknown flag '--frobnicate'\nRun 'tidemark --help' for the list of commands.\n");
});

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  const r = await tidemark(['--version']);
  t.equal(r.code, 0);
  t.equal(r.stdout, `${pkg.version}\n`);
  t.equal(r.stderr, '');
});

t.test('-v is --version, and the version comes from the package whatever the working directory', async (t) => {
  const pkg = JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  const r = await new Promise<Result>((resolve) => {
    execFile(process.execPath, [CLI, '-v'], { cwd: t.testdir() }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
  t.equal(r.code, 0);
  t.equal(r.stdout, `${pkg.version}\n`);
  t.equal(r.stderr, '');
});

const HELP: Record<string, { usage: string; flags: string[] }> = {
  run: {
    usage: RUN_USAGE,
    flags: [
      '--input', '--schema', '--group-by', '--window', '--slide', '--start-time', '--event-time', '--watermark', '--output-mode',
      '--checkpoint', '--output', '--console', '--trigger', '--max-files-per-trigger', '--max-file-age', '--latest-first',
      '--ignore-missing-files', '--drain', '--time-zone', '--mode', '--name', '--progress', '--help',
      '--partitions', '--max-offsets-per-trigger', '--starting-offsets',
      '--session-window', '--drop-duplicates', '--drop-duplicates-within-watermark',
    ],
  },
  publish: { usage: PUBLISH_USAGE, flags: ['--to', '--partitions', '--key', '--replicas', '--max-in-flight', '--connect-timeout', '--help'] },
  show: { usage: SHOW_USAGE, flags: ['--truncate', '-n', '--num-rows', '--time-zone', '--help'] },
  gen: { usage: GEN_USAGE, flags: ['--files', '--lines', '--seed', '--help'] },
  demo: { usage: DEMO_USAGE, flags: ['--dir', '--help'] },
};

for (const [command, { usage, flags }] of Object.entries(HELP)) {
  t.test(`${command} --help prints its usage, listing every flag, and exits 0`, async (t) => {
    const r = await tidemark([command, '--help']);
    t.equal(r.code, 0);
    t.equal(r.stderr, '');
    t.equal(r.stdout, usage);
    t.match(r.stdout, new RegExp(`^Usage: tidemark ${command}`));
    for (const flag of flags) t.ok(new RegExp(`(^|[\\s,(\\[])${flag}[\\s=,]`).test(r.stdout), `lists ${flag}`);
  });

  t.test(`${command} refuses an unknown flag with exit 2`, async (t) => {
    const r = await tidemark([command, '--bogus']);
    t.equal(r.code, 2);
    t.equal(r.stdout, '');
    t.equal(r.stderr, `tidemark: unknown flag '--bogus'\nRun 'tidemark ${command} --help' for usage.\n`);
  });
}

t.test('the installed bin is executable: ./node_modules/.bin/tidemark --help', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../node_modules/.bin/tidemark', import.meta.url));
  const { stdout } = await promisify(execFile)(bin, ['--help']);
  t.match(stdout, /^Usage: tidemark <command> \[flags\]/);
});

/**
 * Issue 10, defect 15: errors lost their codes on the way out — every
 * runtime failure reached the CLI as `ERR_QUERY_FAILED`. The CLI now prints
 * the failure's own code and message, the input line for a record, the path
 * for an error from the OS, and exits 1.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TidemarkError } from '../../lib/errors.js';
import { describeFailure } from '../../lib/cli/failure.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tidemark(args: readonly string[], user?: { uid: number; gid: number }): Promise<Result> {
  return new Promise((resolve) => {
    // Another user's process cannot write the test runner's coverage files: it runs without the
    // runner's NODE_OPTIONS (which the runner adds to every child it sees started, hence env -u).
    const [file, argv] = user === undefined ? [process.execPath, [CLI, ...args]] : ['/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args]];
    execFile(file, argv, { env: ENV, ...user }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

function runArgs(input: string, output: string, checkpoint: string, extra: readonly string[] = []): string[] {
  return ['run', '--input', input, '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour', '--watermark', '2 hours', '--output-mode', 'append', '--output', output, '--checkpoint', checkpoint, '--trigger', 'available-now', ...extra];
}

async function inputDir(root: string): Promise<string> {
  const input = join(root, 'in');
  await mkdir(input);
  await writeFile(join(input, 'a.json'), '{"time":0,"action":"Open"}\n{"time":1,"action":\n');
  return input;
}

t.test('defect 15: a FAILFAST malformed record is reported with its own code and its file:line, exit 1', async (t) => {
  const root = t.testdir();
  const input = await inputDir(root);
  const r = await tidemark(runArgs(input, join(root, 'out'), join(root, 'chk'), ['--mode', 'FAILFAST']));
  t.equal(r.code, 1);
  const file = join(input, 'a.json');
  t.equal(
    r.stderr,
    'tidemark: query failed: [MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: {"time":1,"action":. ' +
      "Parse Mode: FAILFAST. To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'. " +
      `(${file}, line 2) (code ERR_MALFORMED_RECORD, at ${file}:2)\n`,
  );
});

t.test('defect 15: an output directory that cannot be made is reported with the OS error, its code and the path', async (t) => {
  // A regular file where a directory is expected: a real ENOTDIR, met while the query runs (the sink opens its log).
  const root = t.testdir({ file: '' });
  const input = await inputDir(root);
  const output = join(root, 'file', 'out');
  const r = await tidemark(runArgs(input, output, join(root, 'chk')));
  t.equal(r.code, 1);
  const path = join(output, '_spark_metadata');
  t.equal(r.stderr, `tidemark: query failed: ENOTDIR: not a directory, mkdir '${path}' (code ENOTDIR, path ${path})\n`);
});

t.test('defect 15: an output directory without write permission is reported as EACCES with the path', async (t) => {
  const root = t.testdir();
  await chmod(root, 0o755);
  const input = await inputDir(root);
  const output = join(root, 'out');
  await mkdir(output);
  await chmod(output, 0o555);
  const checkpoint = join(root, 'chk');
  await mkdir(checkpoint);
  await chmod(checkpoint, 0o777);
  // Root may write anywhere: as root, the CLI runs as `nobody` (uid 65534) for a real EACCES.
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? { uid: 65534, gid: 65534 } : undefined;
  // Not possible everywhere: no right to change user (some containers), or a checkout `nobody` cannot read.
  if (asRoot && (await tidemark(['--version'], user)).code !== 0) {
    t.comment('`nobody` cannot run tidemark from this checkout: EACCES not checked');
    return;
  }
  const r = await tidemark(runArgs(input, output, checkpoint), user);
  t.equal(r.code, 1);
  const path = join(output, '_spark_metadata');
  t.equal(r.stderr, `tidemark: query failed: EACCES: permission denied, mkdir '${path}' (code EACCES, path ${path})\n`);
});

t.test('defect 15: a checkpoint that cannot be made is refused at start with the OS error, its code and the path', async (t) => {
  const root = t.testdir({ file: '' });
  const input = await inputDir(root);
  const checkpoint = join(root, 'file', 'chk');
  const r = await tidemark(runArgs(input, join(root, 'out'), checkpoint));
  t.equal(r.code, 1);
  t.equal(r.stderr, `tidemark: ENOTDIR: not a directory, mkdir '${checkpoint}' (code ENOTDIR, path ${checkpoint})\n`);
});

t.test('defect 15: a disk-full write names the file, though the OS message does not', async (t) => {
  // ENOSPC cannot be made for real here; this is the error Node gives for a write to an open
  // file, with the path the atomic writer adds to it.
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write', path: '/data/out/part-00000.json' });
  const failed = new TidemarkError('ERR_QUERY_FAILED', '[STREAM_FAILED] Query [id = q, runId = r] terminated with exception: ENOSPC: no space left on device, write', { cause: enospc });
  t.strictSame(describeFailure(failed), { text: 'query failed: ENOSPC: no space left on device, write (code ENOSPC, path /data/out/part-00000.json)', code: 'ENOSPC', hint: null });
});

t.test("defect 15: a failure without a code of its own keeps the query's code", async (t) => {
  const failed = new TidemarkError('ERR_QUERY_FAILED', '[STREAM_FAILED] … boom', { cause: new Error('boom') });
  t.strictSame(describeFailure(failed), { text: 'query failed: boom (code ERR_QUERY_FAILED)', code: 'ERR_QUERY_FAILED', hint: null });
  t.strictSame(describeFailure(new TidemarkError('ERR_INVALID_OPTION', 'bad', { option: 'x' })), { text: 'bad (code ERR_INVALID_OPTION)', code: 'ERR_INVALID_OPTION', hint: null });
});

/**
 * `tidemark run`'s input handling (issue 10: defects 2, 4, 6, 7, 8, 9): a
 * missing --input, globs, compressed files, --max-file-age, --latest-first,
 * --ignore-missing-files, --output inside --input, a checkpoint of another
 * --input.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { withoutSummary } from './run-summary.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };
const DAY_MS = 86_400_000;
const T0 = 1_600_000_000_000;

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

function runArgs(input: string, output: string, checkpoint: string, extra: readonly string[] = []): string[] {
  return [
    'run',
    '--input', input,
    '--schema', 'time timestamp, action string',
    '--group-by', 'action',
    '--window', '1 hour',
    '--watermark', '2 hours',
    '--output-mode', 'append',
    '--output', output,
    '--checkpoint', checkpoint,
    '--trigger', 'available-now',
    '--drain',
    ...extra,
  ];
}

/** `action count` per committed output row, sorted. */
async function counts(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { text } of readCommittedJsonLines(dir)) {
    if (text.length === 0) continue;
    const row = JSON.parse(text) as { action: string; window: { start: string }; count: number };
    out.push(`${row.action} ${row.window.start} ${row.count}`);
  }
  return out.sort();
}

async function place(path: string, content: string | Buffer, mtimeMs: number): Promise<void> {
  const hidden = join(dirname(path), '.' + basename(path));
  await writeFile(hidden, content);
  await utimes(hidden, new Date(mtimeMs), new Date(mtimeMs));
  await rename(hidden, path);
}

const events = (action: string, ...seconds: number[]): string => seconds.map((s) => JSON.stringify({ time: s, action }) + '\n').join('');

t.test('defect 2 (missing input): tidemark run --input of a missing path exits 1 with PATH_NOT_FOUND and creates nothing', async (t) => {
  const root = t.testdir({});
  const r = await tidemark(runArgs(join(root, 'nope'), join(root, 'out'), join(root, 'chk')));
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.equal(
    r.stderr,
    `tidemark: [PATH_NOT_FOUND] Path does not exist: file:${join(root, 'nope')}. (code ERR_PATH_NOT_FOUND)\n` +
      '  --input names no file or directory: check the path (tidemark gen DIR writes a sample data set)\n',
  );
  t.strictSame(await readdir(root), [], 'no checkpoint, no output');
});

t.test('defect 2 (globs): tidemark run reads the files a glob --input matches', async (t) => {
  const root = t.testdir({ logs: { '2016-01': {}, '2016-02': {}, '2017-01': {} } });
  await writeFile(join(root, 'logs', '2016-01', 'a.json'), events('Open', 0, 1));
  await writeFile(join(root, 'logs', '2016-02', 'b.json'), events('Open', 2));
  await writeFile(join(root, 'logs', '2016-02', 'b.txt'), events('Open', 3));
  await writeFile(join(root, 'logs', '2017-01', 'c.json'), events('Open', 4));
  const r = await tidemark(runArgs(join(root, 'logs', '2016-*', '*.json'), join(root, 'out'), join(root, 'chk')));
  t.equal(r.code, 0, r.stderr);
  t.strictSame(await counts(join(root, 'out')), ['Open 1970-01-01T00:00:00.000Z 3']);
});

t.test('defect 6 (compressed input): tidemark run counts the events of .json.gz and .json.deflate files', async (t) => {
  const root = t.testdir({ in: {} });
  // Large enough for several reads, so decompressed chunks are cut into lines and sent to the count workers.
  const lines = Array.from({ length: 40_000 }, (_, i) => JSON.stringify({ time: i % 7200, action: i % 3 === 0 ? 'Close' : 'Open' }) + '\n').join('');
  await writeFile(join(root, 'in', 'a.json.gz'), gzipSync(lines));
  await writeFile(join(root, 'in', 'b.json.deflate'), deflateSync(lines));
  await writeFile(join(root, 'in', 'c.json'), lines);
  const r = await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk')));
  t.equal(r.code, 0, r.stderr);
  const expected = new Map<string, number>();
  for (let i = 0; i < 40_000; i++) {
    const key = `${i % 3 === 0 ? 'Close' : 'Open'} 1970-01-01T0${i % 7200 < 3600 ? 0 : 1}:00:00.000Z`;
    expected.set(key, (expected.get(key) ?? 0) + 3);
  }
  t.strictSame(await counts(join(root, 'out')), [...expected].map(([k, n]) => `${k} ${n}`).sort(), 'each file counted in full, once');
});

t.test('defect 6 (compressed input): tidemark run refuses a .bz2 file naming it and the codec', async (t) => {
  const root = t.testdir({ in: { 'a.json.bz2': 'BZh91AY&SY' } });
  const r = await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk')));
  t.equal(r.code, 1);
  t.match(r.stderr, `cannot read ${join(root, 'in', 'a.json.bz2')}: it is bzip2-compressed (.bz2), and tidemark reads only .gz (gzip) and .deflate (zlib) compressed input`);
  t.notOk(existsSync(join(root, 'out', '_spark_metadata', '0')), 'nothing written');
});

t.test('defect 7 (files skipped by age): tidemark run warns on stderr when files are skipped; --max-file-age reads them', async (t) => {
  const root = t.testdir({ in: {} });
  const input = join(root, 'in');
  const args = (extra: readonly string[] = []): string[] => runArgs(input, join(root, 'out'), join(root, 'chk'), extra).filter((a) => a !== '--drain');
  await place(join(input, 'a.json'), events('Open', 0), T0);
  await place(join(input, 'b.json'), events('Open', 1), T0 + 10 * DAY_MS);
  const first = await tidemark(args());
  t.equal(first.code, 0, first.stderr);
  t.equal(withoutSummary(first.stderr), '');
  await place(join(input, 'late.json'), events('Open', 2), T0 + DAY_MS);
  const second = await tidemark(args());
  t.equal(second.code, 0);
  t.equal(
    withoutSummary(second.stderr),
    `tidemark: warning: 1 new file skipped by maxFileAge, modified before ${new Date(T0 + 3 * DAY_MS).toISOString()} ` +
      `(the newest file seen, ${new Date(T0 + 10 * DAY_MS).toISOString()}, minus maxFileAge): ${join(input, 'late.json')}. ` +
      'To read them, run again with a larger --max-file-age (option maxFileAge)\n',
  );
  const third = await tidemark([...args(['--max-file-age', '30d', '--progress'])]);
  t.equal(third.code, 0);
  t.match(third.stderr, /^batch 1: 1 input row,/m, 'late.json is read');
  t.notMatch(third.stderr, /warning/);
});

t.test('defect 7 (files skipped by age): --latest-first reads the newest files first', async (t) => {
  const root = t.testdir({ in: {} });
  const input = join(root, 'in');
  await place(join(input, 'old.json'), events('Open', 0), T0);
  await place(join(input, 'new.json'), events('Open', 1, 2), T0 + 10 * DAY_MS);
  const r = await tidemark(runArgs(input, join(root, 'out'), join(root, 'chk'), ['--latest-first', '--max-files-per-trigger', '1', '--progress']));
  t.equal(r.code, 0, r.stderr);
  t.strictSame([...r.stderr.matchAll(/^batch (\d+): (\d+) input rows?,/gm)].map((m) => `${m[1]}:${m[2]}`), ['0:2', '1:1', '2:0']);
});

t.test('--max-file-age takes a Spark time string: anything else is a usage error showing the units', async (t) => {
  const root = t.testdir({ in: {} });
  const r = await tidemark(runArgs(join(root, 'in'), join(root, 'out'), join(root, 'chk'), ['--max-file-age', '2 days']));
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: --max-file-age: '2 days' is not an age; write a number and a unit, e.g. 7d, 12h or 30m\nRun 'tidemark run --help' for usage.\n");
  t.strictSame(await readdir(root), ['in']);
});

t.test('defect 8 (vanished file): a file gone after planning fails naming it, the batch and --ignore-missing-files, which then skips it', async (t) => {
  const root = t.testdir({ in: {} });
  const input = join(root, 'in');
  const args = (extra: readonly string[] = []): string[] => runArgs(input, join(root, 'out'), join(root, 'chk'), ['--mode', 'FAILFAST', ...extra]);
  await place(join(input, 'a.json'), events('Open', 0, 1), T0);
  await place(join(input, 'bad.json'), 'not json\n', T0 + 1000);
  const failed = await tidemark(args());
  t.equal(failed.code, 1);
  t.match(failed.stderr, /MALFORMED_RECORD/);
  await rm(join(input, 'bad.json'));
  const wedged = await tidemark(args());
  t.equal(wedged.code, 1);
  t.match(
    wedged.stderr,
    `[FAILED_READ_FILE.FILE_NOT_EXIST] ${join(input, 'bad.json')} of batch 0 does not exist: it was listed when the batch was planned and removed before it was read. Put it back, or run again with --ignore-missing-files (option ignoreMissingFiles) to skip it`,
  );
  const skipped = await tidemark(args(['--ignore-missing-files']));
  t.equal(skipped.code, 0);
  t.equal(withoutSummary(skipped.stderr), `tidemark: warning: ignored missing file ${join(input, 'bad.json')} of batch 0 (ignoreMissingFiles): it was planned but no longer exists, so its rows are not read\n`);
  t.strictSame(await counts(join(root, 'out')), ['Open 1970-01-01T00:00:00.000Z 2']);
});

t.test('defect 9 (output inside input): --output equal to or inside --input exits 1 naming both, and creates nothing', async (t) => {
  const root = t.testdir({ in: {} });
  for (const [input, output, expectedInput, expectedOutput, how] of [
    ['in', 'in', join(root, 'in'), join(root, 'in'), 'inside'],
    ['in', 'in/out', join(root, 'in'), join(root, 'in', 'out'), 'inside'],
    ['./in/', './in/sub/../out', join(root, 'in'), join(root, 'in', 'out'), 'inside'],
    ['in/*', 'in/out', join(root, 'in', '*'), join(root, 'in', 'out'), 'matched by'],
  ] as const) {
    const r = await tidemark(runArgs(input, output, 'chk'), root);
    t.equal(r.code, 1, `${output} in ${input}`);
    t.equal(
      r.stderr,
      `tidemark: the output directory ${expectedOutput} is ${how} the input path ${expectedInput}: each batch would read the one before's output as new input, forever. Write the output outside the input (code ERR_OUTPUT_INSIDE_INPUT)\n`,
    );
    t.strictSame(await readdir(root), ['in'], 'no checkpoint');
    t.strictSame(await readdir(join(root, 'in')), [], 'no output');
  }
});

t.test('defect 4 (checkpoint of another input): a checkpoint used with another --input is refused naming both paths', async (t) => {
  const root = t.testdir({ a: { 'x.json': events('Open', 0) }, b: { 'y.json': events('Open', 1) } });
  const first = await tidemark(runArgs(join(root, 'a'), join(root, 'out'), join(root, 'chk')));
  t.equal(first.code, 0, first.stderr);
  const second = await tidemark(runArgs(join(root, 'b'), join(root, 'out'), join(root, 'chk')));
  t.equal(second.code, 1);
  t.match(second.stderr, `the query changed since the checkpoint was written: FileSource path was ${JSON.stringify(join(root, 'a'))}, is now ${JSON.stringify(join(root, 'b'))}`);
  t.strictSame(await counts(join(root, 'out')), ['Open 1970-01-01T00:00:00.000Z 1'], 'nothing of b was counted');
});

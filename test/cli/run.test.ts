/**
 * `tidemark run`: the notebook's query from the command line — flags,
 * output, progress lines, exit statuses, graceful stop on SIGTERM.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset, generateLines } from '../../lib/gen.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };
const SCHEMA = 'time timestamp, action string';
/** Only the summary line `run` ends with, on every stderr (its figures are tested in explain.test.ts). */
const SUMMARY_ONLY = /^tidemark: \d+ micro-batch(?:es)?: read [^\n]*\n$/;

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

/** Committed output lines, parsed. */
async function outputRows(dir: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const { text } of readCommittedJsonLines(dir)) if (text.length > 0) rows.push(JSON.parse(text) as Record<string, unknown>);
  return rows;
}

/** `action|start|end` → count, from output rows. */
function countsOf(rows: readonly Record<string, unknown>[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) {
    const w = r['window'] as { start: string; end: string };
    const key = `${String(r['action'])}|${new Date(w.start).toISOString()}|${new Date(w.end).toISOString()}`;
    if (m.has(key)) throw new Error(`two rows for ${key}`);
    m.set(key, r['count'] as number);
  }
  return m;
}

/** The counts the notebook's query must produce for a generated data set, windows of `sizeS` seconds sliding by `slideS`. */
function expectedCounts(options: { files: number; lines: number; seed: number }, sizeS = 3600, slideS = sizeS): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of generateLines(options)) {
    const { time, action } = JSON.parse(line) as { time: number; action: string };
    for (let start = Math.floor(time / slideS) * slideS; start > time - sizeS; start -= slideS) {
      const key = `${action}|${new Date(start * 1000).toISOString()}|${new Date((start + sizeS) * 1000).toISOString()}`;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return m;
}

const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

function notebookArgs(root: string, extra: readonly string[] = []): string[] {
  return [
    'run',
    '--input', join(root, 'in'),
    '--schema', SCHEMA,
    '--group-by', 'action',
    '--window', '1 hour',
    '--watermark', '2 hours',
    '--output-mode', 'append',
    '--output', join(root, 'out'),
    '--checkpoint', join(root, 'chk'),
    '--trigger', 'available-now',
    '--drain',
    ...extra,
  ];
}

const DATA = { files: 4, lines: 400, seed: 5 };

t.test('available-now with --drain counts every event once per action and window, then exits 0', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), DATA);
  const r = await tidemark(notebookArgs(root));
  t.equal(r.code, 0);
  t.equal(r.stdout, '');
  t.match(r.stderr, SUMMARY_ONLY, 'no progress when stderr is not a terminal, only the summary');
  t.same(sorted(countsOf(await outputRows(join(root, 'out')))), sorted(expectedCounts(DATA)));
});

t.test('the output columns are the grouping columns, then window, then count', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 1, lines: 20, seed: 1 });
  t.equal((await tidemark(notebookArgs(root))).code, 0);
  const rows = await outputRows(join(root, 'out'));
  t.ok(rows.length > 0);
  for (const row of rows) t.same(Object.keys(row), ['action', 'window', 'count']);
});

t.test('--group-by may be repeated or comma-separated', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(
    join(root, 'in', 'a.json'),
    ['{"time":3600,"action":"Open","device":"a"}', '{"time":3700,"action":"Open","device":"b"}', '{"time":3800,"action":"Open","device":"a"}', ''].join('\n'),
  );
  const base = ['run', '--input', join(root, 'in'), '--schema', `${SCHEMA}, device string`, '--window', '1 hour', '--watermark', '0 seconds', '--output-mode', 'append', '--trigger', 'available-now', '--drain'];
  const repeated = await tidemark([...base, '--group-by', 'action', '--group-by', 'device', '--output', join(root, 'o1'), '--checkpoint', join(root, 'c1')]);
  const commas = await tidemark([...base, '--group-by', 'action, device', '--output', join(root, 'o2'), '--checkpoint', join(root, 'c2')]);
  t.equal(repeated.code, 0);
  t.equal(commas.code, 0);
  const expected = [
    { action: 'Open', device: 'a', window: { start: '1970-01-01T01:00:00.000Z', end: '1970-01-01T02:00:00.000Z' }, count: 2 },
    { action: 'Open', device: 'b', window: { start: '1970-01-01T01:00:00.000Z', end: '1970-01-01T02:00:00.000Z' }, count: 1 },
  ];
  const byDevice = (rows: Record<string, unknown>[]): Record<string, unknown>[] => [...rows].sort((a, b) => String(a['device']).localeCompare(String(b['device'])));
  const o1 = byDevice(await outputRows(join(root, 'o1')));
  t.same(o1, expected);
  for (const row of o1) t.same(Object.keys(row), ['action', 'device', 'window', 'count']);
  t.same(byDevice(await outputRows(join(root, 'o2'))), expected);
});

t.test('--slide makes sliding windows: an event counts in every window that holds it', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), DATA);
  const r = await tidemark(notebookArgs(root, ['--slide', '30 minutes']));
  t.equal(r.code, 0);
  t.same(sorted(countsOf(await outputRows(join(root, 'out')))), sorted(expectedCounts(DATA, 3600, 1800)));
});

t.test('--start-time shifts the windows', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), '{"time":3600,"action":"Open"}\n');
  const r = await tidemark(notebookArgs(root, ['--start-time', '15 minutes']));
  t.equal(r.code, 0);
  t.same(await outputRows(join(root, 'out')), [{ action: 'Open', window: { start: '1970-01-01T00:15:00.000Z', end: '1970-01-01T01:15:00.000Z' }, count: 1 }]);
});

t.test('--event-time names the event-time column', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), '{"ts":7200,"action":"Click"}\n');
  const args = notebookArgs(root, ['--event-time', 'ts']).map((a) => (a === SCHEMA ? 'ts timestamp, action string' : a));
  const r = await tidemark(args);
  t.equal(r.code, 0);
  t.same(await outputRows(join(root, 'out')), [{ action: 'Click', window: { start: '1970-01-01T02:00:00.000Z', end: '1970-01-01T03:00:00.000Z' }, count: 1 }]);
});

t.test('--time-zone renders the output timestamps in that zone, as in the notebook', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), '{"time":1469500200,"action":"Scroll"}\n');
  const r = await tidemark(notebookArgs(root, ['--time-zone', 'Asia/Kolkata']));
  t.equal(r.code, 0);
  t.same(await outputRows(join(root, 'out')), [
    { action: 'Scroll', window: { start: '2016-07-26T07:30:00.000+05:30', end: '2016-07-26T08:30:00.000+05:30' }, count: 1 },
  ]);
});

t.test('--progress prints one line per micro-batch on stderr', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 3, lines: 100, seed: 2 });
  const r = await tidemark(notebookArgs(root, ['--max-files-per-trigger', '1', '--progress']));
  t.equal(r.code, 0);
  const lines = r.stderr.split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.match(lines.pop(), /^tidemark: \d+ micro-batches: /, 'then the summary');
  const pattern = /^batch (\d+): (\d+) input rows?, \d+(\.\d)? rows\/s, watermark (\S+), state (\d+) groups?, dropped (\d+) late groups?$/;
  for (const line of lines) t.match(line, pattern);
  const parsed = lines.map((l) => pattern.exec(l)!);
  t.same(parsed.map((m) => Number(m[1])), lines.map((_, i) => i), 'batch ids 0, 1, 2…');
  t.same(parsed.slice(0, 3).map((m) => Number(m[2])), [100, 100, 100], 'one file per data batch');
  t.equal(parsed.reduce((n, m) => n + Number(m[2]), 0), 300, 'every row once');
  t.equal(parsed[0]![4], '1970-01-01T00:00:00.000Z', 'the first batch runs with watermark 0');
  t.equal(parsed[parsed.length - 1]![5], '0', 'the drain batch leaves no state');
});

t.test('--progress-json appends each micro-batch\'s progress to the file as one line of Spark\'s JSON', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 3, lines: 100, seed: 2 });
  const file = join(root, 'progress.jsonl');
  const r = await tidemark(notebookArgs(root, ['--max-files-per-trigger', '1', '--progress-json', file, '--name', 'clicks']));
  t.equal(r.code, 0);
  t.match(r.stderr, SUMMARY_ONLY, 'stderr keeps only the summary');
  const text = await readFile(file, 'utf8');
  t.ok(text.endsWith('\n'), 'every line ends with a newline');
  const progress = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  t.same(progress.map((p) => p['batchId']), progress.map((_, i) => i), 'every batch once, in order');
  t.same(progress.slice(0, 3).map((p) => p['numInputRows']), [100, 100, 100], 'one file per data batch');
  t.same(progress.slice(3).map((p) => p['numInputRows']), progress.slice(3).map(() => 0), 'then batches that only move the watermark, and the drain');
  t.same(Object.keys(progress[0]!).slice(0, 4), ['id', 'runId', 'name', 'timestamp'], "Spark's field order");
  t.equal(progress[0]!['name'], 'clicks');
  t.equal(progress.at(-1)!['stateOperators'][0]['numRowsTotal'], 0, 'the drain leaves no state');
});

t.test('--progress-json appends: a restarted query continues the same file', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 2, lines: 50, seed: 4 });
  const file = join(root, 'progress.jsonl');
  const args = ['run', '--input', join(root, 'in'), '--schema', SCHEMA, '--group-by', 'action', '--window', '1 hour', '--watermark', '2 hours', '--output-mode', 'append', '--output', join(root, 'out'), '--checkpoint', join(root, 'chk'), '--trigger', 'available-now', '--progress-json', file];
  t.equal((await tidemark(args)).code, 0);
  const first = (await readFile(file, 'utf8')).trimEnd().split('\n').length;
  await generateDataset(join(root, 'in'), { files: 3, lines: 50, seed: 4 });
  t.equal((await tidemark(args)).code, 0);
  const progress = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { batchId: number; numInputRows: number });
  t.ok(progress.length > first, 'the second run appended');
  t.same(progress.map((p) => p.batchId), progress.map((_, i) => i), 'the second run continues the batch ids of the first');
  t.equal(progress.slice(first).reduce((n, p) => n + p.numInputRows, 0), 50, 'and read only the new file');
});

t.test('--progress-json FILE that cannot be written is refused before the query starts, naming the flag and the file', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), { files: 1, lines: 10, seed: 1 });
  const file = join(root, 'no-such-dir', 'progress.jsonl');
  const r = await tidemark(notebookArgs(root, ['--progress-json', file]));
  t.equal(r.code, 1);
  t.match(r.stderr, `--progress-json ${file}: cannot append to it`);
  t.match(r.stderr, 'ERR_INVALID_OPTION');
  t.rejects(readFile(join(root, 'chk', 'metadata')), { code: 'ENOENT' }, 'no checkpoint was started');
});

t.test('--progress-json needs a file name', async (t) => {
  const root = t.testdir();
  const r = await tidemark(notebookArgs(root, ['--progress-json', '']));
  t.equal(r.code, 2);
  t.match(r.stderr, 'flag --progress-json needs a file name');
});

t.test('--console prints each micro-batch as the console sink does', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), '{"time":0,"action":"Open"}\n{"time":10,"action":"Open"}\n');
  const r = await tidemark(['run', '--input', join(root, 'in'), '--schema', SCHEMA, '--group-by', 'action', '--window', '1 hour', '--output-mode', 'complete', '--console', '--trigger', 'once']);
  t.equal(r.code, 0);
  t.equal(
    r.stdout,
    [
      '-------------------------------------------',
      'Batch: 0',
      '-------------------------------------------',
      '+------+--------------------+-----+',
      '|action|              window|count|',
      '+------+--------------------+-----+',
      '|  Open|{1970-01-01 00:00...|    2|',
      '+------+--------------------+-----+',
      '',
      '',
    ].join('\n'),
  );
});

t.test('a second run from the same checkpoint processes only the new files', async (t) => {
  const root = t.testdir();
  const input = join(root, 'in');
  await mkdir(input);
  await writeFile(join(input, 'a.json'), '{"time":0,"action":"Open"}\n{"time":1,"action":"Open"}\n');
  const args = notebookArgs(root, ['--progress']).filter((a) => a !== '--drain');
  const inputRows = (stderr: string): number => [...stderr.matchAll(/^batch \d+: (\d+) input rows?,/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const first = await tidemark(args);
  t.equal(first.code, 0);
  t.equal(inputRows(first.stderr), 2);
  await writeFile(join(input, 'b.json'), '{"time":36000,"action":"Open"}\n');
  const second = await tidemark(args);
  t.equal(second.code, 0);
  t.equal(inputRows(second.stderr), 1);
  t.same(await outputRows(join(root, 'out')), [{ action: 'Open', window: { start: '1970-01-01T00:00:00.000Z', end: '1970-01-01T01:00:00.000Z' }, count: 2 }]);
});

t.test('SIGTERM stops an unbounded query gracefully with exit 0', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), '{"time":0,"action":"Open"}\n');
  const child = spawn(
    process.execPath,
    [CLI, 'run', '--input', join(root, 'in'), '--schema', SCHEMA, '--group-by', 'action', '--window', '1 hour', '--output-mode', 'update', '--console', '--checkpoint', join(root, 'chk'), '--trigger', 'processingTime=100 milliseconds'],
    { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!stdout.endsWith('+\n\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(stdout, /^-+\nBatch: 0\n/, 'the first batch ran');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.equal(stderr, 'tidemark: 1 micro-batch: read 1 file, 1 row (0 malformed); dropped 0 late groups; wrote 1 row; 1 group still open; no watermark\n');
  t.equal(stdout.split('Batch: ').length, 2, 'one batch: no new data arrived');
});

t.test('a failing query exits 1 with the failure', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), '{"time":0,"action":"Open"}\nnot json\n');
  const r = await tidemark(notebookArgs(root, ['--mode', 'FAILFAST']));
  t.equal(r.code, 1);
  t.match(r.stderr, /^tidemark: query failed: \[MALFORMED_RECORD_IN_PARSING\.WITHOUT_SUGGESTION\] .*Parse Mode: FAILFAST.* \(code ERR_MALFORMED_RECORD, at .*a\.json:2\)\n$/);
});

t.test('a query Spark would refuse is refused before it starts, with exit 1', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  const args = notebookArgs(root).filter((a, i, all) => a !== '--watermark' && all[i - 1] !== '--watermark');
  const r = await tidemark(args);
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    'tidemark: Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark (code ERR_APPEND_WITHOUT_WATERMARK)\n' +
      '  append needs --watermark (e.g. --watermark "2 hours"); or use --output-mode update\n',
  );
});

t.test('a bad trigger is a usage error naming --trigger and the triggers there are', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'in'));
  const r = await tidemark(notebookArgs(root).map((a) => (a === 'available-now' ? 'sometimes' : a)));
  t.equal(r.code, 2);
  t.equal(r.stderr, `tidemark: --trigger: 'sometimes' is not a trigger (write available-now, once or "processingTime=10 seconds")\nRun 'tidemark run --help' for usage.\n`);
});

// --group-by is optional: --window alone counts per window (test/cli/group-by-window.test.ts).
for (const flag of ['--input', '--schema', '--window', '--output-mode']) {
  t.test(`${flag} is required`, async (t) => {
    const root = t.testdir();
    const args = notebookArgs(root);
    const i = args.indexOf(flag);
    args.splice(i, 2);
    const r = await tidemark(args);
    t.equal(r.code, 2);
    t.equal(r.stdout, '');
    const named = flag === '--window' ? '--window (or --session-window)' : flag;
    t.equal(r.stderr, `tidemark: missing required flag ${named}\nRun 'tidemark run --help' for usage.\n`);
  });
}

t.test('a sink is required: --output or --console', async (t) => {
  const root = t.testdir();
  const args = notebookArgs(root);
  args.splice(args.indexOf('--output'), 2);
  const r = await tidemark(args);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: missing required flag --output (or --console)\nRun 'tidemark run --help' for usage.\n");
});

t.test('--output needs --checkpoint', async (t) => {
  const root = t.testdir();
  const args = notebookArgs(root);
  args.splice(args.indexOf('--checkpoint'), 2);
  const r = await tidemark(args);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: missing required flag --checkpoint\nRun 'tidemark run --help' for usage.\n");
});

t.test('--output and --console exclude each other', async (t) => {
  const r = await tidemark([...notebookArgs(t.testdir()), '--console']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: flags --output and --console cannot be used together\nRun 'tidemark run --help' for usage.\n");
});

t.test('--output-mode and --mode take only their values', async (t) => {
  const root = t.testdir();
  const r1 = await tidemark(notebookArgs(root).map((a) => (a === 'append' ? 'sometimes' : a)));
  t.equal(r1.code, 2);
  t.equal(r1.stderr, "tidemark: --output-mode: 'sometimes' is not one of append, update or complete\nRun 'tidemark run --help' for usage.\n");
  const r2 = await tidemark(notebookArgs(root, ['--mode', 'lenient']));
  t.equal(r2.code, 2);
  t.equal(r2.stderr, "tidemark: --mode: 'lenient' is not one of PERMISSIVE, DROPMALFORMED or FAILFAST\nRun 'tidemark run --help' for usage.\n");
});

t.test('--max-files-per-trigger must be an integer', async (t) => {
  const r = await tidemark(notebookArgs(t.testdir(), ['--max-files-per-trigger', 'ten']));
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: --max-files-per-trigger: 'ten' is not an integer; write e.g. --max-files-per-trigger 10\nRun 'tidemark run --help' for usage.\n");
});

t.test('run takes no positional argument', async (t) => {
  const r = await tidemark([...notebookArgs(t.testdir()), 'extra']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: unexpected argument 'extra'\nRun 'tidemark run --help' for usage.\n");
});

/**
 * `tidemark run --agg`: Spark's aggregate expressions from the command line —
 * the result columns in the order given after the grouping columns and the
 * window (or the session), Java's double format in the files, nulls left
 * out, and an unknown function or column refused naming the flag.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { withoutSummary } from './run-summary.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };
const SCHEMA = 'time timestamp, device string, temperature double';

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

async function outputLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(dir)) if (text.length > 0) lines.push(text);
  return lines;
}

// dev-01: 21.5, null, 22 in [0, 5 min); dev-02: no temperature field in [0, 5 min), 1e10 in [5, 10 min).
const READINGS = [
  '{"time":0,"device":"dev-01","temperature":21.5}',
  '{"time":60,"device":"dev-01","temperature":null}',
  '{"time":120,"device":"dev-01","temperature":22}',
  '{"time":30,"device":"dev-02"}',
  '{"time":400,"device":"dev-02","temperature":1e10}',
].join('\n') + '\n';

async function readings(root: string): Promise<string> {
  const input = join(root, 'in');
  await mkdir(input);
  await writeFile(join(input, 'a.json'), READINGS);
  return input;
}

function aggArgs(root: string, input: string, agg: string | null, extra: readonly string[] = []): string[] {
  return [
    'run',
    '--input', input,
    '--schema', SCHEMA,
    '--group-by', 'device',
    '--window', '5 minutes',
    ...(agg === null ? [] : ['--agg', agg]),
    '--watermark', '10 minutes',
    '--output-mode', 'append',
    '--output', join(root, 'out'),
    '--checkpoint', join(root, 'chk'),
    '--trigger', 'available-now',
    '--drain',
    ...extra,
  ];
}

t.test('--agg: the aggregates in the order given after device and window, doubles as Java prints them, nulls left out', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'count,avg(temperature),max(temperature)'));
  t.equal(r.code, 0, r.stderr);
  t.equal(withoutSummary(r.stderr), '');
  t.strictSame(await outputLines(join(root, 'out')), [
    '{"device":"dev-01","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"count":3,"avg(temperature)":21.75,"max(temperature)":22.0}',
    '{"device":"dev-02","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"count":1}',
    '{"device":"dev-02","window":{"start":"1970-01-01T00:05:00.000Z","end":"1970-01-01T00:10:00.000Z"},"count":1,"avg(temperature)":1.0E10,"max(temperature)":1.0E10}',
  ]);
});

t.test('--agg takes count(col), sum, min and aliases, in any order', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'min(temperature) AS coldest, count(temperature), sum(temperature), count'));
  t.equal(r.code, 0, r.stderr);
  t.strictSame(await outputLines(join(root, 'out')), [
    '{"device":"dev-01","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"coldest":21.5,"count(temperature)":2,"sum(temperature)":43.5,"count":3}',
    '{"device":"dev-02","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"count(temperature)":0,"count":1}',
    '{"device":"dev-02","window":{"start":"1970-01-01T00:05:00.000Z","end":"1970-01-01T00:10:00.000Z"},"coldest":1.0E10,"count(temperature)":1,"sum(temperature)":1.0E10,"count":1}',
  ]);
});

t.test('--agg with --session-window: the aggregates after session_window (a 5-minute gap splits dev-02 in two)', async (t) => {
  const root = t.testdir();
  const args = aggArgs(root, await readings(root), 'count,avg(temperature)').map((a) => (a === '--window' ? '--session-window' : a));
  const r = await tidemark(args);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(await outputLines(join(root, 'out')), [
    '{"device":"dev-01","session_window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:07:00.000Z"},"count":3,"avg(temperature)":21.75}',
    '{"device":"dev-02","session_window":{"start":"1970-01-01T00:00:30.000Z","end":"1970-01-01T00:05:30.000Z"},"count":1}',
    '{"device":"dev-02","session_window":{"start":"1970-01-01T00:06:40.000Z","end":"1970-01-01T00:11:40.000Z"},"count":1,"avg(temperature)":1.0E10}',
  ]);
});

t.test('--agg with --group-by window,device: the window first, then device, then the aggregates', async (t) => {
  const root = t.testdir();
  const args = aggArgs(root, await readings(root), 'count,max(temperature)').map((a) => (a === 'device' ? 'window,device' : a));
  const r = await tidemark(args);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(await outputLines(join(root, 'out')), [
    '{"window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"device":"dev-01","count":3,"max(temperature)":22.0}',
    '{"window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"device":"dev-02","count":1}',
    '{"window":{"start":"1970-01-01T00:05:00.000Z","end":"1970-01-01T00:10:00.000Z"},"device":"dev-02","count":1,"max(temperature)":1.0E10}',
  ]);
});

t.test('--agg with --window and no --group-by: the aggregates per window over every device', async (t) => {
  const root = t.testdir();
  const args = aggArgs(root, await readings(root), 'count,avg(temperature)');
  args.splice(args.indexOf('--group-by'), 2);
  const r = await tidemark(args);
  t.equal(r.code, 0, r.stderr);
  t.strictSame(await outputLines(join(root, 'out')), [
    '{"window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"count":4,"avg(temperature)":21.75}',
    '{"window":{"start":"1970-01-01T00:05:00.000Z","end":"1970-01-01T00:10:00.000Z"},"count":1,"avg(temperature)":1.0E10}',
  ]);
});

t.test('--agg count is the query without --agg: it restarts from the same checkpoint', async (t) => {
  const root = t.testdir();
  const input = await readings(root);
  const first = await tidemark(aggArgs(root, input, null).filter((a) => a !== '--drain'));
  t.equal(first.code, 0, first.stderr);
  await writeFile(join(input, 'b.json'), '{"time":3600,"device":"dev-01","temperature":20}\n');
  const second = await tidemark(aggArgs(root, input, 'count'));
  t.equal(second.code, 0, second.stderr);
  t.strictSame(await outputLines(join(root, 'out')), [
    '{"device":"dev-01","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"count":3}',
    '{"device":"dev-02","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"},"count":1}',
    '{"device":"dev-02","window":{"start":"1970-01-01T00:05:00.000Z","end":"1970-01-01T00:10:00.000Z"},"count":1}',
    '{"device":"dev-01","window":{"start":"1970-01-01T01:00:00.000Z","end":"1970-01-01T01:05:00.000Z"},"count":1}',
  ]);
});

t.test('an unknown function is refused naming it, the functions there are and the flag, before the checkpoint is made', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'count,median(temperature)'));
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    'tidemark: flag --agg: [UNRESOLVED_ROUTINE] Cannot resolve function `median`: the aggregate functions are count, count(*), count(col), sum(col), avg(col), min(col), max(col). (code ERR_UNKNOWN_FUNCTION)\n',
  );
  t.notOk(existsSync(join(root, 'chk')), 'no checkpoint written');
});

t.test('an unknown column is refused naming it, the columns there are and the flag', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'avg(temp)'));
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    'tidemark: flag --agg: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `temp` cannot be resolved. Did you mean one of the following? [`time`, `device`, `temperature`, `window`]. (code ERR_UNKNOWN_COLUMN)\n',
  );
});

t.test('an aggregate Spark refuses for the column type is refused with its message and the flag', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'avg(window)'));
  t.equal(r.code, 1);
  t.match(r.stderr, /^tidemark: flag --agg: \[DATATYPE_MISMATCH\.UNEXPECTED_INPUT_TYPE\] Cannot resolve "avg\(window\)" .*\(code ERR_DATATYPE_MISMATCH\)\n$/);
});

t.test('a malformed --agg is refused naming the position', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'count,avg(temperature'));
  t.equal(r.code, 1);
  t.equal(r.stderr, `tidemark: flag --agg: Cannot parse aggregates "count,avg(temperature": expected ')' at position 21 (code ERR_AGGREGATE_PARSE)\n`);
});

t.test('--agg needs a window or a session window, and a value', async (t) => {
  const root = t.testdir();
  const input = await readings(root);
  const noWindow = aggArgs(root, input, 'count').filter((a, i, all) => a !== '--window' && all[i - 1] !== '--window' && a !== '--group-by' && all[i - 1] !== '--group-by');
  const r1 = await tidemark([...noWindow, '--drop-duplicates', 'device']);
  t.equal(r1.code, 2);
  t.equal(r1.stderr, "tidemark: flag --agg needs --window or --session-window\nRun 'tidemark run --help' for usage.\n");
  const r2 = await tidemark(aggArgs(root, input, ' '));
  t.equal(r2.code, 2);
  t.equal(r2.stderr, 'tidemark: flag --agg needs aggregates, e.g. "count,avg(temperature)"\nRun \'tidemark run --help\' for usage.\n');
});

t.test('--help documents --agg', async (t) => {
  const r = await tidemark(['run', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^  --agg AGGREGATES {16}the aggregates per group, in Spark's expressions,$/m);
  t.match(r.stdout, /\[--agg AGGREGATES\]/);
});

t.test('tidemark show reads the aggregates back as spark.read.json does: 22.0 a double, a left-out null NULL', async (t) => {
  const root = t.testdir();
  const r = await tidemark(aggArgs(root, await readings(root), 'count,avg(temperature),max(temperature)'));
  t.equal(r.code, 0, r.stderr);
  const show = await tidemark(['show', join(root, 'out'), '--truncate', 'false']);
  t.equal(show.code, 0, show.stderr);
  t.equal(
    show.stdout,
    [
      '+----------------+-----+------+----------------+----------------------------------------------------+',
      '|avg(temperature)|count|device|max(temperature)|window                                              |',
      '+----------------+-----+------+----------------+----------------------------------------------------+',
      '|21.75           |3    |dev-01|22.0            |{1970-01-01T00:05:00.000Z, 1970-01-01T00:00:00.000Z}|',
      '|NULL            |1    |dev-02|NULL            |{1970-01-01T00:05:00.000Z, 1970-01-01T00:00:00.000Z}|',
      '|1.0E10          |1    |dev-02|1.0E10          |{1970-01-01T00:10:00.000Z, 1970-01-01T00:05:00.000Z}|',
      '+----------------+-----+------+----------------+----------------------------------------------------+',
      '',
      '',
    ].join('\n'),
  );
});

t.test('--console prints the aggregates as show() does: Java doubles, NULL', async (t) => {
  const root = t.testdir();
  const args = aggArgs(root, await readings(root), 'count,avg(temperature),max(temperature)').filter(
    (a, i, all) => !['--output', '--checkpoint', '--watermark', '--drain'].includes(a) && !['--output', '--checkpoint', '--watermark'].includes(all[i - 1]!),
  );
  const r = await tidemark([...args.map((a) => (a === 'append' ? 'complete' : a)), '--console']);
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      '-------------------------------------------',
      'Batch: 0',
      '-------------------------------------------',
      '+------+--------------------+-----+----------------+----------------+',
      '|device|              window|count|avg(temperature)|max(temperature)|',
      '+------+--------------------+-----+----------------+----------------+',
      '|dev-01|{1970-01-01 00:00...|    3|           21.75|            22.0|',
      '|dev-02|{1970-01-01 00:00...|    1|            NULL|            NULL|',
      '|dev-02|{1970-01-01 00:05...|    1|          1.0E10|          1.0E10|',
      '+------+--------------------+-----+----------------+----------------+',
      '',
      '',
    ].join('\n'),
  );
});

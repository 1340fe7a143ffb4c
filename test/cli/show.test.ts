/**
 * `tidemark show DIR`: what `spark.read.json(DIR).show()` prints, byte for
 * byte, from committed files only, then the empty line `print` adds.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sinkLogFileFor, writeSinkLogEntry } from '../../lib/sinks/file-sink-log.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tidemark(args: readonly string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const notebookOutput = (): Promise<string> => readFile(join(FIXTURES, 'notebook-output.jsonl'), 'utf8');

t.test("reproduces the notebook's In[17] table from its own output rows, then an empty line", async (t) => {
  const dir = t.testdir({ out: { 'part-00000-c000.json': await notebookOutput() } });
  const expected = await readFile(join(FIXTURES, 'notebook-show.txt'), 'utf8');
  t.match(expected, /^\+------\+-----\+-{62}\+\n\|action\|count\|window {56}\|\n/, 'the fixture is the In[17] block');
  const r = await tidemark(['show', join(dir, 'out'), '--truncate', 'false']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.equal(r.stdout, expected + '\n');
});

t.test('truncates cells to 20 characters and right-aligns them by default', async (t) => {
  const dir = t.testdir({ out: { 'part-00000-c000.json': await notebookOutput() } });
  const r = await tidemark(['show', join(dir, 'out')]);
  t.equal(r.code, 0);
  t.equal(
    r.stdout,
    [
      '+------+-----+--------------------+',
      '|action|count|              window|',
      '+------+-----+--------------------+',
      '|Scroll| 1215|{2016-07-26T08:30...|',
      '| Click| 1216|{2016-07-26T08:30...|',
      '| Close| 1224|{2016-07-26T08:30...|',
      '|  Open| 1220|{2016-07-26T08:30...|',
      '+------+-----+--------------------+',
      '',
      '',
    ].join('\n'),
  );
});

t.test('-n limits the rows and adds the footer; --truncate N cuts at N characters', async (t) => {
  const dir = t.testdir({ out: { 'part-00000-c000.json': await notebookOutput() } });
  const r = await tidemark(['show', join(dir, 'out'), '-n', '2', '--truncate', '5']);
  t.equal(r.code, 0);
  t.equal(
    r.stdout,
    [
      '+------+-----+------+',
      '|action|count|window|',
      '+------+-----+------+',
      '| Sc...| 1215| {2...|',
      '| Click| 1216| {2...|',
      '+------+-----+------+',
      'only showing top 2 rows',
      '',
      '',
    ].join('\n'),
  );
  t.equal((await tidemark(['show', join(dir, 'out'), '--num-rows', '2', '--truncate', '5'])).stdout, r.stdout, '--num-rows is -n');
});

t.test('reads only the files committed in _spark_metadata', async (t) => {
  const dir = t.testdir({
    out: {
      'part-00000-a-c000.json': '{"action":"Open","count":1}\n',
      'part-00000-b-c000.json': '{"action":"Stray","count":99}\n',
    },
  });
  const out = join(dir, 'out');
  await writeSinkLogEntry(out, 0, [await sinkLogFileFor(join(out, 'part-00000-a-c000.json'))]);
  const r = await tidemark(['show', out]);
  t.equal(r.code, 0);
  t.equal(r.stdout, ['+------+-----+', '|action|count|', '+------+-----+', '|  Open|    1|', '+------+-----+', '', ''].join('\n'));
});

t.test('without _spark_metadata every visible file is read, hidden and _ files skipped', async (t) => {
  const dir = t.testdir({
    out: {
      'a.json': '{"n":1}\n',
      '.hidden.json': '{"n":2}\n',
      '_temporary.json': '{"n":3}\n',
    },
  });
  const r = await tidemark(['show', join(dir, 'out')]);
  t.equal(r.code, 0);
  t.equal(r.stdout, ['+---+', '|  n|', '+---+', '|  1|', '+---+', '', ''].join('\n'));
});

t.test('rows come file by file, larger files first, as Spark packs its scan', async (t) => {
  const dir = t.testdir({
    out: {
      'a.json': '{"n":1}\n',
      'b.json': '{"n":2}\n{"n":3}\n',
      'c.json': '{"n":4}\n',
    },
  });
  const r = await tidemark(['show', join(dir, 'out')]);
  t.equal(r.code, 0);
  t.equal(r.stdout, ['+---+', '|  n|', '+---+', '|  2|', '|  3|', '|  1|', '|  4|', '+---+', '', ''].join('\n'));
});

t.test('infers the schema over all records: sorted fields, widened types, NULL for missing values', async (t) => {
  const dir = t.testdir({ out: { 'a.json': '{"b":1,"a":"x"}\n\n{"b":2.5,"c":{"z":1,"y":true}}\n' } });
  const r = await tidemark(['show', join(dir, 'out'), '--truncate', 'false']);
  t.equal(r.code, 0);
  t.equal(
    r.stdout,
    ['+----+---+---------+', '|a   |b  |c        |', '+----+---+---------+', '|x   |1.0|NULL     |', '|NULL|2.5|{true, 1}|', '+----+---+---------+', '', ''].join('\n'),
  );
});

t.test('a malformed line lands in _corrupt_record', async (t) => {
  const dir = t.testdir({ out: { 'a.json': '{"a":1}\noops\n' } });
  const r = await tidemark(['show', join(dir, 'out')]);
  t.equal(r.code, 0);
  t.equal(
    r.stdout,
    ['+---------------+----+', '|_corrupt_record|   a|', '+---------------+----+', '|           NULL|   1|', '|           oops|NULL|', '+---------------+----+', '', ''].join('\n'),
  );
});

t.test('a directory that does not exist is an error with exit 1', async (t) => {
  const dir = t.testdir();
  const missing = join(dir, 'nope');
  const r = await tidemark(['show', missing]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `tidemark: [PATH_NOT_FOUND] Path does not exist: file:${missing}. (code ERR_FILE_SOURCE)\n`);
});

t.test('a directory without records cannot be read, as in Spark', async (t) => {
  const dir = t.testdir({ out: { 'empty.json': '' } });
  const r = await tidemark(['show', join(dir, 'out')]);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'tidemark: [UNABLE_TO_INFER_SCHEMA] Unable to infer schema for JSON. It must be specified manually. (code ERR_UNABLE_TO_INFER_SCHEMA)\n');
});

t.test('DIR is required', async (t) => {
  const r = await tidemark(['show']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: missing the output directory DIR\nRun 'tidemark show --help' for usage.\n");
});

t.test('--truncate takes true, false or a number', async (t) => {
  const dir = t.testdir({ out: { 'a.json': '{"n":1}\n' } });
  const r = await tidemark(['show', join(dir, 'out'), '--truncate', 'maybe']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: flag --truncate needs true, false or a number of characters, got 'maybe'\nRun 'tidemark show --help' for usage.\n");
  t.equal((await tidemark(['show', join(dir, 'out'), '--truncate', 'True'])).code, 0, 'case-insensitive like a Python bool');
});

t.test('-n must be an integer', async (t) => {
  const dir = t.testdir({ out: { 'a.json': '{"n":1}\n' } });
  const r = await tidemark(['show', join(dir, 'out'), '-n', 'ten']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: --num-rows: 'ten' is not an integer; write e.g. --num-rows 10\nRun 'tidemark show --help' for usage.\n");
});

t.test('a second positional argument is a usage error', async (t) => {
  const dir = t.testdir({ out: { 'a.json': '{"n":1}\n' } });
  const r = await tidemark(['show', join(dir, 'out'), 'extra']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: unexpected argument 'extra'\nRun 'tidemark show --help' for usage.\n");
});

t.test('an unknown --time-zone is refused with exit 1', async (t) => {
  const dir = t.testdir({ out: { 'a.json': '{"n":1}\n' } });
  const r = await tidemark(['show', join(dir, 'out'), '--time-zone', 'Mars/Base']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, "tidemark: unknown time zone 'Mars/Base' (code ERR_INVALID_OPTION)\n");
  t.equal((await tidemark(['show', join(dir, 'out'), '--time-zone', 'Asia/Kolkata'])).code, 0);
});

/**
 * A CLI that explains (issue 17 §3): every error names the flag or column
 * and gives the fix, durations in human units, "did you mean" for flags,
 * commands, choices, columns and zones; Spark's refusals followed by the way
 * out; `run` ends with one summary line on every stderr; progress lines
 * count groups where Spark's figures are groups; `gen` refuses to overwrite.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRunArgs } from '../../lib/cli/run.js';
import { describeFailure } from '../../lib/cli/failure.js';
import { TidemarkError } from '../../lib/errors.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };

function tidemark(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: ENV }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const BASE = ['--input', 'in', '--schema', 'time timestamp, action string', '--group-by', 'action', '--output-mode', 'update', '--console'];

/** The usage error `run` gives for these flags (added to a valid command line without --window unless they set it). */
function runError(flags: readonly string[], base: readonly string[] = BASE): string {
  const argv = [...base, ...(flags.some((f) => f.startsWith('--window') || f === '--session-window') ? [] : ['--window', '1 hour']), ...flags];
  try {
    parseRunArgs(argv);
  } catch (err) {
    t.equal((err as Error).name, 'UsageError', 'a usage error (exit 2)');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

t.test('an interval that does not parse names the flag and shows how to write one', async (t) => {
  t.equal(runError(['--window', '1 hr']), '--window: "1 hr" is not an interval; write e.g. "1 hour" or "90 minutes"');
  t.equal(runError(['--watermark', 'two hours']), '--watermark: "two hours" is not an interval; write e.g. "1 hour" or "90 minutes"');
});

t.test('--window=-5 minutes is negative, said in minutes rather than Spark\'s microseconds', async (t) => {
  t.equal(runError(['--window=-5 minutes']), '--window: "-5 minutes" is negative; it must be longer than 0, e.g. "5 minutes"');
  t.equal(runError(['--window', '0 seconds']), '--window: "0 seconds" is zero; it must be longer than 0, e.g. "1 hour"');
  t.equal(runError(['--watermark=-2 hours']), '--watermark: "-2 hours" is negative; write a duration of 0 or more, e.g. "2 hours"');
});

t.test('a window or session gap in months is refused, as it has no fixed length', async (t) => {
  t.equal(runError(['--window', '1 month']), '--window: "1 month" has months or years, which have no fixed length; write it in days, e.g. "30 days"');
});

t.test('a slide longer than the window and a start time not shorter than the slide say the limit in human units', async (t) => {
  t.equal(
    runError(['--slide', '2 hours']),
    '--slide: 2 hours is longer than --window (1 hour); a window slides by at most its length, e.g. --slide "30 minutes"',
  );
  t.equal(
    runError(['--start-time', '1 hour']),
    '--start-time: 1 hour is not shorter than the slide (1 hour, from --window); windows start every slide, so an offset is less than one, e.g. --start-time "15 minutes"',
  );
});

t.test('an unknown column names the flag, the closest column and the columns there are', async (t) => {
  t.equal(runError([], [...BASE.slice(0, 4), '--group-by', 'actoin', ...BASE.slice(6)]), "--group-by: --schema has no column 'actoin'; did you mean 'action'? (columns: time, action)");
  t.equal(runError(['--event-time', 'tme']), "--event-time: --schema has no column 'tme'; did you mean 'time'? (columns: time, action)");
});

t.test('a schema without a time column mentions --event-time', async (t) => {
  const base = ['--input', 'in', '--schema', 'ts timestamp, action string', ...BASE.slice(4)];
  t.equal(runError([], base), "--schema has no column 'time', the event-time column by default; name yours with --event-time (e.g. --event-time ts) (columns: ts, action)");
  const noTimestamp = ['--input', 'in', '--schema', 'id string, action string', ...BASE.slice(4)];
  t.equal(
    runError([], noTimestamp),
    `--schema has no column 'time', the event-time column by default; add a timestamp column to --schema (e.g. "time timestamp, id, action") (columns: id, action)`,
  );
  const notTimestamp = ['--input', 'in', '--schema', 'time string, at timestamp, action string', ...BASE.slice(4)];
  t.equal(runError([], notTimestamp), "--schema: the event-time column 'time' is string, not a timestamp; name a timestamp column with --event-time (at)");
});

t.test('a schema type that does not exist gets the closest type', async (t) => {
  t.match(runError([], ['--input', 'in', '--schema', 'time timestmp, action string', ...BASE.slice(4)]), /^--schema: cannot parse "time timestmp, action string": .*\(did you mean timestamp\?\); write e\.g\. "time timestamp, action string"$/);
});

t.test('a choice flag lists its values and suggests the closest', async (t) => {
  t.equal(runError([], [...BASE.slice(0, 7), 'updat', '--console']), "--output-mode: 'updat' is not one of append, update or complete; did you mean 'update'?");
  t.equal(runError(['--mode', 'failfst']), "--mode: 'failfst' is not one of PERMISSIVE, DROPMALFORMED or FAILFAST; did you mean 'FAILFAST'?");
});

t.test('an unknown time zone and an unknown trigger get the closest name', async (t) => {
  t.equal(runError(['--time-zone', 'Europe/Pris']), "--time-zone: unknown zone 'Europe/Pris'; did you mean 'Europe/Paris'? (an IANA name such as UTC or Europe/Paris, or an offset such as +02:00)");
  t.equal(runError(['--trigger', 'available-nw']), `--trigger: 'available-nw' is not a trigger; did you mean 'available-now'? (write available-now, once or "processingTime=10 seconds")`);
  t.equal(runError(['--trigger', 'processingTime=10 secs']), `--trigger: "10 secs" in "processingTime=10 secs" is not an interval; write e.g. "processingTime=10 seconds"`);
});

t.test('--max-file-age that is not an age shows the units', async (t) => {
  t.equal(runError(['--max-file-age', 'a week']), "--max-file-age: 'a week' is not an age; write a number and a unit, e.g. 7d, 12h or 30m");
});

t.test('an unknown flag of a command gets the closest flag, exit 2', async (t) => {
  const r = await tidemark(['run', ...BASE, '--window', '1 hour', '--watermarks', '1 hour']);
  t.equal(r.code, 2);
  t.equal(r.stderr, "tidemark: unknown flag '--watermarks'; did you mean '--watermark'?\nRun 'tidemark run --help' for usage.\n");
  const far = await tidemark(['run', ...BASE, '--frobnicate']);
  t.equal(far.stderr, "tidemark: unknown flag '--frobnicate'\nRun 'tidemark run --help' for usage.\n", 'no suggestion when nothing is close');
});

t.test('an unknown command or top-level flag gets the closest one, exit 2', async (t) => {
  const command = await tidemark(['runn']);
  t.equal(command.code, 2);
  t.equal(command.stderr, "tidemark: unknown command 'runn'; did you mean 'run'?\nRun 'tidemark --help' for the list of commands.\n");
  const flag = await tidemark(['--verison']);
  t.equal(flag.code, 2);
  t.equal(flag.stderr, "tidemark: unknown flag '--verison'; did you mean '--version'?\nRun 'tidemark --help' for the list of commands.\n");
});

t.test("Spark's refusals keep Spark's words and are followed by the way out in flags (run only)", async (t) => {
  const append = new TidemarkError('ERR_APPEND_WITHOUT_WATERMARK', 'Append output mode not supported …');
  t.equal(describeFailure(append, 'run').hint, 'append needs --watermark (e.g. --watermark "2 hours"); or use --output-mode update');
  t.equal(describeFailure(append).hint, null, 'a program calling the library has no flags to be told about');
  t.equal(describeFailure(new TidemarkError('ERR_CHECKPOINT_LOCKED', 'in use'), 'run').hint, null, 'a message that says what to do has no hint');
});

t.test('run ends with one summary line on stderr though stderr is not a terminal; the progress counts late groups', async (t) => {
  const root = t.testdir();
  const input = join(root, 'in');
  await mkdir(input);
  // a.json: a malformed line; c.json: a row behind the watermark, dropped. One file per batch, in this order.
  const files: Array<[string, string]> = [
    ['a.json', '{"time":0,"action":"Open"}\n{"time":7200,"action":"Open"}\nnot json\n'],
    ['b.json', '{"time":7300,"action":"Close"}\n'],
    ['c.json', '{"time":60,"action":"Close"}\n'],
  ];
  for (const [i, [name, text]] of files.entries()) {
    await writeFile(join(input, name), text);
    const mtime = new Date(Date.UTC(2020, 0, 1, 0, i));
    await utimes(join(input, name), mtime, mtime);
  }
  const args = ['run', '--input', input, '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour', '--watermark', '10 minutes'];
  const out = ['--output-mode', 'append', '--output', join(root, 'out'), '--checkpoint', join(root, 'chk'), '--trigger', 'available-now', '--max-files-per-trigger', '1', '--drain'];
  const r = await tidemark([...args, ...out]);
  t.equal(r.code, 0);
  t.equal(
    r.stderr,
    'tidemark: 4 micro-batches: read 3 files, 5 rows (1 malformed); dropped 1 late group; wrote 3 rows; 0 groups still open; watermark 1970-01-01T03:00:00.000Z (UTC)\n',
  );

  const again = await tidemark([...args, ...out.map((a) => a.replace(/(out|chk)$/, '$1-2')), '--progress']);
  const lines = again.stderr.split('\n').map((l) => l.replace(/, [\d.]+ rows\/s,/, ', N rows/s,'));
  t.strictSame(lines, [
    'batch 0: 3 input rows, N rows/s, watermark 1970-01-01T00:00:00.000Z, state 2 groups, dropped 0 late groups',
    'batch 1: 1 input row, N rows/s, watermark 1970-01-01T01:50:00.000Z, state 2 groups, dropped 0 late groups',
    'batch 2: 1 input row, N rows/s, watermark 1970-01-01T01:51:40.000Z, state 2 groups, dropped 1 late group',
    'batch 3: 0 input rows, N rows/s, watermark 1970-01-01T03:00:00.000Z, state 0 groups, dropped 0 late groups',
    'tidemark: 4 micro-batches: read 3 files, 5 rows (1 malformed); dropped 1 late group; wrote 3 rows; 0 groups still open; watermark 1970-01-01T03:00:00.000Z (UTC)',
    '',
  ]);
});

t.test('gen refuses to overwrite the files of an earlier data set unless --force', async (t) => {
  const dir = join(t.testdir(), 'data');
  t.equal((await tidemark(['gen', dir, '--files', '2', '--lines', '5', '--seed', '1'])).code, 0);
  const before = await readFile(join(dir, 'part-00000.json'), 'utf8');
  const r = await tidemark(['gen', dir, '--files', '3', '--lines', '5', '--seed', '2']);
  t.equal(r.code, 2);
  t.equal(r.stderr, `tidemark: ${dir} already holds part-00000.json and 1 more of the files gen would write; add --force to overwrite them, or choose another DIR\nRun 'tidemark gen --help' for usage.\n`);
  t.equal(await readFile(join(dir, 'part-00000.json'), 'utf8'), before, 'nothing written');
  const forced = await tidemark(['gen', dir, '--files', '2', '--lines', '5', '--seed', '2', '--force']);
  t.equal(forced.code, 0);
  t.not(await readFile(join(dir, 'part-00000.json'), 'utf8'), before, 'overwritten');
});

t.test('--group-by may name the window column the query makes, and only that one', async (t) => {
  t.doesNotThrow(() => parseRunArgs([...BASE.slice(0, 4), '--group-by', 'window,action', ...BASE.slice(6), '--window', '1 hour']));
  t.equal(
    runError([], [...BASE.slice(0, 4), '--group-by', 'session_window,action', ...BASE.slice(6)]),
    "--group-by: --schema has no column 'session_window' (columns: time, action)",
  );
});

/**
 * Issue 10, defect 12, from the command line: `tidemark run` warns when a
 * batch's max event time is far past its processing time (one day, or
 * `--max-event-time-ahead`), and `--max-event-time-ahead` makes such
 * records malformed so that `--mode` decides.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { eventTimeWarning, progressTimeMs } from '../../lib/cli/event-time-warning.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { ...process.env, TZ: 'UTC' };

function tidemark(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: ENV }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

// The second line is an epoch in µs written as seconds: the year 31690708.
const INPUT = '{"time":1469501675,"action":"Open"}\n{"time":1000000000000000,"action":"Open"}\n{"time":1469505275,"action":"Close"}\n';

async function setUp(root: string): Promise<string[]> {
  await mkdir(join(root, 'in'));
  await writeFile(join(root, 'in', 'a.json'), INPUT);
  return [
    'run', '--input', join(root, 'in'), '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour',
    '--watermark', '2 hours', '--output-mode', 'append', '--output', join(root, 'out'), '--checkpoint', join(root, 'chk'), '--trigger', 'available-now',
  ];
}

async function outputActions(dir: string): Promise<string[]> {
  const actions: string[] = [];
  for await (const { text } of readCommittedJsonLines(dir)) if (text.length > 0) actions.push((JSON.parse(text) as { action: string }).action);
  return actions.sort();
}

t.test('defect 12: tidemark run warns when a batch\'s max event time is more than a day past its processing time', async (t) => {
  const root = t.testdir();
  const r = await tidemark(await setUp(root));
  t.equal(r.code, 0, 'Spark accepts the record: so does the run');
  t.match(
    r.stderr,
    /^tidemark: warning: batch 0: max event time 31690708-07-05T01:46:40\.000Z is more than 1 day past the batch's processing time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z; the watermark follows it, so later rows may all be late \(--max-event-time-ahead makes such records malformed\)\ntidemark: \d+ micro-batch(es)?: [^\n]*\n$/,
  );
});

t.test('defect 12: under --max-event-time-ahead such a record is malformed and FAILFAST names its file and line', async (t) => {
  const root = t.testdir();
  const r = await tidemark([...(await setUp(root)), '--max-event-time-ahead', '1 day', '--mode', 'FAILFAST']);
  t.equal(r.code, 1);
  const file = join(root, 'in', 'a.json');
  t.match(r.stderr, /^tidemark: query failed: \[MALFORMED_RECORD_IN_PARSING\.WITHOUT_SUGGESTION\] .* `time` is 31690708-07-05T01:46:40\.000Z, more than maxEventTimeAhead \(1 day\) past the batch's processing time .*\(code ERR_MALFORMED_RECORD, at (.*)\)\n$/);
  t.ok(r.stderr.endsWith(`(code ERR_MALFORMED_RECORD, at ${file}:2)\n`));
});

t.test('defect 12: under --max-event-time-ahead DROPMALFORMED drops such a record, no warning, and the later windows still come out', async (t) => {
  const root = t.testdir();
  const r = await tidemark([...(await setUp(root)), '--max-event-time-ahead', '1 day', '--mode', 'DROPMALFORMED', '--drain']);
  t.equal(r.code, 0);
  t.match(r.stderr, /^tidemark: \d+ micro-batch(es)?: read 1 file, 3 rows \(1 malformed\); [^\n]*\n$/, 'no warning, the summary counts the dropped record as malformed');
  t.strictSame(await outputActions(join(root, 'out')), ['Close', 'Open']);
});

t.test('defect 12: the warning is for a max event time more than the threshold past the processing time, not at it', async (t) => {
  const progress = (max: string): StreamingQueryProgress => ({ batchId: 3, timestamp: '2026-01-01T00:00:00.000Z', eventTime: { max } }) as unknown as StreamingQueryProgress;
  t.equal(eventTimeWarning(progress('2026-01-02T00:00:00.000Z')), null, 'exactly one day ahead');
  t.equal(
    eventTimeWarning(progress('2026-01-02T00:00:00.001Z')),
    "warning: batch 3: max event time 2026-01-02T00:00:00.001Z is more than 1 day past the batch's processing time 2026-01-01T00:00:00.000Z; the watermark follows it, so later rows may all be late (--max-event-time-ahead makes such records malformed)",
  );
  t.equal(eventTimeWarning(progress('2026-01-02T00:00:00.001Z'), '2 days'), null, '--max-event-time-ahead sets the threshold');
  t.equal(eventTimeWarning({ batchId: 0, timestamp: '2026-01-01T00:00:00.000Z' } as unknown as StreamingQueryProgress), null, 'no event-time figures, no warning');
  t.equal(progressTimeMs('31690708-07-05T01:46:40.000Z'), 1e18);
  t.equal(progressTimeMs('-0001-01-01T00:00:00.000Z'), Date.UTC(-1, 0, 1));
});

/**
 * The recipe runner (`npm run recipes`, `npm run recipe -- NAME`), run as
 * the built program.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('../../dist-recipes/run.js', import.meta.url));

function runner(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUNNER, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const NAMES = [
  'read-file-stream',
  'json-sink-append',
  'shuffle-partitions',
  'plot-counts',
  'stop-all-streams',
  'watermark',
  'sliding-windows',
  'event-time-vs-receipt-time',
  'late-data-side-output',
  'events-from-your-program',
  'foreach-batch-upsert',
  'sessions-per-user',
  'exactly-once-counts',
  'iot-temperatures',
];

t.test('--list names every recipe, in the notebook order', async (t) => {
  const r = await runner(['--list']);
  t.equal(r.code, 0);
  t.equal(r.stdout, NAMES.join('\n') + '\n');
});

t.test('runs one recipe by name under a header and exits 0', async (t) => {
  const r = await runner(['sliding-windows', '--work', t.testdir()]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^\n##### sliding-windows: 10-minute windows every 5 minutes: one event lands in two windows\n\nOne event at 12:07/);
  t.match(r.stderr, /^\nFiles \(checkpoints, outputs, charts\) are in /);
});

t.test('an unknown name exits 2 with the list of recipes', async (t) => {
  const r = await runner(['no-such-recipe']);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^unknown recipe no-such-recipe\n\nUsage: npm run recipe -- NAME/);
  for (const name of NAMES) t.match(r.stderr, `\n  ${name} `);
});

t.test('no name and no --all exits 2', async (t) => {
  const r = await runner([]);
  t.equal(r.code, 2);
  t.match(r.stderr, /^name a recipe, or say --all\n/);
});

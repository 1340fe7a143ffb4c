/**
 * A checkpoint of `--agg count,sum,avg,min,max` written while aggregate
 * buffers stored their doubles as base64 text inside the state files
 * (test/fixtures/checkpoints/aggregate-base64-04a726b) keeps restarting:
 * with the rest of the input, the continuation's output is exactly what an
 * uninterrupted run writes, though what it writes after the upgrade holds
 * the doubles as raw sections.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeIotDataset } from '../../lib/gen-iot.js';
import { committedLines, installFixture } from './fixture-checkpoints.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/checkpoints/aggregate-base64-04a726b', import.meta.url));
const AGGREGATES = 'count,sum(temperature),avg(temperature),min(temperature),max(temperature)';

function run(input: string, out: string, chk: string): Promise<{ code: number; stderr: string }> {
  const args = [
    CLI, 'run', '--input', input, '--schema', 'time timestamp, device string, temperature double', '--group-by', 'device', '--window', '5 minutes',
    '--agg', AGGREGATES, '--watermark', '10 minutes', '--output-mode', 'append', '--output', out, '--checkpoint', chk,
    '--trigger', 'available-now', '--max-files-per-trigger', '1', '--min-deltas-for-snapshot', '2', '--drain',
  ];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { ...process.env, TZ: 'UTC' } }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
    });
  });
}

t.test('a checkpoint whose aggregate doubles are base64 text restarts, and the continuation writes what an uninterrupted run writes', async (t) => {
  const root = t.testdir();
  await installFixture(FIXTURE, root, { placeholder: '@ROOT@', replacement: root, sidecars: true });
  const state = await readFile(join(root, 'chk', 'state', '0', '0', '4.delta'));
  t.match(state.toString('latin1'), /"cells":\["AAAAAAAA/, 'the fixture holds the doubles in base64');
  // The fixture read the first 4 of these 8 files (the same seed, sizes and modification times).
  await writeIotDataset(join(root, 'all'), { files: 8, lines: 2000, seed: 5, firstMtimeMs: 1_700_000_000_000 });
  await mkdir(join(root, 'in'), { recursive: true });
  const names = (await readdir(join(root, 'all'))).filter((n) => n.endsWith('.json')).sort();
  t.equal(names.length, 8);
  const before = (await committedLines(join(root, 'out'))).length;
  t.equal(before, 280, 'the fixture committed 280 rows');

  const uninterrupted = await run(join(root, 'all'), join(root, 'ref-out'), join(root, 'ref-chk'));
  t.equal(uninterrupted.code, 0, uninterrupted.stderr);
  for (const name of names.slice(4)) await rename(join(root, 'all', name), join(root, 'in', name));
  const continued = await run(join(root, 'in'), join(root, 'out'), join(root, 'chk'));
  t.equal(continued.code, 0, continued.stderr);
  t.match(continued.stderr, /read 4 files/, 'only the files the fixture had not read');

  const expected = await committedLines(join(root, 'ref-out'));
  t.ok(expected.length > before, 'the rest of the input closes more windows');
  t.strictSame(await committedLines(join(root, 'out')), expected);
  const deltas = (await readdir(join(root, 'chk', 'state', '0', '0'))).filter((n) => n.endsWith('.delta')).sort((a, b) => parseInt(a) - parseInt(b));
  const newest = await readFile(join(root, 'chk', 'state', '0', '0', deltas.at(-1)!));
  t.notMatch(newest.toString('latin1'), /"cells":\["/, `the continuation's ${deltas.at(-1)} holds no base64 doubles`);
});

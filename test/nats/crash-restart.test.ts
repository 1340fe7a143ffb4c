/**
 * Exactly-once from a JetStream stream across crashes: `tidemark run
 * --input nats://…` over all partitions, killed with SIGKILL at random
 * points (seeded) and restarted from its checkpoint until it exits 0,
 * writes exactly the rows of the same query over the files.
 */
import t from 'tap';
import { join } from 'node:path';
import { generateDataset } from '../../lib/gen.js';
import { natsSkip, startNats } from './server.js';
import { committedBatches, committedLines, prng, queryArgs, runCli, type Kill } from './helpers.js';
import { withoutSummary } from '../cli/run-summary.js';

t.test('SIGKILL at random points, restarts until exit 0: the output equals the query over the files', { skip: natsSkip }, async (t) => {
  const server = await startNats();
  t.teardown(() => server.stop());
  const root = t.testdir();
  const data = join(root, 'data');
  await generateDataset(data, { files: 20, lines: 100, seed: 3 });
  const published = await runCli(['publish', '--to', `${server.url}/events`, '--partitions', '4', '--key', 'action', data]);
  t.equal(published.code, 0, published.stderr);
  const files = await runCli(queryArgs(data, join(root, 'out-files'), join(root, 'chk-files'), ['--max-files-per-trigger', '2']));
  t.equal(files.code, 0, files.stderr);
  const expected = await committedLines(join(root, 'out-files'));

  const input = `${server.url}/events`;
  const uninterrupted = await runCli(queryArgs(input, join(root, 'out-once'), join(root, 'chk-once'), ['--max-offsets-per-trigger', '150']));
  t.equal(uninterrupted.code, 0, uninterrupted.stderr);
  t.strictSame(await committedLines(join(root, 'out-once')), expected, 'uninterrupted, the stream gives what the files give');
  const totalBatches = await committedBatches(join(root, 'chk-once'));

  const random = prng(15);
  const out = join(root, 'out');
  const chk = join(root, 'chk');
  const progressAtKills: number[] = [];
  let starts = 0;
  for (;;) {
    starts++;
    // Five kills, each once one or two more batches committed, then after a seeded delay of up to 60 ms
    // (so some land mid-batch, some between batches); then a run to the end.
    const committed = await committedBatches(chk);
    const target = committed + 1 + Math.floor(random() * 2);
    const kill: Kill | undefined =
      progressAtKills.length < 5 && target <= totalBatches - 3 ? { chk, batches: target, thenMs: Math.round(random() * 60) } : undefined;
    const exit = await runCli(queryArgs(input, out, chk, ['--max-offsets-per-trigger', '150']), kill);
    if (exit.signal === 'SIGKILL') {
      progressAtKills.push(await committedBatches(chk));
      continue;
    }
    t.equal(exit.code, 0, `start ${starts} ends by itself with exit 0`);
    t.equal(withoutSummary(exit.stderr), '', `start ${starts} reports nothing but its summary`);
    break;
  }
  t.comment(`${totalBatches} batches (${Math.round(uninterrupted.ms)} ms uninterrupted); committed at each kill: ${progressAtKills.join(', ')}`);
  t.ok(progressAtKills.length >= 3, 'the run was killed several times');
  t.strictSame(await committedLines(out), expected, `the same rows after ${progressAtKills.length} kills and ${starts} starts`);
});

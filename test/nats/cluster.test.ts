/**
 * A 3-server JetStream cluster on loopback with a replicated (R3) stream:
 * one server is killed while the query runs; the query goes on (the client
 * reconnects, the stream elects a new leader, lost consumers are made
 * again) and its output is exactly that of the query over the files.
 */
import t from 'tap';
import { join } from 'node:path';
import { generateDataset } from '../../lib/gen.js';
import { natsSkip, startNatsCluster } from './server.js';
import { client, committedBatches, committedLines, queryArgs, runCli } from './helpers.js';

t.test('a server of an R3 cluster killed mid-run: the query goes on and its output is exact', { skip: natsSkip }, async (t) => {
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.stop());
  const root = t.testdir();
  const data = join(root, 'data');
  await generateDataset(data, { files: 20, lines: 60, seed: 5 });
  const published = await runCli(['publish', '--to', `${cluster.url}/events`, '--partitions', '4', '--key', 'action', '--replicas', '3', data]);
  t.equal(published.code, 0, published.stderr);
  const files = await runCli(queryArgs(data, join(root, 'out-files'), join(root, 'chk-files'), ['--max-files-per-trigger', '2']));
  t.equal(files.code, 0, files.stderr);

  const conn = await client(cluster.url);
  const info = await conn.jsm.streams.info('events');
  await conn.close();
  t.equal(info.config.num_replicas, 3);
  const leader = cluster.servers.find((_, i) => `s${i + 1}` === info.cluster?.leader)!;
  t.ok(leader !== undefined, `the stream's leader is ${info.cluster?.leader}`);

  const chk = join(root, 'chk');
  let killedAt = -1;
  // The stream's leader dies once two batches are committed; the query must carry on with the other two.
  const killed = (async () => {
    while ((await committedBatches(chk)) < 2) await new Promise((r) => setTimeout(r, 5));
    killedAt = await committedBatches(chk);
    await leader.kill();
  })();
  const run = await runCli(queryArgs(`${cluster.url}/events`, join(root, 'out'), chk, ['--max-offsets-per-trigger', '60']));
  await killed;
  t.equal(run.code, 0, run.stderr);
  const total = await committedBatches(chk);
  t.ok(killedAt >= 2 && killedAt < total, `the server died after batch ${killedAt} of ${total}`);
  t.strictSame(await committedLines(join(root, 'out')), await committedLines(join(root, 'out-files')));
});

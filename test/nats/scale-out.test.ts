/**
 * Scale-out: the events of 20 files published to a 4-partition stream,
 * read by two processes that own partitions {0,1} and {2,3} (each its own
 * checkpoint and output), give together exactly the rows of the same query
 * over the files. The query groups by the partitioning key, so each
 * group's events, and its state, live in one process.
 */
import t from 'tap';
import { join } from 'node:path';
import { generateDataset } from '../../lib/gen.js';
import { partitionOfKeyText } from '../../lib/core/partition-hash.js';
import { natsSkip, startNats } from './server.js';
import { committedLines, queryArgs, runCli } from './helpers.js';

t.test('two processes owning partitions {0,1} and {2,3} write together exactly the rows of the query over the files', { skip: natsSkip }, async (t) => {
  const server = await startNats();
  t.teardown(() => server.stop());
  const root = t.testdir();
  const data = join(root, 'data');
  await generateDataset(data, { files: 20, lines: 100, seed: 7 });
  const published = await runCli(['publish', '--to', `${server.url}/events`, '--partitions', '4', '--key', 'action', data]);
  t.equal(published.code, 0, published.stderr);
  t.match(published.stdout, /^published 2000 messages from 20 files to stream events/);
  // The notebook's four actions spread over both halves: Click in 0, Close and Scroll in 2, Open in 3.
  t.strictSame(['Click', 'Close', 'Scroll', 'Open'].map((a) => partitionOfKeyText(a, 4)), [0, 2, 2, 3]);

  const files = await runCli(queryArgs(data, join(root, 'out-files'), join(root, 'chk-files'), ['--max-files-per-trigger', '2']));
  t.equal(files.code, 0, files.stderr);
  const [a, b] = await Promise.all([
    runCli(queryArgs(`${server.url}/events`, join(root, 'out-a'), join(root, 'chk-a'), ['--partitions', '0,1', '--max-offsets-per-trigger', '150'])),
    runCli(queryArgs(`${server.url}/events`, join(root, 'out-b'), join(root, 'chk-b'), ['--partitions', '2,3', '--max-offsets-per-trigger', '150'])),
  ]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  const expected = await committedLines(join(root, 'out-files'));
  t.ok(expected.length > 20, `the query writes many windows (${expected.length})`);
  t.strictSame(await committedLines(join(root, 'out-a'), join(root, 'out-b')), expected);
  const actionsOf = async (dir: string): Promise<string[]> => [...new Set((await committedLines(dir)).map((l) => (JSON.parse(l) as { action: string }).action))].sort();
  t.strictSame(await actionsOf(join(root, 'out-a')), ['Click']);
  t.strictSame(await actionsOf(join(root, 'out-b')), ['Close', 'Open', 'Scroll']);
});

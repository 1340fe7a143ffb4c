import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { events, notebookStages, runByHand, runWithDriver, windowRow } from '../helpers.js';

const steps = [
  events([10, 'Open'], [11, 'Open'], [12, 'Close'], [14, 'Open'], [15, 'Open']),
  events([25, 'Click']),
  events([10, 'Open'], [27, 'Click'], [30, 'Open']),
  events([17, 'Open']),
  events([40, 'Scroll']),
];

t.test('a pipeline composed by hand writes exactly what startQuery writes, restart included', async (t) => {
  const dir = t.testdir({ driver: {}, hand: {} });
  const options = { steps, restartBefore: [2, 3], outputMode: 'append' as const, stages: () => notebookStages({ delay: '10 seconds' }) };
  const byDriver = await runWithDriver({ ...options, checkpointLocation: join(dir, 'driver') });
  const byHand = await runByHand({ ...options, checkpointLocation: join(dir, 'hand') });
  t.strictSame([...byHand], [...byDriver]);
  t.strictSame(await readdir(join(dir, 'hand', 'commits')), await readdir(join(dir, 'driver', 'commits')));
  const all = [...byDriver.values()].flat().map(windowRow);
  t.strictSame(all, [
    [10, 15, 'Open', 3],
    [10, 15, 'Close', 1],
    [15, 20, 'Open', 1],
    [25, 30, 'Click', 2],
  ]);
});

t.test('each micro-batch leaves offsets, a commit and the state of its stateful stage', async (t) => {
  const dir = t.testdir();
  await runWithDriver({ steps: steps.slice(0, 2), checkpointLocation: dir, outputMode: 'append', stages: () => notebookStages({ delay: '10 seconds' }) });
  // step 0: one data batch (watermark 0 -> 5 but nothing to evict: no-data batch still runs as the watermark moved)
  const offsets = (await readdir(join(dir, 'offsets'))).sort();
  const commits = (await readdir(join(dir, 'commits'))).sort();
  t.strictSame(offsets, commits);
  t.strictSame((await readdir(join(dir, 'state'))).sort(), ['0'], 'only KeyedCount keeps state: the watermark lives in the offsets and commit logs');
});

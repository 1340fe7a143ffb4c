import t from 'tap';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { eventSchema, events } from '../helpers.js';

t.test('a new MemorySource on a checkpoint another one wrote is refused, not skipped silently (issue: rows added after a restart were skipped)', async (t) => {
  const dir = t.testdir();
  const first = new MemorySource({ schema: eventSchema });
  first.addData(events([1, 'Open']));
  const run1 = await startQuery({ source: first, sink: new MemorySink(), checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await run1.awaitTermination();
  const fresh = new MemorySource({ schema: eventSchema });
  fresh.addData(events([2, 'Close']));
  const run2 = await startQuery({ source: fresh, sink: new MemorySink(), checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await t.rejects(run2.awaitTermination(), { cause: { code: 'ERR_CHECKPOINT_MISMATCH', option: 'memoryStream' } });
});

t.test('a reopened MemorySource continues its checkpoint: rows added after the restart are read', async (t) => {
  const dir = t.testdir();
  const first = new MemorySource({ schema: eventSchema });
  first.addData(events([1, 'Open']));
  const run1 = await startQuery({ source: first, sink: new MemorySink(), checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await run1.awaitTermination();
  const again = first.reopen();
  again.addData(events([2, 'Close']));
  const sink = new MemorySink();
  const run2 = await startQuery({ source: again, sink, checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await run2.awaitTermination();
  t.strictSame(sink.rows(), events([2, 'Close']));
});

t.test('rows leave memory once their batch is committed', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager: new StreamingQueryManager() });
  for (let i = 0; i < 5; i++) {
    source.addData(events([i, 'Open']));
    await query.processAllAvailable();
  }
  await query.stop();
  t.ok(source.heldAdditions <= 1, `at most the last batch's rows are held (held ${source.heldAdditions})`);
});

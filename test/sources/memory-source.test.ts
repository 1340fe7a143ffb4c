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

t.test('addData refuses a property that is not a column, naming it, the closest column and the schema\'s columns', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  t.throws(() => source.addData([{ time: 1000, action: 'Open' }, { time: 2000, actoin: 'Close' } as never]), {
    code: 'ERR_UNKNOWN_FIELD',
    message: "MemorySource.addData: row 1 has a field not in the schema: 'actoin' (did you mean 'action'?); the schema's fields are 'time', 'action'",
  });
  t.equal(source.heldAdditions, 0, 'nothing of the refused call was added');
});

t.test('addData refuses a misspelt field inside a struct column', async (t) => {
  const source = new MemorySource({ schema: 'id int, window struct<start: timestamp, end: timestamp>' });
  t.throws(() => source.addData([{ id: 1, window: { strat: 0, end: 1000 } as never }]), {
    code: 'ERR_UNKNOWN_FIELD',
    message: "MemorySource.addData: row 0 has a field not in struct window: 'window.strat' (did you mean 'window.start'?); struct window's fields are 'start', 'end'",
  });
});

t.test('addData refuses a timestamp that looks like epoch seconds (2016 in seconds is 1970 in milliseconds)', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  t.throws(() => source.addData([{ time: 1469504400, action: 'Open' }]), {
    code: 'ERR_TIMESTAMP_IN_SECONDS',
    message:
      'MemorySource.addData: row 0, column time: 1469504400 is read as epoch milliseconds (1970-01-18T00:11:44.400Z), but it looks like epoch seconds (2016-07-26T03:40:00.000Z); give milliseconds (1469504400 * 1000), or a Date for a time in 1970',
  });
});

t.test('addData takes small epoch-ms times as tests write them, times from 1971 on, and any Date', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  source.addData([{ time: 0, action: 'a' }, { time: 99_999_999, action: 'b' }, { time: 31_536_000_000, action: 'c' }, { time: new Date(1469504400), action: 'd' }]);
  t.equal(source.heldAdditions, 1);
});

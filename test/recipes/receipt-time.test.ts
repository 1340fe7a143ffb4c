/**
 * The `ReceiptTime` stage of the event-time-vs-receipt-time recipe: Spark's
 * `current_timestamp()`, one value per micro-batch, the same when the batch
 * is re-executed.
 */
import t from 'tap';
import { MemorySink, MemorySource, ReceiptTime, StreamingQueryManager, mapRows, schema, field, Types, startQuery, type Row } from 'tidemark';

const eventSchema = 'time timestamp, action string';

t.test('adds a non-null timestamp column holding each micro-batch time, the same for all its rows', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const sink = new MemorySink();
  const stage = new ReceiptTime({ as: 'receipt_time' });
  const query = await startQuery({ source, stages: [stage], sink, manager: new StreamingQueryManager() });
  source.addData([{ time: 1000, action: 'Open' }, { time: 2000, action: 'Close' }]);
  await query.processAllAvailable();
  await new Promise((resolve) => setTimeout(resolve, 5));
  source.addData([{ time: 3000, action: 'Click' }]);
  await query.processAllAvailable();
  await query.stop();
  t.strictSame(stage.outputSchema, schema([field('time', Types.timestamp), field('action', Types.string), field('receipt_time', Types.timestamp, false)]));
  const [b0, b1] = [sink.batches.get(0)!, sink.batches.get(1)!];
  t.equal(new Set(b0.map((r) => r['receipt_time'])).size, 1, 'one time for batch 0');
  t.ok((b1[0]!['receipt_time'] as number) > (b0[0]!['receipt_time'] as number), 'a later time for batch 1');
  for (const row of [...b0, ...b1]) t.ok(Math.abs((row['receipt_time'] as number) - Date.now()) < 60_000, 'the time is now');
});

t.test('a micro-batch re-executed after a crash gets the receipt time it had before', async (t) => {
  const checkpointLocation = t.testdir();
  const seen: Row[][] = [[], []];
  class FailingSink extends MemorySink {
    protected override async writeBatch(): Promise<number> {
      throw new Error('injected crash');
    }
  }
  let source = new MemorySource({ schema: eventSchema });
  source.addData([{ time: 1000, action: 'Open' }]);
  const start = (run: number, sink: MemorySink) =>
    startQuery({
      source,
      stages: [new ReceiptTime(), mapRows((row) => (seen[run]!.push(row), row))],
      sink,
      checkpointLocation,
      manager: new StreamingQueryManager(),
    });
  const crashed = await start(0, new FailingSink());
  await t.rejects(crashed.processAllAvailable(), { code: 'ERR_QUERY_FAILED', message: /injected crash/ });
  await new Promise((resolve) => setTimeout(resolve, 20));
  source = source.reopen();
  const sink = new MemorySink();
  const restarted = await start(1, sink);
  await restarted.processAllAvailable();
  await restarted.stop();
  t.equal(seen[0]!.length, 1);
  t.strictSame(seen[1], seen[0], 'batch 0 re-executed with the same receipt_time');
  t.strictSame(sink.batches.get(0), seen[0]);
});

t.test('refuses to add a column the stream already has', async (t) => {
  const source = new MemorySource({ schema: 'time timestamp, receipt_time timestamp' });
  await t.rejects(startQuery({ source, stages: [new ReceiptTime()], sink: new MemorySink(), manager: new StreamingQueryManager() }), {
    code: 'ERR_INVALID_OPTION',
    message: 'ReceiptTime cannot add column `receipt_time`: the stream already has one',
  });
});

t.test('an empty column name is refused', async (t) => {
  t.throws(() => new ReceiptTime({ as: '' }), { code: 'ERR_INVALID_OPTION', message: 'ReceiptTime needs a non-empty column name in `as`' });
});

t.test('a checkpoint written with another column name is refused on restore', async (t) => {
  const a = new ReceiptTime({ as: 'received' });
  t.throws(() => new ReceiptTime().restore(a.snapshot()), {
    code: 'ERR_CHECKPOINT_MISMATCH',
    message: 'the query changed since the checkpoint was written: ReceiptTime as was "received", is now "receipt_time"',
  });
});


/**
 * IterableSource: events from an async iterable or an object-mode Readable.
 * Within a run a re-executed batch reads the same rows; across restarts it
 * is at-least-once, given an upstream that delivers unacknowledged events
 * again (acknowledged through onCommit once their batch is committed).
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { IterableSource } from '../../lib/sources/iterable-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { ForEachBatchSink } from '../../lib/sinks/foreach-batch-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { Row } from '../../lib/core/batch.js';
import type { Offset, SourceContext } from '../../lib/sources/source.js';
import { eventSchema, notebookStages, windowRow } from '../helpers.js';

const context: SourceContext = { log: null, queryId: 'q', committedOffset: null };

async function rowsOf(source: IterableSource, start: Offset | null, end: Offset): Promise<Row[]> {
  const out: Row[] = [];
  for await (const batch of source.getBatch(start, end, 0)) for (let i = 0; i < batch.length; i++) out.push(batch.row(i));
  return out;
}

/** Waits until the source has received `n` rows (it pulls in the background). */
async function received(source: IterableSource, n: number): Promise<void> {
  while (source.heldRows < n) await new Promise((r) => setTimeout(r, 1));
}

/**
 * A queue that delivers every unacknowledged message again to a new
 * consumer, as a message broker does; each delivery ends once it has given
 * what is unacknowledged now.
 */
class RedeliveringQueue {
  readonly acked = new Set<number>();
  deliveries = 0;
  constructor(readonly messages: ReadonlyArray<{ id: number; time: number; action: string }>) {}
  async *deliver(): AsyncGenerator<Row & { id: number }> {
    this.deliveries++;
    for (const m of this.messages) if (!this.acked.has(m.id)) yield { ...m };
  }
  ack(rows: readonly Row[]): void {
    for (const r of rows) this.acked.add(r['id'] as number);
  }
}

t.test('rows of an async generator are read in order; their offsets count rows of this source', async (t) => {
  async function* events(): AsyncGenerator<Row> {
    yield { time: 1000, action: 'Open' };
    yield { time: 2000, action: 'Close' };
    yield { time: 3000, action: 'Open' };
  }
  const source = new IterableSource({ schema: 'time timestamp, action string', events: events(), maxRowsPerTrigger: 2 });
  await source.open(context);
  t.teardown(() => source.close());
  await received(source, 3);
  const first = await source.latestOffset(null, 'limited');
  t.strictSame(first, { source: source.id, rows: 2 });
  t.strictSame(await rowsOf(source, null, first!), [{ time: 1000, action: 'Open' }, { time: 2000, action: 'Close' }]);
  const second = await source.latestOffset(first, 'limited');
  t.strictSame(await rowsOf(source, first, second!), [{ time: 3000, action: 'Open' }]);
  t.strictSame(await rowsOf(source, null, first!), [{ time: 1000, action: 'Open' }, { time: 2000, action: 'Close' }], 'a re-executed batch reads the same rows');
  await source.commit(first!);
  t.equal(source.heldRows, 1, 'committed rows are let go');
});

t.test('a Node Readable in object mode is a source of events too', async (t) => {
  const readable = Readable.from([{ time: 5000, action: 'Scroll' }, { time: 6000, action: 'Click' }]);
  const sink = new MemorySink();
  const query = await startQuery({ source: new IterableSource({ schema: eventSchema, events: readable }), sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows(), [{ time: 5000, action: 'Scroll' }, { time: 6000, action: 'Click' }]);
});

t.test('with Trigger.AvailableNow the query reads until the iterable ends, through the windowed count', async (t) => {
  async function* slow(): AsyncGenerator<Row> {
    for (const [s, action] of [[10, 'Open'], [11, 'Open'], [30, 'Close']] as const) {
      await new Promise((r) => setTimeout(r, 5));
      yield { time: s * 1000, action };
    }
  }
  const sink = new MemorySink();
  const query = await startQuery({
    source: new IterableSource({ schema: eventSchema, events: slow(), maxRowsPerTrigger: 1 }),
    stages: notebookStages({ delay: '5 seconds' }),
    sink,
    outputMode: 'append',
    trigger: 'availableNow',
    drain: true,
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  t.strictSame(sink.rows().map(windowRow), [
    [10, 15, 'Open', 2],
    [30, 35, 'Close', 1],
  ]);
});

t.test('at-least-once across restarts: rows of a run that crashed come again from a redelivering upstream, none lost', async (t) => {
  const dir = t.testdir();
  const ids = Array.from({ length: 10 }, (_, i) => i);
  const queue = new RedeliveringQueue(ids.map((i) => ({ id: i, time: i * 1000, action: i % 2 === 0 ? 'Open' : 'Close' })));
  let written: Array<{ batchId: number; ids: number[] }> = [];
  const run = async (crashAtBatch: number | null): Promise<Array<{ batchId: number; ids: number[] }>> => {
    written = [];
    const source = new IterableSource({ schema: 'time timestamp, action string, id int', events: queue.deliver(), onCommit: (rows) => queue.ack(rows), maxRowsPerTrigger: 3 });
    const sink = new ForEachBatchSink(async (rows, batchId) => {
      written.push({ batchId, ids: rows.map((r) => r['id'] as number) });
      if (batchId === crashAtBatch) throw new Error('injected crash');
    });
    const query = await startQuery({ source, sink, checkpointLocation: join(dir, 'chk'), trigger: 'availableNow', manager: new StreamingQueryManager() });
    await query.awaitTermination().catch(() => undefined);
    return written;
  };
  const idsOf = (batches: Array<{ ids: number[] }>): number[] => batches.flatMap((b) => b.ids);
  // Batch boundaries depend on how fast rows arrive: what is checked is how batches and acknowledgements relate.
  const first = await run(2);
  t.strictSame(first.map((b) => b.batchId), [0, 1, 2], 'the first run wrote batches 0 and 1, then crashed in batch 2');
  const committed = idsOf(first.slice(0, 2));
  t.strictSame([...queue.acked].sort((a, b) => a - b), committed, 'the rows of committed batches were acknowledged (batch 1 when batch 2 was planned), not those of batch 2');

  const second = await run(null);
  t.strictSame(second[0], { batchId: 2, ids: [] }, 'batch 2 is re-executed without its rows: they died with the first run');
  t.strictSame(idsOf(second), ids.filter((i) => !committed.includes(i)), 'the upstream delivered the unacknowledged rows again, batch 2\'s among them');
  t.strictSame([...committed, ...idsOf(second)].sort((a, b) => a - b), ids, 'together every row exactly once, none lost');
  const last = second[second.length - 1]!.ids;
  t.strictSame([...queue.acked].sort((a, b) => a - b), ids.filter((i) => !last.includes(i)), 'all acknowledged but the last batch, which is acknowledged when a next batch is planned');

  const third = await run(null);
  t.strictSame(idsOf(third), last, 'so a later run gets the last batch again: at-least-once, not exactly-once');
});

t.test('a re-executed batch within a run reads the same rows (a query restarted in the process)', async (t) => {
  async function* events(): AsyncGenerator<Row> {
    for (let i = 0; i < 4; i++) yield { time: i * 1000, action: 'Open' };
  }
  const source = new IterableSource({ schema: eventSchema, events: events() });
  await source.open(context);
  t.teardown(() => source.close());
  await received(source, 4);
  const end = await source.latestOffset(null, 'limited');
  const once = await rowsOf(source, null, end!);
  t.strictSame(await rowsOf(source, null, end!), once);
  t.equal(once.length, 4);
});

t.test('the iterable waits while maxBufferedRows rows wait for a batch (backpressure)', async (t) => {
  let pulled = 0;
  function* many(): Generator<Row> {
    for (let i = 0; i < 100; i++) {
      pulled++;
      yield { time: i, action: 'Open' };
    }
  }
  const source = new IterableSource({ schema: eventSchema, events: many(), maxBufferedRows: 10 });
  await source.open(context);
  t.teardown(() => source.close());
  await received(source, 10);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  t.equal(pulled, 10, 'ten held; the iterable is not asked for more');
  const end = await source.latestOffset(null, 'limited');
  await received(source, 20);
  t.strictSame(end, { source: source.id, rows: 10 });
});

t.test('an iterable that fails fails the query with ERR_SOURCE_FAILED once the rows before the failure are processed', async (t) => {
  async function* failing(): AsyncGenerator<Row> {
    yield { time: 1000, action: 'Open' };
    throw new Error('socket closed');
  }
  const sink = new MemorySink();
  const query = await startQuery({ source: new IterableSource({ schema: eventSchema, events: failing() }), sink, manager: new StreamingQueryManager() });
  await t.rejects(query.awaitTermination(), { cause: { code: 'ERR_SOURCE_FAILED', message: 'the events of IterableSource[iterable] failed: socket closed' } });
  t.strictSame(sink.rows(), [{ time: 1000, action: 'Open' }]);
});

t.test('one source, one run: a second open is refused, saying to make a new one', async (t) => {
  const source = new IterableSource({ schema: eventSchema, events: [] });
  await source.open(context);
  await source.close();
  await t.rejects(source.open(context), { code: 'ERR_INVALID_SOURCE', message: 'IterableSource[iterable] reads its events once: a new run of the query needs a new IterableSource' });
});

t.test('options are checked when the source is made', async (t) => {
  t.throws(() => new IterableSource({ schema: eventSchema, events: 5 as never }), { code: 'ERR_INVALID_OPTION', option: 'events' });
  t.throws(() => new IterableSource({ events: [] } as never), { code: 'ERR_INVALID_OPTION', option: 'schema' });
  t.throws(() => new IterableSource({ schema: eventSchema, events: [], maxRowsPerTrigger: 0 }), { code: 'ERR_INVALID_OPTION', option: 'maxRowsPerTrigger' });
  t.throws(() => new IterableSource({ schema: eventSchema, events: [], trigger: 'once' } as never), { code: 'ERR_INVALID_OPTION', option: 'trigger' });
});

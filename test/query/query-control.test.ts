/**
 * Query control as Node programs expect it: an AbortSignal stops a query,
 * progress arrives as an async iterator as well as events.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';
import { eventSchema, events } from '../helpers.js';

t.test('aborting the signal stops the query cleanly: the batch in flight commits and awaitTermination resolves', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const sink = new MemorySink();
  const controller = new AbortController();
  const query = await startQuery({ source, sink, checkpointLocation: t.testdir(), signal: controller.signal, manager: new StreamingQueryManager() });
  source.addData(events([1, 'Open']));
  await query.processAllAvailable();
  controller.abort();
  t.equal(await query.awaitTermination(), true);
  t.equal(query.isActive, false);
  t.equal(query.exception, null);
  t.strictSame(sink.rows(), events([1, 'Open']));
});

t.test('an aborted signal refuses the start with its reason, before the checkpoint is made', async (t) => {
  const dir = join(t.testdir(), 'chk');
  const controller = new AbortController();
  controller.abort();
  await t.rejects(startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), checkpointLocation: dir, signal: controller.signal, manager: new StreamingQueryManager() }), {
    name: 'AbortError',
  });
  t.equal(existsSync(dir), false);
});

t.test('progress() yields every committed batch in order and ends when the query stops', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager: new StreamingQueryManager() });
  const progress = query.progress();
  for (let i = 0; i < 3; i++) {
    source.addData(events([i, 'Open']));
    await query.processAllAvailable();
  }
  await query.stop();
  const seen: Array<[number, number]> = [];
  for await (const p of progress) seen.push([p.batchId, p.numInputRows]);
  t.strictSame(seen, [[0, 1], [1, 1], [2, 1]]);
});

t.test('progress() buffers at most bufferSize reports: a slow consumer gets the newest and the count of those dropped', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager: new StreamingQueryManager() });
  const progress = query.progress({ bufferSize: 2 });
  for (let i = 0; i < 5; i++) {
    source.addData(events([i, 'Open']));
    await query.processAllAvailable();
  }
  await query.stop();
  const seen: number[] = [];
  for await (const p of progress) seen.push(p.batchId);
  t.strictSame(seen, [3, 4]);
  t.equal(progress.dropped, 3);
});

t.test('progress() throws the failure of a query that failed, after the progress before it', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const stage = mapRows((row) => {
    if (row['action'] === 'Boom') throw new Error('boom');
    return row;
  });
  const query = await startQuery({ source, stages: [stage], sink: new MemorySink(), manager: new StreamingQueryManager() });
  const progress = query.progress();
  source.addData(events([1, 'Open']));
  await query.processAllAvailable();
  source.addData(events([2, 'Boom']));
  const seen: number[] = [];
  await t.rejects(
    (async () => {
      for await (const p of progress) seen.push(p.batchId);
    })(),
    { code: 'ERR_QUERY_FAILED', cause: { message: 'boom' } },
  );
  t.strictSame(seen, [0]);
});

t.test('progress() on a query that already ended is done at once', async (t) => {
  const query = await startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager: new StreamingQueryManager() });
  await query.stop();
  t.strictSame(await query.progress().next(), { value: undefined, done: true });
});

t.test("progress()'s own signal ends the iteration, not the query", async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager: new StreamingQueryManager() });
  const controller = new AbortController();
  const progress = query.progress({ signal: controller.signal });
  const pending: Promise<IteratorResult<StreamingQueryProgress>> = progress.next();
  controller.abort();
  await t.rejects(pending, { name: 'AbortError' });
  t.equal(query.isActive, true);
  await query.stop();
});

t.test('progress() refuses a bufferSize that is not a positive integer', async (t) => {
  const query = await startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.throws(() => query.progress({ bufferSize: 0 }), { code: 'ERR_INVALID_OPTION', message: 'bufferSize must be a positive integer, got 0' });
  await query.stop();
});

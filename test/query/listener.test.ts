import t from 'tap';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager, type StreamingQuery } from '../../lib/query/streaming-query.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';
import { eventSchema, events, notebookStages } from '../helpers.js';

t.test('a manager listener hears a query start, commit each batch and stop, in that order', async (t) => {
  const manager = new StreamingQueryManager();
  const heard: string[] = [];
  manager.addListener({
    onQueryStarted: (q) => heard.push(`started ${q.name}`),
    onQueryProgress: (q, p) => heard.push(`progress ${q.name} ${p.batchId}`),
    onQueryTerminated: (q, e) => heard.push(`terminated ${q.name} ${e === null ? 'ok' : e.code}`),
  });
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ name: 'q', source, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), manager });
  source.addData(events([15, 'Open']));
  await query.processAllAvailable();
  await query.stop();
  t.strictSame(heard, ['started q', 'progress q 0', 'progress q 1', 'terminated q ok']);
});

t.test('a listener that throws does not stop the query', async (t) => {
  const manager = new StreamingQueryManager();
  manager.addListener({
    onQueryProgress: () => {
      throw new Error('monitoring bug');
    },
  });
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager });
  source.addData(events([1, 'Open']));
  await query.processAllAvailable();
  t.equal(query.isActive, true);
  t.equal(query.lastProgress?.batchId, 0);
  await query.stop();
});

t.test('a removed listener hears nothing more', async (t) => {
  const manager = new StreamingQueryManager();
  const heard: string[] = [];
  const listener = { onQueryStarted: (q: StreamingQuery) => heard.push(q.id) };
  manager.addListener(listener);
  manager.removeListener(listener);
  const query = await startQuery({ source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager });
  await query.stop();
  t.strictSame(heard, []);
});

t.test('a query emits progress events and one terminated event carrying the failure', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager: new StreamingQueryManager() });
  const progress: StreamingQueryProgress[] = [];
  query.on('progress', (p) => progress.push(p));
  const terminated = new Promise((resolve) => query.once('terminated', resolve));
  source.addData(events([1, 'Open']));
  await query.processAllAvailable();
  await query.stop();
  t.strictSame(progress.map((p) => p.batchId), [0]);
  t.equal(await terminated, null);
});

t.test('recentOutput holds the rows of the last batch that wrote some, at most 20', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.strictSame(query.recentOutput, []);
  source.addData(events(...Array.from({ length: 25 }, (_, i): [number, string] => [i, 'Open'])));
  await query.processAllAvailable();
  t.equal(query.recentOutput.length, 20);
  t.strictSame(query.recentOutput[0], { time: 0, action: 'Open' });
  source.addData(events([100, 'Close']));
  await query.processAllAvailable();
  t.strictSame(query.recentOutput, [{ time: 100000, action: 'Close' }]);
  await query.stop();
});

t.test('explain lists the source, each stage and the sink', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.strictSame(query.explain().split('\n'), [
    source.description,
    'Watermark(eventTime=time, delayMs=10000)',
    'Window(timeColumn=time, as=window, durationUs=5000000, slideUs=5000000, startTimeUs=0)',
    'KeyedCount(groupBy=["action","window"], groupTypes=["string","struct<start:timestamp,end:timestamp>"], outputMode=Append, eventTime=window, watermarkDelayMs=10000, window={"durationUs":5000000,"slideUs":5000000,"startTimeUs":0}, countColumn=count, partitions=1) [state operator 0]',
    'MemorySink',
  ]);
  await query.stop();
});

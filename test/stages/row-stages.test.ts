import t from 'tap';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { filterRows, mapRows } from '../../lib/stages/row-stages.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { eventSchema, events } from '../helpers.js';

t.test('filterRows keeps the rows its predicate accepts and forwards micro-batch boundaries', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([1, 'Open'], [2, 'Scroll'], [3, 'Close']));
  const sink = new MemorySink();
  const query = await startQuery({ source, stages: [filterRows((row) => row['action'] !== 'Scroll')], sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows(), events([1, 'Open'], [3, 'Close']));
  t.equal(query.lastProgress?.batchId, 0);
});

t.test('mapRows with a new schema feeds the stages after it, which are checked against that schema', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const sink = new MemorySink();
  const query = await startQuery({
    source,
    stages: [mapRows((row) => ({ verb: String(row['action']).toLowerCase() }), { schema: 'verb string' }), new KeyedCount({ groupBy: ['verb'] })],
    sink,
    outputMode: 'complete',
    manager: new StreamingQueryManager(),
  });
  source.addData(events([1, 'Open'], [2, 'OPEN'], [3, 'Close']));
  await query.processAllAvailable();
  t.strictSame(sink.rows(), [{ verb: 'open', count: 2 }, { verb: 'close', count: 1 }]);
  await query.stop();
  await t.rejects(
    startQuery({ source: new MemorySource({ schema: eventSchema }), stages: [mapRows((r) => r, { schema: 'verb string' }), new KeyedCount({ groupBy: ['action'] })], sink: new MemorySink(), outputMode: 'complete', manager: new StreamingQueryManager() }),
    { code: 'ERR_UNKNOWN_COLUMN' },
  );
});

t.test('filterRows with a schema types its rows and refuses an input without those columns when the query starts', async (t) => {
  const source = new MemorySource({ schema: 'time timestamp, action string' });
  source.addData(events([1, 'Open'], [2, 'Scroll']));
  const sink = new MemorySink({ schema: 'time timestamp, action string' });
  const query = await startQuery({ source, stages: [filterRows((row) => row.action !== 'Scroll', { schema: 'action string' })], sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows(), events([1, 'Open']));
  await t.rejects(
    startQuery({ source: new MemorySource({ schema: eventSchema }), stages: [filterRows((row) => row.verb !== 'x', { schema: 'verb string, time long' })], sink: new MemorySink(), manager: new StreamingQueryManager() }),
    {
      code: 'ERR_SCHEMA_MISMATCH',
      message:
        "filterRows: the rows it receives (struct<time:timestamp,action:string>) do not match its schema (struct<verb:string,time:bigint>): no column 'verb'; column 'time' is timestamp, not bigint",
    },
  );
});

t.test('a MemorySink with a schema refuses a query that writes other columns when it starts', async (t) => {
  await t.rejects(
    startQuery({
      source: new MemorySource({ schema: eventSchema }),
      stages: [new KeyedCount({ groupBy: ['action'] })],
      sink: new MemorySink({ schema: 'actoin string, count bigint' }),
      outputMode: 'complete',
      manager: new StreamingQueryManager(),
    }),
    {
      code: 'ERR_SCHEMA_MISMATCH',
      message:
        "MemorySink: the rows it receives (struct<action:string,count:bigint>) do not match its schema (struct<actoin:string,count:bigint>): no column 'actoin' (did you mean 'action'?); column 'action' is not declared",
    },
  );
});

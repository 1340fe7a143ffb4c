/**
 * Honest state figures (issue 13): a keyed aggregation reports the memory
 * its compact state holds, everything counted, and the checkpoint fills
 * `commitTimeMs`.
 */
import t from 'tap';
import { RecordBatch } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { Window } from '../../lib/stages/window.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { eventSchema } from '../helpers.js';

const GROUPS = 100_000;

t.test(`memoryUsedBytes of ${GROUPS} (string, window) groups is reported, under 200 bytes a group`, async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  const rows = Array.from({ length: GROUPS }, (_, i) => ({ time: 1_700_000_000_000 + (i % 1000) * 1000, action: `user-${i}` }));
  source.addData(RecordBatch.fromRows(eventSchema, rows));
  const query = await startQuery({
    source,
    stages: [new Window({ timeColumn: 'time', duration: '1 day' }), new KeyedCount({ groupBy: ['action', 'window'] })],
    sink: new MemorySink(),
    outputMode: 'update',
    checkpointLocation: t.testdir(),
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  const operator = query.lastProgress!.stateOperators[0]!;
  t.equal(operator['numRowsTotal'], GROUPS);
  const bytes = operator['memoryUsedBytes'] as number;
  t.comment(`${bytes} bytes, ${(bytes / GROUPS).toFixed(1)} bytes a group`);
  t.ok(bytes > GROUPS * 8, 'at least the window starts');
  t.ok(bytes <= GROUPS * 200, `${(bytes / GROUPS).toFixed(1)} bytes a group, at most 200`);
  t.equal(typeof operator['commitTimeMs'], 'number', 'the checkpoint filled commitTimeMs');
});

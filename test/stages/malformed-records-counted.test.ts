/**
 * Issue 10, defect 16: malformed records were counted nowhere. The progress
 * reports each micro-batch's malformed records — kept with nulls by
 * PERMISSIVE, dropped by DROPMALFORMED — as
 * `sources[0].metrics.numMalformedRecords` (Spark's string-valued metrics
 * map), the same figure on the row path, the chunk path and the count
 * pushed down on worker threads.
 */
import t from 'tap';
import type { Transform } from 'node:stream';
import { FileSource } from '../../lib/sources/file-source.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { ParseSchema, type ParseMode } from '../../lib/stages/parse-schema.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { eventSchema, events, notebookStages } from '../helpers.js';

// Four malformed records: broken JSON, a field that does not convert, one bad element of an
// array line, bytes that are not UTF-8. A blank line is no record at all.
const FILE = Buffer.concat([
  Buffer.from('{"time":1,"action":"Open"}\nnot json\n{"time":"x","action":"Open"}\n\n[{"time":2,"action":"Open"},{"time":true}]\n'),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]),
  Buffer.from('{"time":3,"action":"Close"}\n'),
]);

const PATHS = {
  'row path': { framing: 'lines', pushdown: false, workers: 0 },
  'chunk path': { framing: 'chunks', pushdown: false, workers: 0 },
  'count pushed down, this thread': { framing: 'chunks', pushdown: true, workers: 0 },
  'count pushed down, 2 workers': { framing: 'chunks', pushdown: true, workers: 2 },
} as const;

async function metrics(dir: string, path: (typeof PATHS)[keyof typeof PATHS], mode: ParseMode): Promise<{ pushedDown: boolean; metrics: Array<Record<string, string>> }> {
  const parse = new ParseSchema({ schema: 'time timestamp, action string', mode, timeZone: 'UTC', workers: path.workers });
  const stages: Transform[] = [parse];
  // An identity map between parse and watermark keeps the count where it is.
  if (!path.pushdown) stages.push(mapRows((row) => row));
  stages.push(new Watermark({ eventTime: 'time', delay: '1 second' }), new Window({ timeColumn: 'time', duration: '10 seconds' }), new KeyedCount({ groupBy: ['action', 'window'] }));
  const query = await startQuery({
    source: new FileSource({ path: dir, framing: path.framing, readBufferBytes: 32 }),
    stages,
    sink: new MemorySink(),
    outputMode: 'update',
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  return {
    pushedDown: query.explain().includes('with a partial count by'),
    // The malformed-record figure; the file source reports its own figures beside it.
    metrics: query.recentProgress.map((p) => ({ numMalformedRecords: p.sources[0]!.metrics['numMalformedRecords']! })),
  };
}

for (const [name, path] of Object.entries(PATHS)) {
  t.test(`defect 16 (${name}): the progress counts the batch's malformed records, kept or dropped`, async (t) => {
    const dir = t.testdir({ 'a.json': FILE });
    for (const mode of ['PERMISSIVE', 'DROPMALFORMED'] as const) {
      const run = await metrics(dir, path, mode);
      t.equal(run.pushedDown, path.pushdown);
      // The data batch, then the no-data batch the watermark's advance asks for.
      t.strictSame(run.metrics, [{ numMalformedRecords: '4' }, { numMalformedRecords: '0' }], mode);
    }
  });
}

t.test('defect 16: a query that parses nothing reports no malformed-record figure', async (t) => {
  const source = new MemorySource({ schema: eventSchema });
  source.addData(events([1, 'Open']));
  const query = await startQuery({ source, stages: notebookStages(), sink: new MemorySink(), trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(query.lastProgress!.sources[0]!.metrics, {});
});

/**
 * ChunkAggregate takes the next batch's chunks read ahead while the batch
 * before is still going out: its barrier waits for the batch's last chunks
 * and for the consumer, and the workers read ahead meanwhile. What comes out
 * is in the same order as ever: the batch's rows, its barrier, then the next
 * batch's begin and rows.
 */
import t from 'tap';
import { ChunkAggregate } from '../../lib/stages/chunk-aggregate.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { fileChunksSchema } from '../../lib/sources/file-source.js';
import { BatchBuilder, type RecordBatch } from '../../lib/core/batch.js';
import { barrier, type BeginItem, type OpenItem, type StreamItem } from '../../lib/protocol.js';

const CHUNKS = 40;

function chunk(schema: ReturnType<typeof fileChunksSchema>, text: string, file: string, offset: number): RecordBatch {
  const builder = new BatchBuilder(schema, 1);
  builder.columns[0]!.appendValue(Buffer.from(text));
  builder.columns[1]!.appendString(file);
  builder.columns[2]!.appendNumber(offset);
  builder.endRow();
  return builder.finish();
}

function begin(batchId: number, readAhead?: number): BeginItem {
  return { kind: 'begin', batchId, batchTimestampMs: 0, drain: false, watermarkMs: 0, lateWatermarkMs: 0, ...(readAhead === undefined ? {} : { readAhead }) };
}

t.test('chunks read ahead are taken while the barrier before waits for the consumer, and come out after it', async (t) => {
  const schema = fileChunksSchema(Infinity);
  const parse = new ParseSchema({ schema: 'time timestamp, action string', workers: 1, timeZone: 'UTC' });
  const stage = new ChunkAggregate({
    parse,
    window: { timeColumn: 'time', as: 'window', durationUs: 10_000_000, slideUs: 10_000_000, startTimeUs: 0, panes: false },
    groupBy: ['action', 'window'],
    store: { kind: 'count', name: 'count' },
    windowEntry: { operator: 'Window', configuration: {} },
  });
  t.teardown(() => void stage.destroy());
  const write = (item: StreamItem): Promise<void> => new Promise((resolve, reject) => stage.write(item, (err) => (err == null ? resolve() : reject(err))));
  const offer = { taken: false };
  const open: OpenItem = {
    kind: 'open',
    schema,
    outputMode: 'update',
    recovered: null,
    nextOperatorId: 0,
    aggregated: false,
    query: { id: 'q', runId: 'r', name: null, checkpointLocation: null },
    plan: [],
    commits: { opened: () => undefined, commit: async () => undefined },
    readAhead: offer,
  };
  // What goes out (as it is pushed) and when the read-ahead chunk was taken, in one log.
  const log: string[] = [];
  const push = stage.push.bind(stage);
  stage.push = (item: StreamItem | null): boolean => {
    if (item !== null && item.kind !== 'rows') log.push(`${item.kind}${'batchId' in item ? ` ${item.batchId}` : ''}`);
    else if (item !== null) {
      const starts = (item.batch.columns[1] as Extract<RecordBatch['columns'][number], { kind: 'struct' }>).children[0] as { values: Float64Array };
      log.push(`rows ${item.batch.rows().map((r) => r.action).join(',')}@${starts.values[0]! / 1e6}`);
    }
    return push(item);
  };
  const reading = (async () => {
    for await (const _ of stage as AsyncIterable<StreamItem>);
  })();
  await write(open);
  t.equal(offer.taken, true, 'a ChunkAggregate on workers takes the offer');
  void write(begin(0));
  // Batch 0: one chunk (one line, one group) per 10 s of event time, so one rows item each. When
  // its barrier comes, its last chunks are still with the worker.
  for (let i = 0; i < CHUNKS; i++) void write({ kind: 'rows', batch: chunk(schema, `{"time":${i * 10},"action":"a"}\n`, 'a.json', i === 0 ? 0 : 1 + i) });
  void write(barrier(0));
  await write({ kind: 'readAhead', batchId: 1, batch: chunk(schema, '{"time":5000,"action":"b"}\n', 'b.json', 0) });
  log.push('read-ahead taken');
  await write(begin(1, 1));
  await write(barrier(1));
  stage.end();
  await reading;
  const rows = Array.from({ length: CHUNKS }, (_, i) => `rows a@${i * 10}`);
  t.same(
    log.filter((l) => l !== 'read-ahead taken'),
    ['open', 'begin 0', ...rows, 'barrier 0', 'begin 1', 'rows b@5000', 'barrier 1'],
  );
  t.ok(log.indexOf('read-ahead taken') < log.indexOf('barrier 0'), 'the read-ahead chunk was taken before batch 0 went out');
});

/**
 * Issue 10, defect 12: one absurd event time poisons the watermark for good.
 *
 * A JSON integer time is epoch seconds, as in Spark, so `1000000000000000`
 * (an epoch in µs written as seconds) is the year 31,690,708; Spark accepts
 * it and the watermark follows. tidemark keeps that conversion, reports the
 * batch's max event time in the progress, and offers `maxEventTimeAhead`:
 * a time more than that past the micro-batch's processing time
 * (`batchTimestampMs`) makes its record malformed, and the parse mode
 * decides — the same on the row path, the chunk path and the count pushed
 * down on worker threads.
 */
import t from 'tap';
import { Transform } from 'node:stream';
import { FileSource } from '../../lib/sources/file-source.js';
import { ParseSchema, type ParseMode } from '../../lib/stages/parse-schema.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { StreamItem } from '../../lib/protocol.js';
import type { Row } from '../../lib/core/batch.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';
import { batchTimeAt } from '../helpers.js';

/** 2016-07-26T03:00:00Z: the processing time every batch of these tests is given. */
const BATCH_MS = Date.UTC(2016, 6, 26, 3);
const LINES = [
  '{"time":1469501675,"action":"Open"}', // 2016-07-26T02:54:35Z
  '{"time":1000000000000000,"action":"Open"}', // µs written as seconds: the year 31690708
  '{"time":1469588400,"action":"Close"}', // exactly 1 day past the batch's processing time: kept
  '{"time":1469588401,"action":"Close"}', // 1 second more: malformed under "1 day" (though long past today's clock)
];
const SCHEMA = 'time timestamp, action string, _corrupt_record string';

/**
 * Where the test reads: `lines` is the row path (split2 + JSON.parse); `chunks` the compiled
 * scanner on this thread; `pushdown` the count done where chunks are read, on `workers` threads.
 */
type Path = { framing: 'lines' | 'chunks'; pushdown: boolean; workers: number };
const PATHS: Record<string, Path> = {
  'row path': { framing: 'lines', pushdown: false, workers: 0 },
  'chunk path': { framing: 'chunks', pushdown: false, workers: 0 },
  'count pushed down, this thread': { framing: 'chunks', pushdown: true, workers: 0 },
  'count pushed down, 2 workers': { framing: 'chunks', pushdown: true, workers: 2 },
};

interface Outcome {
  rows?: Row[];
  progress?: StreamingQueryProgress[];
  error?: { code: string; line: number | undefined; message: string };
  pushedDown: boolean;
}

async function run(dir: string, path: Path, options: { mode: ParseMode; maxEventTimeAhead?: string; count: boolean }): Promise<Outcome> {
  const parse = new ParseSchema({ schema: SCHEMA, mode: options.mode, timeZone: 'UTC', workers: path.workers, ...(options.maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead: options.maxEventTimeAhead }) });
  const stages: Transform[] = [batchTimeAt(BATCH_MS), parse];
  if (options.count) {
    // An identity map between parse and watermark keeps the count where it is.
    if (!path.pushdown) stages.push(mapRows((row) => row));
    stages.push(new Watermark({ eventTime: 'time', delay: '1 hour' }), new Window({ timeColumn: 'time', duration: '1 hour' }), new KeyedCount({ groupBy: ['action', 'window'] }));
  }
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: dir, framing: path.framing, readBufferBytes: 40 }),
    stages,
    sink,
    outputMode: options.count ? 'update' : 'append',
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  try {
    await query.awaitTermination();
  } catch (err) {
    const cause = (err as { cause: { code: string; line?: number; message: string } }).cause;
    return { error: { code: cause.code, line: cause.line, message: cause.message }, pushedDown: query.explain().includes('with a partial count by') };
  }
  return { rows: sink.rows(), progress: query.recentProgress, pushedDown: query.explain().includes('with a partial count by') };
}

const window = (start: string, end: string): { start: number; end: number } => ({ start: Date.parse(start), end: Date.parse(end) });

for (const [name, path] of Object.entries(PATHS)) {
  t.test(`defect 12 (${name}): without maxEventTimeAhead a JSON integer time is epoch seconds as in Spark, 1e15 included, and the progress reports it as the batch's max event time`, async (t) => {
    const dir = t.testdir({ 'a.json': LINES.join('\n') + '\n' });
    const outcome = await run(dir, path, { mode: 'FAILFAST', count: true });
    t.equal(outcome.pushedDown, path.pushdown);
    t.equal(outcome.error, undefined, 'even FAILFAST accepts it');
    t.strictSame(outcome.progress![0]!.eventTime, {
      avg: '7924189-07-21T02:40:19.008Z',
      max: '31690708-07-05T01:46:40.000Z',
      min: '2016-07-26T02:54:35.000Z',
      watermark: '1970-01-01T00:00:00.000Z',
    });
    t.equal(outcome.progress![0]!.sources[0]!.metrics['numMalformedRecords'], '0');
    t.equal(outcome.progress![1]!.eventTime!['watermark'], '31690708-07-05T00:46:40.000Z', 'the watermark follows it');
  });

  t.test(`defect 12 (${name}): under maxEventTimeAhead PERMISSIVE nulls a time more than that past the batch's processing time and keeps the line`, async (t) => {
    const dir = t.testdir({ 'a.json': LINES.join('\n') + '\n' });
    const outcome = await run(dir, path, { mode: 'PERMISSIVE', maxEventTimeAhead: '1 day', count: path.pushdown });
    if (path.pushdown) {
      // Null times have no window: what is counted is the rows whose time was kept.
      t.equal(outcome.pushedDown, true);
      t.strictSame(outcome.rows, [
        { action: 'Open', window: window('2016-07-26T02:00:00Z', '2016-07-26T03:00:00Z'), count: 1 },
        { action: 'Close', window: window('2016-07-27T03:00:00Z', '2016-07-27T04:00:00Z'), count: 1 },
      ]);
      t.equal(outcome.progress![0]!.eventTime!['max'], '2016-07-27T03:00:00.000Z');
    } else {
      t.strictSame(outcome.rows, [
        { time: Date.parse('2016-07-26T02:54:35Z'), action: 'Open', _corrupt_record: null },
        { time: null, action: 'Open', _corrupt_record: LINES[1] },
        { time: Date.parse('2016-07-27T03:00:00Z'), action: 'Close', _corrupt_record: null },
        { time: null, action: 'Close', _corrupt_record: LINES[3] },
      ]);
    }
    t.equal(outcome.progress![0]!.sources[0]!.metrics['numMalformedRecords'], '2');
  });

  t.test(`defect 12 (${name}): under maxEventTimeAhead DROPMALFORMED drops such a record, and the max event time stays sane`, async (t) => {
    const dir = t.testdir({ 'a.json': LINES.join('\n') + '\n' });
    const outcome = await run(dir, path, { mode: 'DROPMALFORMED', maxEventTimeAhead: '1 day', count: true });
    t.equal(outcome.pushedDown, path.pushdown);
    t.strictSame(outcome.rows, [
      { action: 'Open', window: window('2016-07-26T02:00:00Z', '2016-07-26T03:00:00Z'), count: 1 },
      { action: 'Close', window: window('2016-07-27T03:00:00Z', '2016-07-27T04:00:00Z'), count: 1 },
    ]);
    t.strictSame(outcome.progress![0]!.eventTime, { avg: '2016-07-26T14:57:17.500Z', max: '2016-07-27T03:00:00.000Z', min: '2016-07-26T02:54:35.000Z', watermark: '1970-01-01T00:00:00.000Z' });
    t.equal(outcome.progress![0]!.sources[0]!.metrics['numMalformedRecords'], '2');
    t.equal(outcome.progress![1]!.eventTime!['watermark'], '2016-07-27T02:00:00.000Z', 'the next watermark follows the sane max');
  });

  t.test(`defect 12 (${name}): under maxEventTimeAhead FAILFAST fails on such a record, naming the field, the limit, file and line`, async (t) => {
    const dir = t.testdir({ 'a.json': LINES.join('\n') + '\n' });
    const outcome = await run(dir, path, { mode: 'FAILFAST', maxEventTimeAhead: '1 day', count: path.pushdown });
    t.strictSame(outcome.error, {
      code: 'ERR_MALFORMED_RECORD',
      line: 2,
      message:
        `[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: ${LINES[1]}. Parse Mode: FAILFAST. ` +
        "To process malformed records as null result, try setting the option 'mode' as 'PERMISSIVE'. " +
        '`time` is 31690708-07-05T01:46:40.000Z, more than maxEventTimeAhead (1 day) past the batch\'s processing time 2016-07-26T03:00:00.000Z. ' +
        `(${dir}/a.json, line 2)`,
    });
  });
}

t.test('defect 12: a re-executed micro-batch decides with its own processing time, as the first execution did', async (t) => {
  const root = t.testdir({ in: { 'a.json': '{"time":1469501675,"action":"Open"}\n{"time":1469674800,"action":"Open"}\n' } });
  const stages = (extra: Transform[] = []): Transform[] => [
    new ParseSchema({ schema: SCHEMA, mode: 'DROPMALFORMED', timeZone: 'UTC', workers: 0, maxEventTimeAhead: '1 day' }),
    ...extra,
  ];
  const crashAtBarrier = new Transform({
    objectMode: true,
    transform(item: StreamItem, _encoding, callback) {
      callback(item.kind === 'barrier' ? new Error('crash before the commit') : null, item);
    },
  });
  // The first execution logs 2016 as the batch's processing time (the clock is set back for it), then crashes.
  const realNow = Date.now;
  Date.now = () => BATCH_MS;
  try {
    const first = await startQuery({ source: new FileSource({ path: `${root}/in`, framing: 'chunks' }), stages: stages([crashAtBarrier]), sink: new MemorySink(), checkpointLocation: `${root}/chk`, trigger: 'once', manager: new StreamingQueryManager() });
    await t.rejects(first.awaitTermination(), { code: 'ERR_QUERY_FAILED', message: /crash before the commit/ });
  } finally {
    Date.now = realNow;
  }
  // Today the second line is in the past; the re-execution still measures from 2016 and drops it.
  const sink = new MemorySink();
  const again = await startQuery({ source: new FileSource({ path: `${root}/in`, framing: 'chunks' }), stages: stages(), sink, checkpointLocation: `${root}/chk`, trigger: 'once', manager: new StreamingQueryManager() });
  await again.awaitTermination();
  t.equal(again.recentProgress[0]!.batchId, 0, 'batch 0 ran again');
  t.strictSame(sink.rows(), [{ time: Date.parse('2016-07-26T02:54:35Z'), action: 'Open', _corrupt_record: null }]);
  t.equal(again.recentProgress[0]!.sources[0]!.metrics['numMalformedRecords'], '1');
});

t.test('defect 12: maxEventTimeAhead is an interval or milliseconds, never negative, never months', async (t) => {
  t.equal(new ParseSchema({ schema: SCHEMA, maxEventTimeAhead: '1 day 2 hours' }).maxEventTimeAheadUs, 26 * 3600 * 1e6);
  t.equal(new ParseSchema({ schema: SCHEMA, maxEventTimeAhead: 1500 }).maxEventTimeAheadUs, 1_500_000);
  t.equal(new ParseSchema({ schema: SCHEMA }).maxEventTimeAheadUs, null);
  t.throws(() => new ParseSchema({ schema: SCHEMA, maxEventTimeAhead: '-1 hour' }), { code: 'ERR_INVALID_OPTION', option: 'maxEventTimeAhead', message: "maxEventTimeAhead must not be negative, got '-1 hour'" });
  t.throws(() => new ParseSchema({ schema: SCHEMA, maxEventTimeAhead: '1 month' }), { code: 'ERR_INVALID_INTERVAL', option: 'maxEventTimeAhead' });
  t.throws(() => new ParseSchema({ schema: SCHEMA, maxEventTimeAhead: 'soon' }), { code: 'ERR_INVALID_INTERVAL', option: 'maxEventTimeAhead' });
});

/**
 * A count pushed down into ParseSchema (counted where the chunks are read,
 * on worker threads or not) must write what the stages write row by row:
 * the same rows in the same order, the same progress figures (malformed
 * records included), the same errors — with `maxEventTimeAhead` too.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transform } from 'node:stream';
import { FileSource } from '../../lib/sources/file-source.js';
import { ParseSchema, type ParseMode } from '../../lib/stages/parse-schema.js';
import { ChunkAggregate, type ChunkWindow } from '../../lib/stages/chunk-aggregate.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { TidemarkError } from '../../lib/errors.js';
import type { Row } from '../../lib/core/batch.js';
import { batchTimeAt } from '../helpers.js';

const SCHEMA = 'time timestamp, action string, _corrupt_record string';
// Every batch's processing time (1970-01-01T00:01:00Z), so that `maxEventTimeAhead` decides
// the same in every run: times of 0..120 s fall on both sides of it.
const BATCH_MS = 60_000;

interface Shape {
  readonly watermark: string | null;
  readonly slide: string | null;
  readonly groupBy: readonly string[];
  readonly outputMode: 'append' | 'update' | 'complete';
}

interface Outcome {
  readonly pushedDown: boolean;
  readonly rows?: Row[];
  readonly progress?: unknown[];
  readonly error?: { code: string; message: string; line: number | undefined };
}

// `workers: null` runs the stages as written (`optimize: false`): the reference.
async function run(dir: string, shape: Shape, mode: ParseMode, workers: number | null, readBufferBytes: number, maxEventTimeAhead: string | null = null): Promise<Outcome> {
  const parse = new ParseSchema({ schema: SCHEMA, mode, timeZone: 'UTC', workers: workers ?? 0, ...(maxEventTimeAhead === null ? {} : { maxEventTimeAhead }) });
  const stages: Transform[] = [batchTimeAt(BATCH_MS), parse];
  if (shape.watermark !== null) stages.push(new Watermark({ eventTime: 'time', delay: shape.watermark }));
  stages.push(new Window({ timeColumn: 'time', duration: '10 seconds', slide: shape.slide }));
  stages.push(new KeyedCount({ groupBy: shape.groupBy }));
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: dir, framing: 'chunks', readBufferBytes, maxFilesPerTrigger: 1 }),
    stages,
    sink,
    outputMode: shape.outputMode,
    trigger: 'availableNow',
    drain: shape.watermark !== null,
    optimize: workers !== null,
    manager: new StreamingQueryManager(),
  });
  const pushedDown = query.explain().includes('with a partial count by');
  try {
    await query.awaitTermination();
  } catch (err) {
    const cause = (err as { cause: TidemarkError & { line?: number } }).cause;
    return { pushedDown, error: { code: cause.code, message: cause.message, line: cause.line } };
  }
  const progress = query.recentProgress.map((p) => ({
    batchId: p.batchId,
    numInputRows: p.numInputRows,
    eventTime: p.eventTime,
    stateOperators: p.stateOperators.map((s) => ({ ...s, allUpdatesTimeMs: 0, allRemovalsTimeMs: 0, commitTimeMs: 0 })),
    sourceMetrics: p.sources[0]!.metrics,
    sink: p.sink.numOutputRows,
  }));
  return { pushedDown, rows: sink.rows(), progress };
}

const timeValue = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 120 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('null', '"1970-01-01 00:00:07"', '"1970-01-01 00:01:45"', '1.5', '"x"', '4102444800') },
);
const action = fc.constantFrom('"Open"', '"Close"', 'null', '"é"', '"a\\"b"', '7');
const recordLine = fc.tuple(timeValue, action, fc.boolean()).map(([time, a, swap]) => (swap ? `{"action":${a},"time":${time}}` : `{"time":${time},"action":${a}}`));
const line = fc.oneof({ weight: 12, arbitrary: recordLine }, { weight: 1, arbitrary: fc.constantFrom('', 'garbage', '{"time":3', '[{"time":1,"action":"Open"}]') });
const shapeArb = fc.constantFrom<Shape>(
  { watermark: '5 seconds', slide: null, groupBy: ['action', 'window'], outputMode: 'append' },
  { watermark: '5 seconds', slide: '5 seconds', groupBy: ['window', 'action'], outputMode: 'update' },
  { watermark: null, slide: null, groupBy: ['window'], outputMode: 'complete' },
  { watermark: '0 seconds', slide: '2 seconds', groupBy: ['action', 'window'], outputMode: 'append' },
);

t.test('counting where the chunks are read, on this thread or on workers, writes what the stages write row by row', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(line, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }),
      shapeArb,
      fc.constantFrom<ParseMode>('PERMISSIVE', 'DROPMALFORMED', 'FAILFAST'),
      fc.integer({ min: 8, max: 200 }),
      fc.constantFrom(null, null, '30 seconds', '0 seconds'),
      async (files, shape, mode, readBufferBytes, maxEventTimeAhead) => {
        const dir = await mkdtemp(join(tmpdir(), 'tidemark-pushdown-'));
        try {
          for (const [i, lines] of files.entries()) await writeFile(join(dir, `part-${i}.json`), lines.join('\n') + '\n');
          const reference = await run(dir, shape, mode, null, readBufferBytes, maxEventTimeAhead);
          t.equal(reference.pushedDown, false);
          for (const workers of [0, 2]) {
            const pushed = await run(dir, shape, mode, workers, readBufferBytes, maxEventTimeAhead);
            t.equal(pushed.pushedDown, true);
            t.same({ ...pushed, pushedDown: false }, reference, `workers: ${workers}`);
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 25 },
  );
});

t.test('a malformed record read on a worker fails the query naming its file and line', async (t) => {
  const good = Array.from({ length: 500 }, (_, i) => `{"time":${i},"action":"Open"}`);
  const dir = t.testdir({ 'a.json': [...good, '{"time":', ...good].join('\n') + '\n' });
  const outcome = await run(dir, { watermark: '5 seconds', slide: null, groupBy: ['action', 'window'], outputMode: 'append' }, 'FAILFAST', 2, 1024);
  t.equal(outcome.error?.code, 'ERR_MALFORMED_RECORD');
  t.equal(outcome.error?.line, 501);
  t.match(outcome.error?.message, /\(.*a\.json, line 501\)$/);
});

t.test('the driver pushes the notebook count down, and not a count that routes late rows', async (t) => {
  const dir = t.testdir({ 'a.json': '{"time":1,"action":"Open"}\n' });
  const plan = async (count: KeyedCount, framing: 'chunks' | 'lines' = 'chunks'): Promise<boolean> =>
    (await explainAfterRun(dir, framing, [new ParseSchema({ schema: SCHEMA, workers: 0 }), new Watermark({ eventTime: 'time', delay: '1 second' }), new Window({ timeColumn: 'time', duration: '10 seconds' }), count])).includes('with a partial count by');
  t.equal(await plan(new KeyedCount({ groupBy: ['action', 'window'] })), true);
  t.equal(await plan(new KeyedCount({ groupBy: ['action', 'window'] }), 'lines'), false);
  t.equal(await plan(new KeyedCount({ groupBy: ['action', 'window'], emitLateRows: true })), false);
  t.equal(await plan(new KeyedCount({ groupBy: ['action', '_corrupt_record', 'window'] })), false);
});

// The plan `explain()` prints for a query over `dir` with `stages`, once it ran (availableNow).
async function explainAfterRun(dir: string, framing: 'chunks' | 'lines', stages: Transform[], outputMode: 'append' | 'complete' = 'append'): Promise<string> {
  const query = await startQuery({ source: new FileSource({ path: dir, framing }), stages, sink: new MemorySink(), outputMode, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  return query.explain();
}

function chunkAggregate(groupBy: readonly string[], window: Partial<ChunkWindow> = {}): ChunkAggregate {
  const parse = new ParseSchema({ schema: SCHEMA, workers: 0 });
  const w: ChunkWindow = { timeColumn: 'time', as: 'window', durationUs: 10, slideUs: 10, startTimeUs: 0, panes: false, ...window };
  return new ChunkAggregate({ parse, window: w, groupBy, store: { kind: 'count', name: 'count' }, windowEntry: { operator: 'Window', configuration: {} } });
}

t.test('partial aggregates reach only stages that merge them: a row stage or a sink after a ChunkAggregate is refused when the query is planned', async (t) => {
  const dir = t.testdir({ 'a.json': '{"time":1,"action":"Open"}\n' });
  for (const stages of [[chunkAggregate(['action', 'window']), mapRows((row) => row)], [chunkAggregate(['action', 'window'])]]) {
    await t.rejects(startQuery({ source: new FileSource({ path: dir }), stages, sink: new MemorySink(), outputMode: 'update', manager: new StreamingQueryManager() }), {
      code: 'ERR_PLAN_INPUT',
      message: /^(mapRows|a sink) cannot take partial aggregates/,
    });
  }
});

t.test('ParseSchema refuses a negative or fractional number of workers', async (t) => {
  t.throws(() => new ParseSchema({ schema: SCHEMA, workers: -1 }), { code: 'ERR_INVALID_OPTION', option: 'workers' });
  t.throws(() => new ParseSchema({ schema: SCHEMA, workers: 1.5 }), { code: 'ERR_INVALID_OPTION', option: 'workers' });
});

t.test('a ChunkAggregate refuses a grouping it cannot aggregate where it reads', async (t) => {
  t.throws(() => chunkAggregate(['action']), { code: 'ERR_INVALID_OPTION', option: 'groupBy', message: /groups by the window and at most one string column/ });
  t.throws(() => chunkAggregate(['action', '_corrupt_record', 'window']), { code: 'ERR_INVALID_OPTION', option: 'groupBy' });
  t.throws(() => chunkAggregate(['window'], { slideUs: 5 }), { code: 'ERR_INVALID_OPTION', message: /one window per row/ });
  t.throws(() => chunkAggregate(['window'], { timeColumn: 'action' }), { code: 'ERR_INVALID_OPTION', message: /not a timestamp column/ });
});

t.test("a malformed record in a batch's last chunk, met while the next batch is read ahead, fails the query naming its file and line", async (t) => {
  const good = (from: number): string[] => Array.from({ length: 400 }, (_, i) => `{"time":${from + i},"action":"Open"}`);
  // Two batches (one file each): the bad line is the first file's last, read while its barrier goes out.
  const dir = t.testdir({ 'a.json': [...good(0), '{"time":'].join('\n') + '\n', 'b.json': good(1000).join('\n') + '\n' });
  const outcome = await run(dir, { watermark: '5 seconds', slide: null, groupBy: ['action', 'window'], outputMode: 'append' }, 'FAILFAST', 2, 1024);
  t.equal(outcome.error?.code, 'ERR_MALFORMED_RECORD');
  t.equal(outcome.error?.line, 401);
  t.match(outcome.error?.message, /\(.*a\.json, line 401\)$/);
});

t.test('explain names how many worker threads the push-down reads on, one in the singular', async (t) => {
  const dir = t.testdir({ 'a.json': '{"time":1,"action":"Open"}\n' });
  const explain = (workers: number): Promise<string> =>
    explainAfterRun(dir, 'chunks', [new ParseSchema({ schema: SCHEMA, workers }), new Window({ timeColumn: 'time', duration: '10 seconds' }), new KeyedCount({ groupBy: ['action', 'window'] })], 'complete');
  t.match(await explain(1), /, on 1 worker thread$/m);
  t.match(await explain(2), /, on 2 worker threads$/m);
  t.match(await explain(0), /, on the query thread$/m);
});

/**
 * Reading the next micro-batch while the one before commits (`availableNow`,
 * a file source, chunks parsed on worker threads): the batches, their rows
 * and their progress are those of a run that reads nothing ahead; a batch
 * that fails or a query that stops while the next is read ahead loses and
 * repeats nothing after a restart; and read-ahead rows never reach a stage
 * that did not ask for them.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { FileSource } from '../../lib/sources/file-source.js';
import type { Offset, PlanMode, PlannedAhead } from '../../lib/internals.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { ForEachBatchSink } from '../../lib/sinks/foreach-batch-sink.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager, type StreamingQuery } from '../../lib/query/streaming-query.js';
import { RecordBatch, type Row } from '../../lib/core/batch.js';
import { parseDDL } from '../../lib/core/ddl.js';
import type { StreamItem } from '../../lib/protocol.js';
import { TidemarkError } from '../../lib/errors.js';

const FILES = 4;
const ACTIONS = ['Open', 'Close', 'Click'];

// Four files of 3,000 lines, an hour of event time each, a little out of order, in the test's
// directory under in/ (a checkpoint goes beside it).
async function dataSet(t: Test): Promise<string> {
  const dir = join(t.testdir(), 'in');
  await mkdir(dir);
  for (let f = 0; f < FILES; f++) {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const time = 1_469_500_000 + f * 3600 + i + ((i * 7) % 11) - 5;
      lines.push(JSON.stringify({ time, action: ACTIONS[(i * 13 + f) % ACTIONS.length] }));
    }
    await writeFile(join(dir, `part-${String(f).padStart(5, '0')}.json`), lines.join('\n') + '\n');
  }
  return dir;
}

/** Sees every item first and forwards it (or drops read-ahead items with `dropReadAhead`). */
class Spy extends Transform {
  readonly begins: Array<{ batchId: number; readAhead: number | undefined }> = [];
  readonly readAheadBatches = new Set<number>();
  readonly #waiting = new Map<number, Array<() => void>>();
  readonly #drop: boolean;

  constructor(drop = false) {
    super({ objectMode: true });
    this.#drop = drop;
  }

  override _transform(item: StreamItem, _encoding: BufferEncoding, callback: (err?: Error | null, item?: StreamItem) => void): void {
    if (item.kind === 'begin') this.begins.push({ batchId: item.batchId, readAhead: item.readAhead });
    if (item.kind === 'readAhead') {
      this.readAheadBatches.add(item.batchId);
      for (const wake of this.#waiting.get(item.batchId) ?? []) wake();
      this.#waiting.delete(item.batchId);
      if (this.#drop) {
        callback();
        return;
      }
    }
    callback(null, item);
  }

  /** Resolves once a read-ahead item of `batchId` passed (or after a bound: the test's assertions then fail). */
  readAheadOf(batchId: number): Promise<void> {
    if (this.readAheadBatches.has(batchId)) return Promise.resolve();
    return new Promise((resolve) => {
      const bound = setTimeout(resolve, 10_000);
      const waiting = this.#waiting.get(batchId) ?? [];
      waiting.push(() => (clearTimeout(bound), resolve()));
      this.#waiting.set(batchId, waiting);
    });
  }
}

/** A file source whose log entries written while planning ahead are held until release(). */
class HeldLogSource extends FileSource {
  release: () => void = () => undefined;
  readonly #held = new Promise<void>((resolve) => (this.release = resolve));

  constructor(dir: string) {
    super({ path: dir, maxFilesPerTrigger: 1 });
  }

  override async planAhead(start: Offset | null, mode: PlanMode): Promise<PlannedAhead> {
    const planned = await super.planAhead(start, mode);
    const held = this.#held;
    return { end: planned.end, recorded: planned.recorded.then(() => held) };
  }
}

/** Resolves once `path` exists, or after about `ms`. */
async function appears(path: string, ms: number): Promise<void> {
  for (let i = 0; i < ms / 10 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Resolves once no run holds the checkpoint's lock (a bounded wait: the assertions after it then fail). */
async function lockReleased(checkpoint: string): Promise<void> {
  for (let i = 0; i < 500 && existsSync(join(checkpoint, '.lock')); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

interface Run {
  readonly query: StreamingQuery;
  readonly spy: Spy;
  readonly batches: Map<number, Row[]>;
}

interface RunOptions {
  readonly workers: number;
  readonly checkpoint?: string;
  /** Each batch's sink call waits until the next batch is being read ahead (so that it is, whatever the timing). */
  readonly holdUntilReadAhead?: boolean;
  /** Throws in the sink call of this batch (after the next batch is being read ahead). */
  readonly failAt?: number;
  readonly spy?: Spy;
  readonly optimize?: boolean;
  readonly source?: FileSource;
}

async function start(dir: string, options: RunOptions): Promise<Run> {
  const spy = options.spy ?? new Spy();
  const batches = new Map<number, Row[]>();
  const sink = new ForEachBatchSink(async (rows, batchId) => {
    if ((options.holdUntilReadAhead === true || options.failAt === batchId) && batchId < FILES - 1) await spy.readAheadOf(batchId + 1);
    if (options.failAt === batchId) throw new Error(`the sink fails batch ${batchId}`);
    batches.set(batchId, rows);
  });
  const query = await startQuery({
    source: options.source ?? new FileSource({ path: dir, maxFilesPerTrigger: 1 }),
    stages: [
      spy,
      new ParseSchema({ schema: 'time timestamp, action string', timeZone: 'UTC', workers: options.workers }),
      new Watermark({ eventTime: 'time', delay: '10 minutes' }),
      new Window({ timeColumn: 'time', duration: '30 minutes' }),
      new KeyedCount({ groupBy: ['action', 'window'] }),
    ],
    sink,
    trigger: 'availableNow',
    drain: true,
    optimize: options.optimize ?? true,
    manager: new StreamingQueryManager(),
    ...(options.checkpoint === undefined ? {} : { checkpointLocation: options.checkpoint }),
  });
  return { query, spy, batches };
}

/** A run, once it ended. */
async function completed(dir: string, options: RunOptions): Promise<Run> {
  const run = await start(dir, options);
  await run.query.awaitTermination();
  return run;
}

function progressOf(query: StreamingQuery): unknown[] {
  return query.recentProgress.map((p) => ({ batchId: p.batchId, numInputRows: p.numInputRows, source: p.sources[0]!.metrics, sink: p.sink.numOutputRows }));
}

function allRows(...runs: Array<Map<number, Row[]>>): Array<[number, Row[]]> {
  const all = new Map<number, Row[]>();
  for (const run of runs) for (const [batchId, rows] of run) all.set(batchId, rows);
  return [...all].sort((a, b) => a[0] - b[0]);
}

t.test('each batch after the first begins with the rows read ahead for it, and the batches, rows and progress are those of a run on the query thread', async (t) => {
  const dir = await dataSet(t);
  const ahead = await completed(dir, { workers: 2, holdUntilReadAhead: true });
  t.match(ahead.query.explain(), /on 2 worker threads/);
  const plain = await completed(dir, { workers: 0 });
  t.same(
    ahead.spy.begins.map((b) => b.readAhead !== undefined && b.readAhead > 0),
    ahead.spy.begins.map((b) => b.batchId >= 1 && b.batchId < FILES),
    'batches 1 to 3 began with rows read ahead; batch 0, the no-data and the drain batch with none',
  );
  t.same(plain.spy.begins.map((b) => b.readAhead), plain.spy.begins.map(() => undefined), 'nothing is read ahead without worker threads');
  t.equal(plain.spy.readAheadBatches.size, 0);
  t.same(allRows(ahead.batches), allRows(plain.batches));
  t.same(progressOf(ahead.query), progressOf(plain.query));
});

t.test('a batch that fails while the next is read ahead leaves the next unplanned: a restart reads every batch once', async (t) => {
  const dir = await dataSet(t);
  const checkpoint = join(dir, '..', 'checkpoint');
  const failed = await start(dir, { workers: 2, checkpoint, failAt: 1 });
  await t.rejects(failed.query.awaitTermination(), /the sink fails batch 1/);
  t.ok(failed.spy.readAheadBatches.has(2), 'batch 2 was being read ahead');
  // The failed run's last writes (the log entry of batch 2, written while it is read) end before it lets go of the checkpoint.
  await lockReleased(checkpoint);
  t.ok(existsSync(join(checkpoint, 'sources', '0', '2')), 'the source log lists batch 2');
  t.notOk(existsSync(join(checkpoint, 'offsets', '2')), 'no offsets for batch 2');
  t.notOk(existsSync(join(checkpoint, 'commits', '1')), 'batch 1 is not committed');
  const restarted = await completed(dir, { workers: 2, checkpoint });
  const reference = await completed(dir, { workers: 0 });
  t.same(allRows(failed.batches, restarted.batches), allRows(reference.batches));
  t.same([...failed.batches.keys()], [0]);
  t.same(
    restarted.query.recentProgress.map((p) => [p.batchId, p.numInputRows]),
    reference.query.recentProgress.filter((p) => p.batchId >= 1).map((p) => [p.batchId, p.numInputRows]),
  );
});

t.test('the next batch is read while its source log entry is being written; its offsets wait for the entry', async (t) => {
  const dir = await dataSet(t);
  const checkpoint = join(dir, '..', 'checkpoint');
  const source = new HeldLogSource(dir);
  const spy = new Spy();
  const run = await start(dir, { workers: 2, checkpoint, spy, source });
  await spy.readAheadOf(1);
  t.ok(spy.readAheadBatches.has(1), 'batch 1 is read ahead while its log entry is held');
  // Batch 0 commits; the offsets of batch 1 would come right after it, but wait for the entry.
  await appears(join(checkpoint, 'commits', '0'), 5000);
  t.ok(existsSync(join(checkpoint, 'commits', '0')), 'batch 0 committed');
  await appears(join(checkpoint, 'offsets', '1'), 300);
  t.notOk(existsSync(join(checkpoint, 'offsets', '1')), 'no offsets for batch 1 while its log entry is not written');
  source.release();
  await run.query.awaitTermination();
  t.ok(existsSync(join(checkpoint, 'offsets', '1')));
  const reference = await completed(dir, { workers: 0 });
  t.same(allRows(run.batches), allRows(reference.batches));
  t.same(progressOf(run.query), progressOf(reference.query));
});

t.test('a query stopped while the next batch is read ahead ends after the batch in flight; a restart reads the rest once', async (t) => {
  const dir = await dataSet(t);
  const checkpoint = join(dir, '..', 'checkpoint');
  const spy = new Spy();
  const stopped = await start(dir, { workers: 2, checkpoint, holdUntilReadAhead: true, spy });
  // Stop as soon as batch 1 is read ahead (batch 0 is then being committed).
  void spy.readAheadOf(1).then(() => stopped.query.stop());
  await stopped.query.awaitTermination();
  t.same([...stopped.batches.keys()], [0], 'only batch 0 ran');
  t.same(stopped.spy.begins.map((b) => b.batchId), [0]);
  t.notOk(existsSync(join(checkpoint, 'offsets', '1')), 'batch 1 was not planned');
  const restarted = await completed(dir, { workers: 2, checkpoint });
  const reference = await completed(dir, { workers: 0 });
  t.same(allRows(stopped.batches, restarted.batches), allRows(reference.batches));
});

t.test('a stage before ChunkAggregate that drops read-ahead rows fails the query instead of losing them', async (t) => {
  const dir = await dataSet(t);
  const run = await start(dir, { workers: 2, holdUntilReadAhead: true, spy: new Spy(true) });
  const err = await run.query.awaitTermination().then(
    () => null,
    (e: unknown) => e as TidemarkError,
  );
  t.ok(err !== null, 'the query failed');
  t.match(String((err as { cause?: Error }).cause?.message ?? err?.message), /batch 1 begins with \d+ items read ahead, but ChunkAggregate took 0/);
});

t.test('read-ahead is offered to the first stage only: a parse stage that is not a ChunkAggregate sees none', async (t) => {
  const dir = await dataSet(t);
  const run = await completed(dir, { workers: 2, optimize: false });
  t.equal(run.spy.readAheadBatches.size, 0);
  t.same(run.spy.begins.map((b) => b.readAhead), run.spy.begins.map(() => undefined));
});

t.test('a sink refuses rows read ahead, which no stage took', async (t) => {
  const sink = new MemorySink();
  const batch = RecordBatch.fromRows(parseDDL('a int'), [{ a: 1 }]);
  const failure = new Promise<Error>((resolve) => sink.once('error', resolve));
  sink.write({ kind: 'readAhead', batchId: 3, batch } satisfies StreamItem);
  const err = (await failure) as TidemarkError;
  t.equal(err.code, 'ERR_PROTOCOL');
  t.match(err.message, /rows of batch 3 read ahead, which no stage took/);
});

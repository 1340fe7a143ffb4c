/**
 * Recipe: events your program receives itself, counted as a stream
 * (`IterableSource`).
 *
 * What Spark does: events reach a query through a source — files, Kafka,
 * or `MemoryStream` in tests. A program that receives events itself (over
 * a socket, a queue client, a webhook) writes them somewhere first.
 *
 * What this recipe does: a "subscription" — an async generator standing
 * for a message-queue client — delivers the data set's events one by one,
 * each with a handle to acknowledge it. `IterableSource` reads it as a
 * stream; the hourly count with a 2-hour watermark runs until the
 * subscription ends (`Trigger.AvailableNow`) and drains its last windows.
 * `onCommit` acknowledges the events of each committed micro-batch.
 *
 * What to look at: the counts, the notebook's. And the acknowledgements:
 * every event is acknowledged once its batch is committed, except the last
 * batch's (acknowledged when a next batch is planned): a restarted program
 * would receive those again from the queue. That is the promise of
 * `IterableSource`: at-least-once, with an upstream that delivers again
 * what was not acknowledged. (How the events split into micro-batches
 * depends on how fast they arrive; the counts do not.)
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { IterableSource, KeyedCount, MemorySink, Watermark, Window, startQuery, type Row } from 'tidemark';
import { formatTimestampIso } from 'tidemark/internals';
import { printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** An event as the subscription delivers it: the row, and how to acknowledge it. */
interface Delivery extends Row {
  time: number;
  action: string;
  ack: () => void;
}

/** What the recipe counted and acknowledged. */
export interface IterableRecipeResult {
  readonly delivered: number;
  readonly acknowledged: number;
  /** Events of the last micro-batch with rows: committed, not yet acknowledged. */
  readonly lastBatchRows: number;
}

/** The subscription: the data set's events, file by file, line by line (times in ms, as tidemark's rows hold them). */
async function* subscribe(dataDir: string, acknowledged: Set<number>): AsyncGenerator<Delivery> {
  let id = 0;
  for (const name of (await readdir(dataDir)).filter((n) => !n.startsWith('.')).sort()) {
    for await (const line of createInterface({ input: createReadStream(join(dataDir, name)), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      const event = JSON.parse(line) as { time: number; action: string };
      const n = id++;
      yield { time: event.time * 1000, action: event.action, ack: () => void acknowledged.add(n) };
    }
  }
}

/** Runs the recipe. It keeps nothing on disk: `workDir` holds only the generated data set. */
export async function run(options: RecipeOptions = {}): Promise<IterableRecipeResult> {
  const { dataDir, out, timeZone } = await setUp('events-from-your-program', options);
  const say = printer(out);
  const acknowledged = new Set<number>();
  let delivered = 0;
  const source = new IterableSource<Delivery>({
    name: 'subscription',
    schema: 'time timestamp, action string',
    events: (async function* () {
      for await (const event of subscribe(dataDir, acknowledged)) {
        delivered++;
        yield event;
      }
    })(),
    // Their batch is committed: the queue may forget them.
    onCommit: (rows) => rows.forEach((row) => row.ack()),
    maxRowsPerTrigger: 2000,
  });
  const sink = new MemorySink();
  const query = await startQuery({
    name: 'subscription_counts',
    source,
    stages: [new Watermark({ eventTime: 'time', delay: '2 hours' }), new Window({ timeColumn: 'time', duration: '1 hour' }), new KeyedCount({ groupBy: ['action', 'window'] })],
    sink,
    outputMode: 'append',
    trigger: 'availableNow',
    drain: true,
  });
  await query.awaitTermination();

  say(`The subscription delivered ${delivered} events. Counts per action and hour (the order batches wrote them in aside):`, '');
  const rows = sink.rows().map((r) => ({ action: r['action'] as string, start: (r['window'] as { start: number }).start, count: r['count'] as number }));
  rows.sort((a, b) => a.start - b.start || (a.action < b.action ? -1 : a.action > b.action ? 1 : 0));
  for (const r of rows) say(`  ${formatTimestampIso(r.start * 1000, timeZone).slice(0, 16)}  ${r.action.padEnd(7)}${r.count}`);
  const batches = query.recentProgress.filter((p) => p.numInputRows > 0);
  const lastBatchRows = batches.at(-1)?.numInputRows ?? 0;
  say(
    '',
    acknowledged.size + lastBatchRows === delivered
      ? 'Acknowledged: every event but those of the last micro-batch with rows, which a restarted program would receive again (at-least-once).'
      : `Acknowledged ${acknowledged.size} of ${delivered} events, the last batch holding ${lastBatchRows}: not what IterableSource promises.`,
  );
  return { delivered, acknowledged: acknowledged.size, lastBatchRows };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'events-from-your-program', summary: 'IterableSource: events a program receives itself (an async generator), counted as a stream, acknowledged once committed', run };

runIfMain(import.meta.url, recipe);

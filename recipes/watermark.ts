/**
 * Recipe: watermarking (In[29]).
 *
 * What Spark did: In[29] defined `watermarkedDF = inputDF.withWatermark(
 * "time", "2 hours").groupBy(col("action"), window(col("time"), "1 hour"))
 * .count()`, a cut-off after which Structured Streaming writes a window and
 * forgets it. (The cell then started `countsDF`, the query without the
 * watermark, by mistake; this recipe runs the watermarked one.)
 *
 * What this recipe does: feeds the watermarked count five deliveries of
 * events whose times it chooses (a `MemorySource`, so the story is the same
 * on every run), in append mode to the console sink, and after each
 * micro-batch prints the watermark the batch used and how many rows it
 * dropped as too late.
 *
 * What to look at: the watermark is the newest event time seen minus 2
 * hours. A window is written once, in the first micro-batch whose watermark
 * has passed its end (a batch with no new data runs just for that); until
 * then the console shows empty tables. A row is dropped when its window
 * ended before the watermark in force as its batch began (the 10:45 Open of
 * delivery 4, its window written at batch 5) and counted in
 * `numRowsDroppedByWatermark`. Being old is not enough: the 10:30 Scroll
 * comes with the 12:40 Open, over 2 hours older, and is counted, because
 * the watermark was still 09:10 when they arrived. Times are UTC.
 *
 * @module
 */
import { ConsoleSink, KeyedCount, MemorySource, Watermark, Window, startQuery, type StreamingQueryProgress } from 'tidemark';
import { printer, runIfMain, type Recipe, type RecipeOptions } from './common.js';

/** 2016-07-26 at `hh:mm` UTC, in epoch ms (how tidemark's rows hold timestamps). */
const at = (hhmm: string): number => Date.parse(`2016-07-26T${hhmm}:00Z`);

/** The deliveries, in arrival order: [time, action]. */
export const DELIVERIES: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
  [['10:05', 'Open'], ['10:20', 'Click'], ['10:50', 'Open'], ['11:10', 'Close']],
  [['12:40', 'Open'], ['10:30', 'Scroll']],
  [['13:30', 'Click']],
  [['10:45', 'Open'], ['11:50', 'Close']],
  [['15:10', 'Open']],
];

/** Runs the recipe. It writes no files: `dataDir` and `workDir` are not used. */
export async function run(options: RecipeOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const say = printer(out);
  const timeZone = options.timeZone ?? 'UTC';
  const source = new MemorySource({ schema: 'time timestamp, action string' });
  const query = await startQuery({
    name: 'stream_4p',
    source,
    stages: [
      new Watermark({ eventTime: 'time', delay: '2 hours' }),
      new Window({ timeColumn: 'time', duration: '1 hour' }),
      new KeyedCount({ groupBy: ['action', 'window'] }),
    ],
    sink: new ConsoleSink({ output: out, truncate: false, timeZone }),
    outputMode: 'append',
  });
  // Progress comes after the sink printed the batch: the line lands under its table.
  let dropped = 0;
  query.on('progress', (p: StreamingQueryProgress) => {
    const watermark = p.eventTime?.['watermark'] ?? '';
    const state = p.stateOperators[0]!;
    dropped += state['numRowsDroppedByWatermark'] as number;
    say(
      `batch ${p.batchId}: ${p.numInputRows} new rows, watermark ${watermark.startsWith('1970') ? 'not set yet (no event seen)' : watermark.slice(11, 16)}, ` +
        `dropped as late: ${state['numRowsDroppedByWatermark']}, windows kept in state: ${state['numRowsTotal']}`,
      '',
    );
  });

  for (const [i, events] of DELIVERIES.entries()) {
    say(`=== delivery ${i + 1}: ${events.map(([time, action]) => `${time} ${action}`).join(', ')}`, '');
    source.addData(events.map(([time, action]) => ({ time: at(time), action })));
    // Runs the batch for these rows, then the no-data batch a moved watermark asks for.
    await query.processAllAvailable();
  }
  await query.stop();
  say(`Dropped as late in all: ${dropped}. The windows still in state wait for a watermark past their end, or for a drain.`);
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'watermark', summary: 'In[29]: withWatermark("time", "2 hours"): which window is written at which batch, which late row is dropped', run };

runIfMain(import.meta.url, recipe);

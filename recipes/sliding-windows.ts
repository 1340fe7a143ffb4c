/**
 * Recipe: sliding windows (the Structured Streaming Programming Guide's
 * diagram in the notebook's "Windowing" section).
 *
 * What Spark does: `window(col("time"), "10 minutes", "5 minutes")` makes
 * windows 10 minutes long starting every 5 minutes (12:00–12:10,
 * 12:05–12:15, …). They overlap, so one event falls into two windows and is
 * counted in both; with no slide (tumbling windows, the notebook's
 * `"1 hour"`) each event falls into exactly one.
 *
 * What this recipe does: first shows the `Window` stage alone on one event
 * (its row comes out twice, once per window), then counts a few events per
 * sliding window in complete mode, sorted by window, on the console, as the
 * guide's word-count diagram does.
 *
 * What to look at: the 12:07 event is in 12:00–12:10 and in 12:05–12:15;
 * the counts add up to twice the number of events (each event is in two
 * windows). Times are UTC.
 *
 * @module
 */
import { pipeline } from 'node:stream/promises';
import { ConsoleSink, KeyedCount, MemorySink, MemorySource, Sort, Window, microBatches, startQuery, type Row } from 'tidemark';
import { printer, runIfMain, type Recipe, type RecipeOptions } from './common.js';

/** 2016-07-26 at `hh:mm` UTC, in epoch ms. */
const at = (hhmm: string): number => Date.parse(`2016-07-26T${hhmm}:00Z`);
const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

/** The guide's sliding window: 10 minutes long, a new one every 5 minutes. */
const sliding = (): Window => new Window({ timeColumn: 'time', duration: '10 minutes', slide: '5 minutes' });

/** Runs the recipe. It writes no files: `dataDir` and `workDir` are not used. */
export async function run(options: RecipeOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const say = printer(out);
  const timeZone = options.timeZone ?? 'UTC';

  // 1. One event through the Window stage alone: a bounded pipeline of three streams, no query driver needed.
  const one = new MemorySource({ schema: 'time timestamp, action string' });
  one.addData([{ time: at('12:07'), action: 'Open' }]);
  const windows = new MemorySink();
  await pipeline(microBatches(one, { trigger: 'availableNow' }), sliding(), windows);
  say('One event at 12:07, windowed by 10 minutes sliding every 5 minutes, comes out once per window:');
  for (const row of windows.rows()) {
    const w = row['window'] as { start: number; end: number };
    say(`  ${hhmm(row['time'] as number)} ${String(row['action'])}  in window ${hhmm(w.start)}-${hhmm(w.end)}`);
  }
  say('');

  // 2. Counts per sliding window: complete mode prints the whole result table after every micro-batch.
  const source = new MemorySource({ schema: 'time timestamp, action string' });
  const query = await startQuery({
    source,
    stages: [sliding(), new KeyedCount({ groupBy: ['window'] }), new Sort({ by: ['window'] })],
    sink: new ConsoleSink({ output: out, truncate: false, timeZone }),
    outputMode: 'complete',
  });
  const events: Row[] = [
    { time: at('12:02'), action: 'Open' },
    { time: at('12:07'), action: 'Open' },
    { time: at('12:11'), action: 'Click' },
    { time: at('12:13'), action: 'Close' },
  ];
  say(`Counting ${events.length} events (12:02, 12:07, 12:11, 12:13) per sliding window, complete mode:`, '');
  source.addData(events);
  await query.processAllAvailable();
  await query.stop();
  say(`The counts add up to ${2 * events.length}: every event is in two windows.`);
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'sliding-windows', summary: '10-minute windows every 5 minutes: one event lands in two windows', run };

runIfMain(import.meta.url, recipe);

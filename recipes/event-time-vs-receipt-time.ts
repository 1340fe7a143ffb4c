/**
 * Recipe: event time vs receipt time (the notebook's "Event Time vs Receipt
 * Time" section).
 *
 * What Spark does: event time is a column of the data (the notebook's
 * `time`: when the action happened); receipt time is when Spark processed
 * the row, `current_timestamp()`, the same for every row of a micro-batch.
 * The notebook warns that receipt time "can be off by hours to weeks to
 * months depending on when the event occurred and when the job ran".
 *
 * What this recipe does: a phone was offline all morning and uploads three
 * hours of events at once, then two more. The same events are counted per
 * 1-hour window twice: by their event time, and by their receipt time, which
 * the `ReceiptTime` stage adds as a `receipt_time` column (the batch's
 * processing time, recorded in the checkpoint so a re-executed batch gets
 * the same value).
 *
 * What to look at: by event time the events spread over the hours they
 * happened in (09:00 to 12:00 UTC on 2016-07-26); by receipt time they all
 * land in the window of the hour you ran the recipe, because that is when
 * tidemark received them. Accurate enough only when the delay is small
 * against the window (minutes of delay, windows of days).
 *
 * @module
 */
import type { Transform } from 'node:stream';
import { ConsoleSink, KeyedCount, MemorySource, ReceiptTime, Sort, Window, startQuery, type Row } from 'tidemark';
import { printer, runIfMain, type Recipe, type RecipeOptions } from './common.js';

/** 2016-07-26 at `hh:mm` UTC, in epoch ms. */
const at = (hhmm: string): number => Date.parse(`2016-07-26T${hhmm}:00Z`);

/** Two uploads: the morning's backlog, then two fresh events. */
export const UPLOADS: ReadonlyArray<readonly Row[]> = [
  [
    { time: at('09:10'), action: 'Open' },
    { time: at('09:40'), action: 'Click' },
    { time: at('10:15'), action: 'Open' },
    { time: at('11:05'), action: 'Close' },
    { time: at('11:50'), action: 'Scroll' },
  ],
  [
    { time: at('12:02'), action: 'Open' },
    { time: at('12:30'), action: 'Click' },
  ],
];

/** Runs the recipe. It writes no files: `dataDir` and `workDir` are not used. */
export async function run(options: RecipeOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const say = printer(out);
  const timeZone = options.timeZone ?? 'UTC';

  // The same count, by a different time column; complete mode prints the whole table after each upload.
  const countBy = async (title: string, stages: Transform[]): Promise<void> => {
    say(title, '');
    const source = new MemorySource({ schema: 'time timestamp, action string' });
    const query = await startQuery({
      source,
      stages: [...stages, new KeyedCount({ groupBy: ['window'] }), new Sort({ by: ['window'] })],
      sink: new ConsoleSink({ output: out, truncate: false, timeZone }),
      outputMode: 'complete',
    });
    for (const upload of UPLOADS) {
      source.addData(upload);
      await query.processAllAvailable();
    }
    await query.stop();
  };

  await countBy('By event time: window(col("time"), "1 hour")', [new Window({ timeColumn: 'time', duration: '1 hour' })]);
  await countBy('By receipt time: withColumn("receipt_time", current_timestamp()), then window(col("receipt_time"), "1 hour")', [
    new ReceiptTime({ as: 'receipt_time' }),
    new Window({ timeColumn: 'receipt_time', duration: '1 hour' }),
  ]);
  say('Same events, two answers: by event time they spread over four hours of 2016; by receipt time they are all "now".');
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'event-time-vs-receipt-time', summary: 'the same events counted per hour by event time and by the time tidemark received them', run };

runIfMain(import.meta.url, recipe);

/**
 * Recipe: exactly-once counts over a source that delivers duplicates
 * (beyond the notebook: Spark 3.5's `dropDuplicatesWithinWatermark`).
 *
 * What Spark does:
 * ```python
 * clicks.withWatermark("time", "10 minutes") \
 *   .dropDuplicatesWithinWatermark(["id"]) \
 *   .groupBy(col("action"), window(col("time"), "1 hour")).count()
 * ```
 * An at-least-once producer (a retrying webhook, Kafka, NATS) delivers some
 * events twice. The deduplication lets the first delivery of each `id`
 * through and drops the others; it remembers an id until the watermark
 * passes the event's time + the 10-minute delay, so state stays bounded
 * while any redelivery within 10 minutes of event time is caught. Two
 * stateful operators in one query, both on the one global watermark.
 *
 * What this recipe does: reads a generated clickstream where 10 % of the
 * events come a second time, 1 to 240 seconds after the first, 400 lines
 * per micro-batch; counts per action and hour into JSON files, drained at
 * the end; then compares what it counted with the input.
 *
 * What to look at: the lines delivered exceed the distinct events by the
 * redeliveries; the counts add up to the distinct events, each counted
 * once, also when the query is killed and restarted at any micro-batch
 * boundary (the deduplication's state is in the checkpoint with the
 * counts').
 *
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DropDuplicates, FileSource, KeyedCount, ParseSchema, Watermark, Window, showDirectory, startQuery, type StreamingQueryProgress } from 'tidemark';
import { readChartRows } from 'tidemark/plot';
import { CLICKSTREAM_SCHEMA, printer, runIfMain, setUpClickstream, type Recipe, type RecipeOptions } from './common.js';

/** Where the recipe wrote, and what it counted. */
export interface ExactlyOnceResult {
  readonly checkpointLocation: string;
  readonly outputDir: string;
  /** Lines in the input files (deliveries). */
  readonly delivered: number;
  /** Distinct ids in the input. */
  readonly distinct: number;
  /** The counts written, summed. */
  readonly counted: number;
  /** `numDroppedDuplicateRows` summed over this run's micro-batches. */
  readonly duplicatesDroppedThisRun: number;
}

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<ExactlyOnceResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUpClickstream('exactly-once-counts', options, { duplicateFraction: 0.1 });
  const say = printer(out);
  const checkpointLocation = join(workDir, 'checkpoint');
  const outputDir = join(workDir, 'output');

  const query = await startQuery({
    name: 'exactly_once_counts',
    source: new FileSource({ path: dataDir, maxFilesPerTrigger: 4 }),
    stages: [
      new ParseSchema({ schema: CLICKSTREAM_SCHEMA, timeZone }),
      new Watermark({ eventTime: 'time', delay: '10 minutes' }),
      new DropDuplicates({ columns: ['id'], withinWatermark: true }),
      new Window({ timeColumn: 'time', duration: '1 hour' }),
      new KeyedCount({ groupBy: ['action', 'window'] }),
    ],
    sink: makeJsonSink({ path: outputDir, timeZone }),
    checkpointLocation,
    outputMode: 'append',
    trigger: 'availableNow',
    drain: true,
  });
  let duplicatesDroppedThisRun = 0;
  query.on('progress', (p: StreamingQueryProgress) => {
    const dedup = p.stateOperators.find((s) => s['operatorName'] === 'dedupeWithinWatermark');
    duplicatesDroppedThisRun += (dedup?.['customMetrics'] as { numDroppedDuplicateRows?: number } | undefined)?.numDroppedDuplicateRows ?? 0;
  });
  await query.awaitTermination();
  // The stages between the source and the sink, by name (their options are in query.explain()).
  const plan = query.explain().split('\n').slice(1, -1).map((line) => '  ' + line.replace(/\(.*\)/, ''));
  say('The plan: two stateful operators, each with its own state in the checkpoint:', ...plan, '');

  // What came in: every line of the input, and its distinct ids.
  const ids: string[] = [];
  for (const name of (await readdir(dataDir)).filter((n) => !n.startsWith('.')).sort()) {
    for (const line of (await readFile(join(dataDir, name), 'utf8')).split('\n')) if (line.length > 0) ids.push((JSON.parse(line) as { id: string }).id);
  }
  const distinct = new Set(ids).size;
  const counted = (await readChartRows(outputDir)).reduce((n, r) => n + (r['count'] as number), 0);
  say(
    `Delivered: ${ids.length} lines, ${ids.length - distinct} of them redeliveries of ${distinct} distinct events.`,
    `Counted: ${counted} events in all (action, hour) windows: ${counted === distinct ? 'each event once' : 'NOT each event once'}.`,
    '',
    'The counts, as spark.read.json(output).show(truncate=False) prints them:',
    '',
  );
  out.write(await showDirectory(outputDir, { truncate: false, timeZone }));
  return { checkpointLocation, outputDir, delivered: ids.length, distinct, counted, duplicatesDroppedThisRun };
}

/** This recipe, for the runner. */
export const recipe: Recipe = {
  name: 'exactly-once-counts',
  summary: 'dropDuplicatesWithinWatermark before a windowed count: each event counted once though 10 % come twice',
  run,
  data: 'clickstream',
};

runIfMain(import.meta.url, recipe);

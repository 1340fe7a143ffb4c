/**
 * Recipe: the notebook's line graph of the counts (the cell after In[25]).
 *
 * What Spark did: "Once the data is loaded, render a line graph with Keys
 * set to `start`, Series groupings set to `action`, Values set to `count`":
 * Databricks' `display()` drew the counts per window and action in the
 * browser.
 *
 * What this recipe does: runs the watermarked count into JSON files until
 * every input file is read (`trigger: 'availableNow'`), drained
 * (`drain: true`: the run ends with a micro-batch whose watermark is past
 * every window, so the last windows are written too instead of waiting for
 * events that will never come), reads the committed rows back and draws
 * them with tidemark's chart functions (Vega-Lite rendered in Node, resvg for
 * the PNG): `chart.svg` and `chart.png` in the work directory. The same
 * chart from the command line: `tidemark plot DIR -o chart.svg`.
 *
 * What to look at: one line per action, a point per hour. The first and the
 * last hour are low because the data set starts and ends inside them; the
 * four lines stay close because the generator picks actions evenly. Time is
 * drawn in UTC: 02:00 is the notebook's 07:30+05:30.
 *
 * @module
 */
import { join } from 'node:path';
import { FileSource, showDirectory, startQuery } from 'tidemark';
// Charts load Vega: they live in their own entry point, so importing 'tidemark' stays light.
import { plotRows, readChartRows } from 'tidemark/plot';
import { countsDF, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** Where the recipe wrote. */
export interface PlotCountsResult {
  readonly checkpointLocation: string;
  readonly outputDir: string;
  readonly svg: string;
  readonly png: string;
}

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<PlotCountsResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUp('plot-counts', options);
  const say = printer(out);
  const checkpointLocation = join(workDir, 'checkpoint');
  const outputDir = join(workDir, 'output');

  const query = await startQuery({
    name: 'plot_counts',
    source: new FileSource({ path: dataDir, maxFilesPerTrigger: 10 }),
    stages: countsDF({ timeZone, watermark: '2 hours' }),
    sink: makeJsonSink({ path: outputDir, timeZone }),
    checkpointLocation,
    outputMode: 'append',
    // Bounded: ends by itself once the files present at the start are read, then drains.
    trigger: 'availableNow',
    drain: true,
  });
  await query.awaitTermination();

  say('The counts, as spark.read.json(output).show(truncate=False) prints them:', '');
  out.write(await showDirectory(outputDir, { truncate: false, timeZone }));

  // Keys = start (the window's start), Series groupings = action, Values = count.
  const rows = await readChartRows(outputDir);
  const svg = join(workDir, 'chart.svg');
  const png = join(workDir, 'chart.png');
  const chart = { x: 'start', series: 'action', y: 'count', title: 'count per action and 1-hour window (UTC)' };
  await plotRows(rows, { ...chart, output: svg });
  await plotRows(rows, { ...chart, output: png });
  say(`Drew ${rows.length} points, one line per action, into chart.svg and chart.png in the work directory.`);
  return { checkpointLocation, outputDir, svg, png };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'plot-counts', summary: 'the plot cell: line chart of count per window start, one line per action, as SVG and PNG', run };

runIfMain(import.meta.url, recipe);

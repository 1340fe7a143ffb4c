/**
 * Recipe: the average, coldest and warmest temperature per device and
 * 5-minute window of IoT readings, with a chart of the averages (beyond
 * the notebook's count: Spark's `agg`).
 *
 * What Spark does:
 * ```python
 * readings.withWatermark("time", "10 minutes") \
 *   .groupBy(col("device"), window(col("time"), "5 minutes")) \
 *   .agg(count("*").alias("readings"), avg("temperature"), min("temperature"), max("temperature"))
 * ```
 * `avg`, `min` and `max` skip the readings without a value; a window in
 * which a device never reported one gets null for them (and `count` still
 * counts its readings). The JSON sink leaves null fields out of the line;
 * `show()` prints `NULL`.
 *
 * What this recipe does: reads generated readings of 40 devices (every 15
 * seconds each for 30 minutes; 5 % without a value, and `dev-40`'s sensor is
 * broken: it never has one) 2 files per micro-batch, aggregates per device
 * and 5-minute window into JSON files in append mode, drained at the end so
 * the last windows are written too, then reads the files back: a summary,
 * `show()` of two devices' windows, and a chart of the average temperature
 * of eight devices over time (`chart.svg`, `chart.png`).
 *
 * What to look at: 240 windows, 6 per device, each with the readings of its
 * device in those 5 minutes; `dev-40`'s averages are NULL (a chart of all
 * devices has no line for it); every other device keeps to its own level.
 *
 * @module
 */
import { join } from 'node:path';
import { FileSource, KeyedAggregate, ParseSchema, Types, Watermark, Window, readCommittedJsonLines, startQuery, type Schema } from 'tidemark';
import { IOT_SCHEMA, WINDOW_TYPE, jsonRecordsToRows, showString } from 'tidemark/internals';
// Charts load Vega: they live in their own entry point, so importing 'tidemark' stays light.
import { plotRows, readChartRows } from 'tidemark/plot';
import { printer, runIfMain, setUpIot, type Recipe, type RecipeOptions } from './common.js';

/** Where the recipe wrote, and what it read back. */
export interface IotTemperaturesResult {
  readonly checkpointLocation: string;
  readonly outputDir: string;
  readonly svg: string;
  readonly png: string;
  /** Every window written: device, window start (epoch ms), readings, and the aggregates (null: no value read). */
  readonly windows: ReadonlyArray<{ device: string; startMs: number; readings: number; avg: number | null; min: number | null; max: number | null }>;
}

const AGGREGATES = 'count AS readings, avg(temperature), min(temperature), max(temperature)';
const SHOWN = ['dev-07', 'dev-40'];
/** What the query writes: the grouping columns, then the aggregates in the order asked. */
const OUTPUT_SCHEMA: Schema = {
  fields: [
    { name: 'device', dataType: Types.string, nullable: true },
    { name: 'window', dataType: WINDOW_TYPE, nullable: true },
    { name: 'readings', dataType: Types.long, nullable: true },
    { name: 'avg(temperature)', dataType: Types.double, nullable: true },
    { name: 'min(temperature)', dataType: Types.double, nullable: true },
    { name: 'max(temperature)', dataType: Types.double, nullable: true },
  ],
};
// Eight lines stay legible; `tidemark plot OUTPUT --x start --series device --y "avg(temperature)"` draws all.
const CHARTED = ['dev-01', 'dev-02', 'dev-03', 'dev-04', 'dev-05', 'dev-06', 'dev-07', 'dev-08'];

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<IotTemperaturesResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUpIot('iot-temperatures', options);
  const say = printer(out);
  const checkpointLocation = join(workDir, 'checkpoint');
  const outputDir = join(workDir, 'output');

  const query = await startQuery({
    name: 'temperatures',
    source: new FileSource({ path: dataDir, maxFilesPerTrigger: 2 }),
    stages: [
      new ParseSchema({ schema: IOT_SCHEMA, timeZone }),
      new Watermark({ eventTime: 'time', delay: '10 minutes' }),
      new Window({ timeColumn: 'time', duration: '5 minutes' }),
      new KeyedAggregate({ groupBy: ['device', 'window'], aggregates: AGGREGATES }),
    ],
    sink: makeJsonSink({ path: outputDir, timeZone }),
    checkpointLocation,
    outputMode: 'append',
    // Bounded, then drained: the windows still open when the input ends are written too.
    trigger: 'availableNow',
    drain: true,
  });
  await query.awaitTermination();

  const number = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const windows = (await readChartRows(outputDir))
    .map((r) => ({
      device: r['device'] as string,
      startMs: Date.parse((r['window'] as { start: string }).start),
      readings: r['readings'] as number,
      avg: number(r['avg(temperature)']),
      min: number(r['min(temperature)']),
      max: number(r['max(temperature)']),
    }))
    .sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.startMs - b.startMs));
  const devices = [...new Set(windows.map((w) => w.device))];
  const valued = windows.filter((w) => w.avg !== null);
  const warmest = valued.reduce((a, b) => (b.max! > a.max! ? b : a));
  const coldest = valued.reduce((a, b) => (b.min! < a.min! ? b : a));
  const silent = devices.filter((d) => windows.every((w) => w.device !== d || w.avg === null));
  const at = (w: { startMs: number }): string => new Date(w.startMs).toISOString().slice(11, 16);
  say(
    `${windows.length} windows of ${devices.length} devices (5 minutes each): ${windows.reduce((n, w) => n + w.readings, 0)} readings;`,
    `the warmest reading ${warmest.max} °C (${warmest.device}, window at ${at(warmest)}), the coldest ${coldest.min} °C (${coldest.device}, ${at(coldest)});`,
    `${silent.join(', ')} never reported a temperature: its average, minimum and maximum are null, left out of its lines.`,
    '',
  );

  // spark.read.schema(OUTPUT_SCHEMA).json(output).where(device in SHOWN).orderBy("device", "window.start").show(truncate=False):
  // read with the query's output schema, the columns keep its order and the window prints as timestamps.
  say(`The windows of ${SHOWN.join(' and ')}, as show(truncate=False) prints them read back:`, '');
  const lines: Array<{ record: unknown; device: string; startMs: number }> = [];
  for await (const { text } of readCommittedJsonLines(outputDir)) {
    if (text.length === 0) continue;
    const record = JSON.parse(text) as { device: string; window: { start: string } };
    if (SHOWN.includes(record.device)) lines.push({ record, device: record.device, startMs: Date.parse(record.window.start) });
  }
  lines.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.startMs - b.startMs));
  const rows = jsonRecordsToRows(
    OUTPUT_SCHEMA,
    lines.map((l) => l.record),
    { timeZone },
  );
  out.write(showString(OUTPUT_SCHEMA, rows, { truncate: false, timeZone }) + '\n');

  // Straight from the output files: x = window start, one line per device, y = the average (a temperature: the axis need not start at 0).
  const svg = join(workDir, 'chart.svg');
  const png = join(workDir, 'chart.png');
  const chartRows = (await readChartRows(outputDir)).filter((r) => CHARTED.includes(r['device'] as string));
  const chart = { x: 'start', series: 'device', y: 'avg(temperature)', yZero: false, width: 700, title: 'average temperature per 5-minute window (°C)' };
  await plotRows(chartRows, { ...chart, output: svg });
  await plotRows(chartRows, { ...chart, output: png });
  say(`Drew the average temperature per window of ${CHARTED[0]} to ${CHARTED.at(-1)} into chart.svg and chart.png in the work directory, one line per device.`);
  return { checkpointLocation, outputDir, svg, png, windows };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'iot-temperatures', summary: 'aggregations: average, min and max temperature per device and 5-minute window, and a chart', run, data: 'iot' };

runIfMain(import.meta.url, recipe);

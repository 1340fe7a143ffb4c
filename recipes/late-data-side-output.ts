/**
 * Recipe: late rows to a side output (beyond Spark).
 *
 * What Spark does: a row whose window the watermark has already closed is
 * dropped silently; only the progress figure `numRowsDroppedByWatermark`
 * says it happened. (Flink calls the alternative a "side output for late
 * data"; Spark has none.)
 *
 * What this recipe does: runs the watermarked count (2 hours) over the data
 * set into JSON files, with `KeyedCount({ emitLateRows: true })`: the rows it
 * drops also come out of `count.lateRows`, a second stream. A small stage of
 * our own after the count writes them as JSON lines to `late/`, one file
 * per micro-batch, before the batch commits. Then a phone that was offline
 * uploads events from hours ago: most are behind the watermark.
 *
 * Exactly once: a batch re-executed after a crash routes its late rows again;
 * the side file is named by batch id and replaced whole, so it holds them
 * once, as the JSON sink holds each batch's counts once.
 *
 * What to look at: the counts, and in `late/` the three straggler events of
 * 03:00-04:00 UTC (08:30-09:30 +05:30), a window already written when they
 * arrived, each with the window it was meant for. The 04:30 straggler is just
 * as old but its window was still open: it is counted (the Close of
 * 09:30-10:30 +05:30). The 07:05 one moves the watermark on, which writes
 * that window. (The progress figure `numRowsDroppedByWatermark` says 2, not
 * 3: like Spark it counts rows after the partial aggregation, one per group,
 * and the two Opens are one group.)
 *
 * @module
 */
import { copyFile, mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { FileSource, KeyedCount, ParseSchema, Watermark, Window, showDirectory, startQuery, type Row, type StreamItem } from 'tidemark';
import { formatTimestampIso } from 'tidemark/internals';
import { NOTEBOOK_SCHEMA, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** Where the recipe wrote. */
export interface LateDataResult {
  readonly checkpointLocation: string;
  readonly outputDir: string;
  readonly lateDir: string;
  /** `numRowsDroppedByWatermark` summed over this run's micro-batches. */
  readonly droppedThisRun: number;
}

/** The phone's upload, UTC: three events of 03:00-04:00 (a window already written), one of 04:30 (its window still open) and a recent one. */
export const STRAGGLERS = ['03:10 Open', '03:25 Click', '03:40 Open', '04:30 Close', '07:05 Scroll'].map((s) => {
  const [hhmm, action] = s.split(' ');
  return { time: Date.parse(`2016-07-26T${hhmm}:00Z`) / 1000, action: action! };
});

/**
 * A stage after the count: at the end of each micro-batch (its barrier) it
 * writes the rows `lateRows` received during the batch to
 * `dir/batch-<N>.json`, then lets the barrier go on to the sink. The count
 * wrote them before it sent the barrier, so reading `lateRows` now, without
 * waiting, gets exactly this batch's rows.
 */
function writeLateRows(lateRows: Readable, dir: string, timeZone: string): Transform {
  const iso = (ms: number): string => formatTimestampIso(ms * 1000, timeZone);
  return new Transform({
    objectMode: true,
    transform(item: StreamItem, _encoding, callback) {
      if (item.kind !== 'barrier') return callback(null, item);
      const rows: Row[] = [];
      for (let row: Row | null; (row = lateRows.read() as Row | null) !== null; ) rows.push(row);
      if (rows.length === 0) return callback(null, item);
      const lines = rows.map((r) => {
        const w = r['window'] as { start: number; end: number };
        return JSON.stringify({ time: iso(r['time'] as number), action: r['action'], window: { start: iso(w.start), end: iso(w.end) } }) + '\n';
      });
      // Written beside, then renamed: a reader (or a crash) never sees half a file.
      const file = join(dir, `batch-${String(item.batchId).padStart(5, '0')}.json`);
      const temporary = join(dir, `.batch-${item.batchId}.tmp`);
      writeFile(temporary, lines.join(''))
        .then(() => rename(temporary, file))
        .then(() => callback(null, item), callback);
    },
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<LateDataResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUp('late-data-side-output', options);
  const say = printer(out);
  const inputDir = join(workDir, 'input');
  const checkpointLocation = join(workDir, 'checkpoint');
  const outputDir = join(workDir, 'output');
  const lateDir = join(workDir, 'late');
  await mkdir(inputDir, { recursive: true });
  await mkdir(lateDir, { recursive: true });
  // The query watches input/: first the data set, later the phone's upload lands there too.
  for (const name of (await readdir(dataDir)).filter((n) => !n.startsWith('.')).sort()) {
    if (!(await exists(join(inputDir, name)))) await copyFile(join(dataDir, name), join(inputDir, name));
  }

  const count = new KeyedCount({ groupBy: ['action', 'window'], emitLateRows: true });
  const source = new FileSource({ path: inputDir, maxFilesPerTrigger: 10 });
  const query = await startQuery({
    name: 'late_rows',
    source,
    stages: [
      new ParseSchema({ schema: NOTEBOOK_SCHEMA, timeZone }),
      new Watermark({ eventTime: 'time', delay: '2 hours' }),
      new Window({ timeColumn: 'time', duration: '1 hour' }),
      count,
      writeLateRows(count.lateRows, lateDir, timeZone),
    ],
    sink: makeJsonSink({ path: outputDir, timeZone }),
    checkpointLocation,
    outputMode: 'append',
  });
  say('Counting the data set per action and hour with a 2-hour watermark; rows behind it go to late/.');
  await query.processAllAvailable();

  const upload = join(inputDir, 'phone-upload.json');
  say(`A phone that was offline uploads: ${STRAGGLERS.map((e) => `${new Date(e.time * 1000).toISOString().slice(11, 16)} ${e.action}`).join(', ')} (UTC).`, '');
  if (!(await exists(upload))) {
    // Hidden while being written: the file source skips names starting with a dot.
    await writeFile(join(inputDir, '.phone-upload.json'), STRAGGLERS.map((e) => JSON.stringify(e) + '\n').join(''));
    await rename(join(inputDir, '.phone-upload.json'), upload);
  }
  await query.processAllAvailable();
  await query.stop();
  const droppedThisRun = query.recentProgress.reduce((n, p) => n + (p.stateOperators[0]!['numRowsDroppedByWatermark'] as number), 0);

  say('The counts (output/), as show(truncate=False) prints them:', '');
  out.write(await showDirectory(outputDir, { truncate: false, timeZone }));
  say('The rows the watermark dropped (late/), each with the window it was too late for:', '');
  out.write(await showDirectory(lateDir, { truncate: false, timeZone }));
  return { checkpointLocation, outputDir, lateDir, droppedThisRun };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'late-data-side-output', summary: 'beyond Spark: rows behind the watermark written to a second directory instead of silently dropped', run };

runIfMain(import.meta.url, recipe);

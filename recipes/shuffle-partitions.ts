/**
 * Recipe: shuffle partitions and the cost of writing state (In[25]).
 *
 * What Spark did: the notebook explains that the first query was slow
 * because `groupBy()` shuffles to `spark.sql.shuffle.partitions` = 200
 * partitions and every partition's state map is written to a fault-tolerant
 * store after every micro-batch, "typically between 1 and 2 seconds". In[25]
 * sets the partitions to one per core
 * (`spark.conf.set("spark.sql.shuffle.partitions",
 * spark.sparkContext.defaultParallelism)`) and runs the query again.
 *
 * What this recipe does: runs the watermarked count twice into JSON files,
 * once with `KeyedCount({ partitions: 200 })` and once with one partition per
 * core (`os.availableParallelism()`). tidemark splits the keyed state by key
 * hash and writes one checkpoint file per partition per micro-batch, crash
 * safely (temp file, fsync, rename, directory fsync), as Spark's state store
 * writes one delta file per partition. It prints each micro-batch's timings
 * from the query's progress reports (`durationMs`), plus the commit time it
 * measures itself.
 *
 * What to look at: `commit` is the time from a batch's last row reaching the
 * sink until the batch is committed: its output file, then one state file
 * per partition, then `commits/N`. With 200 partitions it is most of the
 * batch; with one per core it nearly vanishes. The two outputs are the
 * same: the partition count changes the cost, not the counts. (The number of
 * partitions is recorded in the checkpoint; restarting a checkpoint with a
 * different number is refused, as in Spark.)
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { FileSource, showDirectory, startQuery, type StreamingQueryProgress } from 'tidemark';
import { countsDF, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** Options of {@link run}. */
export interface ShufflePartitionsOptions extends RecipeOptions {
  /**
   * The state partitions of the two runs: Spark's default, then one per core.
   * By default `[200, os.availableParallelism()]` (Spark's
   * `spark.sql.shuffle.partitions` default and `defaultParallelism`).
   */
  partitions?: readonly [number, number];
}

/** One micro-batch's timings, in ms. */
export interface BatchTiming {
  readonly batchId: number;
  readonly numInputRows: number;
  readonly triggerExecution: number;
  readonly walCommit: number;
  readonly addBatch: number;
  readonly commit: number;
}

/** What each run wrote and measured. */
export interface ShufflePartitionsResult {
  readonly runs: ReadonlyArray<{ readonly partitions: number; readonly checkpointLocation: string; readonly outputDir: string; readonly batches: readonly BatchTiming[] }>;
}

/** Spark's default `spark.sql.shuffle.partitions`. */
const SPARK_DEFAULT_PARTITIONS = 200;

/** Runs the recipe. */
export async function run(options: ShufflePartitionsOptions = {}): Promise<ShufflePartitionsResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUp('shuffle-partitions', options);
  const say = printer(out);
  const runs: ShufflePartitionsResult['runs'][number][] = [];

  const [sparkDefault, perCore] = options.partitions ?? [SPARK_DEFAULT_PARTITIONS, availableParallelism()];
  for (const partitions of [sparkDefault, perCore]) {
    const checkpointLocation = join(workDir, `partitions-${partitions}`, 'checkpoint');
    const outputDir = join(workDir, `partitions-${partitions}`, 'output');
    const source = new FileSource({ path: dataDir, maxFilesPerTrigger: 10 });
    const query = await startQuery({
      name: `stream_${partitions}p`,
      source,
      stages: countsDF({ timeZone, watermark: '2 hours', partitions }),
      sink: makeJsonSink({ path: outputDir, timeZone }),
      checkpointLocation,
      outputMode: 'append',
      trigger: options.trigger ?? { processingTime: '1 second' },
    });
    // Unlike In[25]'s 6 seconds, wait for every file: both runs must time the same batches.
    await query.processAllAvailable();
    await query.stop();

    const batches = query.recentProgress.map((p: StreamingQueryProgress) => ({
      batchId: p.batchId,
      numInputRows: p.numInputRows,
      triggerExecution: p.durationMs['triggerExecution']!,
      walCommit: p.durationMs['walCommit']!,
      addBatch: p.durationMs['addBatch']!,
      // The state files and the commit marker: what Spark pays 1-2 s for per batch on a cluster.
      commit: ((p.stateOperators[0]?.['commitTimeMs'] as number | undefined) ?? 0) + (p.durationMs['commitOffsets'] ?? 0),
    }));
    runs.push({ partitions, checkpointLocation, outputDir, batches });

    say(`${partitions} state partitions${partitions === sparkDefault ? " (Spark's default spark.sql.shuffle.partitions)" : ' (one per core, as In[25] sets)'}:`);
    say(row('batch', 'input rows', 'triggerExecution', 'walCommit', 'addBatch', 'commit'));
    for (const b of batches) say(row(String(b.batchId), String(b.numInputRows), ms(b.triggerExecution), ms(b.walCommit), ms(b.addBatch), ms(b.commit)));
    say(`  per batch on average: ${ms(mean(batches.map((b) => b.triggerExecution)))}, of which committing ${ms(mean(batches.map((b) => b.commit)))} (${partitions} state files each)`, '');
  }

  say(
    'triggerExecution is the whole micro-batch; walCommit writing its offsets (the write-ahead log); addBatch',
    'running it through the stages and the sink until it is committed; commit the end of addBatch: the output',
    'file, one state file per partition, then the commit log. Spark: "typically between 1 and 2 seconds" per',
    'state write, on a distributed file system.',
    '',
  );
  const [many, few] = await Promise.all(runs.map((r) => showDirectory(r.outputDir, { truncate: false, timeZone })));
  // The partition count splits the state files only: the rows and their order must not change.
  const sameRows = many!.split('\n').sort().join('\n') === few!.split('\n').sort().join('\n');
  say(`The same rows with ${runs[0]!.partitions} and ${runs[1]!.partitions} partitions (the partition count only splits the state's checkpoint files): ${sameRows ? 'yes' : 'NO'}`, '');
  out.write(few!);
  return { runs };
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function row(...cells: string[]): string {
  const widths = [5, 10, 16, 9, 8, 8];
  return '  ' + cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'shuffle-partitions', summary: 'In[25]: the same query with 200 state partitions and with one per core; time per micro-batch and per commit', run };

runIfMain(import.meta.url, recipe);

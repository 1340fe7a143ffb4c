/**
 * Recipe: the notebook's JSON sink in append mode (In[15], In[16], In[17]).
 *
 * What Spark did: In[15] started `countsDF.writeStream.queryName("stream_1p")
 * .trigger(processingTime="1 seconds").format("json")
 * .option("checkpointLocation", …).outputMode("append").start(dir)`, In[16]
 * let it run for 6 seconds (`awaitTermination(6)`) and stopped it, In[17]
 * read the directory back with `spark.read.json(dir).show(truncate=False)`.
 *
 * What this recipe does: the same three steps. But `countsDF` has no
 * watermark, and Spark refuses that query at `start()`: in append mode a
 * window's count is written once, when it can no longer change, and only a
 * watermark says when that is. The recipe shows tidemark's same refusal,
 * then runs the query with In[29]'s `withWatermark("time", "2 hours")`.
 *
 * What to look at: the refusal message (Spark's, word for word); then the
 * table, which holds only the windows that ended more than 2 hours before
 * the newest event read. The later windows are still open, kept in the
 * checkpoint's state: run the recipe again on the same work directory with
 * more input files and they are written then.
 *
 * @module
 */
import { join } from 'node:path';
import { FileSource, isTidemarkError, showDirectory, startQuery } from 'tidemark';
import { countsDF, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** Options of {@link run}. */
export interface JsonSinkAppendOptions extends RecipeOptions {
  /** In[16]'s `awaitTermination(6)`, in ms. */
  awaitTerminationMs?: number;
}

/** Where the recipe wrote. */
export interface JsonSinkAppendResult {
  readonly checkpointLocation: string;
  readonly outputDir: string;
}

/** Runs the recipe. */
export async function run(options: JsonSinkAppendOptions = {}): Promise<JsonSinkAppendResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUp('json-sink-append', options);
  const say = printer(out);
  const checkpointLocation = join(workDir, 'streaming', 'checkpointdir');
  const outputDir = join(workDir, 'streaming', 'outputdir');
  // The notebook's options, used twice below.
  const writeStream = () => ({
    name: 'stream_1p',
    source: new FileSource({ path: dataDir, maxFilesPerTrigger: 10 }),
    sink: makeJsonSink({ path: outputDir, timeZone }),
    checkpointLocation,
    outputMode: 'append',
    trigger: options.trigger ?? { processingTime: '1 second' },
  });

  say('In[15] as written: countsDF has no watermark. start() refuses it, as Spark does:');
  try {
    const query = await startQuery({ ...writeStream(), stages: countsDF({ timeZone }) });
    await query.stop();
    say('  (it started: this should not happen)');
  } catch (err) {
    // Thrown by the checks at start(), before anything is written.
    if (!isTidemarkError(err)) throw err;
    say(`  ${err.code}: ${err.message}`, '');
  }

  say('With In[29]\'s withWatermark("time", "2 hours") it starts; it runs for 6 seconds, then stops (In[16]).');
  const query = await startQuery({ ...writeStream(), stages: countsDF({ timeZone, watermark: '2 hours' }) });
  // With available-now (tests, CI) the query ends by itself once the input is read: wait for that, however slow the machine.
  const bounded = typeof options.trigger === 'string' && /^available-?now$/i.test(options.trigger);
  if (bounded) await query.awaitTermination();
  else await query.awaitTermination(options.awaitTerminationMs ?? 6000);
  await query.stop();

  say('', 'In[17]: spark.read.json("./streaming/outputdir/").show(truncate=False)', '');
  out.write(await showDirectory(outputDir, { truncate: false, timeZone }));
  return { checkpointLocation, outputDir };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'json-sink-append', summary: 'In[15]-[17]: JSON sink, checkpoint, append mode; refused without a watermark, then read back', run };

runIfMain(import.meta.url, recipe);

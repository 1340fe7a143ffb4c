/**
 * Recipe: reading the file stream (In[10]) and watching the counts change on
 * the console (the notebook's commented-out console query in In[15]).
 *
 * What Spark did: In[10] declared `inputDF = spark.readStream
 * .schema("time timestamp, action string").option("maxFilesPerTrigger", 10)
 * .json(dir)` and `countsDF = inputDF.groupBy(col("action"),
 * window(col("time"), "1 hour")).count()`. Nothing runs until a sink starts:
 * In[15]'s commented lines `countsDF.writeStream.format("console")
 * .outputMode("update").start()` print each micro-batch.
 *
 * What this recipe does: the same query, composed from tidemark's stages
 * (`FileSource` → `ParseSchema` → `Window` → `KeyedCount`) into a
 * `ConsoleSink` in update mode; it processes every file there is, then stops.
 *
 * What to look at: one `Batch: N` table per micro-batch of 10 files. Update
 * mode prints only the windows the batch changed, with their new totals: a
 * window that straddles two batches appears in both, its count grown. No
 * watermark is needed in update mode, but then no window is ever closed:
 * the state keeps every window forever (the notebook's "Problem with
 * Generating Many Windows").
 *
 * @module
 */
import { ConsoleSink, FileSource, startQuery } from 'tidemark';
import { countsDF, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<void> {
  const { dataDir, out, timeZone } = await setUp('read-file-stream', options);
  const say = printer(out);
  say('In[10] with the console sink of In[15], update mode: one table per micro-batch of 10 files.', '');

  const query = await startQuery({
    source: new FileSource({ path: dataDir, maxFilesPerTrigger: 10 }),
    stages: countsDF({ timeZone }),
    // Spark's console sink cuts cells at 20 characters unless told `truncate: false`; a window needs more.
    sink: new ConsoleSink({ output: out, truncate: false, timeZone }),
    outputMode: 'update',
  });
  // A streaming query never ends by itself: wait until the files there are now are done, then stop.
  await query.processAllAvailable();
  await query.stop();
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'read-file-stream', summary: 'In[10]: schema, maxFilesPerTrigger 10, counts per action and hour, console sink in update mode', run };

runIfMain(import.meta.url, recipe);

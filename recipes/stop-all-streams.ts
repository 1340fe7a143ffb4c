/**
 * Recipe: stopping all streams (In[27]).
 *
 * What Spark did: by In[27] the notebook had started several queries
 * (`stream_1p`, `stream_3p`, `stream_4p`), each running until stopped.
 * `for s in spark.streams.active: s.stop()` stopped every query still
 * running in the session.
 *
 * What this recipe does: starts three named queries on the data set, each
 * counting into memory, waits until each has read every file, lists
 * `streams.active` (tidemark's `spark.streams`: the process-wide registry
 * every `startQuery` registers in), shows that a second query with an active
 * query's name is refused, then stops them all with In[27]'s loop.
 *
 * What to look at: the three names while they run; Spark's message for the
 * duplicate name; an empty list afterwards, and each query's `isActive`
 * false. `await streams.stopAll()` does the same as the loop in one call.
 *
 * @module
 */
import { FileSource, MemorySink, isTidemarkError, startQuery, streams } from 'tidemark';
import { countsDF, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** Runs the recipe. It writes no files (memory sinks) but reads the data set. */
export async function run(options: RecipeOptions = {}): Promise<void> {
  const { dataDir, out, timeZone } = await setUp('stop-all-streams', options);
  const say = printer(out);
  const start = (name: string) =>
    startQuery({
      name,
      source: new FileSource({ path: dataDir, maxFilesPerTrigger: 10 }),
      stages: countsDF({ timeZone }),
      sink: new MemorySink(),
      outputMode: 'complete',
      trigger: options.trigger ?? { processingTime: '1 second' },
    });

  const queries = [await start('stream_1p'), await start('stream_3p'), await start('stream_4p')];
  // Each keeps running (waiting for new files) once it has read the ones there are.
  for (const query of queries) await query.processAllAvailable();
  say(`spark.streams.active: ${streams.active.map((q) => q.name).join(', ')}`, '');

  try {
    await start('stream_1p');
  } catch (err) {
    if (!isTidemarkError(err)) throw err;
    say(`Starting another stream_1p: ${err.code}: ${err.message}`, '');
  }

  // In[27]: for s in spark.streams.active: s.stop()
  for (const s of streams.active) await s.stop();

  say(`After In[27]'s loop, spark.streams.active: [${streams.active.map((q) => q.name).join(', ')}]`);
  for (const query of queries) say(`  ${query.name}: isActive ${query.isActive}, status "${query.status.message}"`);
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'stop-all-streams', summary: 'In[27]: start several named queries, list spark.streams.active, stop them all', run };

runIfMain(import.meta.url, recipe);

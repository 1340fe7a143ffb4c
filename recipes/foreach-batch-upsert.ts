/**
 * Recipe: each micro-batch upserted into a table of your own, exactly once
 * (`ForEachBatchSink`, Spark's `foreachBatch`).
 *
 * What Spark does: `writeStream.foreachBatch((df, batchId) => …)` hands
 * each micro-batch to a function that writes it anywhere (a database, an
 * API). If the query dies before the batch commits, the batch runs again
 * after the restart and the function is called again with the same batch
 * id: writing idempotently by that id is the function's job.
 *
 * What this recipe does: counts the data set per action and hour with a
 * 2-hour watermark in update mode (each batch brings the groups it
 * changed), and upserts each batch into `table.json`, a stand-in for a
 * database table: the counts by (action, window) and, in the same atomic
 * write, the id of the last batch written. A batch whose id is not above
 * it is skipped. The first run dies right after writing batch 1 — as a
 * process killed between its write and its commit would — and the restart
 * passes batch 1 again.
 *
 * What to look at: batch 1 is passed twice and written once; the table at
 * the end holds each (action, hour) once, with the count of an
 * uninterrupted run.
 *
 * @module
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSource, ForEachBatchSink, KeyedCount, ParseSchema, Watermark, Window, startQuery, type Row } from 'tidemark';
import { formatTimestampIso } from 'tidemark/internals';
import { NOTEBOOK_SCHEMA, printer, runIfMain, setUp, type Recipe, type RecipeOptions } from './common.js';

/** The table: counts by `action|window start`, and the last batch written. */
interface Table {
  lastBatchId: number;
  counts: Record<string, number>;
}

async function readTable(path: string): Promise<Table> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Table;
  } catch {
    return { lastBatchId: -1, counts: {} };
  }
}

/** Where the recipe wrote. */
export interface ForEachBatchResult {
  readonly tablePath: string;
  readonly checkpointLocation: string;
}

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<ForEachBatchResult> {
  const { dataDir, workDir, out, timeZone } = await setUp('foreach-batch-upsert', options);
  const say = printer(out);
  const tablePath = join(workDir, 'table.json');
  const checkpointLocation = join(workDir, 'checkpoint');
  const hour = (ms: number): string => formatTimestampIso(ms * 1000, timeZone).slice(0, 16);
  let crashOnce = (await readTable(tablePath)).lastBatchId < 1;

  // The function: one atomic write per batch, rows and batch id together, so a batch is in the table whole or not at all.
  const upsert = async (rows: Row[], batchId: number): Promise<void> => {
    const table = await readTable(tablePath);
    if (batchId <= table.lastBatchId) {
      say(`batch ${batchId}: ${rows.length} rows passed again; the table already has batch ${table.lastBatchId}: skipped`);
      return;
    }
    for (const row of rows) {
      const w = row['window'] as { start: number };
      table.counts[`${row['action']}|${hour(w.start)}`] = row['count'] as number;
    }
    table.lastBatchId = batchId;
    await writeFile(tablePath + '.tmp', JSON.stringify(table));
    await rename(tablePath + '.tmp', tablePath);
    say(`batch ${batchId}: ${rows.length} rows upserted`);
    if (batchId === 1 && crashOnce) {
      crashOnce = false;
      throw new Error('the process dies after writing batch 1, before the batch commits');
    }
  };

  const start = () =>
    startQuery({
      name: 'upsert_counts',
      source: new FileSource({ path: dataDir, maxFilesPerTrigger: 10 }),
      stages: [
        // 12,000 events: read on this thread, sooner than worker threads would start.
        new ParseSchema({ schema: NOTEBOOK_SCHEMA, timeZone, workers: 0 }),
        new Watermark({ eventTime: 'time', delay: '2 hours' }),
        new Window({ timeColumn: 'time', duration: '1 hour' }),
        new KeyedCount({ groupBy: ['action', 'window'] }),
      ],
      sink: new ForEachBatchSink(upsert),
      outputMode: 'update',
      checkpointLocation,
      trigger: 'availableNow',
    });

  say('First run:');
  const first = await start();
  await first.awaitTermination().catch((err: Error) => say(`query failed: ${(err.cause as Error | undefined)?.message ?? err.message}`));
  say('', 'Restart from the checkpoint:');
  const second = await start();
  await second.awaitTermination();

  const table = await readTable(tablePath);
  say('', `The table after batch ${table.lastBatchId} (action, hour starting, count):`);
  for (const key of Object.keys(table.counts).sort()) {
    const [action, start] = key.split('|');
    say(`  ${action!.padEnd(7)}${start}  ${table.counts[key]}`);
  }
  return { tablePath, checkpointLocation };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'foreach-batch-upsert', summary: 'foreachBatch: each batch upserted into a table of your own, idempotent by batch id, across a crash', run };

runIfMain(import.meta.url, recipe);

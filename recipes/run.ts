/**
 * The recipe runner.
 *
 * ```
 * npm run recipes                        # every recipe, on one generated data set
 * npm run recipe -- json-sink-append     # one recipe
 * npm run recipe -- --list               # their names
 * node dist-recipes/run.js NAME|--all [--data DIR] [--work DIR]
 * ```
 *
 * `--data DIR` reads your own JSON-lines files instead of generating the
 * notebook's data set; `--work DIR` is where checkpoints, outputs and charts
 * go (a new temporary directory by default, kept and named at the end).
 * Running a recipe again with the same `--work` resumes its queries from
 * their checkpoints.
 *
 * @module
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDataset } from 'tidemark/internals';
import { RECIPE_DATA, type Recipe } from './common.js';
import { recipe as readFileStream } from './read-file-stream.js';
import { recipe as jsonSinkAppend } from './json-sink-append.js';
import { recipe as shufflePartitions } from './shuffle-partitions.js';
import { recipe as plotCounts } from './plot-counts.js';
import { recipe as stopAllStreams } from './stop-all-streams.js';
import { recipe as watermark } from './watermark.js';
import { recipe as slidingWindows } from './sliding-windows.js';
import { recipe as eventTimeVsReceiptTime } from './event-time-vs-receipt-time.js';
import { recipe as lateDataSideOutput } from './late-data-side-output.js';
import { recipe as eventsFromYourProgram } from './events-from-your-program.js';
import { recipe as foreachBatchUpsert } from './foreach-batch-upsert.js';
import { recipe as sessionsPerUser } from './sessions-per-user.js';
import { recipe as exactlyOnceCounts } from './exactly-once-counts.js';
import { recipe as iotTemperatures } from './iot-temperatures.js';

/** Every recipe, in the notebook's order, then the ones beyond it. */
export const RECIPES: readonly Recipe[] = [
  readFileStream,
  jsonSinkAppend,
  shufflePartitions,
  plotCounts,
  stopAllStreams,
  watermark,
  slidingWindows,
  eventTimeVsReceiptTime,
  lateDataSideOutput,
  eventsFromYourProgram,
  foreachBatchUpsert,
  sessionsPerUser,
  exactlyOnceCounts,
  iotTemperatures,
];

const USAGE = `Usage: npm run recipe -- NAME [--data DIR] [--work DIR]
       npm run recipes [-- --data DIR] [-- --work DIR]

Recipes:
${RECIPES.map((r) => `  ${r.name.padEnd(28)}${r.summary}`).join('\n')}
`;

/**
 * Runs the recipes named in `argv` (or all with `--all`).
 *
 * @returns the exit status: 0 when every recipe ran, 1 when one failed, 2 for a bad command line
 */
export async function main(argv: readonly string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { all: { type: 'boolean' }, list: { type: 'boolean' }, data: { type: 'string' }, work: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.list === true) {
    process.stdout.write(RECIPES.map((r) => r.name + '\n').join(''));
    return 0;
  }
  const unknown = positionals.filter((name) => !RECIPES.some((r) => r.name === name));
  if (unknown.length > 0 || (positionals.length === 0) === (values.all !== true)) {
    process.stderr.write(`${unknown.length > 0 ? `unknown recipe ${unknown.join(', ')}` : 'name a recipe, or say --all'}\n\n${USAGE}`);
    return 2;
  }
  const selected = values.all === true ? RECIPES : RECIPES.filter((r) => positionals.includes(r.name));
  const workRoot = resolve(values.work ?? (await mkdtemp(join(tmpdir(), 'tidemark-recipes-'))));
  let dataDir = values.data;
  const notebookRecipes = selected.filter((r) => (r.data ?? 'notebook') === 'notebook');
  if (dataDir === undefined && notebookRecipes.length > 1) {
    // One data set for all: generating it once saves each recipe doing so.
    dataDir = join(workRoot, 'data');
    await generateDataset(dataDir, RECIPE_DATA);
  }
  for (const recipe of selected) {
    process.stdout.write(`\n##### ${recipe.name}: ${recipe.summary}\n\n`);
    // The generated notebook data set is not what a clickstream or IoT recipe reads; data given with --data is.
    const data = values.data ?? ((recipe.data ?? 'notebook') === 'notebook' ? dataDir : undefined);
    try {
      await recipe.run({ workDir: join(workRoot, recipe.name), ...(data === undefined ? {} : { dataDir: data }) });
    } catch (err) {
      process.stderr.write(`\n${recipe.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      return 1;
    }
  }
  process.stderr.write(`\nFiles (checkpoints, outputs, charts) are in ${workRoot}\n`);
  return 0;
}

if (process.argv[1] !== undefined && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

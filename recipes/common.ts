/**
 * What every recipe shares: its options, the notebook's data set (generated
 * when no directory is given), the notebook's query, and running a recipe
 * file directly. Not a recipe itself; read a recipe first.
 *
 * @module
 */
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Transform } from 'node:stream';
import { CheckpointSink, KeyedCount, ParseSchema, Watermark, Window, type CheckpointSinkOptions, type TriggerOption } from 'tidemark';
import { generateDataset, writeClickstream, writeIotDataset, type ClickstreamOptions } from 'tidemark/internals';

/** The notebook's session time zone: its tables print `2016-07-26T07:30:00.000+05:30`. */
export const NOTEBOOK_TIME_ZONE = 'Asia/Kolkata';

/** In[10]'s `myschema`. */
export const NOTEBOOK_SCHEMA = 'time timestamp, action string';

/**
 * The data set a recipe generates when it is given none: 30 files of 400
 * events, about 3 h 20 min of event time from 2016-07-26T02:54:35Z, so
 * `maxFilesPerTrigger: 10` reads it in three micro-batches of about an hour
 * each.
 */
export const RECIPE_DATA = { files: 30, lines: 400, seed: 1 } as const;

/** Options every recipe's `run` takes. All have defaults: `run()` alone works. */
export interface RecipeOptions {
  /** Directory of JSON-lines input files; generated ({@link RECIPE_DATA}) into `workDir/data` when absent. */
  dataDir?: string;
  /**
   * Where checkpoints, outputs and charts go; a new temporary directory when
   * absent. Run a recipe again with the same `workDir` and its queries
   * resume from their checkpoints, as a restarted Spark query does.
   */
  workDir?: string;
  /** Where the recipe prints; `process.stdout` by default. */
  out?: NodeJS.WritableStream;
  /** Session time zone of the printed and written timestamps; the notebook's `Asia/Kolkata` by default. */
  timeZone?: string;
  /**
   * Replaces the notebook's `processingTime` 1-second trigger in the recipes
   * that use it (json-sink-append, shuffle-partitions, stop-all-streams).
   * Tests say `'availableNow'`: the same micro-batches, without waiting for
   * the clock.
   */
  trigger?: TriggerOption;
  /**
   * How the recipe makes its JSON file sinks. Tests pass one that fails at a
   * chosen micro-batch, to crash a query and restart it from its checkpoint.
   */
  makeJsonSink?: (options: CheckpointSinkOptions) => CheckpointSink;
}

/** A recipe's options with the defaults filled in. */
export interface RecipeSetup {
  readonly dataDir: string;
  readonly workDir: string;
  readonly out: NodeJS.WritableStream;
  readonly timeZone: string;
  readonly makeJsonSink: (options: CheckpointSinkOptions) => CheckpointSink;
}

/** A recipe, as the runner lists it. */
export interface Recipe {
  /** File name without extension (`json-sink-append`). */
  readonly name: string;
  /** One line for the list. */
  readonly summary: string;
  /** Runs the recipe; resolves when its queries have stopped. */
  readonly run: (options?: RecipeOptions) => Promise<unknown>;
  /** What it reads when given no `dataDir`: the notebook's data set (default), or a clickstream or IoT readings of its own. */
  readonly data?: 'notebook' | 'clickstream' | 'iot';
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Fills in the defaults. Generates the notebook's data set into
 * `workDir/data` when no `dataDir` is given and it is not there yet (a
 * restarted recipe must read the same files, not a regenerated copy).
 */
export async function setUp(name: string, options: RecipeOptions = {}): Promise<RecipeSetup> {
  const workDir = resolve(options.workDir ?? (await mkdtemp(join(tmpdir(), `tidemark-${name}-`))));
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    dataDir = join(workDir, 'data');
    if (!(await exists(dataDir))) await generateDataset(dataDir, RECIPE_DATA);
  }
  return {
    dataDir: resolve(dataDir),
    workDir,
    out: options.out ?? process.stdout,
    timeZone: options.timeZone ?? NOTEBOOK_TIME_ZONE,
    makeJsonSink: options.makeJsonSink ?? ((sinkOptions) => new CheckpointSink(sinkOptions)),
  };
}

/** The clickstream the session and deduplication recipes read when given no data: 60 users, 4 visits each, 100 events a file. */
export const CLICKSTREAM_DATA = { users: 60, burstsPerUser: 4, seed: 1, linesPerFile: 100 } as const;

/** The clickstream's schema: `{"id":"e0001","time":1709280123,"user":"u07","action":"view"}`. */
export const CLICKSTREAM_SCHEMA = 'id string, time timestamp, user string, action string';

/**
 * {@link setUp} for the recipes that read a clickstream: generates
 * {@link CLICKSTREAM_DATA} (with `extra`, e.g. redeliveries) into
 * `workDir/clicks` when no `dataDir` is given and it is not there yet.
 * Times print in UTC unless `timeZone` says otherwise: the clickstream is
 * made up, it has no notebook to match.
 */
export async function setUpClickstream(name: string, options: RecipeOptions = {}, extra: ClickstreamOptions = {}): Promise<RecipeSetup> {
  const workDir = resolve(options.workDir ?? (await mkdtemp(join(tmpdir(), `tidemark-${name}-`))));
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    dataDir = join(workDir, 'clicks');
    if (!(await exists(dataDir))) await writeClickstream(dataDir, { ...CLICKSTREAM_DATA, ...extra });
  }
  return setUp(name, { ...options, workDir, dataDir, timeZone: options.timeZone ?? 'UTC' });
}

/** The IoT readings the aggregation recipe reads when given no data: 12 files of 400 readings (40 devices, 30 minutes). */
export const IOT_DATA = { files: 12, lines: 400, seed: 1 } as const;

/**
 * {@link setUp} for the recipes that read IoT readings: generates
 * {@link IOT_DATA} into `workDir/readings` when no `dataDir` is given and it
 * is not there yet. Times print in UTC unless `timeZone` says otherwise.
 */
export async function setUpIot(name: string, options: RecipeOptions = {}): Promise<RecipeSetup> {
  const workDir = resolve(options.workDir ?? (await mkdtemp(join(tmpdir(), `tidemark-${name}-`))));
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    dataDir = join(workDir, 'readings');
    if (!(await exists(dataDir))) await writeIotDataset(dataDir, IOT_DATA);
  }
  return setUp(name, { ...options, workDir, dataDir, timeZone: options.timeZone ?? 'UTC' });
}

/**
 * In[10]'s `countsDF` after the file source: parse the lines with the
 * schema, optionally `withWatermark("time", delay)` (In[29]), then
 * `groupBy(col("action"), window(col("time"), "1 hour")).count()`.
 * Fresh stages every call: a stage belongs to one query.
 */
export function countsDF(options: { timeZone: string; watermark?: string; partitions?: number }): Transform[] {
  return [
    new ParseSchema({ schema: NOTEBOOK_SCHEMA, timeZone: options.timeZone }),
    ...(options.watermark === undefined ? [] : [new Watermark({ eventTime: 'time', delay: options.watermark })]),
    new Window({ timeColumn: 'time', duration: '1 hour' }),
    new KeyedCount({ groupBy: ['action', 'window'], ...(options.partitions === undefined ? {} : { partitions: options.partitions }) }),
  ];
}

/** Writes lines to the recipe's output. */
export function printer(out: NodeJS.WritableStream): (...lines: string[]) => void {
  return (...lines) => {
    out.write(lines.map((l) => l + '\n').join(''));
  };
}

/**
 * Runs `recipe` when its file is the program (`node dist-recipes/<name>.js
 * [--data DIR] [--work DIR]`), and says where its files are.
 */
export function runIfMain(moduleUrl: string, recipe: Recipe): void {
  const main = process.argv[1];
  if (main === undefined || pathToFileURL(resolve(main)).href !== moduleUrl) return;
  const flag = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const dataDir = flag('--data');
  const workDir = flag('--work') ?? join(tmpdir(), `tidemark-recipe-${recipe.name}-${process.pid}`);
  recipe.run({ workDir, ...(dataDir === undefined ? {} : { dataDir }) }).then(
    async () => {
      if (await exists(workDir)) process.stderr.write(`\n(${recipe.name}: files in ${workDir})\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${recipe.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

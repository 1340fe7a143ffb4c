/**
 * `tidemark demo [--dir DIR]` (`npm start`): the notebook end to end, in
 * process — generate a data set, run the notebook's watermarked windowed
 * count into a JSON sink, print the sink's output as
 * `spark.read.json(…).show(truncate=False)` does — with a sentence before
 * each step. It calls the same functions as `gen`, `run` and `show`.
 *
 * @module
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from '../errors.js';
import { generate, genSummaryLine } from './gen.js';
import { executeQuery, progressLine, type RunOptions } from './run.js';
import { showDirectory } from './show.js';
import { parseCommandArgs, processIO, stringFlag, UsageError, type CommandIO, type FlagSpec } from './args.js';

/** Default demo directory, relative to the working directory. */
export const DEFAULT_DEMO_DIR = './tidemark-demo';

/** File that marks a directory as the demo's own, so it may be removed on the next run. */
export const DEMO_MARKER = '.tidemark-demo';

/** `tidemark demo --help`. */
export const DEMO_USAGE = `Usage: tidemark demo [--dir DIR]

Runs the Spark notebook's windowed count end to end in DIR (default
${DEFAULT_DEMO_DIR}), which is removed and recreated first:
  1. generates 10 files x 2000 JSON events (seed 1) into DIR/input;
  2. runs the query: schema "time timestamp, action string", group by action
     and a 1-hour window, 2-hour watermark, append mode, JSON files to
     DIR/output, checkpoint DIR/checkpoint, trigger available-now, 10 files
     per trigger, drained at the end so the last windows are emitted;
  3. prints DIR/output as spark.read.json(DIR/output).show(truncate=False).
DIR is only removed if it is empty or was made by an earlier demo.

Flags:
  --dir DIR    working directory of the demo (default ${DEFAULT_DEMO_DIR})
  -h, --help   print this help
`;

const FLAGS: Record<string, FlagSpec> = { dir: { type: 'string' } };

/** The data set the demo generates. */
export const DEMO_DATA = { files: 10, lines: 2000, seed: 1 } as const;

/** The notebook's query, reading `dir/input` and writing `dir/output`. */
export function demoQuery(dir: string): RunOptions {
  return {
    name: 'demo',
    input: join(dir, 'input'),
    schema: 'time timestamp, action string',
    groupBy: ['action'],
    window: '1 hour',
    eventTime: 'time',
    watermark: '2 hours',
    outputMode: 'append',
    sink: { kind: 'json', path: join(dir, 'output') },
    checkpoint: join(dir, 'checkpoint'),
    trigger: 'available-now',
    maxFilesPerTrigger: 10,
    drain: true,
  };
}

/** Removes `dir` if it is the demo's (or empty) and recreates it with the marker. */
async function resetDirectory(dir: string): Promise<void> {
  let entries: string[] | null = null;
  try {
    if (!(await stat(dir)).isDirectory()) {
      throw new TidemarkError('ERR_INVALID_OPTION', `refusing to replace ${dir}: it is not a directory`, { option: 'dir' });
    }
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (entries !== null && entries.length > 0 && !entries.includes(DEMO_MARKER)) {
    throw new TidemarkError('ERR_INVALID_OPTION', `refusing to remove ${dir}: it is not empty and was not made by tidemark demo`, { option: 'dir' });
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, DEMO_MARKER), 'Made by `tidemark demo`; removed and recreated by its next run.\n');
}

/**
 * Runs the demo in `dir`, writing its narration, progress and table to `io.stdout`.
 *
 * @throws TidemarkError when `dir` cannot be used or a step fails
 */
export async function runDemo(dir: string, io: CommandIO = processIO): Promise<void> {
  const root = resolve(dir);
  const out = (s: string): void => void io.stdout.write(s + '\n');
  out(`tidemark demo: the Spark notebook's streaming windowed count, end to end, in ${root}.`);
  out('');
  await resetDirectory(root);

  const query = demoQuery(root);
  out(`1. Generating the input: ${DEMO_DATA.files} files of ${DEMO_DATA.lines} JSON events ({"time":…,"action":…}, seed ${DEMO_DATA.seed}) in ${query.input}.`);
  const summary = await generate(query.input, DEMO_DATA);
  out(`   ${genSummaryLine(summary)}`);
  out('');

  const output = (query.sink as { path: string }).path;
  out(
    `2. Running the notebook's query: count events per action and 1-hour window, with a 2-hour watermark, in append mode, ` +
      `writing JSON files to ${output} (checkpoint ${query.checkpoint}); trigger available-now with at most 10 files per micro-batch, ` +
      'drained at the end so the last windows are emitted too.',
  );
  let batches = 0;
  let inputRows = 0;
  await executeQuery(query, {
    onProgress: (p) => {
      batches++;
      inputRows += p.numInputRows;
      out(`   ${progressLine(p)}`);
    },
  });
  out(`   done: ${batches} micro-${batches === 1 ? 'batch' : 'batches'}, ${inputRows} input rows.`);
  out('');

  out(`3. Reading ${output} back as spark.read.json(...).show(truncate=False) prints it:`);
  out('');
  io.stdout.write(await showDirectory(output, { truncate: false }));
}

/**
 * Runs `tidemark demo` with the arguments after `demo`.
 *
 * @returns the exit status
 * @throws UsageError for a bad command line; TidemarkError when a step fails
 */
export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const args = parseCommandArgs('demo', argv, FLAGS);
  if (args.help) {
    io.stdout.write(DEMO_USAGE);
    return 0;
  }
  const dir = stringFlag(args, 'dir') ?? DEFAULT_DEMO_DIR;
  if (dir.length === 0) throw new UsageError('flag --dir needs a non-empty value', 'demo');
  await runDemo(dir, io);
  return 0;
}

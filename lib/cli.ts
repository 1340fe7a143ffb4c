#!/usr/bin/env node
/**
 * The `tidemark` command: dispatches to `run`, `publish`, `show`, `plot`, `gen` and `demo`.
 * Each command's module is imported only when that command runs, so
 * `tidemark --help` loads almost nothing.
 *
 * Exit status: 0 on success, 1 on a tidemark error (printed as
 * `tidemark: <message> (code ERR_…)`), an error from the OS (`(code ENOSPC,
 * path …)`) or an unexpected failure, 2 on a usage error. A query that
 * failed while running is reported by its cause, with the cause's own code
 * (see `cli/failure.ts`).
 *
 * @module
 */

/** `tidemark --help`. */
const USAGE = `Usage: tidemark <command> [flags]

Spark Structured Streaming's event-time windowed aggregation as Node streams.

Commands:
  run      run a windowed count over a directory of JSON files (or a NATS
           JetStream stream), into JSON files, the console or a NATS subject
  publish  publish the events of JSON-lines files to a partitioned NATS
           JetStream stream
  show     print an output directory (JSON, Parquet or CSV) as a notebook's
           spark.read.json(DIR).show() (or .parquet, .csv) prints it
  plot     draw counts per window as a line chart (SVG or PNG)
  gen      write a synthetic data set shaped like the notebook's
  demo     generate data, run the notebook's query and show its output

Flags:
  -h, --help     print this help
  -v, --version  print tidemark's version

Run 'tidemark <command> --help' for the flags of a command.
`;
interface CommandModule {
  main(argv: readonly string[]): Promise<number>;
}

const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  run: () => import('./cli/run.js'),
  publish: () => import('./cli/publish.js'),
  show: () => import('./cli/show.js'),
  plot: () => import('./cli/plot.js'),
  gen: () => import('./cli/gen.js'),
  demo: () => import('./cli/demo.js'),
};

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/**
 * Whether `run`'s flags ask for a windowed query over files, which the
 * planner reads on chunk workers: their pool is then started before the
 * command's modules load, so that the workers' start-up overlaps it
 * (a JetStream input, a session window or `--help` start none).
 */
function mayAggregateChunks(argv: readonly string[]): boolean {
  const value = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    return argv[i] === name ? (argv[i + 1] ?? '') : argv[i]!.slice(name.length + 1);
  };
  const input = value('--input');
  return input !== undefined && !/^nats:\/\//i.test(input) && value('--window') !== undefined && !argv.includes('--help') && !argv.includes('-h');
}

/** A usage error's message and command, without importing the module that defines it. */
function usageError(err: unknown): { message: string; command: string | null } | null {
  if (!(err instanceof Error) || err.name !== 'UsageError') return null;
  const command = (err as Error & { command?: unknown }).command;
  return { message: err.message, command: typeof command === 'string' ? command : null };
}

/**
 * Runs the CLI with `argv` (the arguments after the program name).
 *
 * @returns the exit status
 */
async function cli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      process.stderr.write(USAGE);
      return 2;
    }
    if (command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (command === '-v' || command === '--version') {
      process.stdout.write(`${await version()}\n`);
      return 0;
    }
    const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (load === undefined) {
      // Loaded only for a mistake, like the commands.
      const { closestName } = await import('./core/suggest.js');
      const flag = command.startsWith('-');
      const hit = flag ? closestName(command.replace(/^-+/, ''), ['help', 'version']) : closestName(command, Object.keys(COMMANDS));
      const what = flag ? `unknown flag '${command}'` : `unknown command '${command}'`;
      const mean = hit === null ? '' : `; did you mean '${flag ? '--' : ''}${hit}'?`;
      process.stderr.write(`tidemark: ${what}${mean}\nRun 'tidemark --help' for the list of commands.\n`);
      return 2;
    }
    if (command === 'run' && mayAggregateChunks(rest)) (await import('./stages/chunk-workers.js')).prestartChunkWorkers();
    return await (await load()).main(rest);
  } catch (err) {
    const usage = usageError(err);
    if (usage !== null) {
      process.stderr.write(`tidemark: ${usage.message}\nRun 'tidemark ${usage.command === null ? '' : usage.command + ' '}--help' for usage.\n`);
      return 2;
    }
    // Loaded only on failure, like the commands: `tidemark --help` loads nothing but this file.
    const { describeFailure } = await import('./cli/failure.js');
    const report = describeFailure(err, command ?? null);
    process.stderr.write(`tidemark: ${report.text}\n${report.hint === null ? '' : `  ${report.hint}\n`}`);
    return 1;
  }
}

/** Waits until `stream`'s buffered writes are handed to the OS. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

// A reader that goes away (`tidemark show DIR | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const status = await cli(process.argv.slice(2));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// Exit explicitly: a failed query may leave timers or watchers behind.
process.exit(status);

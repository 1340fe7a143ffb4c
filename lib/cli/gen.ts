/**
 * `tidemark gen DIR [--kind notebook|iot] [--files N] [--lines N] [--seed N]`:
 * writes a synthetic data set shaped like the notebook's
 * (`{"time":…,"action":"Open"}` lines, {@link generateDataset}) or IoT
 * temperature readings (`{"time":…,"device":"dev-07","temperature":21.375}`,
 * {@link writeIotDataset}) and prints one summary line.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { generateDataset, GEN_DEFAULTS, partFileName } from '../gen.js';
import { IOT_DEFAULTS, writeIotDataset } from '../gen-iot.js';
import { booleanFlag, choiceFlag, integerFlag, parseCommandArgs, processIO, UsageError, type CommandIO, type FlagSpec } from './args.js';

/** `tidemark gen --help`. */
export const GEN_USAGE = `Usage: tidemark gen DIR [--kind notebook|iot] [--files N] [--lines N] [--seed N] [--force]

Writes a synthetic data set into DIR (created if missing): N JSON-lines files
part-00000.json, part-00001.json, …, then prints one summary line (files,
events, bytes). The same seed gives the same bytes. A file it would write
that exists already is refused, unless --force.

  notebook  shaped like the notebook's: {"time":<epoch seconds>,
            "action":"Open|Close|Click|Scroll"} events
  iot       temperature readings of ${IOT_DEFAULTS.devices} devices, each every ${IOT_DEFAULTS.intervalSeconds} s:
            {"time":<epoch seconds>,"device":"dev-07","temperature":21.375},
            ${Math.round(IOT_DEFAULTS.nullFraction * 100)} % of them null, and always null for dev-${IOT_DEFAULTS.devices};
            read them with --schema "time timestamp, device string, temperature double"

Flags:
  --kind K     notebook (default) or iot
  --files N    number of files (default ${GEN_DEFAULTS.files})
  --lines N    events per file (default ${GEN_DEFAULTS.lines})
  --seed N     pseudo-random seed (default ${GEN_DEFAULTS.seed})
  --force      overwrite the files of an earlier data set in DIR (other
               files in DIR are left as they are)
  -h, --help   print this help
`;

const FLAGS: Record<string, FlagSpec> = {
  kind: { type: 'string' },
  files: { type: 'string' },
  lines: { type: 'string' },
  seed: { type: 'string' },
  force: { type: 'boolean' },
};

/**
 * Refuses to overwrite: the files `gen DIR --files N` would write that DIR
 * holds already (a query may have read them, and a checkpoint remembers
 * files by name, so new content under an old name would never be read).
 *
 * @throws UsageError naming the first such file, how many more there are, and --force
 */
export async function refuseOverwrite(dir: string, files: number): Promise<void> {
  let names: Set<string>;
  try {
    names = new Set(await readdir(dir));
  } catch {
    return; // no directory yet (or not one: the generator says so)
  }
  const existing: string[] = [];
  for (let i = 0; i < files; i++) if (names.has(partFileName(i))) existing.push(partFileName(i));
  if (existing.length === 0) return;
  const more = existing.length === 1 ? '' : ` and ${existing.length - 1} more of the files gen would write`;
  throw new UsageError(`${dir} already holds ${existing[0]}${more}; add --force to overwrite them, or choose another DIR`, 'gen');
}

/** What {@link generate} wrote. */
export interface GenSummary {
  /** Absolute path of the data set directory. */
  readonly dir: string;
  /** Paths of the files written, in order. */
  readonly files: readonly string[];
  /** Events (lines) written. */
  readonly events: number;
  /** Bytes written, all files together. */
  readonly bytes: number;
}

/** Options of {@link generate}: those of {@link generateDataset} that the command exposes. */
export interface GenCommandOptions {
  /** What to write: the notebook's events (default) or IoT readings. */
  readonly kind?: 'notebook' | 'iot';
  readonly files?: number;
  readonly lines?: number;
  readonly seed?: number;
}

/**
 * Writes the data set (what `tidemark gen` and `tidemark demo` run).
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for bad counts, `ERR_FILE_SOURCE` when a file cannot be written
 */
export async function generate(dir: string, options: GenCommandOptions = {}): Promise<GenSummary> {
  const root = resolve(dir);
  const sizes = {
    ...(options.files === undefined ? {} : { files: options.files }),
    ...(options.lines === undefined ? {} : { lines: options.lines }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  };
  const { files, events } = options.kind === 'iot' ? await writeIotDataset(root, sizes) : await generateDataset(root, sizes);
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  return { dir: root, files, events, bytes };
}

/** The summary line `tidemark gen` prints (without its newline). */
export function genSummaryLine(summary: GenSummary): string {
  const n = summary.files.length;
  return `wrote ${n} ${n === 1 ? 'file' : 'files'}, ${summary.events} events, ${summary.bytes} bytes to ${summary.dir}`;
}

/**
 * Runs `tidemark gen` with the arguments after `gen`.
 *
 * @returns the exit status
 * @throws UsageError for a bad command line; TidemarkError from the generator
 */
export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const args = parseCommandArgs('gen', argv, FLAGS, 1);
  if (args.help) {
    io.stdout.write(GEN_USAGE);
    return 0;
  }
  const dir = args.positionals[0];
  if (dir === undefined || dir.length === 0) throw new UsageError('missing the data set directory DIR', 'gen');
  const kind = choiceFlag('gen', args, 'kind', ['notebook', 'iot'] as const);
  const files = integerFlag('gen', args, 'files');
  const lines = integerFlag('gen', args, 'lines');
  const seed = integerFlag('gen', args, 'seed');
  if (!booleanFlag(args, 'force')) await refuseOverwrite(resolve(dir), files ?? (kind === 'iot' ? IOT_DEFAULTS.files : GEN_DEFAULTS.files));
  const summary = await generate(dir, {
    ...(kind === undefined ? {} : { kind }),
    ...(files === undefined ? {} : { files }),
    ...(lines === undefined ? {} : { lines }),
    ...(seed === undefined ? {} : { seed }),
  });
  io.stdout.write(genSummaryLine(summary) + '\n');
  return 0;
}

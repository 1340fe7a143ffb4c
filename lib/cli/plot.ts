/**
 * `tidemark plot DIR -o chart.svg|chart.png [--x start] [--series action]
 * [--y count] [--title T] [--width N] [--height N]`: the notebook's line
 * graph (Keys = `start`, Series groupings = `action`, Values = `count`) of a
 * JSON, Parquet or CSV output directory, as a file, with no browser.
 *
 * Self-contained: it parses its own flags and prints its own errors, so it
 * runs the same behind the `tidemark` dispatcher or on its own.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { extname } from 'node:path';
import { isTidemarkError, TidemarkError } from '../errors.js';

/** `tidemark plot --help`. */
export const PLOT_USAGE = `Usage: tidemark plot DIR -o FILE [--x COL] [--series COL] [--y COL]
                     [--title T] [--width N] [--height N]

Draws the committed rows of a JSON, Parquet or CSV output directory as a line
graph, one line per series value, and writes it as SVG or PNG (by FILE's
extension).
The defaults draw the notebook's chart: Keys = start, Series groupings =
action, Values = count. Time axes are in UTC.

Flags:
  -o, --output FILE  where to write the chart: a .svg or .png file (required)
  --x COL            x column (default start: window.start; a dotted path
                     reaches into a struct)
  --series COL       one line and legend entry per value (default action)
  --y COL            numeric y column (default count)
  --title T          chart title (default none)
  --width N          plot width in pixels (default 600)
  --height N         plot height in pixels (default 300)
  -h, --help         print this help
`;

/** Where the command writes: the process's streams, or collectors in tests. */
export interface PlotIO {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
}

/** A bad command line: exit status 2, with a pointer to `--help`. */
class PlotUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function parse(argv: readonly string[]): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        output: { type: 'string', short: 'o' },
        x: { type: 'string' },
        series: { type: 'string' },
        y: { type: 'string' },
        title: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // parseArgs' own text, less its advice about `--`.
    const message = (err as Error).message.split('. To specify a positional argument')[0]!;
    throw new PlotUsageError(message);
  }
}

function pixels(values: Record<string, string | boolean | undefined>, name: 'width' | 'height'): number | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  if (!/^\s*\d+\s*$/.test(v) || Number(v) <= 0) throw new PlotUsageError(`flag --${name} needs a positive integer, got '${v}'`);
  return Number(v);
}

function column(values: Record<string, string | boolean | undefined>, name: 'x' | 'series' | 'y', fallback: string): string {
  const v = values[name];
  if (typeof v !== 'string') return fallback;
  if (v.length === 0) throw new PlotUsageError(`flag --${name} needs a non-empty value`);
  return v;
}

async function plot(argv: readonly string[], io: PlotIO): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values['help'] === true) {
    io.stdout.write(PLOT_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new PlotUsageError(`unexpected argument '${positionals[1]}'`);
  const dir = positionals[0];
  if (dir === undefined || dir.length === 0) throw new PlotUsageError('missing the output directory DIR');
  const output = values['output'];
  if (typeof output !== 'string' || output.length === 0) throw new PlotUsageError('missing required flag --output (-o)');
  const ext = extname(output).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new PlotUsageError(`flag --output must name a .svg or .png file, got '${output}'`);
  const width = pixels(values, 'width');
  const height = pixels(values, 'height');
  const title = values['title'];
  const options = {
    x: column(values, 'x', 'start'),
    series: column(values, 'series', 'action'),
    y: column(values, 'y', 'count'),
    output,
    ...(typeof title === 'string' ? { title } : {}),
    ...(width === undefined ? {} : { width }),
    ...(height === undefined ? {} : { height }),
  };

  // Vega and resvg load only once the command line is known to be good.
  const { plotRows, readChartRows } = await import('../plot.js');
  const rows = await readChartRows(dir);
  if (rows.length === 0) throw new TidemarkError('ERR_UNABLE_TO_INFER_SCHEMA', `no rows to plot in ${dir}`, { file: dir });
  await plotRows(rows, options);
  return 0;
}

/**
 * Runs `tidemark plot` with the arguments after `plot`, printing errors
 * itself: `tidemark: <message>` on stderr, exit 1 for a TidemarkError (or any
 * other failure), exit 2 for a bad command line.
 *
 * @returns the exit status
 */
export async function runPlot(argv: readonly string[], io: PlotIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    return await plot(argv, io);
  } catch (err) {
    if (err instanceof PlotUsageError) {
      io.stderr.write(`tidemark: ${err.message}\nRun 'tidemark plot --help' for usage.\n`);
      return 2;
    }
    if (isTidemarkError(err)) {
      io.stderr.write(`tidemark: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`tidemark: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/** The dispatcher's entry point (`CommandModule.main`): the same as {@link runPlot}. */
export const main = runPlot;

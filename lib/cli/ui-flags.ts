/**
 * `--ui [HOST:]PORT` and `--ui-token TOKEN` of `tidemark run`: the live view
 * of the running query in the browser (`serveUi`).
 *
 * `parseArgs` has no optional values, so a bare `--ui` (last, or followed by
 * another flag) is rewritten to `--ui=127.0.0.1:4040` before parsing: `run`
 * takes no positionals, and an address never starts with `-`, so this is
 * unambiguous.
 *
 * @module
 */
import type { StreamingQueryManager } from '../query/streaming-query.js';
import type { UiServer } from '../ui/server.js';
import { stringFlag, UsageError, type FlagSpec, type ParsedArgs, type Writer } from './args.js';

/** The address a bare `--ui` means: Spark's UI port, on loopback. */
export const DEFAULT_UI_ADDRESS = '127.0.0.1:4040';

/** The flags, for a command's flag table. */
export const UI_FLAGS: Readonly<Record<string, FlagSpec>> = {
  ui: { type: 'string' },
  'ui-token': { type: 'string' },
};

/** Where to serve the live view, as the flags asked. */
export interface UiFlags {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
}

/** `argv` with a bare `--ui` given its default address. */
export function withUiDefault(argv: readonly string[]): string[] {
  return argv.map((arg, i) => {
    if (arg !== '--ui') return arg;
    const next = argv[i + 1];
    return next === undefined || next.startsWith('-') ? `--ui=${DEFAULT_UI_ADDRESS}` : arg;
  });
}

/**
 * `PORT`, `HOST:PORT` or `[IPv6]:PORT`.
 *
 * @throws UsageError naming the flag and the forms it takes
 */
export function parseUiAddress(command: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]:|([^:[\]\s]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new UsageError(`flag --ui needs PORT or HOST:PORT (e.g. 4040, 127.0.0.1:4040, [::1]:4040; port 0 = any free port), got '${value}'`, command);
  }
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/**
 * The live view the flags ask for, or null without `--ui`. The token comes
 * from `--ui-token` or, so that it stays out of `ps`, `TIDEMARK_UI_TOKEN`.
 *
 * @throws UsageError for a bad address, an empty token, or `--ui-token` without `--ui`
 */
export function parseUiFlags(command: string, args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): UiFlags | null {
  const address = stringFlag(args, 'ui');
  const flagToken = stringFlag(args, 'ui-token');
  if (address === undefined) {
    if (flagToken !== undefined) throw new UsageError('flag --ui-token needs --ui', command);
    return null;
  }
  if (flagToken !== undefined && flagToken.length === 0) throw new UsageError('flag --ui-token needs a non-empty value', command);
  const envToken = env['TIDEMARK_UI_TOKEN'];
  const token = flagToken ?? (envToken === undefined || envToken.length === 0 ? undefined : envToken);
  return { ...parseUiAddress(command, address), ...(token === undefined ? {} : { token }) };
}

/**
 * Starts the live view of `manager`'s queries and prints its address on
 * stderr.
 *
 * @throws TidemarkError `ERR_UI_NEEDS_TOKEN`, `ERR_UI_PORT_IN_USE` (see `serveUi`)
 */
export async function startCliUi(flags: UiFlags, manager: StreamingQueryManager, stderr: Writer, timeZone?: string): Promise<UiServer> {
  // Loaded only when asked for: `tidemark run` without --ui needs no HTTP server.
  const { serveUi } = await import('../ui/server.js');
  const ui = await serveUi({
    manager,
    host: flags.host,
    port: flags.port,
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(timeZone === undefined ? {} : { timeZone }),
  });
  stderr.write(`tidemark: live view at ${ui.url}\n`);
  return ui;
}

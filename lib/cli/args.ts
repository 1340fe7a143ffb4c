/**
 * Argument handling shared by the CLI commands: `node:util` `parseArgs`
 * with usage errors that name the flag, and value parsers for the flags the
 * commands share. Imports nothing but `node:util`, so `--help` stays cheap.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { closestName } from '../core/suggest.js';

/**
 * A command line the CLI cannot use (unknown or missing flag, bad value):
 * printed as `tidemark: <message>` with a pointer to the command's `--help`,
 * exit status 2.
 */
export class UsageError extends Error {
  /** The command whose usage was violated (`run`, `show`…), or null for the top level. */
  readonly command: string | null;

  constructor(message: string, command: string | null = null) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** Where a command writes: `process.stdout`/`process.stderr`, or a collector in tests. */
export interface Writer {
  write(chunk: string): unknown;
}

/** The output streams of a command. */
export interface CommandIO {
  readonly stdout: Writer;
  readonly stderr: Writer;
}

/** The process's own streams. */
export const processIO: CommandIO = { stdout: process.stdout, stderr: process.stderr };

/** One flag of a command: its `parseArgs` description. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
}

/** Flags and positionals as parsed. */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
  /** True when `-h`/`--help` was given: the command prints its usage and exits 0. */
  readonly help: boolean;
}

/**
 * Parses `argv` strictly: unknown flags, missing values and (unless
 * `maxPositionals` allows them) positionals are usage errors. `--help`/`-h`
 * is always accepted.
 *
 * @throws UsageError naming the offending flag or argument
 */
export function parseCommandArgs(command: string, argv: readonly string[], flags: Readonly<Record<string, FlagSpec>>, maxPositionals = 0): ParsedArgs {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...flags, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }) as { values: Record<string, unknown>; positionals: string[] };
  } catch (err) {
    throw new UsageError(parseArgsMessage(err, Object.keys(flags)), command);
  }
  const help = parsed.values['help'] === true;
  if (!help && parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`, command);
  }
  const values = { ...parsed.values } as ParsedArgs['values'];
  delete values['help'];
  return { values, positionals: parsed.positionals, help };
}

/**
 * `parseArgs`' error, without its advice to use `--` (tidemark commands take
 * no such arguments), and with the closest known flag for an unknown one.
 */
export function parseArgsMessage(err: unknown, known: readonly string[] = []): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('. To specify a positional argument')[0]!;
  const unknown = /^Unknown option '([^']+)'/.exec(first);
  if (unknown !== null) return unknownFlagMessage(unknown[1]!, known);
  const missing = /^Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument missing/.exec(first);
  if (missing !== null) return `flag ${missing[1]} needs a value`;
  const ambiguous = /^Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(first);
  if (ambiguous !== null) return `flag ${ambiguous[1]} needs a value (write ${ambiguous[1]}=VALUE for a value starting with '-')`;
  const boolean = /^Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(first);
  if (boolean !== null) return `flag ${boolean[1]} takes no value`;
  return first;
}

/** `unknown flag '--watermarks'; did you mean '--watermark'?` (the flag as typed, `=value` left out). */
export function unknownFlagMessage(flag: string, known: readonly string[]): string {
  const name = flag.replace(/=.*$/, '');
  const hit = name.startsWith('--') ? closestName(name.slice(2), [...known, 'help']) : null;
  return `unknown flag '${name}'${hit === null ? '' : `; did you mean '--${hit}'?`}`;
}

/** A string flag's value, or undefined when absent. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A required string flag's value.
 *
 * @throws UsageError `missing required flag --NAME`
 */
export function requiredFlag(command: string, args: ParsedArgs, name: string): string {
  const v = stringFlag(args, name);
  if (v === undefined) throw new UsageError(`missing required flag --${name}`, command);
  if (v.length === 0) throw new UsageError(`flag --${name} needs a non-empty value`, command);
  return v;
}

/** A boolean flag: true when given. */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** The values of a repeatable string flag, each split on commas, trimmed, empty parts dropped. */
export function listFlag(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  const raw = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  return raw.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * An integer flag (`--files 10`), or `fallback` when absent. Range checks are
 * left to the library, which refuses bad values with its own errors.
 *
 * @throws UsageError when the value is not a decimal integer
 */
export function integerFlag(command: string, args: ParsedArgs, name: string, fallback?: number): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  if (!/^\s*[+-]?\d+\s*$/.test(v)) throw new UsageError(`--${name}: '${v}' is not an integer; write e.g. --${name} 10`, command);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`flag --${name} is out of range: ${v}`, command);
  return n;
}

/**
 * `show()`'s `truncate` as a flag: `true`/`false` (case-insensitive, as
 * Python's bool) or a number of characters.
 *
 * @throws UsageError for anything else
 */
export function truncateFlag(command: string, args: ParsedArgs, name: string): boolean | number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  const lower = v.trim().toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (/^\d+$/.test(lower)) return Number(lower);
  throw new UsageError(`flag --${name} needs true, false or a number of characters, got '${v}'`, command);
}

/**
 * One of a fixed set of values (case-insensitive, returned as listed).
 *
 * @throws UsageError listing the allowed values
 */
export function choiceFlag<T extends string>(command: string, args: ParsedArgs, name: string, choices: readonly T[]): T | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  const hit = choices.find((c) => c.toLowerCase() === v.trim().toLowerCase());
  if (hit === undefined) {
    const close = closestName(v.trim(), choices);
    const list = choices.length === 2 ? choices.join(' or ') : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
    throw new UsageError(`--${name}: '${v}' is not one of ${list}${close === null ? '' : `; did you mean '${close}'?`}`, command);
  }
  return hit;
}

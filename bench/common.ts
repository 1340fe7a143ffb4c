/**
 * Shared by the benchmark scripts: paths, flags, and the one result every
 * scenario computes — event counts per (action, window start).
 *
 * The bench is compiled with `tsconfig.bench.json` to `dist-bench/` and
 * measures the built library in `dist/` (imported by the package's own name,
 * `tidemark`, as a user would).
 *
 * @module
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The project root (`dist-bench/common.js` → `..`). */
export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The compiled bench. */
export const DIST_BENCH = join(ROOT, 'dist-bench');
/** The `tidemark` command, as built. */
export const CLI = join(ROOT, 'dist', 'cli.js');

/** The URL of a built module of the library (`core/ddl.js`): benchmarks load the core by path, outside the package's entry. */
export function distModuleUrl(path: string): string {
  return pathToFileURL(join(ROOT, 'dist', path)).href;
}
/** Data sets, scratch directories: git-ignored. */
export const DATA_ROOT = join(ROOT, 'bench', 'data');
/** Where `npm run bench` writes its JSON results. */
export const RESULTS_DIR = join(ROOT, 'bench', 'results');

/** Defaults of the data set: the 10 M events. */
export const DATA_DEFAULTS = { files: 50, lines: 200_000, seed: 1 } as const;

/** The notebook's tumbling window and the sliding variant, in seconds. */
export const WINDOW_SECONDS = 3600;
export const SLIDE_SECONDS = 600;

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(resolve(script)).href === url;
}

/** Parses `--name value` flags (and booleans) with node's parseArgs; positionals are allowed. */
export function flags<T extends Record<string, { type: 'string' | 'boolean' }>>(argv: readonly string[], spec: T) {
  return parseArgs({ args: [...argv], options: spec, allowPositionals: true, strict: true });
}

/** A positive integer flag, or its default. */
export function intFlag(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${String(value)}'`);
  return n;
}

/** The data files of a data set directory (`part-NNNNN.json`), in name order. */
export async function dataFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => /^part-\d+\.json$/.test(n)).sort();
  return names.map((n) => join(dir, n));
}

/** Counts by `action \t windowStartSeconds`. */
export type Counts = Map<string, number>;

/** The key of a count. */
export function countKey(action: string, windowStartSeconds: number): string {
  return `${action}\t${windowStartSeconds}`;
}

/** Counts as JSON: `[[action, windowStartSeconds, count], …]`, sorted. */
export function countsToJson(counts: Counts): Array<[string, number, number]> {
  const rows: Array<[string, number, number]> = [];
  for (const [key, n] of counts) {
    const tab = key.indexOf('\t');
    rows.push([key.slice(0, tab), Number(key.slice(tab + 1)), n]);
  }
  rows.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return rows;
}

/** Inverse of {@link countsToJson}. */
export function countsFromJson(rows: ReadonlyArray<readonly [string, number, number]>): Counts {
  const counts: Counts = new Map();
  for (const [action, start, n] of rows) counts.set(countKey(action, start), (counts.get(countKey(action, start)) ?? 0) + n);
  return counts;
}

/** What a scenario program prints on stdout (one JSON line). */
export interface ScenarioOutput {
  /** Events it saw. */
  readonly events: number;
  /** Bytes it read. */
  readonly bytes: number;
  /** Counts per (action, 1-hour window start); null for a scenario that only reads bytes. */
  readonly counts: Array<[string, number, number]> | null;
}

/** Prints a scenario's result on stdout (synchronously enough: the runner reads it after exit). */
export function printScenarioOutput(output: ScenarioOutput): void {
  process.stdout.write(JSON.stringify(output) + '\n');
}

/** How two count tables differ. */
export interface CountsDiff {
  readonly equal: boolean;
  readonly expectedGroups: number;
  readonly actualGroups: number;
  readonly expectedTotal: number;
  readonly actualTotal: number;
  /** Groups whose counts differ (missing or extra groups included), with the first few shown. */
  readonly differing: number;
  readonly examples: string[];
}

/** Compares `actual` with `expected`, group by group. */
export function diffCounts(expected: Counts, actual: Counts): CountsDiff {
  let differing = 0;
  const examples: string[] = [];
  const note = (key: string, e: number | undefined, a: number | undefined): void => {
    differing++;
    if (examples.length < 5) {
      const [action, start] = key.split('\t');
      examples.push(`${action} @ ${new Date(Number(start) * 1000).toISOString()}: expected ${e ?? 'none'}, got ${a ?? 'none'}`);
    }
  };
  for (const [key, e] of expected) {
    const a = actual.get(key);
    if (a !== e) note(key, e, a);
  }
  for (const [key, a] of actual) if (!expected.has(key)) note(key, undefined, a);
  const sum = (c: Counts): number => {
    let s = 0;
    for (const n of c.values()) s += n;
    return s;
  };
  return {
    equal: differing === 0,
    expectedGroups: expected.size,
    actualGroups: actual.size,
    expectedTotal: sum(expected),
    actualTotal: sum(actual),
    differing,
    examples,
  };
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (nearest rank), 0 < p ≤ 100. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** An integer flag that may be negative or zero (the data set's seed), or its default. */
export function seedFlag(value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isSafeInteger(n)) throw new Error(`--seed must be an integer, got '${String(value)}'`);
  return n;
}

/** A directory name for a data set configuration: `f50-l200000-s1`. */
export function dataSetName(o: { files: number; lines: number; seed: number }): string {
  return `f${o.files}-l${o.lines}-s${o.seed}`;
}

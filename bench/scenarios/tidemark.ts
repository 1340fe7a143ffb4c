/**
 * Scenarios `tidemark` and `tidemark-sliding`: the notebook's query with the
 * `tidemark run` command, exactly as a user runs it — file source, JSON sink,
 * checkpoint on, 10 files per micro-batch, a 2-hour watermark, drained at the
 * end so every window is emitted:
 *
 * ```
 * tidemark run --input DIR --schema "time timestamp, action string" --group-by action
 *   --window "1 hour" [--slide "10 minutes"] --watermark "2 hours" --output-mode append
 *   --checkpoint CK --output OUT --trigger available-now --max-files-per-trigger 10 --drain
 * ```
 *
 * The runner spawns `node dist/cli.js run …` itself (so wall time and peak
 * RSS are the command's), with a fresh checkpoint and output directory per
 * run, then reads the committed output back with `readCommittedJsonLines`.
 *
 * @module
 */
import { join } from 'node:path';
import { readCommittedJsonLines } from 'tidemark';
import { CLI, countKey, type Counts } from '../common.js';

/** The `node` arguments of one run (`cli`: the built `cli.js` to run, `dist/cli.js` by default). */
export function tidemarkArgs(dataDir: string, runDir: string, options: { slide?: string; cli?: string; agg?: string } = {}): string[] {
  return [
    options.cli ?? CLI,
    'run',
    '--input', dataDir,
    '--schema', 'time timestamp, action string',
    '--group-by', 'action',
    '--window', '1 hour',
    ...(options.slide === undefined ? [] : ['--slide', options.slide]),
    ...(options.agg === undefined ? [] : ['--agg', options.agg]),
    '--watermark', '2 hours',
    '--output-mode', 'append',
    '--checkpoint', join(runDir, 'checkpoint'),
    '--output', join(runDir, 'output'),
    '--trigger', 'available-now',
    '--max-files-per-trigger', '10',
    '--drain',
  ];
}

/** What a run wrote, read back as Spark's readers see it. */
export interface TidemarkOutput {
  readonly counts: Counts;
  readonly events: number;
  /** Rows of a group already seen (append mode emits a group once: must be 0). */
  readonly duplicates: number;
  /** Rows whose window is not `windowSeconds` long or is malformed (must be 0). */
  readonly badRows: number;
  readonly rows: number;
}

/** Reads the committed JSON output of a run: `{"action":…,"window":{"start":…,"end":…},"count":N}` lines. */
export async function readTidemarkOutput(outputDir: string, windowSeconds: number): Promise<TidemarkOutput> {
  const counts: Counts = new Map();
  let events = 0;
  let duplicates = 0;
  let badRows = 0;
  let rows = 0;
  for await (const { text } of readCommittedJsonLines(outputDir)) {
    if (text.length === 0) continue;
    rows++;
    const row = JSON.parse(text) as { action?: unknown; window?: { start?: unknown; end?: unknown }; count?: unknown };
    const start = typeof row.window?.start === 'string' ? Date.parse(row.window.start) : NaN;
    const end = typeof row.window?.end === 'string' ? Date.parse(row.window.end) : NaN;
    if (typeof row.action !== 'string' || typeof row.count !== 'number' || !Number.isFinite(start) || end - start !== windowSeconds * 1000) {
      badRows++;
      continue;
    }
    const key = countKey(row.action, start / 1000);
    if (counts.has(key)) duplicates++;
    counts.set(key, (counts.get(key) ?? 0) + row.count);
    events += row.count;
  }
  return { counts, events, duplicates, badRows, rows };
}

/**
 * The benchmark's data set: `tidemark gen` output (default 50 files ×
 * 200,000 lines, seed 1, ≈ 370 MB) in `bench/data/f<files>-l<lines>-s<seed>/`
 * (git-ignored), generated once and reused while its manifest matches.
 *
 * The manifest (`_bench.json`, hidden from tidemark's file source by its `_`
 * and not matched by `part-*.json`) records the files' sizes and the
 * reference counts per (action, 10-minute pane), from which the expected
 * tumbling (1 hour) and sliding (1 hour every 10 minutes) window counts are
 * derived.
 *
 * Run alone: `node dist-bench/data.js [--files N] [--lines N] [--seed N]`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLI,
  DATA_DEFAULTS,
  DATA_ROOT,
  SLIDE_SECONDS,
  WINDOW_SECONDS,
  countKey,
  countsFromJson,
  countsToJson,
  dataFiles,
  dataSetName,
  flags,
  intFlag,
  isMain,
  seedFlag,
  type Counts,
} from './common.js';

const MANIFEST = '_bench.json';
const MANIFEST_VERSION = 1;

/** A data set ready for the scenarios. */
export interface DataSet {
  readonly dir: string;
  readonly files: readonly string[];
  readonly filesCount: number;
  readonly lines: number;
  readonly seed: number;
  readonly events: number;
  readonly bytes: number;
  /** Counts per (action, 10-minute pane start), from reading every line with JSON.parse. */
  readonly panes: Counts;
}

interface Manifest {
  readonly version: number;
  readonly files: number;
  readonly lines: number;
  readonly seed: number;
  readonly sizes: number[];
  readonly paneSeconds: number;
  readonly panes: Array<[string, number, number]>;
}

async function readManifest(dir: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

async function manifestMatches(dir: string, m: Manifest | null, o: { files: number; lines: number; seed: number }): Promise<boolean> {
  if (m === null || m.version !== MANIFEST_VERSION || m.files !== o.files || m.lines !== o.lines || m.seed !== o.seed || m.paneSeconds !== SLIDE_SECONDS) return false;
  const files = await dataFiles(dir);
  if (files.length !== o.files) return false;
  for (let i = 0; i < files.length; i++) if ((await stat(files[i]!)).size !== m.sizes[i]) return false;
  return true;
}

/** Counts per (action, pane) of every line of `files`, the plain way. */
async function countPanes(files: readonly string[]): Promise<{ panes: Counts; events: number }> {
  const panes: Counts = new Map();
  let events = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      const e = JSON.parse(line) as { time: number; action: string };
      const key = countKey(e.action, Math.floor(e.time / SLIDE_SECONDS) * SLIDE_SECONDS);
      panes.set(key, (panes.get(key) ?? 0) + 1);
      events++;
    }
  }
  return { panes, events };
}

/**
 * Makes sure the data set exists (generating it with `tidemark gen` when its
 * manifest is missing or does not match the files), and returns it.
 */
export async function ensureDataSet(options: { files?: number; lines?: number; seed?: number; log?: (line: string) => void } = {}): Promise<DataSet> {
  const o = { files: options.files ?? DATA_DEFAULTS.files, lines: options.lines ?? DATA_DEFAULTS.lines, seed: options.seed ?? DATA_DEFAULTS.seed };
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const dir = join(DATA_ROOT, dataSetName(o));
  let manifest = await readManifest(dir);
  if (!(await manifestMatches(dir, manifest, o))) {
    log(`data: generating ${o.files} files × ${o.lines} lines (seed ${o.seed}) in ${dir} with tidemark gen…`);
    await rm(dir, { recursive: true, force: true });
    const gen = spawnSync(process.execPath, [CLI, 'gen', dir, '--files', String(o.files), '--lines', String(o.lines), '--seed', String(o.seed)], {
      encoding: 'utf8',
    });
    if (gen.status !== 0) throw new Error(`tidemark gen failed (status ${gen.status}): ${gen.stderr}`);
    log(`data: ${gen.stdout.trim()}`);
    const files = await dataFiles(dir);
    const sizes: number[] = [];
    for (const f of files) sizes.push((await stat(f)).size);
    log('data: computing reference counts…');
    const { panes, events } = await countPanes(files);
    if (events !== o.files * o.lines) throw new Error(`data: expected ${o.files * o.lines} events, read ${events}`);
    manifest = { version: MANIFEST_VERSION, ...o, sizes, paneSeconds: SLIDE_SECONDS, panes: countsToJson(panes) };
    await writeFile(join(dir, MANIFEST), JSON.stringify(manifest));
  }
  const m = manifest!;
  return {
    dir,
    files: await dataFiles(dir),
    filesCount: o.files,
    lines: o.lines,
    seed: o.seed,
    events: o.files * o.lines,
    bytes: m.sizes.reduce((a, b) => a + b, 0),
    panes: countsFromJson(m.panes),
  };
}

/** Reads every file once so the page cache holds them; returns the time it took (ms). */
export async function warmPageCache(files: readonly string[]): Promise<number> {
  const started = performance.now();
  const buf = Buffer.allocUnsafe(1 << 22);
  for (const file of files) {
    const fh = await open(file, 'r');
    try {
      while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0);
    } finally {
      await fh.close();
    }
  }
  return performance.now() - started;
}

/** The notebook's counts (tumbling 1-hour windows) from the pane counts. */
export function expectedTumbling(panes: Counts): Counts {
  const out: Counts = new Map();
  for (const [key, n] of panes) {
    const [action, pane] = key.split('\t') as [string, string];
    const k = countKey(action, Math.floor(Number(pane) / WINDOW_SECONDS) * WINDOW_SECONDS);
    out.set(k, (out.get(k) ?? 0) + n);
  }
  return out;
}

/**
 * Sliding counts (1-hour windows every 10 minutes, Spark's
 * `window(time, "1 hour", "10 minutes")`): a pane belongs to the 6 windows
 * starting at it and at the 5 slides before it.
 */
export function expectedSliding(panes: Counts): Counts {
  const out: Counts = new Map();
  const perWindow = WINDOW_SECONDS / SLIDE_SECONDS;
  for (const [key, n] of panes) {
    const [action, pane] = key.split('\t') as [string, string];
    for (let k = 0; k < perWindow; k++) {
      const w = countKey(action, Number(pane) - k * SLIDE_SECONDS);
      out.set(w, (out.get(w) ?? 0) + n);
    }
  }
  return out;
}

if (isMain(import.meta.url)) {
  const { values } = flags(process.argv.slice(2), { files: { type: 'string' }, lines: { type: 'string' }, seed: { type: 'string' } });
  const data = await ensureDataSet({
    files: intFlag(values.files, 'files', DATA_DEFAULTS.files),
    lines: intFlag(values.lines, 'lines', DATA_DEFAULTS.lines),
    seed: seedFlag(values.seed, DATA_DEFAULTS.seed),
  });
  const ms = await warmPageCache(data.files);
  process.stdout.write(`${data.dir}: ${data.files.length} files, ${data.events} events, ${data.bytes} bytes; read all in ${ms.toFixed(0)} ms\n`);
}

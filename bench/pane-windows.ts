/**
 * Issue 16 §3: what turning a chunk's pane groups into the sliding windows
 * they lie in costs a chunk worker (`PaneWindows.expand`), apart from
 * scanning. The panes are those the notebook's sliding query counts (1 hour
 * every 10 minutes): the first data file read in line-aligned 1 MiB chunks
 * as `FileSource` cuts them, each chunk's (10-minute pane, action) counts.
 *
 * Prints the median over `--rounds` rounds (each `--reps` passes over the
 * chunks) in µs per chunk, and the first round's. With `--baseline DIR`, the
 * same for `DIR/dist/core/pane-windows.js` (another checkout, built), in
 * alternate rounds, after checking that both give the same windows, keys and
 * counts for every chunk.
 *
 * `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/pane-windows.js [--file F] [--baseline DIR] [--rounds 12] [--reps 20]`
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DATA_DEFAULTS, DATA_ROOT, ROOT, dataSetName, distModuleUrl, flags, intFlag, isMain, median } from './common.js';
import { chunksOf } from './scan-cost.js';

// The library's core is not part of the package's public entry: load the
// built modules by path (types declared here to keep `lib/` out of this program).
interface Groups {
  readonly length: number;
  readonly slotStarts: Float64Array;
  readonly keys: ReadonlyArray<string | null> | null;
  readonly partial: ReadonlyArray<{ readonly values: ArrayLike<number> }>;
}
interface Expander {
  expand(panes: Groups): Groups;
}
type ExpanderClass = new (store: unknown, panesPerWindow: number, slideUs: number) => Expander;

const SLIDE_US = 600e6;
const PANES_PER_WINDOW = 6;
const STORE = { kind: 'count', name: 'count' };

/** The pane groups of each 1 MiB chunk of `file`, as a chunk worker has them before expanding. */
async function panesOf(file: string): Promise<Groups[]> {
  const { ChunkAggregator } = (await import(distModuleUrl('core/chunk-aggregator.js'))) as { ChunkAggregator: new (config: unknown) => { read(bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, batchTimestampMs: number): { groups: Groups } } };
  const { parseDDL } = (await import(distModuleUrl('core/ddl.js'))) as { parseDDL(text: string): unknown };
  const reader = { schema: parseDDL('time timestamp, action string'), mode: 'PERMISSIVE', columnNameOfCorruptRecord: '_corrupt_record', timeZone: 'UTC', maxEventTimeAhead: null };
  // One pane per window: the groups are the panes themselves.
  const aggregator = new ChunkAggregator({ reader, plan: { timeIndex: 0, keyIndex: 1, slideUs: SLIDE_US, startTimeUs: 0, store: STORE, panesPerWindow: 1 } });
  return chunksOf(readFileSync(file)).map((chunk, i) => aggregator.read(chunk, file, i === 0, Infinity, 0).groups);
}

async function expanderFrom(dist: string): Promise<Expander> {
  const { PaneWindows } = (await import(pathToFileURL(join(dist, 'core', 'pane-windows.js')).href)) as { PaneWindows: ExpanderClass };
  const { createAggregateStore } = (await import(pathToFileURL(join(dist, 'core', 'partial-aggregate.js')).href)) as { createAggregateStore(store: unknown): unknown };
  return new PaneWindows(createAggregateStore(STORE), PANES_PER_WINDOW, SLIDE_US);
}

function sameWindows(a: Groups, b: Groups): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a.slotStarts[i] !== b.slotStarts[i] || a.keys?.[i] !== b.keys?.[i] || a.partial[0]!.values[i] !== b.partial[0]!.values[i]) return false;
  }
  return true;
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = flags(argv, { file: { type: 'string' }, baseline: { type: 'string' }, rounds: { type: 'string' }, reps: { type: 'string' } });
  const file = values.file ?? join(DATA_ROOT, dataSetName(DATA_DEFAULTS), 'part-00000.json');
  const rounds = intFlag(values.rounds, 'rounds', 12);
  const reps = intFlag(values.reps, 'reps', 20);
  const panes = await panesOf(file);
  const cases: Array<{ name: string; expander: Expander; us: number[] }> = [{ name: 'this build', expander: await expanderFrom(join(ROOT, 'dist')), us: [] }];
  if (typeof values.baseline === 'string') {
    const baseline = await expanderFrom(join(resolve(values.baseline), 'dist'));
    for (const chunk of panes) {
      if (!sameWindows(cases[0]!.expander.expand(chunk), baseline.expand(chunk))) throw new Error('the baseline expands a chunk into other windows');
    }
    cases.push({ name: 'baseline', expander: baseline, us: [] });
  }
  for (let round = 0; round < rounds; round++) {
    for (const c of round % 2 === 0 ? cases : [...cases].reverse()) {
      const started = performance.now();
      for (let rep = 0; rep < reps; rep++) for (const chunk of panes) c.expander.expand(chunk);
      c.us.push(((performance.now() - started) * 1000) / (reps * panes.length));
    }
  }
  const groups = panes.reduce((sum, p) => sum + p.length, 0) / panes.length;
  console.log(`${panes.length} chunks of ${file}, ${groups.toFixed(0)} pane groups each on average, ${PANES_PER_WINDOW} panes a window`);
  for (const c of cases) console.log(`${c.name.padEnd(10)}  median ${median(c.us).toFixed(1)} µs a chunk, first round ${c.us[0]!.toFixed(1)}`);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));

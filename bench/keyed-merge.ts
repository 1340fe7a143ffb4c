/**
 * Issue 16: what the keyed state costs the main thread to merge a
 * `ChunkAggregate`'s partial rows, per (key, window) row it touches, apart
 * from scanning, I/O and the sinks.
 *
 * The partial rows are those the notebook's query sends: each chunk holds 45
 * ten-minute panes × 4 actions, one count each, and the chunks follow one
 * another in event time; 5 micro-batches of 74 chunks, the watermark two
 * hours behind. Two cases, taking turns:
 *
 * - `windows`: 1-hour tumbling windows' worth of rows (the pane column read as
 *   the window), one group touched per partial row;
 * - `panes`: the same rows as panes of a 1-hour window sliding every 10
 *   minutes, which the keyed state expands into 6 windows each.
 *
 * Printed per case: the median over `--runs` runs of the whole batch loop
 * (add, finish, output, end) in ns per (key, window) row touched, and of
 * `addPartial` alone.
 *
 * `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/keyed-merge.js [--runs 7]`
 *
 * @module
 */
import { SLIDE_SECONDS, WINDOW_SECONDS, distModuleUrl, flags, intFlag, isMain, median } from './common.js';

// The library's core is not part of the package's public entry: load the
// built modules by path (types declared here to keep `lib/` out of this program).
type Column = Record<string, unknown>;
interface Aggregation {
  readonly size: number;
  beginBatch(watermarkMs: number, lateWatermarkMs: number): void;
  addPartial(groupColumns: readonly Column[], partial: readonly Column[], length: number): void;
  finishBatch(): { emitted: Int32Array };
  output(slots: Int32Array, from: number, to: number): unknown[];
  endBatch(): void;
}
interface Modules {
  KeyedAggregation: new (options: Record<string, unknown>) => Aggregation;
  CountStore: new () => unknown;
  parseDDL(text: string): { fields: unknown[] };
  StringDictionary: new () => { intern(text: string): number };
}

const US = 1_000_000;
const SLIDE_US = SLIDE_SECONDS * US;
const HOUR_US = WINDOW_SECONDS * US;
const FIRST_PANE_S = 1_469_500_800;
const PANES_PER_CHUNK = 45;
const ACTIONS = ['Open', 'Close', 'Click', 'Scroll'];
const CHUNKS_PER_BATCH = 74;
const BATCHES = 5;

async function load(): Promise<Modules> {
  const [keyed, count, ddl, batch] = await Promise.all(['core/keyed-aggregation.js', 'core/count-store.js', 'core/ddl.js', 'core/batch.js'].map((path) => import(distModuleUrl(path))));
  return { KeyedAggregation: keyed.KeyedAggregation, CountStore: count.CountStore, parseDDL: ddl.parseDDL, StringDictionary: batch.StringDictionary };
}

interface Chunk {
  readonly groups: Column[];
  readonly partial: Column[];
  readonly length: number;
}

function chunks(m: Modules): Chunk[] {
  const dictionary = new m.StringDictionary();
  for (const action of ACTIONS) dictionary.intern(action);
  return Array.from({ length: CHUNKS_PER_BATCH * BATCHES }, (_, c) => {
    const length = PANES_PER_CHUNK * ACTIONS.length;
    const ids = new Int32Array(length);
    const starts = new Float64Array(length);
    const ends = new Float64Array(length);
    const counts = new Float64Array(length).fill(150);
    for (let i = 0; i < length; i++) {
      ids[i] = i % ACTIONS.length;
      starts[i] = FIRST_PANE_S * US + (c * PANES_PER_CHUNK + Math.floor(i / ACTIONS.length)) * SLIDE_US;
      ends[i] = starts[i]! + SLIDE_US;
    }
    const window = { kind: 'struct', children: [{ kind: 'f64', values: starts, nulls: null }, { kind: 'f64', values: ends, nulls: null }], nulls: null };
    return { groups: [{ kind: 'dict', ids, dictionary }, window], partial: [{ kind: 'f64', values: counts, nulls: null }], length };
  });
}

/** One run of every batch; returns [whole ms, addPartial ms]. */
function run(m: Modules, input: readonly Chunk[], panes: boolean): [number, number] {
  const aggregation = new m.KeyedAggregation({
    keyFields: m.parseDDL('action string, window struct<start: timestamp, end: timestamp>').fields,
    outputMode: 'append',
    eventTimeColumn: 1,
    store: new m.CountStore(),
    panes: panes ? { column: 1, durationUs: HOUR_US, slideUs: SLIDE_US } : null,
  });
  let watermarkMs = 0;
  let addMs = 0;
  const started = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    aggregation.beginBatch(watermarkMs, watermarkMs);
    const adding = performance.now();
    for (const chunk of input.slice(b * CHUNKS_PER_BATCH, (b + 1) * CHUNKS_PER_BATCH)) aggregation.addPartial(chunk.groups, chunk.partial, chunk.length);
    addMs += performance.now() - adding;
    const outcome = aggregation.finishBatch();
    aggregation.output(outcome.emitted, 0, outcome.emitted.length);
    aggregation.endBatch();
    // Two hours behind the batch's last pane, in ms.
    watermarkMs = (FIRST_PANE_S + ((b + 1) * CHUNKS_PER_BATCH * PANES_PER_CHUNK * SLIDE_US) / US - 7200) * 1000;
  }
  return [performance.now() - started, addMs];
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = flags(argv, { runs: { type: 'string' } });
  const runs = intFlag(values.runs, 'runs', 7);
  const m = await load();
  const input = chunks(m);
  const partialRows = input.reduce((n, c) => n + c.length, 0);
  const cases = [
    { name: 'windows', panes: false, touched: partialRows },
    { name: 'panes (6 windows each)', panes: true, touched: partialRows * 6 },
  ];
  const times = cases.map(() => ({ whole: [] as number[], add: [] as number[] }));
  // One warm-up round, then the cases take turns.
  for (const c of cases) run(m, input, c.panes);
  for (let r = 0; r < runs; r++) {
    cases.forEach((c, k) => {
      const [whole, add] = run(m, input, c.panes);
      times[k]!.whole.push((whole * 1e6) / c.touched);
      times[k]!.add.push((add * 1e6) / c.touched);
    });
  }
  process.stdout.write(`${partialRows} partial rows in ${BATCHES} batches, median of ${runs} interleaved runs, ns per (key, window) row touched\n`);
  process.stdout.write(`    whole  addPartial  case\n`);
  cases.forEach((c, k) => process.stdout.write(`${median(times[k]!.whole).toFixed(0).padStart(9)}  ${median(times[k]!.add).toFixed(0).padStart(10)}  ${c.name}\n`));
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));

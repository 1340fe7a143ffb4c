/**
 * Issue 12/16: what `AggregateBuffers.accumulate` costs per row, beside the
 * count the keyed state keeps today (a `+= 1` into a Float64Array per group).
 *
 * Synthetic IoT rows, generated in memory (no I/O, no parsing): a slot per
 * row among `--groups` groups (runs of equal slots, as rows of one device
 * and window arrive together), a `temperature` double with 5 % nulls.
 * Rows go in batches of `--batch` rows, as micro-batches hand them over.
 * Each case runs `--runs` times over all `--rows` rows, the cases taking
 * turns; printed: the median ns per row, and the median of the per-run
 * ratios to the baseline:
 *
 * - `baseline Float64Array count`: `counts[slot] += 1` per row, the cost
 *   the buffers' count must not exceed;
 * - `count`: `AggregateBuffers` with `count` alone;
 * - `count, avg(temperature), max(temperature)`;
 * - `count, sum(value), min(value), max(value)` on a bigint column (the
 *   exact two-tier integral sum).
 *
 * `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/aggregate-buffers.js [--rows 10000000] [--groups 4000] [--batch 65536] [--runs 5] [--json]`
 *
 * @module
 */
import { distModuleUrl, flags, intFlag, isMain, median } from './common.js';

// The library's core is not part of the package's public entry: load the
// built module by path (types declared here to keep `lib/` out of this program).
interface Column {
  readonly kind: string;
}
interface Buffers {
  ensureCapacity(slots: number): void;
  accumulate(slots: Int32Array, length: number, input: readonly Column[], weights: Float64Array | null): void;
}
interface AggregatesModule {
  parseAggregates(text: string): unknown[];
  resolveAggregates(specs: unknown[], input: { fields: unknown[] }): unknown[];
  AggregateBuffers: new (aggregates: unknown[]) => Buffers;
}

const SCHEMA = {
  fields: [
    { name: 'temperature', dataType: { type: 'double' }, nullable: true },
    { name: 'value', dataType: { type: 'long' }, nullable: true },
  ],
};

/** One measured case: returns a function that processes all rows once. */
type Case = { readonly name: string; readonly prepare: () => () => void };

interface Data {
  readonly slots: Int32Array;
  readonly temperature: Float64Array;
  readonly value: Float64Array;
  readonly nulls: Uint8Array;
}

function makeData(rows: number, groups: number): Data {
  const slots = new Int32Array(rows);
  const temperature = new Float64Array(rows);
  const value = new Float64Array(rows);
  const nulls = new Uint8Array(rows);
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed / 4_294_967_296;
  };
  let slot = 0;
  for (let i = 0; i < rows; i++) {
    // Runs of 1-8 rows on one group.
    if ((i & 7) === 0 || random() < 0.2) slot = Math.floor(random() * groups);
    slots[i] = slot;
    temperature[i] = Math.round((15 + random() * 15) * 8) / 8;
    value[i] = Math.floor(random() * 1_000_000);
    if (random() < 0.05) nulls[i] = 1;
  }
  return { slots, temperature, value, nulls };
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = flags(argv, {
    rows: { type: 'string' },
    groups: { type: 'string' },
    batch: { type: 'string' },
    runs: { type: 'string' },
    json: { type: 'boolean' },
  });
  const rows = intFlag(values.rows, 'rows', 10_000_000);
  const groups = intFlag(values.groups, 'groups', 4000);
  const batch = intFlag(values.batch, 'batch', 65_536);
  const runs = intFlag(values.runs, 'runs', 5);
  const mod = (await import(distModuleUrl('core/aggregates.js'))) as AggregatesModule;
  const data = makeData(rows, groups);

  const buffersCase = (name: string, aggregates: string): Case => ({
    name,
    prepare: () => {
      const buffers = new mod.AggregateBuffers(mod.resolveAggregates(mod.parseAggregates(aggregates), SCHEMA));
      buffers.ensureCapacity(groups);
      return () => {
        for (let from = 0; from < rows; from += batch) {
          const to = Math.min(rows, from + batch);
          const input: Column[] = [
            { kind: 'f64', values: data.temperature.subarray(from, to), nulls: data.nulls.subarray(from, to) } as Column,
            { kind: 'f64', values: data.value.subarray(from, to), nulls: data.nulls.subarray(from, to) } as Column,
          ];
          buffers.accumulate(data.slots.subarray(from, to), to - from, input, null);
        }
      };
    },
  });
  const cases: Case[] = [
    {
      name: 'baseline Float64Array count',
      prepare: () => {
        const counts = new Float64Array(groups);
        return () => {
          for (let from = 0; from < rows; from += batch) {
            const to = Math.min(rows, from + batch);
            const slots = data.slots.subarray(from, to);
            for (let i = 0; i < slots.length; i++) counts[slots[i]!]++;
          }
        };
      },
    },
    buffersCase('count', 'count'),
    buffersCase('count, avg(temperature), max(temperature)', 'count, avg(temperature), max(temperature)'),
    buffersCase('count, sum(value), min(value), max(value)', 'count, sum(value), min(value), max(value)'),
  ];

  // Cases take turns within each run, so a load change on a shared machine hits them alike;
  // each case is also reported as the median of its per-run ratios to the baseline.
  const runners = cases.map((c) => c.prepare());
  for (const run of runners) run(); // warm-up: compile the loops
  const times: number[][] = cases.map(() => []);
  for (let r = 0; r < runs; r++) {
    runners.forEach((run, k) => {
      const start = process.hrtime.bigint();
      run();
      times[k]!.push(Number(process.hrtime.bigint() - start) / rows);
    });
  }
  const results = cases.map((c, k) => ({
    name: c.name,
    nsPerRow: median(times[k]!),
    vsBaseline: median(times[k]!.map((ns, r) => ns / times[0]![r]!)),
    runsNs: times[k]!,
  }));
  if (values.json === true) {
    process.stdout.write(JSON.stringify({ rows, groups, batch, runs, results }) + '\n');
    return;
  }
  process.stdout.write(`${rows} rows, ${groups} groups, batches of ${batch}, median of ${runs} interleaved runs\n`);
  process.stdout.write(`   ns/row  × baseline  case   [ns/row of each run]\n`);
  for (const r of results) {
    process.stdout.write(`${r.nsPerRow.toFixed(2).padStart(9)}  ${r.vsBaseline.toFixed(2).padStart(9)}  ${r.name}   [${r.runsNs.map((n) => n.toFixed(2)).join(' ')}]\n`);
  }
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));

/**
 * The work a chunk worker does per line, alone: read a data file, cut it in
 * line-aligned 1 MiB chunks as `FileSource` does, and run every chunk
 * through the same call a `ChunkAggregate` worker makes (parse, window,
 * partial aggregate), `--reps` times. Prints lines, groups and ns per line.
 *
 * Wall time here is as noisy as the machine; for figures that do not depend
 * on load, count instructions: run it under callgrind twice with different
 * `--reps` and divide the difference by the extra lines —
 * `node dist-bench/scan-cost.js --callgrind` does exactly that and prints
 * instructions per line.
 *
 * `node dist-bench/scan-cost.js [--file F] [--reps N] [--schema DDL] [--group-by action]
 *   [--aggregates "count"] [--slide-seconds 3600] [--callgrind]`
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DEFAULTS, DATA_ROOT, ROOT, dataSetName, distModuleUrl, flags, intFlag, isMain } from './common.js';

// The library's core is not part of the package's public entry: load the
// built modules by path (types declared here to keep `lib/` out of this program).
interface Schema {
  readonly fields: ReadonlyArray<{ readonly name: string }>;
}
interface ChunkAggregatorLike {
  read(bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, batchTimestampMs: number): { lines: number; groups: { length: number } };
}
interface Modules {
  parseDDL(text: string): Schema;
  parseAggregates(text: string): unknown[];
  resolveAggregates(specs: unknown[], input: Schema): unknown[];
  ChunkAggregator: new (config: unknown) => ChunkAggregatorLike;
}

const CHUNK_BYTES = 1024 * 1024;

/** `bytes` cut after the last newline of each `CHUNK_BYTES` piece, as the file source cuts its reads. */
export function chunksOf(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  while (from < bytes.length) {
    let to = Math.min(bytes.length, from + CHUNK_BYTES);
    if (to < bytes.length) {
      const cut = bytes.lastIndexOf(0x0a, to - 1);
      to = cut < from ? bytes.length : cut + 1;
    }
    out.push(bytes.slice(from, to));
    from = to;
  }
  return out;
}

async function load(): Promise<Modules> {
  const ddl = (await import(distModuleUrl('core/ddl.js'))) as Pick<Modules, 'parseDDL'>;
  const specs = (await import(distModuleUrl('core/aggregate-spec.js'))) as Pick<Modules, 'parseAggregates' | 'resolveAggregates'>;
  const kernel = (await import(distModuleUrl('core/chunk-aggregator.js'))) as Pick<Modules, 'ChunkAggregator'>;
  return { ...ddl, ...specs, ...kernel };
}

interface Options {
  readonly file: string;
  readonly reps: number;
  readonly schema: string;
  readonly groupBy: string | null;
  readonly aggregates: string;
  readonly slideSeconds: number;
  readonly windowSeconds: number;
}

async function run(o: Options): Promise<{ lines: number; groups: number; ns: number; cpuNs: number }> {
  const m = await load();
  const schema = m.parseDDL(o.schema);
  const timeIndex = schema.fields.findIndex((f) => f.name === 'time');
  const keyIndex = o.groupBy === null ? -1 : schema.fields.findIndex((f) => f.name === o.groupBy);
  const store = o.aggregates === 'count' ? { kind: 'count', name: 'count' } : { kind: 'aggregates', aggregates: m.resolveAggregates(m.parseAggregates(o.aggregates), schema) };
  const aggregator = new m.ChunkAggregator({
    reader: { schema, mode: 'PERMISSIVE', columnNameOfCorruptRecord: '_corrupt_record', timeZone: 'UTC', maxEventTimeAhead: null },
    plan: { timeIndex, keyIndex, slideUs: o.slideSeconds * 1e6, startTimeUs: 0, store },
  });
  const chunks = chunksOf(readFileSync(o.file));
  let lines = 0;
  let groups = 0;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let r = 0; r < o.reps; r++) {
    for (let c = 0; c < chunks.length; c++) {
      const reply = aggregator.read(chunks[c]!, o.file, c === 0, Infinity, 0);
      lines += reply.lines;
      groups += reply.groups.length;
    }
  }
  const ns = Number(process.hrtime.bigint() - started);
  const used = process.cpuUsage(cpu);
  return { lines, groups, ns, cpuNs: (used.user + used.system) * 1000 };
}

function callgrind(argv: readonly string[], reps: number): number {
  const args = ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, join(ROOT, 'dist-bench', 'scan-cost.js'), ...argv.filter((a) => a !== '--callgrind'), '--reps', String(reps)];
  const child = spawnSync('valgrind', args, { encoding: 'utf8' });
  const collected = /Collected : (\d+)/.exec(child.stderr);
  if (child.status !== 0 || collected === null) throw new Error(`valgrind failed: ${child.stderr.slice(-2000)}`);
  process.stdout.write(child.stdout);
  return Number(collected[1]);
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = flags(argv, {
    file: { type: 'string' },
    reps: { type: 'string' },
    schema: { type: 'string' },
    'group-by': { type: 'string' },
    aggregates: { type: 'string' },
    'slide-seconds': { type: 'string' },
    callgrind: { type: 'boolean' },
  });
  const options: Options = {
    file: values.file ?? join(DATA_ROOT, dataSetName(DATA_DEFAULTS), 'part-00000.json'),
    reps: intFlag(values.reps, 'reps', 10),
    schema: values.schema ?? 'time timestamp, action string',
    groupBy: values['group-by'] === '' ? null : (values['group-by'] ?? 'action'),
    aggregates: values.aggregates ?? 'count',
    slideSeconds: intFlag(values['slide-seconds'], 'slide-seconds', 3600),
    windowSeconds: 3600,
  };
  if (values.callgrind === true) {
    // Two runs differing only in repetitions: start-up, loading and compiling cancel out.
    const small = callgrind(argv.filter((a, i) => a !== '--reps' && argv[i - 1] !== '--reps'), 2);
    const large = callgrind(argv.filter((a, i) => a !== '--reps' && argv[i - 1] !== '--reps'), 7);
    const lines = (await run({ ...options, reps: 1 })).lines;
    console.log(`callgrind: ${((large - small) / (5 * lines)).toFixed(1)} instructions per line (${large - small} over ${5 * lines} lines)`);
    return;
  }
  const r = await run(options);
  console.log(`lines ${r.lines}, groups ${r.groups}, ${(r.ns / r.lines).toFixed(1)} ns/line wall, ${(r.cpuNs / r.lines).toFixed(1)} ns/line cpu`);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));

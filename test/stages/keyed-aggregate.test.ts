/**
 * KeyedAggregate: Spark's groupBy(...).agg(...) on a stream, row by row and
 * aggregated where the chunks are read (on this thread and on workers),
 * with the same rows, progress and errors either way, also when a restart
 * switches from one to the other.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../../lib/sources/file-source.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedAggregate } from '../../lib/stages/keyed-aggregate.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { Row } from '../../lib/core/batch.js';

const SCHEMA = 'time timestamp, device string, temperature double, reading bigint';
const AGGREGATES = 'count, count(temperature), sum(temperature), avg(temperature), min(temperature), max(temperature), sum(reading), max(device)';

t.test('per device and window: count, count(col), sum, avg, min, max with Spark names, types and null rules', async (t) => {
  const source = new MemorySource({ schema: SCHEMA });
  const sink = new MemorySink();
  const query = await startQuery({
    source,
    stages: [new Watermark({ eventTime: 'time', delay: '0 seconds' }), new Window({ timeColumn: 'time', duration: '10 seconds' }), new KeyedAggregate({ groupBy: ['device', 'window'], aggregates: AGGREGATES })],
    sink,
    trigger: 'availableNow',
    drain: true,
    manager: new StreamingQueryManager(),
  });
  source.addData([
    { time: 1000, device: 'a', temperature: 21.5, reading: 3 },
    { time: 2000, device: 'a', temperature: null, reading: null },
    { time: 3000, device: 'a', temperature: 18.25, reading: 4 },
    { time: 4000, device: 'b', temperature: null, reading: null },
  ]);
  await query.awaitTermination();
  const w = { start: 0, end: 10_000 };
  t.strictSame(sink.rows(), [
    { device: 'a', window: w, count: 3, 'count(temperature)': 2, 'sum(temperature)': 39.75, 'avg(temperature)': 19.875, 'min(temperature)': 18.25, 'max(temperature)': 21.5, 'sum(reading)': 7, 'max(device)': 'a' },
    { device: 'b', window: w, count: 1, 'count(temperature)': 0, 'sum(temperature)': null, 'avg(temperature)': null, 'min(temperature)': null, 'max(temperature)': null, 'sum(reading)': null, 'max(device)': 'b' },
  ]);
  t.strictSame(
    query.recentProgress[0]!.stateOperators.length,
    1,
    'one state operator',
  );
});

t.test('an unknown column or function is refused when the query starts, naming it and what exists', async (t) => {
  const start = (aggregates: string) =>
    startQuery({ source: new MemorySource({ schema: SCHEMA }), stages: [new KeyedAggregate({ groupBy: ['device'], aggregates })], sink: new MemorySink(), outputMode: 'complete', manager: new StreamingQueryManager() });
  await t.rejects(start('avg(temperatur)'), { code: 'ERR_UNKNOWN_COLUMN', option: 'aggregates', message: /`temperatur` cannot be resolved\. Did you mean one of the following\? \[`time`, `device`, `temperature`, `reading`\]/ });
  t.throws(() => new KeyedAggregate({ groupBy: ['device'], aggregates: 'median(temperature)' }), { code: 'ERR_UNKNOWN_FUNCTION', message: /`median`.*count, count\(\*\), count\(col\), sum\(col\), avg\(col\), min\(col\), max\(col\)/ }, 'an unknown function is refused as soon as the stage is built');
  await t.rejects(start('max(temperature) as device'), { code: 'ERR_INVALID_OPTION', option: 'aggregates', message: 'result column `device` is also a grouping column: give the aggregate another name (`… as name`)' });
});

t.test('a checkpoint refuses a restart with other aggregates, naming the change', async (t) => {
  const dir = t.testdir();
  const base = new MemorySource({ schema: SCHEMA });
  const run = async (aggregates: string) => {
    const source = base.reopen();
    source.addData([{ time: 1000, device: 'a', temperature: 1, reading: 1 }]);
    const query = await startQuery({ source, stages: [new KeyedAggregate({ groupBy: ['device'], aggregates })], sink: new MemorySink(), outputMode: 'complete', checkpointLocation: dir, trigger: 'availableNow', manager: new StreamingQueryManager() });
    return query.awaitTermination();
  };
  t.equal(await run('avg(temperature)'), true);
  await t.rejects(run('max(temperature)'), { cause: { code: 'ERR_CHECKPOINT_MISMATCH', message: /KeyedAggregate aggregates was .*"avg".*is now .*"max"/ } });
});

// Random JSON lines: times 0..119 s, some null or malformed; temperatures with nulls, negative zero, huge values.
const time = fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 119 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom('null', '"x"') });
const device = fc.constantFrom('"a"', '"b"', '"é"', 'null');
const temperature = fc.oneof(fc.constantFrom('null', '-0.0', '0', '1e300', '"NaN"'), fc.double({ min: -50, max: 50, noNaN: true }).map((d) => JSON.stringify(Math.round(d * 8) / 8)));
const reading = fc.oneof(fc.constantFrom('null', '9007199254740991'), fc.integer({ min: -1000, max: 1000 }).map(String));
const line = fc.tuple(time, device, temperature, reading).map(([a, b, c, d]) => `{"time":${a},"device":${b},"temperature":${c},"reading":${d}}`);

async function runFiles(dir: string, optimize: boolean, workers: number, outputMode: 'append' | 'update' | 'complete', slide: string | null): Promise<{ rows: Row[]; explain: string; progress: unknown[] }> {
  const sink = new MemorySink();
  const stages = [
    new ParseSchema({ schema: SCHEMA, timeZone: 'UTC', workers }),
    ...(outputMode === 'complete' ? [] : [new Watermark({ eventTime: 'time', delay: '5 seconds' })]),
    new Window({ timeColumn: 'time', duration: '10 seconds', slide }),
    new KeyedAggregate({ groupBy: ['device', 'window'], aggregates: AGGREGATES }),
  ];
  const query = await startQuery({ source: new FileSource({ path: dir, maxFilesPerTrigger: 1, readBufferBytes: 64 }), stages, sink, outputMode, trigger: 'availableNow', drain: outputMode !== 'complete', optimize, manager: new StreamingQueryManager() });
  await query.awaitTermination();
  const progress = query.recentProgress.map((p) => ({ n: p.numInputRows, e: p.eventTime, s: p.stateOperators.map((o) => [o['numRowsTotal'], o['numRowsUpdated'], o['numRowsDroppedByWatermark']]) }));
  return { rows: sink.rows(), explain: query.explain(), progress };
}

t.test('aggregated where the chunks are read (this thread, 2 workers) gives the rows, order and progress of the row path', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(line, { minLength: 1, maxLength: 25 }), { minLength: 1, maxLength: 3 }), fc.constantFrom<'append' | 'update' | 'complete'>('append', 'update', 'complete'), fc.constantFrom(null, '5 seconds'), async (files, mode, slide) => {
      const dir = await mkdtemp(join(tmpdir(), 'tidemark-agg-'));
      try {
        for (const [i, lines] of files.entries()) await writeFile(join(dir, `part-${i}.json`), lines.join('\n') + '\n');
        const reference = await runFiles(dir, false, 0, mode, slide);
        for (const workers of [0, 2]) {
          const pushed = await runFiles(dir, true, workers, mode, slide);
          if (!pushed.explain.includes('ChunkAggregate')) throw new Error(`not aggregated where read:\n${pushed.explain}`);
          // Sums past 2^53 come out as exact bigints.
          const text = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
          if (text([pushed.rows, pushed.progress]) !== text([reference.rows, reference.progress])) {
            throw new Error(`workers ${workers}, ${mode}: ${text(pushed.rows)}\n!=\n${text(reference.rows)}`);
          }
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 15 },
  );
});

t.test('a restart at a micro-batch boundary that switches between the push-down and the row path writes what either path writes alone', async (t) => {
  // Every run restarts after the same files, so all four have the same micro-batches; only where the aggregates are computed differs.
  const PATHS: ReadonlyArray<readonly [boolean, boolean]> = [
    [false, false],
    [true, true],
    [true, false],
    [false, true],
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(line, { minLength: 1, maxLength: 15 }), { minLength: 2, maxLength: 4 }),
      fc.nat(),
      fc.constantFrom<'append' | 'update' | 'complete'>('append', 'update', 'complete'),
      fc.constantFrom(null, '5 seconds'),
      async (files, seed, mode, slide) => {
        const before = 1 + (seed % (files.length - 1));
        const dir = await mkdtemp(join(tmpdir(), 'tidemark-agg-restart-'));
        try {
          const input = join(dir, 'in');
          const write = async (from: number, to: number): Promise<void> => {
            for (let i = from; i < to; i++) await writeFile(join(input, `part-${i}.json`), files[i]!.join('\n') + '\n');
          };
          await mkdir(input);
          await write(0, before);
          const run = async (checkpointLocation: string, optimize: boolean, drain: boolean): Promise<Row[]> => {
            const sink = new MemorySink();
            const stages = [
              new ParseSchema({ schema: SCHEMA, timeZone: 'UTC', workers: 0 }),
              ...(mode === 'complete' ? [] : [new Watermark({ eventTime: 'time', delay: '5 seconds' })]),
              new Window({ timeColumn: 'time', duration: '10 seconds', slide }),
              new KeyedAggregate({ groupBy: ['device', 'window'], aggregates: AGGREGATES }),
            ];
            const query = await startQuery({ source: new FileSource({ path: input, maxFilesPerTrigger: 1, readBufferBytes: 64 }), stages, sink, outputMode: mode, checkpointLocation, trigger: 'availableNow', drain: drain && mode !== 'complete', optimize, manager: new StreamingQueryManager() });
            await query.awaitTermination();
            if (optimize && !query.explain().includes('ChunkAggregate')) throw new Error(`not aggregated where read:\n${query.explain()}`);
            return sink.rows();
          };
          const outputs: Row[][] = [];
          for (const [i, [first]] of PATHS.entries()) outputs.push(await run(join(dir, `cp-${i}`), first, false));
          await write(before, files.length);
          for (const [i, [, second]] of PATHS.entries()) outputs[i]!.push(...(await run(join(dir, `cp-${i}`), second, true)));
          const text = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
          for (const [i, [first, second]] of PATHS.entries()) {
            if (text(outputs[i]) !== text(outputs[0])) throw new Error(`${mode}, restart after ${before} of ${files.length} files, push-down ${first} then ${second}:\n${text(outputs[i])}\n!=\n${text(outputs[0])}`);
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 12 },
  );
});

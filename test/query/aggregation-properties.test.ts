/**
 * Laws of `KeyedAggregate` through the whole engine, on random readings with
 * nulls:
 * (a) with no watermark in complete mode, every aggregate of every (device,
 *     window) equals a plain batch group-by computed here, independently of
 *     the library, by Spark's rules;
 * (b) stopping at any micro-batch boundary and restarting from the
 *     checkpoint (every stage restored into a fresh instance) changes nothing
 *     in the output, in every output mode.
 *
 * Temperatures are multiples of 1/16 and `level` multiples of 2^20 up to
 * 2^52, so every sum is exact in a double whatever the order of addition
 * (partial sums per batch, merged in state) and the results compare exactly;
 * two `level`s of 2^52 already sum past 2^53, where the bigint sum must stay
 * exact (and survive a snapshot).
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '../../lib/core/batch.js';
import { field, schema, Types } from '../../lib/core/schema.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedAggregate } from '../../lib/stages/keyed-aggregate.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { runWithDriver } from '../helpers.js';

const SCHEMA = schema([field('time', Types.timestamp), field('device', Types.string), field('temperature', Types.double), field('level', Types.long), field('note', Types.string)]);
const AGGREGATES = 'count, count(temperature), sum(temperature), avg(temperature), min(temperature), max(temperature), sum(level), avg(level), min(note), max(note), max(time)';
const RESULT_COLUMNS = ['count', 'count(temperature)', 'sum(temperature)', 'avg(temperature)', 'min(temperature)', 'max(temperature)', 'sum(level)', 'avg(level)', 'min(note)', 'max(note)', 'max(time)'];
const WINDOW_SECONDS = 20;

interface Reading {
  time: number;
  device: string;
  temperature: number | null;
  level: number | null;
  note: string | null;
}

const readingArb: fc.Arbitrary<Reading> = fc.record({
  time: fc.integer({ min: -30, max: 120 }),
  device: fc.constantFrom('dev-01', 'dev-02', 'dev-03'),
  temperature: fc.option(fc.integer({ min: -800, max: 800 }).map((n) => n / 16), { nil: null, freq: 4 }),
  level: fc.option(
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(2 ** 52, 2 ** 52 - 2 ** 20, -(2 ** 51)) }, { weight: 2, arbitrary: fc.integer({ min: -(2 ** 30), max: 2 ** 30 }).map((n) => n * 2 ** 20) }),
    { nil: null, freq: 4 },
  ),
  note: fc.option(fc.constantFrom('Z', 'a', 'é', 'ｚ', '😀', '', 'ab'), { nil: null, freq: 4 }),
});
const stepsArb = fc.array(fc.array(readingArb, { maxLength: 15 }), { minLength: 1, maxLength: 5 });

const toRow = (r: Reading): Row => ({ ...r, time: r.time * 1000 });

// ---------------------------------------------------------------------------------------------
// The reference: a batch group-by by Spark's rules on plain values.

const utf8 = new TextEncoder();
function utf8Compare(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function extreme<T>(xs: readonly T[], compare: (a: T, b: T) => number, max: boolean): T | null {
  let out: T | null = null;
  for (const x of xs) if (out === null || (max ? compare(x, out) > 0 : compare(x, out) < 0)) out = x;
  return out;
}

/** One text per value: integral results as integers whether number or bigint. */
function canonical(v: unknown, integral: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (integral) return BigInt(v as number | bigint).toString();
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
const INTEGRAL = new Set(['count', 'count(temperature)', 'sum(level)', 'max(time)']);

function batchGroupBy(readings: readonly Reading[]): string[] {
  const groups = new Map<string, Reading[]>();
  for (const r of readings) {
    const start = Math.floor(r.time / WINDOW_SECONDS) * WINDOW_SECONDS;
    const key = `${r.device} ${start}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(r);
  }
  return [...groups].map(([key, rows]) => {
    const temperatures = rows.flatMap((r) => (r.temperature === null ? [] : [r.temperature]));
    const levels = rows.flatMap((r) => (r.level === null ? [] : [r.level]));
    const notes = rows.flatMap((r) => (r.note === null ? [] : [r.note]));
    const sum = (xs: number[]): number => xs.reduce((a, x) => a + x, 0);
    const values = [
      rows.length,
      temperatures.length,
      temperatures.length === 0 ? null : sum(temperatures),
      temperatures.length === 0 ? null : sum(temperatures) / temperatures.length,
      temperatures.length === 0 ? null : Math.min(...temperatures),
      temperatures.length === 0 ? null : Math.max(...temperatures),
      levels.length === 0 ? null : levels.reduce((a, x) => a + BigInt(x), 0n),
      levels.length === 0 ? null : sum(levels) / levels.length,
      extreme(notes, utf8Compare, false),
      extreme(notes, utf8Compare, true),
      Math.max(...rows.map((r) => r.time)) * 1000,
    ];
    return `${key} ${values.map((v, i) => canonical(v, INTEGRAL.has(RESULT_COLUMNS[i]!))).join(' ')}`;
  });
}

function rowText(r: Row): string {
  const w = r['window'] as { start: number; end: number };
  if (w.end - w.start !== WINDOW_SECONDS * 1000) throw new Error(`a window of ${w.end - w.start} ms`);
  return `${String(r['device'])} ${w.start / 1000} ${RESULT_COLUMNS.map((c) => canonical(r[c], INTEGRAL.has(c))).join(' ')}`;
}

t.test('(a) with no watermark in complete mode every aggregate equals a batch group-by', async () => {
  await fc.assert(
    fc.asyncProperty(stepsArb, async (steps) => {
      const source = new MemorySource({ schema: SCHEMA });
      const sink = new MemorySink();
      const query = await startQuery({
        source,
        stages: [new Window({ timeColumn: 'time', duration: `${WINDOW_SECONDS} seconds` }), new KeyedAggregate({ groupBy: ['device', 'window'], aggregates: AGGREGATES })],
        sink,
        outputMode: 'complete',
        manager: new StreamingQueryManager(),
      });
      for (const step of steps) {
        source.addData(step.map(toRow));
        await query.processAllAvailable();
      }
      await query.stop();
      const got = sink.rows().map(rowText).sort();
      const expected = batchGroupBy(steps.flat()).sort();
      if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`got\n  ${got.join('\n  ')}\nexpected\n  ${expected.join('\n  ')}`);
    }),
    { numRuns: 40 },
  );
});

t.test('(b) a restart at any micro-batch boundary gives the output of the uninterrupted run', async () => {
  const modeArb = fc.constantFrom('append' as const, 'update' as const, 'complete' as const);
  await fc.assert(
    fc.asyncProperty(stepsArb, fc.nat(), modeArb, async (steps, restartSeed, outputMode) => {
      const restartAt = restartSeed % steps.length;
      const rows = steps.map((step) => step.map(toRow));
      const dir = await mkdtemp(join(tmpdir(), 'tidemark-agg-prop-'));
      try {
        const stages = () => [
          new Watermark({ eventTime: 'time', delay: '10 seconds' }),
          new Window({ timeColumn: 'time', duration: `${WINDOW_SECONDS} seconds` }),
          new KeyedAggregate({ groupBy: ['device', 'window'], aggregates: AGGREGATES }),
        ];
        const run = (restartBefore: number[], at: string) => runWithDriver({ steps: rows, restartBefore, checkpointLocation: join(dir, at), outputMode, stages, schema: SCHEMA });
        const straight = await run([], 'a');
        const restarted = await run([restartAt], 'b');
        const ordered = (m: Map<number, Row[]>): Row[][] => [...m].sort((x, y) => x[0] - y[0]).map(([, r]) => r);
        // No no-data batch runs right after a restart (as in Spark): compare what was written, in order, not batch ids.
        const text = (batches: Row[][]): string => JSON.stringify(batches.map((b) => b.map(rowText)));
        if (outputMode !== 'complete' && text(ordered(straight).flat().map((r) => [r])) !== text(ordered(restarted).flat().map((r) => [r]))) {
          throw new Error(`restart at step ${restartAt} changed the output`);
        }
        if (outputMode === 'complete' && text(ordered(straight).slice(-1)) !== text(ordered(restarted).slice(-1))) {
          throw new Error(`restart at step ${restartAt} changed the final table`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 30 },
  );
});

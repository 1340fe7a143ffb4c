/**
 * Every stateful stage, driven alone through the stage harness: a snapshot
 * taken at any barrier and restored into a fresh instance continues exactly
 * as the uninterrupted stage does (Flink's snapshot/restore harness tests).
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { parseDDL } from '../../lib/core/ddl.js';
import { WINDOW_TYPE, withMetadata, type Schema } from '../../lib/core/schema.js';
import type { OutputMode } from '../../lib/core/output-mode.js';
import type { Row } from '../../lib/core/batch.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { KeyedAggregate } from '../../lib/stages/keyed-aggregate.js';
import { SessionWindow } from '../../lib/stages/session-window.js';
import { DropDuplicates } from '../../lib/stages/drop-duplicates.js';
import type { Stage } from '../../lib/stages/stage.js';
import { restoreAtEveryBarrier, StageHarness, type HarnessBatch } from '../harness/stage-harness.js';

const DELAY_MS = 10_000;

// What a Watermark (and a Window) upstream would have made of the schema.
const timed: Schema = (() => {
  const s = parseDDL('time timestamp, key string, value double');
  return { fields: s.fields.map((f) => (f.name === 'time' ? withMetadata(f, { watermarkDelayMs: DELAY_MS }) : f)) };
})();
const windowed: Schema = {
  fields: [
    ...parseDDL('key string, value double').fields,
    { name: 'window', dataType: WINDOW_TYPE, nullable: true, metadata: { watermarkDelayMs: DELAY_MS, timeWindow: { durationUs: 10_000_000, slideUs: 10_000_000, startTimeUs: 0 } } },
  ],
};

// Batches of rows with times 0..99 s (some null), keys a/b/c, values with nulls; the watermark follows the max time.
function batchesArb(withWindow: boolean): fc.Arbitrary<HarnessBatch[]> {
  const row = fc.record({ time: fc.option(fc.integer({ min: 0, max: 99 }), { nil: null, freq: 8 }), key: fc.constantFrom('a', 'b', 'c'), value: fc.option(fc.integer({ min: -5, max: 5 }), { nil: null }) });
  return fc.array(fc.array(row, { maxLength: 8 }), { minLength: 1, maxLength: 6 }).map((steps) => {
    let watermark = 0;
    return steps.map((rows) => {
      const late = watermark;
      const out: Row[] = rows.map((r) =>
        withWindow
          ? { key: r.key, value: r.value, window: r.time === null ? null : { start: Math.floor(r.time / 10) * 10_000, end: Math.floor(r.time / 10) * 10_000 + 10_000 } }
          : { time: r.time === null ? null : r.time * 1000, key: r.key, value: r.value },
      );
      const max = Math.max(0, ...rows.map((r) => (r.time ?? 0) * 1000));
      const batch: HarnessBatch = { rows: out, watermarkMs: watermark, lateWatermarkMs: late };
      watermark = Math.max(watermark, max - DELAY_MS);
      return batch;
    });
  });
}

async function checkRestores(t: Test, name: string, make: () => Stage, schema: Schema, outputMode: OutputMode, withWindow: boolean): Promise<void> {
  await fc.assert(
    fc.asyncProperty(batchesArb(withWindow), async (batches) => {
      const { uninterrupted, restored } = await restoreAtEveryBarrier({ make, schema, outputMode, batches });
      if (JSON.stringify(restored) !== JSON.stringify(uninterrupted)) throw new Error(`${name}:\n${JSON.stringify(restored)}\n!=\n${JSON.stringify(uninterrupted)}`);
    }),
    { numRuns: 40 },
  );
  t.pass(`${name}: a restore at every barrier changes nothing`);
}

t.test('KeyedCount restored at every barrier continues exactly (append, update, complete)', async (t) => {
  for (const mode of ['append', 'update', 'complete'] as const) {
    await checkRestores(t, `KeyedCount ${mode}`, () => new KeyedCount({ groupBy: ['key', 'window'] }), windowed, mode, true);
  }
});

t.test('KeyedAggregate restored at every barrier continues exactly', async (t) => {
  for (const mode of ['append', 'update'] as const) {
    await checkRestores(t, `KeyedAggregate ${mode}`, () => new KeyedAggregate({ groupBy: ['key', 'window'], aggregates: 'count, sum(value), avg(value), min(value), max(value)' }), windowed, mode, true);
  }
});

t.test('SessionWindow restored at every barrier continues exactly (append, complete)', async (t) => {
  for (const mode of ['append', 'complete'] as const) {
    await checkRestores(t, `SessionWindow ${mode}`, () => new SessionWindow({ timeColumn: 'time', gap: '5 seconds', groupBy: ['key'], aggregates: 'count, max(value)' }), timed, mode, false);
  }
});

t.test('DropDuplicates restored at every barrier continues exactly (with the event time as a key, and within the watermark)', async (t) => {
  await checkRestores(t, 'dropDuplicates', () => new DropDuplicates({ columns: ['key', 'time'] }), timed, 'append', false);
  await checkRestores(t, 'dropDuplicatesWithinWatermark', () => new DropDuplicates({ columns: ['key'], withinWatermark: true }), timed, 'append', false);
});

t.test('the harness can fail: a stage that forgets its state on restore is caught', async (t) => {
  class Forgetful extends KeyedCount {
    override restore(): void {}
  }
  const batches: HarnessBatch[] = [{ rows: [{ key: 'a', value: 1, window: { start: 0, end: 10_000 } }] }, { rows: [{ key: 'a', value: 1, window: { start: 0, end: 10_000 } }] }];
  const { uninterrupted, restored } = await restoreAtEveryBarrier({ make: () => new Forgetful({ groupBy: ['key', 'window'] }), schema: windowed, outputMode: 'update', batches });
  t.notSame(restored, uninterrupted);
  t.strictSame(uninterrupted[1], [{ key: 'a', window: { start: 0, end: 10_000 }, count: 2 }]);
});

t.test('StageHarness opens a stage, runs batches and hands back its barrier with the state', async (t) => {
  const harness = await StageHarness.open(new KeyedCount({ groupBy: ['key', 'window'] }), windowed, { outputMode: 'update' });
  const outcome = await harness.batch({ rows: [{ key: 'a', value: null, window: { start: 0, end: 10_000 } }] });
  t.strictSame(outcome.rows, [{ key: 'a', window: { start: 0, end: 10_000 }, count: 1 }]);
  t.equal(outcome.barrier.state['0']?.snapshot().stage, 'KeyedCount');
  t.strictSame(outcome.barrier.state['0']?.delta().kind, 'delta', 'and what the batch changed');
});

/**
 * Laws the engine must keep on any input:
 * (a) with no watermark in complete mode, windowed counts equal a batch GROUP BY;
 * (b) stopping at any micro-batch boundary and restarting from the checkpoint
 *     (every stage restored into a fresh instance) changes nothing in the output.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { eventSchema, notebookStages, runByHand, runWithDriver } from '../helpers.js';

const actions = ['Open', 'Close', 'Click', 'Scroll'];
const eventArb = fc.record({ time: fc.integer({ min: -50, max: 300 }), action: fc.constantFrom(...actions) });
const stepsArb = fc.array(fc.array(eventArb, { maxLength: 12 }), { minLength: 1, maxLength: 6 });

// The reference: every window on the grid that contains the event, enumerated naively.
function groupBy(stepsOfEvents: Array<Array<{ time: number; action: string }>>, duration: number, slide: number): string[] {
  const counts = new Map<string, number>();
  for (const e of stepsOfEvents.flat()) {
    for (let k = Math.floor((e.time - duration) / slide) - 1; k * slide <= e.time; k++) {
      const start = k * slide;
      if (start <= e.time && e.time < start + duration) {
        const key = JSON.stringify([e.action, start, start + duration]);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
  }
  return [...counts].map(([k, n]) => JSON.stringify([...(JSON.parse(k) as unknown[]), n])).sort();
}

t.test('(a) tumbling and sliding counts in complete mode equal a batch group-by', async (t) => {
  await fc.assert(
    fc.asyncProperty(stepsArb, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), async (steps, a, b) => {
      const duration = Math.max(a, b);
      const slide = Math.min(a, b);
      const source = new MemorySource({ schema: eventSchema });
      const sink = new MemorySink();
      const query = await startQuery({
        source,
        stages: [new Window({ timeColumn: 'time', duration: `${duration} seconds`, slide: `${slide} seconds` }), new KeyedCount({ groupBy: ['action', 'window'] })],
        sink,
        outputMode: 'complete',
        manager: new StreamingQueryManager(),
      });
      for (const step of steps) {
        source.addData(step.map((e) => ({ time: e.time * 1000, action: e.action })));
        await query.processAllAvailable();
      }
      await query.stop();
      const got = sink.rows().map((r) => {
        const w = r['window'] as { start: number; end: number };
        return JSON.stringify([r['action'], w.start / 1000, w.end / 1000, r['count']]);
      });
      const expected = steps.flat().length === 0 ? [] : groupBy(steps, duration, slide);
      if (JSON.stringify(got.sort()) !== JSON.stringify(expected)) throw new Error(`got ${got} expected ${expected}`);
    }),
    { numRuns: 40 },
  );
});

t.test('(b) a restart at any micro-batch boundary gives the output of the uninterrupted run', async (t) => {
  const modeArb = fc.constantFrom('append' as const, 'update' as const, 'complete' as const);
  await fc.assert(
    fc.asyncProperty(stepsArb, fc.nat(), modeArb, fc.constantFrom(null, '3 seconds'), async (steps, restartSeed, outputMode, slide) => {
      const restartAt = restartSeed % steps.length;
      const rows: Row[][] = steps.map((step) => step.map((e) => ({ time: e.time * 1000, action: e.action })));
      const dir = await mkdtemp(join(tmpdir(), 'tidemark-prop-'));
      try {
        const stages = () => notebookStages({ delay: '10 seconds', duration: '6 seconds', slide });
        const straight = await runWithDriver({ steps: rows, checkpointLocation: join(dir, 'a'), outputMode, stages });
        const restarted = await runWithDriver({ steps: rows, restartBefore: [restartAt], checkpointLocation: join(dir, 'b'), outputMode, stages });
        // No no-data batch runs right after a restart (as in Spark), so compare what was written, in order, not batch ids.
        const flat = (m: Map<number, Row[]>): string => JSON.stringify([...m].sort((x, y) => x[0] - y[0]).flatMap(([, r]) => r));
        if (outputMode !== 'complete' && flat(straight) !== flat(restarted)) throw new Error(`restart at step ${restartAt} changed the output`);
        if (outputMode === 'complete') {
          const last = (m: Map<number, Row[]>): string => JSON.stringify([...m].sort((x, y) => x[0] - y[0]).at(-1)?.[1] ?? []);
          if (last(straight) !== last(restarted)) throw new Error(`restart at step ${restartAt} changed the final table`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 30 },
  );
});

t.test('(c) panes: a sliding window counted through panes writes exactly what one row per window writes', async (t) => {
  const modeArb = fc.constantFrom('append' as const, 'update' as const, 'complete' as const);
  const sizes = fc.constantFrom(['6 seconds', '3 seconds'], ['10 seconds', '2 seconds'], ['4 seconds', '1 second']);
  await fc.assert(
    fc.asyncProperty(stepsArb, modeArb, sizes, fc.constantFrom(null, '5 seconds'), async (steps, outputMode, [duration, slide], delay) => {
      if (outputMode === 'append' && delay === null) return;
      const rows: Row[][] = steps.map((step) => step.map((e) => ({ time: e.time * 1000, action: e.action })));
      const dir = await mkdtemp(join(tmpdir(), 'tidemark-panes-'));
      try {
        const build = (panes: boolean) => () => {
          const stages = notebookStages({ delay, duration, slide, outputMode });
          return panes ? stages.map((s) => (s instanceof Window ? s.withPanes() : s)) : stages;
        };
        // runByHand leaves the stages as built; startQuery would choose panes by itself.
        const panes = await runByHand({ steps: rows, checkpointLocation: join(dir, 'p'), outputMode, stages: build(true) });
        const rowsPerWindow = await runByHand({ steps: rows, checkpointLocation: join(dir, 'w'), outputMode, stages: build(false) });
        if (JSON.stringify([...panes]) !== JSON.stringify([...rowsPerWindow])) throw new Error(`panes changed the output:\n${JSON.stringify([...panes])}\n${JSON.stringify([...rowsPerWindow])}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 40 },
  );
});

t.test('startQuery counts a sliding window through panes when the pipeline allows', async (t) => {
  const stages = notebookStages({ delay: '10 seconds', duration: '10 seconds', slide: '5 seconds' });
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ source, stages, sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.match(query.explain(), /^Window\(.*\) over panes$/m);
  t.equal((stages[1] as Window).panes, false, "the user's Window is left as it was; the plan runs a new one");
  await query.stop();
  const notDivisible = notebookStages({ delay: '10 seconds', duration: '10 seconds', slide: '3 seconds' });
  const q2 = await startQuery({ source: new MemorySource({ schema: eventSchema }), stages: notDivisible, sink: new MemorySink(), manager: new StreamingQueryManager() });
  t.notMatch(q2.explain(), /over panes/, '10 s is not a multiple of 3 s: one row per window');
  await q2.stop();
});

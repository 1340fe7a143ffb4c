/**
 * ForEachBatchSink: Spark's foreachBatch. The function gets each batch's
 * rows and id; after a crash the batch is re-executed and the function is
 * called again with the same id and the same rows, so a write idempotent by
 * batch id is exactly-once. A committed batch is never passed again.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForEachBatchSink } from '../../lib/sinks/foreach-batch-sink.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { Row } from '../../lib/core/batch.js';
import { generateDataset } from '../../lib/gen.js';
import { eventSchema, events, notebookStages, windowRow } from '../helpers.js';

const steps = [events([10, 'Open'], [11, 'Open'], [12, 'Close']), events([25, 'Click']), events([40, 'Scroll']), events([55, 'Open'])];

/** Runs `steps` from `from` into `fn`; returns the step at which the query failed, or null. */
async function run(fn: ConstructorParameters<typeof ForEachBatchSink>[0], checkpointLocation: string, source: MemorySource, from = 0): Promise<number | null> {
  const query = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink: new ForEachBatchSink(fn), outputMode: 'append', checkpointLocation, manager: new StreamingQueryManager() });
  for (let i = from; i < steps.length; i++) {
    source.addData(steps[i]!);
    try {
      await query.processAllAvailable();
    } catch {
      return i;
    }
  }
  await query.stop();
  return null;
}

t.test("the function gets each batch's rows, its id, the query id and the output mode", async (t) => {
  const calls: Array<{ batchId: number; rows: unknown[]; queryId: string; mode: string }> = [];
  await run(async (rows, batchId, context) => void calls.push({ batchId, rows: rows.map(windowRow), queryId: context.queryId, mode: context.outputMode }), t.testdir(), new MemorySource({ schema: eventSchema }));
  t.strictSame(calls.filter((c) => c.rows.length > 0).map((c) => c.rows), [[[10, 15, 'Open', 2], [10, 15, 'Close', 1]], [[25, 30, 'Click', 1]], [[40, 45, 'Scroll', 1]]]);
  t.strictSame(calls.map((c) => c.batchId), calls.map((_, i) => i), 'every batch, empty ones included, in order');
  t.ok(calls.every((c) => c.queryId === calls[0]!.queryId && c.queryId.length > 0 && c.mode === 'append'));
});

t.test('after a crash the batch is passed again with the same id and rows; committed batches never again', async (t) => {
  const dir = t.testdir();
  const calls: Array<{ batchId: number; rows: Row[] }> = [];
  // An idempotent store: the rows of each batch id, written once (a re-executed batch finds its id there).
  const store = new Map<number, Row[]>();
  let crashed = false;
  const write = async (rows: Row[], batchId: number): Promise<void> => {
    calls.push({ batchId, rows });
    if (!store.has(batchId)) store.set(batchId, rows);
    // The crash comes after the write, before the batch commits: the worst moment.
    if (rows.length > 0 && batchId >= 3 && !crashed) {
      crashed = true;
      throw new Error('injected crash after the write');
    }
  };
  const source = new MemorySource({ schema: eventSchema });
  const failedAt = await run(write, dir, source);
  t.not(failedAt, null);
  const crashedBatch = calls[calls.length - 1]!;
  t.equal(await run(write, dir, source.reopen(), failedAt! + 1), null);
  const again = calls.filter((c) => c.batchId === crashedBatch.batchId);
  t.equal(again.length, 2, `batch ${crashedBatch.batchId} was passed twice`);
  t.strictSame(again[1]!.rows, again[0]!.rows, 'with the same rows');
  const ids = calls.map((c) => c.batchId);
  t.strictSame(ids, [...new Set(ids)].sort((a, b) => a - b).flatMap((id) => (id === crashedBatch.batchId ? [id, id] : [id])), 'no other batch twice');
  const uninterrupted: Row[] = [];
  await run(async (rows) => void uninterrupted.push(...rows), join(dir, 'other'), new MemorySource({ schema: eventSchema }));
  t.strictSame([...store.values()].flat().map(windowRow), uninterrupted.map(windowRow), 'the idempotent store holds exactly what an uninterrupted run writes');
});

t.test('a function that throws fails the query, and the batch is not committed', async (t) => {
  const dir = t.testdir();
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({
    source,
    sink: new ForEachBatchSink(() => {
      throw new Error('database down');
    }),
    checkpointLocation: dir,
    manager: new StreamingQueryManager(),
  });
  source.addData(steps[0]!);
  await t.rejects(query.processAllAvailable(), { code: 'ERR_QUERY_FAILED', cause: { message: 'database down' } });
  t.strictSame((await readdir(join(dir, 'offsets'))).filter((f) => !f.startsWith('.')), ['0'], 'batch 0 was planned');
  t.strictSame((await readdir(join(dir, 'commits'))).filter((f) => !f.startsWith('.')), [], 'and not committed: a restart passes it again');
});

t.test('killed with SIGKILL at random moments and restarted until done, every batch id is passed the same rows each time', async (t) => {
  const root = t.testdir();
  const input = join(root, 'in');
  await generateDataset(input, { files: 12, lines: 100, seed: 9 });
  const child = fileURLToPath(new URL('../fixtures/foreach-batch-child.mjs', import.meta.url));
  const runChild = (chk: string, log: string, killAfterCalls: number | null, thenMs: number): Promise<NodeJS.Signals | number | null> =>
    new Promise((resolve) => {
      const proc = spawn(process.execPath, [child, input, chk, log], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'ignore', 'inherit'] });
      let done = false;
      if (killAfterCalls !== null) {
        void (async () => {
          while (!done && (await readLog(log)).length < killAfterCalls) await new Promise((r) => setTimeout(r, 5));
          await new Promise((r) => setTimeout(r, thenMs));
          if (!done) proc.kill('SIGKILL');
        })();
      }
      proc.on('close', (code, signal) => {
        done = true;
        resolve(signal ?? code);
      });
    });
  const baselineLog = join(root, 'baseline.log');
  t.equal(await runChild(join(root, 'chk-baseline'), baselineLog, null, 0), 0);
  const baseline = await readLog(baselineLog);

  let seed = 41;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const log = join(root, 'calls.log');
  const chk = join(root, 'chk');
  let kills = 0;
  for (;;) {
    const calls = (await readLog(log)).length;
    const exit = kills < 4 && calls + 3 < baseline.length ? await runChild(chk, log, calls + 1 + Math.floor(random() * 3), Math.round(random() * 30)) : await runChild(chk, log, null, 0);
    if (exit === 'SIGKILL') {
      kills++;
      continue;
    }
    t.equal(exit, 0, 'the last run ends by itself');
    break;
  }
  const calls = await readLog(log);
  const byBatch = new Map<number, string[][]>();
  for (const c of calls) byBatch.set(c.batchId, [...(byBatch.get(c.batchId) ?? []), c.rows]);
  t.ok(kills >= 2, `killed ${kills} times`);
  t.ok(calls.length > byBatch.size, `some batches were passed again after a kill (${calls.length} calls for ${byBatch.size} batches)`);
  for (const [id, passes] of byBatch) t.ok(passes.every((rows) => JSON.stringify(rows) === JSON.stringify(passes[0])), `batch ${id}: the same rows each time`);
  t.strictSame(
    [...byBatch].sort((a, b) => a[0] - b[0]).map(([id, passes]) => ({ batchId: id, rows: passes[0] })),
    baseline.map((c) => ({ batchId: c.batchId, rows: c.rows })),
    'batch by batch, what an uninterrupted run passes',
  );
});

async function readLog(path: string): Promise<Array<{ batchId: number; rows: string[] }>> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as { batchId: number; rows: string[] });
  } catch {
    return [];
  }
}

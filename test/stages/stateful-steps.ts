/**
 * Drives stateful stages the way the conformance runner does: a
 * MemorySource, startQuery with a real checkpoint directory, one step =
 * add rows then process all available data, optional restarts from the
 * checkpoint before chosen steps; what each step wrote and reported.
 */
import type { Transform } from 'node:stream';
import type { Row } from '../../lib/core/batch.js';
import type { Schema } from '../../lib/core/schema.js';
import type { OutputMode } from '../../lib/core/output-mode.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager, type StreamingQuery } from '../../lib/query/streaming-query.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';

/** What a run of steps did. */
export interface StepsResult {
  /** Rows written during each step. */
  readonly emitted: Row[][];
  /** Progress of each micro-batch of each step. */
  readonly progress: StreamingQueryProgress[][];
  /** The watermark (ms) after each step, or null. */
  readonly watermarkAfter: Array<number | null>;
  /** The query's plan as explain() prints it (of the last run). */
  readonly explain: string;
}

/** Runs `steps` through `stages()` (fresh stages per run), restarting before the steps in `restartBefore` (`'every'`: before each but the first). */
export async function runSteps(args: {
  schema: Schema;
  stages: () => Transform[];
  outputMode: OutputMode;
  steps: readonly Row[][];
  checkpointLocation: string;
  restartBefore?: readonly number[] | 'every';
}): Promise<StepsResult> {
  const manager = new StreamingQueryManager();
  let source = new MemorySource({ schema: args.schema });
  const emitted: Row[][] = [];
  const progress: StreamingQueryProgress[][] = [];
  const watermarkAfter: Array<number | null> = [];
  let current: Row[] = [];
  let currentProgress: StreamingQueryProgress[] = [];
  const start = async (): Promise<StreamingQuery> => {
    const sink = new MemorySink();
    sink.on('batch', (_id: number, rows: Row[]) => current.push(...rows));
    const query = await startQuery({ source, stages: args.stages(), sink, checkpointLocation: args.checkpointLocation, outputMode: args.outputMode, manager });
    query.on('progress', (p: StreamingQueryProgress) => currentProgress.push(p));
    return query;
  };
  let query = await start();
  try {
    for (const [step, rows] of args.steps.entries()) {
      if (step > 0 && (args.restartBefore === 'every' || args.restartBefore?.includes(step) === true)) {
        await query.stop();
        source = source.reopen();
        query = await start();
      }
      current = [];
      currentProgress = [];
      source.addData(rows);
      await query.processAllAvailable();
      emitted.push(current);
      progress.push(currentProgress);
      watermarkAfter.push(query.watermarkMs);
    }
    return { emitted, progress, watermarkAfter, explain: query.explain() };
  } finally {
    await query.stop();
    await manager.stopAll();
  }
}

/** Rows as sorted JSON texts: an unordered multiset to compare. */
export const multiset = (rows: readonly Row[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

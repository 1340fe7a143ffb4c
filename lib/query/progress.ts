/**
 * `StreamingQueryProgress` in Spark's JSON shape and field order (§h of the
 * semantics notes), built from a committed barrier.
 *
 * @module
 */
import type { BarrierItem } from '../protocol.js';
import { formatTimestampUtcMillis } from '../core/timestamp.js';

/** One micro-batch's progress, as Spark reports it. Field order matches Spark's JSON. */
export interface StreamingQueryProgress {
  readonly id: string;
  readonly runId: string;
  readonly name: string | null;
  readonly timestamp: string;
  readonly batchId: number;
  readonly batchDuration: number;
  readonly numInputRows: number;
  readonly inputRowsPerSecond: number;
  readonly processedRowsPerSecond: number;
  readonly durationMs: Readonly<Record<string, number>>;
  readonly eventTime?: Readonly<Record<string, string>>;
  readonly stateOperators: readonly Record<string, unknown>[];
  readonly sources: readonly SourceProgress[];
  readonly sink: { readonly description: string; readonly numOutputRows: number; readonly metrics: Record<string, string> };
}

/** Progress of one source in a micro-batch. */
export interface SourceProgress {
  readonly description: string;
  readonly startOffset: unknown;
  readonly endOffset: unknown;
  readonly latestOffset: unknown;
  readonly numInputRows: number;
  readonly inputRowsPerSecond: number;
  readonly processedRowsPerSecond: number;
  readonly metrics: Record<string, string>;
}

/** Timings of one micro-batch, in ms. */
export interface BatchTimings {
  readonly triggerStartMs: number;
  readonly previousTriggerStartMs: number | null;
  readonly latestOffset: number;
  readonly walCommit: number;
  readonly addBatch: number;
  readonly commitOffsets: number;
  readonly triggerExecution: number;
}

/** Builds the progress of a committed batch. */
export function buildProgress(args: {
  id: string;
  runId: string;
  name: string | null;
  barrier: BarrierItem;
  numInputRows: number;
  /** Spark's `eventTime` map, when the query has a watermark. */
  eventTime?: Record<string, string> | undefined;
  source: { description: string; startOffset: unknown; endOffset: unknown; latestOffset: unknown; metrics?: Record<string, string> };
  timings: BatchTimings;
}): StreamingQueryProgress {
  const { barrier, numInputRows, timings } = args;
  const sinceLastTriggerS = timings.previousTriggerStartMs === null ? Infinity : (timings.triggerStartMs - timings.previousTriggerStartMs) / 1000;
  const inputRowsPerSecond = numInputRows / sinceLastTriggerS;
  const processedRowsPerSecond = numInputRows / (Math.max(1, timings.triggerExecution) / 1000);
  const progress: StreamingQueryProgress = {
    id: args.id,
    runId: args.runId,
    name: args.name,
    timestamp: formatTimestampUtcMillis(timings.triggerStartMs),
    batchId: barrier.batchId,
    batchDuration: timings.triggerExecution,
    numInputRows,
    inputRowsPerSecond,
    processedRowsPerSecond,
    durationMs: {
      addBatch: timings.addBatch,
      commitOffsets: barrier.progress.commitLogMs ?? timings.commitOffsets,
      getBatch: 0,
      latestOffset: timings.latestOffset,
      queryPlanning: 0,
      triggerExecution: timings.triggerExecution,
      walCommit: timings.walCommit,
    },
    ...(args.eventTime === undefined ? {} : { eventTime: args.eventTime }),
    // Each operator's commitTimeMs is its own, filled by the checkpoint (its encoding plus the shared writes).
    stateOperators: barrier.progress.stateOperators.map((op) => ({ ...op })),
    sources: [
      {
        description: args.source.description,
        startOffset: args.source.startOffset,
        endOffset: args.source.endOffset,
        latestOffset: args.source.latestOffset,
        numInputRows,
        inputRowsPerSecond,
        processedRowsPerSecond,
        // Spark's source metrics map (string values): the source's own, and the malformed records a stage parsing its input met.
        metrics: {
          ...args.source.metrics,
          ...(barrier.progress.numMalformedRecords === undefined ? {} : { numMalformedRecords: String(barrier.progress.numMalformedRecords) }),
        },
      },
    ],
    sink: { description: barrier.progress.sink?.description ?? 'unknown', numOutputRows: barrier.progress.sink?.numOutputRows ?? -1, metrics: {} },
  };
  return progress;
}

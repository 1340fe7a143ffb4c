import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { field, schema, Types, type Schema } from '../lib/core/schema.js';
import type { Row } from '../lib/core/batch.js';
import { MemorySource } from '../lib/sources/memory-source.js';
import { MemorySink } from '../lib/sinks/memory-sink.js';
import { Watermark } from '../lib/stages/watermark.js';
import { Window } from '../lib/stages/window.js';
import { KeyedCount } from '../lib/stages/keyed-count.js';
import { startQuery, StreamingQueryManager, type StreamingQuery } from '../lib/query/streaming-query.js';
import type { OutputMode } from '../lib/core/output-mode.js';
import { microBatches } from '../lib/query/executor.js';
import type { StreamItem } from '../lib/protocol.js';

/** `time timestamp, action string`: the notebook's schema. */
export const eventSchema = schema([field('time', Types.timestamp), field('action', Types.string)]);

/** Rows from (seconds, action) pairs. */
export const events = (...pairs: Array<[number, string]>): Row[] => pairs.map(([s, action]) => ({ time: s * 1000, action }));

/** The notebook's stages: watermark (optional), window, count by action and window. */
export function notebookStages(options: { delay?: string | null; duration?: string; slide?: string | null; outputMode?: OutputMode } = {}): Transform[] {
  const stages: Transform[] = [];
  if (options.delay !== null) stages.push(new Watermark({ eventTime: 'time', delay: options.delay ?? '10 seconds' }));
  stages.push(new Window({ timeColumn: 'time', duration: options.duration ?? '5 seconds', slide: options.slide ?? null }));
  stages.push(new KeyedCount({ groupBy: ['action', 'window'], ...(options.outputMode === undefined ? {} : { outputMode: options.outputMode }) }));
  return stages;
}

/** A window row as [startSeconds, endSeconds, action, count]. */
export function windowRow(row: Row): [number, number, unknown, unknown] {
  const w = row['window'] as { start: number; end: number };
  return [w.start / 1000, w.end / 1000, row['action'], row['count']];
}

/** Runs steps through startQuery, restarting before the listed steps; returns what each batch wrote. */
export async function runWithDriver(args: {
  steps: Row[][];
  restartBefore?: readonly number[];
  checkpointLocation: string;
  outputMode: OutputMode;
  stages: () => Transform[];
  /** The source's schema; the notebook's by default. */
  schema?: Schema;
}): Promise<Map<number, Row[]>> {
  const manager = new StreamingQueryManager();
  const written = new Map<number, Row[]>();
  let source = new MemorySource({ schema: args.schema ?? eventSchema });
  const start = async (): Promise<StreamingQuery> => {
    const sink = new MemorySink();
    sink.on('batch', (id: number, rows: Row[]) => written.set(id, rows));
    return startQuery({ source, stages: args.stages(), sink, checkpointLocation: args.checkpointLocation, outputMode: args.outputMode, manager });
  };
  let query = await start();
  for (const [i, rows] of args.steps.entries()) {
    if (args.restartBefore?.includes(i) === true) {
      await query.stop();
      source = source.reopen();
      query = await start();
    }
    source.addData(rows);
    await query.processAllAvailable();
  }
  await query.stop();
  return written;
}

/** The same run, composed by hand with stream.pipeline: no driver. */
export async function runByHand(args: {
  steps: Row[][];
  restartBefore?: readonly number[];
  checkpointLocation: string;
  outputMode: OutputMode;
  stages: () => Transform[];
}): Promise<Map<number, Row[]>> {
  const written = new Map<number, Row[]>();
  let source = new MemorySource({ schema: eventSchema });
  let head = microBatches(source, { checkpointLocation: args.checkpointLocation, outputMode: args.outputMode });
  const start = (): Promise<void> => {
    const sink = new MemorySink();
    sink.on('batch', (id: number, rows: Row[]) => written.set(id, rows));
    return pipeline([head, ...args.stages(), sink] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  };
  let running = start();
  for (const [i, rows] of args.steps.entries()) {
    if (args.restartBefore?.includes(i) === true) {
      head.stop();
      await running;
      source = source.reopen();
      head = microBatches(source, { checkpointLocation: args.checkpointLocation, outputMode: args.outputMode });
      running = start();
    }
    source.addData(rows);
    await head.whenIdle();
  }
  head.stop();
  await running;
  return written;
}

/**
 * A stage that gives every micro-batch the processing time `ms` (its
 * `begin`'s `batchTimestampMs`), as a re-executed batch has its logged one:
 * put before `ParseSchema`, it makes `maxEventTimeAhead` decide the same
 * whatever the clock.
 */
export function batchTimeAt(ms: number): Transform {
  return new Transform({
    objectMode: true,
    transform(item: StreamItem, _encoding, callback) {
      callback(null, item.kind === 'begin' ? { ...item, batchTimestampMs: ms } : item);
    },
  });
}

/**
 * The worker-thread side of partial aggregation where chunks are read (see
 * `ChunkWorkerPool`): the same `JsonReader` and `partialAggregate` the main
 * thread would run, answering with a chunk's groups only. One worker serves
 * many queries: each query opens a session with its reader options and plan.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { ChunkAggregator, type ChunkAggregatorConfig } from '../core/chunk-aggregator.js';
import type { PartialAggregates } from '../core/partial-aggregate.js';

/** What a query's chunks are read and aggregated with. */
export type ChunkSessionConfig = ChunkAggregatorConfig;

/** A chunk to read: whole lines, numbered from 1 here (the main thread knows where it starts). */
export interface ChunkRequest {
  readonly type: 'read';
  readonly session: number;
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly file: string;
  readonly fileStart: boolean;
  readonly maxLineLength: number;
  /** Processing time of the chunk's micro-batch (its `begin`'s `batchTimestampMs`), for `maxEventTimeAhead`. */
  readonly batchTimestampMs: number;
}

/** Messages a worker takes. */
export type ChunkWorkerMessage = { readonly type: 'open'; readonly session: number; readonly config: ChunkSessionConfig } | { readonly type: 'close'; readonly session: number } | ChunkRequest;

/** A worker's answer; `ok: false` when the chunk holds an error (the main thread reads it again to report it). */
export type ChunkReply =
  | { readonly seq: number; readonly ok: true; readonly lines: number; readonly records: number; readonly malformed: number; readonly groups: PartialAggregates }
  | { readonly seq: number; readonly ok: false; readonly message: string; readonly bytes: Uint8Array };

if (parentPort !== null) {
  const port = parentPort;
  const sessions = new Map<number, ChunkAggregator>();
  port.on('message', (message: ChunkWorkerMessage) => {
    if (message.type === 'open') {
      sessions.set(message.session, new ChunkAggregator(message.config));
      return;
    }
    if (message.type === 'close') {
      sessions.delete(message.session);
      return;
    }
    const request = message;
    try {
      const session = sessions.get(request.session);
      if (session === undefined) throw new Error(`no session ${request.session} on this worker`);
      const { lines, records, malformed, groups } = session.read(request.bytes, request.file, request.fileStart, request.maxLineLength, request.batchTimestampMs);
      const reply: ChunkReply = { seq: request.seq, ok: true, lines, records, malformed, groups };
      port.postMessage(reply);
    } catch (err) {
      // The bytes go back (shared, or copied when they were moved here): the main thread reads them again.
      const failed: ChunkReply = { seq: request.seq, ok: false, message: (err as Error).message, bytes: request.bytes };
      port.postMessage(failed);
    }
  });
}

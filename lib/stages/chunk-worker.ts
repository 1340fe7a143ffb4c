/**
 * The worker-thread side of partial aggregation where chunks are read (see
 * `ChunkWorkerPool`): the same `JsonReader` and `partialAggregate` the main
 * thread would run, answering with a chunk's groups only. One worker serves
 * many queries: each query opens a session with its reader options and plan.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { JsonReader, type JsonReaderOptions } from '../core/json-reader.js';
import { partialAggregate, type PartialAggregatePlan, type PartialAggregates } from '../core/partial-aggregate.js';

/** What a query's chunks are read and aggregated with. */
export interface ChunkSessionConfig {
  readonly reader: JsonReaderOptions;
  readonly plan: PartialAggregatePlan;
}

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
  /** The bytes' buffer is a read buffer moved here: send it back with the reply, for reuse. */
  readonly giveBack: boolean;
}

/** Messages a worker takes. */
export type ChunkWorkerMessage = { readonly type: 'open'; readonly session: number; readonly config: ChunkSessionConfig } | { readonly type: 'close'; readonly session: number } | ChunkRequest;

/** A worker's answer; `ok: false` when the chunk holds an error (the main thread reads it again to report it). */
export type ChunkReply =
  | { readonly seq: number; readonly ok: true; readonly lines: number; readonly records: number; readonly malformed: number; readonly groups: PartialAggregates; readonly buffer: ArrayBuffer | null }
  | { readonly seq: number; readonly ok: false; readonly message: string; readonly bytes: Uint8Array };

if (parentPort !== null) {
  const port = parentPort;
  const sessions = new Map<number, { reader: JsonReader; plan: PartialAggregatePlan }>();
  port.on('message', (message: ChunkWorkerMessage) => {
    if (message.type === 'open') {
      sessions.set(message.session, { reader: new JsonReader(message.config.reader), plan: message.config.plan });
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
      const reader = session.reader;
      // The batch is aggregated and dropped here: one builder's arrays serve every chunk.
      const builder = reader.scratchBuilder(Math.ceil(request.bytes.length / 32));
      reader.setBatchTimestamp(request.batchTimestampMs);
      const { lines, records, malformed } = reader.readChunk(request.bytes, builder, request.file, 1, request.fileStart, request.maxLineLength);
      const groups = partialAggregate(builder.finish(), session.plan);
      const buffer = request.giveBack ? (request.bytes.buffer as ArrayBuffer) : null;
      const reply: ChunkReply = { seq: request.seq, ok: true, lines, records, malformed, groups, buffer };
      port.postMessage(reply, buffer === null ? [] : [buffer]);
    } catch (err) {
      // The bytes go back: they may have been moved here, and the main thread reads them again.
      const failed: ChunkReply = { seq: request.seq, ok: false, message: (err as Error).message, bytes: request.bytes };
      port.postMessage(failed, request.giveBack ? [request.bytes.buffer as ArrayBuffer] : []);
    }
  });
}

/**
 * The worker-thread side of the count push-down (see `CountWorkers`): the
 * same `JsonReader` and `partialCount` the main thread would run, on chunks
 * sent to it, answering with the chunk's groups only.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { JsonReader, type JsonReaderOptions } from '../core/json-reader.js';
import { partialCount, type PartialCountPlan, type PartialCounts } from '../core/partial-count.js';

/** What a worker is started with. */
export interface CountWorkerData {
  readonly reader: JsonReaderOptions;
  readonly plan: PartialCountPlan;
}

/** A chunk to read: whole lines, numbered from 1 here (the main thread knows where it starts). */
export interface CountRequest {
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

/** A worker's answer; `ok: false` when the chunk holds an error (the main thread reads it again to report it). */
export type CountReply =
  | { readonly seq: number; readonly ok: true; readonly lines: number; readonly records: number; readonly malformed: number; readonly counts: PartialCounts; readonly buffer: ArrayBuffer | null }
  | { readonly seq: number; readonly ok: false; readonly message: string; readonly bytes: Uint8Array };

if (parentPort !== null) {
  const port = parentPort;
  const { reader: readerOptions, plan } = workerData as CountWorkerData;
  const reader = new JsonReader(readerOptions);
  port.on('message', (request: CountRequest) => {
    let reply: CountReply;
    try {
      // The batch is counted and dropped here: one builder's arrays serve every chunk.
      const builder = reader.scratchBuilder(Math.ceil(request.bytes.length / 32));
      reader.setBatchTimestamp(request.batchTimestampMs);
      const { lines, records, malformed } = reader.readChunk(request.bytes, builder, request.file, 1, request.fileStart, request.maxLineLength);
      const counts = partialCount(builder.finish(), plan);
      const buffer = request.giveBack ? (request.bytes.buffer as ArrayBuffer) : null;
      reply = { seq: request.seq, ok: true, lines, records, malformed, counts, buffer };
      port.postMessage(reply, buffer === null ? [] : [buffer]);
    } catch (err) {
      // The bytes go back: they may have been moved here, and the main thread reads them again.
      const failed: CountReply = { seq: request.seq, ok: false, message: (err as Error).message, bytes: request.bytes };
      port.postMessage(failed, request.giveBack ? [request.bytes.buffer as ArrayBuffer] : []);
    }
  });
}

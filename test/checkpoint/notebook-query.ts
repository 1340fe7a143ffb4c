/**
 * The CLI's notebook query (`tidemark run … --group-by action --window …
 * --watermark … --max-files-per-trigger 1 --trigger available-now`) for
 * tests that restart it from a checkpoint: the same stages as `buildQuery`,
 * counting on the test's own thread (count workers would load the
 * TypeScript sources again in every thread under the test runner).
 */
import { CheckpointSink } from '../../lib/sinks/checkpoint-sink.js';
import { FileSource } from '../../lib/sources/file-source.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { isTidemarkError, type TidemarkError } from '../../lib/errors.js';
import { StreamingQueryManager, type StartQueryOptions, type StreamingQuery } from '../../lib/query/streaming-query.js';

export function notebookQuery(o: { input: string; out: string; chk: string; window: string; watermark: string; drain?: boolean }): StartQueryOptions {
  return {
    source: new FileSource({ path: o.input, framing: 'chunks', maxFilesPerTrigger: 1 }),
    stages: [
      new ParseSchema({ schema: 'time timestamp, action string', timeZone: 'UTC', workers: 0 }),
      new Watermark({ eventTime: 'time', delay: o.watermark }),
      new Window({ timeColumn: 'time', duration: o.window }),
      new KeyedCount({ groupBy: ['action', 'window'] }),
    ],
    sink: new CheckpointSink({ path: o.out, timeZone: 'UTC' }),
    checkpointLocation: o.chk,
    outputMode: 'append',
    trigger: 'availableNow',
    ...(o.drain === undefined ? {} : { drain: o.drain }),
    manager: new StreamingQueryManager(),
  };
}

/** The error a failed query ended with (its cause, when wrapped as a query failure). */
export async function failureOf(query: StreamingQuery): Promise<TidemarkError> {
  try {
    await query.awaitTermination();
  } catch (err) {
    const cause = (err as Error).cause;
    if (isTidemarkError(err, 'ERR_QUERY_FAILED') && isTidemarkError(cause)) return cause;
    if (isTidemarkError(err)) return err;
    throw err;
  }
  throw new Error('the query did not fail');
}

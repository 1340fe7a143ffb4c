/**
 * The streams tidemark creates: the partitioned input stream of `tidemark
 * publish` (subjects `<stream>.*`, its partition count recorded in its
 * description), and the output stream of `JetStreamSink`.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { partitionedStreamDescription, partitionsOfDescription } from '../core/jetstream-offsets.js';
import type { JetStreamConnection } from './client.js';

/** What {@link ensurePartitionedStream} found or made. */
export interface PartitionedStream {
  readonly created: boolean;
  readonly replicas: number;
}

/**
 * Makes sure stream `stream` exists with subjects `<stream>.*` and
 * `partitions` partitions: creates it when missing (file storage,
 * `replicas` copies, direct get allowed), and refuses one whose recorded
 * partition count differs — publishing with another count would put a key
 * in two partitions, and its state in two processes.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` naming `--partitions` or the stream
 */
export async function ensurePartitionedStream(conn: JetStreamConnection, stream: string, partitions: number, key: string, replicas: number): Promise<PartitionedStream> {
  const { jsm } = conn;
  const existing = await conn.call(`looking up stream '${stream}'`, () => jsm.streams.info(stream)).catch((err: unknown) => {
    if (err instanceof TidemarkError && err.code === 'ERR_STREAM_NOT_FOUND') return null;
    throw err;
  });
  if (existing === null) {
    const info = await conn.call(`creating stream '${stream}'`, () =>
      jsm.streams.add({
        name: stream,
        subjects: [`${stream}.*`],
        description: partitionedStreamDescription(partitions, key),
        num_replicas: replicas,
        allow_direct: true,
      }),
    );
    return { created: true, replicas: info.config.num_replicas };
  }
  const subjects = existing.config.subjects ?? [];
  if (!subjects.includes(`${stream}.*`) && !subjects.includes(`${stream}.>`)) {
    throw new TidemarkError('ERR_INVALID_OPTION', `stream '${stream}' at ${conn.display} captures ${subjects.join(', ') || 'no subject'}, not ${stream}.*: it is not a partitioned stream tidemark can publish to`, { option: 'to' });
  }
  const recorded = partitionsOfDescription(existing.config.description);
  if (recorded !== null && recorded.partitions !== partitions) {
    throw new TidemarkError(
      'ERR_INVALID_OPTION',
      `stream '${stream}' has ${recorded.partitions} partitions (by key ${JSON.stringify(recorded.key)}), not ${partitions}: publishing with another count would put a key's events in two partitions. Publish with --partitions ${recorded.partitions}, or to a new stream`,
      { option: 'partitions' },
    );
  }
  if (recorded !== null && recorded.key !== key) {
    throw new TidemarkError('ERR_INVALID_OPTION', `stream '${stream}' is partitioned by key ${JSON.stringify(recorded.key)}, not ${JSON.stringify(key)}: publish with --key ${recorded.key}, or to a new stream`, { option: 'key' });
  }
  return { created: false, replicas: existing.config.num_replicas };
}

/** What {@link ensureSinkStream} found or made. */
export interface SinkStream {
  readonly stream: string;
  readonly created: boolean;
  /** The stream's duplicate window, in ms. */
  readonly duplicateWindowMs: number;
}

/** The name of the stream `JetStreamSink` creates for `subject`: its tokens joined by `_` (`counts.hourly` → `counts_hourly`). */
export function sinkStreamName(subject: string): string {
  return subject.replace(/\./g, '_');
}

/**
 * The stream that stores `subject`: the one that already captures it, or a
 * new one named by {@link sinkStreamName}, capturing exactly that subject,
 * with the duplicate window given.
 */
export async function ensureSinkStream(conn: JetStreamConnection, subject: string, duplicateWindowMs: number, replicas: number): Promise<SinkStream> {
  const { jsm } = conn;
  const found = await conn.call(`looking up the stream of ${subject}`, () => jsm.streams.find(subject)).catch((err: unknown) => {
    if (err instanceof TidemarkError && err.code === 'ERR_STREAM_NOT_FOUND') return null;
    if (err instanceof TidemarkError && err.code === 'ERR_NATS_REFUSED' && /no stream matches subject/i.test(err.message)) return null;
    throw err;
  });
  if (found !== null) {
    const info = await conn.call(`reading stream '${found}'`, () => jsm.streams.info(found));
    return { stream: found, created: false, duplicateWindowMs: Math.round(info.config.duplicate_window / 1e6) };
  }
  const name = sinkStreamName(subject);
  const info = await conn.call(`creating stream '${name}' for ${subject}`, () =>
    jsm.streams.add({
      name,
      subjects: [subject],
      description: `tidemark: output of queries written to ${subject}`,
      duplicate_window: duplicateWindowMs * 1e6,
      num_replicas: replicas,
      allow_direct: true,
    }),
  );
  return { stream: name, created: true, duplicateWindowMs: Math.round(info.config.duplicate_window / 1e6) };
}

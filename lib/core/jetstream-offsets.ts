/**
 * The stream-free rules of the JetStream source: its offsets (per
 * partition, the last stream sequence read, in Spark's Kafka source JSON
 * shape `{"events":{"0":1234,"1":1250}}`), `startingOffsets`, the
 * `partitions` option, `maxOffsetsPerTrigger`'s share per partition
 * (Spark's `KafkaMicroBatchStream.rateLimit`), and `nats://` addresses.
 *
 * A stream's subjects are `<stream>.<partition>`: partition `p` of stream
 * `events` is subject `events.p`. JetStream numbers messages per stream
 * (sequence 1, 2, … across all subjects), so a partition's messages have
 * increasing but not consecutive sequences: an offset says "every message
 * of this partition up to this sequence was read", and a range
 * `(start, end]` of one partition is the same messages however often it is
 * read, as long as they are kept.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

/** Per partition, the last stream sequence read (0: nothing read). */
export type PartitionOffsets = ReadonlyMap<number, number>;

/** Where a query starts when its checkpoint has no offsets yet (Spark's `startingOffsets`). */
export type StartingOffsets =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  /** Per partition: a sequence already read, or -2 (earliest) / -1 (latest), as in Spark's JSON. */
  | { readonly kind: 'specific'; readonly offsets: PartitionOffsets };

/** Spark's markers in a `startingOffsets` JSON. */
export const EARLIEST = -2;
export const LATEST = -1;

/** The offset as written to the offsets log: `{"<stream>":{"<partition>":<sequence>,…}}`, partitions ascending. */
export function formatPartitionOffsets(stream: string, offsets: PartitionOffsets): Record<string, Record<string, number>> {
  const inner: Record<string, number> = {};
  // Integer-like keys are kept in ascending order by every JSON serialiser of JavaScript objects.
  for (const p of [...offsets.keys()].sort((a, b) => a - b)) inner[String(p)] = offsets.get(p)!;
  return { [stream]: inner };
}

/**
 * Reads an offset written by {@link formatPartitionOffsets} (or given as
 * `startingOffsets`).
 *
 * @param allowMarkers accept -2/-1 (earliest/latest), as `startingOffsets` does
 * @throws TidemarkError `ERR_CHECKPOINT_CORRUPT` (or `ERR_INVALID_OPTION` with `option`) naming what is wrong
 */
export function parsePartitionOffsets(value: unknown, stream: string, where: { option?: string; allowMarkers?: boolean } = {}): Map<number, number> {
  const fail = (why: string): TidemarkError =>
    where.option === undefined
      ? new TidemarkError('ERR_CHECKPOINT_CORRUPT', `a JetStream offset in the checkpoint is unreadable: ${why}`)
      : new TidemarkError('ERR_INVALID_OPTION', `${where.option} ${why}`, { option: where.option });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`must be a JSON object like {"${stream}":{"0":42}}, got ${JSON.stringify(value)}`);
  const streams = Object.keys(value);
  const inner = (value as Record<string, unknown>)[stream];
  if (inner === undefined) throw fail(`names stream${streams.length === 1 ? '' : 's'} ${streams.map((s) => `'${s}'`).join(', ') || '(none)'}, not '${stream}'`);
  if (streams.length > 1) throw fail(`names other streams than '${stream}': ${streams.filter((s) => s !== stream).join(', ')}`);
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw fail(`must map partitions to sequences, like {"${stream}":{"0":42}}`);
  const out = new Map<number, number>();
  for (const [key, seq] of Object.entries(inner as Record<string, unknown>)) {
    if (!/^(0|[1-9]\d{0,8})$/.test(key)) throw fail(`has partition '${key}': partitions are non-negative integers`);
    const min = where.allowMarkers === true ? EARLIEST : 0;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < min) {
      throw fail(`has ${JSON.stringify(seq)} for partition ${key}: expected a stream sequence ≥ 0${where.allowMarkers === true ? ', -2 (earliest) or -1 (latest)' : ''}`);
    }
    out.set(Number(key), seq);
  }
  return out;
}

/**
 * Spark's `startingOffsets`: `earliest`, `latest`, or a JSON object (text
 * or value) of per-partition sequences, -2 meaning earliest and -1 latest.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` naming the option
 */
export function parseStartingOffsets(value: unknown, stream: string, option = 'startingOffsets'): StartingOffsets {
  if (value === undefined || value === null) return { kind: 'earliest' };
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.toLowerCase() === 'earliest') return { kind: 'earliest' };
    if (text.toLowerCase() === 'latest') return { kind: 'latest' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new TidemarkError('ERR_INVALID_OPTION', `${option} must be earliest, latest or a JSON object like {"${stream}":{"0":42,"1":-2}}, got '${value}'`, { option });
    }
    return { kind: 'specific', offsets: parsePartitionOffsets(parsed, stream, { option, allowMarkers: true }) };
  }
  return { kind: 'specific', offsets: parsePartitionOffsets(value, stream, { option, allowMarkers: true }) };
}

/**
 * A list of partitions: `"0,1,3"`, `"0-3"` (a range), or numbers. Sorted,
 * without duplicates.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` naming the option
 */
export function parsePartitionList(value: string | readonly number[], option = 'partitions'): number[] {
  const fail = (why: string): TidemarkError => new TidemarkError('ERR_INVALID_OPTION', `${option} ${why}`, { option });
  const out = new Set<number>();
  const add = (n: number, text: string): void => {
    if (!Number.isSafeInteger(n) || n < 0 || n > 999_999_999) throw fail(`must list partition numbers ≥ 0, got '${text}'`);
    out.add(n);
  };
  if (typeof value === 'string') {
    for (const part of value.split(',').map((s) => s.trim())) {
      if (part.length === 0) continue;
      const range = /^(\d+)\s*-\s*(\d+)$/.exec(part);
      if (range !== null) {
        const from = Number(range[1]);
        const to = Number(range[2]);
        if (to < from) throw fail(`has the empty range '${part}'`);
        if (to - from > 100_000) throw fail(`has a range of more than 100000 partitions: '${part}'`);
        for (let p = from; p <= to; p++) add(p, part);
      } else if (/^\d+$/.test(part)) add(Number(part), part);
      else throw fail(`must be partition numbers separated by commas (0,1,3) or a range (0-3), got '${value}'`);
    }
  } else if (Array.isArray(value)) {
    for (const n of value) add(n, String(n));
  } else throw fail(`must be a list of partition numbers, got ${JSON.stringify(value)}`);
  if (out.size === 0) throw fail('lists no partition');
  return [...out].sort((a, b) => a - b);
}

/**
 * How many messages each partition may give to a batch under
 * `maxOffsetsPerTrigger` (Spark's `rateLimit`): the limit shared in
 * proportion to what each partition has waiting, rounded down, except that
 * a partition whose share is below one message gets one (small partitions
 * are not starved), and never more than it has.
 *
 * @param available messages waiting per partition
 * @returns messages to take per partition (every partition of `available`)
 */
export function prorate(limit: number, available: ReadonlyMap<number, number>): Map<number, number> {
  let total = 0;
  for (const n of available.values()) if (n > 0) total += n;
  const out = new Map<number, number>();
  for (const [p, n] of available) {
    if (n <= 0 || total < 1) {
      out.set(p, Math.max(0, n));
      continue;
    }
    const share = limit * (n / total);
    out.set(p, Math.min(n, share < 1 ? Math.ceil(share) : Math.floor(share)));
  }
  return out;
}

/** A `nats://` address: the servers to try, and the stream or subject after the slash. */
export interface NatsAddress {
  /** `host:port` of each server (userinfo kept, for servers that need it). */
  readonly servers: readonly string[];
  /** The path: a stream name (`--input`, `--to`) or a subject (`--output`). */
  readonly name: string;
  /** The servers without credentials, for messages (`nats://127.0.0.1:4222`). */
  readonly display: string;
}

/** Whether `text` is a `nats://` address (`tidemark run --input/--output` choose NATS by it). */
export function isNatsUrl(text: string): boolean {
  return /^nats:\/\//i.test(text);
}

/**
 * Reads `nats://HOST:PORT[,HOST:PORT…]/NAME`. Several servers may be given
 * (of one cluster): the client tries them in turn and learns the others
 * from the server.
 *
 * @param what `stream` (a stream name: no `.`, `*`, `>` or spaces) or `subject` (dot-separated tokens, no wildcards)
 * @throws TidemarkError `ERR_INVALID_OPTION` naming `option`
 */
export function parseNatsUrl(url: string, what: 'stream' | 'subject', option: string): NatsAddress {
  const fail = (why: string): TidemarkError => new TidemarkError('ERR_INVALID_OPTION', `${option} ${why}`, { option });
  const match = /^nats:\/\/([^/]*)\/(.*)$/i.exec(url.trim());
  if (match === null) throw fail(`must be nats://HOST:PORT/${what === 'stream' ? 'STREAM' : 'SUBJECT'}, got '${url}'`);
  const servers = match[1]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0) throw fail(`names no server: nats://HOST:PORT/${what === 'stream' ? 'STREAM' : 'SUBJECT'}, got '${url}'`);
  for (const server of servers) {
    const hostPort = server.includes('@') ? server.slice(server.lastIndexOf('@') + 1) : server;
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/.test(hostPort)) throw fail(`has a server '${hostPort}' that is not HOST or HOST:PORT`);
    const port = /:(\d+)$/.exec(hostPort);
    if (port !== null && (Number(port[1]) < 1 || Number(port[1]) > 65535)) throw fail(`has port ${port[1]}, outside 1-65535`);
  }
  const name = decodeURIComponent(match[2]!);
  if (what === 'stream') checkStreamName(name, option);
  else checkSubject(name, option);
  const display = `nats://${servers.map((s) => (s.includes("@") ? s.slice(s.lastIndexOf("@") + 1) : s)).join(",")}`;
  return { servers, name, display };
}

/** JetStream's stream name rules: non-empty, no `.`, `*`, `>`, path separators or white space. */
export function checkStreamName(name: string, option: string): void {
  if (name.length === 0) throw new TidemarkError('ERR_INVALID_OPTION', `${option} names no stream: nats://HOST:PORT/STREAM`, { option });
  if (/[.*>/\\\s]/.test(name) || name.length > 255) {
    throw new TidemarkError('ERR_INVALID_OPTION', `${option}: '${name}' is not a JetStream stream name (no '.', '*', '>', '/', '\\' or spaces)`, { option });
  }
}

/** A NATS subject to publish to: dot-separated non-empty tokens, no wildcards or spaces. */
export function checkSubject(subject: string, option: string): void {
  if (subject.length === 0 || subject.split('.').some((t) => t.length === 0 || /[*>\s]/.test(t))) {
    throw new TidemarkError('ERR_INVALID_OPTION', `${option}: '${subject}' is not a subject to publish to (dot-separated tokens, no '*', '>' or spaces)`, { option });
  }
}

/** The subject of partition `p` of `stream`. */
export function partitionSubject(stream: string, partition: number): string {
  return `${stream}.${partition}`;
}

/** The partition a subject of `stream` stands for, or null when it is not `<stream>.<number>`. */
export function partitionOfSubject(stream: string, subject: string): number | null {
  if (!subject.startsWith(stream + '.')) return null;
  const rest = subject.slice(stream.length + 1);
  return /^(0|[1-9]\d{0,8})$/.test(rest) ? Number(rest) : null;
}

/**
 * The description `tidemark publish` gives a stream it creates, recording
 * how it is partitioned (JetStream 2.9 has no stream metadata), and reading
 * it back. A source reading "all partitions" reads those `0..P-1`.
 */
export function partitionedStreamDescription(partitions: number, key: string): string {
  return `tidemark: ${partitions} partitions by key ${JSON.stringify(key)} (Kafka's murmur2)`;
}

/** The partition count recorded by {@link partitionedStreamDescription}, or null. */
export function partitionsOfDescription(description: string | undefined): { partitions: number; key: string } | null {
  const match = /^tidemark: (\d+) partitions by key ("(?:[^"\\]|\\.)*")/.exec(description ?? '');
  if (match === null) return null;
  return { partitions: Number(match[1]), key: JSON.parse(match[2]!) as string };
}

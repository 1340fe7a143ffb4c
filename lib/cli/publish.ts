/**
 * `tidemark publish --to nats://HOST:PORT/STREAM --partitions P --key COL
 * FILES_OR_DIRS…`: publishes the events of JSON-lines files to a
 * partitioned JetStream stream, one message per line, to subject
 * `STREAM.<partition of its key>` — the stream `tidemark run --input
 * nats://…` and `JetStreamSource` read.
 *
 * The partition of a line is Kafka's default partitioner over the key's
 * text (`core/partition-hash.ts`): stable, the same as a Java producer's.
 * The stream is created when missing (subjects `STREAM.*`, P recorded in
 * its description); an existing one with another partition count is
 * refused. Each message is acknowledged by the stream, at most
 * `--max-in-flight` at a time, and carries a `Nats-Msg-Id` made of the
 * file and the line, so publishing the same files again within the
 * stream's duplicate window (2 minutes by default) adds nothing twice:
 * after a failure, run the same command again.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { TidemarkError } from '../errors.js';
import { parseNatsUrl } from '../core/jetstream-offsets.js';
import { partitionOfRecord } from '../core/partition-hash.js';
import { connectJetStream, DEFAULT_CONNECT_TIMEOUT_MS } from '../nats/client.js';
import { BoundedPublisher } from '../nats/publisher.js';
import { ensurePartitionedStream } from '../nats/streams.js';
import { integerFlag, parseCommandArgs, processIO, requiredFlag, UsageError, type CommandIO, type FlagSpec } from './args.js';

/** `tidemark publish --help`. */
export const PUBLISH_USAGE = `Usage: tidemark publish --to nats://HOST:PORT/STREAM --partitions P --key COL
                        FILES_OR_DIRS...

Publishes the events of JSON-lines files to a partitioned NATS JetStream
stream, one message per line, to subject STREAM.<partition>, where the
partition is that of the line's value of COL: Kafka's default partitioner,
(murmur2(utf8(text)) & 0x7fffffff) % P, where text is a string's characters,
another value's JSON text, and "null" for a missing or null key (and for a
line that is not a JSON object). Read the stream with
  tidemark run --input nats://HOST:PORT/STREAM [--partitions 0,1] ...

The stream is created when missing (subjects STREAM.*, P recorded in its
description); an existing stream with another partition count or key is
refused. Every message is acknowledged by the stream; each carries a
Nats-Msg-Id of its file and line, so running the same command again within
the stream's duplicate window (2 minutes unless changed) adds nothing twice.
Directories are read in file-name order (hidden files and files starting with
_ are skipped); .gz and .deflate files are decompressed; blank lines are
skipped.

Flags:
  --to URL               nats://HOST:PORT/STREAM (several servers of a cluster:
                         nats://H1:P1,H2:P2/STREAM)
  --partitions P         number of partitions (subjects STREAM.0 ... STREAM.<P-1>)
  --key COL              the field whose value chooses the partition
  --replicas N           copies of a new stream in a JetStream cluster (default 1)
  --max-in-flight N      messages awaiting their acknowledgement at once (default 256)
  --connect-timeout MS   how long to try to reach the server (default ${DEFAULT_CONNECT_TIMEOUT_MS})
  -h, --help             print this help
`;

const FLAGS: Record<string, FlagSpec> = {
  to: { type: 'string' },
  partitions: { type: 'string' },
  key: { type: 'string' },
  replicas: { type: 'string' },
  'max-in-flight': { type: 'string' },
  'connect-timeout': { type: 'string' },
};

/** Options of {@link publishFiles}. */
export interface PublishOptions {
  /** `nats://HOST:PORT/STREAM`. */
  readonly to: string;
  readonly partitions: number;
  readonly key: string;
  /** Files and directories, in order. */
  readonly inputs: readonly string[];
  readonly replicas?: number;
  readonly maxInFlight?: number;
  readonly connectTimeoutMs?: number;
}

/** What {@link publishFiles} did. */
export interface PublishSummary {
  readonly stream: string;
  readonly display: string;
  readonly created: boolean;
  readonly files: number;
  /** Messages per partition (stored or dropped as duplicates). */
  readonly perPartition: readonly number[];
  readonly stored: number;
  readonly duplicates: number;
  /** Lines that are not JSON objects (sent with the null key). */
  readonly notObjects: number;
}

/**
 * Publishes the lines of `inputs` (see the module).
 *
 * @throws TidemarkError `ERR_NATS_UNAVAILABLE` when the server cannot be reached, `ERR_INVALID_OPTION` for a bad option or a stream partitioned otherwise, `ERR_PATH_NOT_FOUND` for a missing input
 */
export async function publishFiles(options: PublishOptions): Promise<PublishSummary> {
  const address = parseNatsUrl(options.to, 'stream', 'to');
  const partitions = options.partitions;
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 100_000) {
    throw new TidemarkError('ERR_INVALID_OPTION', `partitions must be an integer from 1 to 100000, got ${partitions}`, { option: 'partitions' });
  }
  if (options.key.length === 0) throw new TidemarkError('ERR_INVALID_OPTION', 'key names no field', { option: 'key' });
  const replicas = options.replicas ?? 1;
  if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > 5) throw new TidemarkError('ERR_INVALID_OPTION', `replicas must be from 1 to 5, got ${replicas}`, { option: 'replicas' });
  const files = await listInputs(options.inputs);
  const conn = await connectJetStream({
    servers: address.servers,
    display: address.display,
    name: 'tidemark publish',
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  try {
    const stream = address.name;
    const { created } = await ensurePartitionedStream(conn, stream, partitions, options.key, replicas);
    const publisher = new BoundedPublisher(conn, options.maxInFlight ?? 256);
    const perPartition = new Array<number>(partitions).fill(0);
    let notObjects = 0;
    for (const file of files) {
      const fileId = createHash('sha256').update(file).digest('base64url').slice(0, 16);
      let lineNo = 0;
      for await (const line of fileLines(file)) {
        lineNo++;
        if (isBlank(line)) continue;
        let record: unknown = null;
        try {
          record = JSON.parse(line.toString('utf8'));
        } catch {
          record = null;
        }
        if (typeof record !== 'object' || record === null || Array.isArray(record)) notObjects++;
        const p = partitionOfRecord(record, options.key, partitions);
        perPartition[p]!++;
        await publisher.publish(`${stream}.${p}`, line, `${fileId}:${lineNo}`);
      }
    }
    const figures = await publisher.flush();
    publisher.close();
    return { stream, display: address.display, created, files: files.length, perPartition, stored: figures.stored, duplicates: figures.duplicates, notObjects };
  } finally {
    await conn.close();
  }
}

/** The summary `tidemark publish` prints. */
export function publishSummaryText(s: PublishSummary): string {
  const total = s.perPartition.reduce((a, b) => a + b, 0);
  const parts = s.perPartition.map((n, p) => `${p}: ${n}`).join(', ');
  let text = `published ${total} messages from ${s.files} ${s.files === 1 ? 'file' : 'files'} to stream ${s.stream} at ${s.display}${s.created ? ' (created)' : ''}; per partition ${parts}`;
  if (s.duplicates > 0) text += `; ${s.duplicates} already in the stream (dropped as duplicates)`;
  if (s.notObjects > 0) text += `; ${s.notObjects} lines are not JSON objects (sent where a null key goes)`;
  return text + '\n';
}

// Files in the order given; a directory's files in name order (hidden and `_` files skipped, as Hadoop does).
async function listInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const path = resolve(input);
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new TidemarkError('ERR_PATH_NOT_FOUND', `[PATH_NOT_FOUND] Path does not exist: file:${path}.`, { file: path });
    }
    if (!info.isDirectory()) {
      out.push(path);
      continue;
    }
    const names = (await readdir(path, { withFileTypes: true }))
      .filter((d) => d.isFile() && !d.name.startsWith('.') && !d.name.startsWith('_'))
      .map((d) => d.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) out.push(join(path, name));
  }
  return out;
}

// The lines of a file as bytes, without their `\n` or `\r\n` (a leading byte-order mark dropped).
async function* fileLines(path: string): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { highWaterMark: 1024 * 1024 });
  const bytes = path.endsWith('.gz') ? pipeline(raw, createGunzip(), () => {}) : path.endsWith('.deflate') ? pipeline(raw, createInflate(), () => {}) : raw;
  let carry: Buffer | null = null;
  let first = true;
  try {
    for await (const chunk of bytes as AsyncIterable<Buffer>) {
      let data: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
      carry = null;
      if (first && data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
      first = false;
      let from = 0;
      for (let nl = data.indexOf(0x0a, from); nl >= 0; nl = data.indexOf(0x0a, from)) {
        yield data.subarray(from, nl > from && data[nl - 1] === 0x0d ? nl - 1 : nl);
        from = nl + 1;
      }
      if (from < data.length) carry = Buffer.from(data.subarray(from));
    }
  } catch (err) {
    throw new TidemarkError('ERR_FILE_SOURCE', `cannot read ${path}: ${(err as Error).message}`, { file: path, cause: err });
  }
  if (carry !== null && carry.length > 0) yield carry;
}

function isBlank(line: Buffer): boolean {
  for (const b of line) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/**
 * Runs `tidemark publish` with the arguments after `publish`.
 *
 * @returns the exit status
 * @throws UsageError for a bad command line; TidemarkError when publishing fails
 */
export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const args = parseCommandArgs('publish', argv, FLAGS, Infinity);
  if (args.help) {
    io.stdout.write(PUBLISH_USAGE);
    return 0;
  }
  const to = requiredFlag('publish', args, 'to');
  const partitions = integerFlag('publish', args, 'partitions');
  if (partitions === undefined) throw new UsageError('missing required flag --partitions', 'publish');
  const key = requiredFlag('publish', args, 'key');
  if (args.positionals.length === 0) throw new UsageError('missing FILES_OR_DIRS: the JSON-lines files (or directories of them) to publish', 'publish');
  const replicas = integerFlag('publish', args, 'replicas');
  const maxInFlight = integerFlag('publish', args, 'max-in-flight');
  const connectTimeoutMs = integerFlag('publish', args, 'connect-timeout');
  const summary = await publishFiles({
    to,
    partitions,
    key,
    inputs: args.positionals,
    ...(replicas === undefined ? {} : { replicas }),
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
  });
  io.stdout.write(publishSummaryText(summary));
  return 0;
}

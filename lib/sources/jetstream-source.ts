/**
 * `JetStreamSource`: Spark's Kafka source, over a NATS JetStream stream.
 *
 * The stream's subjects are `<stream>.<partition>` (`tidemark publish`
 * creates such a stream). The source's offset is, per partition it owns,
 * the last stream sequence read, written to the offsets log in the shape of
 * Spark's Kafka offsets: `{"events":{"0":1234,"1":1250}}`. A batch reads,
 * per partition, the messages with a sequence in `(start, end]` — by an
 * ephemeral consumer filtered on the partition's subject (see
 * `nats/partition-reader.ts`) — so a batch re-executed after a crash reads
 * exactly the same messages, and the file sink stays exactly-once.
 *
 * Options as Spark's Kafka source: `startingOffsets` (`earliest`, the
 * default; `latest`; or JSON with -2 for earliest and -1 for latest per
 * partition), resolved once and kept in the checkpoint (`sources/0/0`) so a
 * restart before the first commit starts at the same place;
 * `maxOffsetsPerTrigger` (messages per batch, shared among partitions in
 * proportion to what they have waiting, as Spark shares it);
 * `failOnDataLoss`; with `Trigger.AvailableNow`, each partition is read up
 * to the last sequence it had when the run started. `partitions` is the
 * partitions this process owns (default: every partition of the stream:
 * those `tidemark publish` recorded, and any `<stream>.<n>` subject holding
 * messages, new ones included as they appear).
 *
 * Message bodies are JSON lines (one record per message as `tidemark
 * publish` writes them; a body of several lines is several records). They
 * are emitted as a `FileSource` emits files: by default (`framing:
 * 'chunks'`) as line-aligned byte chunks of consecutive messages of one
 * partition, so `ParseSchema`'s compiled scanner and the count push-down
 * read them; a chunk's `file` is `<stream>.<p> from sequence <s>` and its
 * lines count from there (a malformed record is reported as line k of it:
 * with one record per message, the k-th message of the partition from
 * sequence s). `framing: 'lines'` gives one row per line (`value`, `file`
 * = the subject, `line` = the message's sequence, `valid`).
 *
 * Several processes, each owning some partitions with its own checkpoint,
 * together compute what one process over all partitions computes when the
 * grouping keys are the partitioning key: each key's events, and so its
 * state, are in one partition. Each process's watermark is that of its own
 * partitions (as a Kafka Streams task's stream time is its own).
 *
 * A server that cannot be reached fails the query with
 * `ERR_NATS_UNAVAILABLE` after bounded retries (`connectTimeoutMs` at
 * start, `retryForMs` once running); a stream that does not exist, with
 * `ERR_STREAM_NOT_FOUND`; messages a batch needs that are gone (deleted,
 * aged out), with `ERR_DATA_LOSS` unless `failOnDataLoss` is false. Only a
 * range's last message can be checked (a partition's sequences are not
 * consecutive), so a message removed from the middle of a range is not
 * noticed.
 *
 * @module
 */
import { dirname, join } from 'node:path';
import { TidemarkError } from '../errors.js';
import { BatchBuilder, StringDictionary, type RecordBatch } from '../core/batch.js';
import { giveReadBuffer, takeReadBuffer } from '../core/read-buffers.js';
import type { Schema } from '../core/schema.js';
import {
  LATEST,
  EARLIEST,
  checkStreamName,
  formatPartitionOffsets,
  parsePartitionList,
  parsePartitionOffsets,
  parseStartingOffsets,
  partitionOfSubject,
  partitionsOfDescription,
  prorate,
  type StartingOffsets,
} from '../core/jetstream-offsets.js';
import { ensureDirectory, writeFileAtomic } from '../checkpoint/atomic-file.js';
import { readChecked } from '../checkpoint/checksum.js';
import { connectJetStream, type JetStreamConnection } from '../nats/client.js';
import { PartitionReader } from '../nats/partition-reader.js';
import { FILE_LINES_SCHEMA, fileChunksSchema } from './file-source.js';
import { SourceBase, refuseQueryOptions, sleep, type Offset, type PlanMode, type SourceContext } from './source.js';

/** Options of {@link JetStreamSource}. */
export interface JetStreamSourceOptions {
  /** The servers: `nats://HOST:PORT`, `HOST:PORT`, or a list of them (of one cluster). */
  servers: string | readonly string[];
  /** The stream; its subjects are `<stream>.<partition>`. */
  stream: string;
  /** The partitions this process reads: `[0, 1]`, `"0,1"`, `"0-3"`. Default: all of them. */
  partitions?: string | readonly number[];
  /** `earliest` (default), `latest`, or JSON such as `{"events":{"0":1200,"1":-2}}` (Spark's `startingOffsets`). */
  startingOffsets?: string | Record<string, Record<string, number>>;
  /** At most this many messages per micro-batch, over all partitions (Spark's `maxOffsetsPerTrigger`). */
  maxOffsetsPerTrigger?: number | string;
  /** Fail a batch whose messages are gone (default true), or read what is left, with a `warning`. */
  failOnDataLoss?: boolean | string;
  /** `chunks` (default): line-aligned byte chunks for `ParseSchema`'s fast path; `lines`: a row per line. */
  framing?: 'chunks' | 'lines';
  /** Longest record accepted, in bytes (default 16 MiB). */
  maxLineLength?: number;
  /** Messages per pull from the server (default 4096, at most 8 MiB). */
  fetchMessages?: number;
  /** How long the first connection is tried (default 3000 ms). */
  connectTimeoutMs?: number;
  /** How long a failing call is retried once connected, e.g. while a cluster fails over (default 30000 ms). */
  retryForMs?: number;
}

const DEFAULT_MAX_LINE_LENGTH = 16 * 1024 * 1024;
/** Chunks are cut from read buffers of this size, the one `FileSource` uses: they go round together. */
const CHUNK_BYTES = 1024 * 1024;
const LINES_PER_BATCH = 4096;
const POLL_MS = 100;
const MAX_LABELS = 4096;

/**
 * Reads a JetStream stream's partitions, micro-batch by micro-batch.
 *
 * @example
 * ```ts
 * const source = new JetStreamSource({ servers: 'nats://127.0.0.1:4222', stream: 'events', partitions: [0, 1] })
 * await startQuery({ source, stages: [new ParseSchema({ schema: 'time timestamp, action string' }), …], sink, checkpointLocation: './chk' })
 * ```
 */
export class JetStreamSource extends SourceBase {
  readonly schema: Schema;
  readonly description: string;
  /** The stream read. */
  readonly stream: string;
  /** The partitions owned, or null for all. */
  readonly partitions: readonly number[] | null;
  readonly #servers: string[];
  readonly #display: string;
  readonly #starting: StartingOffsets;
  readonly #maxOffsetsPerTrigger: number | null;
  readonly #failOnDataLoss: boolean;
  readonly #chunks: boolean;
  readonly #maxLineLength: number;
  readonly #fetchMessages: number;
  readonly #connectTimeoutMs: number | undefined;
  readonly #retryForMs: number | undefined;
  #conn: JetStreamConnection | null = null;
  readonly #readers = new Map<number, PartitionReader>();
  #declaredPartitions = 0;
  #initial: Map<number, number> | null = null;
  #initialPath: string | null = null;
  #initialChecksumRequired = true;
  #frozen: Map<number, number> | null = null;
  #lastStreamSeq = -1;
  #labels = new StringDictionary();
  #metrics: Record<string, string> = {};

  constructor(options: JetStreamSourceOptions) {
    super();
    refuseQueryOptions('JetStreamSource', options);
    if (typeof options?.stream !== 'string') throw new TidemarkError('ERR_INVALID_OPTION', 'JetStreamSource needs a stream', { option: 'stream' });
    checkStreamName(options.stream, 'stream');
    this.stream = options.stream;
    const servers = typeof options.servers === 'string' ? options.servers.split(',') : Array.isArray(options.servers) ? [...options.servers] : [];
    this.#servers = servers.map((s) => s.trim().replace(/^nats:\/\//i, '').replace(/\/$/, '')).filter((s) => s.length > 0);
    if (this.#servers.length === 0) throw new TidemarkError('ERR_INVALID_OPTION', "JetStreamSource needs servers, such as 'nats://127.0.0.1:4222'", { option: 'servers' });
    this.#display = `nats://${this.#servers.map((s) => s.slice(s.lastIndexOf('@') + 1)).join(',')}`;
    this.partitions = options.partitions === undefined ? null : parsePartitionList(options.partitions, 'partitions');
    this.#starting = parseStartingOffsets(options.startingOffsets, this.stream);
    const starting = this.#starting;
    if (starting.kind === 'specific' && this.partitions !== null) {
      const missing = this.partitions.filter((p) => !starting.offsets.has(p));
      if (missing.length > 0) {
        throw new TidemarkError('ERR_INVALID_OPTION', `startingOffsets must give every partition read; it lacks ${missing.join(', ')}`, { option: 'startingOffsets' });
      }
    }
    this.#maxOffsetsPerTrigger = options.maxOffsetsPerTrigger === undefined ? null : positiveInteger(options.maxOffsetsPerTrigger, 'maxOffsetsPerTrigger');
    this.#failOnDataLoss = booleanOption(options.failOnDataLoss ?? true, 'failOnDataLoss');
    const framing = options.framing ?? 'chunks';
    if (framing !== 'chunks' && framing !== 'lines') throw new TidemarkError('ERR_INVALID_OPTION', `framing must be 'lines' or 'chunks', got '${String(framing)}'`, { option: 'framing' });
    this.#chunks = framing === 'chunks';
    this.#maxLineLength = positiveInteger(options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH, 'maxLineLength');
    this.#fetchMessages = positiveInteger(options.fetchMessages ?? 4096, 'fetchMessages');
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#retryForMs = options.retryForMs;
    this.schema = this.#chunks ? fileChunksSchema(this.#maxLineLength) : FILE_LINES_SCHEMA;
    this.description = `JetStreamSource[${this.stream}, partitions ${this.partitions === null ? 'all' : this.partitions.join(',')}]`;
  }

  /** What is read, whatever the server's address: the stream and the partitions owned. */
  override fingerprint(): Record<string, unknown> {
    return { jetStream: this.stream, partitions: this.partitions === null ? 'all' : [...this.partitions] };
  }

  override async open(context: SourceContext): Promise<void> {
    const conn = await connectJetStream({
      servers: this.#servers,
      display: this.#display,
      name: `tidemark source ${this.stream}`,
      ...(this.#connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.#connectTimeoutMs }),
      ...(this.#retryForMs === undefined ? {} : { retryForMs: this.#retryForMs }),
    });
    this.#conn = conn;
    try {
      const info = await conn.call(`opening stream '${this.stream}'`, () => conn.jsm.streams.info(this.stream));
      const subjects = info.config.subjects ?? [];
      const covered = (p: number): boolean => subjects.some((s) => s === `${this.stream}.*` || s === `${this.stream}.>` || s === `${this.stream}.${p}`);
      const needed = this.partitions ?? [0];
      if (!needed.every(covered)) {
        throw new TidemarkError(
          'ERR_INVALID_OPTION',
          `stream '${this.stream}' at ${this.#display} captures ${subjects.join(', ') || 'no subject'}: a partitioned stream's subjects are ${this.stream}.<partition> (tidemark publish creates one)`,
          { option: 'stream' },
        );
      }
      this.#declaredPartitions = partitionsOfDescription(info.config.description)?.partitions ?? 0;
      if (context.log !== null) {
        this.#initialPath = join(context.log.directory, '0');
        this.#initialChecksumRequired = context.log.checksumsFrom <= 0;
        this.#initial = await this.#readInitial();
      }
      if (context.committedOffset !== null) parsePartitionOffsets(context.committedOffset, this.stream);
    } catch (err) {
      if (err instanceof TidemarkError && err.code === 'ERR_STREAM_NOT_FOUND') {
        await this.close();
        throw new TidemarkError('ERR_STREAM_NOT_FOUND', `there is no stream '${this.stream}' at ${this.#display}: create it by publishing to it (tidemark publish --to ${this.#display}/${this.stream} …)`, { option: 'stream', cause: err });
      }
      await this.close();
      throw err;
    }
  }

  override async prepareForAvailableNow(): Promise<void> {
    const frozen = new Map<number, number>();
    for (const p of await this.#partitionsNow(null)) frozen.set(p, await this.#lastSequence(p));
    this.#frozen = frozen;
  }

  override async latestOffset(start: Offset | null, mode: PlanMode): Promise<Offset | null> {
    const from = await this.#startOffsets(start);
    const partitions = await this.#partitionsNow(from);
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const begin = from.get(p) ?? 0;
      const last = this.#frozen !== null ? (this.#frozen.get(p) ?? 0) : await this.#lastSequence(p);
      // A partition seen for the first time joins the offsets once it has something to read.
      if (from.has(p) || last > begin) ends.set(p, Math.max(begin, last));
    }
    for (const [p, begin] of from) if (!ends.has(p)) ends.set(p, begin);
    if (mode === 'limited' && this.#maxOffsetsPerTrigger !== null) {
      const available = new Map<number, number>();
      for (const [p, end] of ends) available.set(p, end > (from.get(p) ?? 0) ? await this.#reader(p).countAfter(from.get(p) ?? 0, end) : 0);
      for (const [p, take] of prorate(this.#maxOffsetsPerTrigger, available)) {
        const begin = from.get(p) ?? 0;
        if (take < available.get(p)!) ends.set(p, await this.#reader(p).sequenceOfNth(begin, take, ends.get(p)!));
      }
    }
    return formatPartitionOffsets(this.stream, ends);
  }

  override async *getBatch(start: Offset | null, end: Offset, _batchId: number): AsyncIterable<RecordBatch> {
    const from = await this.#startOffsets(start);
    const to = parsePartitionOffsets(end, this.stream);
    for (const p of [...to.keys()].sort((a, b) => a - b)) {
      const begin = from.get(p) ?? 0;
      const upTo = to.get(p)!;
      if (upTo <= begin) continue;
      const messages = this.#reader(p).read(begin, upTo);
      yield* this.#chunks ? this.#chunksOf(p, messages) : this.#linesOf(p, messages);
    }
    this.#metrics = this.#behindMetrics([...to.keys()]);
  }

  /** Spark's Kafka source metrics for the batch just read: messages left after it in its partitions (min, max, average). */
  override metrics(): Record<string, string> {
    const metrics = this.#metrics;
    this.#metrics = {};
    return metrics;
  }

  override async waitForData(signal: AbortSignal): Promise<void> {
    const conn = this.#conn;
    while (!signal.aborted && conn !== null) {
      await sleep(POLL_MS, signal);
      if (signal.aborted) return;
      try {
        const info = await conn.jsm.streams.info(this.stream);
        if (info.state.last_seq !== this.#lastStreamSeq) return;
      } catch {
        // The next planning says what is wrong, with the retries and the error it deserves.
        return;
      }
    }
  }

  override async close(): Promise<void> {
    const readers = [...this.#readers.values()];
    this.#readers.clear();
    await Promise.all(readers.map((r) => r.close()));
    await this.#conn?.close();
    this.#conn = null;
  }

  #connection(): JetStreamConnection {
    if (this.#conn === null) throw new TidemarkError('ERR_PROTOCOL', `${this.description} was used before open() or after close()`);
    return this.#conn;
  }

  #reader(partition: number): PartitionReader {
    let reader = this.#readers.get(partition);
    if (reader === undefined) {
      reader = new PartitionReader(this.#connection(), this.stream, partition, {
        fetchMessages: this.#fetchMessages,
        onDataLoss: (problem) => {
          if (this.#failOnDataLoss) {
            throw new TidemarkError('ERR_DATA_LOSS', `Some data may have been lost: ${problem}. Set failOnDataLoss to false to read what is left.`, { option: 'failOnDataLoss' });
          }
          this.emit('warning', new TidemarkError('ERR_DATA_LOSS', `Some data may have been lost: ${problem}; reading what is left (failOnDataLoss is false)`));
        },
      });
      this.#readers.set(partition, reader);
    }
    return reader;
  }

  // The last sequence of a partition's subject (0 when it has none), with the stream's last in passing.
  async #lastSequence(partition: number): Promise<number> {
    const conn = this.#connection();
    const subject = `${this.stream}.${partition}`;
    const message = await conn.call(`reading the last message of ${subject}`, () => conn.jsm.streams.getMessage(this.stream, { last_by_subj: subject }));
    return message?.seq ?? 0;
  }

  // The partitions read now: those owned, or every one the stream has (declared, with messages, or already read).
  async #partitionsNow(from: ReadonlyMap<number, number> | null): Promise<number[]> {
    const conn = this.#connection();
    // The subjects holding messages are asked for only when they say which partitions there are.
    const info = await conn.call(`reading stream '${this.stream}'`, () => conn.jsm.streams.info(this.stream, this.partitions === null ? { subjects_filter: `${this.stream}.*` } : undefined));
    this.#lastStreamSeq = info.state.last_seq;
    if (this.partitions !== null) return [...this.partitions];
    const all = new Set<number>();
    for (let p = 0; p < this.#declaredPartitions; p++) all.add(p);
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const p = partitionOfSubject(this.stream, subject);
      if (p !== null) all.add(p);
    }
    for (const p of from?.keys() ?? []) all.add(p);
    return [...all].sort((a, b) => a - b);
  }

  // The offsets a batch starts after: the last committed ones, or where the query starts.
  async #startOffsets(start: Offset | null): Promise<Map<number, number>> {
    if (start !== null) return parsePartitionOffsets(start, this.stream);
    if (this.#initial === null) {
      this.#initial = await this.#resolveInitial();
      await this.#writeInitial(this.#initial);
    }
    return new Map(this.#initial);
  }

  // Spark's initial partition offsets: resolved once, then read from the checkpoint.
  async #resolveInitial(): Promise<Map<number, number>> {
    const partitions = await this.#partitionsNow(null);
    const out = new Map<number, number>();
    const starting = this.#starting;
    if (starting.kind === 'specific') {
      for (const [p, seq] of starting.offsets) {
        if (this.partitions !== null && !this.partitions.includes(p)) continue;
        out.set(p, seq === EARLIEST ? 0 : seq === LATEST ? await this.#lastSequence(p) : seq);
      }
      const missing = partitions.filter((p) => !out.has(p));
      if (missing.length > 0) throw new TidemarkError('ERR_INVALID_OPTION', `startingOffsets must give every partition of stream '${this.stream}' read; it lacks ${missing.join(', ')}`, { option: 'startingOffsets' });
      return out;
    }
    for (const p of partitions) out.set(p, starting.kind === 'earliest' ? 0 : await this.#lastSequence(p));
    return out;
  }

  async #readInitial(): Promise<Map<number, number> | null> {
    if (this.#initialPath === null) return null;
    let text: string;
    try {
      text = (await readChecked(this.#initialPath, this.#initialChecksumRequired)).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const match = /^v1\n(.*)\n?$/s.exec(text);
    let value: unknown;
    try {
      value = match === null ? undefined : JSON.parse(match[1]!);
    } catch {
      value = undefined;
    }
    if (value === undefined) throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `${this.#initialPath} is not a JetStream source's initial offsets (v1 and a JSON line)`, { file: this.#initialPath });
    return parsePartitionOffsets(value, this.stream);
  }

  async #writeInitial(offsets: ReadonlyMap<number, number>): Promise<void> {
    if (this.#initialPath === null) return;
    await ensureDirectory(dirname(this.#initialPath));
    await writeFileAtomic(this.#initialPath, `v1\n${JSON.stringify(formatPartitionOffsets(this.stream, offsets))}\n`, { checksum: true });
  }

  // Consecutive messages of a partition, copied into read buffers and cut at message boundaries.
  async *#chunksOf(partition: number, messages: AsyncIterable<Array<{ seq: number; data: Uint8Array }>>): AsyncIterable<RecordBatch> {
    const schema = this.schema;
    const subject = `${this.stream}.${partition}`;
    let buffer = takeReadBuffer(CHUNK_BYTES);
    let used = 0;
    let firstSeq = 0;
    const emit = (bytes: Uint8Array, seq: number): RecordBatch => {
      if (this.#labels.size > MAX_LABELS) this.#labels = new StringDictionary();
      const builder = new BatchBuilder(schema, 1, [undefined, this.#labels]);
      builder.columns[0]!.appendValue(bytes);
      builder.columns[1]!.appendString(`${subject} from sequence ${seq}`);
      // Never 0: a chunk never opens a "file" (no byte-order mark is skipped, lines count from the chunk).
      builder.columns[2]!.appendNumber(seq);
      builder.endRow();
      return builder.finish();
    };
    try {
      for await (const group of messages) {
        for (const m of group) {
          const data = m.data;
          const newline = data.length === 0 || data[data.length - 1] !== 0x0a ? 1 : 0;
          const size = data.length + newline;
          if (size > buffer.length - used && used > 0) {
            // Handed over: the reader of the chunk gives the buffer back (or moves it to a worker).
            const full = buffer.subarray(0, used);
            buffer = takeReadBuffer(CHUNK_BYTES);
            used = 0;
            yield emit(full, firstSeq);
          }
          if (size > buffer.length) {
            // A message larger than a read buffer is a chunk of its own.
            const own = new Uint8Array(size);
            own.set(data, 0);
            if (newline === 1) own[size - 1] = 0x0a;
            yield emit(own, m.seq);
            continue;
          }
          if (used === 0) firstSeq = m.seq;
          buffer.set(data, used);
          used += data.length;
          if (newline === 1) buffer[used++] = 0x0a;
        }
      }
      if (used > 0) {
        const last = buffer.subarray(0, used);
        used = -1;
        yield emit(last, firstSeq);
      }
    } finally {
      // Not handed over (nothing left in it, or the read ended early): back to the pool.
      if (used >= 0) giveReadBuffer(buffer.buffer);
    }
  }

  // One row per line: the subject as `file`, the message's sequence as `line`.
  async *#linesOf(partition: number, messages: AsyncIterable<Array<{ seq: number; data: Uint8Array }>>): AsyncIterable<RecordBatch> {
    const subject = `${this.stream}.${partition}`;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const files = new StringDictionary();
    let builder = new BatchBuilder(FILE_LINES_SCHEMA, 1024, [new StringDictionary(), files]);
    for await (const group of messages) {
      for (const m of group) {
        const data = m.data;
        let from = 0;
        while (from < data.length || (from === 0 && data.length === 0)) {
          let end = data.indexOf(0x0a, from);
          if (end < 0) end = data.length;
          const textEnd = end > from && data[end - 1] === 0x0d ? end - 1 : end;
          const bytes = data.subarray(from, textEnd);
          let value: string;
          let valid = true;
          try {
            value = decoder.decode(bytes);
          } catch {
            value = Buffer.from(bytes).toString('utf8');
            valid = false;
          }
          builder.columns[0]!.appendString(value);
          builder.columns[1]!.appendString(subject);
          builder.columns[2]!.appendNumber(m.seq);
          builder.columns[3]!.appendBoolean(valid);
          builder.endRow();
          from = end + 1;
          if (data.length === 0) break;
        }
        if (builder.length >= LINES_PER_BATCH) {
          yield builder.finish();
          builder = new BatchBuilder(FILE_LINES_SCHEMA, 1024, [new StringDictionary(), files]);
        }
      }
    }
    if (builder.length > 0) yield builder.finish();
  }

  #behindMetrics(partitions: readonly number[]): Record<string, string> {
    const behind = partitions.map((p) => this.#readers.get(p)?.behind).filter((n): n is number => n !== undefined);
    if (behind.length === 0) return {};
    const sum = behind.reduce((a, b) => a + b, 0);
    return {
      avgOffsetsBehindLatest: String(sum / behind.length),
      maxOffsetsBehindLatest: String(Math.max(...behind)),
      minOffsetsBehindLatest: String(Math.min(...behind)),
    };
  }
}

function positiveInteger(value: number | string, option: string): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new TidemarkError('ERR_INVALID_OPTION', `${option} must be a positive integer, got ${JSON.stringify(value)}`, { option });
  return n;
}

function booleanOption(value: boolean | string, option: string): boolean {
  if (typeof value === 'boolean') return value;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new TidemarkError('ERR_INVALID_OPTION', `${option} must be true or false, got ${JSON.stringify(value)}`, { option });
}

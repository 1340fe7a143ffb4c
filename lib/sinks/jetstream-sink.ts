/**
 * `JetStreamSink`: each output row as a JSON message (the JSON file sink's
 * row format) on a NATS subject, stored by JetStream.
 *
 * Exactly-once by message id: every message carries `Nats-Msg-Id:
 * <query id>:<batch id>:<row index>`, and the stream drops a message whose
 * id it stored within its duplicate window. A batch re-executed after a
 * crash produces the same rows in the same order (same offsets, same
 * state), so its messages carry the same ids and are dropped: the subject
 * holds each output row once. The window must therefore cover the time
 * from a batch's first publish to its re-execution after a restart — how
 * long a crashed process may stay down. The stream this sink creates gets
 * a window of 1 hour (`duplicateWindow`); JetStream's default, for streams
 * made otherwise, is 2 minutes. A restart later than the window may
 * publish a re-executed batch's rows a second time (Spark's Kafka sink is
 * at-least-once in every case). The query id is the checkpoint's: without
 * a checkpoint location nothing is re-executed, and nothing needs the ids.
 *
 * The stream: the one that already stores the subject, if any; otherwise
 * the sink creates one named after the subject (`counts.hourly` →
 * `counts_hourly`) that stores exactly that subject.
 *
 * Any output mode: in update and complete mode a row is an update of its
 * group, as Spark's Kafka sink writes it.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { RecordBatch } from '../core/batch.js';
import type { Schema } from '../core/schema.js';
import { windowDurationUs } from '../core/interval.js';
import { checkSubject } from '../core/jetstream-offsets.js';
import { connectJetStream, type JetStreamConnection } from '../nats/client.js';
import { BoundedPublisher } from '../nats/publisher.js';
import { ensureSinkStream } from '../nats/streams.js';
import { LineWriter } from './checkpoint-sink.js';
import { Sink, sinkTimeZone, type SinkPlan, type SinkRun } from './sink.js';

/** Options of {@link JetStreamSink}. */
export interface JetStreamSinkOptions {
  /** The servers: `nats://HOST:PORT`, `HOST:PORT`, or a list of them (of one cluster). */
  servers: string | readonly string[];
  /** The subject rows are published to. */
  subject: string;
  /** Zone of the written timestamps; the process's by default (as the JSON file sink). */
  timeZone?: string;
  /** Duplicate window of a stream the sink creates (default `1 hour`): longer than a crashed query may stay down. */
  duplicateWindow?: string;
  /** Copies of a stream the sink creates, in a JetStream cluster (default 1). */
  replicas?: number;
  /** Messages awaiting their acknowledgement at once (default 256). */
  maxInFlight?: number;
  /** How long the first connection is tried (default 3000 ms). */
  connectTimeoutMs?: number;
  /** How long a failing publish is retried once connected (default 30000 ms). */
  retryForMs?: number;
}

const DEFAULT_DUPLICATE_WINDOW = '1 hour';

/**
 * Publishes each micro-batch's rows to a subject, each row once.
 *
 * @example
 * ```ts
 * const sink = new JetStreamSink({ servers: 'nats://127.0.0.1:4222', subject: 'counts' })
 * await startQuery({ source, stages, sink, checkpointLocation: './chk', outputMode: 'update' })
 * ```
 */
export class JetStreamSink extends Sink {
  /** The subject written. */
  readonly subject: string;
  /** Zone of the written timestamps. */
  readonly timeZone: string;
  readonly #servers: string[];
  readonly #display: string;
  readonly #duplicateWindowMs: number;
  readonly #replicas: number;
  readonly #maxInFlight: number;
  readonly #connectTimeoutMs: number | undefined;
  readonly #retryForMs: number | undefined;
  readonly #writers = new WeakMap<Schema, LineWriter>();
  readonly #encoder = new TextEncoder();
  #conn: JetStreamConnection | null = null;
  #publisher: BoundedPublisher | null = null;
  #stream: string | null = null;
  #queryId = '';
  #duplicates = 0;

  constructor(options: JetStreamSinkOptions) {
    super();
    if (typeof options?.subject !== 'string') throw new TidemarkError('ERR_INVALID_OPTION', 'JetStreamSink needs a subject', { option: 'subject' });
    checkSubject(options.subject, 'subject');
    this.subject = options.subject;
    const servers = typeof options.servers === 'string' ? options.servers.split(',') : Array.isArray(options.servers) ? [...options.servers] : [];
    this.#servers = servers.map((s) => s.trim().replace(/^nats:\/\//i, '').replace(/\/$/, '')).filter((s) => s.length > 0);
    if (this.#servers.length === 0) throw new TidemarkError('ERR_INVALID_OPTION', "JetStreamSink needs servers, such as 'nats://127.0.0.1:4222'", { option: 'servers' });
    this.#display = `nats://${this.#servers.map((s) => s.slice(s.lastIndexOf('@') + 1)).join(',')}`;
    const timeZone = sinkTimeZone(options.timeZone);
    this.timeZone = timeZone;
    this.#duplicateWindowMs = Math.round(windowDurationUs(options.duplicateWindow ?? DEFAULT_DUPLICATE_WINDOW, 'duplicateWindow') / 1000);
    if (this.#duplicateWindowMs < 1000) throw new TidemarkError('ERR_INVALID_OPTION', `duplicateWindow must be at least 1 second, got '${options.duplicateWindow}'`, { option: 'duplicateWindow' });
    this.#replicas = options.replicas ?? 1;
    this.#maxInFlight = options.maxInFlight ?? 256;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#retryForMs = options.retryForMs;
  }

  override get description(): string {
    return `JetStreamSink[${this.subject}]`;
  }

  /** The stream that stores the subject, once the sink opened. */
  get stream(): string | null {
    return this.#stream;
  }

  /** Messages the stream dropped as already stored (rows of re-executed batches), this run. */
  get duplicatesDropped(): number {
    return this.#duplicates;
  }

  protected override async openSink(plan: SinkPlan, run: SinkRun): Promise<void> {
    this.#queryId = run.queryId;
    this.#conn = await connectJetStream({
      servers: this.#servers,
      display: this.#display,
      name: `tidemark sink ${this.subject}`,
      ...(this.#connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.#connectTimeoutMs }),
      ...(this.#retryForMs === undefined ? {} : { retryForMs: this.#retryForMs }),
    });
    const stream = await ensureSinkStream(this.#conn, this.subject, this.#duplicateWindowMs, this.#replicas);
    this.#stream = stream.stream;
    this.#publisher = new BoundedPublisher(this.#conn, this.#maxInFlight);
    void plan;
  }

  protected override async hasBatch(_batchId: number): Promise<boolean> {
    // The stream's duplicate window drops what a re-executed batch publishes again.
    return false;
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[]): Promise<number> {
    const publisher = this.#publisher;
    if (publisher === null) throw new TidemarkError('ERR_PROTOCOL', `${this.description} received a batch before it opened`);
    const before = publisher.figures.duplicates;
    let row = 0;
    for (const batch of batches) {
      let writer = this.#writers.get(batch.schema);
      if (writer === undefined) {
        writer = new LineWriter(batch.schema, this.timeZone);
        this.#writers.set(batch.schema, writer);
      }
      for (let i = 0; i < batch.length; i++) {
        await publisher.publish(this.subject, this.#encoder.encode(writer.line(batch, i)), `${this.#queryId}:${batchId}:${row}`);
        row++;
      }
    }
    const figures = await publisher.flush();
    this.#duplicates += figures.duplicates - before;
    return row;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#close().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  async #close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    this.#publisher?.close();
    this.#publisher = null;
    await conn?.close();
  }
}

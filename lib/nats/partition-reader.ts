/**
 * Reads one partition (one subject) of a JetStream stream by sequence
 * range: the messages of subject `<stream>.<p>` with a stream sequence in
 * `(after, upTo]`, in order, the same ones however often the range is read.
 *
 * How: an ephemeral pull consumer filtered on the subject, starting at
 * `after + 1`, without acknowledgements (nothing is removed or redelivered:
 * the source's offsets, not the consumer, say what was read). Each pull asks
 * for at most what the server said is pending, so a pull never waits for
 * messages that are not there. Reads that continue where the last one ended
 * (the usual case: batch after batch) keep the consumer and the messages it
 * already delivered past the last range (a `maxOffsetsPerTrigger` look-ahead);
 * any other range (a re-executed batch, the first read of a run) starts a
 * new consumer at its start.
 *
 * Measured here (nats-server 2.9.10, loopback, 2 busy cores, 40-byte
 * messages): pulls of 4096 messages read 45,000 to 100,000 messages/s per
 * partition, 1024 about 55,000; a direct get by subject (`next_by_subj`),
 * one request per message, about 4,000, so it is not used. Creating a
 * filtered consumer deep into a 200,000-message stream takes about 55 ms;
 * a consumer is never asked for its info (see `#pull`). Consumers are in
 * memory, one replica; the server removes one left behind by a crashed
 * process after a minute without pulls.
 *
 * A consumer lost with its server (a cluster member failing) is made again
 * after the last message received, within the connection's retry bounds.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { isTransient, natsError, type JetStreamConnection } from './client.js';
import type { Consumer } from '@nats-io/jetstream';

/** One message of a partition. */
export interface PartitionMessage {
  /** Stream sequence. */
  readonly seq: number;
  /** The body (a view the reader does not reuse). */
  readonly data: Uint8Array;
}

/** Options of {@link PartitionReader}. */
export interface PartitionReaderOptions {
  /** Messages per pull (fewer when they are large: about 8 MiB a pull). Default 4096. */
  readonly fetchMessages?: number;
  /**
   * Called when messages a range needs are gone (deleted, or aged out by the
   * stream's limits); it throws to fail the read, or returns to go on.
   */
  readonly onDataLoss: (problem: string) => void;
}

const CONSUMER_INACTIVE_NS = 60_000_000_000;
const FETCH_EXPIRES_MS = 1000;
/** About the most bytes a pull asks for (with `fetchMessages`), at the message size seen so far. */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;

/** A reader of one partition's messages by sequence range. */
export class PartitionReader {
  readonly stream: string;
  readonly partition: number;
  readonly subject: string;
  readonly #conn: JetStreamConnection;
  readonly #fetchMessages: number;
  readonly #onDataLoss: (problem: string) => void;
  #consumer: Consumer | null = null;
  #consumerName: string | null = null;
  // Messages received, not yet handed out; `#buffer[#head]` is the next one.
  #buffer: PartitionMessage[] = [];
  #head = 0;
  /** Last sequence handed out (or the start, before anything was). */
  #delivered = -1;
  /** Last sequence received from the consumer. */
  #received = -1;
  /** Messages of the partition after `#received`, as the server last said. */
  #pending = 0;
  /** Bytes a message had, on average, in the last pull (bounds what a pull asks for). */
  #messageBytes = 1024;

  constructor(conn: JetStreamConnection, stream: string, partition: number, options: PartitionReaderOptions) {
    this.#conn = conn;
    this.stream = stream;
    this.partition = partition;
    this.subject = `${stream}.${partition}`;
    this.#fetchMessages = options.fetchMessages ?? 4096;
    this.#onDataLoss = options.onDataLoss;
  }

  /** Messages of the partition after the last one handed out, as of the last pull (for `offsets behind latest`). */
  get behind(): number {
    return this.#buffer.length - this.#head + this.#pending;
  }

  /**
   * How many messages the partition holds after sequence `after`, as the
   * server last said; `latest` (the partition's last sequence, when known)
   * tells whether messages came since, and then one is pulled to ask again.
   */
  async countAfter(after: number, latest: number): Promise<number> {
    await this.#startAt(after);
    if (this.#pending === 0 && latest > this.#received) await this.#pull(true);
    return this.#buffer.length - this.#head + this.#pending;
  }

  /**
   * The sequence of the `n`-th message after `after`, at most `upTo` (or
   * the last one there is, when fewer): where a batch limited to `n`
   * messages of this partition ends. The messages read to find it are kept
   * for the read of that range.
   */
  async sequenceOfNth(after: number, n: number, upTo: number): Promise<number> {
    if (n <= 0 || upTo <= after) return after;
    await this.#startAt(after);
    for (;;) {
      const buffered = this.#buffer.length - this.#head;
      const lastBuffered = buffered === 0 ? this.#received : this.#buffer[this.#buffer.length - 1]!.seq;
      if (buffered >= n || lastBuffered >= upTo) break;
      if (!(await this.#pull(true))) break;
    }
    let seq = after;
    for (let i = this.#head, taken = 0; i < this.#buffer.length && taken < n; i++, taken++) {
      const m = this.#buffer[i]!;
      if (m.seq > upTo) break;
      seq = m.seq;
    }
    return seq;
  }

  /** The messages with a sequence in `(after, upTo]`, in order, in groups. */
  async *read(after: number, upTo: number): AsyncIterable<PartitionMessage[]> {
    if (upTo <= after) return;
    await this.#startAt(after);
    for (;;) {
      const out: PartitionMessage[] = [];
      while (this.#head < this.#buffer.length && this.#buffer[this.#head]!.seq <= upTo) out.push(this.#buffer[this.#head++]!);
      this.#compact();
      if (out.length > 0) {
        this.#delivered = out[out.length - 1]!.seq;
        yield out;
      }
      if (this.#delivered >= upTo) return;
      // The next message is past the range, or there is none: the one at `upTo` is gone.
      if (this.#head < this.#buffer.length || !(await this.#pull(true))) {
        const next = this.#head < this.#buffer.length ? `the next one kept is ${this.#buffer[this.#head]!.seq}` : 'none is kept after it';
        this.#onDataLoss(`${this.subject}: messages up to sequence ${upTo} were planned, but the last one kept is ${this.#delivered > after ? this.#delivered : `before ${after + 1}`} and ${next} (deleted, or removed by the stream's limits)`);
        this.#delivered = upTo;
        return;
      }
    }
  }

  /** Deletes the consumer (best effort: the server removes it after a minute anyway). */
  async close(): Promise<void> {
    await this.#dropConsumer();
    this.#buffer = [];
    this.#head = 0;
    this.#delivered = -1;
  }

  // Positions the reader after `after`: kept when it is already there, else a new consumer.
  async #startAt(after: number): Promise<void> {
    if (this.#consumer !== null && this.#delivered === after) return;
    this.#buffer = [];
    this.#head = 0;
    await this.#newConsumer(after);
    this.#delivered = after;
  }

  // A consumer delivering the messages after `after`, replacing any other; the buffer is kept.
  async #newConsumer(after: number): Promise<void> {
    await this.#dropConsumer();
    const { jsm, js, lib } = this.#conn;
    const info = await this.#conn.call(`reading ${this.subject} after sequence ${after}`, () =>
      jsm.consumers.add(this.stream, {
        ack_policy: lib.jetstream.AckPolicy.None,
        deliver_policy: lib.jetstream.DeliverPolicy.StartSequence,
        opt_start_seq: after + 1,
        filter_subject: this.subject,
        inactive_threshold: CONSUMER_INACTIVE_NS,
        mem_storage: true,
        num_replicas: 1,
      }),
    );
    this.#consumer = js.consumers.getConsumerFromInfo(info);
    this.#consumerName = info.name;
    this.#received = after;
    this.#pending = info.num_pending;
  }

  // One pull. It asks for what the server last said is pending (so it never waits for messages that
  // are not there) or, when that was nothing but `more` says a message is known to exist (a planned
  // range ends past what was received), for one message: its answer says again how many are pending.
  // (The consumer is never asked for its info: on nats-server 2.9 that makes its later deliveries
  // trickle, a few hundred messages a second, measured here.) A pull that brings nothing means the
  // consumer is gone (its server left the cluster) or the messages are: a new consumer after what was
  // received, made through the stream, says which. False when nothing is left after what was received.
  async #pull(more: boolean): Promise<boolean> {
    const deadline = Date.now() + this.#conn.retryForMs;
    let failure: unknown = null;
    let ask = this.#pending > 0 ? this.#ask() : more ? 1 : 0;
    while (ask > 0) {
      let got = 0;
      try {
        const batch = await this.#consumer!.fetch({ max_messages: ask, expires: FETCH_EXPIRES_MS });
        let bytes = 0;
        for await (const m of batch) {
          // Parsed from the reply subject at every call: once.
          const info = m.info;
          const seq = info.streamSequence;
          if (seq <= this.#received) continue;
          const data = m.data;
          this.#buffer.push({ seq, data });
          this.#received = seq;
          this.#pending = info.pending;
          bytes += data.length;
          got++;
        }
        if (got > 0) this.#messageBytes = Math.max(64, bytes / got);
      } catch (err) {
        // A refused pull (a bad argument) will not pass by itself; the rest may (a lost consumer, a failing server).
        if (!isTransient(err) && !(err instanceof Error && /heartbeat|consumer|closed|no responders|status/i.test(err.message))) throw natsError(err, `reading ${this.subject}`, this.#conn.display, 0, this.#conn.retryForMs);
        failure = err;
      }
      if (got > 0) return true;
      if (Date.now() > deadline) {
        throw new TidemarkError(
          'ERR_NATS_UNAVAILABLE',
          `reading ${this.subject} after sequence ${this.#received}: the NATS server at ${this.#conn.display} delivered nothing for ${Math.round(this.#conn.retryForMs / 1000)} s though messages are expected${failure instanceof Error ? ` (${failure.message})` : ''}`,
          { cause: failure },
        );
      }
      if (failure !== null) await new Promise((resolve) => setTimeout(resolve, 100));
      await this.#newConsumer(this.#received);
      ask = this.#pending > 0 ? this.#ask() : 0;
    }
    return false;
  }

  // What is pending, at most `fetchMessages`, and at most about FETCH_MAX_BYTES at the size messages had so far.
  #ask(): number {
    return Math.max(1, Math.min(this.#fetchMessages, this.#pending, Math.floor(FETCH_MAX_BYTES / this.#messageBytes)));
  }

  #compact(): void {
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
  }

  async #dropConsumer(): Promise<void> {
    const name = this.#consumerName;
    this.#consumer = null;
    this.#consumerName = null;
    if (name === null || this.#conn.nc.isClosed()) return;
    await Promise.race([this.#conn.jsm.consumers.delete(this.stream, name).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
}

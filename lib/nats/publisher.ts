/**
 * Publishing to JetStream with acknowledgements and a bounded number of
 * messages in flight, shared by `tidemark publish` and `JetStreamSink`.
 *
 * Every message carries a `Nats-Msg-Id`; the stream drops a message whose
 * id it has seen within its duplicate window. So a publish that timed out
 * (the ack lost, the cluster failing over) is simply sent again with the
 * same id, and a whole run sent again after a crash adds nothing twice, as
 * long as it comes within the window.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { isTransient, natsError, type JetStreamConnection } from './client.js';

/** What a publisher sent. */
export interface PublishFigures {
  /** Messages the stream stored. */
  readonly stored: number;
  /** Messages the stream dropped as duplicates (an id seen within its window). */
  readonly duplicates: number;
}

/** Publishes with at most `maxInFlight` messages awaiting their acknowledgement. */
export class BoundedPublisher {
  readonly #conn: JetStreamConnection;
  readonly #maxInFlight: number;
  readonly #inFlight = new Set<Promise<void>>();
  #failure: TidemarkError | null = null;
  #stored = 0;
  #duplicates = 0;

  constructor(conn: JetStreamConnection, maxInFlight = 256) {
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new TidemarkError('ERR_INVALID_OPTION', `maxInFlight must be a positive integer, got ${maxInFlight}`, { option: 'maxInFlight' });
    this.#conn = conn;
    this.#maxInFlight = maxInFlight;
  }

  /** Figures so far. */
  get figures(): PublishFigures {
    return { stored: this.#stored, duplicates: this.#duplicates };
  }

  /**
   * Sends a message; resolves once it is in flight (waiting while
   * `maxInFlight` are). A failure of an earlier message is thrown here or
   * by {@link flush}.
   */
  async publish(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    while (this.#inFlight.size >= this.#maxInFlight) {
      await Promise.race(this.#inFlight);
      if (this.#failure !== null) throw this.#failure;
    }
    const sending: Promise<void> = this.#send(subject, data, msgID).then(
      () => void this.#inFlight.delete(sending),
      (err: unknown) => {
        this.#inFlight.delete(sending);
        this.#failure ??= natsError(err, `publishing to ${subject}`, this.#conn.display, 0, this.#conn.retryForMs);
      },
    );
    this.#inFlight.add(sending);
  }

  /** Waits for every acknowledgement. @throws the first failure */
  async flush(): Promise<PublishFigures> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    if (this.#failure !== null) throw this.#failure;
    return this.figures;
  }

  // Sent again with the same id while the failure may pass (the stream drops a second copy).
  async #send(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    const deadline = Date.now() + this.#conn.retryForMs;
    let pause = 100;
    for (let attempts = 1; ; attempts++) {
      try {
        const ack = await this.#conn.js.publish(subject, data, { msgID });
        if (ack.duplicate) this.#duplicates++;
        else this.#stored++;
        return;
      } catch (err) {
        if (this.#conn.nc.isClosed() || !isTransient(err) || Date.now() + pause > deadline) throw natsError(err, `publishing to ${subject}`, this.#conn.display, isTransient(err) ? attempts : 0, this.#conn.retryForMs);
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, 2000);
      }
    }
  }
}

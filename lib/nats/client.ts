/**
 * The NATS JetStream connection that `JetStreamSource`, `JetStreamSink` and
 * `tidemark publish` share: connecting with bounded retries, JetStream API
 * calls retried while a cluster fails over, and the client's errors turned
 * into tidemark's coded ones.
 *
 * The client libraries (`@nats-io/transport-node`, `@nats-io/jetstream`)
 * are loaded when a connection is first made, so a program that reads only
 * files never loads them.
 *
 * Bounds: the first connection is tried for `connectTimeoutMs` (default
 * 3 s: a server that is down fails fast with `ERR_NATS_UNAVAILABLE`); once
 * connected, a lost connection is re-established by the client (to any
 * server of the cluster it learned of), and a call that fails while the
 * cluster recovers (no responders, a time-out, a stream without a leader)
 * is retried for `retryForMs` (default 30 s) before the query fails with
 * `ERR_NATS_UNAVAILABLE`.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';

/** The client modules, loaded on the first connection. */
export interface NatsModules {
  readonly transport: typeof import('@nats-io/transport-node');
  readonly jetstream: typeof import('@nats-io/jetstream');
}

let modules: Promise<NatsModules> | null = null;

/** Loads the NATS client modules once. */
export function natsModules(): Promise<NatsModules> {
  modules ??= Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]).then(([transport, jetstream]) => ({ transport, jetstream }));
  return modules;
}

/** Options of {@link connectJetStream}. */
export interface ConnectJetStreamOptions {
  /** `host:port` of the servers to try. */
  readonly servers: readonly string[];
  /** How the servers are named in messages (`nats://127.0.0.1:4222`). */
  readonly display: string;
  /** Who connects (shown by the server's monitoring): `tidemark source`, `tidemark publish`… */
  readonly name: string;
  /** How long the first connection is tried. Default 3000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long a call is retried while the connection or the cluster recovers. Default 30000 ms. */
  readonly retryForMs?: number;
}

/** Default of {@link ConnectJetStreamOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** Default of {@link ConnectJetStreamOptions.retryForMs}. */
export const DEFAULT_RETRY_FOR_MS = 30_000;
/** Time-out of one JetStream API request. */
const REQUEST_TIMEOUT_MS = 2000;

/** A connection to a JetStream server (or cluster). */
export class JetStreamConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly lib: NatsModules;
  /** The servers as given, for messages. */
  readonly display: string;
  readonly retryForMs: number;
  #closed = false;

  constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, lib: NatsModules, display: string, retryForMs: number) {
    this.nc = nc;
    this.js = js;
    this.jsm = jsm;
    this.lib = lib;
    this.display = display;
    this.retryForMs = retryForMs;
  }

  /**
   * Runs `op`, retrying it (with growing pauses) while it fails in a way a
   * recovering connection or cluster explains, for at most `retryForMs`.
   * Other failures are turned into coded errors at once.
   *
   * @param what what the call does, for the error (`reading partition 2 of events`)
   * @throws TidemarkError `ERR_NATS_UNAVAILABLE` when the time is up or the connection is closed; `ERR_STREAM_NOT_FOUND`, `ERR_NATS_REFUSED` for a refusal
   */
  async call<T>(what: string, op: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + this.retryForMs;
    let pause = 100;
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        return await op();
      } catch (err) {
        if (this.#closed || this.nc.isClosed() || !isTransient(err) || Date.now() + pause > deadline || signal?.aborted === true) {
          throw natsError(err, what, this.display, this.nc.isClosed() || isTransient(err) ? attempts : 0, this.retryForMs);
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, 2000);
      }
    }
  }

  /** Whether the client is connected now (false while it reconnects). */
  get connected(): boolean {
    return !this.nc.isClosed() && this.nc.getServer() !== '' && !(this.nc as { isDraining?: () => boolean }).isDraining?.();
  }

  /** Closes the connection (pending publishes are flushed first); never throws. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.nc.close().catch(() => undefined);
  }
}

/**
 * Connects to JetStream, trying for `connectTimeoutMs` with growing pauses.
 *
 * @throws TidemarkError `ERR_NATS_UNAVAILABLE` naming the servers and the last reason (connection refused, no JetStream)
 */
export async function connectJetStream(options: ConnectJetStreamOptions): Promise<JetStreamConnection> {
  const lib = await natsModules();
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const retryForMs = options.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  const started = Date.now();
  const deadline = started + connectTimeoutMs;
  let pause = 100;
  let attempts = 0;
  for (;;) {
    attempts++;
    let nc: NatsConnection | null = null;
    try {
      nc = await lib.transport.connect({
        servers: [...options.servers],
        name: options.name,
        timeout: Math.max(250, Math.min(2000, deadline - Date.now())),
        // Reconnects (to any server of the cluster) for about as long as calls are retried.
        maxReconnectAttempts: Math.max(10, Math.ceil(retryForMs / 250)),
        reconnectTimeWait: 250,
        pingInterval: 10_000,
        maxPingOut: 3,
      });
      const jsm = await lib.jetstream.jetstreamManager(nc, { timeout: REQUEST_TIMEOUT_MS });
      const js = lib.jetstream.jetstream(nc, { timeout: REQUEST_TIMEOUT_MS });
      return new JetStreamConnection(nc, js, jsm, lib, options.display, retryForMs);
    } catch (err) {
      await nc?.close().catch(() => undefined);
      if ((err as Error)?.constructor?.name === 'JetStreamNotEnabled' || /jetstream is not enabled/i.test(String((err as Error)?.message))) {
        throw new TidemarkError('ERR_NATS_UNAVAILABLE', `the NATS server at ${options.display} has no JetStream: start it with JetStream enabled (nats-server -js)`, { cause: err });
      }
      if (Date.now() + pause >= deadline) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        throw new TidemarkError(
          'ERR_NATS_UNAVAILABLE',
          `cannot reach the NATS server at ${options.display} (${reason(err)}) after ${attempts} attempt${attempts === 1 ? '' : 's'} over ${seconds} s: is nats-server running there with JetStream (nats-server -js)?`,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 1000);
    }
  }
}

/** Whether a failure may pass by itself: the connection is being re-established, or the cluster elects a leader. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.constructor?.name ?? err.name;
  if (['TimeoutError', 'NoRespondersError', 'RequestError', 'ConnectionError', 'HeartbeatsMissed'].includes(name)) return true;
  const status = (err as { status?: unknown }).status;
  const code = (err as { code?: unknown }).code;
  if (status === 503 || code === 503 || status === 408 || code === 408) return true;
  // JetStream's own words while a cluster is recovering (API error 10008: temporarily unavailable).
  if (code === 10008) return true;
  return /timeout|timed out|no responders|temporarily unavailable|not available|no leader|leader|disconnect|reconnect|heartbeats? missed/i.test(err.message);
}

/** A client error as a tidemark error. */
export function natsError(err: unknown, what: string, display: string, attempts: number, retryForMs: number): TidemarkError {
  if (err instanceof TidemarkError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const name = e.constructor?.name ?? e.name;
  if (name === 'StreamNotFoundError' || (e as { code?: unknown }).code === 10059) {
    return new TidemarkError('ERR_STREAM_NOT_FOUND', `${what}: the NATS server at ${display} has no such stream (${e.message})`, { cause: e });
  }
  if (attempts > 0 || name === 'ClosedConnectionError') {
    return new TidemarkError(
      'ERR_NATS_UNAVAILABLE',
      `${what}: the NATS server at ${display} did not answer (${reason(e)})${attempts > 1 ? ` after ${attempts} attempts over ${Math.round(retryForMs / 1000)} s` : ''}`,
      { cause: e },
    );
  }
  return new TidemarkError('ERR_NATS_REFUSED', `${what}: the NATS server at ${display} refused: ${e.message}`, { cause: e });
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${err.message}, ${code}` : err.message;
}

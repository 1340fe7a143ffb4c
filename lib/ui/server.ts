/**
 * The live view: a read-only web page, served by the process itself, that
 * shows a manager's queries as Spark's Structured Streaming tab does, live
 * through Server-Sent Events, and `GET /api/queries` for scripts.
 *
 * Safe by default: loopback only unless a token is given (then every request
 * must carry it), a `Host` check against DNS rebinding on loopback, a strict
 * Content-Security-Policy, nothing loaded from elsewhere. The page renders
 * every string it receives as text.
 *
 * Routes (GET and HEAD only):
 * - `/` the page; `/assets/*` its script, style and uPlot
 * - `/api/queries` every run: `id`, `runId`, `name`, `state`, `status`, `startedAtMs`, `endedAtMs`, `exception`, `recentProgress`
 * - `/api/queries/<runId or id>` one run, with `plan` and `output`
 * - `/api/events` Server-Sent Events: `snapshot` on connect, then `started`, `progress`, `terminated`
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TidemarkError } from '../errors.js';
import { streams, type StreamingQueryManager } from '../query/streaming-query.js';
import { hostTimeZone } from '../host-time-zone.js';
import { QueryBoard, type BoardEvent } from './board.js';

/** Options of {@link serveUi}. */
export interface ServeUiOptions {
  /** Whose queries to show; the process-wide `streams` by default. */
  manager?: StreamingQueryManager;
  /** Address to listen on; default `127.0.0.1`. Anything but a loopback address needs a `token`. */
  host?: string;
  /** Port; default 4040 (Spark's UI port); 0 takes any free port (see `url`). */
  port?: number;
  /**
   * A secret every request must carry: `Authorization: Bearer TOKEN`, or
   * `?token=TOKEN` (the page passes it on by itself when opened with it).
   */
  token?: string;
  /** Zone of timestamps in the output table; default the process's. */
  timeZone?: string;
}

/** A running live view. */
export interface UiServer {
  /** The page's address, with `?token=…` when there is a token: open it as is. */
  readonly url: string;
  readonly host: string;
  /** The port listened on (the one chosen, when 0 was asked). */
  readonly port: number;
  /** Stops serving: ends the live connections and stops listening. Idempotent. */
  close(): Promise<void>;
}

/** Spark's UI port. */
export const DEFAULT_UI_PORT = 4040;
/** Loopback: reachable from this machine only. */
export const DEFAULT_UI_HOST = '127.0.0.1';
/** Live connections served at once; more are refused with 503 rather than hold sockets without bound. */
const MAX_EVENT_STREAMS = 64;
/** An SSE comment this often keeps idle connections (and proxies) from timing out. */
const HEARTBEAT_MS = 15_000;

// The page's own files, at the package root, found through the package's own name: the same from
// lib/ui (tests), dist/ui (the library) and the CLI's bundle at dist/.
const PAGE_DIR = new URL('ui/', import.meta.resolve('tidemark/package.json'));
const require = createRequire(import.meta.url);

interface Asset {
  readonly type: string;
  readonly path: () => string;
}

const ASSETS: Readonly<Record<string, Asset>> = {
  '/assets/app.js': { type: 'text/javascript; charset=utf-8', path: () => fileURLToPath(new URL('app.js', PAGE_DIR)) },
  '/assets/style.css': { type: 'text/css; charset=utf-8', path: () => fileURLToPath(new URL('style.css', PAGE_DIR)) },
  // uPlot is a dependency, served from where npm put it: no copy of its code lives in this repository.
  '/assets/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', path: () => require.resolve('uplot/dist/uPlot.iife.min.js') },
  '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', path: () => require.resolve('uplot/dist/uPlot.min.css') },
};

const PAGE: Asset = { type: 'text/html; charset=utf-8', path: () => fileURLToPath(new URL('index.html', PAGE_DIR)) };

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** True for addresses only this machine can reach: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.toLowerCase() === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // The URL parser writes IPv6 addresses one way: [::1], and [::ffff:7f00:1] for ::ffff:127.0.0.1.
    const canonical = new URL(`http://[${h}]/`).hostname;
    return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
  }
  return false;
}

/**
 * Serves the live view of `manager`'s queries (active now, started later,
 * and finished ones it saw).
 *
 * @example
 * ```ts
 * const ui = await serveUi({ port: 4040 })   // http://127.0.0.1:4040/
 * const query = await startQuery({ … })
 * …
 * await ui.close()
 * ```
 * @throws TidemarkError `ERR_UI_NEEDS_TOKEN` for a non-loopback host without a token;
 *   `ERR_UI_PORT_IN_USE` when the port is taken (another UI, another program);
 *   `ERR_INVALID_OPTION` for a bad port or token, or an address this machine cannot listen on
 */
export async function serveUi(options: ServeUiOptions = {}): Promise<UiServer> {
  const host = options.host ?? DEFAULT_UI_HOST;
  const port = options.port ?? DEFAULT_UI_PORT;
  const token = options.token;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TidemarkError('ERR_INVALID_OPTION', `UI port must be an integer from 0 to 65535, got ${String(port)}`, { option: 'port' });
  }
  if (typeof host !== 'string' || host.length === 0) {
    throw new TidemarkError('ERR_INVALID_OPTION', 'UI host must be a non-empty address, e.g. 127.0.0.1', { option: 'host' });
  }
  if (token !== undefined && (typeof token !== 'string' || token.length === 0)) {
    throw new TidemarkError('ERR_INVALID_OPTION', 'UI token must be a non-empty string', { option: 'token' });
  }
  const loopback = isLoopbackHost(host);
  if (!loopback && token === undefined) {
    throw new TidemarkError(
      'ERR_UI_NEEDS_TOKEN',
      `The UI would listen on ${host}, which other machines can reach, without a token: anyone reaching it could watch the queries and their data. ` +
        `Give a token (serveUi({ token }), tidemark run --ui-token TOKEN or TIDEMARK_UI_TOKEN), or listen on 127.0.0.1`,
      { option: 'token' },
    );
  }
  const manager = options.manager ?? streams;
  const board = new QueryBoard(manager, { timeZone: options.timeZone ?? hostTimeZone() });
  const bindHost = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const tokenDigest = token === undefined ? null : digest(token);
  const eventStreams = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `tidemark UI: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    }
  });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'tidemark UI is read-only: GET and HEAD only\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    if (loopback && !allowedLoopbackHost(req.headers.host)) {
      // A page on another site whose name resolves to 127.0.0.1 (DNS rebinding) must not read the queries.
      send(res, 403, 'text/plain; charset=utf-8', 'tidemark UI answers only to loopback host names (localhost, 127.0.0.1, [::1])\n');
      return;
    }
    if (tokenDigest !== null && !authorised(req, url, tokenDigest)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="tidemark"');
      send(res, 401, 'text/plain; charset=utf-8', 'tidemark UI needs its token: open the address printed at start (…/?token=…), or send Authorization: Bearer TOKEN\n');
      return;
    }
    const path = url.pathname;
    if (path === '/' || path === '/index.html') {
      void page(token).then(
        (html) => send(res, 200, 'text/html; charset=utf-8', html, req.method === 'HEAD'),
        (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `tidemark UI: cannot read its page: ${String(err)}\n`),
      );
      return;
    }
    const asset = Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
    if (asset !== undefined) {
      void readAsset(asset).then(
        (body) => send(res, 200, asset.type, body, req.method === 'HEAD'),
        (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `tidemark UI: cannot read ${path}: ${String(err)}\n`),
      );
      return;
    }
    if (path === '/api/queries') {
      sendJson(res, board.list(), req.method === 'HEAD');
      return;
    }
    if (path.startsWith('/api/queries/')) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/api/queries/'.length));
      } catch {
        id = '';
      }
      const found = id === '' ? null : board.find(id);
      if (found === null) send(res, 404, 'application/json; charset=utf-8', JSON.stringify({ error: 'no such query' }) + '\n');
      else sendJson(res, found, req.method === 'HEAD');
      return;
    }
    if (path === '/api/events') {
      openEventStream(req, res);
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  const openEventStream = (req: IncomingMessage, res: ServerResponse): void => {
    if (eventStreams.size >= MAX_EVENT_STREAMS) {
      send(res, 503, 'text/plain; charset=utf-8', `tidemark UI serves at most ${MAX_EVENT_STREAMS} live pages at once\n`);
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    eventStreams.add(res);
    res.write(sse('snapshot', { nowMs: Date.now(), queries: board.details() }));
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      eventStreams.delete(res);
    });
  };
  // Each event is serialised once, whatever the number of pages open.
  board.subscribe((event) => {
    if (eventStreams.size === 0) return;
    const message = sseOf(event);
    for (const res of eventStreams) res.write(message);
  });

  try {
    await listen(server, bindHost, port);
  } catch (err) {
    board.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new TidemarkError(
        'ERR_UI_PORT_IN_USE',
        `Cannot serve the UI on ${hostForUrl(host)}:${port}: the port is in use (another tidemark UI, or another program). Choose another port (e.g. --ui ${hostForUrl(host)}:${port + 1}), or 0 for any free port`,
        { option: 'port', cause: err },
      );
    }
    throw new TidemarkError('ERR_INVALID_OPTION', `Cannot serve the UI on ${hostForUrl(host)}:${port}: ${(err as Error).message}`, { option: 'host', cause: err });
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  // An unspecified address (0.0.0.0, ::) listens everywhere; this machine opens it through loopback.
  const urlHost = bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost === '::' ? '[::1]' : hostForUrl(host);
  const url = `http://${urlHost}:${actualPort}/${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;
  let closing: Promise<void> | null = null;
  return {
    url,
    host,
    port: actualPort,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        board.close();
        for (const res of eventStreams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // exclusive: a second UI on the same port in a cluster worker must fail too, not share the port.
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function allowedLoopbackHost(header: string | undefined): boolean {
  if (header === undefined) return true; // HTTP/1.0 clients (curl -0) send none; browsers always do.
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d+$/, '');
  return isLoopbackHost(name);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function authorised(req: IncomingMessage, url: URL, expected: Buffer): boolean {
  const header = req.headers.authorization;
  const bearer = header !== undefined && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '') : null;
  const given = bearer ?? url.searchParams.get('token');
  // Compared as digests so the time taken says nothing about the token.
  return given !== null && timingSafeEqual(digest(given), expected);
}

const assetCache = new Map<string, Promise<Buffer>>();

function readAsset(asset: Asset): Promise<Buffer> {
  const path = asset.path();
  let body = assetCache.get(path);
  if (body === undefined) {
    body = readFile(path);
    body.catch(() => assetCache.delete(path));
    assetCache.set(path, body);
  }
  return body;
}

async function page(token: string | undefined): Promise<string> {
  const html = (await readAsset(PAGE)).toString('utf8');
  // Assets need the token as much as the API does; encodeURIComponent leaves nothing that could end the attribute.
  return html.replaceAll('{{TOKEN_QUERY}}', token === undefined ? '' : `?token=${encodeURIComponent(token)}`);
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headOnly = false): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(headOnly ? undefined : body);
}

function sendJson(res: ServerResponse, value: unknown, headOnly: boolean): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value) + '\n', headOnly);
}

function sse(event: string, data: unknown): string {
  // JSON has no raw newlines, so one data line carries the whole message.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function sseOf(event: BoardEvent): string {
  switch (event.kind) {
    case 'started':
      return sse('started', event.query);
    case 'progress':
      return sse('progress', { runId: event.runId, progress: event.progress, status: event.status, output: event.output });
    case 'terminated':
      return sse('terminated', { runId: event.runId, state: event.state, status: event.status, endedAtMs: event.endedAtMs, exception: event.exception });
  }
}

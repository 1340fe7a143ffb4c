/**
 * Real NATS servers for the tests: `nats-server -js` on a free loopback
 * port with a temporary store directory, or a 3-server JetStream cluster,
 * started and stopped by the tests themselves, with bounded waits.
 *
 * Without `nats-server` the NATS tests skip, saying what to install —
 * unless `TIDEMARK_REQUIRE_NATS=1` (set by `.ci/run`, which installs it),
 * where a missing server fails them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

function findServer(): string | null {
  const explicit = process.env['TIDEMARK_NATS_SERVER'];
  if (explicit !== undefined && explicit.length > 0) return explicit;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const path = join(dir, 'nats-server');
    if (dir.length > 0 && existsSync(path)) return path;
  }
  return null;
}

/** The `nats-server` binary: `TIDEMARK_NATS_SERVER`, or the first on the PATH (or in /usr/sbin, where Debian puts it). */
export const natsServerPath: string | null = findServer();

const required = process.env['TIDEMARK_REQUIRE_NATS'] === '1';

/** A tap `skip` option: the reason to skip, or false to run. */
export const natsSkip: string | false =
  natsServerPath !== null || required ? false : "no nats-server found: install Debian's nats-server (apt-get install -y nats-server) or set TIDEMARK_NATS_SERVER";

/** How long a server may take to start, or to stop before it is killed. */
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

const running = new Set<ChildProcess>();
// A test process that ends (or fails) leaves no server behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One running server. */
export interface NatsServer {
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** The server's store directory (removed by {@link NatsServer.stop}). */
  readonly storeDir: string;
  /** The process. */
  readonly process: ChildProcess;
  /** Everything the server printed. */
  log(): string;
  /** Kills it at once (SIGKILL), as a crash would; its store stays. */
  kill(): Promise<void>;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its store. */
  stop(): Promise<void>;
}

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** Client port; a free one by default. */
  readonly port?: number;
  /** Store directory; a new temporary one by default. */
  readonly storeDir?: string;
  /** Extra arguments (cluster flags). */
  readonly args?: readonly string[];
  /** Wait for this line in the log too (a cluster's leader election). */
  readonly readyPattern?: RegExp;
}

/** Starts `nats-server -js` on loopback; resolves once it accepts clients. */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServer> {
  if (natsServerPath === null) throw new Error("TIDEMARK_REQUIRE_NATS=1 but no nats-server found: install it (apt-get install -y nats-server) or set TIDEMARK_NATS_SERVER");
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), 'tidemark-nats-')));
  const args = ['-js', '-a', '127.0.0.1', '-p', String(options.port ?? -1), '-sd', storeDir, ...(options.args ?? [])];
  const child = spawn(natsServerPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => (running.delete(child), resolve())));
  const port = await new Promise<number>((resolve, reject) => {
    let listening: number | null = null;
    const timer = setTimeout(() => fail(new Error(`nats-server did not start within ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8');
      const match = /Listening for client connections on [^\s]+:(\d+)/.exec(log);
      if (match !== null) listening = Number(match[1]);
      if (listening !== null && /Server is ready/.test(log) && (options.readyPattern === undefined || options.readyPattern.test(log))) {
        clearTimeout(timer);
        resolve(listening);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => fail(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${log}`)));
  });
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    log: () => log,
    kill: () => stopWith('SIGKILL'),
    stop: async () => {
      await stopWith('SIGTERM');
      if (options.storeDir === undefined) await rm(storeDir, { recursive: true, force: true });
    },
  };
}

/** A free loopback TCP port (closed again: free until someone takes it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A JetStream cluster on loopback. */
export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** `nats://127.0.0.1:P1,127.0.0.1:P2,…`: every server, as a client is given them. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `size` servers routed into one JetStream cluster; resolves once a metadata leader is elected. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const servers = await Promise.all(
    clientPorts.map((port, i) =>
      startNats({
        port,
        args: ['-n', `s${i + 1}`, '--cluster_name', 'tidemark', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes],
        readyPattern: /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/,
      }),
    ),
  );
  return {
    servers,
    url: `nats://${clientPorts.map((p) => `127.0.0.1:${p}`).join(',')}`,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

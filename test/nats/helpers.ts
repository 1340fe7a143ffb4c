/**
 * What the NATS tests share: a client for the test's own server, streams
 * and messages made directly, and the rows a source's batches carry.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import type { RecordBatch } from '../../lib/core/batch.js';
import { connectJetStream, type JetStreamConnection } from '../../lib/nats/client.js';
import { ensurePartitionedStream } from '../../lib/nats/streams.js';
import type { Offset, Source } from '../../lib/sources/source.js';

/** A connection to `url` (`nats://127.0.0.1:PORT`, or several servers separated by commas). */
export function client(url: string): Promise<JetStreamConnection> {
  const servers = url.replace(/^nats:\/\//, '').split(',');
  return connectJetStream({ servers, display: url, name: 'tidemark test' });
}

/** Creates the partitioned stream `stream` (subjects `stream.*`), as `tidemark publish` does. */
export async function partitionedStream(conn: JetStreamConnection, stream: string, partitions: number, replicas = 1): Promise<void> {
  await ensurePartitionedStream(conn, stream, partitions, 'key', replicas);
}

/** Publishes each [partition, body] in order; returns their stream sequences. */
export async function publish(conn: JetStreamConnection, stream: string, messages: ReadonlyArray<readonly [number, string | object]>): Promise<number[]> {
  const seqs: number[] = [];
  for (const [p, body] of messages) {
    const ack = await conn.js.publish(`${stream}.${p}`, typeof body === 'string' ? body : JSON.stringify(body));
    seqs.push(ack.seq);
  }
  return seqs;
}

/** The lines a batch carries: a chunk's lines (without their newline), or a `value` column's rows. */
export function linesOf(batches: readonly RecordBatch[]): string[] {
  const out: string[] = [];
  for (const batch of batches) {
    for (let i = 0; i < batch.length; i++) {
      const row = batch.row(i);
      if (row['chunk'] instanceof Uint8Array) {
        const text = Buffer.from(row['chunk']).toString('utf8');
        for (const line of text.split('\n').slice(0, -1)) out.push(line);
      } else out.push(row['value'] as string);
    }
  }
  return out;
}

/**
 * A chunk's bytes are handed over to their reader, which may reuse the
 * buffer: what `getBatch` yields is read (copied into lines) as it comes.
 */
export async function readBatch(source: Source, start: Offset | null, end: Offset, batchId = 0): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of source.getBatch(start, end, batchId)) out.push(...linesOf([batch]));
  return out;
}


/** The built command (`npm test` builds first). */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** How a CLI run ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** When to send SIGKILL: after a delay, once a checkpoint has committed some batches (and then a delay), or when `when` resolves. */
export type Kill = { afterMs: number } | { chk: string; batches: number; thenMs?: number } | { when: Promise<unknown> };

/** Runs `tidemark ARGS` (TZ=UTC); with `kill`, sends SIGKILL at that point if it still runs. */
export function runCli(args: readonly string[], kill?: Kill): Promise<Exit> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (kill !== undefined && 'afterMs' in kill) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    if (kill !== undefined && 'when' in kill) void kill.when.then(() => done || child.kill('SIGKILL'));
    if (kill !== undefined && 'chk' in kill) {
      void (async () => {
        while (!done && (await committedBatches(kill.chk)) < kill.batches) await new Promise((r) => setTimeout(r, 5));
        if (kill.thenMs !== undefined) await new Promise((r) => setTimeout(r, kill.thenMs));
        if (!done) child.kill('SIGKILL');
      })();
    }
    child.on('close', (code, signal) => {
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Micro-batches committed in a checkpoint so far. */
export async function committedBatches(chk: string): Promise<number> {
  try {
    return (await readdir(join(chk, 'commits'))).filter((f) => /^\d+$/.test(f)).length;
  } catch {
    return 0;
  }
}

/** The committed rows of JSON output directories, as sorted lines (a multiset). */
export async function committedLines(...dirs: string[]): Promise<string[]> {
  const rows: string[] = [];
  for (const dir of dirs) for await (const { text } of readCommittedJsonLines(dir)) if (text.length > 0) rows.push(text);
  return rows.sort();
}

/** The notebook's query (`tidemark run`), counting per action and 5-minute window, drained at the end. */
export function queryArgs(input: string, out: string, chk: string, extra: readonly string[] = []): string[] {
  return [
    'run',
    '--input', input,
    '--schema', 'time timestamp, action string',
    '--group-by', 'action',
    '--window', '5 minutes',
    '--watermark', '10 minutes',
    '--output-mode', 'append',
    '--output', out,
    '--checkpoint', chk,
    '--trigger', 'available-now',
    '--drain',
    ...extra,
  ];
}

export { mulberry32 as prng } from '../../lib/core/prng.js';

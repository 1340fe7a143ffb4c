/**
 * The checkpoint store: Spark's checkpoint layout, written crash-safely.
 *
 * ```
 * <dir>/metadata                      {"id":"<query id>"}
 * <dir>/offsets/<N>                   v1 \n {"batchWatermarkMs":…,"batchTimestampMs":…,"conf":{…}} \n <source offset JSON>…
 * <dir>/commits/<N>                   v1 \n {"nextBatchWatermarkMs":…}
 * <dir>/state/<opId>/0/<N+1>.json     stage snapshot after batch N
 * <dir>/sources/<i>/…                 a source's own log
 * ```
 *
 * Order of a micro-batch: offsets/N (write-ahead) → the batch runs → the
 * sink writes its output → state files → commits/N last. On restart a batch
 * with offsets but no commit is re-executed with the same offsets and
 * watermark; stage state comes from the last commit.
 *
 * Without a location the same store lives in memory (console and memory
 * sinks, tests), so every run has one code path.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open as openFile, readdir, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { TidemarkError } from '../errors.js';
import type { BarrierItem, StageSnapshot } from '../protocol.js';
import { ensureDirectory, publishFiles, stageFile, writeFileAtomic, type StagedFile } from './atomic-file.js';

/** `offsets/N`: what batch N reads and with which watermark; written before the batch runs. */
export interface OffsetLogEntry {
  readonly batchWatermarkMs: number;
  readonly batchTimestampMs: number;
  /** Settings fixed by the first run (Spark records e.g. the shuffle partitions); later runs use these. */
  readonly conf: Readonly<Record<string, string>>;
  /** End offset of each source (JSON values); null for a source that has had no data yet. */
  readonly sourceOffsets: readonly unknown[];
}

/** `commits/N`. */
export interface CommitLogEntry {
  readonly nextBatchWatermarkMs: number;
}

/** What a checkpoint holds when a run starts. */
export interface CheckpointRecovery {
  /** The last committed batch, with the stage snapshots taken at its barrier. */
  readonly lastCommitted: {
    readonly batchId: number;
    readonly offsets: OffsetLogEntry;
    readonly commit: CommitLogEntry;
    readonly snapshots: Readonly<Record<string, StageSnapshot>>;
  } | null;
  /** A planned batch that did not commit: to be re-executed exactly. */
  readonly pending: { readonly batchId: number; readonly offsets: OffsetLogEntry } | null;
}

/** How many batches of logs and state are kept (Spark's `minBatchesToRetain`). */
export const MIN_BATCHES_TO_RETAIN = 100;

const VERSION_LINE = 'v1';
const LOCK_FILE = '.lock';

// Checkpoints this process holds, with how many open handles: a new run of a
// query may open its checkpoint while the old run is still stopping.
const heldLocks = new Map<string, number>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// One process per checkpoint: a lock file naming the owner. A lock left by a
// process that died (kill -9) is taken over; one held by a live process is refused.
async function acquireLock(dir: string): Promise<void> {
  const held = heldLocks.get(dir);
  if (held !== undefined) {
    heldLocks.set(dir, held + 1);
    return;
  }
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await openFile(path, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString() }) + '\n');
      await handle.close();
      heldLocks.set(dir, 1);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: { pid?: number; hostname?: string; since?: string } = {};
    try {
      owner = JSON.parse(await readFile(path, 'utf8')) as typeof owner;
    } catch {
      // A lock file cut short by a crash names no one: stale.
    }
    const alive = typeof owner.pid === 'number' && owner.pid !== process.pid && (owner.hostname !== hostname() || processAlive(owner.pid));
    if (alive) {
      throw new TidemarkError(
        'ERR_CHECKPOINT_LOCKED',
        `checkpoint ${dir} is in use by process ${owner.pid} on ${owner.hostname ?? 'an unknown host'} (since ${owner.since ?? 'unknown'}): stop that query first, or delete ${path} if it is gone`,
        { file: path },
      );
    }
    await rm(path, { force: true });
  }
  throw new TidemarkError('ERR_CHECKPOINT_LOCKED', `could not lock checkpoint ${dir}`, { file: path });
}

async function releaseLock(dir: string): Promise<void> {
  const held = heldLocks.get(dir);
  if (held === undefined) return;
  if (held > 1) {
    heldLocks.set(dir, held - 1);
    return;
  }
  heldLocks.delete(dir);
  await rm(join(dir, LOCK_FILE), { force: true });
}

/** One query's checkpoint, on disk or in memory. */
export class Checkpoint extends EventEmitter {
  /** Directory, or null for an in-memory checkpoint. */
  readonly location: string | null;
  /** The query id, stable across restarts. */
  readonly id: string;
  // In-memory logs (the only copy when location is null; a cache otherwise).
  readonly #offsets = new Map<number, OffsetLogEntry>();
  readonly #commits = new Map<number, CommitLogEntry>();
  readonly #state = new Map<number, Record<string, StageSnapshot>>();
  readonly #commitWaiters = new Map<number, Array<{ resolve: (b: BarrierItem) => void; reject: (e: Error) => void }>>();
  #closedWith: Error | null = null;
  #locked = false;

  private constructor(location: string | null, id: string) {
    super();
    this.location = location;
    this.id = id;
  }

  /** Opens (creating when needed) the checkpoint at `location`, or an in-memory one when `location` is null. */
  static async open(location: string | null): Promise<Checkpoint> {
    if (location === null) return new Checkpoint(null, randomUUID());
    const dir = resolve(location);
    await ensureDirectory(dir);
    await acquireLock(dir);
    try {
      return await Checkpoint.#openLocked(dir);
    } catch (err) {
      await releaseLock(dir);
      throw err;
    }
  }

  static async #openLocked(dir: string): Promise<Checkpoint> {
    const metadataPath = join(dir, 'metadata');
    let id: string;
    try {
      const parsed = JSON.parse(await readFile(metadataPath, 'utf8')) as { id?: unknown };
      if (typeof parsed.id !== 'string') throw new Error('no id');
      id = parsed.id;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `checkpoint metadata ${metadataPath} is unreadable: ${(err as Error).message}`, { file: metadataPath, cause: err });
      }
      id = randomUUID();
      await writeFileAtomic(metadataPath, JSON.stringify({ id }) + '\n');
    }
    for (const sub of ['offsets', 'commits', 'state', 'sources']) await ensureDirectory(join(dir, sub));
    const checkpoint = new Checkpoint(dir, id);
    checkpoint.#locked = true;
    return checkpoint;
  }

  /** Releases this handle's hold on the checkpoint (the lock file goes with the last handle of the process). Idempotent. */
  async close(): Promise<void> {
    if (!this.#locked || this.location === null) return;
    this.#locked = false;
    await releaseLock(this.location);
  }

  /** Folder for source `index`'s own log. */
  sourceDirectory(index: number): string | null {
    return this.location === null ? null : join(this.location, 'sources', String(index));
  }

  /** Reads where a run must resume. */
  async recover(): Promise<CheckpointRecovery> {
    const offsetIds = await this.#batchIds('offsets', this.#offsets);
    const commitIds = await this.#batchIds('commits', this.#commits);
    const lastOffsets = offsetIds.length > 0 ? offsetIds[offsetIds.length - 1]! : -1;
    const lastCommit = commitIds.length > 0 ? commitIds[commitIds.length - 1]! : -1;
    if (lastOffsets < 0) {
      if (lastCommit >= 0) throw this.#corrupt(`commits/${lastCommit} exists without offsets/${lastCommit}`);
      return { lastCommitted: null, pending: null };
    }
    if (lastCommit > lastOffsets || lastCommit < lastOffsets - 1) {
      throw this.#corrupt(`offsets end at batch ${lastOffsets} but commits end at batch ${lastCommit}`);
    }
    let committed = lastCommit;
    let snapshots = committed < 0 ? {} : await this.#readState(committed + 1);
    if (snapshots === null && committed === lastOffsets) {
      // The marker and the state of a batch are published together: a crash can leave the marker
      // without every state file. That batch did not commit; it runs again (the sink skips what it wrote).
      committed--;
      snapshots = committed < 0 ? {} : await this.#readState(committed + 1);
    }
    if (snapshots === null) throw this.#corrupt(`the state written by batch ${committed} is incomplete`);
    const lastCommitted =
      committed < 0
        ? null
        : {
            batchId: committed,
            offsets: await this.readOffsets(committed),
            commit: await this.#readCommit(committed),
            snapshots,
          };
    const pending = lastOffsets > committed ? { batchId: lastOffsets, offsets: await this.readOffsets(lastOffsets) } : null;
    return { lastCommitted, pending };
  }

  /** Writes `offsets/N` (the write-ahead entry of batch N). */
  async writeOffsets(batchId: number, entry: OffsetLogEntry): Promise<void> {
    this.#offsets.set(batchId, entry);
    if (this.location === null) return;
    const text = [VERSION_LINE, JSON.stringify({ batchWatermarkMs: entry.batchWatermarkMs, batchTimestampMs: entry.batchTimestampMs, conf: entry.conf }), ...entry.sourceOffsets.map((o) => (o === null ? '-' : JSON.stringify(o)))].join('\n');
    await writeFileAtomic(join(this.location, 'offsets', String(batchId)), text);
  }

  /** Reads `offsets/N`. */
  async readOffsets(batchId: number): Promise<OffsetLogEntry> {
    const cached = this.#offsets.get(batchId);
    if (cached !== undefined || this.location === null) {
      if (cached === undefined) throw this.#corrupt(`offsets/${batchId} is missing`);
      return cached;
    }
    const path = join(this.location, 'offsets', String(batchId));
    const lines = (await readFile(path, 'utf8')).split('\n');
    if (lines[0] !== VERSION_LINE || lines.length < 2) throw this.#corrupt(`${path} does not start with ${VERSION_LINE}`, path);
    try {
      const meta = JSON.parse(lines[1]!) as { batchWatermarkMs: number; batchTimestampMs: number; conf?: Record<string, string> };
      const sourceOffsets = lines.slice(2).filter((l) => l.length > 0).map((l) => (l === '-' ? null : (JSON.parse(l) as unknown)));
      const entry: OffsetLogEntry = { batchWatermarkMs: meta.batchWatermarkMs, batchTimestampMs: meta.batchTimestampMs, conf: meta.conf ?? {}, sourceOffsets };
      this.#offsets.set(batchId, entry);
      return entry;
    } catch (err) {
      throw this.#corrupt(`${path} is not valid: ${(err as Error).message}`, path);
    }
  }

  /**
   * Commits batch `barrier.batchId`: the stage snapshots the barrier carries,
   * then `commits/N`. Called by the sink once its output for the batch is
   * durable. Resolves whoever waits for the batch (the source).
   */
  async commit(barrier: BarrierItem): Promise<void> {
    const batchId = barrier.batchId;
    const commit: CommitLogEntry = { nextBatchWatermarkMs: barrier.nextWatermarkMs ?? this.#offsets.get(batchId)?.batchWatermarkMs ?? 0 };
    const snapshots = barrier.snapshots;
    if (this.location !== null) {
      const started = performance.now();
      const stateFiles: Array<Promise<StagedFile>> = [];
      for (const [operatorId, snapshot] of Object.entries(snapshots)) {
        const { partitions, ...shared } = snapshot;
        const parts = partitions ?? [];
        // Partition 0 holds the shared part; every partition has its own file, written even when empty, like Spark's deltas.
        for (let p = 0; p < Math.max(1, parts.length); p++) {
          const dir = join(this.location, 'state', operatorId, String(p));
          const body = p === 0 ? { ...shared, ...(partitions === undefined ? {} : { numPartitions: parts.length, partition: parts[0] }) } : { partition: parts[p] };
          const text = JSON.stringify(body);
          stateFiles.push(ensureDirectory(dir).then(() => stageFile(join(dir, `${batchId + 1}.json`), text)));
        }
      }
      // Every file's bytes are written and fsynced at once (the disk merges the flushes), then all
      // of them appear at once: one round of renames and directory fsyncs per micro-batch.
      const commitFile = stageFile(join(this.location, 'commits', String(batchId)), `${VERSION_LINE}\n${JSON.stringify(commit)}`);
      commitFile.catch(() => {}); // awaited below; a state failure must not leave it unhandled
      const staged = await Promise.all(stateFiles);
      const stateWritten = performance.now();
      // Published together: recover() treats a marker whose state files are not all there as not committed.
      await publishFiles([...staged, await commitFile]);
      barrier.progress.stateCommitMs = Math.round(stateWritten - started);
      barrier.progress.commitLogMs = Math.round(performance.now() - stateWritten);
      await this.#purge(batchId);
    }
    this.#commits.set(batchId, commit);
    this.#state.set(batchId + 1, snapshots);
    this.#state.delete(batchId + 1 - MIN_BATCHES_TO_RETAIN);
    this.#offsets.delete(batchId - MIN_BATCHES_TO_RETAIN);
    this.#commits.delete(batchId - MIN_BATCHES_TO_RETAIN);
    const waiters = this.#commitWaiters.get(batchId) ?? [];
    this.#commitWaiters.delete(batchId);
    for (const w of waiters) w.resolve(barrier);
    this.emit('commit', barrier);
  }

  /** Resolves with the barrier of batch `batchId` once it is committed; rejects if the run fails first. */
  awaitCommit(batchId: number): Promise<BarrierItem> {
    if (this.#closedWith !== null) return Promise.reject(this.#closedWith);
    return new Promise((resolve, reject) => {
      const list = this.#commitWaiters.get(batchId) ?? [];
      list.push({ resolve, reject });
      this.#commitWaiters.set(batchId, list);
    });
  }

  /** Fails every waiter (the run was torn down); the store may be reopened by a new run. */
  abortWaiters(reason: Error): void {
    for (const list of this.#commitWaiters.values()) for (const w of list) w.reject(reason);
    this.#commitWaiters.clear();
  }

  async #readCommit(batchId: number): Promise<CommitLogEntry> {
    const cached = this.#commits.get(batchId);
    if (cached !== undefined) return cached;
    if (this.location === null) throw this.#corrupt(`commits/${batchId} is missing`);
    const path = join(this.location, 'commits', String(batchId));
    const lines = (await readFile(path, 'utf8')).split('\n');
    if (lines[0] !== VERSION_LINE) throw this.#corrupt(`${path} does not start with ${VERSION_LINE}`, path);
    try {
      const entry = JSON.parse(lines[1]!) as CommitLogEntry;
      this.#commits.set(batchId, entry);
      return entry;
    } catch (err) {
      throw this.#corrupt(`${path} is not valid: ${(err as Error).message}`, path);
    }
  }

  // The stage snapshots of a state version, or null when a file of it is missing.
  async #readState(version: number): Promise<Record<string, StageSnapshot> | null> {
    const cached = this.#state.get(version);
    if (cached !== undefined) return cached;
    if (this.location === null) return {};
    const snapshots: Record<string, StageSnapshot> = {};
    const stateDir = join(this.location, 'state');
    const read = async (path: string): Promise<string | null> => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    };
    for (const operatorId of await readdir(stateDir)) {
      if (!/^\d+$/.test(operatorId)) continue;
      const path = join(stateDir, operatorId, '0', `${version}.json`);
      const text = await read(path);
      if (text === null) return null;
      let head: StageSnapshot & { numPartitions?: number; partition?: unknown };
      try {
        head = JSON.parse(text) as typeof head;
      } catch (err) {
        throw this.#corrupt(`${path} is not valid JSON: ${(err as Error).message}`, path);
      }
      if (head.numPartitions === undefined) {
        snapshots[operatorId] = head;
        continue;
      }
      const { numPartitions, partition, ...shared } = head;
      const partitions: unknown[] = [partition];
      for (let p = 1; p < numPartitions; p++) {
        const partPath = join(stateDir, operatorId, String(p), `${version}.json`);
        const partText = await read(partPath);
        if (partText === null) return null;
        try {
          partitions.push((JSON.parse(partText) as { partition: unknown }).partition);
        } catch (err) {
          throw this.#corrupt(`${partPath} is not valid JSON: ${(err as Error).message}`, partPath);
        }
      }
      snapshots[operatorId] = { ...shared, partitions };
    }
    this.#state.set(version, snapshots);
    return snapshots;
  }

  async #batchIds(sub: string, memory: Map<number, unknown>): Promise<number[]> {
    if (this.location === null) return [...memory.keys()].sort((a, b) => a - b);
    const names = await readdir(join(this.location, sub));
    return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  // Keeps MIN_BATCHES_TO_RETAIN batches of logs and state, like Spark.
  async #purge(batchId: number): Promise<void> {
    const old = batchId - MIN_BATCHES_TO_RETAIN;
    if (old < 0 || this.location === null) return;
    await rm(join(this.location, 'offsets', String(old)), { force: true });
    await rm(join(this.location, 'commits', String(old)), { force: true });
    const stateDir = join(this.location, 'state');
    for (const operatorId of await readdir(stateDir)) {
      for (const partition of await readdir(join(stateDir, operatorId))) {
        await rm(join(stateDir, operatorId, partition, `${old + 1}.json`), { force: true });
      }
    }
  }

  #corrupt(message: string, file?: string): TidemarkError {
    return new TidemarkError('ERR_CHECKPOINT_CORRUPT', `checkpoint ${this.location ?? '(in memory)'}: ${message}`, file === undefined ? {} : { file });
  }
}

/**
 * The checkpoint store: Spark's checkpoint layout, written crash-safely.
 *
 * ```
 * <dir>/metadata                      {"id":"<query id>","tidemark":{"checksumsFrom":{…}}}
 * <dir>/offsets/<N>                   v1 \n {"batchWatermarkMs":…,"batchTimestampMs":…,"conf":{…}} \n <source offset JSON>…
 * <dir>/commits/<N>                   v1 \n {"nextBatchWatermarkMs":…,"stateFiles":{"<opId>":[{"file":"0/<S>.snapshot","size":…,"crc32":"…"},{"file":"0/<N+1>.delta",…}]}}
 * <dir>/state/<opId>/<p>/<V>.snapshot the whole state after batch V-1 (partition p; see state-files.ts)
 * <dir>/state/<opId>/<p>/<V>.delta    what batch V-1 changed in it
 * <dir>/state/<opId>/<p>/<V>.json     the whole state after batch V-1, as releases before 0.2 wrote it (still read)
 * <dir>/sources/<i>/…                 a source's own log
 * <dir>/.lock                         the running process (see lock.ts)
 * ```
 *
 * Order of a micro-batch: offsets/N (write-ahead) → the batch runs → the
 * sink writes its output → state files → commits/N last, once the state
 * files are durable. On restart a batch with offsets but no commit is
 * re-executed with the same offsets and watermark; stage state comes from
 * the last commit.
 *
 * Integrity: `metadata`, `offsets/N` and `commits/N` carry Hadoop's `.N.crc`
 * sidecar (as Spark leaves them on a local file system), checked on read;
 * state files are covered by the size and CRC32 their commit lists. A piece
 * the records say must exist (the state files a commit lists, the offsets
 * of a commit, a sidecar of a file this release wrote) is required: its
 * absence is `ERR_CHECKPOINT_CORRUPT` naming the file, never an empty
 * state. A checkpoint written by a release without checksums keeps
 * restarting: on its first open `metadata` records, per log directory, the
 * first batch written with sidecars (`checksumsFrom`); older files are read
 * as before (Spark ignores the extra field).
 *
 * Only the last {@link MIN_BATCHES_TO_RETAIN} batches of offsets and commits
 * are kept, like Spark, and the state files their commits list.
 *
 * Without a location the same store lives in memory (console and memory
 * sinks, tests), so every run has one code path; it lives as long as one
 * run, so it keeps no state files (Spark deletes a query's temporary
 * checkpoint when it stops).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from '../errors.js';
import type { BarrierItem, RecoveredState, StageSnapshot, StateImage } from '../protocol.js';
import { parseLogFileName } from '../core/compactible-log.js';
import { ensureDirectory, publishInOrder, removeStaleTemporaries, removeWithChecksum, stageFile, writeFileAtomic, type StagedFile } from './atomic-file.js';
import { checksumPath, checksumProblem, crc32Hex, readChecked } from './checksum.js';
import { acquireLock, releaseLock, removeStaleLockFiles } from './lock.js';
import { BackgroundSnapshots } from './background-snapshots.js';
import { decodeStateFile, encodeStateFile, parseStateFileName } from './state-files.js';

/** `offsets/N`: what batch N reads and with which watermark; written before the batch runs. */
export interface OffsetLogEntry {
  readonly batchWatermarkMs: number;
  readonly batchTimestampMs: number;
  /** Settings fixed by the first run (Spark records e.g. the shuffle partitions); later runs use these. */
  readonly conf: Readonly<Record<string, string>>;
  /** End offset of each source (JSON values); null for a source that has had no data yet. */
  readonly sourceOffsets: readonly unknown[];
}

/** A state file a commit covers: its path under `state/<opId>/`, size and CRC32 (8 hex digits). */
export interface StateFileRecord {
  readonly file: string;
  readonly size: number;
  readonly crc32: string;
}

/** `commits/N`. */
export interface CommitLogEntry {
  readonly nextBatchWatermarkMs: number;
  /**
   * The state files of version N+1 this commit covers, by operator id;
   * absent in commits written by 0.1 (their state files are found by
   * listing, as then).
   */
  readonly stateFiles?: Readonly<Record<string, readonly StateFileRecord[]>>;
}

/** A source's log directory and from which log batch on its files carry checksum sidecars. */
export interface SourceLogLocation {
  readonly directory: string;
  readonly checksumsFrom: number;
}

/** What a checkpoint holds when a run starts. */
export interface CheckpointRecovery {
  /** The last committed batch, with the state its commit lists. */
  readonly lastCommitted: {
    readonly batchId: number;
    readonly offsets: OffsetLogEntry;
    readonly commit: CommitLogEntry;
    /** The state of each stateful operator, read from the files when the stage loads it. */
    readonly states: Readonly<Record<string, RecoveredState>>;
  } | null;
  /** A planned batch that did not commit: to be re-executed exactly. */
  readonly pending: { readonly batchId: number; readonly offsets: OffsetLogEntry } | null;
}

/** How many batches of logs and state are kept (Spark's `minBatchesToRetain`). */
export const MIN_BATCHES_TO_RETAIN = 100;

/** Deltas written between two snapshots of an operator's state (Spark's `stateStore.minDeltasForSnapshot`). */
export const DEFAULT_MIN_DELTAS_FOR_SNAPSHOT = 10;

// An operator's state files since its last snapshot, as the last commit lists them.
interface Chain {
  readonly files: readonly StateFileRecord[];
  readonly deltas: number;
}

// A whole state of the format before, loaded by the stage's restore.
function snapshotState(snapshot: StageSnapshot): RecoveredState {
  return { stage: snapshot.stage, load: async (target) => target.restore(snapshot) };
}

function legacyStates(snapshots: Readonly<Record<string, StageSnapshot>>): Record<string, RecoveredState> {
  const out: Record<string, RecoveredState> = {};
  for (const [operatorId, snapshot] of Object.entries(snapshots)) out[operatorId] = snapshotState(snapshot);
  return out;
}

const VERSION_LINE = 'v1';
const LOG_DIRECTORIES = ['offsets', 'commits'] as const;

/** `metadata`'s extra field (Spark reads only `id`). */
interface TidemarkMetadata {
  /** Per directory (`offsets`, `commits`, `sources/0`): the first batch written with a checksum sidecar. Absent: 0. */
  readonly checksumsFrom: Readonly<Record<string, number>>;
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

// Highest batch id of a log directory (`7`, `9.compact`), or -1.
async function lastBatchIn(dir: string): Promise<number> {
  let last = -1;
  for (const name of await listOrEmpty(dir)) {
    const parsed = parseLogFileName(name);
    if (parsed !== null) last = Math.max(last, parsed.batchId);
  }
  return last;
}

// Every directory a crashed write may have left temporary files in.
async function writtenDirectories(dir: string): Promise<string[]> {
  const dirs = [dir, join(dir, 'offsets'), join(dir, 'commits')];
  for (const source of await listOrEmpty(join(dir, 'sources'))) dirs.push(join(dir, 'sources', source));
  for (const operator of await listOrEmpty(join(dir, 'state'))) {
    for (const partition of await listOrEmpty(join(dir, 'state', operator))) dirs.push(join(dir, 'state', operator, partition));
  }
  return dirs;
}

/** One query's checkpoint, on disk or in memory. */
export class Checkpoint extends EventEmitter {
  /** Directory, or null for an in-memory checkpoint. */
  readonly location: string | null;
  /** The query id, stable across restarts. */
  readonly id: string;
  /** Deltas between two snapshots of a stateful operator's state (Spark: 10); 0 writes a snapshot every batch. */
  minDeltasForSnapshot = DEFAULT_MIN_DELTAS_FOR_SNAPSHOT;
  // In-memory logs (the only copy when location is null; a cache otherwise).
  readonly #offsets = new Map<number, OffsetLogEntry>();
  readonly #commits = new Map<number, CommitLogEntry>();
  // Per operator, the state files the next commit's delta continues; none: the next commit writes a snapshot.
  readonly #chains = new Map<string, Chain>();
  // Snapshots written beside the batches, listed by the first commit after they are durable.
  readonly #snapshots = new BackgroundSnapshots<StateFileRecord>((operatorId, version, err) =>
    this.emit(
      'warning',
      new TidemarkError('ERR_CHECKPOINT_SNAPSHOT', `the snapshot of state operator ${operatorId} at version ${version} could not be written (${err.message}); its deltas stay listed, and a later commit writes the snapshot again`, { cause: err }),
    ),
  );
  // State files below this version are gone already (see #purgeState).
  #stateFloor = -Infinity;
  readonly #commitWaiters = new Map<number, Array<{ resolve: (b: BarrierItem) => void; reject: (e: Error) => void }>>();
  readonly #checksumsFrom: Readonly<Record<string, number>>;
  #closedWith: Error | null = null;
  #locked = false;

  private constructor(location: string | null, id: string, checksumsFrom: Readonly<Record<string, number>> = {}) {
    super();
    this.location = location;
    this.id = id;
    this.#checksumsFrom = checksumsFrom;
  }

  /** Opens (creating when needed) the checkpoint at `location`, or an in-memory one when `location` is null. */
  static async open(location: string | null): Promise<Checkpoint> {
    if (location === null) return new Checkpoint(null, randomUUID());
    const dir = resolve(location);
    await ensureDirectory(dir);
    const first = await acquireLock(dir);
    try {
      return await Checkpoint.#openLocked(dir, first);
    } catch (err) {
      await releaseLock(dir);
      throw err;
    }
  }

  static async #openLocked(dir: string, first: boolean): Promise<Checkpoint> {
    if (first) {
      // We hold the lock: no other process writes here, so temp files are what crashed writes left.
      // (A further handle of this process skips this: the first one may be writing.)
      await removeStaleLockFiles(dir);
      for (const sub of await writtenDirectories(dir)) await removeStaleTemporaries(sub);
    }
    const metadataPath = join(dir, 'metadata');
    let id: string;
    let tidemark: TidemarkMetadata;
    let text: string | null = null;
    let checksum: string | null = null; // why the sidecar does not vouch for the text, or null when it does
    try {
      const bytes = await readFile(metadataPath);
      text = bytes.toString('utf8');
      try {
        checksum = checksumProblem(bytes, await readFile(checksumPath(metadataPath)));
        if (checksum !== null) checksum = `was changed or damaged after it was written: its checksum file ${checksumPath(metadataPath)} ${checksum}`;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        checksum = `has lost its checksum file ${checksumPath(metadataPath)}: it cannot be trusted`;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text === null) {
      for (const sub of LOG_DIRECTORIES) {
        const last = await lastBatchIn(join(dir, sub));
        if (last >= 0) throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `checkpoint ${dir}: ${metadataPath} is missing, but ${sub}/${last} exists: the query id is lost`, { file: metadataPath });
      }
      id = randomUUID();
      tidemark = { checksumsFrom: {} };
      await writeFileAtomic(metadataPath, JSON.stringify({ id, tidemark }) + '\n', { checksum: true });
    } else {
      let parsed: { id?: unknown; tidemark?: { checksumsFrom?: unknown } };
      try {
        parsed = JSON.parse(text) as typeof parsed;
        if (typeof parsed.id !== 'string') throw new Error('no id');
      } catch (err) {
        throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `checkpoint metadata ${metadataPath} is unreadable: ${(err as Error).message}`, { file: metadataPath, cause: err });
      }
      id = parsed.id as string;
      if (parsed.tidemark !== undefined) {
        if (checksum !== null) throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `${metadataPath} ${checksum}`, { file: metadataPath });
        const from = parsed.tidemark.checksumsFrom;
        if (typeof from !== 'object' || from === null || Object.values(from).some((v) => !Number.isSafeInteger(v))) {
          throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `checkpoint metadata ${metadataPath} is unreadable: tidemark.checksumsFrom is not a map of batch ids`, { file: metadataPath });
        }
        tidemark = { checksumsFrom: from as Record<string, number> };
      } else {
        // Written by a release without checksums: files present now keep being read without one. (A sidecar
        // that does not match is the upgrade's own, from a crash between publishing it and this file.)
        const checksumsFrom: Record<string, number> = {};
        for (const sub of LOG_DIRECTORIES) checksumsFrom[sub] = (await lastBatchIn(join(dir, sub))) + 1;
        for (const source of await listOrEmpty(join(dir, 'sources'))) checksumsFrom[`sources/${source}`] = (await lastBatchIn(join(dir, 'sources', source))) + 1;
        tidemark = { checksumsFrom };
        await writeFileAtomic(metadataPath, JSON.stringify({ id, tidemark }) + '\n', { checksum: true });
      }
    }
    for (const sub of ['offsets', 'commits', 'state', 'sources']) await ensureDirectory(join(dir, sub));
    const checkpoint = new Checkpoint(dir, id, tidemark.checksumsFrom);
    checkpoint.#locked = true;
    return checkpoint;
  }

  /** Releases this handle's hold on the checkpoint (the lock file goes with the last handle of the process). Idempotent. */
  async close(): Promise<void> {
    if (!this.#locked || this.location === null) return;
    this.#locked = false;
    // A snapshot being written finishes (unlisted: the next run lists its own); no temporary file is left behind.
    await this.#snapshots.settled();
    await releaseLock(this.location);
  }

  /** Folder for source `index`'s own log. */
  sourceDirectory(index: number): string | null {
    return this.location === null ? null : join(this.location, 'sources', String(index));
  }

  /** Source `index`'s log folder and from which of its batches files carry checksums, or null in memory. */
  sourceLog(index: number): SourceLogLocation | null {
    const directory = this.sourceDirectory(index);
    return directory === null ? null : { directory, checksumsFrom: this.#checksumsFrom[`sources/${index}`] ?? 0 };
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
    await this.#purgeBefore(lastCommit - MIN_BATCHES_TO_RETAIN);
    // The next commit continues the chains of the last one (a chain of the format before starts afresh).
    this.#chains.clear();
    this.#snapshots.forget();
    let committed = lastCommit;
    let states: Record<string, RecoveredState> | null = {};
    if (committed >= 0 && this.location !== null) {
      const commit = await this.#readCommit(committed);
      if (commit.stateFiles !== undefined) states = await this.#listedStates(committed, commit.stateFiles);
      else {
        // A commit written before commits listed their state: found by listing, as then.
        let snapshots = await this.#readState(committed + 1);
        if (snapshots === null && committed === lastOffsets) {
          // That release published the marker and the state of a batch together: a crash could leave the
          // marker without every state file. That batch did not commit; it runs again (the sink skips what it wrote).
          committed--;
          snapshots = committed < 0 ? {} : await this.#readState(committed + 1);
        }
        states = snapshots === null ? null : legacyStates(snapshots);
      }
    }
    if (states === null) throw this.#corrupt(`the state written by batch ${committed} is incomplete`);
    const lastCommitted =
      committed < 0
        ? null
        : {
            batchId: committed,
            offsets: await this.readOffsets(committed),
            commit: await this.#readCommit(committed),
            states,
          };
    const pending = lastOffsets > committed ? { batchId: lastOffsets, offsets: await this.readOffsets(lastOffsets) } : null;
    if (committed >= 0) await this.#purgeState(committed);
    return { lastCommitted, pending };
  }
  /** Writes `offsets/N` (the write-ahead entry of batch N). */
  async writeOffsets(batchId: number, entry: OffsetLogEntry): Promise<void> {
    this.#offsets.set(batchId, entry);
    if (this.location === null) return;
    const text = [VERSION_LINE, JSON.stringify({ batchWatermarkMs: entry.batchWatermarkMs, batchTimestampMs: entry.batchTimestampMs, conf: entry.conf }), ...entry.sourceOffsets.map((o) => (o === null ? '-' : JSON.stringify(o)))].join('\n');
    await writeFileAtomic(join(this.location, 'offsets', String(batchId)), text, { checksum: true });
  }

  /** Reads `offsets/N`. */
  async readOffsets(batchId: number): Promise<OffsetLogEntry> {
    const cached = this.#offsets.get(batchId);
    if (cached !== undefined || this.location === null) {
      if (cached === undefined) throw this.#corrupt(`offsets/${batchId} is missing`);
      return cached;
    }
    const path = join(this.location, 'offsets', String(batchId));
    const lines = (await this.#readLogFile('offsets', batchId)).split('\n');
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
   * Commits batch `barrier.batchId`: the state of the stateful stages the
   * barrier carries, then `commits/N` listing the state files each
   * operator's state is read from. Called by the sink once its output for
   * the batch is durable. Resolves whoever waits for the batch (the source).
   *
   * State is incremental (Spark's HDFS-backed state store): per operator
   * and partition, `<N+1>.delta` holds what batch N changed. Once the
   * chain holds {@link Checkpoint.minDeltasForSnapshot} deltas, the commit
   * copies the state and `<N+1>.snapshot` is written beside the next
   * batches (see background-snapshots.ts): the first commit after it is
   * durable lists the chain from it. The first commit of a run, every
   * commit with `minDeltasForSnapshot` 0, and a chain of twice that many
   * deltas (runs that stop before their snapshot is listed) write the
   * snapshot in the commit instead of the delta. The commit lists the
   * chain, snapshot then deltas, with each file's size and CRC32, so the
   * state of a committed batch is exactly the files its commit names.
   * A stage without incremental state hands a snapshot every batch.
   */
  async commit(barrier: BarrierItem): Promise<void> {
    const batchId = barrier.batchId;
    let commit: CommitLogEntry = { nextBatchWatermarkMs: barrier.nextWatermarkMs ?? this.#offsets.get(batchId)?.batchWatermarkMs ?? 0 };
    if (this.location !== null) {
      const started = performance.now();
      const version = batchId + 1;
      const stateFiles: Array<Promise<StagedFile>> = [];
      const listed: Record<string, StateFileRecord[]> = {};
      const chains = new Map<string, Chain>();
      const encodeMs = new Map<string, number>();
      const snapshots: Array<{ operatorId: string; image: () => StateImage }> = [];
      for (const [operatorId, state] of Object.entries(barrier.state)) {
        const encodeStarted = performance.now();
        const chain = this.#chains.get(operatorId);
        // A snapshot in the commit: the first of a run (nothing to continue), every batch with minDeltasForSnapshot 0,
        // or a chain twice as long as asked (its snapshots did not land: the runs stop before a commit could list them).
        const inline = chain === undefined || this.minDeltasForSnapshot === 0 || chain.deltas >= 2 * this.minDeltasForSnapshot;
        const image = inline ? state.snapshot() : state.delta();
        const records = this.#stageImage(operatorId, version, image, stateFiles);
        // (A stage without incremental state hands a whole state as its delta: a chain of its own.)
        const base = chain === undefined || image.kind === 'snapshot' ? null : this.#continued(operatorId, chain);
        const next: Chain = base === null ? { files: records, deltas: 0 } : { files: [...base.files, ...records], deltas: base.deltas + 1 };
        // Long enough: the state as this commit leaves it is copied now and written beside the next batches.
        // (A stage that copies its state cheaply builds the snapshot's records later, from the copy.)
        if (base !== null && next.deltas >= this.minDeltasForSnapshot && !this.#snapshots.busy(operatorId)) {
          const later = state.snapshotLater?.() ?? null;
          const whole = later === null ? state.snapshot() : null;
          snapshots.push({ operatorId, image: later ?? (() => whole!) });
        }
        chains.set(operatorId, next);
        listed[operatorId] = [...next.files];
        encodeMs.set(operatorId, performance.now() - encodeStarted);
      }
      commit = { ...commit, stateFiles: listed };
      // Every file's bytes are written and fsynced at once (the disk merges the flushes); then the state
      // files appear, durably, and only then the commit that lists them.
      const commitFile = stageFile(join(this.location, 'commits', String(batchId)), `${VERSION_LINE}\n${JSON.stringify(commit)}`, { checksum: true });
      commitFile.catch(() => {}); // awaited below; a state failure must not leave it unhandled
      const writeStarted = performance.now();
      const staged = await Promise.all(stateFiles);
      const stateWritten = performance.now();
      await publishInOrder([staged, [await commitFile]]);
      barrier.progress.stateCommitMs = Math.round(stateWritten - started);
      barrier.progress.commitLogMs = Math.round(performance.now() - stateWritten);
      // Spark's commitTimeMs: the operator's own encoding, and the writes it shared with the others.
      for (const [operatorId, state] of Object.entries(barrier.state)) {
        if (state.progress !== null) state.progress['commitTimeMs'] = Math.round(encodeMs.get(operatorId)! + (stateWritten - writeStarted));
      }
      for (const [operatorId, chain] of chains) this.#chains.set(operatorId, chain);
      for (const { operatorId, image } of snapshots) this.#snapshots.start(operatorId, version, () => this.#writeSnapshot(operatorId, version, image));
      await this.#purge(batchId);
    }
    this.#commits.set(batchId, commit);
    this.#offsets.delete(batchId - MIN_BATCHES_TO_RETAIN);
    this.#commits.delete(batchId - MIN_BATCHES_TO_RETAIN);
    const waiters = this.#commitWaiters.get(batchId) ?? [];
    this.#commitWaiters.delete(batchId);
    for (const w of waiters) w.resolve(barrier);
    this.emit('commit', barrier);
  }

  /** Resolves once no snapshot is being written in the background (tests; {@link Checkpoint.close} waits for them too). */
  async snapshotsWritten(): Promise<void> {
    await this.#snapshots.settled();
  }

  // Encodes each partition of `image` as `<p>/<version>.<kind>` and stages it (pushed to `staged`); returns the records a commit lists.
  #stageImage(operatorId: string, version: number, image: StateImage, staged: Array<Promise<StagedFile>>): StateFileRecord[] {
    const records: StateFileRecord[] = [];
    // Every partition has its own file, written even when empty, like Spark's deltas.
    for (let p = 0; p < Math.max(1, image.partitions.length); p++) {
      const dir = join(this.location!, 'state', operatorId, String(p));
      const bytes = encodeStateFile(image, p);
      const file = `${p}/${version}.${image.kind}`;
      records.push({ file, size: bytes.length, crc32: crc32Hex(bytes) });
      staged.push(ensureDirectory(dir).then(() => stageFile(join(this.location!, 'state', operatorId, file), bytes)));
    }
    return records;
  }

  // A snapshot written beside the batches: built and encoded after a yield (the batch that asked for it goes on), staged, published durably.
  async #writeSnapshot(operatorId: string, version: number, image: () => StateImage): Promise<StateFileRecord[]> {
    await new Promise((resolve) => setImmediate(resolve));
    const staged: Array<Promise<StagedFile>> = [];
    const records = this.#stageImage(operatorId, version, image(), staged);
    await publishInOrder([await Promise.all(staged)]);
    return records;
  }

  // The chain a delta continues: the last one, or from a snapshot written since, when it is durable and newer.
  #continued(operatorId: string, chain: Chain): Chain {
    const snapshot = this.#snapshots.take(operatorId);
    const versionOf = (record: StateFileRecord): number => parseStateFileName(record.file.slice(record.file.indexOf('/') + 1))?.version ?? -1;
    if (snapshot === null || snapshot.version <= versionOf(chain.files[0]!)) return chain;
    const deltas = chain.files.filter((record) => versionOf(record) > snapshot.version);
    return { files: [...snapshot.files, ...deltas], deltas: new Set(deltas.map(versionOf)).size };
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

  // The text of offsets/N or commits/N, checked against its sidecar (required unless written before sidecars).
  async #readLogFile(sub: 'offsets' | 'commits', batchId: number): Promise<string> {
    const path = join(this.location!, sub, String(batchId));
    try {
      return (await readChecked(path, batchId >= (this.#checksumsFrom[sub] ?? 0))).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw this.#corrupt(`${path} is missing`, path);
      throw err;
    }
  }

  async #readCommit(batchId: number): Promise<CommitLogEntry> {
    const cached = this.#commits.get(batchId);
    if (cached !== undefined) return cached;
    if (this.location === null) throw this.#corrupt(`commits/${batchId} is missing`);
    const path = join(this.location, 'commits', String(batchId));
    const lines = (await this.#readLogFile('commits', batchId)).split('\n');
    if (lines[0] !== VERSION_LINE) throw this.#corrupt(`${path} does not start with ${VERSION_LINE}`, path);
    try {
      const entry = JSON.parse(lines[1]!) as CommitLogEntry;
      this.#commits.set(batchId, entry);
      return entry;
    } catch (err) {
      throw this.#corrupt(`${path} is not valid: ${(err as Error).message}`, path);
    }
  }

  // The state commits/N lists, per operator: a chain (snapshot, then deltas), or a whole state of the format before (`.json`).
  async #listedStates(batchId: number, listed: Readonly<Record<string, readonly StateFileRecord[]>>): Promise<Record<string, RecoveredState>> {
    const commitPath = join(this.location!, 'commits', String(batchId));
    const states: Record<string, RecoveredState> = {};
    for (const [operatorId, records] of Object.entries(listed)) {
      if (records.length === 0) throw this.#corrupt(`${commitPath} lists no state file for operator ${operatorId}`, commitPath);
      const names = records.map((r) => ({ record: r, name: parseStateFileName(r.file.slice(r.file.indexOf('/') + 1)) }));
      if (names.some((n) => n.name === null || !/^\d+\//.test(n.record.file))) {
        throw this.#corrupt(`${commitPath} lists a state file of operator ${operatorId} this release does not know: ${names.find((n) => n.name === null)?.record.file ?? records[0]!.file}`, commitPath);
      }
      if (names.every((n) => n.name!.kind === 'json')) {
        states[operatorId] = snapshotState(await this.#readLegacyListed(batchId, operatorId, records));
        continue;
      }
      const first = names[0]!.name!;
      const firstVersion = first.version;
      const ok = first.kind === 'snapshot' && names.every((n) => (n.name!.version === firstVersion ? n.name!.kind === 'snapshot' : n.name!.kind === 'delta' && n.name!.version > firstVersion));
      if (!ok) throw this.#corrupt(`${commitPath} lists state files of operator ${operatorId} that are not a snapshot followed by deltas: ${records.map((r) => r.file).join(', ')}`, commitPath);
      // Every file must be there as its commit records it (size, CRC32): a restart learns now, not when a stage loads.
      // The bytes wait for the stage, which decodes one file at a time.
      const files: Array<Buffer | null> = [];
      for (const record of records) files.push(await this.#readStateFile(operatorId, record, commitPath, batchId));
      const versions = new Set(names.map((n) => n.name!.version));
      this.#chains.set(operatorId, { files: [...records], deltas: versions.size - 1 });
      const snapshot = decodeStateFile(files[0]!, join(this.location!, 'state', operatorId, records[0]!.file));
      states[operatorId] = {
        stage: snapshot.image.stage,
        load: async (target) => {
          // In chain order: the snapshot's partitions, then each delta's.
          target.restore(snapshot.image);
          files[0] = null;
          for (let i = 1; i < records.length; i++) {
            const { image } = decodeStateFile(files[i]!, join(this.location!, 'state', operatorId, records[i]!.file));
            files[i] = null;
            target.applyDelta(image);
          }
        },
      };
    }
    return states;
  }

  async #readStateFile(operatorId: string, record: StateFileRecord, commitPath: string, batchId: number): Promise<Buffer> {
    const path = join(this.location!, 'state', operatorId, record.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw this.#corrupt(`${path} is missing: ${commitPath} lists it as state of operator ${operatorId} after batch ${batchId}`, path);
    }
    if (bytes.length !== record.size || crc32Hex(bytes) !== record.crc32) {
      throw this.#corrupt(`${path} was changed or damaged after it was written: ${commitPath} records ${record.size} bytes with CRC32 ${record.crc32}, the file has ${bytes.length} bytes with CRC32 ${crc32Hex(bytes)}`, path);
    }
    return bytes;
  }

  // A whole state of the format before, as commits/N lists it: every file must be there, with its size and CRC32.
  async #readLegacyListed(batchId: number, operatorId: string, records: readonly StateFileRecord[]): Promise<StageSnapshot> {
    const commitPath = join(this.location!, 'commits', String(batchId));
    const parts: unknown[] = [];
    for (const record of records) {
      const path = join(this.location!, 'state', operatorId, record.file);
      const bytes = await this.#readStateFile(operatorId, record, commitPath, batchId);
      try {
        parts.push(JSON.parse(bytes.toString('utf8')));
      } catch (err) {
        throw this.#corrupt(`${path} is not valid JSON: ${(err as Error).message}`, path);
      }
    }
    const head = parts[0] as StageSnapshot & { numPartitions?: number; partition?: unknown };
    if (head.numPartitions === undefined) return head;
    const { numPartitions, partition, ...shared } = head;
    if (parts.length !== numPartitions) throw this.#corrupt(`${commitPath} lists ${parts.length} state files for operator ${operatorId}, which has ${numPartitions} partitions`, commitPath);
    return { ...shared, partitions: [partition, ...parts.slice(1).map((p) => (p as { partition: unknown }).partition)] };
  }

  // The stage snapshots of a state version found by listing (commits written by 0.1), or null when a file is missing.
  async #readState(version: number): Promise<Record<string, StageSnapshot> | null> {
    const snapshots: Record<string, StageSnapshot> = {};
    const stateDir = join(this.location!, 'state');
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
    return snapshots;
  }

  async #batchIds(sub: string, memory: Map<number, unknown>): Promise<number[]> {
    if (this.location === null) return [...memory.keys()].sort((a, b) => a - b);
    const names = await readdir(join(this.location, sub));
    return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  // Keeps MIN_BATCHES_TO_RETAIN batches of logs, like Spark: after commit N, batch N - 100 goes; state files go once no retained batch needs them.
  async #purge(batchId: number): Promise<void> {
    const old = batchId - MIN_BATCHES_TO_RETAIN;
    if (old < 0 || this.location === null) return;
    await removeWithChecksum(join(this.location, 'offsets', String(old)));
    await removeWithChecksum(join(this.location, 'commits', String(old)));
    await this.#purgeState(batchId);
  }

  // State files older than the oldest retained commit's chain (Spark: no retained version needs them). Listing
  // the state folders only when that floor moved: with snapshots every 10 deltas, one batch in 10.
  async #purgeState(lastCommit: number): Promise<void> {
    const oldest = lastCommit - MIN_BATCHES_TO_RETAIN + 1;
    if (oldest < 0 || this.location === null) return;
    const commit = await this.#readCommit(oldest);
    let floor = oldest + 1;
    for (const records of Object.values(commit.stateFiles ?? {})) {
      for (const record of records) {
        const parsed = parseStateFileName(record.file.slice(record.file.indexOf('/') + 1));
        if (parsed !== null) floor = Math.min(floor, parsed.version);
      }
    }
    if (floor <= this.#stateFloor) return;
    const stateDir = join(this.location, 'state');
    for (const operatorId of await listOrEmpty(stateDir)) {
      for (const partition of await listOrEmpty(join(stateDir, operatorId))) {
        for (const name of await listOrEmpty(join(stateDir, operatorId, partition))) {
          const bare = name.startsWith('.') && name.endsWith('.crc') ? name.slice(1, -4) : name;
          const parsed = parseStateFileName(bare);
          if (parsed !== null && parsed.version < floor) await removeWithChecksum(join(stateDir, operatorId, partition, bare));
        }
      }
    }
    this.#stateFloor = floor;
  }

  // At restart: what a crash between a commit and its purge left, every batch up to `last` (and its sidecars); state: see #purgeState.
  async #purgeBefore(last: number): Promise<void> {
    if (last < 0 || this.location === null) return;
    // `7`, `.7.crc` → 7.
    const idOf = (name: string): number | null => {
      const bare = name.startsWith('.') && name.endsWith('.crc') ? name.slice(1, -4) : name;
      return /^\d+$/.test(bare) ? Number(bare) : null;
    };
    for (const sub of LOG_DIRECTORIES) {
      for (const name of await listOrEmpty(join(this.location, sub))) {
        const id = idOf(name);
        if (id !== null && id <= last) await removeWithChecksum(join(this.location, sub, String(id)));
      }
    }
  }

  #corrupt(message: string, file?: string): TidemarkError {
    return new TidemarkError('ERR_CHECKPOINT_CORRUPT', `checkpoint ${this.location ?? '(in memory)'}: ${message}`, file === undefined ? {} : { file });
  }
}

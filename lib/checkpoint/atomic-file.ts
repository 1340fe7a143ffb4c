/**
 * Crash-safe file writes: write a temporary file beside the target, fsync
 * it, rename it over the target, fsync the directory. A reader sees the old
 * file or the whole new one, never a part.
 *
 * With `checksum`, the file gets Hadoop's `.name.crc` sidecar (see
 * `checksum.ts`), published (renamed and its directory fsynced) before the
 * file it covers: a published file always has its checksum, even after a
 * power loss between the two renames.
 *
 * Temporary names are `.<name>.<pid>.<n>.tmp`; a crash leaves them behind,
 * and {@link removeStaleTemporaries} deletes them when the checkpoint or the
 * sink opens (under the checkpoint's lock).
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { checksumFile, checksumPath } from './checksum.js';

let sequence = 0;

// Temporary files this process is writing now: another handle of the same
// checkpoint (a new run while the old one stops) must not delete them.
const inFlight = new Set<string>();

/** Our temporary names: `.<name>.<pid>.<n>.tmp`. */
const TEMPORARY_NAME = /^\..+\.\d+\.\d+\.tmp$/;

/** One file written and fsynced under a temporary name, not yet visible under its own. */
interface StagedPart {
  readonly path: string;
  readonly temporary: string;
}

/** A file (and its checksum sidecar, when asked for) staged under temporary names. */
export interface StagedFile extends StagedPart {
  /** The `.name.crc` sidecar, published before the file. */
  readonly checksum: StagedPart | null;
}

/** Options of {@link stageFile} and {@link writeFileAtomic}. */
export interface WriteOptions {
  /** Write Hadoop's `.name.crc` sidecar too. */
  readonly checksum?: boolean;
}

// Writes the pieces to a temporary name beside `path` and syncs them; publishing renames it.
async function stagePart(path: string, pieces: Iterable<string | Uint8Array>): Promise<StagedPart> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${sequence++}.tmp`);
  inFlight.add(temporary);
  try {
    const handle = await open(temporary, 'w');
    try {
      // writeFile writes from the handle's position and retries short writes, piece after piece.
      for (const piece of pieces) await handle.writeFile(piece);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(temporary, { force: true });
    inFlight.delete(temporary);
    // A write to an open file fails without a path (`ENOSPC: no space left on device, write`): name the file.
    if (err instanceof Error && (err as NodeJS.ErrnoException).path === undefined) (err as NodeJS.ErrnoException).path = path;
    throw err;
  }
  return { path, temporary };
}

/** First half of an atomic write: content on disk, durably, under a hidden temporary name. */
export async function stageFile(path: string, content: string | Uint8Array, options: WriteOptions = {}): Promise<StagedFile> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (options.checksum !== true) return { ...(await stagePart(path, [bytes])), checksum: null };
  const [file, checksum] = await Promise.allSettled([stagePart(path, [bytes]), stagePart(checksumPath(path), [checksumFile(bytes)])]);
  if (file.status === 'rejected' || checksum.status === 'rejected') {
    for (const part of [file, checksum]) if (part.status === 'fulfilled') await discard(part.value);
    throw file.status === 'rejected' ? file.reason : (checksum as PromiseRejectedResult).reason;
  }
  return { ...file.value, checksum: checksum.value };
}

async function discard(part: StagedPart): Promise<void> {
  await rm(part.temporary, { force: true });
  inFlight.delete(part.temporary);
}

// Renames parts into place, then fsyncs their directories (each once).
async function publishParts(parts: readonly StagedPart[]): Promise<void> {
  if (parts.length === 0) return;
  try {
    await Promise.all(parts.map((f) => rename(f.temporary, f.path)));
  } finally {
    for (const f of parts) inFlight.delete(f.temporary);
  }
  await Promise.all([...new Set(parts.map((f) => dirname(f.path)))].map(syncDirectory));
}

/** Second half: publishes staged files (sidecars first, then the files), fsyncing each directory once per step. */
export async function publishFiles(files: readonly StagedFile[]): Promise<void> {
  await publishInOrder([files]);
}

/**
 * Publishes groups of staged files so that each group is durable before the
 * next appears (a commit marker goes in the last group, after the files it
 * covers). A group's sidecars go one step earlier, with the group before
 * it: a file never appears without its checksum, at no extra step.
 */
export async function publishInOrder(groups: ReadonlyArray<readonly StagedFile[]>): Promise<void> {
  const sidecars = (group: readonly StagedFile[] | undefined): StagedPart[] => (group ?? []).flatMap((f) => (f.checksum === null ? [] : [f.checksum]));
  await publishParts(sidecars(groups[0]));
  for (let g = 0; g < groups.length; g++) await publishParts([...groups[g]!, ...sidecars(groups[g + 1])]);
}

/**
 * Writes the pieces `content` yields to `path` atomically and durably, one
 * piece at a time: a file of millions of lines never needs one string or
 * buffer for the whole (no sidecar: for data files).
 */
export async function writeFileAtomicPieces(path: string, content: Iterable<string | Uint8Array>): Promise<void> {
  await publishParts([await stagePart(path, content)]);
}

/** Writes `content` to `path` atomically and durably (with its sidecar when asked for). */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  await publishFiles([await stageFile(path, content, options)]);
}

/** Deletes a file and its `.name.crc` sidecar (the file first: a file never lives without its sidecar). */
export async function removeWithChecksum(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(checksumPath(path), { force: true });
}

/**
 * Deletes the temporary files a crashed write left in `dir` (our name pattern
 * only, never one this process is writing now). Call it only while holding
 * the checkpoint's lock: no other process writes there then.
 *
 * @returns the names removed
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!TEMPORARY_NAME.test(name) || inFlight.has(join(dir, name))) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** fsyncs a directory so a rename in it survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `mkdir -p`. */
export async function ensureDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

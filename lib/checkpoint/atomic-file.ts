/**
 * Crash-safe file writes: write a temporary file beside the target, fsync
 * it, rename it over the target, fsync the directory. A reader sees the old
 * file or the whole new one, never a part.
 *
 * @module
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let sequence = 0;

/** A file written and fsynced under a temporary name, not yet visible under its own. */
export interface StagedFile {
  readonly path: string;
  readonly temporary: string;
}

/** First half of an atomic write: content on disk, durably, under a hidden temporary name. */
export async function stageFile(path: string, content: string | Uint8Array): Promise<StagedFile> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${sequence++}.tmp`);
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temporary, { force: true });
    // A write to an open file fails without a path (`ENOSPC: no space left on device, write`): name the file.
    if (err instanceof Error && (err as NodeJS.ErrnoException).path === undefined) (err as NodeJS.ErrnoException).path = path;
    throw err;
  }
  await handle.close();
  return { path, temporary };
}

/** Second half: renames staged files into place and fsyncs their directories (each once). */
export async function publishFiles(files: readonly StagedFile[]): Promise<void> {
  await Promise.all(files.map((f) => rename(f.temporary, f.path)));
  await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map(syncDirectory));
}

/** Writes `content` to `path` atomically and durably. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  await publishFiles([await stageFile(path, content)]);
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

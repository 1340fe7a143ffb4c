/**
 * Spark's `FileStreamSinkLog`: the manifest that makes a file sink's output
 * exactly-once. Each committed micro-batch `N` gets `<out>/_spark_metadata/N`
 * listing the data files it wrote; a data file not listed there (a batch
 * that crashed before its entry, a temp file, a stray copy) does not exist
 * for readers. Entries are byte-compatible with Spark's, so Spark reads a
 * directory tidemark wrote and the other way round:
 *
 * ```
 * v1
 * {"path":"file:///out/part-00000-<uuid>-c000.json","size":123,"isDir":false,"modificationTime":1469504400000,"blockReplication":1,"blockSize":33554432,"action":"add"}
 * ```
 *
 * Compaction follows Spark's default (`spark.sql.streaming.fileSink.log.compactInterval`
 * = 10): batch `N` with `(N + 1) % 10 === 0` is written as `N.compact`, holding
 * every file of batches `0..N`, so a reader opens one compact file plus at
 * most nine deltas however long the query ran. Older deltas are kept (Spark
 * deletes them after a 10-minute delay; keeping them is harmless because
 * readers start from the latest compact file).
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { access, opendir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { TidemarkError } from '../errors.js';
import { ensureDirectory, writeFileAtomic } from '../checkpoint/atomic-file.js';
import { isVisibleName, sourceLogPath, toFileUri } from '../core/file-selection.js';

/** One data file in the log: Spark's `SinkFileStatus`, keys in Spark's order. */
export interface SinkLogFile {
  /** `file://` URI of the absolute path. */
  readonly path: string;
  /** Length in bytes. */
  readonly size: number;
  /** Always false for files a sink writes. */
  readonly isDir: boolean;
  /** Modification time, epoch ms. */
  readonly modificationTime: number;
  /** Hadoop's local file system reports 1. */
  readonly blockReplication: number;
  /** Hadoop's local file system reports 32 MiB. */
  readonly blockSize: number;
  /** `add`; `delete` entries (old Spark) cancel an earlier `add` of the same path. */
  readonly action: 'add' | 'delete';
}

/** Name of the manifest directory inside the output directory. */
export const SINK_LOG_DIRECTORY = '_spark_metadata';

/** Spark's `spark.sql.streaming.fileSink.log.compactInterval` default. */
export const SINK_LOG_COMPACT_INTERVAL = 10;

/** Block size Hadoop's local file system reports (`fs.local.block.size`). */
export const LOCAL_BLOCK_SIZE = 33_554_432;

const VERSION = 1;
const BATCH_FILE = /^(\d+)(\.compact)?$/;

/** True when batch `batchId` is written as a `.compact` file. */
export function isCompactionBatch(batchId: number): boolean {
  return (batchId + 1) % SINK_LOG_COMPACT_INTERVAL === 0;
}

/**
 * The log entry of a data file already on disk (size and mtime from `stat`),
 * so a sink records exactly what a reader will find.
 */
export async function sinkLogFileFor(absolutePath: string): Promise<SinkLogFile> {
  const s = await stat(absolutePath);
  return {
    path: toFileUri(absolutePath),
    size: s.size,
    isDir: false,
    modificationTime: Math.floor(s.mtimeMs),
    blockReplication: 1,
    blockSize: LOCAL_BLOCK_SIZE,
    action: 'add',
  };
}

function serialize(files: readonly SinkLogFile[]): string {
  let out = `v${VERSION}`;
  for (const f of files) {
    out +=
      '\n' +
      JSON.stringify({
        path: f.path,
        size: f.size,
        isDir: f.isDir,
        modificationTime: f.modificationTime,
        blockReplication: f.blockReplication,
        blockSize: f.blockSize,
        action: f.action,
      });
  }
  return out;
}

function corrupt(message: string, file: string): TidemarkError {
  return new TidemarkError('ERR_CHECKPOINT_CORRUPT', message, { file });
}

function parse(text: string, file: string): SinkLogFile[] {
  const lines = text.split('\n');
  const m = /^v(\d+)$/.exec(lines[0] ?? '');
  if (m === null) throw corrupt(`Log file was malformed: failed to detect the log file version line in ${file}`, file);
  if (Number(m[1]) > VERSION) {
    throw corrupt(
      `UnsupportedLogVersion: maximum supported log version is v${VERSION}, but encountered v${m[1]}. The log file was produced by a newer version of Spark and cannot be read by this version. Please upgrade.`,
      file,
    );
  }
  const out: SinkLogFile[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let entry: Partial<SinkLogFile>;
    try {
      entry = JSON.parse(line) as Partial<SinkLogFile>;
    } catch (err) {
      throw corrupt(`${file} line ${i + 1} is not JSON: ${(err as Error).message}`, file);
    }
    if (typeof entry.path !== 'string') throw corrupt(`${file} line ${i + 1} has no path`, file);
    out.push({
      path: entry.path,
      size: entry.size ?? 0,
      isDir: entry.isDir ?? false,
      modificationTime: entry.modificationTime ?? 0,
      blockReplication: entry.blockReplication ?? 1,
      blockSize: entry.blockSize ?? LOCAL_BLOCK_SIZE,
      action: entry.action === 'delete' ? 'delete' : 'add',
    });
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Batch ids in the log and which of them are compact files, sorted. */
async function listBatches(logDir: string): Promise<{ ids: number[]; compact: Set<number> }> {
  const ids: number[] = [];
  const compact = new Set<number>();
  let dir;
  try {
    dir = await opendir(logDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ids, compact };
    throw err;
  }
  for await (const entry of dir) {
    const m = BATCH_FILE.exec(entry.name);
    if (m === null) continue; // temp files (`.N.….tmp`), `.crc` files
    const id = Number(m[1]);
    ids.push(id);
    if (m[2] !== undefined) compact.add(id);
  }
  ids.sort((a, b) => a - b);
  return { ids, compact };
}

function batchPath(logDir: string, batchId: number, compact: boolean): string {
  return join(logDir, compact ? `${batchId}.compact` : String(batchId));
}

/** True when `outDir` holds a `_spark_metadata` directory, i.e. readers must go through the log. */
export async function hasSinkLog(outDir: string): Promise<boolean> {
  try {
    return (await stat(join(outDir, SINK_LOG_DIRECTORY))).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The last batch id with a log entry, or null when no batch was committed; what a restarted sink compares against. */
export async function latestSinkBatchId(outDir: string): Promise<number | null> {
  const { ids } = await listBatches(join(outDir, SINK_LOG_DIRECTORY));
  return ids.length === 0 ? null : ids[ids.length - 1]!;
}

/** True when batch `batchId` has its entry (plain or compact): a re-executed batch must not be written again. */
export async function hasSinkBatch(outDir: string, batchId: number): Promise<boolean> {
  const logDir = join(outDir, SINK_LOG_DIRECTORY);
  return (await exists(batchPath(logDir, batchId, false))) || (await exists(batchPath(logDir, batchId, true)));
}

/**
 * Every committed file, in batch order, `delete` entries applied: the set a
 * reader must see. Reads the latest compact file and the deltas after it.
 */
export async function readSinkLog(outDir: string): Promise<SinkLogFile[]> {
  const logDir = join(outDir, SINK_LOG_DIRECTORY);
  const { ids, compact } = await listBatches(logDir);
  if (ids.length === 0) return [];
  const latest = ids[ids.length - 1]!;
  let from = 0;
  const entries: SinkLogFile[] = [];
  for (let i = ids.length - 1; i >= 0; i--) {
    if (compact.has(ids[i]!)) {
      const path = batchPath(logDir, ids[i]!, true);
      entries.push(...parse(await readFile(path, 'utf8'), path));
      from = ids[i]! + 1;
      break;
    }
  }
  const present = new Set(ids);
  for (let id = from; id <= latest; id++) {
    const path = batchPath(logDir, id, false);
    if (!present.has(id)) throw corrupt(`${logDir}: batch ${id} is missing from the file sink log (latest is ${latest})`, path);
    entries.push(...parse(await readFile(path, 'utf8'), path));
  }
  const deleted = new Set(entries.filter((e) => e.action === 'delete').map((e) => e.path));
  return deleted.size === 0 ? entries : entries.filter((e) => e.action === 'add' && !deleted.has(e.path));
}

/**
 * Writes batch `batchId`'s entry atomically (temp file, fsync, rename), the
 * sink's commit point: before it the batch's files are invisible, after it
 * they are all visible. A compaction batch also carries every earlier file.
 *
 * @returns false, writing nothing, when the batch already has an entry (Spark's `HDFSMetadataLog.add`)
 */
export async function writeSinkLogEntry(outDir: string, batchId: number, files: readonly SinkLogFile[]): Promise<boolean> {
  if (!Number.isInteger(batchId) || batchId < 0) throw new TidemarkError('ERR_PROTOCOL', `invalid file sink batch id ${batchId}`);
  const logDir = join(outDir, SINK_LOG_DIRECTORY);
  await ensureDirectory(logDir);
  if (await hasSinkBatch(outDir, batchId)) return false;
  const compact = isCompactionBatch(batchId);
  const content = compact ? [...(await readSinkLog(outDir)), ...files] : files;
  await writeFileAtomic(batchPath(logDir, batchId, compact), serialize(content));
  return true;
}

/** One line of a data file. */
export interface CommittedLine {
  /** Absolute path of the file. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** The line without its terminator. */
  readonly text: string;
}

/** Visible regular files directly in `dir`, by name (Spark's listing filter). */
async function visibleFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of await opendir(dir)) {
    if (entry.isFile() && isVisibleName(entry.name)) names.push(entry.name);
  }
  names.sort();
  return names.map((n) => join(dir, n));
}

/**
 * The lines of the data in `dir` as Spark's readers see them: when
 * `_spark_metadata` exists only the files it lists (in batch order), so
 * uncommitted, partial and stray files are invisible; otherwise every visible
 * file (not `_…`/`.…`) directly in `dir`, by name. Files are streamed one
 * line at a time.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` when a listed file is gone
 */
export async function* readCommittedJsonLines(dir: string): AsyncIterable<CommittedLine> {
  const root = resolve(dir);
  const files = (await hasSinkLog(root))
    ? (await readSinkLog(root)).filter((f) => !f.isDir).map((f) => sourceLogPath(f.path))
    : await visibleFiles(root);
  for (const file of files) {
    const stream = createReadStream(file, { encoding: 'utf8' });
    const opened = new Promise<void>((ok, fail) => {
      stream.once('open', () => ok());
      stream.once('error', fail);
    });
    try {
      await opened;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TidemarkError('ERR_FILE_SOURCE', `File ${file} does not exist, but it is listed in ${join(root, SINK_LOG_DIRECTORY)}`, { file, cause: err });
      }
      throw err;
    }
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let line = 0;
    try {
      for await (const text of lines) yield { file, line: ++line, text };
    } finally {
      lines.close();
      stream.destroy();
    }
  }
}

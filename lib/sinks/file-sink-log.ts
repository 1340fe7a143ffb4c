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
 * Every log file has Hadoop's `.N.crc` sidecar (Spark writes and checks the
 * same), checked on every read.
 *
 * Compaction follows Spark's default (`spark.sql.streaming.fileSink.log.compactInterval`
 * = 10): batch `N` with `(N + 1) % 10 === 0` is written as `N.compact`, holding
 * every file of batches `0..N`, so a reader opens one compact file plus at
 * most nine deltas however long the query ran. Once `N.compact` is written,
 * the files before the previous compact `N - 10` are deleted (see
 * `core/compactible-log.ts` for why one generation is kept).
 *
 * `_spark_metadata/.tidemark-owner` records which query writes the
 * directory (Spark lists only numeric names there, so it ignores it): a
 * query with another checkpoint is refused instead of skipping the batches
 * the first one committed under the same numbers.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { opendir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from '../errors.js';
import { ensureDirectory, removeStaleTemporaries, writeFileAtomic } from '../checkpoint/atomic-file.js';
import { readChecked } from '../checkpoint/checksum.js';
import { CompactibleFileLog, type LogCodec } from '../checkpoint/compactible-file-log.js';
import { COMPACT_INTERVAL, isCompactionBatch as isCompaction, logFileName } from '../core/compactible-log.js';
import { isVisibleName } from '../core/file-selection.js';
import { sourceLogPath, toFileUri } from '../checkpoint/file-uri.js';

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
export const SINK_LOG_COMPACT_INTERVAL = COMPACT_INTERVAL;

/** Block size Hadoop's local file system reports (`fs.local.block.size`). */
export const LOCAL_BLOCK_SIZE = 33_554_432;

/** Name of the ownership record inside `_spark_metadata`. */
export const SINK_OWNER_FILE = '.tidemark-owner';

const VERSION = 1;

/** True when batch `batchId` is written as a `.compact` file. */
export function isCompactionBatch(batchId: number): boolean {
  return isCompaction(batchId);
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

const CODEC: LogCodec<SinkLogFile> = { format: serialize, parse };

/** Who writes an output directory: `_spark_metadata/.tidemark-owner`. */
export interface SinkOwner {
  /** The query id (its checkpoint's `metadata` id). */
  readonly queryId: string;
  /** Absolute checkpoint directory of that query, when known. */
  readonly checkpoint: string | null;
  /** Log batches from this one on have checksum sidecars (older ones were written by a release without them). */
  readonly checksumsFrom: number;
}

/** Reads the ownership record of `outDir`, or null when there is none. */
export async function readSinkOwner(outDir: string): Promise<SinkOwner | null> {
  const path = join(outDir, SINK_LOG_DIRECTORY, SINK_OWNER_FILE);
  let bytes: Buffer;
  try {
    // Only this release writes the record, always with its sidecar.
    bytes = await readChecked(path, true);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Partial<SinkOwner>;
    if (typeof v.queryId !== 'string' || !Number.isSafeInteger(v.checksumsFrom)) throw new Error('queryId or checksumsFrom is missing');
    return { queryId: v.queryId, checkpoint: typeof v.checkpoint === 'string' ? v.checkpoint : null, checksumsFrom: v.checksumsFrom! };
  } catch (err) {
    throw corrupt(`${path} is not a valid ownership record: ${(err as Error).message}`, path);
  }
}

async function writeSinkOwner(outDir: string, owner: SinkOwner): Promise<void> {
  await writeFileAtomic(join(outDir, SINK_LOG_DIRECTORY, SINK_OWNER_FILE), JSON.stringify(owner) + '\n', { checksum: true });
}

/** The log of `outDir`, reading sidecars as its owner record says. */
async function sinkLog(outDir: string, owner?: SinkOwner | null): Promise<CompactibleFileLog<SinkLogFile>> {
  const recorded = owner === undefined ? await readSinkOwner(outDir) : owner;
  return new CompactibleFileLog({ dir: join(outDir, SINK_LOG_DIRECTORY), label: 'the file sink log', checksumsFrom: recorded?.checksumsFrom ?? Infinity, ...CODEC });
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
  return (await sinkLog(outDir, null)).latestBatchId();
}

/** True when batch `batchId` has its entry (plain or compact): a re-executed batch must not be written again. */
export async function hasSinkBatch(outDir: string, batchId: number): Promise<boolean> {
  return (await sinkLog(outDir, null)).has(batchId);
}

/**
 * Every committed file, in batch order, `delete` entries applied: the set a
 * reader must see. Reads the latest compact file and the deltas after it,
 * checking each file's checksum.
 *
 * @throws TidemarkError `ERR_CHECKPOINT_CORRUPT` naming a missing or damaged log file
 */
export async function readSinkLog(outDir: string): Promise<SinkLogFile[]> {
  return applyDeletes(await (await sinkLog(outDir)).readAll());
}

function applyDeletes(entries: SinkLogFile[]): SinkLogFile[] {
  const deleted = new Set(entries.filter((e) => e.action === 'delete').map((e) => e.path));
  return deleted.size === 0 ? entries : entries.filter((e) => e.action === 'add' && !deleted.has(e.path));
}

/**
 * Writes batch `batchId`'s entry atomically (temp file, fsync, rename), the
 * sink's commit point: before it the batch's files are invisible, after it
 * they are all visible. A compaction batch also carries every earlier file,
 * and superseded log files are deleted.
 *
 * @returns false, writing nothing, when the batch already has an entry (Spark's `HDFSMetadataLog.add`)
 */
export async function writeSinkLogEntry(outDir: string, batchId: number, files: readonly SinkLogFile[]): Promise<boolean> {
  if (!Number.isInteger(batchId) || batchId < 0) throw new TidemarkError('ERR_PROTOCOL', `invalid file sink batch id ${batchId}`);
  return (await sinkLog(outDir)).add(batchId, files);
}

/** What {@link openSinkLog} needs to know about the query that opens a sink. */
export interface SinkLogClaim {
  /** The query id. */
  readonly queryId: string;
  /** Its checkpoint directory. */
  readonly checkpoint: string | null;
  /** Its last committed batch, or null for a query that committed none. */
  readonly lastCommittedBatchId: number | null;
  /** Data files being written by this process now (never orphans). */
  readonly writing?: ReadonlySet<string>;
}

/** What {@link openSinkLog} found and cleaned. */
export interface OpenedSinkLog {
  /** The ownership record in force. */
  readonly owner: SinkOwner;
  /** Temporary files of crashed writes that were deleted (names relative to the output directory). */
  readonly removedTemporaries: readonly string[];
  /** Data files no log entry lists (written by a batch that crashed before its entry) that were deleted. */
  readonly removedOrphans: readonly string[];
}

/** Our data file names (`part-00000-<uuid>-c000.json`, `….snappy.parquet`): the only unlisted files a sink deletes. */
const DATA_FILE = /^part-\d{5}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-c\d{3}\.(?:json|csv|snappy\.parquet)$/;

/**
 * Opens `outDir` for the query `claim` describes, before its first batch:
 *
 * 1. ownership: a directory recorded as another query's is refused
 *    (`ERR_OUTPUT_OWNED`, naming both queries); one whose log has batches
 *    but no record is adopted only by a checkpoint that committed them (a
 *    release before records existed), else refused; a fresh one is claimed;
 * 2. completeness: the log must hold every batch up to the checkpoint's last
 *    committed one, each file intact, and nothing beyond the batch after it;
 * 3. clean-up: our temporary files and the data files no entry lists are
 *    deleted. Safe now: the caller holds the checkpoint's lock (no other run
 *    of this query writes) and the record says no other query writes here,
 *    so an unlisted data file can only be what a crashed batch of this query
 *    left, invisible to every reader.
 *
 * @throws TidemarkError `ERR_OUTPUT_OWNED`, `ERR_CHECKPOINT_CORRUPT` naming the missing or damaged file
 */
export async function openSinkLog(outDir: string, claim: SinkLogClaim): Promise<OpenedSinkLog> {
  const logDir = join(outDir, SINK_LOG_DIRECTORY);
  await ensureDirectory(logDir);
  const recorded = await readSinkOwner(outDir);
  const unowned = await sinkLog(outDir, null);
  const listing = await unowned.list();
  const latest = listing.ids.length === 0 ? -1 : listing.ids[listing.ids.length - 1]!;
  const committed = claim.lastCommittedBatchId ?? -1;
  const fix = `Write this query to another output directory, or restart the query that wrote ${outDir} with its own checkpoint`;
  let owner: SinkOwner;
  if (recorded !== null) {
    if (recorded.queryId !== claim.queryId) {
      throw new TidemarkError(
        'ERR_OUTPUT_OWNED',
        `output directory ${outDir} belongs to query ${recorded.queryId} (checkpoint ${recorded.checkpoint ?? 'unknown'}), not to this query ${claim.queryId} (checkpoint ${claim.checkpoint ?? 'in memory'}): two queries writing one directory would skip each other's batches. ${fix}${recorded.checkpoint === null ? '' : ` (${recorded.checkpoint})`}.`,
        { file: join(logDir, SINK_OWNER_FILE) },
      );
    }
    owner = recorded;
  } else if (latest < 0) {
    owner = { queryId: claim.queryId, checkpoint: claim.checkpoint, checksumsFrom: 0 };
    await writeSinkOwner(outDir, owner);
  } else if (committed >= 0 && latest <= committed + 1 && !listing.hasChecksums) {
    // Written by a release before ownership records, and this checkpoint committed those batches: ours.
    owner = { queryId: claim.queryId, checkpoint: claim.checkpoint, checksumsFrom: latest + 1 };
    await writeSinkOwner(outDir, owner);
  } else {
    throw new TidemarkError(
      'ERR_OUTPUT_OWNED',
      `output directory ${outDir} already holds batches up to ${latest} written by another query (its ${SINK_LOG_DIRECTORY} records no owner), and this query ${claim.queryId} (checkpoint ${claim.checkpoint ?? 'in memory'}) ${committed < 0 ? 'has committed no batch' : `committed batches up to ${committed} only`}: writing there would skip that query's batches. ${fix}.`,
      { file: logDir },
    );
  }
  const log = await sinkLog(outDir, owner);
  const checkpoint = claim.checkpoint === null ? 'the checkpoint' : `the checkpoint ${claim.checkpoint}`;
  if (latest < committed) {
    throw log.missing(latest + 1, `${checkpoint} committed batches up to ${committed}, so the log must list the files of each of them; restore ${outDir}, or start over with a new checkpoint and an empty output directory`);
  }
  if (latest > committed + 1) {
    const path = join(logDir, logFileName(latest));
    throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `${path} records batch ${latest}, but ${checkpoint} committed batches up to ${committed} only: its commits are missing`, { file: path });
  }
  const listed = new Set((await log.readAll(latest)).map((f) => sourceLogPath(f.path)));
  const removedTemporaries = [...(await removeStaleTemporaries(outDir)), ...(await removeStaleTemporaries(logDir)).map((n) => join(SINK_LOG_DIRECTORY, n))];
  const removedOrphans: string[] = [];
  for (const name of await readdir(outDir)) {
    const path = join(outDir, name);
    if (!DATA_FILE.test(name) || listed.has(path) || claim.writing?.has(path) === true) continue;
    await rm(path, { force: true });
    removedOrphans.push(name);
  }
  return { owner, removedTemporaries, removedOrphans };
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

/** The data files of an output directory as Spark's readers see them, and the log that lists them. */
export interface CommittedDataFiles {
  /** Absolute paths, in batch order (with a log) or by name. */
  readonly files: string[];
  /** The `_spark_metadata` directory that lists them, or null when there is none. */
  readonly log: string | null;
}

/**
 * The files of the data in `dir` as Spark's readers see them: when
 * `_spark_metadata` exists only the files it lists (in batch order), so
 * uncommitted, partial and stray files are invisible; otherwise every visible
 * file (not `_…`/`.…`) directly in `dir`, by name.
 */
export async function committedDataFiles(dir: string): Promise<CommittedDataFiles> {
  const root = resolve(dir);
  if (await hasSinkLog(root)) {
    return { files: (await readSinkLog(root)).filter((f) => !f.isDir).map((f) => sourceLogPath(f.path)), log: join(root, SINK_LOG_DIRECTORY) };
  }
  return { files: await visibleFiles(root), log: null };
}

/**
 * The lines of the data in `dir` as Spark's readers see them: when
 * `_spark_metadata` exists only the files it lists (in batch order), so
 * uncommitted, partial and stray files are invisible; otherwise every visible
 * file (not `_…`/`.…`) directly in `dir`, by name. Files are streamed one
 * line at a time.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` when a listed file is gone;
 *   `ERR_UNSUPPORTED_FORMAT` for a Parquet or CSV file (a `format: 'parquet'` or `'csv'` sink's output), which are no JSON lines
 */
export async function* readCommittedJsonLines(dir: string): AsyncIterable<CommittedLine> {
  const root = resolve(dir);
  // node:readline is loaded by a reader of the output only: a query's start skips it.
  const { createInterface } = await import('node:readline');
  for (const file of (await committedDataFiles(root)).files) {
    if (file.endsWith('.parquet')) {
      throw new TidemarkError(
        'ERR_UNSUPPORTED_FORMAT',
        `${file} is a Parquet file; only JSON output is read here. Read Parquet output with DuckDB, e.g. SELECT * FROM read_parquet('${join(root, '*.parquet')}')`,
        { file },
      );
    }
    if (file.endsWith('.csv')) {
      throw new TidemarkError(
        'ERR_UNSUPPORTED_FORMAT',
        `${file} is a CSV file; only JSON output is read here. Read CSV output with DuckDB, e.g. SELECT * FROM read_csv('${join(root, '*.csv')}', header = true)`,
        { file },
      );
    }
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

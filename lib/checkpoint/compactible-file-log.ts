/**
 * A compactible metadata log on disk (Spark's `CompactibleFileStreamLog`):
 * the file sink's `_spark_metadata` and the file source's `sources/<i>`.
 * The rules (which batch compacts, what a reader reads, what may be
 * deleted) are in `core/compactible-log.ts`; this is the I/O: every file is
 * written atomically with its `.N.crc` sidecar, checked when read, and a
 * file the log needs but cannot find is `ERR_CHECKPOINT_CORRUPT` naming it.
 *
 * @module
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TidemarkError } from '../errors.js';
import {
  batchesBeforeCompaction,
  isCompactionBatch,
  logFileName,
  parseLogFileName,
  readPlan,
  supersededBefore,
} from '../core/compactible-log.js';
import { readChecked } from './checksum.js';
import { ensureDirectory, removeWithChecksum, writeFileAtomic } from './atomic-file.js';

/** How a log's entries are written and read. */
export interface LogCodec<T> {
  /** The body of a log file. */
  format(entries: readonly T[]): string;
  /** Entries of a log file; throws `ERR_CHECKPOINT_CORRUPT` naming `file` when malformed. */
  parse(text: string, file: string): T[];
}

/** Options of {@link CompactibleFileLog}. */
export interface CompactibleFileLogOptions<T> extends LogCodec<T> {
  /** The log's directory. */
  readonly dir: string;
  /**
   * Batches from this one on were written with checksum sidecars, so a
   * missing sidecar is corruption; older ones were written by a release
   * without them. 0 for a log this release created.
   */
  readonly checksumsFrom: number;
  /** What the log is, for messages ("the file sink log"). */
  readonly label: string;
}

/** The batch files of a log directory. */
export interface LogListing {
  /** Every batch id with a file, ascending. */
  readonly ids: readonly number[];
  /** Batch id → file name (`7`, `9.compact`). */
  readonly names: ReadonlyMap<number, string>;
  /** Batch ids written as compact files. */
  readonly compacts: ReadonlySet<number>;
  /** True when some `.N.crc` sidecar exists (the log was written by a release that writes them). */
  readonly hasChecksums: boolean;
}

// A concurrent writer may delete a file a reader listed (a superseded generation): list again, a few times.
const READ_ATTEMPTS = 4;

/** One compactible log directory. */
export class CompactibleFileLog<T> {
  readonly dir: string;
  readonly label: string;
  readonly checksumsFrom: number;
  readonly #codec: LogCodec<T>;

  constructor(options: CompactibleFileLogOptions<T>) {
    this.dir = options.dir;
    this.label = options.label;
    this.checksumsFrom = options.checksumsFrom;
    this.#codec = { format: options.format, parse: options.parse };
  }

  /** The batch files present (an absent directory is an empty log). */
  async list(): Promise<LogListing> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ids: [], names: new Map(), compacts: new Set(), hasChecksums: false };
      throw err;
    }
    const byId = new Map<number, string>();
    const compacts = new Set<number>();
    let hasChecksums = false;
    for (const name of names) {
      const parsed = parseLogFileName(name);
      if (parsed === null) {
        if (name.endsWith('.crc') && parseLogFileName(name.slice(1, -4)) !== null) hasChecksums = true;
        continue;
      }
      // Spark may leave both `N` and `N.compact` after a crash mid-compaction; the compact file is complete.
      if (parsed.compact) {
        compacts.add(parsed.batchId);
        byId.set(parsed.batchId, name);
      } else if (!byId.has(parsed.batchId)) byId.set(parsed.batchId, name);
    }
    return { ids: [...byId.keys()].sort((a, b) => a - b), names: byId, compacts, hasChecksums };
  }

  /** The last batch with a file, or null. */
  async latestBatchId(): Promise<number | null> {
    const { ids } = await this.list();
    return ids.length === 0 ? null : ids[ids.length - 1]!;
  }

  /** True when batch `batchId` has a file (plain or compact). */
  async has(batchId: number): Promise<boolean> {
    return (await this.list()).names.has(batchId);
  }

  /** Path of batch `batchId`'s file as this log writes it. */
  pathOf(batchId: number): string {
    return join(this.dir, logFileName(batchId));
  }

  /**
   * Every entry of batches `0..latest` (default: the last batch present), in
   * batch order: the latest compact file at or before it and every delta
   * after. Each file's checksum is checked.
   *
   * @throws TidemarkError `ERR_CHECKPOINT_CORRUPT` naming the first missing or damaged file
   */
  async readAll(latest?: number): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      const listing = await this.list();
      try {
        return await this.#readListed(listing, latest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= READ_ATTEMPTS) throw err;
      }
    }
  }

  async #readListed(listing: LogListing, latest?: number): Promise<T[]> {
    const last = latest ?? (listing.ids.length === 0 ? -1 : listing.ids[listing.ids.length - 1]!);
    if (last < 0) return [];
    const plan = readPlan(last, listing.compacts);
    const out: T[] = [];
    for (const id of plan.compact === null ? plan.deltas : [plan.compact, ...plan.deltas]) {
      const name = listing.names.get(id);
      if (name === undefined) throw this.missing(id, `it is needed to read batches up to ${last}`);
      for (const entry of await this.#read(id, name)) out.push(entry);
    }
    return out;
  }

  async #read(batchId: number, name: string): Promise<T[]> {
    const path = join(this.dir, name);
    const bytes = await readChecked(path, batchId >= this.checksumsFrom);
    return this.#codec.parse(bytes.toString('utf8'), path);
  }

  /** `ERR_CHECKPOINT_CORRUPT` for a missing batch file. */
  missing(batchId: number, why: string): TidemarkError {
    const path = this.pathOf(batchId);
    return new TidemarkError('ERR_CHECKPOINT_CORRUPT', `${path} is missing from ${this.label} ${this.dir}: ${why}`, { file: path });
  }

  /**
   * Writes batch `batchId` (with its sidecar); a compaction batch also
   * carries every earlier entry, then the superseded files are deleted.
   *
   * @returns false, writing nothing, when the batch already has a file (Spark's `HDFSMetadataLog.add`)
   */
  async add(batchId: number, entries: readonly T[]): Promise<boolean> {
    if (!Number.isSafeInteger(batchId) || batchId < 0) throw new TidemarkError('ERR_PROTOCOL', `invalid batch id ${batchId} for ${this.label}`);
    await ensureDirectory(this.dir);
    const listing = await this.list();
    if (listing.names.has(batchId)) return false;
    if (!isCompactionBatch(batchId)) {
      await writeFileAtomic(this.pathOf(batchId), this.#codec.format(entries), { checksum: true });
      return true;
    }
    const all: T[] = [];
    for (const id of batchesBeforeCompaction(batchId)) {
      const name = listing.names.get(id);
      if (name === undefined) throw this.missing(id, `compacting batch ${batchId} needs batches ${Math.max(0, batchId - 10)}..${batchId - 1}`);
      for (const entry of await this.#read(id, name)) all.push(entry);
    }
    for (const entry of entries) all.push(entry);
    await writeFileAtomic(this.pathOf(batchId), this.#codec.format(all), { checksum: true });
    await this.deleteSuperseded(batchId);
    return true;
  }

  /** Deletes the files (and sidecars) of every batch before the generation preceding compact `compactBatchId`. */
  async deleteSuperseded(compactBatchId: number): Promise<void> {
    const before = supersededBefore(compactBatchId);
    if (before <= 0) return;
    for (const name of await readdir(this.dir)) {
      const parsed = parseLogFileName(name) ?? (name.startsWith('.') && name.endsWith('.crc') ? parseLogFileName(name.slice(1, -4)) : null);
      if (parsed !== null && parsed.batchId < before) await removeWithChecksum(join(this.dir, name.startsWith('.') ? name.slice(1, -4) : name));
    }
  }
}

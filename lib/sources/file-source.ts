/**
 * `FileSource`: Spark's file stream source over a directory.
 *
 * Each micro-batch takes new files (oldest modification time first, at most
 * `maxFilesPerTrigger`), records them in the checkpoint's source log
 * (`sources/0/K`) before reading, and streams their lines: a file is never
 * read twice, across restarts too, and a directory is never held in memory.
 *
 * It emits lines, not parsed rows (`value, file, line, valid`); `ParseSchema`
 * turns them into typed rows. Lines are framed by split2 on `\n` / `\r\n`
 * with a bounded line length; with `multiLine` each file is one JSON
 * document, split into records by stream-json.
 *
 * Files ending in `.gz` (gzip) and `.deflate` (zlib) are decompressed as
 * they are read, in both framings, as Hadoop's codecs do; a file of another
 * codec Hadoop knows (`.bz2`, `.lz4`, `.snappy`, `.zst`…) fails the query
 * (`ERR_UNSUPPORTED_COMPRESSION`) rather than be read as text.
 *
 * Files skipped by Spark's `maxFileAge` rule are reported (a `warning`
 * event, and `numFilesSkippedByAge` in the progress's source metrics).
 *
 * Files must be placed atomically (written elsewhere, then renamed in), as
 * Spark documents: a file still being written when its batch reads it is
 * read as far as it is then; its later appends are never read, and an
 * incomplete last line becomes a malformed record.
 *
 * @module
 */
import { createReadStream, existsSync, realpathSync } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TidemarkError, lineTooLong } from '../errors.js';
import { BatchBuilder, StringDictionary, type RecordBatch } from '../core/batch.js';
import { giveReadBuffer, takeReadBuffer } from '../core/read-buffers.js';
import { field, schema, Types, type Schema } from '../core/schema.js';
import { archivePath, checkArchiveDir, InputPattern, listInputFiles } from './file-listing.js';
import { sourceLogPath, toFileUri } from '../checkpoint/file-uri.js';
import {
  compressionOf,
  createSelectionState,
  formatSourceLogFile,
  needsListing,
  parseFileSourceOptions,
  parseSourceLogFile,
  selectBatch,
  type Compression,
  type FileEntry,
  type FileSourceOptions as SelectionOptions,
  type SelectionState,
  type SourceLogEntry,
} from '../core/file-selection.js';
import { CompactibleFileLog } from '../checkpoint/compactible-file-log.js';
import { SourceBase, refuseQueryOptions, type Offset, type PlanMode, type PlannedAhead, type SourceContext } from './source.js';

/**
 * What a file source emits: one row per line (or per record with
 * `multiLine`). `valid` is false when the line itself is broken (invalid
 * UTF-8, an unparsable multi-line document): `ParseSchema` then treats it as
 * a malformed record.
 */
export const FILE_LINES_SCHEMA: Schema = schema([
  field('value', Types.string),
  field('file', Types.string),
  field('line', Types.long),
  field('valid', Types.boolean),
]);

/**
 * What a file source emits with `framing: 'chunks'`: byte chunks that end on
 * a line boundary (or at the end of the file), with the file and the byte
 * offset of the chunk. `ParseSchema` scans them without a string per line.
 * The source keeps no reference to a chunk it emitted (`handedOver`).
 */
export function fileChunksSchema(maxLineLength: number): Schema {
  return schema([field('chunk', Types.binary, true, { maxLength: maxLineLength, handedOver: true }), field('file', Types.string), field('offset', Types.long)]);
}

/** Options of {@link FileSource}: Spark's file source options plus tidemark's framing limits. */
export interface FileSourceOptions {
  /**
   * The directory to watch, a file, or a Hadoop glob pattern
   * (`data/*.json`, `logs/2016-*`: see {@link InputPattern}). A path without
   * glob characters must exist when the source is created
   * (`ERR_PATH_NOT_FOUND`, Spark's `[PATH_NOT_FOUND]`); a glob may match
   * nothing yet.
   */
  path: string;
  /** At most this many new files per micro-batch (Spark's `maxFilesPerTrigger`). */
  maxFilesPerTrigger?: number | string;
  /** About this many bytes per micro-batch, at least one file (`maxBytesPerTrigger`). */
  maxBytesPerTrigger?: number | string;
  /** Newest files first. */
  latestFirst?: boolean | string;
  /** Ignore files older than the newest seen minus this (`'7d'`, `'1h'`). */
  maxFileAge?: string;
  /** Recognise seen files by name only. */
  fileNameOnly?: boolean | string;
  /** `off` (default), `delete` or `archive` files once their batch is done. */
  cleanSource?: 'off' | 'delete' | 'archive';
  /** Archive root for `cleanSource: 'archive'`. */
  sourceArchiveDir?: string;
  /** Read sub-directories too. */
  recursiveFileLookup?: boolean | string;
  /**
   * Skip a planned file that is gone when its batch reads it, counting it
   * (`numMissingFilesIgnored`) and emitting a `warning`, instead of failing
   * the query with `ERR_FILE_NOT_FOUND` (Spark's `ignoreMissingFiles`).
   */
  ignoreMissingFiles?: boolean | string;
  /** Each file is one JSON document (an array of records, or one record). */
  multiLine?: boolean;
  /** Longest line accepted, in bytes; a longer one fails the query (`ERR_LINE_TOO_LONG`). Default 16 MiB. */
  maxLineLength?: number;
  /** Lines per emitted batch. Default 4096. */
  linesPerBatch?: number;
  /** Bytes per file read. Default 1 MiB. */
  readBufferBytes?: number;
  /**
   * `chunks` (default): line-aligned byte chunks, for `ParseSchema`'s fast
   * path (a schema-compiled scanner, no string per line).
   * `lines`: one row per line (`value`, `file`, `line`), like Spark's text
   * source, for stages of your own that read the raw text.
   * `multiLine` always reads records.
   */
  framing?: 'lines' | 'chunks';
}

const DEFAULT_MAX_LINE_LENGTH = 16 * 1024 * 1024;
const DEFAULT_LINES_PER_BATCH = 4096;
const READ_CHUNK_BYTES = 1024 * 1024;
const POLL_MS = 100;
const MAX_FILE_NAMES = 4096;

interface FileOffset {
  readonly logOffset: number;
}

function logOffsetOf(offset: Offset | null): number {
  return offset === null ? -1 : (offset as FileOffset).logOffset;
}

/**
 * Streams the lines of the new files of a directory, micro-batch by
 * micro-batch.
 *
 * @example
 * ```ts
 * const source = new FileSource({ path: './datasets/time-series', maxFilesPerTrigger: 10 })
 * await pipeline(source, new ParseSchema({ schema: 'time timestamp, action string' }), …)
 * ```
 */
export class FileSource extends SourceBase {
  readonly schema: Schema;
  readonly description: string;
  /** Absolute path of the watched directory (or file, or glob pattern). */
  readonly path: string;
  /** What {@link path} matches. */
  readonly input: InputPattern;
  readonly #selection: SelectionOptions;
  readonly #multiLine: boolean;
  readonly #maxLineLength: number;
  readonly #linesPerBatch: number;
  readonly #readBufferBytes: number;
  readonly #chunks: boolean;
  /** Its `availableNow` listing is frozen: the next batch can be planned while the one before commits. */
  readonly plansAhead = true;
  #fileDictionary = new StringDictionary();
  // The source log: files of each entry K, in memory and under sources/0 of the checkpoint.
  // Entries still to be read or cleaned; older ones are dropped from memory (the files stay on disk).
  readonly #log = new Map<number, SourceLogEntry[]>();
  #lastLogId = -1;
  #logDirectory: string | null = null;
  #sourceLog: CompactibleFileLog<SourceLogEntry> | null = null;
  #state: SelectionState;
  #frozenListing: FileEntry[] | null = null;
  // Counted since the last progress report (`metrics`).
  #skippedByAge = 0;
  #missingIgnored = 0;
  // Files opened for the current micro-batch: the CLI's summary counts the files a run read.
  #filesRead = 0;

  constructor(options: FileSourceOptions) {
    super();
    refuseQueryOptions('FileSource', options);
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'FileSource needs a path', { option: 'path' });
    }
    this.input = new InputPattern(options.path);
    this.path = this.input.path;
    // Spark checks at load(): a glob is not checked, its paths may appear later.
    if (!this.input.isGlob && !existsSync(this.path)) {
      throw new TidemarkError('ERR_PATH_NOT_FOUND', `[PATH_NOT_FOUND] Path does not exist: file:${this.path}.`, { file: this.path, option: 'path' });
    }
    const raw: Record<string, unknown> = {};
    for (const key of ['maxFilesPerTrigger', 'maxBytesPerTrigger', 'latestFirst', 'maxFileAge', 'fileNameOnly', 'cleanSource', 'sourceArchiveDir', 'recursiveFileLookup', 'ignoreMissingFiles'] as const) {
      const value = options[key];
      if (value !== undefined) raw[key] = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
    }
    this.#selection = parseFileSourceOptions(raw);
    if (this.#selection.cleanSource === 'archive' && this.#selection.sourceArchiveDir !== undefined) checkArchiveDir(this.path, this.#selection.sourceArchiveDir);
    this.#multiLine = options.multiLine ?? false;
    this.#maxLineLength = positiveInteger(options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH, 'maxLineLength');
    this.#linesPerBatch = positiveInteger(options.linesPerBatch ?? DEFAULT_LINES_PER_BATCH, 'linesPerBatch');
    this.#readBufferBytes = positiveInteger(options.readBufferBytes ?? READ_CHUNK_BYTES, 'readBufferBytes');
    const framing = options.framing ?? (options.multiLine === true ? 'lines' : 'chunks');
    if (framing !== 'lines' && framing !== 'chunks') throw new TidemarkError('ERR_INVALID_OPTION', `framing must be 'lines' or 'chunks', got '${framing}'`, { option: 'framing' });
    if (framing === 'chunks' && this.#multiLine) throw new TidemarkError('ERR_INVALID_OPTION', "framing 'chunks' reads JSON lines; it cannot be used with multiLine", { option: 'framing' });
    this.#chunks = framing === 'chunks';
    this.schema = this.#chunks ? fileChunksSchema(this.#maxLineLength) : FILE_LINES_SCHEMA;
    this.description = `FileStreamSource[${pathToFileURL(this.path).href.replace(/^file:\/\/\//, 'file:/')}]`;
    this.#state = createSelectionState(this.#selection);
  }

  override async open(context: SourceContext): Promise<void> {
    const location = context.log;
    if (location === null) return;
    this.#logDirectory = location.directory;
    this.#sourceLog = sourceLogAt(location.directory, location.checksumsFrom);
    await mkdir(this.#logDirectory, { recursive: true });
    // The latest compact file and the deltas after it, each checked: every file ever selected.
    const all = await this.#sourceLog.readAll();
    for (const entry of all) {
      const entries = this.#log.get(entry.batchId);
      if (entries === undefined) this.#log.set(entry.batchId, [entry]);
      else entries.push(entry);
    }
    this.#lastLogId = (await this.#sourceLog.latestBatchId()) ?? -1;
    this.#state = createSelectionState(this.#selection, all.map((e) => ({ path: sourceLogPath(e.path), timestamp: e.timestamp })));
  }

  override async prepareForAvailableNow(): Promise<void> {
    this.#frozenListing = await this.#list();
  }

  override async latestOffset(start: Offset | null, mode: PlanMode): Promise<Offset | null> {
    const planned = await this.#plan(start, mode);
    if (planned.entries === null) return planned.end;
    if (this.#sourceLog !== null) await this.#sourceLog.add(planned.id, planned.entries);
    this.#log.set(planned.id, planned.entries);
    this.#lastLogId = planned.id;
    return planned.end;
  }

  /**
   * {@link FileSource.latestOffset} whose batch can be read before its log
   * entry is durable: reading has no effect a crash must undo, and the
   * executor writes the batch's offsets only once `recorded` settled.
   */
  async planAhead(start: Offset | null, mode: PlanMode): Promise<PlannedAhead> {
    const planned = await this.#plan(start, mode);
    if (planned.entries === null) return { end: planned.end, recorded: Promise.resolve() };
    this.#log.set(planned.id, planned.entries);
    this.#lastLogId = planned.id;
    const recorded = this.#sourceLog === null ? Promise.resolve() : this.#sourceLog.add(planned.id, planned.entries).then(() => undefined);
    // Awaited by whoever planned ahead; until then a failure must not be an unhandled rejection.
    recorded.catch(() => undefined);
    return { end: planned.end, recorded };
  }

  // The next batch's end and, when it is a new one, the id and entries of its log entry (not yet written).
  async #plan(start: Offset | null, mode: PlanMode): Promise<{ end: Offset | null; id: number; entries: SourceLogEntry[] | null }> {
    const startId = logOffsetOf(start);
    const lastId = this.#lastLogId;
    if (startId > lastId && this.#sourceLog !== null) {
      // The offsets name a log entry the log does not have: which files it read is lost.
      throw this.#sourceLog.missing(startId, `the checkpoint's offsets say the files of source log entries up to ${startId} were read, but the log ends at ${lastId}`);
    }
    // A log entry written before a crash, but never planned into offsets, is the next batch.
    if (lastId > startId) return { end: { logOffset: startId + 1 }, id: startId + 1, entries: null };
    const listing = this.#frozenListing ?? (needsListing(this.#state) ? await this.#list() : undefined);
    const files = selectBatch(this.#state, listing, this.#selection, { readAll: mode === 'unlimited', availableNow: this.#frozenListing !== null });
    this.#reportSkippedByAge(this.#state.skippedByAge);
    // A codec tidemark cannot read fails the query before the batch is recorded: nothing to undo.
    for (const f of files) compressionOf(f.path);
    if (files.length === 0) return { end: start, id: lastId, entries: null };
    const id = lastId + 1;
    return { end: { logOffset: id }, id, entries: files.map((f) => ({ path: toFileUri(f.path), timestamp: f.mtimeMs, batchId: id })) };
  }

  override async *getBatch(start: Offset | null, end: Offset, batchId: number): AsyncIterable<RecordBatch> {
    for (let id = logOffsetOf(start) + 1; id <= logOffsetOf(end); id++) {
      const entries = this.#log.get(id);
      if (entries === undefined) throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `the file source log has no entry ${id}`, { file: `${this.#logDirectory ?? '(memory)'}/${id}` });
      for (const entry of entries) {
        const path = sourceLogPath(entry.path);
        const compression = compressionOf(path);
        const handle = await this.#openPlanned(path, batchId);
        if (handle === null) continue;
        this.#filesRead++;
        yield* this.#chunks ? this.#readChunks(path, handle, compression) : this.#readFile(path, handle, compression);
      }
    }
  }

  /** What the source reads: its resolved path or glob. A checkpoint written for another path is refused. */
  override fingerprint(): Record<string, unknown> {
    return { path: this.path };
  }

  /**
   * Refuses output written at `path` when this source would read it as input
   * (the path is the input, inside it, or matched by its glob; symbolic
   * links resolved): a file sink there would read its own output back, one
   * batch per trigger, forever.
   */
  refuseOutputAt(path: string): void {
    const output = resolve(path);
    const input = this.input;
    if (input.covers(output) || input.covers(realPathOf(output), realPathOf(input.base))) {
      throw new TidemarkError(
        'ERR_OUTPUT_INSIDE_INPUT',
        `the output directory ${output} is ${input.isGlob ? 'matched by' : 'inside'} the input path ${input.path}: each batch would read the one before's output as new input, forever. Write the output outside the input`,
        { file: output, option: 'path' },
      );
    }
  }

  /** `numFilesSkippedByAge`, `numMissingFilesIgnored` and `numFilesRead` (files opened) since the previous report. */
  override metrics(): Record<string, string> {
    const metrics = { numFilesSkippedByAge: String(this.#skippedByAge), numMissingFilesIgnored: String(this.#missingIgnored), numFilesRead: String(this.#filesRead) };
    this.#skippedByAge = 0;
    this.#missingIgnored = 0;
    this.#filesRead = 0;
    return metrics;
  }

  #reportSkippedByAge(files: readonly FileEntry[]): void {
    if (files.length === 0) return;
    this.#skippedByAge += files.length;
    const before = this.#state.skippedBefore;
    const threshold = new Date(before).toISOString();
    const newest = new Date(before + this.#state.seen.maxAgeMs).toISOString();
    const shown = files.slice(0, 3).map((f) => f.path).join(', ') + (files.length > 3 ? `, and ${files.length - 3} more` : '');
    this.emit(
      'warning',
      new TidemarkError(
        'ERR_FILE_SOURCE',
        `${files.length} new file${files.length === 1 ? '' : 's'} skipped by maxFileAge, modified before ${threshold} ` +
          `(the newest file seen, ${newest}, minus maxFileAge): ${shown}. To read them, run again with a larger --max-file-age (option maxFileAge)`,
        { file: files[0]!.path, option: 'maxFileAge' },
      ),
    );
  }

  // A file of the source log, opened for reading; null when it is gone and ignoreMissingFiles says to skip it.
  async #openPlanned(path: string, batchId: number): Promise<FileHandle | null> {
    try {
      return await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TidemarkError('ERR_FILE_SOURCE', `cannot read ${path}: ${(err as Error).message}`, { file: path, cause: err });
      if (!this.#selection.ignoreMissingFiles) {
        throw new TidemarkError(
          'ERR_FILE_NOT_FOUND',
          `[FAILED_READ_FILE.FILE_NOT_EXIST] ${path} of batch ${batchId} does not exist: it was listed when the batch was planned and removed before it was read. ` +
            'Put it back, or run again with --ignore-missing-files (option ignoreMissingFiles) to skip it',
          { file: path, option: 'ignoreMissingFiles', cause: err },
        );
      }
      this.#missingIgnored++;
      this.emit('warning', new TidemarkError('ERR_FILE_NOT_FOUND', `ignored missing file ${path} of batch ${batchId} (ignoreMissingFiles): it was planned but no longer exists, so its rows are not read`, { file: path, option: 'ignoreMissingFiles' }));
      return null;
    }
  }

  override async commit(end: Offset): Promise<void> {
    const committed = logOffsetOf(end);
    const entries = this.#log.get(committed) ?? [];
    // Batches up to `end` are committed: their file lists are not needed in memory any more.
    for (const id of [...this.#log.keys()]) if (id <= committed) this.#log.delete(id);
    if (this.#selection.cleanSource === 'off') return;
    for (const entry of entries) {
      const path = sourceLogPath(entry.path);
      try {
        if (this.#selection.cleanSource === 'delete') await rm(path, { force: true });
        else {
          const target = archivePath(this.#selection.sourceArchiveDir!, path);
          await mkdir(dirname(target), { recursive: true });
          await rename(path, target);
        }
      } catch (err) {
        // Best effort, as in Spark: a file that cannot be cleaned is left where it is.
        this.emit('warning', new TidemarkError('ERR_FILE_SOURCE', `could not clean ${path}: ${(err as Error).message}`, { file: path, cause: err }));
      }
    }
  }

  override waitForData(signal: AbortSignal): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(done, POLL_MS);
      signal.addEventListener('abort', () => (clearTimeout(timer), done()), { once: true });
    });
  }

  #list(): Promise<FileEntry[]> {
    return listInputFiles(this.input, { recursive: this.#selection.recursiveFileLookup });
  }

  // Owns `handle`: it is closed however the read ends.
  async *#readFile(path: string, handle: FileHandle, compression: Compression): AsyncIterable<RecordBatch> {
    let builder = this.#newBuilder();
    let line = 0;
    try {
      for await (const text of this.#multiLine ? this.#records(path, handle, compression) : this.#lines(path, handle, compression)) {
        line++;
        const valid = text.valid;
        builder.columns[0]!.appendString(text.value);
        builder.columns[1]!.appendString(path);
        builder.columns[2]!.appendNumber(text.line ?? line);
        builder.columns[3]!.appendBoolean(valid);
        builder.endRow();
        if (builder.length >= this.#linesPerBatch) {
          yield builder.finish();
          builder = this.#newBuilder();
        }
      }
    } catch (err) {
      if (err instanceof TidemarkError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new TidemarkError('ERR_FILE_SOURCE', `cannot read ${path}: ${code ?? ''} ${(err as Error).message}`.replace('  ', ' '), { file: path, cause: err });
    } finally {
      await handle.close().catch(() => undefined);
    }
    if (builder.length > 0) yield builder.finish();
  }

  // Whole lines only: the tail after a chunk's last newline waits for the next read. Owns `handle`.
  // A compressed file is decompressed into the same read buffers, so its chunks are line-aligned
  // views of buffers the source owns alone, and their offsets count decompressed bytes.
  async *#readChunks(path: string, handle: FileHandle, compression: Compression): AsyncIterable<RecordBatch> {
    const chunkSchema = this.schema;
    const emit = (bytes: Uint8Array, offset: number): RecordBatch => {
      const builder = new BatchBuilder(chunkSchema, 1, [undefined, this.#filesDictionary()]);
      builder.columns[0]!.appendValue(bytes);
      builder.columns[1]!.appendString(path);
      builder.columns[2]!.appendNumber(offset);
      builder.endRow();
      return builder.finish();
    };
    // An unfinished line longer than half a read buffer, carried aside (copied) until its newline.
    let carry: Buffer | null = null;
    // An unfinished line that fits in half a read buffer is copied to the front of the next one
    // instead, so each read gives one chunk, not a chunk of one joined line plus the rest.
    const maxPrefix = this.#readBufferBytes >> 1;
    let offset = 0;
    const decoded = compression === 'none' ? null : decodedStream(path, handle, compression, this.#readBufferBytes);
    const fill = decoded === null ? positionalReader(handle) : streamReader(decoded);
    // One read ahead, so the disk (or page cache) copy overlaps the work on the chunk before it.
    let next: Promise<{ buffer: Uint8Array; start: number; bytesRead: number }> | null = null;
    const readNext = (prefix: Uint8Array | null): Promise<{ buffer: Uint8Array; start: number; bytesRead: number }> => {
      // A buffer from the shared read buffers: the chunk cut from it is handed over, and the
      // ParseSchema that reads it gives the buffer back. The prefix is copied before this returns.
      const buffer = takeReadBuffer(this.#readBufferBytes);
      const start = prefix === null ? 0 : prefix.length;
      if (prefix !== null) buffer.set(prefix, 0);
      return fill(buffer.subarray(start)).then((bytesRead) => ({ buffer, start, bytesRead }));
    };
    try {
      next = readNext(null);
      for (;;) {
        const { buffer, start, bytesRead } = await next;
        next = null;
        if (bytesRead === 0) {
          // The end of the file: a prefix left is its last line, without a newline.
          if (start > 0) carry = Buffer.from(buffer.buffer, 0, start);
          else giveReadBuffer(buffer.buffer);
          break;
        }
        const data = Buffer.from(buffer.buffer, 0, start + bytesRead);
        let from = 0;
        let joined: Buffer | null = null;
        if (carry !== null) {
          // Only the line cut by the previous reads is copied; the rest of the read is passed on as a view.
          const firstNewline = data.indexOf(0x0a);
          if (firstNewline < 0) {
            carry = Buffer.concat([carry, data]);
            giveReadBuffer(buffer.buffer);
            if (carry.length > this.#maxLineLength) throw lineTooLong(path, await lineAt(path, offset, compression), this.#maxLineLength);
            next = readNext(null);
            continue;
          }
          joined = Buffer.concat([carry, data.subarray(0, firstNewline + 1)]);
          carry = null;
          from = firstNewline + 1;
        }
        const lastNewline = data.lastIndexOf(0x0a);
        const whole = lastNewline < from ? null : data.subarray(from, lastNewline + 1);
        const tail = data.subarray(whole === null ? from : lastNewline + 1);
        const prefix = tail.length > 0 && tail.length <= maxPrefix ? tail : null;
        if (prefix === null && tail.length > 0) carry = Buffer.from(tail);
        // The next read starts (its prefix copied) before this one's chunks are handed over.
        next = readNext(prefix);
        if (joined !== null) {
          // Lengths are taken before a chunk is emitted: the consumer may move its memory away.
          offset += joined.length;
          yield emit(joined, offset - joined.length);
        }
        if (whole === null) {
          giveReadBuffer(buffer.buffer);
          if (carry !== null && carry.length > this.#maxLineLength) throw lineTooLong(path, await lineAt(path, offset, compression), this.#maxLineLength);
          continue;
        }
        offset += whole.length;
        yield emit(whole, offset - whole.length);
      }
    } catch (err) {
      if (err instanceof TidemarkError) throw err;
      throw new TidemarkError('ERR_FILE_SOURCE', `cannot read ${path}: ${(err as Error).message}`, { file: path, cause: err });
    } finally {
      // A read still under way must end before the file closes; its buffer goes back.
      if (next !== null) await next.then(({ buffer }) => giveReadBuffer(buffer.buffer), () => undefined);
      decoded?.destroy();
      await handle.close().catch(() => undefined);
    }
    if (carry !== null) yield emit(carry, offset);
  }

  #newBuilder(): BatchBuilder {
    // Line texts are unique: a fresh dictionary per batch; file names repeat: one shared dictionary.
    return new BatchBuilder(FILE_LINES_SCHEMA, Math.min(this.#linesPerBatch, 1024), [new StringDictionary(), this.#filesDictionary()]);
  }

  // File names repeat within a file, not across a never-ending run: a fresh dictionary now and then keeps memory bounded.
  #filesDictionary(): StringDictionary {
    if (this.#fileDictionary.size > MAX_FILE_NAMES) this.#fileDictionary = new StringDictionary();
    return this.#fileDictionary;
  }

  // Lines are framed on bytes decoded as latin1 (one char per byte), so a
  // multi-byte character split across chunks is never mangled and invalid
  // UTF-8 is detected per line, exactly, before decoding it for real.
  #lines(path: string, handle: FileHandle, compression: Compression): AsyncIterable<{ value: string; valid: boolean; line?: number }> {
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
    let first = true;
    const maxLineLength = this.#maxLineLength;
    const readBufferBytes = this.#readBufferBytes;
    let lineNo = 0;
    return (async function* () {
      // split2 (a CommonJS module) is loaded by a query that frames lines only: chunk framing, the
      // default, starts without it.
      const { default: split2 } = await import('split2');
      const splitter = split2(/\r?\n/, (raw: string) => {
        lineNo++;
        // split2 bounds only the unfinished tail of a chunk; a complete long line is checked here.
        if (raw.length > maxLineLength) throw lineTooLong(path, lineNo, maxLineLength);
        const bytes = Buffer.from(raw, 'latin1');
        let value: string;
        let valid = true;
        try {
          value = decoder.decode(bytes);
        } catch {
          value = bytes.toString('utf8');
          valid = false;
        }
        if (first) {
          first = false;
          if (value.charCodeAt(0) === 0xfeff) value = value.slice(1);
        }
        return { value, valid, line: lineNo };
      }, { maxLength: maxLineLength });
      // pipeline, not pipe: a failure on either side closes the file and reaches the reader.
      const bytes = decodedStream(path, handle, compression, readBufferBytes);
      bytes.setEncoding('latin1');
      const lines = pipeline(bytes, splitter, () => {});
      try {
        yield* lines as AsyncIterable<{ value: string; valid: boolean; line: number }>;
      } catch (err) {
        // split2's own guard: an unfinished line outgrew the buffer.
        if ((err as Error).message === 'maximum buffer reached') throw lineTooLong(path, lineNo + 1, maxLineLength);
        throw err;
      }
    })();
  }

  async *#records(path: string, handle: FileHandle, compression: Compression): AsyncIterable<{ value: string; valid: boolean; line?: number }> {
    // The document's first non-blank byte says whether it is an array of records; the bytes read
    // to find it are put back in front of the rest.
    const chunks = decodedStream(path, handle, compression, this.#readBufferBytes)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let firstByte = -1;
    while (firstByte === -1) {
      const read = await chunks.next();
      if (read.done === true) break;
      head.push(read.value);
      for (const b of read.value) {
        if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) {
          firstByte = b;
          break;
        }
      }
    }
    if (firstByte === -1) {
      await chunks.return?.();
      return;
    }
    const body = Readable.from(
      (async function* () {
        try {
          yield* head;
          for (let read = await chunks.next(); read.done !== true; read = await chunks.next()) yield read.value;
        } finally {
          await chunks.return?.();
        }
      })(),
      { objectMode: false },
    );
    // stream-json (21 modules) is loaded only by a multiLine read: every other start of a query skips it.
    const parser =
      firstByte === 0x5b
        ? (await import('stream-json/streamers/stream-array.js')).default.withParserAsStream()
        : (await import('stream-json/streamers/stream-values.js')).default.withParserAsStream();
    const records = pipeline(body, parser, () => {});
    let emitted = 0;
    try {
      for await (const item of records as AsyncIterable<{ value: unknown }>) {
        emitted++;
        yield { value: JSON.stringify(item.value), valid: true, line: emitted };
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== undefined) throw err;
      // Spark: a multi-line document that does not parse is one malformed record (the rest of the file).
      const text = compression === 'none' ? await readFile(path, 'utf8') : Buffer.concat(await decodedStream(path, null, compression, this.#readBufferBytes).toArray()).toString('utf8');
      yield { value: text.length > this.#maxLineLength ? text.slice(0, this.#maxLineLength) : text, valid: false, line: emitted + 1 };
    }
  }
}

// The 1-based line that starts at (decompressed) byte `offset` (error path only: reads the file up to there).
async function lineAt(path: string, offset: number, compression: Compression): Promise<number> {
  let line = 1;
  let read = 0;
  const data = compression === 'none' ? createReadStream(path, { end: Math.max(0, offset - 1) }) : decodedStream(path, null, compression, 64 * 1024);
  for await (const chunk of data as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1 && read + i < offset; i = chunk.indexOf(0x0a, i + 1)) line++;
    read += chunk.length;
    if (read >= offset) break;
  }
  return offset === 0 ? 1 : line;
}

/**
 * A file's bytes as a stream, decompressed (`.gz`: gzip, `.deflate`: zlib).
 * Reads through `handle` when given (the stream closes it), else opens `path`.
 * A read or decompression error (a truncated or corrupt file) errors the stream.
 */
function decodedStream(path: string, handle: FileHandle | null, compression: Compression, highWaterMark: number): Readable {
  const raw = createReadStream(path, handle === null ? { highWaterMark } : { fd: handle, highWaterMark });
  if (compression === 'none') return raw;
  const inflate = compression === 'gzip' ? createGunzip({ chunkSize: 64 * 1024 }) : createInflate({ chunkSize: 64 * 1024 });
  return pipeline(raw, inflate, () => {});
}

// Fills a buffer from a file at increasing positions; 0 at the end.
function positionalReader(handle: FileHandle): (buffer: Uint8Array) => Promise<number> {
  let position = 0;
  return async (buffer) => {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    position += bytesRead;
    return bytesRead;
  };
}

// Fills a buffer from a stream's chunks (copied: the stream may reuse its memory); 0 at the end.
function streamReader(stream: Readable): (buffer: Uint8Array) => Promise<number> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let pending: Buffer | null = null;
  let ended = false;
  return async (buffer) => {
    let filled = 0;
    while (filled < buffer.length && !ended) {
      if (pending === null) {
        const read = await chunks.next();
        if (read.done === true) {
          ended = true;
          break;
        }
        pending = read.value;
      }
      const take = Math.min(pending.length, buffer.length - filled);
      buffer.set(pending.subarray(0, take), filled);
      filled += take;
      pending = take === pending.length ? null : pending.subarray(take);
    }
    return filled;
  };
}

/**
 * The source log `sources/<i>` (Spark's `FileStreamSourceLog`): one file per
 * entry, compacted every 10 into `K.compact`, each with its `.K.crc`.
 */
function sourceLogAt(dir: string, checksumsFrom: number): CompactibleFileLog<SourceLogEntry> {
  return new CompactibleFileLog({ dir, checksumsFrom, label: 'the file source log', format: formatSourceLogFile, parse: parseSourceLogFile });
}

function positiveInteger(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 1) throw new TidemarkError('ERR_INVALID_OPTION', `${option} must be a positive integer, got ${value}`, { option });
  return value;
}

/**
 * Refuses a query whose file sink writes where its file source reads: the
 * output directory is the source's path, lies inside it, or (for a glob)
 * is or holds a path the glob can match. Each batch's output would be read
 * as new input by the next, one batch after another, forever. Paths are
 * compared as given (made absolute) and with symbolic links resolved.
 *
 * Called by the query driver at start, before the checkpoint is opened.
 *
 * @throws TidemarkError `ERR_OUTPUT_INSIDE_INPUT` naming both paths.
 */

// The real path of a path that may not exist yet: its deepest existing ancestor resolved, the rest appended.
function realPathOf(path: string): string {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch {
      const parent = dirname(at);
      if (parent === at) return path;
      rest.push(basename(at));
      at = parent;
    }
  }
}

/**
 * The stream-free rules of Spark's file source (`FileStreamSource`,
 * `FileStreamOptions`, `FileStreamSourceLog`): which files a directory
 * listing yields, which of them are new, which go into the next micro-batch,
 * and how the choice is written to `<checkpoint>/sources/0/<K>`.
 *
 * Nothing here reads file contents or builds a stream; the file source stage
 * calls these functions once per trigger, so they can be tested (and compared
 * with Spark's own test suite) one step at a time.
 *
 * Spark versions: option parsing and selection follow Spark 4.x
 * (`maxBytesPerTrigger`, `maxCachedFiles`, `discardCachedInputRatio`, no
 * unread-files cache under `Trigger.AvailableNow`).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Listing

/** One listed file: what Spark's `FileStatus` contributes to file selection. */
export interface FileEntry {
  /** Absolute path. */
  path: string;
  /** Modification time in whole epoch milliseconds (Hadoop's `getModificationTime`). */
  mtimeMs: number;
  /** Length in bytes; only `maxBytesPerTrigger` looks at it. */
  size: number;
}

/**
 * Spark's listing filter (`HadoopFSUtils.shouldFilterOutPathName`), applied to
 * each directory and file name below the source directory: names starting
 * with `_` or `.` are skipped so that writers' temporary and metadata files
 * (`_SUCCESS`, `_temporary`, `.crc`, `.part.tmp`) are never read as data, and
 * so are names ending in `._COPYING_` (a `hadoop fs -put` in progress).
 * Exceptions kept from Spark: `_` names containing `=` (partition
 * directories) and names *starting with* `_metadata` / `_common_metadata`
 * (Parquet summaries).
 *
 * @returns true when the name is listed.
 */
export function isVisibleName(name: string): boolean {
  const exclude =
    (name.startsWith('_') && !name.includes('=')) || name.startsWith('.') || name.endsWith('._COPYING_');
  const include = name.startsWith('_common_metadata') || name.startsWith('_metadata');
  return !(exclude && !include);
}

// ---------------------------------------------------------------------------------------------
// Compressed input

/** How a file's bytes are stored, chosen by its name as Hadoop's `CompressionCodecFactory` does. */
export type Compression = 'none' | 'gzip' | 'deflate';

// Hadoop's other codecs, hadoop-lzo's, and two more common ones: files tidemark cannot decompress.
const UNSUPPORTED_CODECS: ReadonlyArray<[suffix: string, codec: string]> = [
  ['.bz2', 'bzip2'],
  ['.lz4', 'lz4'],
  ['.snappy', 'snappy'],
  ['.zst', 'zstd'],
  ['.lzo_deflate', 'lzo'],
  ['.lzo', 'lzop'],
  ['.br', 'brotli'],
  ['.xz', 'xz'],
];

/**
 * The compression of an input file, by its extension (case-insensitive):
 * `.gz` is gzip (Hadoop's `GzipCodec`), `.deflate` the zlib format (Hadoop's
 * `DefaultCodec`), anything else is read as it is. Hadoop's other codecs are
 * refused rather than read as text, which would make their rows malformed
 * or, dropped, silently lost.
 *
 * @throws TidemarkError `ERR_UNSUPPORTED_COMPRESSION` (with `file`) naming
 * the codec.
 */
export function compressionOf(path: string): Compression {
  const name = baseName(path).toLowerCase();
  if (name.endsWith('.gz')) return 'gzip';
  if (name.endsWith('.deflate')) return 'deflate';
  for (const [suffix, codec] of UNSUPPORTED_CODECS) {
    if (name.endsWith(suffix)) {
      throw new TidemarkError(
        'ERR_UNSUPPORTED_COMPRESSION',
        `cannot read ${path}: it is ${codec}-compressed (${suffix}), and tidemark reads only .gz (gzip) and .deflate (zlib) compressed input; decompress it, or recompress it with gzip`,
        { file: path },
      );
    }
  }
  return 'none';
}

// ---------------------------------------------------------------------------------------------
// Seen files

/** Serialized {@link SeenFilesMap}, as stored by {@link SeenFilesMap.toJSON}. */
export interface SeenFilesMapJSON {
  /** `null` means unlimited (Spark's `Long.MaxValue`). */
  maxAgeMs: number | null;
  fileNameOnly: boolean;
  latestTimestamp: number;
  lastPurgeTimestamp: number;
  /** `[key, mtimeMs]` in insertion order. */
  files: Array<[string, number]>;
}

/**
 * Spark's `FileStreamSource.SeenFilesMap`: the files already taken, so a file
 * is read once, and a bound on how long they are remembered.
 *
 * Ages are measured against the newest modification time seen, never the wall
 * clock, so a source that is stopped for a month forgets nothing on restart.
 * A file is new when its mtime is at least {@link lastPurgeTimestamp} and its
 * key was never added; the key is the absolute path, or the bare file name
 * with `fileNameOnly` (for sources whose files move between directories).
 * Until the first {@link purge} `lastPurgeTimestamp` is 0, which is why the
 * first batch of a fresh query accepts files of any age.
 */
export class SeenFilesMap {
  /** Remembering window in ms; `Infinity` when `maxFileAge` is ignored. */
  readonly maxAgeMs: number;
  /** Key files by name only. */
  readonly fileNameOnly: boolean;
  readonly #map = new Map<string, number>();
  #latestTimestamp = 0;
  #lastPurgeTimestamp = 0;

  /**
   * @param maxAgeMs files older than the newest seen minus this are forgotten
   * and no longer accepted; `Infinity` for Spark's `Long.MaxValue`.
   * @throws TidemarkError `ERR_INVALID_OPTION` (option `maxFileAge`,
   * Spark's "requirement failed") when negative or NaN.
   */
  constructor(maxAgeMs: number, fileNameOnly = false) {
    if (!(maxAgeMs >= 0)) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'requirement failed', { option: 'maxFileAge' });
    }
    this.maxAgeMs = maxAgeMs;
    this.fileNameOnly = fileNameOnly;
  }

  /** The key `path` is remembered by: the path, or its name with `fileNameOnly`. */
  keyOf(path: string): string {
    return this.fileNameOnly ? baseName(path) : path;
  }

  /** Whether `path` (by its key) is remembered. */
  has(path: string): boolean {
    return this.#map.has(this.keyOf(path));
  }

  /** Records `path` as taken (overwriting an earlier mtime for the same key). */
  add(path: string, mtimeMs: number): void {
    this.#map.set(this.keyOf(path), mtimeMs);
    if (mtimeMs > this.#latestTimestamp) this.#latestTimestamp = mtimeMs;
  }

  /**
   * Whether a listed file should be considered for a batch. Tested against the
   * last purge threshold rather than the current newest file so that a file
   * older than `newest - maxAge` but listed before the next purge is not lost.
   */
  isNewFile(path: string, mtimeMs: number): boolean {
    return mtimeMs >= this.#lastPurgeTimestamp && !this.#map.has(this.keyOf(path));
  }

  /**
   * Moves the threshold to `newest - maxAge` and forgets entries older than
   * it, keeping the map bounded on a long-running source.
   *
   * @param onForget told the key of each forgotten entry.
   * @returns how many entries were forgotten.
   */
  purge(onForget?: (key: string) => void): number {
    const threshold = this.#latestTimestamp - this.maxAgeMs;
    this.#lastPurgeTimestamp = Number.isFinite(threshold) ? threshold : Number.MIN_SAFE_INTEGER;
    let count = 0;
    for (const [key, ts] of this.#map) {
      if (ts < this.#lastPurgeTimestamp) {
        this.#map.delete(key);
        onForget?.(key);
        count++;
      }
    }
    return count;
  }

  /** Number of remembered files. */
  get size(): number {
    return this.#map.size;
  }

  /** Newest modification time added so far (0 when none). */
  get latestTimestamp(): number {
    return this.#latestTimestamp;
  }

  /** Files with an older mtime are never new; 0 until the first purge. */
  get lastPurgeTimestamp(): number {
    return this.#lastPurgeTimestamp;
  }

  /** The remembered `[key, mtimeMs]` pairs, for inspection. */
  entries(): IterableIterator<[string, number]> {
    return this.#map.entries();
  }

  /**
   * Plain-data form for a checkpoint. Spark itself rebuilds the map on restart
   * from the source log (`sources/0/*` entries added, then one purge), which
   * {@link createSelectionState} does too; this form is for callers that keep
   * their own snapshot.
   */
  toJSON(): SeenFilesMapJSON {
    return {
      maxAgeMs: Number.isFinite(this.maxAgeMs) ? this.maxAgeMs : null,
      fileNameOnly: this.fileNameOnly,
      latestTimestamp: this.#latestTimestamp,
      lastPurgeTimestamp: this.#lastPurgeTimestamp,
      files: [...this.#map],
    };
  }

  /**
   * Restores a map written by {@link toJSON}.
   *
   * @throws TidemarkError `ERR_CHECKPOINT_CORRUPT` when `json` does not have
   * that shape.
   */
  static fromJSON(json: unknown): SeenFilesMap {
    const bad = (what: string) => new TidemarkError('ERR_CHECKPOINT_CORRUPT', `Invalid seen-files state: ${what}`);
    if (typeof json !== 'object' || json === null) throw bad('not an object');
    const j = json as Partial<Record<keyof SeenFilesMapJSON, unknown>>;
    if (j.maxAgeMs !== null && !isFiniteNumber(j.maxAgeMs)) throw bad('maxAgeMs');
    if (typeof j.fileNameOnly !== 'boolean') throw bad('fileNameOnly');
    if (!isFiniteNumber(j.latestTimestamp)) throw bad('latestTimestamp');
    if (!isFiniteNumber(j.lastPurgeTimestamp)) throw bad('lastPurgeTimestamp');
    if (!Array.isArray(j.files)) throw bad('files');
    const map = new SeenFilesMap(j.maxAgeMs === null ? Infinity : j.maxAgeMs, j.fileNameOnly);
    for (const pair of j.files as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !isFiniteNumber(pair[1])) {
        throw bad('files entry');
      }
      map.#map.set(pair[0], pair[1]);
    }
    map.#latestTimestamp = j.latestTimestamp;
    map.#lastPurgeTimestamp = j.lastPurgeTimestamp;
    return map;
  }
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

// ---------------------------------------------------------------------------------------------
// Options

/** How completed files are cleaned (`cleanSource`). */
export type CleanSourceMode = 'off' | 'delete' | 'archive';

/** Validated file-source options (Spark's `FileStreamOptions`). */
export interface FileSourceOptions {
  /** At most this many new files per micro-batch. */
  maxFilesPerTrigger?: number;
  /** About this many bytes per micro-batch (always at least one file). */
  maxBytesPerTrigger?: number;
  /** Newest files first (and no `maxFileAge` when a limit is set, SPARK-19813). */
  latestFirst: boolean;
  /** `maxFileAge` in ms (default 7 days), relative to the newest file seen. */
  maxFileAgeMs: number;
  /** Recognise seen files by name only. */
  fileNameOnly: boolean;
  /** What happens to a batch's files once the next batch is planned. */
  cleanSource: CleanSourceMode;
  /** Archive root for `cleanSource: 'archive'`, absolute. */
  sourceArchiveDir?: string;
  /** How many unselected files are kept for later batches instead of relisting (0 disables). */
  maxCachedFiles: number;
  /** Below this fraction of the limit the unselected files are dropped and the next batch relists. */
  discardCachedInputRatio: number;
  /** List sub-directories too (a generic file data source option). */
  recursiveFileLookup: boolean;
  /**
   * Skip a planned file that no longer exists when its batch reads it,
   * instead of failing (Spark's `ignoreMissingFiles`, a generic file data
   * source option).
   */
  ignoreMissingFiles: boolean;
}

const TIME_ERROR =
  'Time must be specified as seconds (s), milliseconds (ms), microseconds (us), minutes (m or min), hour (h), or day (d). ' +
  'E.g. 50s, 100ms, or 250us.';

const INT_MAX = 2n ** 31n - 1n;
const INT_MIN = -(2n ** 31n);
const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);

/** Java's `String.trim`: strips code points up to U+0020 only. */
function javaTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) <= 0x20) end--;
  return s.slice(start, end);
}

/** `Integer.parseInt` / `Long.parseLong` over ASCII digits: null when Java would throw. */
function parseJavaInteger(s: string, min: bigint, max: bigint): bigint | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const v = BigInt(s);
  return v < min || v > max ? null : v;
}

/** `Float.parseFloat` (decimal forms), rounded to single precision; null when Java would throw. */
function parseJavaFloat(s: string): number | null {
  const t = javaTrim(s);
  const m = /^([+-]?)(NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?$/.exec(t);
  if (m === null) return null;
  if (m[2] === 'NaN') return NaN;
  const v = m[2] === 'Infinity' ? Infinity : Number(m[2]);
  return Math.fround(m[1] === '-' ? -v : v);
}

const TIME_UNITS_MS: Record<string, bigint> = { ms: 1n, s: 1000n, m: 60_000n, min: 60_000n, h: 3_600_000n, d: 86_400_000n };

/**
 * Spark's `JavaUtils.timeStringAsMs`, used for `maxFileAge`: an optionally
 * negative integer and an optional unit `us`, `ms`, `s`, `m`/`min`, `h`, `d`
 * (case-insensitive, no space between number and unit, default ms).
 * Microseconds truncate toward zero; results saturate like `TimeUnit.convert`.
 * `'10 ms'` and `'1.5h'` are refused, as in Spark.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` with Spark's two-line message.
 */
export function timeStringAsMs(str: string, option = 'maxFileAge'): number {
  const lower = javaTrim(str.toLowerCase());
  const m = /^(-?[0-9]+)([a-z]+)?$/.exec(lower);
  if (m === null) throw new TidemarkError('ERR_INVALID_OPTION', `${TIME_ERROR}\nFailed to parse time string: ${str}`, { option });
  const digits = m[1]!;
  const value = BigInt(digits);
  if (value < LONG_MIN || value > LONG_MAX) {
    throw new TidemarkError('ERR_INVALID_OPTION', `${TIME_ERROR}\nFor input string: "${digits}"`, { option });
  }
  const suffix = m[2];
  let ms: bigint;
  if (suffix === undefined) ms = value;
  else if (suffix === 'us') ms = value / 1000n;
  else {
    const factor = TIME_UNITS_MS[suffix];
    if (factor === undefined) {
      throw new TidemarkError('ERR_INVALID_OPTION', `${TIME_ERROR}\nInvalid suffix: "${suffix}"`, { option });
    }
    ms = value * factor;
    if (ms > LONG_MAX) ms = LONG_MAX;
    if (ms < LONG_MIN) ms = LONG_MIN;
  }
  return Number(ms);
}

/** An option value as the string Spark would see (`DataStreamReader.option` stringifies). */
function optionString(key: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new TidemarkError('ERR_INVALID_OPTION', `Invalid value for option '${key}', must be a string, number or boolean`, {
    option: key,
  });
}

/**
 * Validates file-source options the way Spark's `FileStreamOptions` does,
 * with its exact messages, so a Spark user recognises a refusal.
 *
 * Keys are case-insensitive (Spark's `CaseInsensitiveMap`; when two spellings
 * are given the later wins) and unknown keys are ignored, since the same map
 * carries the format's own options (JSON reader, `path`…). Values may be
 * Spark's strings (`'10'`, `'true'`, `'7d'`) or numbers and booleans, which
 * are stringified first (`10` ≡ `'10'`, `10.5` is refused like `'10.5'`).
 * Checks run in Spark's order, so the first refusal is Spark's first.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` with `option` set.
 */
export function parseFileSourceOptions(options: Record<string, unknown>): FileSourceOptions {
  const params = new Map<string, { key: string; value: string }>();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    params.set(key.toLowerCase(), { key, value: optionString(key, value) });
  }
  const get = (name: string): string | undefined => params.get(name.toLowerCase())?.value;
  const fail = (option: string, message: string) => new TidemarkError('ERR_INVALID_OPTION', message, { option });

  for (const param of ['modifiedBefore', 'modifiedAfter']) {
    if (params.has(param.toLowerCase())) throw fail(param, `option '${param}' is not allowed in file stream sources`);
  }

  let maxFilesPerTrigger: number | undefined;
  const maxFilesStr = get('maxFilesPerTrigger');
  if (maxFilesStr !== undefined) {
    const v = parseJavaInteger(maxFilesStr, INT_MIN, INT_MAX);
    if (v === null || v <= 0n) {
      throw fail('maxFilesPerTrigger', `Invalid value '${maxFilesStr}' for option 'maxFilesPerTrigger', must be a positive integer`);
    }
    maxFilesPerTrigger = Number(v);
  }

  let maxBytesPerTrigger: number | undefined;
  const maxBytesStr = get('maxBytesPerTrigger');
  if (maxBytesStr !== undefined) {
    const v = parseJavaInteger(maxBytesStr, LONG_MIN, LONG_MAX);
    if (v === null || v <= 0n) {
      throw fail('maxBytesPerTrigger', `Invalid value '${maxBytesStr}' for option 'maxBytesPerTrigger', must be a positive integer`);
    }
    if (maxFilesPerTrigger !== undefined) {
      throw fail('maxBytesPerTrigger', "Options 'maxFilesPerTrigger' and 'maxBytesPerTrigger' can't be both set at the same time");
    }
    maxBytesPerTrigger = Number(v);
  }

  const maxFileAgeMs = timeStringAsMs(get('maxFileAge') ?? '7d', 'maxFileAge');

  const bool = (name: string, dflt: boolean): boolean => {
    const s = get(name);
    if (s === undefined) return dflt;
    const l = s.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
    throw fail(name, `Invalid value '${s}' for option '${name}', must be 'true' or 'false'`);
  };
  const latestFirst = bool('latestFirst', false);
  const fileNameOnly = bool('fileNameOnly', false);

  const archiveDir = get('sourceArchiveDir');
  const cleanStr = get('cleanSource');
  let cleanSource: CleanSourceMode = 'off';
  if (cleanStr !== undefined) {
    const upper = cleanStr.toUpperCase();
    if (upper !== 'ARCHIVE' && upper !== 'DELETE' && upper !== 'OFF') {
      throw fail('cleanSource', `Invalid mode for clean source option Some(${cleanStr}). Must be one of ARCHIVE,DELETE,OFF`);
    }
    cleanSource = upper.toLowerCase() as CleanSourceMode;
  }
  if (cleanSource === 'archive' && archiveDir === undefined) {
    throw fail('sourceArchiveDir', "Archive mode must be used with 'sourceArchiveDir' option.");
  }

  let maxCachedFiles = 10000;
  const cachedStr = get('maxCachedFiles');
  if (cachedStr !== undefined) {
    const v = parseJavaInteger(cachedStr, INT_MIN, INT_MAX);
    if (v === null || v < 0n) {
      throw fail(
        'maxCachedFiles',
        `Invalid value '${cachedStr}' for option 'maxCachedFiles', must be an integer greater than or equal to 0`,
      );
    }
    maxCachedFiles = Number(v);
  }

  let discardCachedInputRatio = Math.fround(0.2);
  const ratioStr = get('discardCachedInputRatio');
  if (ratioStr !== undefined) {
    const v = parseJavaFloat(ratioStr);
    if (v === null || !(v >= 0 && v <= 1)) {
      throw fail(
        'discardCachedInputRatio',
        `Invalid value '${ratioStr}' for option 'discardCachedInputRatio', must be a positive float between 0 and 1`,
      );
    }
    discardCachedInputRatio = v;
  }

  // PartitioningAwareFileIndex: `getOrElse("recursiveFileLookup", "false").toBoolean`.
  const recursiveStr = get('recursiveFileLookup');
  let recursiveFileLookup = false;
  if (recursiveStr !== undefined) {
    const l = recursiveStr.toLowerCase();
    if (l !== 'true' && l !== 'false') throw fail('recursiveFileLookup', `For input string: "${recursiveStr}"`);
    recursiveFileLookup = l === 'true';
  }

  // FileSourceOptions: `parameters.get("ignoreMissingFiles").map(_.toBoolean)`.
  const ignoreMissingStr = get('ignoreMissingFiles');
  let ignoreMissingFiles = false;
  if (ignoreMissingStr !== undefined) {
    const l = ignoreMissingStr.toLowerCase();
    if (l !== 'true' && l !== 'false') throw fail('ignoreMissingFiles', `For input string: "${ignoreMissingStr}"`);
    ignoreMissingFiles = l === 'true';
  }

  // SeenFilesMap's `require(maxAgeMs >= 0)` when the source is created.
  const result: FileSourceOptions = {
    latestFirst,
    maxFileAgeMs,
    fileNameOnly,
    cleanSource,
    maxCachedFiles,
    discardCachedInputRatio,
    recursiveFileLookup,
    ignoreMissingFiles,
  };
  if (maxFilesPerTrigger !== undefined) result.maxFilesPerTrigger = maxFilesPerTrigger;
  if (maxBytesPerTrigger !== undefined) result.maxBytesPerTrigger = maxBytesPerTrigger;
  if (effectiveMaxFileAgeMs(result) < 0) throw fail('maxFileAge', 'requirement failed');
  if (cleanSource === 'archive') {
    if (archiveDir === '') throw fail('sourceArchiveDir', 'Can not create a Path from an empty string');
    // Made absolute by the source (a path is a file system question).
    result.sourceArchiveDir = archiveDir!;
  } else if (archiveDir !== undefined && archiveDir !== '') {
    result.sourceArchiveDir = archiveDir;
  }
  return result;
}

/**
 * The age bound the seen-files map really uses: unlimited when `latestFirst`
 * is combined with a per-trigger limit (SPARK-19813: otherwise the first
 * batch's newest files would push older, never-read files past the bound).
 */
export function effectiveMaxFileAgeMs(options: FileSourceOptions): number {
  const limited = options.maxFilesPerTrigger !== undefined || options.maxBytesPerTrigger !== undefined;
  return options.latestFirst && limited ? Infinity : options.maxFileAgeMs;
}

// ---------------------------------------------------------------------------------------------
// Selection

/**
 * What a file source carries from one trigger to the next: the seen files and
 * Spark's cache of listed-but-unselected files (`unreadFiles`).
 */
export interface SelectionState {
  /** Files already taken. */
  readonly seen: SeenFilesMap;
  /**
   * New files left over from the last listing, taken before listing again
   * (null when the next batch lists). Spark keeps them to save listing cost,
   * but the cache also changes results: a file that appears while the cache
   * is non-empty waits until the cache is used up, even if it is older.
   */
  unread: FileEntry[] | null;
  /**
   * Keys of listed files older than the seen files' threshold that are
   * accounted for: read and then forgotten by a purge, or already reported
   * in {@link skippedByAge}. Kept to the files of the last listing, so it is
   * never larger than a listing.
   */
  readonly aged: Set<string>;
  /**
   * New files the last {@link selectBatch} left out because they are older
   * than `maxFileAge` before the newest file seen (each file is reported
   * once). Spark drops them without a word; the source reports them.
   */
  skippedByAge: FileEntry[];
  /** The modification time {@link skippedByAge} files were older than. */
  skippedBefore: number;
}

/**
 * A fresh selection state, or the state of a restarted query: Spark's
 * `FileStreamSource` constructor adds every entry of the source log to the
 * seen files and purges once. The unread cache is never persisted, so it
 * starts empty after a restart.
 *
 * @param restored the files of the entries of `sources/0/*` (paths, not URIs), in log order.
 */
export function createSelectionState(options: FileSourceOptions, restored: Iterable<{ readonly path: string; readonly timestamp: number }> = []): SelectionState {
  const seen = new SeenFilesMap(effectiveMaxFileAgeMs(options), options.fileNameOnly);
  for (const entry of restored) seen.add(entry.path, entry.timestamp);
  const aged = new Set<string>();
  seen.purge((key) => aged.add(key));
  return { seen, unread: null, aged, skippedByAge: [], skippedBefore: seen.lastPurgeTimestamp };
}

/** Whether {@link selectBatch} needs a fresh listing (false while cached files remain). */
export function needsListing(state: SelectionState): boolean {
  return state.unread === null || state.unread.length === 0;
}

/** How the trigger asks for files. */
export interface SelectionTrigger {
  /**
   * Take every new file, ignoring `maxFilesPerTrigger`/`maxBytesPerTrigger`:
   * what `Trigger.Once` does (SPARK-30669: `ReadAllAvailable`).
   */
  readAll?: boolean;
  /**
   * `Trigger.AvailableNow`: the caller lists once before the first batch and
   * passes that same listing every time; limits apply, the unread cache is
   * not used.
   */
  availableNow?: boolean;
}

/**
 * Chooses the files of the next micro-batch: Spark's
 * `FileStreamSource.fetchMaxOffset`.
 *
 * 1. Candidates are the cached unread files when there are any, else
 *    `listing` stable-sorted by mtime (ascending; descending with
 *    `latestFirst`) and filtered by {@link SeenFilesMap.isNewFile}. A fresh
 *    state accepts files of any age, which is Spark's "first batch accepts
 *    everything".
 * 2. With `maxFilesPerTrigger` the first N are taken; with
 *    `maxBytesPerTrigger` files are taken while the running total stays
 *    within the limit, and always at least one (a larger first file is taken
 *    alone). Without a limit, or with {@link SelectionTrigger.readAll}, all.
 * 3. Unless `latestFirst` or AvailableNow, the unselected candidates are
 *    cached (at most `maxCachedFiles`) for the next batches, unless fewer than
 *    `discardCachedInputRatio` × limit remain (by count, or by bytes), in
 *    which case the next batch lists again.
 * 4. The selected files are added to the seen files, then the seen files are
 *    purged.
 *
 * The caller appends a `sources/0/K` entry only when the result is non-empty.
 *
 * @param listing the source directory's files ({@link listFiles}); may be
 * omitted when {@link needsListing} is false.
 * @returns the selected files in batch order.
 * @throws TidemarkError `ERR_FILE_SOURCE` when a listing is needed but none is given.
 */
export function selectBatch(
  state: SelectionState,
  listing: readonly FileEntry[] | undefined,
  options: FileSourceOptions,
  trigger: SelectionTrigger = {},
): FileEntry[] {
  let newFiles: FileEntry[];
  if (!needsListing(state)) {
    newFiles = state.unread!;
    state.skippedByAge = [];
  } else {
    if (listing === undefined) {
      throw new TidemarkError('ERR_FILE_SOURCE', 'selectBatch needs a listing: no cached unread files remain');
    }
    newFiles = [];
    const skipped: FileEntry[] = [];
    const listed = new Set<string>();
    for (const f of sortByModificationTime(listing, options.latestFirst)) {
      const key = state.seen.keyOf(f.path);
      listed.add(key);
      if (state.seen.isNewFile(f.path, f.mtimeMs)) newFiles.push(f);
      else if (f.mtimeMs < state.seen.lastPurgeTimestamp && !state.seen.has(f.path) && !state.aged.has(key)) {
        // Never taken, and now too old to be: Spark's maxFileAge rule drops it.
        skipped.push(f);
        state.aged.add(key);
      }
    }
    for (const key of state.aged) if (!listed.has(key)) state.aged.delete(key);
    state.skippedByAge = skipped;
    state.skippedBefore = state.seen.lastPurgeTimestamp;
  }

  const shouldCache = !options.latestFirst && trigger.availableNow !== true;
  const ratio = Math.fround(options.discardCachedInputRatio);
  let batch: FileEntry[];
  let unselected: FileEntry[] | null = null;
  if (trigger.readAll !== true && options.maxFilesPerTrigger !== undefined) {
    const max = options.maxFilesPerTrigger;
    batch = newFiles.slice(0, max);
    if (shouldCache) {
      const rest = newFiles.slice(max);
      // Int * Float in Spark: single-precision arithmetic.
      if (!(Math.fround(rest.length) < Math.fround(Math.fround(max) * ratio))) unselected = rest;
    }
  } else if (trigger.readAll !== true && options.maxBytesPerTrigger !== undefined) {
    const max = options.maxBytesPerTrigger;
    const [left, right, rightBytes] = takeFilesUntilMax(newFiles, max);
    batch = left;
    if (shouldCache && !(rightBytes < Math.fround(Math.fround(max) * ratio))) unselected = right;
  } else {
    batch = newFiles.slice();
  }

  state.unread =
    unselected !== null && unselected.length > 0 && options.maxCachedFiles > 0
      ? unselected.slice(0, options.maxCachedFiles)
      : null;

  for (const f of batch) state.seen.add(f.path, f.mtimeMs);
  state.seen.purge((key) => state.aged.add(key));
  return batch;
}

/** Spark's `takeFilesUntilMax`: the first file always; then files while the total fits and none was skipped. */
function takeFilesUntilMax(files: readonly FileEntry[], maxSize: number): [FileEntry[], FileEntry[], number] {
  const left: FileEntry[] = [];
  const right: FileEntry[] = [];
  let leftSize = 0;
  let rightSize = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    if (i === 0 || (right.length === 0 && leftSize + f.size <= maxSize)) {
      leftSize += f.size;
      left.push(f);
    } else {
      rightSize += f.size;
      right.push(f);
    }
  }
  return [left, right, rightSize];
}

/** Stable sort by mtime; ties keep listing order (Spark has no path tie-break). */
export function sortByModificationTime(files: readonly FileEntry[], latestFirst: boolean): FileEntry[] {
  const sign = latestFirst ? -1 : 1;
  return files.slice().sort((a, b) => sign * (a.mtimeMs - b.mtimeMs));
}

// ---------------------------------------------------------------------------------------------
// Source log (`<checkpoint>/sources/0/<K>`)

/** One line of a `sources/0/K` file (Spark's `FileStreamSource.FileEntry`). */
export interface SourceLogEntry {
  /** `file://` URI of the file. */
  path: string;
  /** The file's modification time in epoch ms when it was selected. */
  timestamp: number;
  /** The source log entry K that selected it. */
  batchId: number;
}

/** Version written on line 1 (`FileStreamSourceLog.VERSION`). */
export const SOURCE_LOG_VERSION = 1;


/**
 * A `sources/0/K` file body, byte-compatible with Spark's
 * `CompactibleFileStreamLog.serialize`: `v1`, then `\n` + one JSON object per
 * file with keys in Spark's order, and no trailing newline.
 */
export function formatSourceLogFile(entries: readonly SourceLogEntry[]): string {
  let out = `v${SOURCE_LOG_VERSION}`;
  for (const e of entries) {
    out += '\n' + JSON.stringify({ path: e.path, timestamp: e.timestamp, batchId: e.batchId });
  }
  return out;
}

/**
 * Reads a `sources/0/K` (or `K.compact`) file body.
 *
 * @param file the file's path, for the error.
 * @throws TidemarkError `ERR_CHECKPOINT_CORRUPT` with `file` (and `line` for a
 * bad entry): Spark's texts "Incomplete log file", "Log file was malformed:
 * failed to read correct log version from …", "UnsupportedLogVersion: …".
 */
export function parseSourceLogFile(text: string, file: string): SourceLogEntry[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const corrupt = (message: string, line?: number) =>
    new TidemarkError('ERR_CHECKPOINT_CORRUPT', message, line === undefined ? { file } : { file, line });
  if (lines.length === 0) throw corrupt('Incomplete log file', 1);
  const header = lines[0]!;
  const version = header.startsWith('v') ? parseJavaInteger(header.slice(1), INT_MIN, INT_MAX) : null;
  if (version === null || version <= 0n) {
    throw corrupt(`Log file was malformed: failed to read correct log version from ${header}.`, 1);
  }
  if (version > BigInt(SOURCE_LOG_VERSION)) {
    throw corrupt(
      `UnsupportedLogVersion: maximum supported log version is v${SOURCE_LOG_VERSION}, but encountered v${version}. ` +
        'The log file was produced by a newer version of Spark and cannot be read by this version. Please upgrade.',
      1,
    );
  }
  const entries: SourceLogEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]!);
    } catch {
      throw corrupt(`Malformed source log entry at line ${lineNo}: not JSON`, lineNo);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw corrupt(`Malformed source log entry at line ${lineNo}: not an object`, lineNo);
    }
    const v = value as Record<string, unknown>;
    if (typeof v.path !== 'string' || !(v.path.startsWith('file:') || v.path.startsWith('/'))) {
      throw corrupt(`Malformed source log entry at line ${lineNo}: 'path' must be a file URI`, lineNo);
    }
    if (v.path.startsWith('file:') && !/^file:(\/\/)?\//.test(v.path)) {
      throw corrupt(`Malformed source log entry at line ${lineNo}: 'path' must be a file URI`, lineNo);
    }
    if (!Number.isSafeInteger(v.timestamp)) {
      throw corrupt(`Malformed source log entry at line ${lineNo}: 'timestamp' must be an integer`, lineNo);
    }
    if (!Number.isSafeInteger(v.batchId) || (v.batchId as number) < 0) {
      throw corrupt(`Malformed source log entry at line ${lineNo}: 'batchId' must be a non-negative integer`, lineNo);
    }
    entries.push({ path: v.path, timestamp: v.timestamp as number, batchId: v.batchId as number });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// cleanSource

/** The last component of a path (either separator), as `path.basename` gives it without a suffix. */
export function baseName(path: string): string {
  let end = path.length;
  while (end > 1 && (path[end - 1] === '/' || path[end - 1] === '\\')) end--;
  const cut = Math.max(path.lastIndexOf('/', end - 1), path.lastIndexOf('\\', end - 1));
  return path.slice(cut + 1, end);
}

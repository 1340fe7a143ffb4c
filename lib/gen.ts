/**
 * Synthetic input for `tidemark gen DIR`: JSON-lines files shaped like the
 * data set of Databricks' structured streaming notebook
 * (`{"time":1469501675,"action":"Open"}`), so the notebook's windowed count
 * can be run, benchmarked and compared with Spark without downloading it.
 *
 * The data is deterministic for a seed, so a benchmark or a conformance run
 * can be repeated byte for byte, and its disorder is bounded
 * ({@link MAX_OUT_OF_ORDER_SECONDS}), so a query with a longer watermark
 * delay drops nothing and a shorter one drops a predictable few.
 *
 * @module
 */
import { mkdir, open, rename, utimes, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from './errors.js';

/** The four actions of the notebook's data set, equally likely. */
export const ACTIONS = ['Open', 'Close', 'Click', 'Scroll'] as const;

/**
 * No event is more than this many seconds older than the newest event before
 * it (across files, in file-name order): a watermark delay of 5 minutes or
 * more never drops a row of a generated data set.
 */
export const MAX_OUT_OF_ORDER_SECONDS = 300;

/** Defaults of {@link generateDataset}: ten files of 1000 events ≈ 2.8 hours of event time. */
export const GEN_DEFAULTS = {
  files: 10,
  lines: 1000,
  seed: 1,
  /** 2016-07-26T02:54:35Z, the start of the notebook's data set. */
  startEpochSeconds: 1469501675,
} as const;

/** Options of {@link generateLines} and {@link generateDataset}. */
export interface GenerateOptions {
  /** Number of files (default 10). */
  files?: number;
  /** Events per file (default 1000). */
  lines?: number;
  /** PRNG seed, taken modulo 2^32 (default 1). */
  seed?: number;
  /** Time of the first event and lower bound of all, epoch seconds (default 1469501675). */
  startEpochSeconds?: number;
}

/** Options of {@link generateDataset} only. */
export interface GenerateDatasetOptions extends GenerateOptions {
  /**
   * Modification time of the first file in epoch ms; file k gets
   * `firstMtimeMs + k * 1000`. Default: whole seconds ending now, so the
   * last file is not in the future. Whole seconds are exact; other values
   * are subject to the platform's `utimes` rounding.
   */
  firstMtimeMs?: number;
}

/** Chance (out of 1024) that an event is delayed, i.e. out of order. */
const LATE_PER_1024 = 102;

interface ResolvedOptions {
  files: number;
  lines: number;
  seed: number;
  startEpochSeconds: number;
}

function checkInteger(option: string, value: unknown, min: number, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TidemarkError('ERR_INVALID_OPTION', `Invalid value '${String(value)}' for option '${option}', must be ${what}`, {
      option,
    });
  }
  return value;
}

function resolveOptions(options: GenerateOptions): ResolvedOptions {
  return {
    files: checkInteger('files', options.files ?? GEN_DEFAULTS.files, 1, 'a positive integer'),
    lines: checkInteger('lines', options.lines ?? GEN_DEFAULTS.lines, 1, 'a positive integer'),
    seed: checkInteger('seed', options.seed ?? GEN_DEFAULTS.seed, Number.MIN_SAFE_INTEGER, 'an integer'),
    startEpochSeconds: checkInteger(
      'startEpochSeconds',
      options.startEpochSeconds ?? GEN_DEFAULTS.startEpochSeconds,
      0,
      'a non-negative integer',
    ),
  };
}

/**
 * The event sequence, shared by the string generator and the byte writer so
 * both produce the same data. Mulberry32 is used because it is tiny, fast
 * and good enough for test data; `Math.random` cannot be seeded.
 *
 * Each event advances a clock by 0, 1 or 2 seconds (1 event per second on
 * average); about 1 in 10 events is then set back by 1 to
 * {@link MAX_OUT_OF_ORDER_SECONDS} seconds, never before the start.
 */
class EventSequence {
  /** Event time of the current event, epoch seconds. */
  time = 0;
  /** Index into {@link ACTIONS} of the current event. */
  action = 0;
  #state: number;
  #clock: number;
  readonly #start: number;
  #started = false;

  constructor(seed: number, start: number) {
    this.#state = Number(BigInt.asUintN(32, BigInt(seed)));
    this.#clock = start;
    this.#start = start;
  }

  #nextU32(): number {
    let a = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    a = Math.imul(a ^ (a >>> 15), 1 | a);
    a = (a + Math.imul(a ^ (a >>> 7), 61 | a)) ^ a;
    return (a ^ (a >>> 14)) >>> 0;
  }

  /** Moves to the next event. */
  next(): void {
    const u = this.#nextU32();
    if (this.#started) this.#clock += (u >>> 2) % 3;
    this.#started = true;
    this.action = u & 3;
    let time = this.#clock;
    if (((u >>> 12) & 1023) < LATE_PER_1024) {
      const delay = 1 + (this.#nextU32() % MAX_OUT_OF_ORDER_SECONDS);
      time -= Math.min(delay, this.#clock - this.#start);
    }
    this.time = time;
  }
}

/**
 * The lines of a generated data set without their `\n`, file 0's first:
 * line `i` belongs to file `Math.floor(i / lines)`. For tests and small data;
 * {@link generateDataset} writes the same bytes without building strings.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for a bad option value.
 */
export function* generateLines(options: GenerateOptions = {}): Generator<string, void, undefined> {
  const o = resolveOptions(options);
  const seq = new EventSequence(o.seed, o.startEpochSeconds);
  const total = o.files * o.lines;
  for (let i = 0; i < total; i++) {
    seq.next();
    yield `{"time":${seq.time},"action":"${ACTIONS[seq.action]}"}`;
  }
}

/** `part-00000.json`, `part-00001.json`, …: name order is generation order. */
export function partFileName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.json`;
}

const PREFIX = Buffer.from('{"time":', 'latin1');
const SUFFIXES = ACTIONS.map((a) => Buffer.from(`,"action":"${a}"}\n`, 'latin1'));
const CHUNK = 1 << 20;
/** Longest line: prefix + 16 digits + longest suffix. */
const MAX_LINE = 64;

async function writeAll(fh: FileHandle, buf: Buffer, length: number): Promise<void> {
  let off = 0;
  while (off < length) {
    const { bytesWritten } = await fh.write(buf, off, length - off);
    off += bytesWritten;
  }
}

/**
 * Writes a data set into `dir` (created if missing): `files` files named by
 * {@link partFileName}, each with `lines` events, one JSON object per line.
 *
 * Event times rise across lines and files, about one event per second, with
 * bounded disorder ({@link MAX_OUT_OF_ORDER_SECONDS}). File k gets the
 * modification time `firstMtimeMs + k s`, so a file source (which orders by
 * mtime) reads the files in name order. Each file is written under a hidden
 * temporary name (skipped by the file source's listing) and renamed into
 * place, so a query watching `dir` never sees a partial file.
 *
 * Writing goes through 1 MiB double-buffered chunks, fast enough for
 * 50 files × 200,000 lines (≈ 370 MB) in a few seconds.
 *
 * @returns the absolute paths written, in order, and the number of events.
 * @throws TidemarkError `ERR_INVALID_OPTION` for a bad option value;
 * `ERR_FILE_SOURCE` (with `file`) when a file cannot be written.
 */
export async function generateDataset(
  dir: string,
  options: GenerateDatasetOptions = {},
): Promise<{ files: string[]; events: number }> {
  const o = resolveOptions(options);
  const firstMtimeMs = checkInteger(
    'firstMtimeMs',
    options.firstMtimeMs ?? (Math.floor(Date.now() / 1000) - (o.files - 1)) * 1000,
    0,
    'a non-negative integer',
  );
  const root = resolve(dir);
  try {
    await mkdir(root, { recursive: true });
  } catch (err) {
    throw writeError(root, err);
  }

  const seq = new EventSequence(o.seed, o.startEpochSeconds);
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  const digits = new Uint8Array(20);
  const written: string[] = [];

  for (let f = 0; f < o.files; f++) {
    const finalPath = join(root, partFileName(f));
    const tmpPath = join(root, `.${partFileName(f)}.tmp`);
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmpPath, 'w');
      let which = 0;
      let buf = buffers[0]!;
      let pos = 0;
      let pending: Promise<void> = Promise.resolve();
      const handle = fh;
      const flush = async () => {
        await pending;
        pending = writeAll(handle, buf, pos);
        which ^= 1;
        buf = buffers[which]!;
        pos = 0;
      };
      for (let i = 0; i < o.lines; i++) {
        if (pos > CHUNK - MAX_LINE) await flush();
        seq.next();
        pos += PREFIX.copy(buf, pos);
        // Decimal digits of a non-negative safe integer, most significant first.
        let v = seq.time;
        let n = 0;
        do {
          const q = Math.floor(v / 10);
          digits[n++] = 48 + (v - q * 10);
          v = q;
        } while (v > 0);
        while (n > 0) buf[pos++] = digits[--n]!;
        const suffix = SUFFIXES[seq.action]!;
        for (let k = 0; k < suffix.length; k++) buf[pos++] = suffix[k]!;
      }
      await flush();
      await pending;
      await fh.close();
      fh = undefined;
      const mtimeSeconds = (firstMtimeMs + f * 1000) / 1000;
      await utimes(tmpPath, mtimeSeconds, mtimeSeconds);
      await rename(tmpPath, finalPath);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      throw writeError(finalPath, err);
    }
    written.push(finalPath);
  }
  return { files: written, events: o.files * o.lines };
}

function writeError(file: string, cause: unknown): TidemarkError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new TidemarkError('ERR_FILE_SOURCE', `Unable to write ${file}${detail}`, { file, cause });
}

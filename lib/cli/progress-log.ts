/**
 * `tidemark run --progress-json FILE`: each micro-batch's
 * `StreamingQueryProgress`, in Spark's JSON shape, appended to FILE as one
 * line — what a monitoring agent tails, as Spark users read
 * `StreamingQueryListener.onQueryProgress(event.progress.json)`.
 *
 * @module
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { TidemarkError } from '../errors.js';
import type { StreamingQueryProgress } from '../query/progress.js';

/** An append-only file of progress lines. */
export class ProgressLog {
  readonly path: string;
  #fd: number | null;
  readonly #onError: (err: Error) => void;

  private constructor(path: string, fd: number, onError: (err: Error) => void) {
    this.path = path;
    this.#fd = fd;
    this.#onError = onError;
  }

  /**
   * Opens `path` for appending, creating it when missing (never truncating:
   * a restarted query continues the same file, as a log should).
   *
   * @param onError called once if a later write fails; the log then stops
   *   writing (a monitoring file must not fail the query, as Spark's
   *   listeners do not)
   * @throws TidemarkError `ERR_INVALID_OPTION` naming `--progress-json` and the file when it cannot be opened
   */
  static open(path: string, onError: (err: Error) => void = () => {}): ProgressLog {
    try {
      return new ProgressLog(path, openSync(path, 'a'), onError);
    } catch (err) {
      throw new TidemarkError('ERR_INVALID_OPTION', `--progress-json ${path}: cannot append to it (${(err as Error).message})`, {
        option: '--progress-json',
        file: path,
        cause: err,
      });
    }
  }

  /** Appends one progress as one line of JSON (written before the next batch starts). */
  append(progress: StreamingQueryProgress): void {
    if (this.#fd === null) return;
    try {
      writeSync(this.#fd, `${JSON.stringify(progress)}\n`);
    } catch (err) {
      this.close();
      this.#onError(err as Error);
    }
  }

  /** Closes the file; later appends are ignored. */
  close(): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    closeSync(fd);
  }
}

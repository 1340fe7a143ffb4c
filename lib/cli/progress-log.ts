/**
 * `tidemark run --progress-json FILE`: each micro-batch's
 * `StreamingQueryProgress`, in Spark's JSON shape, appended to FILE as one
 * line — what a monitoring agent tails, as Spark users read
 * `StreamingQueryListener.onQueryProgress(event.progress.json)`.
 *
 * @module
 */
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { TidemarkError } from '../errors.js';
import type { StreamingQueryProgress } from '../query/progress.js';

/**
 * An append-only file of progress lines, written through a stream: a batch
 * never waits on the disk for its monitoring line (Spark's listener bus is
 * asynchronous too).
 */
export class ProgressLog {
  readonly path: string;
  readonly #out: WriteStream;
  #failed = false;

  private constructor(path: string, fd: number, onError: (err: Error) => void) {
    this.path = path;
    this.#out = createWriteStream(path, { fd });
    this.#out.on('error', (err: Error) => {
      if (this.#failed) return;
      this.#failed = true;
      onError(err);
    });
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
    let fd: number;
    try {
      // Opened at once, so a path that cannot be written is refused before the query starts.
      fd = openSync(path, 'a');
    } catch (err) {
      throw new TidemarkError('ERR_INVALID_OPTION', `--progress-json ${path}: cannot append to it (${(err as Error).message})`, {
        option: '--progress-json',
        file: path,
        cause: err,
      });
    }
    try {
      return new ProgressLog(path, fd, onError);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Appends one progress as one line of JSON. */
  append(progress: StreamingQueryProgress): void {
    if (this.#failed || this.#out.writableEnded) return;
    this.#out.write(`${JSON.stringify(progress)}\n`);
  }

  /** Writes what is buffered and closes the file; later appends are ignored. */
  async close(): Promise<void> {
    if (this.#out.writableEnded) return;
    this.#out.end();
    // A write failure was reported through onError already.
    await finished(this.#out).catch(() => {});
  }
}

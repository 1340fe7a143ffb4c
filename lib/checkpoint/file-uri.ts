/**
 * Paths as the logs write them: Spark's source and sink logs name files by
 * `file://` URI (Hadoop's `Path.toUri`), percent-encoded.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The `file://` URI Spark stores for an absolute path. */
export function toFileUri(absolutePath: string): string {
  return pathToFileURL(absolutePath).href;
}

/**
 * The absolute path of a logged `path`: `file:///a`, Hadoop's `file:/a`, or
 * the bare `/a` that Spark 2.1 wrote.
 */
export function sourceLogPath(path: string): string {
  return path.startsWith('file:') ? fileURLToPath(path) : path;
}

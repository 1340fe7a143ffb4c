/**
 * How the CLI reports a failure: the error that went wrong, with its own
 * code, never only the wrapper it reached the CLI in.
 *
 * A query that fails at run time ends with Spark's `[STREAM_FAILED]` error
 * (`ERR_QUERY_FAILED`) whose `cause` is what really failed: a malformed
 * record (`ERR_MALFORMED_RECORD`, with its file and line), a full disk
 * (`ENOSPC`, with the path)… The CLI prints that cause. This module imports
 * nothing, and the CLI loads it only on failure.
 *
 * @module
 */

/** A failure as one line: `<message> (code <CODE>[, at <file>:<line>][, path <path>])`. */
export interface FailureReport {
  /** The line to print after `tidemark: `, without a newline. */
  readonly text: string;
  /** The code shown, or null when the error has none (an unexpected error). */
  readonly code: string | null;
  /**
   * The way out, in the command's flags, when the message is Spark's refusal
   * and says none (`append needs --watermark; or use --output-mode update`):
   * printed on the next line. Null when the message says it all.
   */
  readonly hint: string | null;
}

/**
 * `tidemark run`'s way out of each refusal whose message (Spark's, kept
 * word for word so it can be searched) names no flag. Errors whose own
 * message already says what to do (a checkpoint in use, an output owned by
 * another query) have none.
 */
const RUN_HINTS: Readonly<Record<string, string>> = {
  ERR_APPEND_WITHOUT_WATERMARK: 'append needs --watermark (e.g. --watermark "2 hours"); or use --output-mode update',
  ERR_SESSION_WINDOW_UPDATE_MODE: 'session windows take --output-mode append (with --watermark) or --output-mode complete',
  ERR_COMPLETE_WITHOUT_AGGREGATION: 'complete needs an aggregation: --group-by with --window or --session-window; or use --output-mode append',
  ERR_DEDUP_WITHOUT_WATERMARK: '--drop-duplicates-within-watermark needs --watermark; or use --drop-duplicates',
  ERR_STATEFUL_CORRECTNESS: 'use --output-mode append, where late rows are dropped before any result is written',
  ERR_PATH_NOT_FOUND: '--input names no file or directory: check the path (tidemark gen DIR writes a sample data set)',
  ERR_EVENT_TIME_NOT_TIMESTAMP: '--event-time must name a timestamp column of --schema',
};

interface ErrorFields {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly cause?: unknown;
  readonly file?: unknown;
  readonly line?: unknown;
  readonly path?: unknown;
  readonly dest?: unknown;
  readonly syscall?: unknown;
}

/** Node's errors from the OS (`ENOSPC`, `EACCES`…): a string code and the system call that failed. */
function isSystemError(err: Error & ErrorFields): boolean {
  return typeof err.code === 'string' && typeof err.syscall === 'string';
}

/**
 * Describes a failure for the CLI. `ERR_QUERY_FAILED` is looked through to
 * its cause (prefixed `query failed: `); a tidemark error about a line of
 * input adds `at FILE:LINE`; an OS error adds the path it was about (Node
 * puts it in the message of most calls, not of a write to an open file).
 * Anything else is unexpected: its stack, no code. For `run`, a refusal
 * whose message names no flag gets its way out ({@link FailureReport.hint}).
 */
export function describeFailure(err: unknown, command: string | null = null): FailureReport {
  const report = describe(err);
  const hint = command === 'run' && report.code !== null ? (RUN_HINTS[report.code] ?? null) : null;
  return { ...report, hint };
}

function describe(err: unknown): Omit<FailureReport, 'hint'> {
  if (!(err instanceof Error)) return { text: `unexpected error: ${String(err)}`, code: null };
  const e = err as Error & ErrorFields;
  if (e.name === 'TidemarkError' && e.code === 'ERR_QUERY_FAILED' && e.cause instanceof Error) {
    const cause = e.cause as Error & ErrorFields;
    const inner = describeKnown(cause);
    // A cause without a code of its own (an error thrown by a user's stage) keeps the query's.
    return inner === null ? { text: `query failed: ${cause.message} (code ERR_QUERY_FAILED)`, code: 'ERR_QUERY_FAILED' } : { text: `query failed: ${inner.text}`, code: inner.code };
  }
  return describeKnown(e) ?? { text: `unexpected error: ${e.stack ?? e.message}`, code: null };
}

function describeKnown(e: Error & ErrorFields): Omit<FailureReport, 'hint'> | null {
  if (typeof e.code !== 'string') return null;
  const details = [`code ${e.code}`];
  if (e.name === 'TidemarkError') {
    if (typeof e.file === 'string' && typeof e.line === 'number') details.push(`at ${e.file}:${e.line}`);
  } else if (isSystemError(e)) {
    if (typeof e.path === 'string') details.push(`path ${e.path}`);
    if (typeof e.dest === 'string') details.push(`dest ${e.dest}`);
  } else {
    return null;
  }
  return { text: `${e.message} (${details.join(', ')})`, code: e.code };
}

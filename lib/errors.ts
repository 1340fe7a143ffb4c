/**
 * Every error tidemark raises is a {@link TidemarkError} with a stable `code`.
 *
 * Messages follow Spark's own texts where Spark has one (so a Spark user can
 * search for them); `code` is what programs should branch on.
 *
 * @module
 */

/** Stable error codes. Never renamed once released. */
export type TidemarkErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_INTERVAL'
  | 'ERR_INVALID_WINDOW'
  | 'ERR_MULTIPLE_WINDOWS'
  | 'ERR_NEGATIVE_DELAY'
  | 'ERR_UNKNOWN_COLUMN'
  | 'ERR_EVENT_TIME_NOT_TIMESTAMP'
  | 'ERR_APPEND_WITHOUT_WATERMARK'
  | 'ERR_COMPLETE_WITHOUT_AGGREGATION'
  | 'ERR_UNSUPPORTED_OUTPUT_MODE'
  | 'ERR_UNSUPPORTED_OPERATION'
  | 'ERR_DUPLICATE_QUERY_NAME'
  | 'ERR_MISSING_CHECKPOINT_LOCATION'
  | 'ERR_INVALID_WATERMARK_POLICY'
  | 'ERR_SCHEMA_PARSE'
  | 'ERR_SCHEMA_MISMATCH'
  | 'ERR_MALFORMED_RECORD'
  | 'ERR_LINE_TOO_LONG'
  | 'ERR_CHECKPOINT_CORRUPT'
  | 'ERR_CHECKPOINT_MISMATCH'
  | 'ERR_CHECKPOINT_LOCKED'
  | 'ERR_OUTPUT_OWNED'
  | 'ERR_SNAPSHOT_VERSION'
  | 'ERR_PROTOCOL'
  | 'ERR_QUERY_FAILED'
  | 'ERR_UNABLE_TO_INFER_SCHEMA'
  | 'ERR_FILE_SOURCE'
  | 'ERR_WORKER'
  | 'ERR_INVALID_SOURCE'
  | 'ERR_CHECKPOINT_DRAINED'
  | 'ERR_CHECKPOINT_SNAPSHOT'
  | 'ERR_SESSION_WINDOW_UPDATE_MODE'
  | 'ERR_SESSION_WINDOW_GLOBAL_AGGREGATION'
  | 'ERR_DEDUP_WITHOUT_WATERMARK'
  | 'ERR_DEDUP_ON_BATCH'
  | 'ERR_STATEFUL_CORRECTNESS'
  | 'ERR_UI_NEEDS_TOKEN'
  | 'ERR_UI_PORT_IN_USE'
  | 'ERR_PATH_NOT_FOUND'
  | 'ERR_FILE_NOT_FOUND'
  | 'ERR_UNSUPPORTED_COMPRESSION'
  | 'ERR_OUTPUT_INSIDE_INPUT'
  | 'ERR_AGGREGATE_PARSE'
  | 'ERR_UNKNOWN_FUNCTION'
  | 'ERR_DATATYPE_MISMATCH'
  | 'ERR_ARITHMETIC_OVERFLOW'
  | 'ERR_NATS_UNAVAILABLE'
  | 'ERR_NATS_REFUSED'
  | 'ERR_STREAM_NOT_FOUND'
  | 'ERR_DATA_LOSS'
  | 'ERR_SOURCE_FAILED'
  | 'ERR_PLAN_INPUT'
  | 'ERR_UNKNOWN_FIELD'
  | 'ERR_TIMESTAMP_IN_SECONDS'
  | 'ERR_UNSUPPORTED_DATA_TYPE'
  | 'ERR_UNSUPPORTED_FORMAT';

/** Where an error happened, when it is about input: file, line, option. */
export interface ErrorLocation {
  /** Path of the input file. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** Name of the option whose value was refused. */
  option?: string;
}

/**
 * The one error class of tidemark.
 *
 * @example
 * ```ts
 * try { new Window({ timeColumn: 'time', duration: '1 month' }) }
 * catch (err) { if (isTidemarkError(err, 'ERR_INVALID_INTERVAL')) … }
 * ```
 */
export class TidemarkError extends Error {
  /** Stable machine-readable code. */
  readonly code: TidemarkErrorCode;
  /** Input file, when the error is about a file. */
  readonly file?: string;
  /** 1-based line in {@link TidemarkError.file}. */
  readonly line?: number;
  /** Option name, when the error is about an option. */
  readonly option?: string;

  constructor(code: TidemarkErrorCode, message: string, where: ErrorLocation & { cause?: unknown } = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'TidemarkError';
    this.code = code;
    if (where.file !== undefined) this.file = where.file;
    if (where.line !== undefined) this.line = where.line;
    if (where.option !== undefined) this.option = where.option;
  }
}

/** True when `err` is a {@link TidemarkError}, optionally with the given code. */
export function isTidemarkError(err: unknown, code?: TidemarkErrorCode): err is TidemarkError {
  return err instanceof TidemarkError && (code === undefined || err.code === code);
}

/** Shorthand for an option error that names the option. */
export function invalidOption(option: string, message: string): TidemarkError {
  return new TidemarkError('ERR_INVALID_OPTION', message, { option });
}

/**
 * A line longer than a reader's limit. `line` is 1-based, or -1 when only
 * the file is known.
 */
export function lineTooLong(file: string, line: number, maxLineLength: number): TidemarkError {
  const where = line < 0 ? 'a line' : `line ${line}`;
  return new TidemarkError('ERR_LINE_TOO_LONG', `${file}: ${where} is longer than maxLineLength (${maxLineLength} bytes)`, line < 0 ? { file, option: 'maxLineLength' } : { file, line, option: 'maxLineLength' });
}

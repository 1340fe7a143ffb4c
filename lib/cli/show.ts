/**
 * `tidemark show DIR [--truncate false] [-n 20] [--time-zone ZONE]`: prints
 * what `spark.read.json(DIR).show()` prints in a notebook, byte for byte,
 * followed by the empty line that Python's `print` (Scala's `println`) adds.
 *
 * A Parquet output (`run --format parquet`) prints as
 * `spark.read.parquet(DIR).show()` does: the schema the query wrote (from
 * the files' Spark metadata), timestamps as timestamps.
 *
 * Only committed files are read (a JSON sink's `_spark_metadata` log decides,
 * as Spark's `MetadataLogFileIndex` does), the schema is inferred like
 * `JsonInferSchema` (struct fields sorted, so a window prints as
 * `{end, start}`), and rows come in the order Spark's scan returns them:
 * files by decreasing size (ties in listing order), lines in file order.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { TidemarkError } from '../errors.js';
import { inferJsonLinesSchema, jsonRecordsToRows, showString } from '../core/show.js';
import { isValidTimeZone } from '../core/timestamp.js';
import { committedDataFiles, readCommittedJsonLines, type CommittedDataFiles } from '../sinks/file-sink-log.js';
import { integerFlag, parseCommandArgs, processIO, stringFlag, truncateFlag, UsageError, type CommandIO, type FlagSpec } from './args.js';

/** `tidemark show --help`. */
export const SHOW_USAGE = `Usage: tidemark show DIR [--truncate true|false|N] [-n N] [--time-zone ZONE]

Prints what spark.read.json(DIR).show() prints, byte for byte, then an empty
line (as a notebook's print does). Reads only committed files of a JSON sink's
output directory (those listed in DIR/_spark_metadata, or every visible file
when there is no such log) and infers the schema as Spark does. A Parquet
output (run --format parquet) prints as spark.read.parquet(DIR).show() does,
with the schema the query wrote; a CSV output (run --format csv) as
spark.read.option("header", True).csv(DIR).show() does, every column a string.

Flags:
  --truncate V       true (default): cut cells at 20 characters, right-aligned;
                     false: full cells, left-aligned; N: cut at N characters
  -n, --num-rows N   rows to print (default 20)
  --time-zone ZONE   session time zone for timestamp cells (default: the
                     process's, honouring TZ)
  -h, --help         print this help
`;

const FLAGS: Record<string, FlagSpec> = {
  truncate: { type: 'string' },
  'num-rows': { type: 'string', short: 'n' },
  'time-zone': { type: 'string' },
};

/** Options of {@link showDirectory}: Spark's `show(n, truncate)` and the session time zone. */
export interface ShowDirectoryOptions {
  /** Rows to print (default 20). */
  readonly numRows?: number;
  /** `true` (default), `false`, or a cell width. */
  readonly truncate?: boolean | number;
  /** Session time zone (default: the process's). */
  readonly timeZone?: string;
}

/** Spark's `columnNameOfCorruptRecord`. */
const CORRUPT_RECORD = '_corrupt_record';

interface Line {
  readonly text: string;
  /** The parsed record, or undefined when the line is not valid JSON. */
  readonly record: unknown;
}

/**
 * The text `spark.read.json(dir).show(numRows, truncate)` prints, plus the
 * empty line `println` adds: what `tidemark show` writes to stdout.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` (`[PATH_NOT_FOUND]`) when `dir` does not exist;
 *   `ERR_UNABLE_TO_INFER_SCHEMA` when it holds no record; `ERR_INVALID_OPTION` for an unknown time zone
 */
export async function showDirectory(dir: string, options: ShowDirectoryOptions = {}): Promise<string> {
  if (options.timeZone !== undefined && !isValidTimeZone(options.timeZone)) {
    throw new TidemarkError('ERR_INVALID_OPTION', `unknown time zone '${options.timeZone}'`, { option: 'timeZone' });
  }
  const root = resolve(dir);
  try {
    await stat(root);
  } catch {
    throw new TidemarkError('ERR_FILE_SOURCE', `[PATH_NOT_FOUND] Path does not exist: file:${root}.`, { file: root });
  }
  const listing = await committedDataFiles(root);
  const parquet = listing.files.filter((f) => f.endsWith('.parquet'));
  if (parquet.length > 0) return showParquet(root, parquet, listing, options);
  const csv = listing.files.filter((f) => f.endsWith('.csv'));
  if (csv.length > 0) return showCsv(root, csv, listing, options);
  const byFile = new Map<string, Line[]>();
  for await (const { file, text } of readCommittedJsonLines(root)) {
    // The JSON reader skips blank lines.
    if (text.trim().length === 0) continue;
    let lines = byFile.get(file);
    if (lines === undefined) byFile.set(file, (lines = []));
    lines.push({ text, record: parseJson(text) });
  }
  // FileSourceScanExec: splits sorted by length, longest first (a stable sort).
  const sizes = new Map<string, number>();
  for (const file of byFile.keys()) sizes.set(file, await fileSize(root, file));
  const files = [...byFile.keys()].sort((a, b) => sizes.get(b)! - sizes.get(a)!);
  const lines = files.flatMap((f) => byFile.get(f)!);

  // From the text: `20.0` is a double, as Jackson's tokens tell Spark. A malformed line infers as a
  // struct with only `_corrupt_record` (PERMISSIVE).
  const schema = inferJsonLinesSchema(lines.map((l) => l.text));
  const corrupt = schema.fields.findIndex((f) => f.name === CORRUPT_RECORD && f.dataType.type === 'string');
  const timeZone = options.timeZone;
  const rows: unknown[][] = [];
  for (const l of lines) {
    if (l.record === undefined) {
      const row = new Array<unknown>(schema.fields.length).fill(null);
      if (corrupt >= 0) row[corrupt] = l.text;
      rows.push(row);
      continue;
    }
    for (const row of jsonRecordsToRows(schema, [l.record], timeZone === undefined ? {} : { timeZone })) {
      // The reader keeps the record's raw text in `_corrupt_record`.
      if (corrupt >= 0 && row[corrupt] !== null && row[corrupt] !== undefined) row[corrupt] = l.text;
      rows.push(row);
    }
  }
  return (
    showString(schema, rows, {
      ...(options.numRows === undefined ? {} : { numRows: options.numRows }),
      ...(options.truncate === undefined ? {} : { truncate: options.truncate }),
      ...(timeZone === undefined ? {} : { timeZone }),
    }) + '\n'
  );
}

/** `spark.read.parquet(dir).show()`: the first file's schema, files by decreasing size as for JSON. */
async function showParquet(root: string, parquet: readonly string[], listing: CommittedDataFiles, options: ShowDirectoryOptions): Promise<string> {
  const other = listing.files.find((f) => !f.endsWith('.parquet'));
  if (other !== undefined) {
    throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${root} holds Parquet files and ${other}, which is not one: an output directory is read in one format`, { file: other });
  }
  const { readParquetFiles, rowsUnder } = await import('../sinks/parquet-read.js');
  const read = await readParquetFiles(parquet, listing.log);
  const schema = read[0]!.schema;
  const sizes = new Map<string, number>();
  for (const file of parquet) sizes.set(file, await fileSize(root, file));
  const ordered = [...read].sort((a, b) => sizes.get(b.file)! - sizes.get(a.file)!);
  const timeZone = options.timeZone;
  return (
    showString(schema, rowsUnder(schema, ordered), {
      ...(options.numRows === undefined ? {} : { numRows: options.numRows }),
      ...(options.truncate === undefined ? {} : { truncate: options.truncate }),
      ...(timeZone === undefined ? {} : { timeZone }),
    }) + '\n'
  );
}

/**
 * `spark.read.option('header', True).csv(dir).show()`: every column a
 * string (no `inferSchema`), named by the first file's header; an empty
 * field null, `""` the empty string; files by decreasing size.
 */
async function showCsv(root: string, csv: readonly string[], listing: CommittedDataFiles, options: ShowDirectoryOptions): Promise<string> {
  const other = listing.files.find((f) => !f.endsWith('.csv'));
  if (other !== undefined) {
    throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${root} holds CSV files and ${other}, which is not one: an output directory is read in one format`, { file: other });
  }
  const { readCsvFiles } = await import('../sinks/csv-file.js');
  const read = await readCsvFiles(csv, listing.log);
  const names = read[0]!.header;
  const sizes = new Map<string, number>();
  for (const file of csv) sizes.set(file, await fileSize(root, file));
  const rows: unknown[][] = [];
  for (const f of [...read].sort((a, b) => sizes.get(b.file)! - sizes.get(a.file)!)) {
    const at = names.map((name) => f.header.indexOf(name));
    for (const record of f.rows) rows.push(at.map((i) => (i < 0 ? null : (record[i] ?? null))));
  }
  const schema = { fields: names.map((name) => ({ name, dataType: { type: 'string' as const }, nullable: true })) };
  return (
    showString(schema, rows, {
      ...(options.numRows === undefined ? {} : { numRows: options.numRows }),
      ...(options.truncate === undefined ? {} : { truncate: options.truncate }),
      ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
    }) + '\n'
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function fileSize(root: string, file: string): Promise<number> {
  try {
    return (await stat(isAbsolute(file) ? file : join(root, file))).size;
  } catch {
    return 0;
  }
}

/**
 * Runs `tidemark show` with the arguments after `show`.
 *
 * @returns the exit status
 * @throws UsageError for a bad command line; TidemarkError when the directory cannot be read
 */
export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const args = parseCommandArgs('show', argv, FLAGS, 1);
  if (args.help) {
    io.stdout.write(SHOW_USAGE);
    return 0;
  }
  const dir = args.positionals[0];
  if (dir === undefined || dir.length === 0) throw new UsageError('missing the output directory DIR', 'show');
  const numRows = integerFlag('show', args, 'num-rows');
  const truncate = truncateFlag('show', args, 'truncate');
  const timeZone = stringFlag(args, 'time-zone');
  const text = await showDirectory(dir, {
    ...(numRows === undefined ? {} : { numRows }),
    ...(truncate === undefined ? {} : { truncate }),
    ...(timeZone === undefined ? {} : { timeZone }),
  });
  io.stdout.write(text);
  return 0;
}

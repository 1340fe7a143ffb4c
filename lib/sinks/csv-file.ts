/**
 * One micro-batch as a CSV file the way Spark's CSV writer
 * (`writeStream.format('csv').option('header', true)`) writes it: a header
 * line of the column names, then one line per row, fields separated by `,`,
 * lines ended by `\n`; a null as an empty field, an empty string as `""`;
 * timestamps in the session zone as the JSON sink writes them
 * (`2016-07-26T03:00:00.000Z`, Spark's default `timestampFormat`), dates as
 * `yyyy-MM-dd`, doubles and floats in Java's `toString` form (`22.0`,
 * `1.0E10`, `NaN`), decimals as their digits, booleans as `true`/`false`.
 *
 * Quoting: a field that contains the separator, a `"`, a `\n` or a `\r` is
 * written between `"`, with every `"` in it doubled (RFC 4180, which DuckDB,
 * pandas and spreadsheets read by default). Spark's own default escapes a
 * quote with a backslash instead (`"a\"b"`); Spark reads these files back
 * with `.option('escape', '"')`. Unlike Spark's writer, leading and trailing
 * spaces are kept (Spark's `ignoreLeadingWhiteSpace`/`ignoreTrailingWhiteSpace`
 * trim them on write by default).
 *
 * Spark's CSV data source refuses struct, array and map columns; so does this
 * one, at plan time (`ERR_UNSUPPORTED_DATA_TYPE`, naming the column). A
 * windowed aggregation's `window` column is a struct: write it as JSON or
 * Parquet, or flatten it first (Spark:
 * `select(col('window.start').alias('window_start'), col('window.end').alias('window_end'), …)`;
 * tidemark: a `mapRows` stage after the aggregation). Binary columns are
 * refused too (Spark would write the JVM's name of the byte array).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { TidemarkError } from '../errors.js';
import { rawValueAt, type Column, type RecordBatch } from '../core/batch.js';
import type { DataType, Field, Schema } from '../core/schema.js';
import { sqlTypeName } from '../core/ddl.js';
import { javaDoubleToString, javaFloatToString } from '../core/java-number.js';
import { formatDateDays, formatTimestampIso } from '../core/timestamp.js';

/**
 * Refuses a schema with a column CSV cannot hold (struct, array, map, binary),
 * naming it, with Spark's message and the way out.
 *
 * @throws TidemarkError `ERR_UNSUPPORTED_DATA_TYPE`
 */
export function checkCsvSchema(schema: Schema): void {
  for (const f of schema.fields) {
    const t = f.dataType.type;
    if (t !== 'struct' && t !== 'array' && t !== 'map' && t !== 'binary') continue;
    const flatten =
      t === 'struct'
        ? ` Write format 'json' or 'parquet', or flatten it first: one column per field (${f.dataType.fields.map((c) => `${f.name}_${c.name}`).join(', ')})`
        : " Write format 'json' for this output";
    throw new TidemarkError(
      'ERR_UNSUPPORTED_DATA_TYPE',
      `[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn't support the column \`${f.name}\` of the type "${sqlTypeName(f.dataType)}".${flatten}`,
      { option: 'format' },
    );
  }
}

/** A field as CSV text: quoted, `"` doubled, when it holds the separator, a quote or a line break. */
export function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? '"' + text.replaceAll('"', '""') + '"' : text;
}

/** Writes the CSV text of a non-null storage value (see `rawValueAt`). */
type CellWriter = (raw: unknown) => string;

function cellWriter(t: DataType, zone: string): CellWriter {
  switch (t.type) {
    case 'string':
      // Spark's `emptyValue` on write: an empty string is `""`, told apart from a null.
      return (v) => (v === '' ? '""' : csvField(String(v)));
    case 'boolean':
      return (v) => (v === true ? 'true' : 'false');
    case 'timestamp':
      return (v) => formatTimestampIso(Number(v), zone);
    case 'timestamp_ntz':
      return (v) => {
        const iso = formatTimestampIso(Number(v), 'UTC');
        return iso.slice(0, iso.length - 1);
      };
    case 'date':
      return (v) => formatDateDays(Number(v));
    case 'double':
      return (v) => javaDoubleToString(Number(v));
    case 'float':
      return (v) => javaFloatToString(Number(v));
    case 'byte':
    case 'short':
    case 'int':
    case 'long':
      return (v) => (typeof v === 'bigint' ? v.toString() : String(Math.trunc(Number(v))));
    default:
      // Decimals: their digits.
      return (v) => csvField(String(v));
  }
}

/** Rows of one schema as CSV lines: compiled once per schema. */
export class CsvWriter {
  /** The header line (column names), without its terminator. */
  readonly header: string;
  readonly #writers: CellWriter[];

  /** @throws TidemarkError `ERR_UNSUPPORTED_DATA_TYPE` for a column CSV cannot hold */
  constructor(schema: Schema, zone: string) {
    checkCsvSchema(schema);
    this.header = schema.fields.map((f: Field) => csvField(f.name)).join(',');
    this.#writers = schema.fields.map((f) => cellWriter(f.dataType, zone));
  }

  /** Row `i` of `batch`, without its terminator. */
  line(batch: RecordBatch, i: number): string {
    let out = '';
    const columns: readonly Column[] = batch.columns;
    for (let c = 0; c < this.#writers.length; c++) {
      const raw = rawValueAt(columns[c]!, i);
      if (c > 0) out += ',';
      if (raw !== null) out += this.#writers[c]!(raw);
    }
    return out;
  }
}

/**
 * The records of a CSV text as the CSV sink writes it (RFC 4180: `,`
 * separated, `"` quoted with `""` inside, `\n` or `\r\n` ended): an empty
 * unquoted field is null, a quoted empty field the empty string (Spark's
 * reader's `nullValue` and `emptyValue`). A quoted field may span lines.
 */
export function parseCsv(text: string): (string | null)[][] {
  const records: (string | null)[][] = [];
  let record: (string | null)[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let value: string | null;
    if (text[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          out += text.slice(i);
          i = n;
          break;
        }
        out += text.slice(i, q);
        if (text[q + 1] === '"') {
          out += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      value = out;
    } else {
      let end = i;
      while (end < n && text[end] !== ',' && text[end] !== '\n' && !(text[end] === '\r' && text[end + 1] === '\n')) end++;
      value = end === i ? null : text.slice(i, end);
      i = end;
    }
    record.push(value);
    if (text[i] === ',') {
      i++;
      // A separator at the very end: one more, empty field.
      if (i === n) record.push(null);
      continue;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    records.push(record);
    record = [];
  }
  if (record.length > 0) records.push(record);
  return records;
}

/** The header and records of one CSV file. */
export interface CsvFileRows {
  /** Absolute path of the file. */
  readonly file: string;
  /** The column names of its header line. */
  readonly header: string[];
  /** The records after the header. */
  readonly rows: (string | null)[][];
}

/**
 * The header and records of each CSV file, in the order given.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` for a file that is gone (`listedIn` names the log that lists it)
 */
export async function readCsvFiles(files: readonly string[], listedIn: string | null): Promise<CsvFileRows[]> {
  const out: CsvFileRows[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TidemarkError('ERR_FILE_SOURCE', `File ${file} does not exist${listedIn === null ? '' : `, but it is listed in ${listedIn}`}`, { file, cause: err });
      }
      throw err;
    }
    const [header = [], ...rows] = parseCsv(text);
    out.push({ file, header: header.map((h) => h ?? ''), rows });
  }
  return out;
}

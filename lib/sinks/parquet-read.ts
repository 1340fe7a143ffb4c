/**
 * Reading back the Parquet files a `format: 'parquet'` file sink committed,
 * as `spark.read.parquet(dir)` does: the schema is Spark's own, from the
 * files' key-value metadata (`org.apache.spark.sql.parquet.row.metadata`,
 * as Spark's `ParquetFileFormat` restores it), so columns keep the order and
 * types the query wrote (a window is `struct<start: timestamp, end:
 * timestamp>`, in that order, unlike `spark.read.json`'s sorted, inferred
 * strings). The schema is the first file's, as Spark takes one file's footer
 * without `mergeSchema`; the other files' columns are read by name.
 *
 * The decoder is `hyparquet` (pure JavaScript, the reader companion of the
 * writer `hyparquet-writer`, which depends on it already), loaded only when
 * a Parquet output is read.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { schema as makeSchema, type DataType, type Field, type Schema } from '../core/schema.js';
import { SPARK_ROW_METADATA } from './parquet-file.js';

/** The rows of one Parquet file. */
export interface ParquetFileRows {
  /** Absolute path of the file. */
  readonly file: string;
  /** Spark's schema of the file. */
  readonly schema: Schema;
  /**
   * Row-view values in schema order (timestamps epoch ms, dates epoch days,
   * `long` as numbers when exact and bigints beyond, structs as objects keyed in schema order).
   */
  readonly rows: unknown[][];
}

/** A type of Spark's JSON schema (`DataType.json`) as tidemark's. */
function sparkJsonType(json: unknown, file: string): DataType {
  if (typeof json === 'string') {
    const decimal = /^decimal\((\d+),\s*(-?\d+)\)$/.exec(json);
    if (decimal !== null) return { type: 'decimal', precision: Number(decimal[1]), scale: Number(decimal[2]) };
    switch (json) {
      case 'integer':
        return { type: 'int' };
      case 'string':
      case 'boolean':
      case 'byte':
      case 'short':
      case 'long':
      case 'float':
      case 'double':
      case 'date':
      case 'timestamp':
      case 'timestamp_ntz':
      case 'binary':
        return { type: json };
    }
  } else if (json !== null && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if (o['type'] === 'struct' && Array.isArray(o['fields'])) return { type: 'struct', fields: o['fields'].map((f) => sparkJsonField(f, file)) };
    if (o['type'] === 'array') return { type: 'array', elementType: sparkJsonType(o['elementType'], file), containsNull: o['containsNull'] !== false };
    if (o['type'] === 'map') {
      return { type: 'map', keyType: sparkJsonType(o['keyType'], file), valueType: sparkJsonType(o['valueType'], file), valueContainsNull: o['valueContainsNull'] !== false };
    }
  }
  throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${file}: unknown type ${JSON.stringify(json)} in its Spark schema (${SPARK_ROW_METADATA})`, { file });
}

function sparkJsonField(json: unknown, file: string): Field {
  const o = (json ?? {}) as Record<string, unknown>;
  if (typeof o['name'] !== 'string') throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${file}: a field without a name in its Spark schema (${SPARK_ROW_METADATA})`, { file });
  return { name: o['name'], dataType: sparkJsonType(o['type'], file), nullable: o['nullable'] !== false };
}

/** A decoded value as the row view has it. */
function rowValue(t: DataType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (t.type) {
    case 'struct': {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of t.fields) out[f.name] = rowValue(f.dataType, o[f.name]);
      return out;
    }
    case 'array':
      return (v as readonly unknown[]).map((x) => rowValue(t.elementType, x));
    case 'byte':
    case 'short':
    case 'int':
    case 'long':
      return typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
    default:
      return v;
  }
}

/**
 * The rows of each Parquet file, in the order given.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` for a file that is gone (`listedIn` names the log that lists it);
 *   `ERR_UNSUPPORTED_FORMAT` for a file that is not Parquet or has no Spark schema
 */
export async function readParquetFiles(files: readonly string[], listedIn: string | null): Promise<ParquetFileRows[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const out: ParquetFileRows[] = [];
  for (const file of files) {
    let buffer;
    try {
      buffer = await asyncBufferFromFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TidemarkError('ERR_FILE_SOURCE', `File ${file} does not exist${listedIn === null ? '' : `, but it is listed in ${listedIn}`}`, { file, cause: err });
      }
      throw err;
    }
    let metadata;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (err) {
      throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${file} is not a Parquet file: ${(err as Error).message}`, { file, cause: err });
    }
    const entry = metadata.key_value_metadata?.find((kv) => kv.key === SPARK_ROW_METADATA)?.value;
    if (entry === undefined) {
      throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${file} has no Spark schema (key-value metadata ${SPARK_ROW_METADATA}): it was not written by tidemark or Spark; read it with DuckDB's read_parquet`, { file });
    }
    let json: unknown;
    try {
      json = JSON.parse(entry) as unknown;
    } catch (err) {
      throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${file}: its Spark schema (${SPARK_ROW_METADATA}) is not JSON`, { file, cause: err });
    }
    const type = sparkJsonType(json, file);
    if (type.type !== 'struct') throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `${file}: its Spark schema (${SPARK_ROW_METADATA}) is not a struct`, { file });
    const schema = makeSchema(type.fields);
    const objects = await parquetReadObjects({
      file: buffer,
      metadata,
      // Epoch ms as the row view has them (µs kept as a fraction), days as numbers.
      parsers: {
        timestampFromMicroseconds: (us: bigint) => Number(us) / 1000,
        timestampFromMilliseconds: (ms: bigint) => Number(ms),
        timestampFromNanoseconds: (ns: bigint) => Number(ns) / 1e6,
        dateFromDays: (days: number) => days,
      },
    });
    out.push({ file, schema, rows: objects.map((o) => schema.fields.map((f) => rowValue(f.dataType, (o as Record<string, unknown>)[f.name]))) });
  }
  return out;
}

/**
 * The rows of several files under the first file's schema (columns of the
 * others matched by name, a missing one null), as `spark.read.parquet` reads
 * a directory without `mergeSchema`.
 */
export function rowsUnder(schema: Schema, files: readonly ParquetFileRows[]): unknown[][] {
  const rows: unknown[][] = [];
  for (const f of files) {
    const same = f.schema.fields.length === schema.fields.length && f.schema.fields.every((x, i) => x.name === schema.fields[i]!.name);
    if (same) {
      rows.push(...f.rows);
      continue;
    }
    const at = schema.fields.map((x) => f.schema.fields.findIndex((y) => y.name === x.name));
    for (const row of f.rows) rows.push(at.map((i) => (i < 0 ? null : row[i])));
  }
  return rows;
}

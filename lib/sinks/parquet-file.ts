/**
 * One micro-batch as a Parquet file the way Spark's Parquet writer lays it
 * out (`writeStream.format('parquet')` with
 * `spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS`), so DuckDB,
 * pyarrow and Spark read it as it is: every column OPTIONAL (Spark writes
 * `dataSchema.asNullable`), strings as UTF8 byte arrays, `long` as INT64,
 * `int`/`short`/`byte` as INT32 (INT_16/INT_8), timestamps as INT64
 * micro-seconds adjusted to UTC, `timestamp_ntz` as INT64 micro-seconds not
 * adjusted, dates as INT32 days, structs (the `window` column) as groups;
 * snappy compression; and Spark's own schema in the key-value metadata
 * (`org.apache.spark.sql.parquet.row.metadata`), from which Spark restores
 * the exact types.
 *
 * Arrays, maps, decimals and binary are refused at plan time
 * (`ERR_UNSUPPORTED_DATA_TYPE`, naming the column): aggregated output has
 * none, and a half-right encoding would be worse than none.
 *
 * The encoder is `hyparquet-writer` (pure JavaScript, one dependency), loaded
 * only when a Parquet sink writes.
 *
 * @module
 */
import type { ColumnSource, SchemaElement } from 'hyparquet-writer';
import { TidemarkError } from '../errors.js';
import { rawValueAt, type Column, type RecordBatch } from '../core/batch.js';
import type { DataType, Field, Schema } from '../core/schema.js';

/** Spark's name of the key-value metadata entry holding the Spark schema (ParquetReadSupport.SPARK_METADATA_KEY). */
export const SPARK_ROW_METADATA = 'org.apache.spark.sql.parquet.row.metadata';

/**
 * Refuses a schema with a type the Parquet sink does not write, naming the column.
 *
 * @throws TidemarkError `ERR_UNSUPPORTED_DATA_TYPE`
 */
export function checkParquetSchema(schema: Schema): void {
  const visit = (fields: readonly Field[], prefix: string): void => {
    for (const f of fields) {
      const path = prefix + f.name;
      if (f.dataType.type === 'struct') visit(f.dataType.fields, path + '.');
      else if (parquetLeaf(f.dataType) === null) {
        throw new TidemarkError(
          'ERR_UNSUPPORTED_DATA_TYPE',
          `The Parquet sink does not write column \`${path}\` of type ${typeName(f.dataType)}: it writes strings, booleans, numbers, dates, timestamps and structs of them. Use format 'json' for this output`,
          { option: 'format' },
        );
      }
    }
  };
  visit(schema.fields, '');
}

/** The Parquet schema elements (depth-first, root first) of a Spark schema. */
export function parquetSchema(schema: Schema): SchemaElement[] {
  const out: SchemaElement[] = [{ name: 'spark_schema', num_children: schema.fields.length }];
  const visit = (fields: readonly Field[]): void => {
    for (const f of fields) {
      if (f.dataType.type === 'struct') {
        out.push({ name: f.name, repetition_type: 'OPTIONAL', num_children: f.dataType.fields.length });
        visit(f.dataType.fields);
      } else {
        out.push({ name: f.name, repetition_type: 'OPTIONAL', ...parquetLeaf(f.dataType)! });
      }
    }
  };
  visit(schema.fields);
  return out;
}

function parquetLeaf(t: DataType): Omit<SchemaElement, 'name'> | null {
  switch (t.type) {
    case 'string':
      return { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'boolean':
      return { type: 'BOOLEAN' };
    case 'byte':
      return { type: 'INT32', converted_type: 'INT_8', logical_type: { type: 'INTEGER', bitWidth: 8, isSigned: true } };
    case 'short':
      return { type: 'INT32', converted_type: 'INT_16', logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true } };
    case 'int':
      return { type: 'INT32' };
    case 'long':
      return { type: 'INT64' };
    case 'float':
      return { type: 'FLOAT' };
    case 'double':
      return { type: 'DOUBLE' };
    case 'date':
      return { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'timestamp':
      return { type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
    case 'timestamp_ntz':
      return { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } };
    default:
      return null;
  }
}

/** The values of one column of the batches, in the shape the encoder takes (objects for structs, bigint for INT64). */
function columnValues(t: DataType, columns: readonly Column[], lengths: readonly number[]): unknown[] {
  const out: unknown[] = [];
  for (let b = 0; b < columns.length; b++) {
    const column = columns[b]!;
    for (let i = 0; i < lengths[b]!; i++) out.push(parquetValue(t, rawValueAt(column, i)));
  }
  return out;
}

/** A storage value (see `rawValueAt`) as the encoder takes it. */
function parquetValue(t: DataType, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  switch (t.type) {
    case 'struct': {
      const children = raw as readonly unknown[];
      const row: Record<string, unknown> = {};
      t.fields.forEach((f, k) => (row[f.name] = parquetValue(f.dataType, children[k])));
      return row;
    }
    case 'long':
    case 'timestamp':
    case 'timestamp_ntz':
      return typeof raw === 'bigint' ? raw : BigInt(Math.trunc(Number(raw)));
    case 'byte':
    case 'short':
    case 'int':
    case 'date':
      return Math.trunc(Number(raw));
    case 'float':
    case 'double':
      return Number(raw);
    case 'string':
      return String(raw);
    default:
      return raw;
  }
}

/** Spark's JSON name of a type (`DataType.json`), as its schema metadata writes it. */
function sparkTypeJson(t: DataType): unknown {
  switch (t.type) {
    case 'int':
      return 'integer';
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'array':
      return { type: 'array', elementType: sparkTypeJson(t.elementType), containsNull: t.containsNull };
    case 'map':
      return { type: 'map', keyType: sparkTypeJson(t.keyType), valueType: sparkTypeJson(t.valueType), valueContainsNull: t.valueContainsNull };
    case 'struct':
      return { type: 'struct', fields: t.fields.map(sparkFieldJson) };
    default:
      return t.type;
  }
}

// Nullable, as Spark writes files: `dataSchema.asNullable`.
function sparkFieldJson(f: Field): unknown {
  return { name: f.name, type: sparkTypeJson(f.dataType), nullable: true, metadata: {} };
}

function typeName(t: DataType): string {
  const json = sparkTypeJson(t);
  return typeof json === 'string' ? json : t.type;
}

/**
 * The Parquet file of the rows of `batches` (all of `schema`): one row group.
 *
 * @throws TidemarkError `ERR_UNSUPPORTED_DATA_TYPE` for a column of a type it does not write
 */
export async function encodeParquet(schema: Schema, batches: readonly RecordBatch[]): Promise<Uint8Array> {
  checkParquetSchema(schema);
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const lengths = batches.map((b) => b.length);
  const rows = lengths.reduce((n, l) => n + l, 0);
  const columnData: ColumnSource[] = schema.fields.map((f, c) => ({
    name: f.name,
    data: columnValues(
      f.dataType,
      batches.map((b) => b.columns[c]!),
      lengths,
    ) as ColumnSource['data'],
  }));
  const buffer = parquetWriteBuffer({
    columnData,
    schema: parquetSchema(schema),
    codec: 'SNAPPY',
    rowGroupSize: Math.max(1, rows),
    kvMetadata: [{ key: SPARK_ROW_METADATA, value: JSON.stringify({ type: 'struct', fields: schema.fields.map(sparkFieldJson) }) }],
    createdBy: 'tidemark',
  });
  return new Uint8Array(buffer);
}

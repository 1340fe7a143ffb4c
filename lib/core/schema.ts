/**
 * Spark SQL data types and schemas, as plain values.
 *
 * A {@link Schema} is what Spark calls a `StructType`: an ordered list of
 * fields. Field metadata carries what Spark keeps in column metadata: the
 * watermark delay set by `withWatermark` and the window a column was made by.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

/** Spark SQL data types tidemark understands. */
export type DataType =
  | { readonly type: 'string' }
  | { readonly type: 'boolean' }
  | { readonly type: 'byte' }
  | { readonly type: 'short' }
  | { readonly type: 'int' }
  | { readonly type: 'long' }
  | { readonly type: 'float' }
  | { readonly type: 'double' }
  | { readonly type: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly type: 'date' }
  | { readonly type: 'timestamp' }
  | { readonly type: 'timestamp_ntz' }
  | { readonly type: 'binary' }
  | { readonly type: 'array'; readonly elementType: DataType; readonly containsNull: boolean }
  | { readonly type: 'map'; readonly keyType: DataType; readonly valueType: DataType; readonly valueContainsNull: boolean }
  | { readonly type: 'struct'; readonly fields: readonly Field[] };

/** Column metadata Spark propagates through a plan. */
export interface FieldMetadata {
  /** Set by a watermark on this column (`withWatermark`): the delay in milliseconds. */
  readonly watermarkDelayMs?: number;
  /** Set on a column produced by `window()`: the window it was made by (µs). */
  readonly timeWindow?: {
    readonly durationUs: number;
    readonly slideUs: number;
    readonly startTimeUs: number;
    /**
     * The column holds the slide-sized pane a row falls in, not its windows:
     * the aggregation right after expands panes into windows (see `Window`'s `panes`).
     */
    readonly panes?: boolean;
    /** The column the windows were computed from, when the rows no longer carry it (partial aggregates). */
    readonly timeColumn?: string;
  };
  /**
   * The column is a partial aggregation buffer: the rows stand for groups of
   * rows already aggregated where they were read (`ChunkAggregate`), and only
   * a stage that merges partial aggregates (a keyed aggregation, the
   * watermark) can take them. `store` says which buffers (plain data).
   */
  readonly partialAggregate?: { readonly store: unknown };
  /** `COMMENT '…'` of a DDL column. */
  readonly comment?: string;
  /** Longest value (bytes) the producer allows; a consumer that frames values itself enforces it. */
  readonly maxLength?: number;
  /**
   * Binary values are handed over: the producer keeps no reference to their
   * memory once emitted, so the consumer may move it to another thread
   * (transfer its `ArrayBuffer`) instead of copying it.
   */
  readonly handedOver?: boolean;
}

/** True when the rows of `s` are partial aggregates (see {@link FieldMetadata.partialAggregate}). */
export function isPartialAggregateSchema(s: Schema): boolean {
  return s.fields.some((f) => f.metadata?.partialAggregate !== undefined);
}

/** One named, typed column of a schema. */
export interface Field {
  readonly name: string;
  readonly dataType: DataType;
  readonly nullable: boolean;
  readonly metadata?: FieldMetadata;
}

/** An ordered list of fields: Spark's `StructType`. */
export interface Schema {
  readonly fields: readonly Field[];
}

/** Shorthands for the primitive types. */
export const Types = {
  string: { type: 'string' },
  boolean: { type: 'boolean' },
  byte: { type: 'byte' },
  short: { type: 'short' },
  int: { type: 'int' },
  long: { type: 'long' },
  float: { type: 'float' },
  double: { type: 'double' },
  date: { type: 'date' },
  timestamp: { type: 'timestamp' },
  timestampNtz: { type: 'timestamp_ntz' },
  binary: { type: 'binary' },
} as const satisfies Record<string, DataType>;

/** The type of the `window` column Spark's `window()` produces. */
export const WINDOW_TYPE: DataType = {
  type: 'struct',
  fields: [
    { name: 'start', dataType: Types.timestamp, nullable: true },
    { name: 'end', dataType: Types.timestamp, nullable: true },
  ],
};

/** Builds a field; nullable by default, as file sources force. */
export function field(name: string, dataType: DataType, nullable = true, metadata?: FieldMetadata): Field {
  return metadata === undefined ? { name, dataType, nullable } : { name, dataType, nullable, metadata };
}

/** Builds a schema from fields. */
export function schema(fields: readonly Field[]): Schema {
  return { fields };
}

/** Index of the column named `name`, or -1. Exact, case-sensitive match (Spark's JSON reader). */
export function fieldIndex(s: Schema, name: string): number {
  for (let i = 0; i < s.fields.length; i++) if (s.fields[i]!.name === name) return i;
  return -1;
}

/**
 * The field named `name`, or a coded error that names the column and lists
 * the ones that exist (Spark: `UNRESOLVED_COLUMN.WITH_SUGGESTION`).
 */
export function requireField(s: Schema, name: string, option?: string): Field {
  const i = fieldIndex(s, name);
  if (i < 0) {
    const known = s.fields.map((f) => '`' + f.name + '`').join(', ');
    throw new TidemarkError(
      'ERR_UNKNOWN_COLUMN',
      `[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name \`${name}\` cannot be resolved. Did you mean one of the following? [${known}].`,
      option === undefined ? {} : { option },
    );
  }
  return s.fields[i]!;
}

/** True for `timestamp` and `timestamp_ntz`. */
export function isTimestampType(t: DataType): boolean {
  return t.type === 'timestamp' || t.type === 'timestamp_ntz';
}

/** True for a window struct (`struct<start: timestamp, end: timestamp>`), the other legal event-time type. */
export function isWindowType(t: DataType): boolean {
  if (t.type !== 'struct') return false;
  const end = t.fields.find((f) => f.name === 'end');
  const start = t.fields.find((f) => f.name === 'start');
  return end !== undefined && start !== undefined && isTimestampType(end.dataType) && isTimestampType(start.dataType);
}

/** Spark's `simpleString` of a type: `int`, `bigint`, `struct<a:int,b:string>`. */
export function simpleString(t: DataType): string {
  switch (t.type) {
    case 'byte':
      return 'tinyint';
    case 'short':
      return 'smallint';
    case 'long':
      return 'bigint';
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'array':
      return `array<${simpleString(t.elementType)}>`;
    case 'map':
      return `map<${simpleString(t.keyType)},${simpleString(t.valueType)}>`;
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}:${simpleString(f.dataType)}`).join(',')}>`;
    default:
      return t.type;
  }
}

/** `struct<time:timestamp,action:string>` for a whole schema. */
export function schemaString(s: Schema): string {
  return simpleString({ type: 'struct', fields: s.fields });
}

/** Spark's upper-case SQL type name used in error messages (`"INT"`, `"TIMESTAMP"`). */
export function sqlTypeName(t: DataType): string {
  return simpleString(t).toUpperCase();
}

/** A copy of `f` with metadata merged in. */
export function withMetadata(f: Field, metadata: FieldMetadata): Field {
  return { ...f, metadata: { ...f.metadata, ...metadata } };
}

/** Structural equality of two types (names, types, nullability; metadata ignored). */
export function sameType(a: DataType, b: DataType): boolean {
  return simpleString(a) === simpleString(b);
}

/**
 * Users' own simple stages, per row: `filterRows` and `mapRows`, built with
 * through2. They speak the protocol for you: rows go through your function
 * (in the row view, timestamps as epoch ms), every other item is forwarded.
 *
 * Give them the schema of the rows they read as a DDL string literal and the
 * callback's argument is typed from it (`RowOf`); the schema is also checked
 * against the stage's input when the query starts, so the type holds.
 *
 * They allocate an object per row: fine for light user logic; tidemark's own
 * stages work on columns.
 *
 * @module
 */
import type { Transform } from 'node:stream';
import through2 from 'through2';
import { TidemarkError } from '../errors.js';
import { RecordBatch, type Row } from '../core/batch.js';
import { parseDDL } from '../core/ddl.js';
import type { Schema } from '../core/schema.js';
import { checkDeclaredColumns } from '../core/row-check.js';
import type { InputRowOf, RowOf, RowTyped } from '../core/row-types.js';
import type { StreamItem } from '../protocol.js';
import { refusePartialInput, type PlanContext } from './stage.js';

/** A stage the query driver can check before starting: it states its output schema. */
export interface Plannable {
  plan(input: Schema, context: PlanContext): Schema;
}

/** True when `stage` states its output schema. */
export function isPlannable(stage: unknown): stage is Plannable {
  return typeof (stage as Partial<Plannable>)?.plan === 'function';
}

/** A `filterRows`/`mapRows` stage: a Transform that states its output schema, typed by its rows. */
export type RowStage<R = Row> = Transform & Plannable & RowTyped<R>;

function toSchema(schema: Schema | string | undefined): Schema | null {
  return schema === undefined ? null : typeof schema === 'string' ? parseDDL(schema) : schema;
}

function rowStage(name: string, inputSchema: Schema | null, outputSchema: Schema | null, onRows: (rows: Row[]) => Row[]): Transform & Plannable {
  let schema: Schema | null = outputSchema;
  const check = (input: Schema): void => {
    refusePartialInput(name, false, input);
    if (inputSchema !== null) checkDeclaredColumns(input, inputSchema, name, false);
  };
  const stream = through2.obj(function (item: StreamItem, _encoding, callback) {
    try {
      if (item.kind === 'open') {
        check(item.schema);
        schema = outputSchema ?? item.schema;
        callback(null, { ...item, schema, readAhead: undefined });
        return;
      }
      if (item.kind !== 'rows') {
        callback(null, item);
        return;
      }
      const rows = onRows(item.batch.rows());
      if (rows.length === 0) callback();
      else callback(null, { kind: 'rows', batch: RecordBatch.fromRows(schema ?? item.batch.schema, rows) } satisfies StreamItem);
    } catch (err) {
      callback(err instanceof Error ? err : new TidemarkError('ERR_QUERY_FAILED', String(err)));
    }
  }) as Transform & Plannable;
  stream.plan = (input: Schema) => {
    check(input);
    return outputSchema ?? input;
  };
  return stream;
}

/** Options of {@link filterRows}. */
export interface FilterRowsOptions<S extends string = string> {
  /**
   * The columns the predicate reads, as a DDL string (`'action string'`) or a
   * schema value: the input must have them, with these types (other columns
   * pass through). A string literal types the predicate's argument.
   */
  schema?: S | Schema;
}

/**
 * Keeps the rows for which `predicate` is true.
 *
 * @example
 * ```ts
 * await pipeline(source, filterRows((row) => row.action !== 'Scroll', { schema: 'action string' }), new Window(…), …)
 * // or, typed without the check: filterRows<'action string'>((row) => row.action !== 'Scroll')
 * ```
 * @throws TidemarkError `ERR_SCHEMA_MISMATCH` (when the query starts) if the input lacks a column of `schema`
 */
export function filterRows<S extends string = string>(predicate: (row: RowOf<S>) => boolean, options: FilterRowsOptions<S> = {}): RowStage<RowOf<S>> {
  return rowStage('filterRows', toSchema(options.schema), null, (rows) => rows.filter((row) => predicate(row as RowOf<S>))) as RowStage<RowOf<S>>;
}

/** Options of {@link mapRows}. */
export interface MapRowsOptions<I extends string = string, O extends string = string> {
  /**
   * The columns `fn` reads (checked against the input when the query
   * starts, as {@link FilterRowsOptions.schema}); a string literal types `fn`'s argument.
   */
  input?: I | Schema;
  /**
   * The schema of the rows `fn` returns, when they change shape (a DDL
   * string or a schema value); the input's schema by default. A string
   * literal types `fn`'s result ({@link InputRowOf}); without one the result
   * is an untyped row.
   */
  schema?: O | Schema;
}

/**
 * Replaces each row by `fn(row)`; `null` drops it. Give `schema` (a schema
 * value or DDL string) when the rows change shape.
 *
 * @example
 * ```ts
 * mapRows((row) => ({ ...row, action: row.action?.toUpperCase() ?? null }), { input: 'time timestamp, action string', schema: 'time timestamp, action string' })
 * mapRows((row) => ({ time: row.time, hour: new Date(row.time ?? 0).getUTCHours() }), {
 *   input: 'time timestamp', schema: 'time timestamp, hour int',
 * })
 * ```
 * @throws TidemarkError `ERR_SCHEMA_MISMATCH` (when the query starts) if the input lacks a column of `input`
 */
export function mapRows<I extends string = string, O extends string = string>(
  fn: (row: RowOf<I>) => InputRowOf<O> | null,
  options: MapRowsOptions<I, O> = {},
): RowStage<RowOf<O>> {
  return rowStage('mapRows', toSchema(options.input), toSchema(options.schema), (rows) => {
    const out: Row[] = [];
    for (const row of rows) {
      const mapped = fn(row as RowOf<I>);
      if (mapped !== null) out.push(mapped as Row);
    }
    return out;
  }) as RowStage<RowOf<O>>;
}

/**
 * Users' own simple stages, per row: `filterRows` and `mapRows`, built with
 * through2. They speak the protocol for you: rows go through your function
 * (in the row view, timestamps as epoch ms), every other item is forwarded.
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

function rowStage(name: string, outputSchema: Schema | null, onRows: (rows: Row[]) => Row[]): Transform & Plannable {
  let schema: Schema | null = outputSchema;
  const stream = through2.obj(function (item: StreamItem, _encoding, callback) {
    try {
      if (item.kind === 'open') {
        refusePartialInput(name, false, item.schema);
        schema = outputSchema ?? item.schema;
        callback(null, { ...item, schema });
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
    refusePartialInput(name, false, input);
    return outputSchema ?? input;
  };
  return stream;
}

/**
 * Keeps the rows for which `predicate` is true.
 *
 * @example
 * ```ts
 * await pipeline(source, filterRows((row) => row.action !== 'Scroll'), new Window(…), …)
 * ```
 */
export function filterRows(predicate: (row: Row) => boolean): Transform & Plannable {
  return rowStage('filterRows', null, (rows) => rows.filter((row) => predicate(row)));
}

/**
 * Replaces each row by `fn(row)`; `null` drops it. Give `schema` (a schema
 * value or DDL string) when the rows change shape.
 *
 * @example
 * ```ts
 * mapRows((row) => ({ ...row, action: String(row.action).toUpperCase() }))
 * ```
 */
export function mapRows(fn: (row: Row) => Row | null, options: { schema?: Schema | string } = {}): Transform & Plannable {
  const schema = options.schema === undefined ? null : typeof options.schema === 'string' ? parseDDL(options.schema) : options.schema;
  return rowStage('mapRows', schema, (rows) => {
    const out: Row[] = [];
    for (const row of rows) {
      const mapped = fn(row);
      if (mapped !== null) out.push(mapped);
    }
    return out;
  });
}

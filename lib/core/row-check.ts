/**
 * Checks on rows a program hands to tidemark (`MemorySource.addData`, and
 * any source that takes rows from user code): every property must be a
 * column of the schema, and a timestamp given as a number must not look
 * like epoch seconds.
 *
 * `RecordBatch.fromRows` reads a missing property as null and ignores an
 * unknown one, as Spark's JSON reader does with the fields of a record. For
 * rows written in code that hides typos (`{ actoin: 'Open' }` becomes a null
 * `action`), so a source of user rows refuses them.
 *
 * Epoch seconds read as milliseconds land in 1970 (1469504400 s is
 * 2016-07-26; as ms it is 1970-01-18) and the watermark, windows and
 * output follow silently. A number of milliseconds from 10^8 (1970-01-02
 * 03:46:40 UTC) up to 1971-01-01 is refused: read as seconds it is a date
 * between 1973 and 2969, which is what such a number almost always is.
 * Numbers below 10^8 (the first 27 hours of 1970) are taken as given, since
 * tests, Spark's own suites among them, count time from the epoch; a real
 * time in 1970 can be given as a `Date` or as epoch µs (`bigint`).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { Row } from './batch.js';
import { schemaString, simpleString, type DataType, type Field, type Schema } from './schema.js';
import { closestName } from './suggest.js';

/** Smallest epoch-ms number refused as probably seconds: 10^8 (1970-01-02T03:46:40Z). */
export const SECONDS_SUSPECT_FROM_MS = 1e8;
/** 1971-01-01T00:00:00Z in epoch ms: numbers at or past it are taken as milliseconds. */
export const SECONDS_SUSPECT_UNTIL_MS = 31_536_000_000;

/** True when `ms`, a timestamp given as a number, looks like epoch seconds (see the module notes). */
export function looksLikeEpochSeconds(ms: number): boolean {
  return ms >= SECONDS_SUSPECT_FROM_MS && ms < SECONDS_SUSPECT_UNTIL_MS;
}

function isTimestamp(t: DataType): boolean {
  return t.type === 'timestamp' || t.type === 'timestamp_ntz';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Checks `rows` against `schema`.
 *
 * @param who - what took the rows, for the message (`MemorySource.addData`)
 * @throws TidemarkError `ERR_UNKNOWN_FIELD` for a property that is not a
 *   column (naming it, the closest column, and the schema's columns), also
 *   inside a struct; `ERR_TIMESTAMP_IN_SECONDS` for a timestamp number that
 *   looks like epoch seconds (naming the row, the column and both readings);
 *   `ERR_SCHEMA_MISMATCH` for a row that is not an object
 */
export function checkInputRows(schema: Schema, rows: readonly Row[], who: string): void {
  for (let i = 0; i < rows.length; i++) checkObject(schema.fields, rows[i], who, i, '');
}

function checkObject(fields: readonly Field[], value: unknown, who: string, index: number, path: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = path === '' ? `row ${index}` : `row ${index}, column ${path.slice(0, -1)}`;
    throw new TidemarkError('ERR_SCHEMA_MISMATCH', `${who}: ${what} must be an object of column values, got ${describe(value)}`);
  }
  const row = value as Row;
  let unknown: string[] | null = null;
  for (const key of Object.keys(row)) {
    let field: Field | undefined;
    for (const f of fields) {
      if (f.name === key) {
        field = f;
        break;
      }
    }
    if (field === undefined) {
      (unknown ??= []).push(key);
      continue;
    }
    const v = row[key];
    if (v === null || v === undefined) continue;
    if (isTimestamp(field.dataType) && typeof v === 'number' && looksLikeEpochSeconds(v)) {
      throw new TidemarkError(
        'ERR_TIMESTAMP_IN_SECONDS',
        `${who}: row ${index}, column ${path}${key}: ${v} is read as epoch milliseconds (${iso(v)}), but it looks like epoch seconds (${iso(v * 1000)}); ` +
          `give milliseconds (${v} * 1000), or a Date for a time in 1970`,
        { option: path + key },
      );
    }
    if (field.dataType.type === 'struct' && typeof v === 'object' && !(v instanceof Date)) checkObject(field.dataType.fields, v, who, index, `${path}${key}.`);
  }
  if (unknown !== null) {
    const names = fields.map((f) => f.name);
    const parts = unknown.map((name) => {
      const hit = closestName(name, names);
      return hit === null ? `'${path}${name}'` : `'${path}${name}' (did you mean '${path}${hit}'?)`;
    });
    const where = path === '' ? 'the schema' : `struct ${path.slice(0, -1)}`;
    throw new TidemarkError(
      'ERR_UNKNOWN_FIELD',
      `${who}: row ${index} has ${unknown.length === 1 ? 'a field' : 'fields'} not in ${where}: ${parts.join(', ')}; ${where}'s fields are ${names.map((n) => `'${n}'`).join(', ')}`,
      { option: path + unknown[0]! },
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

/**
 * Checks that the rows a stage or sink receives have the columns its
 * declared schema names, with those types, so that the row type the DDL
 * literal gave it (`RowOf`) is what it gets.
 *
 * @param exact - true: the input must have exactly these columns (a sink's
 *   result table); false: at least these (a filter reads some columns)
 * @throws TidemarkError `ERR_SCHEMA_MISMATCH` naming each missing, extra or
 *   differently typed column and both schemas
 */
export function checkDeclaredColumns(input: Schema, declared: Schema, who: string, exact: boolean): void {
  const problems: string[] = [];
  const byName = new Map(input.fields.map((f) => [f.name, f]));
  for (const d of declared.fields) {
    const f = byName.get(d.name);
    if (f === undefined) {
      const hit = closestName(d.name, byName.keys());
      problems.push(`no column '${d.name}'${hit === null ? '' : ` (did you mean '${hit}'?)`}`);
    } else if (simpleString(f.dataType) !== simpleString(d.dataType)) {
      problems.push(`column '${d.name}' is ${simpleString(f.dataType)}, not ${simpleString(d.dataType)}`);
    } else if (!d.nullable && f.nullable) {
      problems.push(`column '${d.name}' may be null, but is declared NOT NULL`);
    }
  }
  if (exact) {
    const names = new Set(declared.fields.map((f) => f.name));
    for (const f of input.fields) if (!names.has(f.name)) problems.push(`column '${f.name}' is not declared`);
  }
  if (problems.length > 0) {
    throw new TidemarkError(
      'ERR_SCHEMA_MISMATCH',
      `${who}: the rows it receives (${schemaString(input)}) do not match its schema (${schemaString(declared)}): ${problems.join('; ')}`,
      { option: 'schema' },
    );
  }
}

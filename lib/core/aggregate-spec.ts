/**
 * The aggregates of a `groupBy(...).agg(...)`: what the user wrote
 * ({@link AggregateSpec}, parsed from Spark's expression syntax by
 * {@link parseAggregates}) and what it means against an input schema
 * ({@link ResolvedAggregate}: input column, Spark's result type and result
 * column name, by {@link resolveAggregates}). The rules are Spark's
 * (`CA/expressions/aggregate/{Count,Sum,Average,Max,Min}.scala`):
 *
 * | function | input | result | named |
 * |---|---|---|---|
 * | `count` | — | `bigint`, never null | `count` (`.count()`); `count(1)` for `count(*)` |
 * | `count(col)` | any | `bigint`, 0 when every value is null | `count(col)` |
 * | `sum(col)` | byte/short/int/bigint | `bigint` | `sum(col)` |
 * | | float/double | `double` | |
 * | | decimal(p,s) | decimal(min(38,p+10),s) | |
 * | `avg(col)` | numbers | `double` | `avg(col)` |
 * | | decimal(p,s) | decimal(min(38,p+4),min(38,s+4)) | |
 * | `min(col)`, `max(col)` | numbers, decimals, strings, booleans, dates, timestamps | the input type | `min(col)`, `max(col)` |
 *
 * Nulls are skipped; a group with no non-null value gets null (`count(col)`: 0).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { boundedDecimal } from './decimal.js';
import { sqlTypeName } from './ddl.js';
import { fieldIndex, requireField, type DataType, type Field, type Schema } from './schema.js';

/** The aggregate functions. `count` counts rows, `count_col` the non-null values of a column. */
export type AggregateFunction = 'count' | 'count_col' | 'sum' | 'avg' | 'min' | 'max';

/** One aggregate as written. */
export interface AggregateSpec {
  readonly fn: AggregateFunction;
  /** The input column; null for `count`. */
  readonly column: string | null;
  /** `AS alias`, or null for Spark's default name. */
  readonly alias: string | null;
  /** True for `count(*)`/`count(1)`, whose default name is Spark SQL's `count(1)`; `count` alone is `.count()`, named `count`. */
  readonly star?: boolean;
}

/** An aggregate resolved against an input schema. */
export interface ResolvedAggregate {
  readonly fn: AggregateFunction;
  /** The input column's name as the schema spells it; null for `count`. */
  readonly column: string | null;
  /** Index of the input column in the schema; -1 for `count`. */
  readonly inputIndex: number;
  /** Type of the input column; null for `count`. */
  readonly inputType: DataType | null;
  /** Spark's result type. */
  readonly resultType: DataType;
  /** Result column name: the alias, else Spark's default (`sum(temperature)`). */
  readonly name: string;
}

/** The functions, as error messages list them. */
const FUNCTIONS_TEXT = 'count, count(*), count(col), sum(col), avg(col), min(col), max(col)';

/** Options of {@link resolveAggregates}. */
export interface ResolveOptions {
  /** Name of the option or flag the aggregates came from, for errors (e.g. `--agg`). */
  readonly option?: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing.

class AggregateSyntaxError extends Error {
  constructor(
    readonly what: string,
    readonly position: number,
  ) {
    super(what);
  }
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

class Lexer {
  pos = 0;
  constructor(readonly text: string) {}

  skip(): void {
    while (this.pos < this.text.length && /\s/.test(this.text.charAt(this.pos))) this.pos++;
  }

  peek(): string {
    this.skip();
    return this.text.charAt(this.pos);
  }

  atEnd(): boolean {
    this.skip();
    return this.pos >= this.text.length;
  }

  /** A bare word (`[A-Za-z0-9_]+`), or '' when none starts here. */
  word(): string {
    this.skip();
    const start = this.pos;
    while (this.pos < this.text.length && isWordChar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** An identifier: a bare word or a backquoted name (``` `` ``` for a backquote); null when none starts here. */
  name(): string | null {
    this.skip();
    if (this.text.charAt(this.pos) !== '`') {
      const w = this.word();
      return w === '' ? null : w;
    }
    const start = this.pos;
    let out = '';
    this.pos++;
    for (;;) {
      if (this.pos >= this.text.length) throw new AggregateSyntaxError('unterminated backquoted name', start);
      const ch = this.text.charAt(this.pos++);
      if (ch !== '`') out += ch;
      else if (this.text.charAt(this.pos) === '`') {
        out += '`';
        this.pos++;
      } else return out;
    }
  }

  expect(ch: string, what: string): void {
    if (this.peek() !== ch) throw new AggregateSyntaxError(what, this.pos);
    this.pos++;
  }
}

const FUNCTION_NAMES: Readonly<Record<string, AggregateFunction>> = { count: 'count', sum: 'sum', avg: 'avg', min: 'min', max: 'max' };

/**
 * Parses a comma-separated list of aggregates in Spark's expression syntax,
 * as the CLI's `--agg` takes it: `count`, `count(*)`, `count(col)`,
 * `sum(col)`, `avg(col)`, `min(col)`, `max(col)`, each optionally followed
 * by `AS alias` (or just `alias`). Function names and `AS` are
 * case-insensitive; names are `[A-Za-z0-9_]+` or backquoted
 * (`` `a b` ``, ``` `` ``` for a backquote). `count` and `count()` are
 * `.count()` (named `count`); `count(*)` and `count(1)` are Spark SQL's
 * `count(1)`.
 *
 * @example `parseAggregates('count, avg(temperature), max(temperature) AS hottest')`
 * @param option - the option or flag the text came from, named in errors
 * @throws TidemarkError `ERR_UNKNOWN_FUNCTION` naming an unknown function and
 *   listing the known ones; `ERR_AGGREGATE_PARSE` naming the position and
 *   what was expected there; `ERR_UNSUPPORTED_OPERATION` for `DISTINCT`.
 */
export function parseAggregates(text: string, option?: string): AggregateSpec[] {
  const lexer = new Lexer(text);
  const where = option === undefined ? {} : { option };
  try {
    const out: AggregateSpec[] = [];
    for (;;) {
      out.push(parseOne(lexer, where));
      if (lexer.atEnd()) return out;
      lexer.expect(',', "expected ',' or the end of the list");
    }
  } catch (e) {
    if (!(e instanceof AggregateSyntaxError)) throw e;
    throw new TidemarkError('ERR_AGGREGATE_PARSE', `Cannot parse aggregates "${text}": ${e.what} at position ${e.position}`, where);
  }
}

function parseOne(lexer: Lexer, where: { option?: string }): AggregateSpec {
  const word = lexer.word();
  if (word === '') throw new AggregateSyntaxError('expected an aggregate function', lexer.pos);
  const fnName = word.toLowerCase();
  const fn = FUNCTION_NAMES[fnName];
  if (fn === undefined) {
    throw new TidemarkError(
      'ERR_UNKNOWN_FUNCTION',
      `[UNRESOLVED_ROUTINE] Cannot resolve function \`${word}\`: the aggregate functions are ${FUNCTIONS_TEXT}.`,
      where,
    );
  }
  let spec: { fn: AggregateFunction; column: string | null; star?: boolean };
  if (lexer.peek() !== '(') {
    if (fn !== 'count') throw new AggregateSyntaxError(`expected '(' after ${fnName}`, lexer.pos);
    spec = { fn: 'count', column: null };
  } else {
    lexer.pos++;
    if (lexer.peek() === ')') {
      if (fn !== 'count') throw new AggregateSyntaxError('expected a column name', lexer.pos);
      spec = { fn: 'count', column: null };
    } else if (lexer.peek() === '*' || (fn === 'count' && /^1\s*\)/.test(lexer.text.slice(lexer.pos)))) {
      if (fn !== 'count') throw new AggregateSyntaxError(`only count takes ${lexer.peek()}; expected a column name`, lexer.pos);
      lexer.pos++;
      spec = { fn: 'count', column: null, star: true };
    } else {
      const columnAt = lexer.pos;
      const column = lexer.name();
      if (column === null) throw new AggregateSyntaxError('expected a column name', lexer.pos);
      if (column.toUpperCase() === 'DISTINCT' && lexer.peek() !== ')' && lexer.text.charAt(columnAt) !== '`') {
        throw new TidemarkError('ERR_UNSUPPORTED_OPERATION', 'Distinct aggregations are not supported on streaming DataFrames/Datasets. Consider using approx_count_distinct() instead.', where);
      }
      if (/^[0-9]+$/.test(column) && lexer.text.charAt(columnAt) !== '`') throw new AggregateSyntaxError('expected a column name, not a number', columnAt);
      spec = { fn: fn === 'count' ? 'count_col' : fn, column };
    }
    lexer.expect(')', "expected ')'");
  }
  let alias: string | null = null;
  if (!lexer.atEnd() && lexer.peek() !== ',') {
    const save = lexer.pos;
    const w = lexer.word();
    if (w.toUpperCase() !== 'AS') lexer.pos = save;
    alias = lexer.name();
    if (alias === null) throw new AggregateSyntaxError('expected an alias', lexer.pos);
  }
  return spec.star === true ? { fn: spec.fn, column: spec.column, alias, star: true } : { fn: spec.fn, column: spec.column, alias };
}

// ---------------------------------------------------------------------------------------------
// Resolution.

/** Spark's default result name: `count`, `count(1)`, `sum(value)`. Column names print bare, as `toPrettySQL` does. */
export function defaultAggregateName(spec: AggregateSpec): string {
  switch (spec.fn) {
    case 'count':
      return spec.star === true ? 'count(1)' : 'count';
    case 'count_col':
      return `count(${spec.column})`;
    default:
      return `${spec.fn}(${spec.column})`;
  }
}

/**
 * Resolves aggregates against the input schema: the input column (an exact
 * name, else the one column matching case-insensitively, as Spark's default
 * `spark.sql.caseSensitive=false` resolves it), Spark's result type and
 * result name.
 *
 * @throws TidemarkError `ERR_UNKNOWN_COLUMN` naming the column and listing
 *   the schema's; `ERR_DATATYPE_MISMATCH` with Spark's message for a type
 *   the function does not take; `ERR_UNSUPPORTED_OPERATION` for a type
 *   Spark takes and tidemark does not (a string in `sum`/`avg`, which Spark
 *   casts to double; binary, arrays and structs in `min`/`max`).
 */
export function resolveAggregates(specs: readonly AggregateSpec[], input: Schema, options: ResolveOptions = {}): ResolvedAggregate[] {
  return specs.map((spec) => resolveOne(spec, input, options.option));
}

function resolveOne(spec: AggregateSpec, input: Schema, option: string | undefined): ResolvedAggregate {
  const name = spec.alias ?? null;
  if (spec.fn === 'count') {
    return { fn: 'count', column: null, inputIndex: -1, inputType: null, resultType: { type: 'long' }, name: name ?? defaultAggregateName(spec) };
  }
  if (spec.column === null) throw new TidemarkError('ERR_INVALID_OPTION', `${spec.fn} needs a column`, option === undefined ? {} : { option });
  const index = resolveColumn(input, spec.column, option);
  const f = input.fields[index]!;
  const resolvedSpec: AggregateSpec = { ...spec, column: f.name };
  const sql = `${spec.fn === 'count_col' ? 'count' : spec.fn}(${f.name})`;
  const resultType = resultTypeOf(spec.fn, f, sql, option);
  return { fn: spec.fn, column: f.name, inputIndex: index, inputType: f.dataType, resultType, name: name ?? defaultAggregateName(resolvedSpec) };
}

function resolveColumn(input: Schema, column: string, option: string | undefined): number {
  const exact = fieldIndex(input, column);
  if (exact >= 0) return exact;
  const lower = column.toLowerCase();
  const matches: number[] = [];
  input.fields.forEach((f, i) => {
    if (f.name.toLowerCase() === lower) matches.push(i);
  });
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const candidates = matches.map((i) => '`' + input.fields[i]!.name + '`').join(', ');
    throw new TidemarkError('ERR_UNKNOWN_COLUMN', `[AMBIGUOUS_REFERENCE] Reference \`${column}\` is ambiguous, could be: [${candidates}].`, option === undefined ? {} : { option });
  }
  requireField(input, column, option); // throws, listing the columns
  return -1;
}

/** True for the integral types whose sum is a `bigint`. */
export function isIntegralType(t: DataType): boolean {
  return t.type === 'byte' || t.type === 'short' || t.type === 'int' || t.type === 'long';
}

function resultTypeOf(fn: AggregateFunction, f: Field, sql: string, option: string | undefined): DataType {
  const t = f.dataType;
  const where = option === undefined ? {} : { option };
  switch (fn) {
    case 'count_col':
      return { type: 'long' };
    case 'sum':
    case 'avg': {
      if (isIntegralType(t)) return fn === 'sum' ? { type: 'long' } : { type: 'double' };
      if (t.type === 'float' || t.type === 'double') return { type: 'double' };
      if (t.type === 'decimal') {
        const d = fn === 'sum' ? boundedDecimal(t.precision + 10, t.scale) : boundedDecimal(t.precision + 4, t.scale + 4);
        return { type: 'decimal', precision: d.precision, scale: d.scale };
      }
      if (t.type === 'string') {
        throw new TidemarkError(
          'ERR_UNSUPPORTED_OPERATION',
          `${sql}: \`${f.name}\` is a STRING column; Spark would cast it to DOUBLE implicitly, tidemark does not. Declare \`${f.name}\` as a number in the schema.`,
          where,
        );
      }
      throw new TidemarkError(
        'ERR_DATATYPE_MISMATCH',
        `[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve "${sql}" due to data type mismatch: The first parameter requires the "NUMERIC" or "ANSI INTERVAL" type, however "${f.name}" has the type ${sqlType(t)}.`,
        where,
      );
    }
    case 'min':
    case 'max':
      switch (t.type) {
        case 'byte':
        case 'short':
        case 'int':
        case 'long':
        case 'float':
        case 'double':
        case 'decimal':
        case 'string':
        case 'boolean':
        case 'date':
        case 'timestamp':
        case 'timestamp_ntz':
          return t;
        case 'map':
          throw new TidemarkError(
            'ERR_DATATYPE_MISMATCH',
            `[DATATYPE_MISMATCH.INVALID_ORDERING_TYPE] Cannot resolve "${sql}" due to data type mismatch: The \`${fn}\` does not support ordering on type ${sqlType(t)}.`,
            where,
          );
        default:
          throw new TidemarkError('ERR_UNSUPPORTED_OPERATION', `${sql}: tidemark's ${fn} does not take ${sqlType(t)} values (Spark orders them; tidemark orders numbers, decimals, strings, booleans, dates and timestamps).`, where);
      }
    default:
      throw new TidemarkError('ERR_PROTOCOL', `no input type rule for ${fn}`);
  }
}

/** Spark's `toSQLType`: `"TIMESTAMP"`, `"MAP<STRING, INT>"`, `"STRUCT<a: INT>"`. */
function sqlType(t: DataType): string {
  return '"' + sqlTypeName(t) + '"';
}

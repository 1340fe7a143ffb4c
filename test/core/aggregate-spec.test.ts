/**
 * Aggregate expressions: Spark's syntax as the CLI's `--agg` takes it, and
 * their resolution against an input schema (result types and names of
 * `spark-semantics.md` § k, and the errors that name what is wrong).
 */
import t from 'tap';
import { parseAggregates, resolveAggregates } from '../../lib/core/aggregates.js';
import { field, schema, Types, type DataType } from '../../lib/core/schema.js';

const decimal = (precision: number, scale: number): DataType => ({ type: 'decimal', precision, scale });
const iot = schema([field('time', Types.timestamp), field('device', Types.string), field('temperature', Types.double)]);

t.test('a list of aggregates with aliases, function names in any case', async (t) => {
  t.same(parseAggregates('COUNT, Avg(temperature), MAX(temperature) as hottest, min(temperature) coldest'), [
    { fn: 'count', column: null, alias: null },
    { fn: 'avg', column: 'temperature', alias: null },
    { fn: 'max', column: 'temperature', alias: 'hottest' },
    { fn: 'min', column: 'temperature', alias: 'coldest' },
  ]);
});

t.test('count, count() and count(*)/count(1) count rows; count(col) counts non-null values', async (t) => {
  t.same(parseAggregates('count, count(), count(*), count( 1 ), count(device)'), [
    { fn: 'count', column: null, alias: null },
    { fn: 'count', column: null, alias: null },
    { fn: 'count', column: null, alias: null, star: true },
    { fn: 'count', column: null, alias: null, star: true },
    { fn: 'count_col', column: 'device', alias: null },
  ]);
});

t.test('backquoted names take any text, `` for a backquote, as columns and aliases', async (t) => {
  t.same(parseAggregates('sum(`a b`), max(`x``y`) AS `the, max`'), [
    { fn: 'sum', column: 'a b', alias: null },
    { fn: 'max', column: 'x`y', alias: 'the, max' },
  ]);
});

t.test('an unknown function is named, with the list of functions', async (t) => {
  t.throws(() => parseAggregates('count, median(temperature)', '--agg'), {
    code: 'ERR_UNKNOWN_FUNCTION',
    option: '--agg',
    message: '[UNRESOLVED_ROUTINE] Cannot resolve function `median`: the aggregate functions are count, count(*), count(col), sum(col), avg(col), min(col), max(col).',
  });
  t.throws(() => parseAggregates('temperature'), { code: 'ERR_UNKNOWN_FUNCTION', message: /Cannot resolve function `temperature`/ });
});

t.test('syntax errors name the position and what was expected there', async (t) => {
  const cases: Array<[string, string]> = [
    ['sum()', 'expected a column name at position 4'],
    ['sum(x', "expected ')' at position 5"],
    ['sum', "expected '(' after sum at position 3"],
    ['sum(x) as', 'expected an alias at position 9'],
    ['count,', 'expected an aggregate function at position 6'],
    ['sum(*)', 'only count takes *; expected a column name at position 4'],
    ['sum(1)', 'expected a column name, not a number at position 4'],
    ['max(`t)', 'unterminated backquoted name at position 4'],
    ['count max(t)', "expected ',' or the end of the list at position 9"],
    ['', 'expected an aggregate function at position 0'],
  ];
  for (const [text, what] of cases) {
    t.throws(() => parseAggregates(text, '--agg'), { code: 'ERR_AGGREGATE_PARSE', option: '--agg', message: `Cannot parse aggregates "${text}": ${what}` }, text);
  }
});

t.test('DISTINCT is refused with Spark’s streaming message', async (t) => {
  t.throws(() => parseAggregates('count(DISTINCT device)'), {
    code: 'ERR_UNSUPPORTED_OPERATION',
    message: 'Distinct aggregations are not supported on streaming DataFrames/Datasets. Consider using approx_count_distinct() instead.',
  });
});

t.test('result names are Spark’s defaults unless aliased: count, count(1), count(col), sum(col)…', async (t) => {
  const resolved = resolveAggregates(parseAggregates('count, count(*), count(device), sum(temperature), avg(temperature), min(temperature), max(temperature) AS hottest'), iot);
  t.same(
    resolved.map((a) => a.name),
    ['count', 'count(1)', 'count(device)', 'sum(temperature)', 'avg(temperature)', 'min(temperature)', 'hottest'],
  );
  t.same(
    resolved.map((a) => a.inputIndex),
    [-1, -1, 1, 2, 2, 2, 2],
  );
});

t.test('a default name prints the column bare, as Spark’s pretty SQL does', async (t) => {
  const s = schema([field('a b', Types.int)]);
  t.equal(resolveAggregates(parseAggregates('sum(`a b`)'), s)[0]!.name, 'sum(a b)');
});

t.test('sum of byte, short, int and bigint is a bigint; of float and double a double; of decimal(p,s) decimal(min(38,p+10),s)', async (t) => {
  const s = schema([
    field('b', Types.byte),
    field('sh', Types.short),
    field('i', Types.int),
    field('l', Types.long),
    field('f', Types.float),
    field('d', Types.double),
    field('m', decimal(10, 2)),
    field('w', decimal(30, 5)),
  ]);
  const types = resolveAggregates(parseAggregates('sum(b), sum(sh), sum(i), sum(l), sum(f), sum(d), sum(m), sum(w)'), s).map((a) => a.resultType);
  t.same(types, [Types.long, Types.long, Types.long, Types.long, Types.double, Types.double, decimal(20, 2), decimal(38, 5)]);
});

t.test('avg of any number is a double; of decimal(p,s) decimal(p+4,s+4), capped at 38', async (t) => {
  const s = schema([field('i', Types.int), field('l', Types.long), field('f', Types.float), field('m', decimal(10, 2)), field('w', decimal(36, 35))]);
  const types = resolveAggregates(parseAggregates('avg(i), avg(l), avg(f), avg(m), avg(w)'), s).map((a) => a.resultType);
  t.same(types, [Types.double, Types.double, Types.double, decimal(14, 6), decimal(38, 38)]);
});

t.test('min and max keep the input type; counts are bigints', async (t) => {
  const s = schema([
    field('i', Types.int),
    field('d', Types.double),
    field('m', decimal(5, 1)),
    field('s', Types.string),
    field('b', Types.boolean),
    field('day', Types.date),
    field('ts', Types.timestamp),
    field('ntz', Types.timestampNtz),
  ]);
  const resolved = resolveAggregates(parseAggregates('min(i), max(d), min(m), max(s), min(b), max(day), min(ts), max(ntz), count(s), count'), s);
  t.same(
    resolved.map((a) => a.resultType),
    [Types.int, Types.double, decimal(5, 1), Types.string, Types.boolean, Types.date, Types.timestamp, Types.timestampNtz, Types.long, Types.long],
  );
});

t.test('an unknown column is named, with the list of columns', async (t) => {
  t.throws(() => resolveAggregates(parseAggregates('avg(temp)'), iot, { option: '--agg' }), {
    code: 'ERR_UNKNOWN_COLUMN',
    option: '--agg',
    message: '[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `temp` cannot be resolved. Did you mean one of the following? [`time`, `device`, `temperature`].',
  });
});

t.test('columns resolve case-insensitively, as Spark’s default does, under the schema’s spelling; two candidates are ambiguous', async (t) => {
  const [avg] = resolveAggregates(parseAggregates('avg(Temperature)'), iot);
  t.equal(avg!.column, 'temperature');
  t.equal(avg!.name, 'avg(temperature)');
  const twice = schema([field('t', Types.double), field('T', Types.double)]);
  t.equal(resolveAggregates(parseAggregates('max(T)'), twice)[0]!.inputIndex, 1, 'an exact match wins');
  t.throws(() => resolveAggregates(parseAggregates('max(aa)'), schema([field('aA', Types.int), field('AA', Types.int)])), {
    code: 'ERR_UNKNOWN_COLUMN',
    message: '[AMBIGUOUS_REFERENCE] Reference `aa` is ambiguous, could be: [`aA`, `AA`].',
  });
});

t.test('sum and avg of a type that is not a number fail with Spark’s data type mismatch', async (t) => {
  t.throws(() => resolveAggregates(parseAggregates('sum(time)'), iot, { option: '--agg' }), {
    code: 'ERR_DATATYPE_MISMATCH',
    option: '--agg',
    message:
      '[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve "sum(time)" due to data type mismatch: The first parameter requires the "NUMERIC" or "ANSI INTERVAL" type, however "time" has the type "TIMESTAMP".',
  });
  t.throws(() => resolveAggregates(parseAggregates('avg(flag)'), schema([field('flag', Types.boolean)])), {
    code: 'ERR_DATATYPE_MISMATCH',
    message: /Cannot resolve "avg\(flag\)" due to data type mismatch: .* however "flag" has the type "BOOLEAN"\./,
  });
});

t.test('min and max of a map fail with Spark’s ordering mismatch', async (t) => {
  const s = schema([field('m', { type: 'map', keyType: Types.string, valueType: Types.int, valueContainsNull: true })]);
  t.throws(() => resolveAggregates(parseAggregates('max(m)'), s), {
    code: 'ERR_DATATYPE_MISMATCH',
    message: '[DATATYPE_MISMATCH.INVALID_ORDERING_TYPE] Cannot resolve "max(m)" due to data type mismatch: The `max` does not support ordering on type "MAP<STRING, INT>".',
  });
});

t.test('what Spark takes and tidemark does not is refused by name: a string in sum (Spark casts it), binary in min', async (t) => {
  t.throws(() => resolveAggregates(parseAggregates('sum(device)'), iot), {
    code: 'ERR_UNSUPPORTED_OPERATION',
    message: 'sum(device): `device` is a STRING column; Spark would cast it to DOUBLE implicitly, tidemark does not. Declare `device` as a number in the schema.',
  });
  t.throws(() => resolveAggregates(parseAggregates('min(raw)'), schema([field('raw', Types.binary)])), { code: 'ERR_UNSUPPORTED_OPERATION', message: /min\(raw\): tidemark's min does not take "BINARY" values/ });
});

t.test('count(col) takes a column of any type', async (t) => {
  const s = schema([field('w', { type: 'struct', fields: [field('start', Types.timestamp)] }), field('raw', Types.binary)]);
  t.same(
    resolveAggregates(parseAggregates('count(w), count(raw)'), s).map((a) => [a.name, a.resultType]),
    [
      ['count(w)', Types.long],
      ['count(raw)', Types.long],
    ],
  );
});

import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseDDL, schemaToDDL } from '../../lib/core/ddl.js';
import { inferJsonLinesSchema, inferJsonSchema, jsonRecordsToRows, showString } from '../../lib/core/show.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const parseLines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
const infer = (...records: unknown[]): string => schemaToDDL(inferJsonSchema(records));

t.test('the notebook output reads back with sorted fields and prints the notebook table', async (t) => {
  const records = parseLines(fixture('notebook-output.jsonl'));
  const schema = inferJsonSchema(records);
  t.equal(schemaToDDL(schema), 'action STRING, count BIGINT, window STRUCT<end: STRING, start: STRING>');
  const rows = jsonRecordsToRows(schema, records, { timeZone: 'UTC' });
  t.strictSame(rows[0], ['Scroll', 1215, { end: '2016-07-26T08:30:00.000+05:30', start: '2016-07-26T07:30:00.000+05:30' }]);
  t.equal(showString(schema, rows, { truncate: false, timeZone: 'UTC' }), fixture('notebook-show.txt'));
});

t.test('truncate=true cuts long cells to 17 characters plus ... and right-aligns', async (t) => {
  const lines = [
    '{"action":"Close","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"count":1}',
    '{"action":"Open","window":{"start":"2016-07-26T08:30:00.000+05:30","end":"2016-07-26T09:30:00.000+05:30"},"count":1}',
  ];
  const records = lines.map((l) => JSON.parse(l) as unknown);
  const schema = inferJsonSchema(records);
  t.equal(
    showString(schema, jsonRecordsToRows(schema, records), { timeZone: 'UTC' }),
    [
      '+------+-----+--------------------+',
      '|action|count|              window|',
      '+------+-----+--------------------+',
      '| Close|    1|{2016-07-26T09:30...|',
      '|  Open|    1|{2016-07-26T09:30...|',
      '+------+-----+--------------------+',
      '',
    ].join('\n'),
  );
});

t.test('more rows than numRows print the only-showing footer', async (t) => {
  const schema = parseDDL('n BIGINT');
  const rows = [[1], [2], [3]];
  t.equal(showString(schema, rows, { numRows: 2 }), '+---+\n|  n|\n+---+\n|  1|\n|  2|\n+---+\nonly showing top 2 rows\n');
  t.equal(showString(schema, rows, { numRows: 1 }), '+---+\n|  n|\n+---+\n|  1|\n+---+\nonly showing top 1 row\n');
  t.equal(showString(schema, rows, { numRows: 3 }), '+---+\n|  n|\n+---+\n|  1|\n|  2|\n|  3|\n+---+\n');
  t.equal(showString(schema, [], {}), '+---+\n|  n|\n+---+\n+---+\n');
});

t.test('cells render as ToPrettyString does: NULL, structs, arrays, maps, booleans', async (t) => {
  const schema = parseDDL('s STRUCT<a: BIGINT, b: STRING>, a ARRAY<BIGINT>, m MAP<STRING, BIGINT>, b BOOLEAN, x STRING');
  const rows = [
    [{ a: 1, b: null }, [1, null, 3], new Map([['k', 1]]), true, null],
    [null, [], { k: null, j: 2 }, false, 'y'],
  ];
  t.equal(
    showString(schema, rows, { truncate: false }),
    [
      '+---------+------------+-------------------+-----+----+',
      '|s        |a           |m                  |b    |x   |',
      '+---------+------------+-------------------+-----+----+',
      '|{1, NULL}|[1, NULL, 3]|{k -> 1}           |true |NULL|',
      '|NULL     |[]          |{k -> NULL, j -> 2}|false|y   |',
      '+---------+------------+-------------------+-----+----+',
      '',
    ].join('\n'),
  );
});

t.test('doubles print as Java Double.toString, floats as Float.toString', async (t) => {
  const schema = parseDDL('d DOUBLE, f FLOAT');
  const rows = [
    [1, 0.1],
    [1.5e10, Math.fround(0.1)],
    [NaN, Infinity],
    [1e-4, 1e7],
    [0.001, -0],
    [-1234567.125, Math.fround(3.4e38)],
    [1e21, Math.fround(1.1)],
  ];
  t.equal(
    showString(schema, rows, { truncate: false }),
    [
      '+------------+--------+',
      '|d           |f       |',
      '+------------+--------+',
      '|1.0         |0.1     |',
      '|1.5E10      |0.1     |',
      '|NaN         |Infinity|',
      '|1.0E-4      |1.0E7   |',
      '|0.001       |-0.0    |',
      '|-1234567.125|3.4E38  |',
      '|1.0E21      |1.1     |',
      '+------------+--------+',
      '',
    ].join('\n'),
  );
});

t.test('timestamps print in the session time zone with trailing zero fraction digits dropped', async (t) => {
  const schema = parseDDL('time TIMESTAMP, d DATE, ntz TIMESTAMP_NTZ');
  const ms = Date.parse('2016-03-27T19:39:29.999Z') + 0.999;
  t.equal(
    showString(schema, [[ms, '2016-03-27', 0]], { truncate: false, timeZone: 'Asia/Kolkata' }),
    [
      '+--------------------------+----------+-------------------+',
      '|time                      |d         |ntz                |',
      '+--------------------------+----------+-------------------+',
      '|2016-03-28 01:09:29.999999|2016-03-27|1970-01-01 00:00:00|',
      '+--------------------------+----------+-------------------+',
      '',
    ].join('\n'),
  );
});

t.test('East-Asian wide characters count as two columns', async (t) => {
  const schema = parseDDL('name STRING');
  t.equal(showString(schema, [['日本'], ['abc']], { truncate: false }), '+----+\n|name|\n+----+\n|日本|\n|abc |\n+----+\n');
  t.equal(showString(schema, [['日本語']]), '+------+\n|  name|\n+------+\n|日本語|\n+------+\n');
});

t.test('a numeric truncate below 4 cuts without dots; headers are never cut', async (t) => {
  const schema = parseDDL('action STRING');
  t.equal(showString(schema, [['Scroll']], { truncate: 3 }), '+------+\n|action|\n+------+\n|   Scr|\n+------+\n');
  t.equal(showString(schema, [['Scroll']], { truncate: 5 }), '+------+\n|action|\n+------+\n| Sc...|\n+------+\n');
});

t.test('control characters in cells are escaped so rows stay on one line', async (t) => {
  const schema = parseDDL('s STRING');
  t.equal(showString(schema, [['a\nb\tc']], { truncate: false }), '+-------+\n|s      |\n+-------+\n|a\\nb\\tc|\n+-------+\n');
});

t.test('inference sorts struct fields by name at every level', async (t) => {
  t.equal(infer({ b: 1, a: { z: true, y: 'x' }, C: 1.5 }), 'C DOUBLE, a STRUCT<y: STRING, z: BOOLEAN>, b BIGINT');
});

t.test('inference widens conflicting types', async (t) => {
  t.equal(infer({ a: 1 }, { a: 1.5 }), 'a DOUBLE');
  t.equal(infer({ a: 1 }, { a: 'x' }), 'a STRING');
  t.equal(infer({ a: 1 }, { a: true }), 'a STRING');
  t.equal(infer({ a: { b: 1 } }, { a: 'x' }), 'a STRING');
  t.equal(infer({ a: [1] }, { a: [2.5, null] }), 'a ARRAY<DOUBLE>');
  t.equal(infer({ a: { b: 1 } }, { a: { c: 'x' } }), 'a STRUCT<b: BIGINT, c: STRING>');
  t.equal(infer({ a: 1e20 }), 'a DECIMAL(21,0)');
  t.equal(infer({ a: 1e20 }, { a: 1 }), 'a DECIMAL(21,0)');
  t.equal(infer({ a: 1e20 }, { a: 0.5 }), 'a DOUBLE');
});

t.test('inference keeps timestamp-looking strings as strings', async (t) => {
  t.equal(infer({ time: '2016-07-26T08:30:00.000+05:30' }), 'time STRING');
});

t.test('inference makes null-only and empty-string-only fields strings and drops empty structs', async (t) => {
  t.equal(infer({ a: null, b: '', c: [], d: {}, e: [{}], '': 1 }, { a: null }), 'a STRING, b STRING, c ARRAY<STRING>');
  t.equal(infer({ b: '' }, { b: 1 }), 'b BIGINT');
});

t.test('inference adds _corrupt_record for non-object records and unwraps top-level arrays', async (t) => {
  t.equal(infer({ a: 1 }, 42), '_corrupt_record STRING, a BIGINT');
  t.equal(infer([{ a: 1 }, { b: 'x' }], null), 'a BIGINT, b STRING');
  t.equal(infer({}), '');
});

const inferLines = (...lines: string[]): string => schemaToDDL(inferJsonLinesSchema(lines));

t.test('inference from the text: a number with a fraction or an exponent is a DOUBLE even when whole, as Jackson\'s tokens tell Spark', async (t) => {
  t.equal(inferLines('{"max":20.0}'), 'max DOUBLE');
  t.equal(inferLines('{"max":1.0E10}', '{"max":20}'), 'max DOUBLE');
  t.equal(inferLines('{"n":20}'), 'n BIGINT');
  t.equal(inferLines('{"n":-9223372036854775808}'), 'n BIGINT');
  t.equal(inferLines('{"n":9223372036854775808}'), 'n DECIMAL(19,0)', 'beyond BIGINT by its exact digits');
  t.equal(inferLines('{"n":123456789012345678901234567890123456789}'), 'n DOUBLE', 'more than 38 digits');
  t.equal(inferLines('{"a":[1,2.0]}'), 'a ARRAY<DOUBLE>');
});

t.test('inference from the text gives what inference from parsed records gives for everything else', async (t) => {
  const records: unknown[] = [
    { b: 1, a: { z: true, y: 'x', 'q"\\u00e9': null }, C: 1.5 },
    { a: { b: 1 } },
    { a: '' },
    [{ d: [] }, { e: {} }],
    { '': 1, s: 'a\\"b' },
    42,
  ];
  t.equal(schemaToDDL(inferJsonLinesSchema(records.map((r) => JSON.stringify(r)))), schemaToDDL(inferJsonSchema(records)));
  t.equal(inferLines('{"a":1,"a":"x"}'), 'a STRING', 'a repeated key: the last value');
});

t.test('inference from the text makes a line that is not JSON a _corrupt_record', async (t) => {
  t.equal(inferLines('{"a":1}', 'not json'), '_corrupt_record STRING, a BIGINT');
});

t.test('inference without records is refused as Spark refuses it', async (t) => {
  t.throws(() => inferJsonSchema([]), {
    name: 'TidemarkError',
    code: 'ERR_UNABLE_TO_INFER_SCHEMA',
    message: '[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for JSON. It must be specified manually.',
  });
});

t.test('reading records back puts malformed ones in _corrupt_record and splits top-level arrays', async (t) => {
  const records = [{ a: 1 }, 42, [{ a: 2 }, { a: 3 }], { a: 'x', _corrupt_record: 'ignored' }];
  const schema = inferJsonSchema(records);
  t.equal(schemaToDDL(schema), '_corrupt_record STRING, a STRING');
  t.strictSame(jsonRecordsToRows(schema, records), [
    [null, '1'],
    ['42', null],
    [null, '2'],
    [null, '3'],
    [null, 'x'],
  ]);
  const typed = parseDDL('_corrupt_record STRING, a BIGINT');
  t.strictSame(jsonRecordsToRows(typed, [{ a: 'x' }, { a: 1 }]), [
    ['{"a":"x"}', null],
    [null, 1],
  ]);
});

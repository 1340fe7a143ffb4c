import t from 'tap';
import { dataTypeToDDL, parseDDL, schemaToDDL } from '../../lib/core/ddl.js';
import type { DataType } from '../../lib/core/schema.js';

const typeOf = (ddl: string): DataType => parseDDL(`c ${ddl}`).fields[0]!.dataType;

t.test('the notebook schema parses to nullable timestamp and string columns', async (t) => {
  t.strictSame(parseDDL('time timestamp, action string'), {
    fields: [
      { name: 'time', dataType: { type: 'timestamp' }, nullable: true },
      { name: 'action', dataType: { type: 'string' }, nullable: true },
    ],
  });
});

t.test('every primitive type name and alias maps to its type, case-insensitively', async (t) => {
  const cases: [string, DataType][] = [
    ['BOOLEAN', { type: 'boolean' }],
    ['tinyint', { type: 'byte' }],
    ['Byte', { type: 'byte' }],
    ['SMALLINT', { type: 'short' }],
    ['short', { type: 'short' }],
    ['INT', { type: 'int' }],
    ['integer', { type: 'int' }],
    ['BIGINT', { type: 'long' }],
    ['long', { type: 'long' }],
    ['FLOAT', { type: 'float' }],
    ['real', { type: 'float' }],
    ['DOUBLE', { type: 'double' }],
    ['date', { type: 'date' }],
    ['TIMESTAMP', { type: 'timestamp' }],
    ['timestamp_ltz', { type: 'timestamp' }],
    ['TIMESTAMP_NTZ', { type: 'timestamp_ntz' }],
    ['STRING', { type: 'string' }],
    ['string collate utf8_binary', { type: 'string' }],
    ['CHAR(5)', { type: 'string' }],
    ['character(5)', { type: 'string' }],
    ['VARCHAR(10)', { type: 'string' }],
    ['BINARY', { type: 'binary' }],
    ['DECIMAL', { type: 'decimal', precision: 10, scale: 0 }],
    ['dec(5)', { type: 'decimal', precision: 5, scale: 0 }],
    ['NUMERIC(38, 6)', { type: 'decimal', precision: 38, scale: 6 }],
  ];
  for (const [ddl, expected] of cases) t.strictSame(typeOf(ddl), expected, ddl);
});

t.test('arrays, maps and structs nest, with or without the struct colon', async (t) => {
  t.strictSame(typeOf('ARRAY<ARRAY<INT>>'), {
    type: 'array',
    elementType: { type: 'array', elementType: { type: 'int' }, containsNull: true },
    containsNull: true,
  });
  t.strictSame(typeOf('map<string, bigint>'), { type: 'map', keyType: { type: 'string' }, valueType: { type: 'long' }, valueContainsNull: true });
  t.strictSame(typeOf('STRUCT<start: TIMESTAMP, `end` TIMESTAMP NOT NULL COMMENT \'exclusive\'>'), {
    type: 'struct',
    fields: [
      { name: 'start', dataType: { type: 'timestamp' }, nullable: true },
      { name: 'end', dataType: { type: 'timestamp' }, nullable: false, metadata: { comment: 'exclusive' } },
    ],
  });
  t.strictSame(typeOf('STRUCT<>'), { type: 'struct', fields: [] });
  t.strictSame(typeOf('struct< >'), { type: 'struct', fields: [] });
});

t.test('NOT NULL and COMMENT set nullability and metadata', async (t) => {
  t.strictSame(parseDDL("id BIGINT not null comment 'the id', note STRING COMMENT \"it\\'s\\n\"").fields, [
    { name: 'id', dataType: { type: 'long' }, nullable: false, metadata: { comment: 'the id' } },
    { name: 'note', dataType: { type: 'string' }, nullable: true, metadata: { comment: "it's\n" } },
  ]);
});

t.test('back-quoted names may hold any text, with doubled backquotes', async (t) => {
  t.strictSame(
    parseDDL('`a b` INT, `x``y` STRING, `événement` DATE').fields.map((f) => f.name),
    ['a b', 'x`y', 'événement'],
  );
});

t.test('whitespace, newlines and SQL comments are ignored', async (t) => {
  t.strictSame(parseDDL('\n  time  TIMESTAMP , -- event time\n action /* what */ STRING\n').fields.map((f) => f.name), ['time', 'action']);
});

t.test('a whole STRUCT type is accepted as a schema', async (t) => {
  t.strictSame(parseDDL('struct<time: timestamp, action: string>'), parseDDL('time timestamp, action string'));
});

t.test('a column without a type is refused with the position where the type was expected', async (t) => {
  t.throws(() => parseDDL('time timestamp, action'), {
    name: 'TidemarkError',
    code: 'ERR_SCHEMA_PARSE',
    option: 'schema',
    message: 'Cannot parse schema "time timestamp, action": expected a data type at position 22',
  });
});

t.test('syntax errors name what was expected and where', async (t) => {
  const cases: [string, string][] = [
    ['', 'expected a column name at position 0'],
    ['time timestamp action string', "expected ',' or end of input at position 15"],
    ['time timestamp,', 'expected a column name at position 15'],
    ['a ARRAY', "expected '<' after ARRAY at position 7"],
    ['a ARRAY<INT', "expected '>' at position 11"],
    ['a MAP<STRING INT>', "expected ',' at position 13"],
    ['a STRUCT<b INT c INT>', "expected ',' or '>' at position 15"],
    ['a INT NOT NUL', 'expected NULL after NOT at position 10'],
    ['a INT COMMENT x', 'expected a string literal at position 14'],
    ["a INT COMMENT 'x", 'unterminated string literal at position 14'],
    ['`a INT', 'unterminated back-quoted name at position 0'],
    ['a DECIMAL(10 2)', "expected ',' or ')' at position 13"],
    ['a DECIMAL(x)', 'expected an integer at position 10'],
    ['a: INT', "expected a data type (columns are written `name type`, without ':') at position 1"],
    ['a-b INT', 'invalid unquoted name a-b: back-quote it as `a-b` at position 0'],
    ['123 INT', 'expected a column name at position 0'],
    ['a INT /* x', 'unterminated comment at position 6'],
  ];
  for (const [ddl, what] of cases) {
    t.throws(() => parseDDL(ddl), { code: 'ERR_SCHEMA_PARSE', message: `Cannot parse schema "${ddl}": ${what}` }, JSON.stringify(ddl));
  }
});

t.test('unknown or unsupported types are refused by name', async (t) => {
  const cases: [string, string][] = [
    ['a FOO', 'unsupported data type "FOO" at position 2'],
    ['a INT(10)', 'unsupported data type "INT(10)" at position 2'],
    ['a CHAR', 'expected a length after CHAR, e.g. CHAR(10) at position 2'],
    ['a DECIMAL(39)', 'decimal precision 39 exceeds max precision 38 at position 2'],
    ['a DECIMAL(2, 3)', 'decimal scale (3) cannot be greater than precision (2) at position 2'],
    ['a DECIMAL(5,2,1)', 'unsupported data type "DECIMAL(5,2,1)" at position 2'],
    ['a VOID', 'data type "VOID" is not supported by tidemark at position 2'],
    ['a INTERVAL', 'data type "INTERVAL" is not supported by tidemark at position 2'],
    ['a STRING COLLATE UNICODE_CI', 'collation UNICODE_CI is not supported by tidemark (only UTF8_BINARY) at position 17'],
  ];
  for (const [ddl, what] of cases) {
    t.throws(() => parseDDL(ddl), { code: 'ERR_SCHEMA_PARSE', message: `Cannot parse schema "${ddl}": ${what}` }, ddl);
  }
});

t.test('schemaToDDL prints the canonical DDL', async (t) => {
  t.equal(schemaToDDL(parseDDL('time timestamp, action string')), 'time TIMESTAMP, action STRING');
  t.equal(
    schemaToDDL(parseDDL("`a b` tinyint not null, c dec, d array<map<string, real>>, e struct<`x``y`: long comment 'it\\'s'>")),
    "`a b` TINYINT NOT NULL, c DECIMAL(10,0), d ARRAY<MAP<STRING, FLOAT>>, e STRUCT<`x``y`: BIGINT COMMENT 'it\\'s'>",
  );
});

t.test('dataTypeToDDL uses Spark SQL type names', async (t) => {
  t.equal(dataTypeToDDL({ type: 'short' }), 'SMALLINT');
  t.equal(dataTypeToDDL({ type: 'timestamp_ntz' }), 'TIMESTAMP_NTZ');
  t.equal(dataTypeToDDL({ type: 'decimal', precision: 38, scale: 6 }), 'DECIMAL(38,6)');
  t.equal(dataTypeToDDL({ type: 'struct', fields: [] }), 'STRUCT<>');
});

t.test('schemaToDDL output parses back to the same schema', async (t) => {
  const s = parseDDL("`1` INT, `a-b` STRING NOT NULL COMMENT 'quote \\' and backslash \\\\', w STRUCT<start: TIMESTAMP, `end`: TIMESTAMP>, m MAP<STRING, ARRAY<DECIMAL(5,2)>>");
  t.strictSame(parseDDL(schemaToDDL(s)), s);
  t.equal(s.fields[1]!.metadata?.comment, "quote ' and backslash \\");
});

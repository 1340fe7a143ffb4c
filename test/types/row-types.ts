/**
 * Type test (tsd-style): compiled by `npm run typecheck` (part of `npm test`),
 * never run. Each `Equal` assertion and each `@ts-expect-error` is a
 * specification of the row types a DDL string literal gives: a wrong type
 * fails the assertion, and an accepted mistake makes `@ts-expect-error`
 * itself an error ("Unused '@ts-expect-error' directive").
 */
import type { InputRowOf, RowOf } from '../../lib/core/row-types.js';
import type { Row } from '../../lib/core/batch.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { filterRows, mapRows } from '../../lib/stages/row-stages.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

// The example, exactly.
type Reading = RowOf<'time timestamp, action string, temperature double'>;
expectType<Equal<Reading, { time: number | null; action: string | null; temperature: number | null }>>();

// @ts-expect-error a misspelt column is not a property of the row
const misspelt: Reading = { time: 0, actoin: 'Open', temperature: 1 };
// @ts-expect-error a timestamp is epoch ms, not a string
const stringTime: Reading = { time: '2016-07-26T03:00:00Z', action: 'Open', temperature: 1 };
void misspelt;
void stringTime;

// Every Spark type the DDL reader knows, keywords in any case, NOT NULL, comments, back-quoted names.
type All = RowOf<`
  TS TIMESTAMP NOT NULL, ntz timestamp_ntz, d DATE, b boolean, i INT, s smallint, y tinyint,
  l BIGINT, f float, x double, dec DECIMAL(10, 2), v varchar(20), c char(3), bin binary,
  \`event name\` string COMMENT 'free text, with a comma',
  w struct<start: timestamp, end: timestamp NOT NULL>, tags array<string>, m map<string, array<int>>`>;
expectType<Equal<All['TS'], number>>();
expectType<Equal<All['ntz'], number | null>>();
expectType<Equal<All['d'], string | null>>();
expectType<Equal<All['b'], boolean | null>>();
expectType<Equal<All['i'] | All['s'] | All['y'] | All['f'] | All['x'], number | null>>();
expectType<Equal<All['l'], number | bigint | null>>();
expectType<Equal<All['dec'] | All['v'] | All['c'] | All['event name'], string | null>>();
expectType<Equal<All['bin'], Uint8Array | null>>();
expectType<Equal<All['w'], { start: number | null; end: number } | null>>();
expectType<Equal<All['tags'], (string | null)[] | null>>();
expectType<Equal<All['m'], Map<string, (number | null)[] | null> | null>>();

// A whole STRUCT<…> as the schema, nested types.
expectType<Equal<RowOf<'STRUCT<a: int, b: struct<c: array<struct<d: date>>>>'>, { a: number | null; b: { c: ({ d: string | null } | null)[] | null } | null }>>();

// What cannot be read stays untyped rather than wrong.
expectType<Equal<RowOf<string>, Row>>();
expectType<Equal<RowOf<'a int -- a comment, with a comma\n, b string'>, Row>>();
expectType<Equal<RowOf<'a timestmp, b string'>, { a: unknown; b: string | null }>>();

// Input rows: nullable columns optional, timestamps as ms, Date or µs bigint.
type NewReading = InputRowOf<'time timestamp NOT NULL, action string'>;
expectType<Equal<NewReading, { time: number | Date | bigint; action?: string | null | undefined }>>();

// MemorySource: addData takes input rows of its DDL literal.
const source = new MemorySource({ schema: 'time timestamp, action string, temperature double' });
source.addData([{ time: Date.parse('2016-07-26T03:00:00Z'), action: 'Open', temperature: 21.5 }, { time: new Date(), action: null }]);
// @ts-expect-error a misspelt column
source.addData([{ time: 0, actoin: 'Open' }]);
// @ts-expect-error a string timestamp
source.addData([{ time: '2016-07-26T03:00:00Z', action: 'Open' }]);
expectType<Equal<RowOf<typeof source>, Reading>>();
expectType<Equal<RowOf<ReturnType<typeof source.reopen>>, Reading>>();
// A schema value gives untyped rows.
const untyped = new MemorySource({ schema: { fields: [] } });
expectType<Equal<RowOf<typeof untyped>, Row>>();
untyped.addData([{ anything: 1 }]);

// ParseSchema: what a file source makes of the DDL (every column nullable, NOT NULL or not).
const parse = new ParseSchema({ schema: 'time timestamp NOT NULL, action string', workers: 0 });
expectType<Equal<RowOf<typeof parse>, { time: number | null; action: string | null }>>();

// filterRows / mapRows: the callback's argument from the DDL literal.
filterRows((row) => row.action !== 'Scroll', { schema: 'action string' });
filterRows<'action string, time timestamp'>((row) => (row.time ?? 0) > 0);
// @ts-expect-error a column the schema does not have
filterRows((row) => row.actoin !== 'Scroll', { schema: 'action string' });
const hours = mapRows((row) => ({ time: row.time, hour: new Date(row.time ?? 0).getUTCHours() }), {
  input: 'time timestamp',
  schema: 'time timestamp, hour int',
});
expectType<Equal<RowOf<typeof hours>, { time: number | null; hour: number | null }>>();
mapRows(
  // @ts-expect-error the result must be a row of `schema`: hour is an int
  (row) => ({ time: row.time, hour: 'three' }),
  { input: 'time timestamp', schema: 'time timestamp, hour int' },
);
// Untyped use is unchanged.
filterRows((row) => row['action'] !== 'Scroll');
mapRows((row) => ({ ...row, n: 1 }));

// MemorySink: rows() typed by its DDL literal.
const sink = new MemorySink({ schema: 'action string, window struct<start: timestamp, end: timestamp>, count bigint' });
for (const row of sink.rows()) {
  expectType<Equal<typeof row, { action: string | null; window: { start: number | null; end: number | null } | null; count: number | bigint | null }>>();
}
expectType<Equal<ReturnType<MemorySink['rows']>, Row[]>>();

import t from 'tap';
import { BatchBuilder, ColumnBuilder } from '../../lib/core/batch.js';
import { appendJsonRecord, appendJsonValue, convertJsonRecord, convertJsonValue } from '../../lib/core/json-convert.js';
import { parseDDL } from '../../lib/core/ddl.js';
import type { DataType } from '../../lib/core/schema.js';

const UTC = { timeZone: 'UTC' };
const ms = (iso: string): number => Date.parse(iso);

/** Row-view conversion under the type written in DDL; undefined when Spark fails the conversion. */
function conv(ddlType: string, value: unknown, timeZone = 'UTC'): unknown {
  const t = parseDDL(`c ${ddlType}`).fields[0]!.dataType;
  const r = convertJsonValue(value, t, { timeZone });
  return r.ok ? r.value : undefined;
}

t.test('a JSON integer is a timestamp in epoch seconds', async (t) => {
  t.equal(conv('TIMESTAMP', 1469504400), ms('2016-07-26T03:40:00Z'));
  t.equal(conv('TIMESTAMP', -1), -1000);
});

t.test('a timestamp string is read in the reader time zone unless it has its own', async (t) => {
  t.equal(conv('TIMESTAMP', '2016-07-26 08:30:00', 'Asia/Kolkata'), ms('2016-07-26T03:00:00Z'));
  t.equal(conv('TIMESTAMP', '2016-07-26T08:30:00.000+05:30', 'America/New_York'), ms('2016-07-26T03:00:00Z'));
  t.equal(conv('TIMESTAMP', '2016-07-26T08:30:00.000001Z'), ms('2016-07-26T08:30:00Z') + 0.001);
});

t.test('a timestamp string with GMT in it is retried without it', async (t) => {
  t.equal(conv('TIMESTAMP', '2016-07-26GMT 08:30:00'), ms('2016-07-26T08:30:00Z'));
});

t.test('floats, booleans, objects, empty and invalid strings fail a timestamp; null is null', async (t) => {
  t.equal(conv('TIMESTAMP', 1469504400.5), undefined);
  t.equal(conv('TIMESTAMP', true), undefined);
  t.equal(conv('TIMESTAMP', { a: 1 }), undefined);
  t.equal(conv('TIMESTAMP', ''), undefined);
  t.equal(conv('TIMESTAMP', 'yesterday'), undefined);
  t.equal(conv('TIMESTAMP', null), null);
});

t.test('a string column takes any token and keeps non-strings as JSON text', async (t) => {
  t.equal(conv('STRING', 'Open'), 'Open');
  t.equal(conv('STRING', ''), '');
  t.equal(conv('STRING', 123), '123');
  t.equal(conv('STRING', true), 'true');
  t.equal(conv('STRING', { a: 1, b: [1, 'x'] }), '{"a":1,"b":[1,"x"]}');
});

t.test('integral columns need JSON integers within their range', async (t) => {
  t.equal(conv('BIGINT', 1215), 1215);
  t.equal(conv('BIGINT', 1.5), undefined);
  t.equal(conv('BIGINT', '1215'), undefined);
  t.equal(conv('BIGINT', 2 ** 63), undefined);
  t.equal(conv('BIGINT', -(2 ** 63)), -(2 ** 63));
  t.equal(conv('INT', 2147483647), 2147483647);
  t.equal(conv('INT', 2147483648), undefined);
  t.equal(conv('SMALLINT', -32768), -32768);
  t.equal(conv('SMALLINT', 32768), undefined);
  t.equal(conv('TINYINT', -128), -128);
  t.equal(conv('TINYINT', -129), undefined);
});

t.test('a byte column wraps 128..255 as Jackson getByteValue does', async (t) => {
  t.equal(conv('TINYINT', 200), -56);
  t.equal(conv('TINYINT', 255), -1);
  t.equal(conv('TINYINT', 256), undefined);
});

t.test('double and float columns take numbers and the NaN/Infinity spellings only', async (t) => {
  t.equal(conv('DOUBLE', 1.5), 1.5);
  t.equal(conv('DOUBLE', 3), 3);
  t.ok(Number.isNaN(conv('DOUBLE', 'NaN')));
  for (const s of ['Infinity', '+Infinity', '+INF']) t.equal(conv('DOUBLE', s), Infinity, s);
  for (const s of ['-Infinity', '-INF']) t.equal(conv('DOUBLE', s), -Infinity, s);
  t.equal(conv('DOUBLE', 'INF'), undefined);
  t.equal(conv('DOUBLE', '1.5'), undefined);
  t.equal(conv('DOUBLE', ''), undefined);
  t.equal(conv('DOUBLE', false), undefined);
  t.equal(conv('FLOAT', 0.1), Math.fround(0.1));
  t.equal(conv('FLOAT', '-INF'), -Infinity);
});

t.test('a boolean column takes only true and false', async (t) => {
  t.equal(conv('BOOLEAN', true), true);
  t.equal(conv('BOOLEAN', false), false);
  t.equal(conv('BOOLEAN', 'true'), undefined);
  t.equal(conv('BOOLEAN', 1), undefined);
});

t.test('a date column reads date strings, timestamp strings and legacy day numbers', async (t) => {
  t.equal(conv('DATE', '2016-07-26'), '2016-07-26');
  t.equal(conv('DATE', '2016-7-6'), '2016-07-06');
  t.equal(conv('DATE', '2016-07-26T08:30:00+05:30'), '2016-07-26');
  t.equal(conv('DATE', '17008'), '+17008-01-01');
  t.equal(conv('DATE', '123'), '1970-05-04');
  t.equal(conv('DATE', 17008), undefined);
  t.equal(conv('DATE', '26/07/2016'), undefined);
});

t.test('TIMESTAMP_NTZ reads zone-less strings only', async (t) => {
  t.equal(conv('TIMESTAMP_NTZ', '2016-07-26 08:30:00', 'Asia/Kolkata'), ms('2016-07-26T08:30:00Z'));
  t.equal(conv('TIMESTAMP_NTZ', '2016-07-26 08:30:00Z'), undefined);
  t.equal(conv('TIMESTAMP_NTZ', 1469504400), undefined);
});

t.test('a decimal is rounded half-up to its scale and refused beyond its precision', async (t) => {
  t.equal(conv('DECIMAL(5,2)', 1.5), '1.50');
  t.equal(conv('DECIMAL(5,2)', 1.005), '1.01');
  t.equal(conv('DECIMAL(5,2)', -1.005), '-1.01');
  t.equal(conv('DECIMAL(6,2)', '1,234.5'), '1234.50');
  t.equal(conv('DECIMAL(5,2)', '1,234.5'), undefined);
  t.equal(conv('DECIMAL(5,2)', '12345'), undefined);
  t.equal(conv('DECIMAL(5,2)', '1e2'), '100.00');
  t.equal(conv('DECIMAL(5,2)', '-0.001'), '0.00');
  t.equal(conv('DECIMAL(10,0)', 12.5), '13');
  t.equal(conv('DECIMAL(2,2)', 0.5), '0.50');
  t.equal(conv('DECIMAL(5,2)', 'abc'), undefined);
  t.equal(conv('DECIMAL(5,2)', ''), undefined);
  t.equal(conv('DECIMAL(5,2)', true), undefined);
});

t.test('a binary column decodes padded base64', async (t) => {
  t.strictSame(conv('BINARY', 'AQID'), new Uint8Array([1, 2, 3]));
  t.strictSame(conv('BINARY', ''), new Uint8Array(0));
  t.equal(conv('BINARY', 'AQI'), undefined);
});

t.test('arrays and maps convert element by element and fail as a whole', async (t) => {
  t.strictSame(conv('ARRAY<BIGINT>', [1, null, 3]), [1, null, 3]);
  t.equal(conv('ARRAY<BIGINT>', [1, 'x']), undefined);
  t.equal(conv('ARRAY<BIGINT>', { a: 1 }), undefined);
  t.strictSame(
    conv('MAP<STRING, TIMESTAMP>', { a: 0, b: null }),
    new Map<string, unknown>([
      ['a', 0],
      ['b', null],
    ]),
  );
  t.equal(conv('MAP<STRING, BIGINT>', { a: 1.5 }), undefined);
});

t.test('a struct converts by exact field name, ignoring extra keys and nulling missing ones', async (t) => {
  t.strictSame(conv('STRUCT<start: TIMESTAMP, `end`: TIMESTAMP, n: BIGINT>', { start: 0, END: 1, extra: true }), { start: 0, end: null, n: null });
});

t.test('a struct with a failing field is a partial result: kept with that field null, but not ok', async (t) => {
  const type = parseDDL('c STRUCT<a: BIGINT, b: BIGINT>').fields[0]!.dataType;
  t.strictSame(convertJsonValue({ a: 1, b: 'x' }, type, UTC), { ok: false });
  const schema = parseDDL('c STRUCT<a: BIGINT, b: BIGINT>, d BIGINT');
  t.strictSame(convertJsonRecord(schema, { c: { a: 1, b: 'x' }, d: 2 }, UTC), { values: [{ a: 1, b: null }, 2], failedField: 0 });
});

t.test('inherited object members are not JSON fields', async (t) => {
  const schema = parseDDL('constructor STRING, `__proto__` STRING, toString BIGINT');
  t.strictSame(convertJsonRecord(schema, JSON.parse('{}'), UTC), { values: [null, null, null], failedField: null });
  t.strictSame(convertJsonRecord(schema, JSON.parse('{"__proto__":"p","constructor":"c"}'), UTC), { values: ['c', 'p', null], failedField: null });
});

const eventSchema = parseDDL('time TIMESTAMP, action STRING, n BIGINT, w STRUCT<start: TIMESTAMP, d: DATE, tags: ARRAY<STRING>>');

t.test('appendJsonRecord fills typed columns from a record', async (t) => {
  const b = new BatchBuilder(eventSchema, 4);
  const r = appendJsonRecord(b.columns, eventSchema, { action: 'Open', time: '2016-07-26T08:30:00.000001+05:30', n: 3, w: { start: 0, d: '2016-07-26', tags: ['x'] }, other: 1 }, UTC);
  b.endRow();
  t.equal(r, null);
  const batch = b.finish();
  t.equal((batch.columns[0] as { values: Float64Array }).values[0], ms('2016-07-26T03:00:00Z') * 1000 + 1);
  t.strictSame(batch.rows(), [{ time: ms('2016-07-26T03:00:00Z') + 0.001, action: 'Open', n: 3, w: { start: 0, d: '2016-07-26', tags: ['x'] } }]);
});

t.test('appendJsonRecord appends a failing field as null and reports its index', async (t) => {
  const b = new BatchBuilder(eventSchema, 4);
  t.strictSame(appendJsonRecord(b.columns, eventSchema, { time: 1469504400.5, action: 'Open', n: 'x' }, UTC), { failedField: 0 });
  b.endRow();
  t.strictSame(b.finish().rows(), [{ time: null, action: 'Open', n: null, w: null }]);
});

t.test('appendJsonRecord keeps the converted part of a failing struct', async (t) => {
  const b = new BatchBuilder(eventSchema, 4);
  t.strictSame(appendJsonRecord(b.columns, eventSchema, { w: { start: 1, d: 'never', tags: ['a'] } }, UTC), { failedField: 3 });
  b.endRow();
  t.strictSame(b.finish().rows(), [{ time: null, action: null, n: null, w: { start: 1000, d: null, tags: ['a'] } }]);
});

t.test('appendJsonRecord turns a non-object record into a row of nulls with failedField -1', async (t) => {
  const b = new BatchBuilder(eventSchema, 4);
  for (const record of [42, 'text', null, [{ action: 'Open' }]]) {
    t.strictSame(appendJsonRecord(b.columns, eventSchema, record, UTC), { failedField: -1 });
    b.endRow();
  }
  t.strictSame(
    b.finish().rows().map((r) => r.action),
    [null, null, null, null],
  );
});

t.test('appendJsonRecord with dropMalformed appends nothing for a malformed record', async (t) => {
  const b = new BatchBuilder(eventSchema, 4);
  t.strictSame(appendJsonRecord(b.columns, eventSchema, { action: 'Open', n: 1.5 }, { timeZone: 'UTC', dropMalformed: true }), { failedField: 2 });
  t.strictSame(appendJsonRecord(b.columns, eventSchema, 7, { timeZone: 'UTC', dropMalformed: true }), { failedField: -1 });
  t.equal(appendJsonRecord(b.columns, eventSchema, { action: 'Close', n: 2 }, { timeZone: 'UTC', dropMalformed: true }), null);
  b.endRow();
  t.strictSame(b.finish().rows(), [{ time: null, action: 'Close', n: 2, w: null }]);
});

t.test('appendJsonValue appends on success and leaves the column untouched on failure', async (t) => {
  const type: DataType = { type: 'long' };
  const c = new ColumnBuilder({ name: 'n', dataType: type, nullable: true }, 4);
  t.equal(appendJsonValue(c, 5, UTC), true);
  t.equal(appendJsonValue(c, 'five', UTC), false);
  t.equal(appendJsonValue(c, null, UTC), true);
  t.equal(c.length, 2);
  const s = new ColumnBuilder({ name: 's', dataType: parseDDL('s STRUCT<a: BIGINT>').fields[0]!.dataType, nullable: true }, 4);
  t.equal(appendJsonValue(s, { a: 'x' }, UTC), false);
  t.equal(s.length, 0);
});

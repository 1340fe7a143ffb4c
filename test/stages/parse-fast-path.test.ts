/**
 * The chunk scanner (fast path) and the line path (split2 + JSON.parse) must
 * give the same rows, the same malformed records (and count of them) and
 * the same FAILFAST errors on any input, with or without
 * `maxEventTimeAhead`: a differential fuzz test.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../../lib/sources/file-source.js';
import { ParseSchema, type ParseMode } from '../../lib/stages/parse-schema.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { compileScanner } from '../../lib/core/json-scanner.js';
import { BatchBuilder } from '../../lib/core/batch.js';
import { parseDDL } from '../../lib/core/ddl.js';
import { batchTimeAt } from '../helpers.js';

const SCHEMA = 'time timestamp, action string, n long, ok boolean, _corrupt_record string';
// Every batch's processing time (2016-07-26T00:00:00Z), so that `maxEventTimeAhead` decides the
// same in both runs: the fuzzed times fall on both sides of it.
const BATCH_MS = Date.UTC(2016, 6, 26);

const ws = fc.constantFrom('', ' ', '  ', '\t', ' \r ');
const scalar = fc.oneof(
  fc.integer({ min: -1e12, max: 1e12 }).map(String),
  fc.constantFrom('0', '-0', '01', '1.5', '1e3', '-', '1469501675', '1469577600', '1469577601', '1000000000000000', '"2016-07-27 00:00:01"', '99999999999999999', 'true', 'false', 'null', 'tru', 'nul', '"x"', '""', '"a\\"b"', '"\\u00e9"', '"é"', '"\\q"', '"2016-07-26 03:00:00"', '{}', '[]', '[1,{"a":[null]}]', '{"k":"v"}', '{"k":}', '[1,]', '"Open"', '"Close"'),
);
const key = fc.constantFrom('time', 'action', 'n', 'ok', 'other', 'nested', 'ti\\u006de', 'é', '_corrupt_record');
const member = fc.tuple(ws, key, ws, ws, scalar, ws).map(([a, k, b, c, v, d]) => `${a}"${k}"${b}:${c}${v}${d}`);
const record = fc.array(member, { maxLength: 5 }).map((members) => `{${members.join(',')}}`);
// Mostly well-formed records, so the fast path is really taken and compared.
const text = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('Open', 'é', '閉', '🎉', 'a\\"b', 'tab\\t', '\\u00e9'));
const typedMember = fc.oneof(
  fc.tuple(ws, fc.integer({ min: -1e10, max: 1e10 })).map(([w, v]) => `"time":${w}${v}`),
  fc.tuple(ws, text).map(([w, v]) => `"action":${w}${JSON.stringify(v)}`),
  fc.integer({ min: -1e15, max: 1e15 }).map((v) => `"n":${v}`),
  fc.boolean().map((v) => `"ok":${v}`),
  fc.constantFrom('"other":[1,"x",{"y":null}]', '"nested":{"a":{"b":[]}}', '"time":null', '"action":null'),
);
const typedRecord = fc.tuple(fc.array(typedMember, { maxLength: 5 }), ws).map(([members, w]) => `{${w}${members.join(`,${w}`)}${w}}`);
const line = fc.oneof(
  { weight: 6, arbitrary: typedRecord },
  { weight: 4, arbitrary: record },
  { weight: 1, arbitrary: fc.tuple(ws, record, ws).map(([a, r, b]) => `${a}${r}${b}`) },
  { weight: 1, arbitrary: fc.array(record, { maxLength: 2 }).map((rs) => `[${rs.join(',')}]`) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '{', '}', 'garbage', '{"time":1,"action":"Open"', '{"time":1,"action":"Open"} x', '"just a string"', '42') },
);
const fileArb = fc.record({
  lines: fc.array(line, { minLength: 1, maxLength: 12 }),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  finalNewline: fc.boolean(),
  readBufferBytes: fc.integer({ min: 1, max: 64 }),
});

async function run(dir: string, framing: 'lines' | 'chunks', mode: ParseMode, readBufferBytes: number, maxEventTimeAhead: string | null = null): Promise<unknown> {
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: dir, framing, readBufferBytes }),
    stages: [batchTimeAt(BATCH_MS), new ParseSchema({ schema: SCHEMA, mode, timeZone: 'UTC', ...(maxEventTimeAhead === null ? {} : { maxEventTimeAhead }) })],
    sink,
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  try {
    await query.awaitTermination();
    return { rows: sink.rows(), malformed: query.recentProgress.map((p) => p.sources[0]!.metrics['numMalformedRecords']) };
  } catch (err) {
    const cause = (err as { cause: { code: string; message: string; line?: number } }).cause;
    return { code: cause.code, message: cause.message, line: cause.line };
  }
}

t.test('fast path and general path agree on random lines in every parse mode', async (t) => {
  await fc.assert(
    fc.asyncProperty(fileArb, fc.constantFrom<ParseMode>('PERMISSIVE', 'DROPMALFORMED', 'FAILFAST'), fc.constantFrom(null, null, '1 day', '0 seconds'), async (file, mode, maxEventTimeAhead) => {
      const dir = await mkdtemp(join(tmpdir(), 'tidemark-diff-'));
      try {
        const eol = file.crlf ? '\r\n' : '\n';
        const text = (file.bom ? '\ufeff' : '') + file.lines.join(eol) + (file.finalNewline ? eol : '');
        await writeFile(join(dir, 'a.json'), text);
        const general = await run(dir, 'lines', mode, file.readBufferBytes, maxEventTimeAhead);
        const fast = await run(dir, 'chunks', mode, file.readBufferBytes, maxEventTimeAhead);
        if (JSON.stringify(general) !== JSON.stringify(fast)) {
          throw new Error(`differ on ${JSON.stringify(text)}:\n general ${JSON.stringify(general)}\n fast    ${JSON.stringify(fast)}`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 300 },
  );
});

t.test('the scanner reads the notebook shape in any key order and whitespace, skipping unknown keys', async (t) => {
  const schema = parseDDL('time timestamp, action string');
  const scanner = compileScanner(schema)!;
  const builder = new BatchBuilder(schema, 4, [undefined, scanner.dictionaryOf(1)!]);
  const text = '{"action":"Open","extra":{"a":[1,2,{"b":null}]},"time":1469501675}\n { "time" : -5 , "action" : null }\n';
  const bytes = new TextEncoder().encode(text);
  const first = scanner.scanLine(bytes, 0, bytes.length, builder.columns);
  t.equal(first, text.indexOf('\n'));
  builder.endRow();
  const second = scanner.scanLine(bytes, first + 1, bytes.length, builder.columns);
  t.equal(second, text.length - 1);
  builder.endRow();
  t.strictSame(builder.finish().rows(), [
    { time: 1469501675000, action: 'Open' },
    { time: -5000, action: null },
  ]);
});

t.test('the scanner declines what the general path must decide, appending nothing', async (t) => {
  const schema = parseDDL('time timestamp, action string');
  const scanner = compileScanner(schema)!;
  const builder = new BatchBuilder(schema, 4, [undefined, scanner.dictionaryOf(1)!]);
  for (const text of ['{"time":1.5,"action":"a"}', '{"time":"2016-07-26","action":"a"}', '{"time":1,"action":"\\u0041"}', '{"time":1,"action":"é"}', '{"time":1,"time":2}', '{"time":1,"x":tru}', '[{"time":1}]', '{"time":1} x', '{"time":01}']) {
    const bytes = new TextEncoder().encode(text);
    t.equal(scanner.scanLine(bytes, 0, bytes.length, builder.columns), -1, text);
  }
  t.equal(builder.finish().length, 0);
  const doubles = compileScanner(parseDDL('t timestamp, d double'))!;
  const doubleBuilder = new BatchBuilder(parseDDL('t timestamp, d double'), 4, []);
  for (const text of ['{"t":1,"d":1234567890123456}', '{"t":1,"d":1e23}', '{"t":1,"d":1e-400}', '{"t":1,"d":.5}', '{"t":1,"d":1.}', '{"t":1,"d":01.5}', '{"t":1,"d":"1.5"}']) {
    const bytes = new TextEncoder().encode(text);
    t.equal(doubles.scanLine(bytes, 0, bytes.length, doubleBuilder.columns), -1, `${text}: a double beyond one exact IEEE operation, or no JSON number, is left to JSON.parse`);
  }
  t.equal(doubleBuilder.finish().length, 0);
});

// The scanner's own number reading (Clinger's fast path) must give JSON.parse's double bit for bit,
// in the general scan and in the template compiled from a learned layout, and Math.fround of it for a float.
t.test('the scanner reads doubles and floats exactly as JSON.parse, or declines', async (t) => {
  const schema = parseDDL('t timestamp, d double, f float');
  const number = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.integer({ min: -4_000_000, max: 4_000_000 }).map((n) => (n / 1000).toString()),
    fc.tuple(fc.integer({ min: -999_999_999, max: 999_999_999 }), fc.integer({ min: -30, max: 30 })).map(([m, e]) => `${m}e${e}`),
    fc.tuple(fc.nat(99999), fc.nat(99999), fc.constantFrom('e', 'E', 'e+', 'e-', 'E-')).map(([a, b, e]) => `${a}.${b}${e}${b % 25}`),
    fc.constantFrom('0', '-0', '-0.0', '0.1', '0.30000000000000004', '1E+2', '1e-7', '1e22', '1e-22', '9007199254740993', '123456789012345', '0.000000000000001', '4.35', '1.7976931348623157e308', '5e-324'),
  );
  const scanner = compileScanner(schema)!;
  let read = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(number, number), { minLength: 1, maxLength: 6 }), (pairs) => {
      const builder = new BatchBuilder(schema, pairs.length, []);
      const expected: unknown[] = [];
      for (const [d, f] of pairs) {
        const bytes = new TextEncoder().encode(`{"t":1,"d":${d},"f":${f}}`);
        if (scanner.scanLine(bytes, 0, bytes.length, builder.columns) < 0) continue;
        builder.endRow();
        expected.push([Object.is(JSON.parse(d), -0) ? '-0' : JSON.parse(d), Object.is(JSON.parse(f), -0) ? '-0' : Math.fround(JSON.parse(f) as number)]);
      }
      const batch = builder.finish();
      read += batch.length;
      const actual = batch.rows().map((r) => [r['d'], r['f']].map((v) => (Object.is(v, -0) ? '-0' : v)));
      if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`differ on ${JSON.stringify(pairs)}: expected ${JSON.stringify(expected)}, actual ${JSON.stringify(actual)}`);
    }),
    { numRuns: 3000 },
  );
  t.ok(read > 1000, 'the scanner read most numbers itself');
});

t.test('defect 12: the scanner declines an integer time above the limit it is given, learned layout or not', async (t) => {
  const schema = parseDDL('time timestamp, action string');
  const scanner = compileScanner(schema)!;
  const builder = new BatchBuilder(schema, 8, [undefined, scanner.dictionaryOf(1)!]);
  const scan = (text: string): number => {
    const bytes = new TextEncoder().encode(text);
    const end = scanner.scanLine(bytes, 0, bytes.length, builder.columns);
    if (end >= 0) builder.endRow();
    return end;
  };
  t.equal(scan('{"time":11,"action":"a"}'), 24, 'no limit yet; the layout is learned');
  scanner.setMaxTimestampUs(10_000_000);
  t.equal(scan('{"time":10,"action":"a"}'), 24, 'at the limit: read');
  t.equal(scan('{"time":11,"action":"a"}'), -1, 'past it, in the learned layout');
  t.equal(scan('{ "time" : 11 , "action" : "a" }'), -1, 'past it, in the general scan');
  scanner.setMaxTimestampUs(Infinity);
  t.equal(scan('{"time":11,"action":"a"}'), 24, 'the limit lifted');
  t.strictSame(builder.finish().rows().map((r) => r['time']), [11_000, 10_000, 11_000]);
});

t.test('a learned layout never accepts a line the general scanner would decline (regression: "{}" then "}")', async (t) => {
  const schema = parseDDL('time timestamp, action string');
  const scanner = compileScanner(schema)!;
  const builder = new BatchBuilder(schema, 4, [undefined, scanner.dictionaryOf(1)!]);
  const scan = (text: string): number => {
    const bytes = new TextEncoder().encode(text);
    return scanner.scanLine(bytes, 0, bytes.length, builder.columns);
  };
  t.equal(scan('{}'), 2);
  t.equal(scan('}'), -1);
  t.equal(scan('{"time":1,"action":"a"}'), 23);
  t.equal(scan('{"time":1,"action":"a"'), -1, 'the same layout, cut short');
  t.equal(scan('{"time":1,"action":"a"}}'), -1, 'the same layout, one brace too many');
});

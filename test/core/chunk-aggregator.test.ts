/**
 * The fused chunk reader (a kernel for the learned layout, the reader for
 * every other line) must give what reading the chunk into rows and
 * aggregating them gives: the same groups in the same order, the same
 * partial buffers, event-time figures, line/record/malformed counts and
 * FAILFAST errors, chunk after chunk, on any input.
 */
import t from 'tap';
import fc from 'fast-check';
import { ChunkAggregator } from '../../lib/core/chunk-aggregator.js';
import { JsonReader, type ParseMode } from '../../lib/core/json-reader.js';
import { partialAggregate, type PartialAggregatePlan } from '../../lib/core/partial-aggregate.js';
import { parseDDL } from '../../lib/core/ddl.js';
import { parseAggregates, resolveAggregates } from '../../lib/core/aggregate-spec.js';
import { fieldIndex } from '../../lib/core/schema.js';
import type { Column } from '../../lib/core/batch.js';

const SCHEMA = parseDDL('time timestamp, action string, temperature double, n long, ok boolean, _corrupt_record string');
const BATCH_MS = 1_000_000;

// Numbers as texts, with the same precision rules as JSON.parse: a value printed by Object.is.
function exact(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : v;
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint8Array) return Array.from(v, exact);
  if (Array.isArray(v)) return v.map(exact);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, exact(x)]));
  return v;
}

function columnValues(c: Column): unknown {
  if (c.kind === 'f64') return Array.from(c.values, (v, i) => (c.nulls !== null && c.nulls[i] === 1 ? null : exact(v)));
  if (c.kind === 'any') return c.values.map(exact);
  return exact(c);
}

interface Plan {
  readonly key: string | null;
  readonly slideUs: number;
  readonly aggregates: string | null;
  /** Window start offset (Spark's startTime), 0 by default. */
  readonly startTimeUs?: number;
}

function planOf(p: Plan): PartialAggregatePlan {
  return {
    timeIndex: fieldIndex(SCHEMA, 'time'),
    keyIndex: p.key === null ? -1 : fieldIndex(SCHEMA, p.key),
    slideUs: p.slideUs,
    startTimeUs: p.startTimeUs ?? 0,
    store: p.aggregates === null ? { kind: 'count', name: 'count' } : { kind: 'aggregates', aggregates: resolveAggregates(parseAggregates(p.aggregates), SCHEMA) },
  };
}

function readerOptions(mode: ParseMode, ahead: number | null) {
  return { schema: SCHEMA, mode, columnNameOfCorruptRecord: '_corrupt_record', timeZone: 'UTC', maxEventTimeAhead: ahead === null ? null : { us: ahead, text: `${ahead} µs` } };
}

// What the reader and partialAggregate give, chunk by chunk (the reference), or the error.
function reference(chunks: readonly Uint8Array[], mode: ParseMode, ahead: number | null, plan: PartialAggregatePlan): unknown[] {
  const reader = new JsonReader(readerOptions(mode, ahead));
  reader.setBatchTimestamp(BATCH_MS);
  const out: unknown[] = [];
  let line = 1;
  for (const [i, bytes] of chunks.entries()) {
    const builder = reader.newBuilder(16);
    try {
      const read = reader.readChunk(bytes, builder, 'f.json', line, i === 0, 200);
      line += read.lines;
      const g = partialAggregate(builder.finish(), plan);
      out.push({ ...read, groups: { ...g, partial: g.partial.map(columnValues) } });
    } catch (err) {
      out.push({ error: (err as Error).message, line: (err as { line?: number }).line });
      break;
    }
  }
  return exact(out) as unknown[];
}

function fused(chunks: readonly Uint8Array[], mode: ParseMode, ahead: number | null, plan: PartialAggregatePlan): unknown[] {
  const aggregator = new ChunkAggregator({ reader: readerOptions(mode, ahead), plan });
  const out: unknown[] = [];
  let line = 1;
  for (const [i, bytes] of chunks.entries()) {
    try {
      const read = aggregator.read(bytes, 'f.json', i === 0, 200, BATCH_MS, line);
      line += read.lines;
      out.push({ lines: read.lines, records: read.records, malformed: read.malformed, groups: { ...read.groups, partial: read.groups.partial.map(columnValues) } });
    } catch (err) {
      out.push({ error: (err as Error).message, line: (err as { line?: number }).line });
      break;
    }
  }
  return exact(out) as unknown[];
}

const ws = fc.constantFrom('', '', '', ' ', '\t', ' \r ');
// Times around the batch's processing time (1,000 s), so that maxEventTimeAhead cuts through them.
const time = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 4000 }).map(String) },
  { weight: 4, arbitrary: fc.integer({ min: 1_000_000_000, max: 1_999_999_999 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('null', '-5', '-0', '0', '01', '1.5', '1e3', '"1970-01-01 00:00:07"', '123456789012345', '1234567890123456', '"x"', 'true', '-', '12a') },
);
const action = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('"Open"', '"Close"', '"Scroll"', '"a"', '""', '"Ok"', '"a rather long action name"', '"a rather long action nbme"', '"Scrolled"', '"Scroll12"') },
  { weight: 1, arbitrary: fc.constantFrom('null', '"é"', '"a\\"b"', '"\\u0041"', '7', '"tab\\t"', '{"x":1}', '"unterminated') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)) },
);
const doubleText = fc.oneof(
  { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  { weight: 4, arbitrary: fc.integer({ min: -40000, max: 40000 }).map((n) => (n / 1000).toString()) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('null', '0', '-0', '-0.0', '0.1', '0.30000000000000004', '1E+2', '1e-7', '2.5e-3', '1e22', '1e23', '1e400', '-1e-400', '123456789012345', '1234567890123456', '9007199254740993', '.5', '1.', '01.5', '-', '1e', '1e+', '--1', '0x10', '"NaN"', '"1.5"', '1e0001', '4.35', '17976931348623157e292'),
  },
);
const member = fc.oneof(
  time.map((v) => `"time":${v}`),
  action.map((v) => `"action":${v}`),
  doubleText.map((v) => `"temperature":${v}`),
  fc.oneof(fc.integer({ min: -1e6, max: 1e6 }).map(String), fc.constantFrom('null', '9007199254740991', '1.0', '"3"')).map((v) => `"n":${v}`),
  fc.constantFrom('true', 'false', 'null', 'tru', '1').map((v) => `"ok":${v}`),
  fc.constantFrom('"other":[1,"x",{"y":null}]', '"_corrupt_record":"x"', '"time":5'),
);
// Mostly the notebook's layout, as a data file would have it; then anything.
const typical = fc.tuple(time, action, doubleText).map(([t, a, d]) => `{"time":${t},"action":${a},"temperature":${d}}`);
const record = fc.tuple(fc.array(fc.tuple(ws, member, ws), { maxLength: 5 }), ws).map(([members, w]) => `{${w}${members.map(([a, m, b]) => `${a}${m}${b}`).join(',')}}`);
const line = fc.oneof(
  { weight: 10, arbitrary: typical },
  { weight: 3, arbitrary: record },
  { weight: 1, arbitrary: fc.array(record, { maxLength: 2 }).map((rs) => `[${rs.join(',')}]`) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '{', 'garbage', '{"time":1,"action":"Open"', '{"time":1,"action":"Open"} x', '"just a string"', '42', 'x'.repeat(300)) },
);
const plans = fc.constantFrom<Plan>(
  { key: 'action', slideUs: 10_000_000, aggregates: null },
  { key: null, slideUs: 3_600_000_000, aggregates: null },
  { key: 'action', slideUs: 2_000_000, aggregates: 'count, avg(temperature), max(temperature), min(temperature)' },
  { key: '_corrupt_record', slideUs: 10_000_000, aggregates: 'sum(n), count(temperature), max(time)' },
  { key: 'action', slideUs: 600_000_000, aggregates: 'sum(temperature), min(n)' },
  // Windows offset by a start time: negative times and times just below an offset start fall in the window before.
  { key: 'action', slideUs: 10_000_000, aggregates: null, startTimeUs: 3_000_000 },
);

t.test('the fused reader gives what the rows and partialAggregate give, chunk after chunk', async (t) => {
  await fc.assert(
    fc.property(
      fc.array(line, { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.boolean(),
      fc.constantFrom<ParseMode>('PERMISSIVE', 'PERMISSIVE', 'DROPMALFORMED', 'FAILFAST'),
      fc.constantFrom(null, null, 0, 500_000_000),
      plans,
      (lines, cuts, crlf, mode, ahead, p) => {
        const text = lines.join(crlf ? '\r\n' : '\n') + '\n';
        const bytes = new TextEncoder().encode(text);
        // Chunks end at newlines, as the file source cuts them.
        const ends = [...new Set(cuts.map((c) => bytes.indexOf(0x0a, c % bytes.length) + 1))].filter((e) => e > 0).sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const e of [...ends, bytes.length]) {
          if (e > from) chunks.push(bytes.slice(from, e));
          from = Math.max(from, e);
        }
        const plan = planOf(p);
        const expected = reference(chunks, mode, ahead, plan);
        const actual = fused(chunks, mode, ahead, plan);
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          throw new Error(`differ on ${JSON.stringify(text)} (${mode}, ahead ${ahead}, ${JSON.stringify(p)}):\n expected ${JSON.stringify(expected)}\n actual   ${JSON.stringify(actual)}`);
        }
      },
    ),
    { numRuns: 1500 },
  );
});

t.test('the fused reader reads long runs of one layout with the kernel and keeps first-row order', async (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(`{"time":${1469501675 + i * 7},"action":"${['Open', 'Close', 'Scroll', 'Purchase of an item'][i % 4]}","temperature":${(i % 97) / 4}}`);
  lines.splice(1500, 0, '{"action":"Late","time":1469400000,"temperature":null}', '', '{"time":null,"action":"Open","temperature":1}');
  const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
  for (const p of [{ key: 'action', slideUs: 600_000_000, aggregates: null }, { key: 'action', slideUs: 3_600_000_000, aggregates: 'avg(temperature), max(temperature)' }]) {
    const plan = planOf(p);
    t.same(fused([bytes], 'PERMISSIVE', null, plan), reference([bytes], 'PERMISSIVE', null, plan), JSON.stringify(p));
  }
});

t.test('a line longer than the source allows fails with its line number, read by the kernel or not', async (t) => {
  const plan = planOf({ key: 'action', slideUs: 10_000_000, aggregates: null });
  const long = `{"time":1,"action":"${'x'.repeat(250)}"}`;
  const bytes = new TextEncoder().encode(['{"time":1,"action":"Open"}', '{"time":2,"action":"Open"}', long, '{"time":3,"action":"Open"}'].join('\n') + '\n');
  const [outcome] = fused([bytes], 'PERMISSIVE', null, plan) as Array<{ line?: number }>;
  t.equal(outcome?.line, 3);
  t.same(fused([bytes], 'PERMISSIVE', null, plan), reference([bytes], 'PERMISSIVE', null, plan));
});

t.test('a chunk past the reader\'s string dictionary bound keeps its keys', async (t) => {
  const plan = planOf({ key: 'action', slideUs: 10_000_000, aggregates: null });
  const aggregator = new ChunkAggregator({ reader: readerOptions('PERMISSIVE', null), plan });
  const chunk = (from: number) => new TextEncoder().encode(Array.from({ length: 40000 }, (_, i) => `{"time":${i},"action":"k${from + i}"}`).join('\n') + '\n');
  const keys = new Set<string | null>();
  for (let c = 0; c < 3; c++) for (const k of aggregator.read(chunk(c * 40000), 'f.json', c === 0, Infinity, 0, 1).groups.keys!) keys.add(k);
  t.equal(keys.size, 120000);
  t.ok(keys.has('k0') && keys.has('k119999'));
});


t.test('keys of every length from 0 to 12 bytes, sharing first and last words, keep apart last in the line or before another field', async (t) => {
  // The kernel recognises a key by its first word, its length and the four bytes before its
  // closing quote, which for a key under 4 bytes include the field's literal: keys that share
  // words and lengths, in an order no branch predicts, must each stay their own group.
  const keys = ['', 'a', 'b', 'ab', 'ba', 'abc', 'abd', 'abcd', 'abce', 'abcde', 'xbcde', 'abcdefgh', 'abcdefgi', 'abcdefghi', 'abcdXfghi', 'abcdefghijkl'];
  const plan = planOf({ key: 'action', slideUs: 3_600_000_000, aggregates: null });
  for (const layout of [(time: number, key: string) => `{"time":${time},"action":${key}}`, (time: number, key: string) => `{"time":${time},"action":${key},"temperature":1.5}`]) {
    const lines: string[] = [];
    let seed = 7;
    for (let i = 0; i < 4000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      lines.push(layout(1469501675 + i * 3 - (seed % 11), JSON.stringify(keys[(seed >>> 8) % keys.length])));
    }
    const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
    const fusedOut = fused([bytes], 'PERMISSIVE', null, plan) as Array<{ groups: { keys: string[] } }>;
    t.same(fusedOut, reference([bytes], 'PERMISSIVE', null, plan), lines[0]);
    t.equal(new Set(fusedOut[0]!.groups.keys).size, keys.length);
  }
});

t.test('a byte order mark in a file\'s first chunk or in a later one: what the rows give', async (t) => {
  const plan = planOf({ key: 'action', slideUs: 3_600_000_000, aggregates: null });
  const body = Array.from({ length: 200 }, (_, i) => `{"time":${1469501675 + i},"action":"${['Open', 'Close'][i % 2]}"}`).join('\n') + '\n';
  const plain = new TextEncoder().encode(body);
  const withBom = new TextEncoder().encode('\ufeff' + body);
  const first = fused([withBom], 'PERMISSIVE', null, plan) as Array<{ records: number; malformed: number }>;
  t.same(first, reference([withBom], 'PERMISSIVE', null, plan));
  t.strictSame([first[0]!.records, first[0]!.malformed], [200, 0]);
  t.same(fused([plain, withBom], 'PERMISSIVE', null, plan), reference([plain, withBom], 'PERMISSIVE', null, plan));
});

/**
 * Spark's own scenarios (test/fixtures/spark-cases.json, agg-cases.json,
 * session-cases.json and dedup-cases.json, copied from the conformance
 * suite): the runner's output must match every expectation.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readCases, runConformance, RUNNABLE_KINDS, type AggregationResult, type ConformanceCase, type WindowAssignmentResult } from './conformance/runner.js';

const fixture = fileURLToPath(new URL('./fixtures/spark-cases.json', import.meta.url));
const sessionFixture = fileURLToPath(new URL('./fixtures/session-cases.json', import.meta.url));
const dedupFixture = fileURLToPath(new URL('./fixtures/dedup-cases.json', import.meta.url));
const runner = fileURLToPath(new URL('../dist-conformance/runner.js', import.meta.url));

type Expected = ConformanceCase & {
  expected_after_each_batch?: unknown[][] | null;
  watermark_used_by_step?: Array<number | null> | null;
  watermark_after_step?: Array<number | null> | null;
  state_rows_after_step?: Array<number | null> | null;
  num_rows_dropped_by_watermark?: Array<number | null> | null;
  expected?: Array<{ windows?: Array<{ start_us: number; end_us: number }>; start_str?: string; end_str?: string; window_time_str?: string; count?: number }>;
  expected_group_counts?: Array<{ window_start_us: number; window_end_us: number; count: number }> | null;
};

const multiset = (rows: readonly unknown[]): string[] => rows.map((r) => JSON.stringify(r, Object.keys(r as object).sort())).sort();

// "2016-03-27 19:39:29.999999" for µs, as show() prints timestamps in UTC.
function utcText(us: number): string {
  const ms = Math.floor(us / 1000);
  const micros = us - ms * 1000;
  const base = new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  const fraction = (String(ms % 1000).padStart(3, '0') + String(micros).padStart(3, '0')).replace(/0+$/, '');
  return fraction.length > 0 ? `${base}.${fraction}` : base;
}

function checkFigures(t: Test, name: keyof AggregationResult & string, got: Array<number | null>, expected: Array<number | null> | null | undefined): void {
  if (expected === null || expected === undefined) return;
  expected.forEach((value, step) => {
    if (value !== null) t.equal(got[step], value, `${name}[${step}]`);
  });
}

async function checkScenarios(t: Test, path: string): Promise<void> {
  const cases = (await readCases(path)) as Expected[];
  const byName = new Map(cases.map((c) => [c.name, c]));
  let checked = 0;
  for await (const result of runConformance(cases)) {
    const c = byName.get(result.name)!;
    checked++;
    t.test(c.name, async (t) => {
      t.notOk('error' in result, `the case ran${'error' in result ? `: ${JSON.stringify(result.error)}` : ''}`);
      if (c.kind !== 'window_assignment') {
        const r = result as AggregationResult;
        (c.expected_after_each_batch ?? []).forEach((rows, step) => {
          t.strictSame(multiset(r.emitted[step] ?? []), multiset(rows), `emitted in step ${step}`);
        });
        checkFigures(t, 'watermark_used_by_step', r.watermark_used_by_step, c.watermark_used_by_step);
        checkFigures(t, 'watermark_after_step', r.watermark_after_step, c.watermark_after_step);
        checkFigures(t, 'state_rows_after_step', r.state_rows_after_step, c.state_rows_after_step);
        checkFigures(t, 'num_rows_dropped_by_watermark', r.num_rows_dropped_by_watermark, c.num_rows_dropped_by_watermark);
      } else {
        const r = result as WindowAssignmentResult;
        (c.expected ?? []).forEach((row, i) => {
          if (row.windows !== undefined) {
            t.strictSame(multiset(r.windows[i] ?? []), multiset(row.windows.map((w) => ({ start_us: w.start_us, end_us: w.end_us }))), `windows of row ${i}`);
          }
          if (row.window_time_str !== undefined) {
            const group = r.group_counts.find((g) => utcText(g.window_start_us) === row.start_str && utcText(g.window_end_us) === row.end_str);
            t.ok(group, `a group ${row.start_str}..${row.end_str}`);
            t.equal(group?.count, row.count);
            t.equal(utcText(group!.window_end_us - 1), row.window_time_str, 'window_time');
          }
        });
        if (c.expected_group_counts !== null && c.expected_group_counts !== undefined) {
          t.strictSame(
            multiset(r.group_counts),
            multiset(c.expected_group_counts.map((g) => ({ window_start_us: g.window_start_us, window_end_us: g.window_end_us, count: g.count }))),
            'group counts',
          );
        }
      }
    });
  }
  t.equal(checked, cases.filter((c) => RUNNABLE_KINDS.has(c.kind)).length, 'every runnable case ran');
}

t.test('every streaming_aggregation and window_assignment scenario matches Spark', async (t) => checkScenarios(t, fixture));

t.test('every session window scenario (grouping "session") matches Spark, restarts from the checkpoint included', async (t) => {
  const cases = await readCases(sessionFixture);
  t.ok(cases.some((c) => c.kind === 'streaming_aggregation' && c.grouping === 'session' && (c.restart_before_step ?? []).length > 0), 'some cases restart');
  await checkScenarios(t, sessionFixture);
});

t.test('every aggregate scenario (count, count(value), sum, avg, min, max) matches Spark', (t) => checkScenarios(t, fileURLToPath(new URL('./fixtures/agg-cases.json', import.meta.url))));

t.test('every deduplication scenario matches Spark, restarts from the checkpoint included', async (t) => {
  const cases = await readCases(dedupFixture);
  t.ok(cases.some((c) => c.kind === 'deduplication' && (c.restart_before_step ?? []).length > 0), 'some cases restart');
  await checkScenarios(t, dedupFixture);
});

for (const path of [fixture, sessionFixture, dedupFixture]) {
  t.test(`npm run conformance prints one JSON object per runnable case of ${path.split('/').at(-1)}, in file order, and nothing else`, async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [runner, path]);
    const lines = stdout.trimEnd().split('\n');
    const cases = await readCases(path);
    const runnable = cases.filter((c) => RUNNABLE_KINDS.has(c.kind)).map((c) => c.name);
    t.ok(runnable.length > 0);
    t.strictSame(lines.map((l) => (JSON.parse(l) as { name: string }).name), runnable);
    t.notOk(lines.some((l) => l.includes('"error"')), 'no case failed to run');
  });
}

t.test('a case the runner cannot run yields an error line and the run goes on', async (t) => {
  const results = [];
  for await (const r of runConformance([
    { kind: 'streaming_aggregation', name: 'bad', grouping: 'window', window: { duration: '1 month' }, watermark_delay: null, output_mode: 'update', batches: [[]] },
    { kind: 'window_assignment', name: 'good', window: { duration: '10 seconds' }, input: [{ time_us: 5_000_000 }] },
  ])) results.push(r);
  t.strictSame(results[0], { name: 'bad', error: { code: 'ERR_INVALID_INTERVAL', message: 'Intervals greater than a month is not supported (1 month).' } });
  t.equal(results[1]!.name, 'good');
});

/**
 * Every case of test/fixtures/session-cases.json and dedup-cases.json
 * (copied from the conformance suite) driven through the session and
 * deduplication cores by a stand-in for the micro-batch executor
 * (./stateful-sim.ts), restarts rebuilt once from full snapshots and once
 * from the chain of per-batch changes.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { simulate, type RestoreFrom, type SimResult, type StreamingCase } from './stateful-sim.js';

const load = (name: string): StreamingCase[] =>
  (JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as { cases: StreamingCase[] }).cases;

const multiset = (rows: readonly unknown[]): string[] => rows.map((r) => JSON.stringify(r, Object.keys(r as object).sort())).sort();

type Figure = 'watermark_used_by_step' | 'watermark_after_step' | 'state_rows_after_step' | 'num_rows_dropped_by_watermark';
const FIGURES: readonly Figure[] = ['watermark_used_by_step', 'watermark_after_step', 'state_rows_after_step', 'num_rows_dropped_by_watermark'];

function check(t: Test, c: StreamingCase, from: RestoreFrom): void {
  const got: SimResult = simulate(c, from);
  c.expected_after_each_batch.forEach((rows, step) => {
    t.strictSame(multiset(got.emitted[step] ?? []), multiset(rows), `rows emitted in step ${step}`);
  });
  for (const name of FIGURES) {
    const expected = c[name];
    if (expected === null) continue;
    expected.forEach((value, step) => {
      if (value !== null) t.equal(got[name][step], value, `${name}[${step}]`);
    });
  }
}

for (const file of ['session-cases.json', 'dedup-cases.json']) {
  t.test(file, async (t) => {
    const cases = load(file);
    t.ok(cases.length > 0, 'the fixture has cases');
    for (const c of cases) {
      t.test(`${c.name} (restarts from snapshots)`, async (t) => check(t, c, 'snapshot'));
      if (c.restart_before_step.length > 0) t.test(`${c.name} (restarts from per-batch changes)`, async (t) => check(t, c, 'changes'));
    }
  });
}

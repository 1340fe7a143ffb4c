/**
 * Issue 12's done-when, in `npm test` on 40,000 readings (the 400,000 of the
 * issue: `node dist-bench/iot-oracle.js`): `tidemark run --agg
 * "count,sum(temperature),avg(temperature),min(temperature),max(temperature)"`
 * per device and 5-minute window, watermark 10 minutes, append, drained,
 * gives for every (device, window) what DuckDB's GROUP BY over the same files
 * gives: the same groups, equal counts, doubles within 1e-9, nulls equal.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeIotDataset } from '../../lib/gen-iot.js';
import { withoutSummary } from './run-summary.js';
import { compareTables, duckdbAggregates, formatComparison, oracleRunArgs, runCli, tidemarkAggregates, type OracleRow, type OracleTable } from '../../bench/iot-oracle.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

t.test('40,000 IoT readings: every (device, window) equals DuckDB\'s GROUP BY', async (t) => {
  const root = t.testdir();
  const input = join(root, 'readings');
  await writeIotDataset(input, { files: 4, lines: 10_000, seed: 12 });
  // One file per micro-batch: the groups of a window straddle batches and are merged in state.
  const run = await runCli(CLI, oracleRunArgs(input, join(root, 'checkpoint'), join(root, 'output'), ['--max-files-per-trigger', '1']));
  t.equal(run.code, 0, run.stderr);
  t.equal(withoutSummary(run.stderr), '');
  const expected = await duckdbAggregates(join(input, 'part-*.json'));
  const actual = await tidemarkAggregates(join(root, 'output'));
  t.strictSame(actual.problems, []);
  const comparison = compareTables(expected, actual.table);
  // 40,000 readings of 40 devices every 15 s: 1,000 rounds, 250 minutes, 50 five-minute windows per device.
  t.equal(comparison.expectedGroups, 40 * 50, 'DuckDB: 40 devices × 50 windows');
  t.equal(comparison.actualGroups, comparison.expectedGroups);
  t.equal(comparison.differing, 0, formatComparison(comparison, 40_000));
  t.equal(comparison.nullGroups, 50, 'dev-40 has no temperature: null sum, avg, min, max in each of its windows');
});

t.test('the comparison notices a missing or extra group, a null for a value, a count off by one and a double off by more than 1e-9', async (t) => {
  const expected: OracleTable = new Map<string, OracleRow>([
    ['dev-01\t0', [2, 3, 1.5, 1, 2]],
    ['dev-02\t0', [1, null, null, null, null]],
    ['dev-03\t0', [1, 1e10, 1e10, 1e10, 1e10]],
  ]);
  t.equal(compareTables(expected, new Map(expected)).differing, 0);
  const close = new Map(expected).set('dev-03\t0', [1, 1e10 + 1, 1e10, 1e10, 1e10]);
  t.equal(compareTables(expected, close).differing, 0, 'a relative difference of 1e-10 is allowed');
  const cases: Array<[string, OracleTable]> = [
    ['missing', new Map([...expected].slice(1))],
    ['extra', new Map(expected).set('dev-04\t0', [1, 1, 1, 1, 1])],
    ['zero for null', new Map(expected).set('dev-02\t0', [1, 0, null, null, null])],
    ['count', new Map(expected).set('dev-01\t0', [3, 3, 1.5, 1, 2])],
    ['double', new Map(expected).set('dev-03\t0', [1, 1e10 + 100, 1e10, 1e10, 1e10])],
  ];
  for (const [what, actual] of cases) t.equal(compareTables(expected, actual).differing, 1, what);
});

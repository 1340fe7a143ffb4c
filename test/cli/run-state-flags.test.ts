/**
 * `tidemark run --min-deltas-for-snapshot N`: Spark's
 * `stateStore.minDeltasForSnapshot` for the query's checkpoint.
 */
import t from 'tap';
import { buildQuery, parseRunArgs } from '../../lib/cli/run.js';

const QUERY = ['--input', '.', '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour', '--watermark', '2 hours', '--output-mode', 'append'];
const OUT = ['--output', 'out', '--checkpoint', 'chk'];

t.test('--min-deltas-for-snapshot N is the query\'s minDeltasForSnapshot', async (t) => {
  const { options } = parseRunArgs([...QUERY, ...OUT, '--min-deltas-for-snapshot', '3']);
  t.equal(options!.minDeltasForSnapshot, 3);
  t.equal(buildQuery(options!).minDeltasForSnapshot, 3);
});

t.test('--min-deltas-for-snapshot 0 writes a snapshot every batch', async (t) => {
  const { options } = parseRunArgs([...QUERY, ...OUT, '--min-deltas-for-snapshot', '0']);
  t.equal(buildQuery(options!).minDeltasForSnapshot, 0);
});

t.test('without --min-deltas-for-snapshot the query keeps its default', async (t) => {
  const { options } = parseRunArgs([...QUERY, ...OUT]);
  t.equal(options!.minDeltasForSnapshot, undefined);
  t.notOk('minDeltasForSnapshot' in buildQuery(options!));
});

for (const bad of ['-1', 'ten', '2.5', '']) {
  t.test(`--min-deltas-for-snapshot '${bad}' is refused, naming the flag`, async (t) => {
    t.throws(() => parseRunArgs([...QUERY, ...OUT, `--min-deltas-for-snapshot=${bad}`]), {
      name: 'TidemarkError',
      code: 'ERR_INVALID_OPTION',
      option: '--min-deltas-for-snapshot',
      message: `flag --min-deltas-for-snapshot must be a whole number of deltas, 0 or more (0: a snapshot every batch); got '${bad}'`,
    });
  });
}

t.test('--min-deltas-for-snapshot without --checkpoint is refused: no state file would be written', async (t) => {
  t.throws(() => parseRunArgs([...QUERY, '--console', '--min-deltas-for-snapshot', '5']), {
    code: 'ERR_INVALID_OPTION',
    option: '--min-deltas-for-snapshot',
    message: 'flag --min-deltas-for-snapshot needs --checkpoint: without one no state file is written',
  });
});

/**
 * Spark's checks on a query's stateful operators taken together
 * (lib/core/stateful-chain.ts): what UnsupportedOperationChecker refuses
 * and what Spark ≥ 3.4 allows, with the suites' scenarios.
 */
import t from 'tap';
import { checkGlobalWatermarkLimit, checkStatefulOperators } from '../../lib/core/stateful-chain.js';

const CORRECTNESS =
  "Detected pattern of possible 'correctness' issue due to global watermark. The query contains stateful operation which can emit rows older than the current watermark plus allowed late record delay, which are \"late rows\" in downstream stateful operations and these rows can be discarded. Please refer the programming guide doc for more details. If you understand the possible risk of correctness issue and still need to run the query, you can disable this check by setting the config `spark.sql.streaming.statefulOperator.checkCorrectness.enabled` to false.";

t.test('StreamingDeduplicationSuite: deduplicate with aggregate - append, update and complete mode are all allowed', async (t) => {
  for (const mode of ['append', 'update', 'complete'] as const) {
    t.doesNotThrow(() => checkStatefulOperators([{ kind: 'dropDuplicates' }, { kind: 'aggregation' }], mode), mode);
  }
});

t.test('several stateful operators in append mode are allowed (Spark >= 3.4)', async (t) => {
  t.doesNotThrow(() => checkStatefulOperators([{ kind: 'dropDuplicatesWithinWatermark' }, { kind: 'aggregation' }, { kind: 'aggregation' }], 'append'));
  t.doesNotThrow(() => checkStatefulOperators([{ kind: 'sessionWindow' }, { kind: 'dropDuplicates', eventTimeKey: true }], 'append'));
});

t.test('an aggregation in update or complete mode followed by an operator judging late rows is refused with Spark message', async (t) => {
  for (const mode of ['update', 'complete'] as const) {
    for (const next of [{ kind: 'aggregation' as const }, { kind: 'dropDuplicatesWithinWatermark' as const }, { kind: 'dropDuplicates' as const, eventTimeKey: true }]) {
      t.throws(() => checkStatefulOperators([{ kind: 'aggregation' }, next], mode), { code: 'ERR_STATEFUL_CORRECTNESS', message: CORRECTNESS }, `${mode}: aggregation then ${next.kind}`);
    }
  }
});

t.test('a deduplication without the event time after an aggregation judges nothing late, so Spark lets it be', async (t) => {
  t.doesNotThrow(() => checkStatefulOperators([{ kind: 'aggregation' }, { kind: 'dropDuplicates', eventTimeKey: false }], 'update'));
});

t.test('complete mode with deduplication only is refused: complete needs an aggregation', async (t) => {
  t.throws(() => checkStatefulOperators([{ kind: 'dropDuplicates' }], 'complete'), {
    code: 'ERR_COMPLETE_WITHOUT_AGGREGATION',
    message: 'Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets',
  });
});

t.test('the global watermark check alone holds for any prefix: a deduplication that an aggregation will follow passes in complete mode', async (t) => {
  t.doesNotThrow(() => checkGlobalWatermarkLimit([{ kind: 'dropDuplicates' }], 'complete'));
  t.throws(() => checkGlobalWatermarkLimit([{ kind: 'aggregation' }, { kind: 'sessionWindow' }], 'complete'), { code: 'ERR_STATEFUL_CORRECTNESS' });
});

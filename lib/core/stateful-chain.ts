/**
 * Spark's checks on the stateful operators of one query taken together
 * (`UnsupportedOperationChecker.checkForStreaming` and
 * `checkStreamingQueryGlobalWatermarkLimit`), as a pure function of the
 * operators in pipeline order and the output mode.
 *
 * Spark ≥ 3.4 runs several stateful operators in one query (a deduplication
 * before an aggregation, two aggregations) because each one judges late rows
 * against the previous batch's watermark and evicts with the current one.
 * What it refuses is an operator that can emit rows older than the watermark
 * (an aggregation in update or complete mode) followed by an operator that
 * would judge those rows late.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { OutputMode } from './output-mode.js';

/** The stateful operators tidemark has. */
export type StatefulOperatorKind = 'aggregation' | 'sessionWindow' | 'dropDuplicates' | 'dropDuplicatesWithinWatermark';

/** One stateful operator of a query. */
export interface StatefulOperatorInfo {
  readonly kind: StatefulOperatorKind;
  /** `dropDuplicates` only: the event-time (watermarked) column is among its keys. */
  readonly eventTimeKey?: boolean;
}

const CORRECTNESS_MESSAGE =
  "Detected pattern of possible 'correctness' issue due to global watermark. " +
  'The query contains stateful operation which can emit rows older than the current watermark plus allowed late record delay, ' +
  'which are "late rows" in downstream stateful operations and these rows can be discarded. ' +
  'Please refer the programming guide doc for more details. ' +
  'If you understand the possible risk of correctness issue and still need to run the query, ' +
  'you can disable this check by setting the config `spark.sql.streaming.statefulOperator.checkCorrectness.enabled` to false.';

const isAggregation = (op: StatefulOperatorInfo): boolean => op.kind === 'aggregation' || op.kind === 'sessionWindow';

// Spark's isStatefulOperation: a deduplication counts only when it has an event-time column.
const judgesLateRows = (op: StatefulOperatorInfo): boolean =>
  isAggregation(op) || op.kind === 'dropDuplicatesWithinWatermark' || (op.kind === 'dropDuplicates' && op.eventTimeKey === true);

/**
 * Refuses what Spark refuses about a query's stateful operators:
 * complete mode with no aggregation, and (global watermark) an aggregation
 * in update or complete mode followed by an operator that judges late rows.
 *
 * @param operators - the query's stateful operators, upstream first.
 * @throws TidemarkError `ERR_COMPLETE_WITHOUT_AGGREGATION`, `ERR_STATEFUL_CORRECTNESS`.
 */
export function checkStatefulOperators(operators: readonly StatefulOperatorInfo[], outputMode: OutputMode): void {
  if (outputMode === 'complete' && !operators.some(isAggregation)) {
    throw new TidemarkError(
      'ERR_COMPLETE_WITHOUT_AGGREGATION',
      'Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets',
      { option: 'outputMode' },
    );
  }
  checkGlobalWatermarkLimit(operators, outputMode);
}

/**
 * The global-watermark half of {@link checkStatefulOperators}
 * (`checkStreamingQueryGlobalWatermarkLimit`): it holds for every prefix of
 * a query, so a planner can apply it operator by operator, before it knows
 * whether an aggregation comes further down (which complete mode needs).
 *
 * @param operators - stateful operators, upstream first.
 * @throws TidemarkError `ERR_STATEFUL_CORRECTNESS`.
 */
export function checkGlobalWatermarkLimit(operators: readonly StatefulOperatorInfo[], outputMode: OutputMode): void {
  if (outputMode === 'append') return;
  for (let i = 1; i < operators.length; i++) {
    if (!judgesLateRows(operators[i]!)) continue;
    if (operators.slice(0, i).some(isAggregation)) {
      throw new TidemarkError('ERR_STATEFUL_CORRECTNESS', CORRECTNESS_MESSAGE, { option: 'outputMode' });
    }
  }
}

/**
 * Aggregations beyond count, Spark-exact (issue 12): parse and resolve
 * aggregate expressions (`aggregate-spec.ts`), and keep their buffers per
 * group slot (`aggregate-buffers.ts`, built from `aggregate-cells.ts`). The
 * rules are `spark-semantics.md` § k.
 *
 * @module
 */
export {
  defaultAggregateName,
  isIntegralType,
  parseAggregates,
  resolveAggregates,
  type AggregateFunction,
  type AggregateSpec,
  type ResolvedAggregate,
  type ResolveOptions,
} from './aggregate-spec.js';
export { AggregateBuffers, type AggregateBuffersOptions, type AggregateSnapshot } from './aggregate-buffers.js';

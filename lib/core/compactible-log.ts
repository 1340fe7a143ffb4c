/**
 * The rules of Spark's `CompactibleFileStreamLog`, shared by the file sink's
 * `_spark_metadata` and the file source's `sources/<i>` log: one file per
 * batch `N`, and every `compactInterval`-th batch (`(N + 1) % 10 === 0`)
 * written as `N.compact`, holding the entries of every batch up to `N`.
 * A reader needs the latest compact file and the deltas after it.
 *
 * Which superseded files may go is tidemark's choice (Spark keeps
 * `minBatchesToRetain` batches and waits `cleanupDelay`, 10 minutes): when
 * compact `N` is written, every file before the previous compact `N - 10`
 * is deleted. The previous generation (`N - 10`.compact and the deltas after
 * it) stays, so a reader that listed the directory just before compact `N`
 * appeared still finds every file it listed; a reader slower than ten more
 * batches finds a file gone, lists again and starts from the newer compact
 * file (as Spark's `allFiles` does).
 *
 * @module
 */

/** Spark's `spark.sql.streaming.fileSink.log.compactInterval` and `fileSource.log.compactInterval` default. */
export const COMPACT_INTERVAL = 10;

/** Suffix of a compact file. */
export const COMPACT_SUFFIX = '.compact';

/** True when batch `batchId` is written as `batchId.compact` (Spark's `isCompactionBatch`). */
export function isCompactionBatch(batchId: number, interval = COMPACT_INTERVAL): boolean {
  return (batchId + 1) % interval === 0;
}

/** A log file's batch id and kind from its name (`7`, `9.compact`), or null for any other name (sidecars, temp files). */
export function parseLogFileName(name: string): { batchId: number; compact: boolean } | null {
  const m = /^(\d+)(\.compact)?$/.exec(name);
  if (m === null) return null;
  const batchId = Number(m[1]);
  return Number.isSafeInteger(batchId) ? { batchId, compact: m[2] !== undefined } : null;
}

/** The name of batch `batchId`'s file. */
export function logFileName(batchId: number, interval = COMPACT_INTERVAL): string {
  return isCompactionBatch(batchId, interval) ? `${batchId}${COMPACT_SUFFIX}` : String(batchId);
}

/** What a reader reads to know every entry up to `latest`: a compact file (or none) and the deltas after it. */
export interface LogReadPlan {
  /** The compact batch to start from, or null to start at batch 0. */
  readonly compact: number | null;
  /** Delta batches after it, up to `latest`, in order. */
  readonly deltas: readonly number[];
}

/**
 * The files that hold every entry up to batch `latest`, given the batches
 * present (Spark's `getAllValidBatches`): the latest compact batch at or
 * before `latest`, then each batch after it. The files named may be missing;
 * the reader checks.
 */
export function readPlan(latest: number, compacts: Iterable<number>): LogReadPlan {
  let compact: number | null = null;
  for (const id of compacts) if (id <= latest && (compact === null || id > compact)) compact = id;
  const deltas: number[] = [];
  for (let id = compact === null ? 0 : compact + 1; id <= latest; id++) deltas.push(id);
  return { compact, deltas };
}

/** The batches compaction `batchId` merges with its own entries: the previous compact and the deltas after it (Spark's `getValidBatchesBeforeCompactionBatch`). */
export function batchesBeforeCompaction(batchId: number, interval = COMPACT_INTERVAL): number[] {
  const out: number[] = [];
  for (let id = Math.max(0, batchId - interval); id < batchId; id++) out.push(id);
  return out;
}

/** Batch ids whose files are superseded once compact `compactBatchId` is written: every batch before the previous compact. */
export function supersededBefore(compactBatchId: number, interval = COMPACT_INTERVAL): number {
  return Math.max(0, compactBatchId - interval);
}

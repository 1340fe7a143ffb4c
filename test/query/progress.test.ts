/**
 * The progress of a committed micro-batch as `buildProgress` assembles it
 * from the barrier (Spark's `StreamingQueryProgress`).
 */
import t from 'tap';
import { barrier } from '../../lib/protocol.js';
import { buildProgress } from '../../lib/query/progress.js';

const TIMINGS = { triggerStartMs: 1_000, previousTriggerStartMs: null, latestOffset: 1, walCommit: 2, addBatch: 30, commitOffsets: 3, triggerExecution: 60 };

t.test("each stateful operator keeps its own commitTimeMs, not the batch's whole state commit", async (t) => {
  const item = barrier(3);
  item.progress.stateOperators.push({ operatorName: 'dedupe', commitTimeMs: 7 }, { operatorName: 'stateStoreSave', commitTimeMs: 41 });
  item.progress.stateCommitMs = 50;
  const progress = buildProgress({
    id: 'q',
    runId: 'r',
    name: null,
    barrier: item,
    numInputRows: 0,
    source: { description: 'MemorySource', startOffset: null, endOffset: null, latestOffset: null },
    timings: TIMINGS,
  });
  t.strictSame(
    progress.stateOperators.map((op) => [op['operatorName'], op['commitTimeMs']]),
    [
      ['dedupe', 7],
      ['stateStoreSave', 41],
    ],
  );
});

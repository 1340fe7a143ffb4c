/**
 * `--progress-json`'s file: a write that fails later is told once and the
 * query goes on (as Spark's listeners do not fail a query).
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { ProgressLog } from '../../lib/cli/progress-log.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';

const progress = { id: 'q', runId: 'r', name: null, timestamp: '2026-12-01T00:00:00.000Z', batchId: 0 } as unknown as StreamingQueryProgress;

t.test('a write that fails (a full disk) is told once to onError, and later appends are dropped without throwing', { skip: existsSync('/dev/full') ? false : 'needs /dev/full (Linux)' }, async (t) => {
  const errors: Array<{ code?: string }> = [];
  const log = ProgressLog.open('/dev/full', (err) => errors.push(err as { code?: string }));
  log.append(progress);
  log.append({ ...progress, batchId: 1 });
  await log.close();
  log.append({ ...progress, batchId: 2 });
  t.equal(errors.length, 1);
  t.equal(errors[0]!.code, 'ENOSPC');
});

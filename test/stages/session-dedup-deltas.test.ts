/**
 * `SessionWindow` and `DropDuplicates` checkpoint incrementally (issue 13):
 * a delta holds the sessions or keys the batch wrote (puts) and the ones it
 * removed (removes), nothing else; a restore of a snapshot and the deltas
 * after it holds what the uninterrupted stage holds.
 */
import t from 'tap';
import { parseDDL } from '../../lib/core/ddl.js';
import { withMetadata, type Schema } from '../../lib/core/schema.js';
import { unpackKeys, unpackNumbers } from '../../lib/core/state-keys.js';
import type { DedupStateRecord } from '../../lib/core/dedup.js';
import type { SessionStateRecord } from '../../lib/core/session-window.js';
import type { StateImage } from '../../lib/protocol.js';
import { DropDuplicates } from '../../lib/stages/drop-duplicates.js';
import { SessionWindow } from '../../lib/stages/session-window.js';
import type { Stage } from '../../lib/stages/stage.js';
import { StageHarness, throughJson } from '../harness/stage-harness.js';

const S = 1000;

// What a Watermark upstream (10 s) would have made of the schema.
const timed = (ddl: string): Schema => ({ fields: parseDDL(ddl).fields.map((f) => (f.name === 'time' ? withMetadata(f, { watermarkDelayMs: 10 * S }) : f)) });
const IDS = timed('time timestamp, id string');
const KEYS = timed('time timestamp, key string');

// Images go through the checkpoint's text form (aggregate buffers hold typed arrays, base64 there).
const through = throughJson;

/** Dedup records as [kind, key texts]. */
const dedupRecords = (image: StateImage): Array<[string, readonly string[]]> =>
  (image.partitions[0] as DedupStateRecord[]).map((r) => ('put' in r ? ['put', r.put.keys] : ['remove', r.remove.keys]));

/** Session records as [kind, key, start s, end s (puts)] per session. */
const sessionRecords = (image: StateImage): Array<[string, unknown, number, number | null]> =>
  (image.partitions[0] as SessionStateRecord[]).flatMap((r) => {
    const kind = 'put' in r ? 'put' : 'remove';
    const g = 'put' in r ? r.put : r.remove;
    const keys = unpackKeys(g.keys, g.keyCount);
    const counts = unpackNumbers(g.sessionCounts);
    const starts = unpackNumbers(g.starts);
    const ends = g.ends === undefined ? null : unpackNumbers(g.ends);
    const out: Array<[string, unknown, number, number | null]> = [];
    let at = 0;
    keys.forEach((key, k) => {
      for (let s = 0; s < counts[k]!; s++, at++) out.push([kind, key[0], starts[at]! / 1e6, ends === null ? null : ends[at]! / 1e6]);
    });
    return out;
  });

/** A fresh, planned instance of the stage with `snapshot` restored and `deltas` applied, as a restart does. */
async function restored(make: () => Stage, schema: Schema, outputMode: 'append' | 'complete', snapshot: StateImage, ...deltas: StateImage[]): Promise<StageHarness> {
  const harness = await StageHarness.open(make(), schema, { outputMode });
  harness.stage.restore(through(snapshot));
  for (const delta of deltas) harness.stage.applyDelta(through(delta));
  return harness;
}

const dedup = (): DropDuplicates => new DropDuplicates({ columns: ['id'], withinWatermark: true });
const sessions = (): SessionWindow => new SessionWindow({ timeColumn: 'time', gap: '10 seconds', groupBy: ['key'] });

t.test('DropDuplicates: the delta of a batch that adds 3 keys to 100 holds those 3 keys, and the duplicates it dropped are not in it', async (t) => {
  const harness = await StageHarness.open(dedup(), IDS, { outputMode: 'append' });
  await harness.batch({ rows: Array.from({ length: 100 }, (_, i) => ({ time: 1 * S, id: `k${i}` })) });
  const second = await harness.batch({ rows: [{ time: 2 * S, id: 'n0' }, { time: 2 * S, id: 'k5' }, { time: 2 * S, id: 'n1' }, { time: 2 * S, id: 'k7' }, { time: 2 * S, id: 'n2' }] });
  t.strictSame(dedupRecords(second.barrier.state['0']!.delta()), [['put', ['"n0"', '"n1"', '"n2"']]]);
  t.equal(dedupRecords(second.barrier.state['0']!.snapshot())[0]![1].length, 103, 'the snapshot holds every key');
});

t.test('DropDuplicates: keys the watermark evicts are listed as removes, and a restore does not bring them back', async (t) => {
  const harness = await StageHarness.open(dedup(), IDS, { outputMode: 'append' });
  const first = await harness.batch({ rows: [{ time: 1 * S, id: 'a' }, { time: 50 * S, id: 'b' }] });
  const snapshot = first.barrier.state['0']!.snapshot();
  // a expires at 1 s + 10 s, b at 60 s: a watermark of 20 s evicts a only.
  const second = await harness.batch({ rows: [], watermarkMs: 20 * S });
  const delta = second.barrier.state['0']!.delta();
  t.strictSame(dedupRecords(delta), [['remove', ['"a"']]]);
  const after = await restored(dedup, IDS, 'append', snapshot, delta);
  t.strictSame(dedupRecords(after.stage.snapshot()), [['put', ['"b"']]]);
  const next = await after.batch({ rows: [{ time: 60 * S, id: 'a' }, { time: 60 * S, id: 'b' }], watermarkMs: 20 * S, lateWatermarkMs: 20 * S });
  t.strictSame(next.rows, [{ time: 60 * S, id: 'a' }], 'a is new again; b is still held');
});

t.test('SessionWindow: the delta of a batch that extends 3 sessions of 20 keys holds those 3 sessions', async (t) => {
  const harness = await StageHarness.open(sessions(), KEYS, { outputMode: 'append' });
  await harness.batch({ rows: Array.from({ length: 20 }, (_, i) => ({ time: 0, key: `k${String(i).padStart(2, '0')}` })) });
  const second = await harness.batch({ rows: [{ time: 5 * S, key: 'k03' }, { time: 5 * S, key: 'k11' }, { time: 5 * S, key: 'k17' }] });
  t.strictSame(sessionRecords(second.barrier.state['0']!.delta()), [
    ['put', 'k03', 0, 15],
    ['put', 'k11', 0, 15],
    ['put', 'k17', 0, 15],
  ]);
  t.equal(sessionRecords(second.barrier.state['0']!.snapshot()).length, 20, 'the snapshot holds every session');
});

t.test('SessionWindow: a session that takes no rows is not in the delta, though another session of its key is', async (t) => {
  const harness = await StageHarness.open(sessions(), KEYS, { outputMode: 'append' });
  await harness.batch({ rows: [{ time: 0, key: 'a' }, { time: 50 * S, key: 'a' }] });
  const second = await harness.batch({ rows: [{ time: 55 * S, key: 'a' }] });
  t.strictSame(sessionRecords(second.barrier.state['0']!.delta()), [['put', 'a', 50, 65]]);
});

t.test('SessionWindow: a row that merges two sessions puts the merged session and removes the one merged away; a restore holds the merged one only', async (t) => {
  const harness = await StageHarness.open(sessions(), KEYS, { outputMode: 'complete' });
  const first = await harness.batch({ rows: [{ time: 0, key: 'a' }, { time: 15 * S, key: 'a' }, { time: 0, key: 'b' }] });
  const snapshot = first.barrier.state['0']!.snapshot();
  // [9 s, 19 s) touches [0, 10 s) and [15 s, 25 s): one session [0, 25 s), stored under start 0.
  const second = await harness.batch({ rows: [{ time: 9 * S, key: 'a' }] });
  const delta = second.barrier.state['0']!.delta();
  t.strictSame(sessionRecords(delta), [
    ['put', 'a', 0, 25],
    ['remove', 'a', 15, null],
  ]);
  const after = await restored(sessions, KEYS, 'complete', snapshot, delta);
  const next = await after.batch({ rows: [] });
  t.strictSame(next.rows, [
    { session_window: { start: 0, end: 25 * S }, key: 'a', count: 3 },
    { session_window: { start: 0, end: 10 * S }, key: 'b', count: 1 },
  ]);
});

t.test('SessionWindow: sessions the watermark closes are listed as removes, and a restore does not bring them back', async (t) => {
  const harness = await StageHarness.open(sessions(), KEYS, { outputMode: 'append' });
  const first = await harness.batch({ rows: [{ time: 0, key: 'a' }, { time: 100 * S, key: 'b' }] });
  const snapshot = first.barrier.state['0']!.snapshot();
  const second = await harness.batch({ rows: [], watermarkMs: 20 * S });
  t.strictSame(second.rows, [{ session_window: { start: 0, end: 10 * S }, key: 'a', count: 1 }], 'a is emitted once');
  const delta = second.barrier.state['0']!.delta();
  t.strictSame(sessionRecords(delta), [['remove', 'a', 0, null]]);
  const after = await restored(sessions, KEYS, 'append', snapshot, delta);
  t.strictSame(sessionRecords(after.stage.snapshot()), [['put', 'b', 100, 110]]);
  const drained = await after.batch({ rows: [], watermarkMs: 1000 * S, lateWatermarkMs: 20 * S });
  t.strictSame(drained.rows, [{ session_window: { start: 100 * S, end: 110 * S }, key: 'b', count: 1 }], 'a is not emitted twice');
});

/**
 * Issue "nothing lost", defect 13: listing `window` in --group-by means the
 * same as leaving it implicit, and counting per window alone works — through
 * the count aggregated where the chunks are read (the planner's choice).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset, generateLines } from '../../lib/gen.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const DATA = { files: 4, lines: 300, seed: 13 };

function run(root: string, name: string, groupBy: readonly string[]): Promise<{ code: number; stderr: string; rows: Record<string, unknown>[] }> {
  const out = join(root, name, 'out');
  const args = [CLI, 'run', '--input', join(root, 'in'), '--schema', 'time timestamp, action string', ...groupBy.flatMap((g) => ['--group-by', g]), '--window', '1 hour', '--watermark', '0 seconds', '--output-mode', 'append', '--checkpoint', join(root, name, 'chk'), '--output', out, '--trigger', 'available-now', '--drain'];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { ...process.env, TZ: 'UTC' } }, async (err, _stdout, stderr) => {
      const rows: Record<string, unknown>[] = [];
      if (err === null) for await (const { text } of readCommittedJsonLines(out)) if (text.length > 0) rows.push(JSON.parse(text) as Record<string, unknown>);
      resolve({ code: err === null ? 0 : Number(err.code), stderr, rows });
    });
  });
}

const key = (r: Record<string, unknown>): string => `${String(r['action'] ?? '*')}|${(r['window'] as { start: string }).start}`;
const counts = (rows: readonly Record<string, unknown>[]): Record<string, unknown> => Object.fromEntries(rows.map((r) => [key(r), r['count']]).sort());

t.test('defect 13: --group-by action,window and window,action count what --group-by action counts; the output columns follow the order given', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), DATA);
  const implicit = await run(root, 'implicit', ['action']);
  t.equal(implicit.code, 0, implicit.stderr);
  for (const [name, groupBy] of [['listed', ['action,window']], ['first', ['window', 'action']]] as const) {
    const listed = await run(root, name, groupBy);
    t.equal(listed.code, 0, listed.stderr);
    t.strictSame(counts(listed.rows), counts(implicit.rows), name);
    t.strictSame(Object.keys(listed.rows[0]!), name === 'first' ? ['window', 'action', 'count'] : ['action', 'window', 'count']);
  }
});

t.test('defect 13: --group-by window (or no --group-by) counts per window alone', async (t) => {
  const root = t.testdir();
  await generateDataset(join(root, 'in'), DATA);
  const expected = new Map<string, number>();
  for (const line of generateLines(DATA)) {
    const { time } = JSON.parse(line) as { time: number };
    const start = new Date(Math.floor(time / 3600) * 3600 * 1000).toISOString();
    expected.set(start, (expected.get(start) ?? 0) + 1);
  }
  for (const [name, groupBy] of [['window', ['window']], ['none', []]] as const) {
    const result = await run(root, name, groupBy);
    t.equal(result.code, 0, result.stderr);
    const got = new Map(result.rows.map((r) => [new Date((r['window'] as { start: string }).start).toISOString(), r['count'] as number]));
    t.strictSame([...got].sort(), [...expected].sort(), name);
  }
});

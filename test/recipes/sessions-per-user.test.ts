/**
 * Recipe sessions-per-user: the sessions it writes are the batch sessions
 * of the clickstream, its chart has a line per series, and a crash and
 * restart at every micro-batch boundary gives the same output.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clickstream, writeClickstream } from 'tidemark/internals';
import { CLICKSTREAM_DATA } from '../../recipes/common.js';
import { run, type SessionsResult } from '../../recipes/sessions-per-user.js';
import { capture, committedBatches, CRASH_MESSAGE, CrashingJsonSink, crashesAt, describeCrash, golden, readGolden } from './harness.js';

const root = t.testdir();
const data = join(root, 'clicks');
await writeClickstream(data, CLICKSTREAM_DATA);
const reference: SessionsResult = await run({ dataDir: data, workDir: join(root, 'reference'), out: capture().out });

t.test('prints the summary and one user\'s sessions (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('sessions-per-user.txt', text()));
});

t.test('the sessions written are the batch sessions: one per visit, from the first event to the last + 10 minutes', async (t) => {
  const { events } = clickstream(CLICKSTREAM_DATA);
  const expected: string[] = [];
  const byUser = new Map<string, number[]>();
  for (const e of events) (byUser.get(e.user) ?? byUser.set(e.user, []).get(e.user)!).push(e.time * 1000);
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    let first = times[0]!;
    let last = first;
    let n = 0;
    for (const time of times) {
      if (time > last + 600_000) {
        expected.push(`${user} ${first} ${last + 600_000} ${n}`);
        first = time;
        n = 0;
      }
      last = time;
      n++;
    }
    expected.push(`${user} ${first} ${last + 600_000} ${n}`);
  }
  t.equal(expected.length, 240);
  t.strictSame(reference.sessions.map((s) => `${s.user} ${s.startMs} ${s.endMs} ${s.events}`).sort(), expected.sort());
});

t.test('the chart has a mean and a longest line, one point per user each', async (t) => {
  const svg = await readFile(reference.svg, 'utf8');
  t.match(svg, /<text[^>]*>longest<\/text>/);
  t.match(svg, /<text[^>]*>mean<\/text>/);
  t.equal([...svg.matchAll(/<path [^>]*d="M[^"]*L[^"]*" stroke="#[0-9a-f]{6}"/g)].length, 2, 'two lines');
  t.ok((await readFile(reference.png)).subarray(1, 4).toString() === 'PNG', 'a PNG');
});

t.test('a crash at every micro-batch boundary, then a restart, writes the same sessions', async (t) => {
  const expected = await readGolden('sessions-per-user.txt');
  const batches = await committedBatches(reference.checkpointLocation);
  t.ok(batches.length >= 5, `${batches.length} batches`);
  for (const crash of crashesAt(batches)) {
    await t.test(describeCrash(crash), async (t) => {
      const workDir = t.testdir();
      const crashed = run({ dataDir: data, workDir, out: capture().out, makeJsonSink: (o) => new CrashingJsonSink(o, crash) });
      if (crash.batchId > batches.at(-1)!) await crashed;
      else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
      const { out, text } = capture();
      await run({ dataDir: data, workDir, out });
      t.equal(text(), expected);
    });
  }
});

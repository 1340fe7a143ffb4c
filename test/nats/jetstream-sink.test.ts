/**
 * JetStreamSink: each output row as a JSON message in the JSON sink's
 * format, with a Nats-Msg-Id (query, batch, row) that makes the stream drop
 * what a re-executed batch publishes again.
 */
import t from 'tap';
import { join } from 'node:path';
import { JetStreamSink } from '../../lib/sinks/jetstream-sink.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { RecordBatch } from '../../lib/core/batch.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';
import { CheckpointSink } from '../../lib/sinks/checkpoint-sink.js';
import { natsSkip, startNats, type NatsServer } from './server.js';
import { client, committedLines, queryArgs, runCli } from './helpers.js';
import { eventSchema, events, notebookStages } from '../helpers.js';
import type { JetStreamConnection } from '../../lib/nats/client.js';
import { generateDataset } from '../../lib/gen.js';

const skip = natsSkip;
let server: NatsServer | null = null;
let conn: JetStreamConnection | null = null;
if (skip === false) {
  server = await startNats();
  conn = await client(server.url);
}
t.teardown(async () => {
  await conn?.close();
  await server?.stop();
});

/** Every message of a stream: its body and its Nats-Msg-Id. */
async function stored(stream: string): Promise<Array<{ body: string; id: string | undefined }>> {
  const info = await conn!.jsm.streams.info(stream);
  const out: Array<{ body: string; id: string | undefined }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await conn!.jsm.streams.getMessage(stream, { seq });
    if (m !== null) out.push({ body: m.string(), id: m.header.get('Nats-Msg-Id') });
  }
  return out;
}

/** A JetStreamSink that fails once, right after publishing the `nth` batch that had rows (before it commits). */
class CrashingJetStreamSink extends JetStreamSink {
  #nonEmpty = 0;
  crashedWith = 0;
  constructor(
    options: ConstructorParameters<typeof JetStreamSink>[0],
    readonly nth: number,
  ) {
    super(options);
  }
  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[]): Promise<number> {
    const n = await super.writeBatch(batchId, batches);
    if (n > 0 && ++this.#nonEmpty === this.nth) {
      this.crashedWith = n;
      throw new Error(`injected crash after publishing batch ${batchId}`);
    }
    return n;
  }
}

const steps = [events([10, 'Open'], [11, 'Open'], [12, 'Close']), events([14, 'Open'], [25, 'Click']), events([40, 'Scroll']), events([41, 'Open'], [60, 'Close'])];

/** Runs the notebook's stages in append mode over `steps` from `from`; returns the step at which the query failed, or null. */
async function runSteps(sinkOf: () => JetStreamSink | CheckpointSink, checkpointLocation: string, source: MemorySource, from = 0): Promise<number | null> {
  const query = await startQuery({ source, stages: notebookStages({ delay: '10 seconds' }), sink: sinkOf(), outputMode: 'append', checkpointLocation, manager: new StreamingQueryManager() });
  for (let i = from; i < steps.length; i++) {
    source.addData(steps[i]!);
    try {
      await query.processAllAvailable();
    } catch {
      return i;
    }
  }
  await query.stop();
  return null;
}

t.test("each row is a JSON message in the JSON sink's format, its Nats-Msg-Id the query, batch and row", { skip }, async (t) => {
  const dir = t.testdir();
  const sink = new JetStreamSink({ servers: server!.url, subject: 'counts.append', timeZone: 'UTC' });
  await runSteps(() => sink, join(dir, 'chk'), new MemorySource({ schema: eventSchema }));
  await runSteps(() => new CheckpointSink({ path: join(dir, 'out'), timeZone: 'UTC' }), join(dir, 'chk-file'), new MemorySource({ schema: eventSchema }));
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(join(dir, 'out'))) if (text.length > 0) lines.push(text);
  const messages = await stored('counts_append');
  t.strictSame(messages.map((m) => m.body), lines, 'the same lines as the JSON file sink writes, in the same order');
  const queryId = JSON.parse((await import('node:fs/promises').then((fs) => fs.readFile(join(dir, 'chk', 'metadata'), 'utf8'))).split('\n')[0]!).id as string;
  // Batch by batch, rows numbered from 0 in the order written.
  const next = new Map<string, number>();
  const expectedIds = messages.map((m) => {
    const batch = /^[^:]+:(\d+):\d+$/.exec(m.id ?? '')?.[1] ?? '?';
    const row = next.get(batch) ?? 0;
    next.set(batch, row + 1);
    return `${queryId}:${batch}:${row}`;
  });
  t.strictSame(messages.map((m) => m.id), expectedIds);
  const info = await conn!.jsm.streams.info('counts_append');
  t.strictSame(info.config.subjects, ['counts.append'], 'a stream named after the subject, storing exactly it');
  t.equal(info.config.duplicate_window, 3600 * 1e9, 'with a duplicate window of 1 hour');
  t.equal(sink.stream, 'counts_append');
});

t.test('a batch re-executed after a crash publishes its rows again, and the stream drops them as duplicates', { skip }, async (t) => {
  const dir = t.testdir();
  const chk = join(dir, 'chk');
  const source = new MemorySource({ schema: eventSchema });
  const crashing = new CrashingJetStreamSink({ servers: server!.url, subject: 'counts.crash', timeZone: 'UTC' }, 2);
  const failedAt = await runSteps(() => crashing, chk, source);
  t.not(failedAt, null, 'the first run crashed');
  t.ok(crashing.crashedWith > 0, `after publishing ${crashing.crashedWith} rows of a batch it did not commit`);
  // The restart re-executes that batch with the same offsets: the same rows, the same ids.
  const again = new JetStreamSink({ servers: server!.url, subject: 'counts.crash', timeZone: 'UTC' });
  t.equal(await runSteps(() => again, chk, source.reopen(), failedAt! + 1), null);
  t.equal(again.duplicatesDropped, crashing.crashedWith, "the re-executed batch's rows were dropped, not stored twice");
  const messages = await stored('counts_crash');
  t.equal(new Set(messages.map((m) => m.id)).size, messages.length, 'no id twice');
  const file = join(dir, 'file');
  await runSteps(() => new CheckpointSink({ path: join(file, 'out'), timeZone: 'UTC' }), join(file, 'chk'), new MemorySource({ schema: eventSchema }));
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(join(file, 'out'))) if (text.length > 0) lines.push(text);
  t.strictSame(messages.map((m) => m.body), lines, 'exactly what an uninterrupted run writes');
});

t.test('a stream that already stores the subject is used as it is', { skip }, async (t) => {
  await conn!.jsm.streams.add({ name: 'mine', subjects: ['results.>'] });
  const sink = new JetStreamSink({ servers: server!.url, subject: 'results.daily', timeZone: 'UTC' });
  await runSteps(() => sink, join(t.testdir(), 'chk'), new MemorySource({ schema: eventSchema }));
  t.equal(sink.stream, 'mine');
  t.ok((await stored('mine')).length > 0);
});

t.test('tidemark run --output nats://HOST:PORT/SUBJECT publishes the query over a stream', { skip }, async (t) => {
  const root = t.testdir();
  const data = join(root, 'data');
  await generateDataset(data, { files: 4, lines: 50, seed: 2 });
  t.equal((await runCli(['publish', '--to', `${server!.url}/clicks`, '--partitions', '2', '--key', 'action', data])).code, 0);
  const files = await runCli(queryArgs(data, join(root, 'out'), join(root, 'chk-files')));
  t.equal(files.code, 0, files.stderr);
  const args = queryArgs(`${server!.url}/clicks`, `${server!.url}/windows`, join(root, 'chk'));
  const run = await runCli(args);
  t.equal(run.code, 0, run.stderr);
  t.strictSame((await stored('windows')).map((m) => m.body).sort(), await committedLines(join(root, 'out')));
});

t.test('a sink whose server is down fails the query with ERR_NATS_UNAVAILABLE', async (t) => {
  const sink = new JetStreamSink({ servers: 'nats://127.0.0.1:1', subject: 'x', connectTimeoutMs: 200 });
  const query = await startQuery({ source: new MemorySource({ schema: eventSchema }), stages: [], sink, manager: new StreamingQueryManager() });
  await t.rejects(query.awaitTermination(), { cause: { code: 'ERR_NATS_UNAVAILABLE' } });
});

t.test('options are checked when the sink is made', async (t) => {
  t.throws(() => new JetStreamSink({ servers: 'nats://h:1', subject: 'a.*' }), { code: 'ERR_INVALID_OPTION', option: 'subject' });
  t.throws(() => new JetStreamSink({ servers: '', subject: 'a' }), { code: 'ERR_INVALID_OPTION', option: 'servers' });
  t.throws(() => new JetStreamSink({ servers: 'nats://h:1', subject: 'a', duplicateWindow: '0 seconds' }), { code: 'ERR_INVALID_OPTION', option: 'duplicateWindow' });
});

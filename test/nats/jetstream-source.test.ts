/**
 * JetStreamSource against a real nats-server: offsets per partition in
 * Spark's Kafka shape, batches read by sequence range (the same messages
 * when re-executed), Spark's options, and clear errors.
 */
import t from 'tap';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { JetStreamSource } from '../../lib/sources/jetstream-source.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { SourceContext } from '../../lib/sources/source.js';
import { natsSkip, startNats, type NatsServer } from './server.js';
import { client, partitionedStream, publish, readBatch } from './helpers.js';
import type { JetStreamConnection } from '../../lib/nats/client.js';

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

const noCheckpoint: SourceContext = { log: null, queryId: 'q', committedOffset: null };
const line = (n: number, action = 'Open'): string => JSON.stringify({ time: 1469501675 + n, action });

function source(stream: string, options: Partial<ConstructorParameters<typeof JetStreamSource>[0]> = {}): JetStreamSource {
  return new JetStreamSource({ servers: server!.url, stream, ...options });
}

t.test('a batch reads each partition up to its last sequence; the offset is per partition, in the Kafka source JSON shape', { skip }, async (t) => {
  await partitionedStream(conn!, 'shape', 2);
  await publish(conn!, 'shape', [[0, line(1)], [1, line(2)], [0, line(3)], [1, line(4)], [1, line(5)]]);
  const s = source('shape');
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const end = await s.latestOffset(null, 'limited');
  t.strictSame(end, { shape: { '0': 3, '1': 5 } });
  t.strictSame(await readBatch(s, null, end!), [line(1), line(3), line(2), line(4), line(5)], 'partition 0, then partition 1, each in sequence order');
  t.strictSame(await s.latestOffset(end, 'limited'), end, 'nothing new: the same offset');
});

t.test('a re-executed batch reads exactly the messages it read the first time, after later messages arrived', { skip }, async (t) => {
  await partitionedStream(conn!, 'replay', 2);
  await publish(conn!, 'replay', [[0, line(1)], [1, line(2)], [0, line(3)]]);
  const s = source('replay');
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const first = await s.latestOffset(null, 'limited');
  const firstRead = await readBatch(s, null, first!);
  await publish(conn!, 'replay', [[0, line(4)], [1, line(5)]]);
  const second = await s.latestOffset(first, 'limited');
  t.strictSame(await readBatch(s, first, second!, 1), [line(4), line(5)]);
  t.strictSame(await readBatch(s, null, first!), firstRead, 'batch 0 again');
  t.strictSame(await readBatch(s, first, second!, 1), [line(4), line(5)], 'batch 1 again');
  const other = source('replay');
  await other.open(noCheckpoint);
  t.teardown(() => other.close());
  t.strictSame(await readBatch(other, first, second!, 1), [line(4), line(5)], 'another process reads the same range the same');
});

t.test('maxOffsetsPerTrigger shares the limit among partitions in proportion to what they have waiting', { skip }, async (t) => {
  await partitionedStream(conn!, 'limit', 2);
  const messages: Array<[number, string]> = [];
  for (let i = 0; i < 30; i++) messages.push([i < 20 ? 0 : 1, line(i)]);
  const seqs = await publish(conn!, 'limit', messages);
  const s = source('limit', { maxOffsetsPerTrigger: 6 });
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const end = await s.latestOffset(null, 'limited');
  // 20 and 10 waiting: 6 × 20/30 = 4 from partition 0, 6 × 10/30 = 2 from partition 1.
  t.strictSame(end, { limit: { '0': seqs[3], '1': seqs[21] } });
  t.strictSame(await readBatch(s, null, end!), [line(0), line(1), line(2), line(3), line(20), line(21)]);
  t.strictSame(await s.latestOffset(null, 'unlimited'), { limit: { '0': seqs[19], '1': seqs[29] } }, 'Trigger.Once takes everything');
});

t.test('startingOffsets latest skips what the stream holds; the starting point is kept in the checkpoint', { skip }, async (t) => {
  await partitionedStream(conn!, 'latest', 2);
  await publish(conn!, 'latest', [[0, line(1)], [1, line(2)]]);
  const dir = t.testdir();
  const context: SourceContext = { log: { directory: join(dir, 'sources', '0'), checksumsFrom: 0 }, queryId: 'q', committedOffset: null };
  const s = source('latest', { startingOffsets: 'latest' });
  await s.open(context);
  t.strictSame(await s.latestOffset(null, 'limited'), { latest: { '0': 1, '1': 2 } }, 'nothing to read yet');
  await s.close();
  t.equal(await readFile(join(dir, 'sources', '0', '0'), 'utf8'), 'v1\n{"latest":{"0":1,"1":2}}\n');
  await publish(conn!, 'latest', [[1, line(3)]]);
  // A restart before the first commit starts where the first run decided, not at the new latest.
  const again = source('latest', { startingOffsets: 'latest' });
  await again.open(context);
  t.teardown(() => again.close());
  const end = await again.latestOffset(null, 'limited');
  t.strictSame(end, { latest: { '0': 1, '1': 3 } });
  t.strictSame(await readBatch(again, null, end!), [line(3)]);
});

t.test('startingOffsets as JSON: a sequence per partition, -2 for earliest, -1 for latest', { skip }, async (t) => {
  await partitionedStream(conn!, 'json', 3);
  const seqs = await publish(conn!, 'json', [[0, line(1)], [0, line(2)], [1, line(3)], [2, line(4)]]);
  const s = source('json', { startingOffsets: `{"json":{"0":${seqs[0]},"1":-2,"2":-1}}` });
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const end = await s.latestOffset(null, 'limited');
  t.strictSame(await readBatch(s, null, end!), [line(2), line(3)]);
  t.throws(() => source('json', { partitions: [0, 1], startingOffsets: '{"json":{"0":1}}' }), { code: 'ERR_INVALID_OPTION', option: 'startingOffsets', message: /lacks 1/ });
  t.throws(() => source('json', { startingOffsets: 'soon' }), { code: 'ERR_INVALID_OPTION', option: 'startingOffsets', message: /earliest, latest or a JSON object/ });
});

t.test('partitions: a process reads only the partitions it owns', { skip }, async (t) => {
  await partitionedStream(conn!, 'owned', 4);
  await publish(conn!, 'owned', [[0, line(0)], [1, line(1)], [2, line(2)], [3, line(3)]]);
  const s = source('owned', { partitions: '1-2' });
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const end = await s.latestOffset(null, 'limited');
  t.strictSame(end, { owned: { '1': 2, '2': 3 } });
  t.strictSame(await readBatch(s, null, end!), [line(1), line(2)]);
  t.strictSame(s.fingerprint(), { jetStream: 'owned', partitions: [1, 2] });
});

t.test('all partitions are those the stream declares, and partitions that appear later are read from their first message', { skip }, async (t) => {
  await partitionedStream(conn!, 'grow', 2);
  await publish(conn!, 'grow', [[0, line(0)]]);
  const s = source('grow');
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const first = await s.latestOffset(null, 'limited');
  t.strictSame(first, { grow: { '0': 1, '1': 0 } }, 'partition 1 is declared by the stream, empty so far');
  const seqs = await publish(conn!, 'grow', [[5, line(5)]]);
  const second = await s.latestOffset(first, 'limited');
  t.strictSame(second, { grow: { '0': 1, '1': 0, '5': seqs[0] } });
  t.strictSame(await readBatch(s, first, second!, 1), [line(5)]);
});

t.test("framing 'lines': one row per line, the subject as file and the message's sequence as line", { skip }, async (t) => {
  await partitionedStream(conn!, 'lines', 1);
  const seqs = await publish(conn!, 'lines', [[0, line(1)], [0, `${line(2)}\n${line(3)}\n`]]);
  const s = source('lines', { framing: 'lines' });
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const end = await s.latestOffset(null, 'limited');
  const rows = [];
  for await (const batch of s.getBatch(null, end!, 0)) for (let i = 0; i < batch.length; i++) rows.push(batch.row(i));
  t.strictSame(rows, [
    { value: line(1), file: 'lines.0', line: seqs[0], valid: true },
    { value: line(2), file: 'lines.0', line: seqs[1], valid: true },
    { value: line(3), file: 'lines.0', line: seqs[1], valid: true },
  ]);
});

t.test('a malformed message is reported by its partition and the line counted from the first sequence of its chunk', { skip }, async (t) => {
  await partitionedStream(conn!, 'bad', 1);
  const seqs = await publish(conn!, 'bad', [[0, line(1)], [0, '{"time": oops'], [0, line(3)]]);
  const query = await startQuery({
    source: source('bad'),
    stages: [new ParseSchema({ schema: 'time timestamp, action string', mode: 'FAILFAST', workers: 0 })],
    sink: new MemorySink(),
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  await t.rejects(query.awaitTermination(), { cause: { code: 'ERR_MALFORMED_RECORD', file: `bad.0 from sequence ${seqs[0]}`, line: 2 } });
});

t.test('with Trigger.AvailableNow the query reads what each partition held when it started, then stops', { skip }, async (t) => {
  await partitionedStream(conn!, 'now', 2);
  await publish(conn!, 'now', [[0, line(1)], [1, line(2)], [0, line(3)]]);
  const sink = new MemorySink();
  const s = source('now', { maxOffsetsPerTrigger: 1 });
  const query = await startQuery({ source: s, stages: [new ParseSchema({ schema: 'time timestamp, action string', workers: 0 })], sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  let published = false;
  query.on('progress', () => {
    if (published) return;
    published = true;
    void publish(conn!, 'now', [[0, line(9)], [1, line(9)]]);
  });
  await query.awaitTermination();
  t.strictSame(
    sink.rows().map((r) => (r['time'] as number) / 1000 - 1469501675).sort(),
    [1, 2, 3],
  );
  t.ok(query.recentProgress.length >= 2, 'one message per batch (maxOffsetsPerTrigger 1 shares at least one per partition)');
});

t.test("the progress's source metrics say how many messages are left behind the batch", { skip }, async (t) => {
  await partitionedStream(conn!, 'behind', 2);
  await publish(conn!, 'behind', [[0, line(1)], [0, line(2)], [0, line(3)], [1, line(4)]]);
  const query = await startQuery({
    source: source('behind', { maxOffsetsPerTrigger: 2 }),
    stages: [new ParseSchema({ schema: 'time timestamp, action string', workers: 0 })],
    sink: new MemorySink(),
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  await query.awaitTermination();
  const first = query.recentProgress[0]!;
  t.strictSame(first.sources[0]!.metrics, { avgOffsetsBehindLatest: '1', maxOffsetsBehindLatest: '2', minOffsetsBehindLatest: '0', numMalformedRecords: '0' });
  t.strictSame(first.sources[0]!.endOffset, { behind: { '0': 1, '1': 4 } });
});

t.test('messages a batch needs that are gone fail it with ERR_DATA_LOSS, or with failOnDataLoss false are skipped with a warning', { skip }, async (t) => {
  await partitionedStream(conn!, 'lost', 1);
  const seqs = await publish(conn!, 'lost', [[0, line(1)], [0, line(2)]]);
  const s = source('lost');
  await s.open(noCheckpoint);
  t.teardown(() => s.close());
  const end = await s.latestOffset(null, 'limited');
  await conn!.jsm.streams.deleteMessage('lost', seqs[1]!);
  await t.rejects(readBatch(s, null, end!), { code: 'ERR_DATA_LOSS', message: /lost\.0: messages up to sequence 2 were planned, but the last one kept is 1/ });
  const lenient = source('lost', { failOnDataLoss: false });
  const warnings: Error[] = [];
  lenient.on('warning', (w) => warnings.push(w));
  await lenient.open(noCheckpoint);
  t.teardown(() => lenient.close());
  t.strictSame(await readBatch(lenient, null, end!), [line(1)]);
  t.match(warnings, [{ code: 'ERR_DATA_LOSS' }]);
});

t.test('a restart reading other partitions than its checkpoint was written for is refused, naming them', { skip }, async (t) => {
  await partitionedStream(conn!, 'fp', 2);
  await publish(conn!, 'fp', [[0, line(1)], [1, line(2)]]);
  const dir = t.testdir();
  const run = async (partitions: number[]): Promise<void> => {
    const query = await startQuery({
      source: source('fp', { partitions }),
      stages: [new ParseSchema({ schema: 'time timestamp, action string', workers: 0 })],
      sink: new MemorySink(),
      trigger: 'availableNow',
      checkpointLocation: dir,
      manager: new StreamingQueryManager(),
    });
    await query.awaitTermination();
  };
  await run([0]);
  await t.rejects(run([0, 1]), { cause: { code: 'ERR_CHECKPOINT_MISMATCH', message: 'the query changed since the checkpoint was written: JetStreamSource partitions was [0], is now [0,1]' } });
});

t.test('a server that is down is ERR_NATS_UNAVAILABLE after bounded retries, naming the address', { skip }, async (t) => {
  const s = new JetStreamSource({ servers: 'nats://127.0.0.1:1', stream: 'events', connectTimeoutMs: 300 });
  const err = await s.open(noCheckpoint).then(
    () => null,
    (e: unknown) => e as Error & { code?: string },
  );
  t.equal(err?.code, 'ERR_NATS_UNAVAILABLE');
  const match = /^cannot reach the NATS server at nats:\/\/127\.0\.0\.1:1 \(connection refused.*\) after (\d+) attempts? over [\d.]+ s: is nats-server running there with JetStream/.exec(err?.message ?? '');
  t.ok(match, err?.message ?? 'no error');
  // Pauses of 100 ms, then 200 ms, within connectTimeoutMs 300: at most three attempts however slow the machine.
  t.ok(Number(match?.[1]) >= 1 && Number(match?.[1]) <= 3, `bounded: ${match?.[1]} attempts`);
});

t.test('a stream that does not exist is ERR_STREAM_NOT_FOUND, saying how to make one', { skip }, async (t) => {
  const s = source('nosuch');
  await t.rejects(s.open(noCheckpoint), { code: 'ERR_STREAM_NOT_FOUND', message: /^there is no stream 'nosuch' at nats:\/\/127\.0\.0\.1:\d+: create it by publishing to it \(tidemark publish --to/ });
});

t.test('options are checked when the source is made', async (t) => {
  t.throws(() => new JetStreamSource({ servers: 'nats://h:1', stream: 'a.b' }), { code: 'ERR_INVALID_OPTION', option: 'stream' });
  t.throws(() => new JetStreamSource({ servers: '', stream: 'a' }), { code: 'ERR_INVALID_OPTION', option: 'servers' });
  t.throws(() => new JetStreamSource({ servers: 'nats://h:1', stream: 'a', partitions: 'x' }), { code: 'ERR_INVALID_OPTION', option: 'partitions' });
  t.throws(() => new JetStreamSource({ servers: 'nats://h:1', stream: 'a', maxOffsetsPerTrigger: 0 }), { code: 'ERR_INVALID_OPTION', option: 'maxOffsetsPerTrigger' });
  t.throws(() => new JetStreamSource({ servers: 'nats://h:1', stream: 'a', checkpointLocation: 'x' } as never), { code: 'ERR_INVALID_OPTION', option: 'checkpointLocation' });
});

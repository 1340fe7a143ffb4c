/**
 * The JetStream source's stream-free rules: offsets in Spark's Kafka shape,
 * startingOffsets, partition lists, maxOffsetsPerTrigger's shares (Spark's
 * rateLimit) and nats:// addresses.
 */
import t from 'tap';
import {
  formatPartitionOffsets,
  parseNatsUrl,
  parsePartitionList,
  parsePartitionOffsets,
  parseStartingOffsets,
  partitionOfSubject,
  partitionedStreamDescription,
  partitionsOfDescription,
  prorate,
} from '../../lib/core/jetstream-offsets.js';

t.test("an offset is Spark's Kafka JSON: the stream, then each partition's last sequence, partitions ascending", async (t) => {
  const offset = formatPartitionOffsets('events', new Map([[10, 7], [2, 1250], [0, 1234]]));
  t.equal(JSON.stringify(offset), '{"events":{"0":1234,"2":1250,"10":7}}');
  t.strictSame(parsePartitionOffsets(offset, 'events'), new Map([[0, 1234], [2, 1250], [10, 7]]));
});

t.test('an unreadable offset in the checkpoint is ERR_CHECKPOINT_CORRUPT, saying what is wrong', async (t) => {
  t.throws(() => parsePartitionOffsets({ other: { '0': 1 } }, 'events'), { code: 'ERR_CHECKPOINT_CORRUPT', message: "a JetStream offset in the checkpoint is unreadable: names stream 'other', not 'events'" });
  t.throws(() => parsePartitionOffsets({ events: { x: 1 } }, 'events'), { code: 'ERR_CHECKPOINT_CORRUPT', message: /has partition 'x'/ });
  t.throws(() => parsePartitionOffsets({ events: { '0': -1 } }, 'events'), { code: 'ERR_CHECKPOINT_CORRUPT', message: /has -1 for partition 0/ });
  t.throws(() => parsePartitionOffsets(7, 'events'), { code: 'ERR_CHECKPOINT_CORRUPT' });
});

t.test('startingOffsets: earliest (the default), latest, or JSON with -2 and -1 markers', async (t) => {
  t.strictSame(parseStartingOffsets(undefined, 'e'), { kind: 'earliest' });
  t.strictSame(parseStartingOffsets('EARLIEST', 'e'), { kind: 'earliest' });
  t.strictSame(parseStartingOffsets('latest', 'e'), { kind: 'latest' });
  t.strictSame(parseStartingOffsets('{"e":{"0":23,"1":-2,"2":-1}}', 'e'), { kind: 'specific', offsets: new Map([[0, 23], [1, -2], [2, -1]]) });
  t.strictSame(parseStartingOffsets({ e: { '3': 5 } }, 'e'), { kind: 'specific', offsets: new Map([[3, 5]]) });
  t.throws(() => parseStartingOffsets('{"e":{"0":-3}}', 'e'), { code: 'ERR_INVALID_OPTION', option: 'startingOffsets', message: /-2 \(earliest\) or -1 \(latest\)/ });
  t.throws(() => parseStartingOffsets('{"x":{"0":1}}', 'e'), { code: 'ERR_INVALID_OPTION', option: 'startingOffsets', message: "startingOffsets names stream 'x', not 'e'" });
});

t.test('a partition list: numbers and ranges, sorted, without duplicates', async (t) => {
  t.strictSame(parsePartitionList('3,0, 1'), [0, 1, 3]);
  t.strictSame(parsePartitionList('0-3,2'), [0, 1, 2, 3]);
  t.strictSame(parsePartitionList([2, 2, 0]), [0, 2]);
  t.throws(() => parsePartitionList(''), { code: 'ERR_INVALID_OPTION', option: 'partitions', message: 'partitions lists no partition' });
  t.throws(() => parsePartitionList('3-1'), { message: "partitions has the empty range '3-1'" });
  t.throws(() => parsePartitionList('a'), { message: /partition numbers separated by commas/ });
  t.throws(() => parsePartitionList([-1]), { message: /≥ 0/ });
});

t.test("maxOffsetsPerTrigger is shared as Spark's rateLimit shares it", async (t) => {
  t.strictSame(prorate(6, new Map([[0, 20], [1, 10]])), new Map([[0, 4], [1, 2]]), 'in proportion to what is waiting');
  t.strictSame(prorate(10, new Map([[0, 1000], [1, 1]])), new Map([[0, 9], [1, 1]]), 'a share below one is one: small partitions are not starved');
  t.strictSame(prorate(100, new Map([[0, 3], [1, 4]])), new Map([[0, 3], [1, 4]]), 'never more than waits');
  t.strictSame(prorate(5, new Map([[0, 0], [1, 7]])), new Map([[0, 0], [1, 5]]));
  t.strictSame(prorate(5, new Map([[0, 0]])), new Map([[0, 0]]));
});

t.test('a nats:// address: servers (a cluster: several) and the stream or subject', async (t) => {
  t.strictSame(parseNatsUrl('nats://127.0.0.1:4222/events', 'stream', 'input'), { servers: ['127.0.0.1:4222'], name: 'events', display: 'nats://127.0.0.1:4222' });
  t.strictSame(parseNatsUrl('nats://a:1,b:2/counts.hourly', 'subject', 'output'), { servers: ['a:1', 'b:2'], name: 'counts.hourly', display: 'nats://a:1,b:2' });
  t.strictSame(parseNatsUrl('nats://me:secret@h:1/e', 'stream', 'input').display, 'nats://h:1', 'credentials are not shown');
  t.throws(() => parseNatsUrl('nats://h:1', 'stream', 'input'), { code: 'ERR_INVALID_OPTION', option: 'input', message: "input must be nats://HOST:PORT/STREAM, got 'nats://h:1'" });
  t.throws(() => parseNatsUrl('nats://h:1/a.b', 'stream', 'input'), { message: /'a\.b' is not a JetStream stream name/ });
  t.throws(() => parseNatsUrl('nats://h:1/a.*', 'subject', 'output'), { message: /'a\.\*' is not a subject to publish to/ });
  t.throws(() => parseNatsUrl('nats://h:99999/a', 'stream', 'input'), { message: /port 99999/ });
});

t.test("a partition's subject, and the partition count a stream's description records", async (t) => {
  t.equal(partitionOfSubject('events', 'events.12'), 12);
  t.equal(partitionOfSubject('events', 'events.x'), null);
  t.equal(partitionOfSubject('events', 'other.1'), null);
  t.strictSame(partitionsOfDescription(partitionedStreamDescription(4, 'user "id"')), { partitions: 4, key: 'user "id"' });
  t.equal(partitionsOfDescription('made by hand'), null);
  t.equal(partitionsOfDescription(undefined), null);
});

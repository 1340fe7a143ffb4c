/**
 * The partition of a key: Kafka's default partitioner, pinned to Kafka's own
 * murmur2 vectors (UtilsTest.testMurmur2) so that it can never drift.
 */
import t from 'tap';
import { keyText, murmur2, partitionOfKeyText, partitionOfRecord } from '../../lib/core/partition-hash.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test("murmur2 returns Kafka's values, as Java's signed int", async (t) => {
  t.equal(murmur2(utf8('21')), -973932308);
  t.equal(murmur2(utf8('foobar')), -790332482);
  t.equal(murmur2(utf8('a-little-bit-long-string')), -985981536);
  t.equal(murmur2(utf8('a-little-bit-longer-string')), -1486304829);
  t.equal(murmur2(utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')), -58897971);
  t.equal(murmur2(utf8('abc')), 479470107);
  t.equal(murmur2(utf8('')), 275646681);
});

t.test("a key's partition is toPositive(murmur2(utf8(text))) % partitions, as Kafka's producer computes it", async (t) => {
  t.equal(partitionOfKeyText('foobar', 10), 6);
  t.equal(partitionOfKeyText('foobar', 50), 16);
  t.strictSame(['Open', 'Close', 'Click', 'Scroll'].map((a) => partitionOfKeyText(a, 4)), [3, 2, 0, 2], "the notebook's actions over 4 partitions");
  t.equal(partitionOfKeyText('é', 7), (murmur2(Uint8Array.of(0xc3, 0xa9)) & 0x7fffffff) % 7, 'the bytes are UTF-8');
});

t.test('the key text: a string as it is, other JSON values as JSON, missing or null as null', async (t) => {
  t.equal(keyText('Open'), 'Open');
  t.equal(keyText(42), '42');
  t.equal(keyText(JSON.parse('42.0')), '42', '42.0 and 42 are the same key');
  t.equal(keyText(true), 'true');
  t.equal(keyText({ a: [1, 'x'] }), '{"a":[1,"x"]}');
  t.equal(keyText(null), 'null');
  t.equal(keyText(undefined), 'null');
});

t.test('a record without the key, or that is not an object, goes where a null key goes', async (t) => {
  const nullKey = partitionOfKeyText('null', 8);
  t.equal(partitionOfRecord({ other: 1 }, 'k', 8), nullKey);
  t.equal(partitionOfRecord(null, 'k', 8), nullKey);
  t.equal(partitionOfRecord([1, 2], 'k', 8), nullKey);
  t.equal(partitionOfRecord('text', 'k', 8), nullKey);
  t.equal(partitionOfRecord({ k: 'foobar' }, 'k', 10), 6);
});

/**
 * Which partition an event goes to: the rule `tidemark publish` uses, and
 * that every process of a scaled-out query relies on (a key's events all in
 * one partition, so its state lives in one process).
 *
 * The rule is Kafka's default partitioner, byte for byte:
 * `(murmur2(utf8(keyText)) & 0x7fffffff) % partitions`, with Kafka's
 * `Utils.murmur2` (seed `0x9747b28c`). A stream published by tidemark and a
 * Kafka topic written by a Java producer with the same key text put every
 * key in the same partition, so a query can move between the two without
 * moving state between processes.
 *
 * The key text of a JSON value: a string is its characters (no quotes);
 * any other value is its JSON text as `JSON.stringify` writes the parsed
 * value (`42`, `4.5`, `true`, `{"a":1}`: so `1.0` and `1` are the same key);
 * a missing or null key is the four characters `null`.
 *
 * Stable: changing anything here moves keys between partitions and breaks
 * every stream already published. Tests pin it to Kafka's own vectors.
 *
 * @module
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's `Utils.murmur2`: a signed 32-bit hash, as Java returns it. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // Java's switch falls through from 3 to 1: the last one to three bytes, then one multiplication.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

/** The key text of a parsed JSON value (see the module's rule). */
export function keyText(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Kafka's `toPositive(murmur2(key)) % partitions` over the UTF-8 bytes of `text`. */
export function partitionOfKeyText(text: string, partitions: number): number {
  return (murmur2(encoder.encode(text)) & 0x7fffffff) % partitions;
}

/**
 * The partition of a JSON line's event: the key text of field `keyField` of
 * the parsed line. A line that is not a JSON object (malformed, an array, a
 * scalar) has no key: it goes where a null key goes, so it is still read
 * (and counted as malformed) by the process owning that partition.
 */
export function partitionOfRecord(record: unknown, keyField: string, partitions: number): number {
  const key = typeof record === 'object' && record !== null && !Array.isArray(record) ? (record as Record<string, unknown>)[keyField] : null;
  return partitionOfKeyText(keyText(key), partitions);
}

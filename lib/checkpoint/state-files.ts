/**
 * State files of incremental checkpoints (Spark's HDFS-backed state store):
 * `state/<op>/<p>/<V>.snapshot` holds the whole state of partition `p` of
 * operator `op` after batch `V - 1`, `state/<op>/<p>/<V>.delta` what batch
 * `V - 1` changed in it.
 *
 * Format 2 (written now) is binary, so a commit copies the records' typed
 * arrays as they are instead of turning them into base64 text:
 *
 * ```
 * "TMST"  uint32 LE format (2)  uint32 LE header length H  uint32 LE 0
 * header: H bytes of JSON — {stage, version, configuration, kind, partition, numPartitions,
 *         sections: [["f64"|"i32"|"u8", elements], …], records: […]}
 * zero padding to a multiple of 8, then each section's little-endian bytes, each padded to 8
 * ```
 *
 * In `records` every typed array is `{"$s": i}`, the `i`-th section; the
 * rest of a record (its shape, a few numbers) stays JSON. The header is
 * small: what grows with the state is in the sections.
 *
 * Format 1 (written until this one, still read) is text: a header line,
 * then one JSON line per record, typed arrays as base64 (`{"$f64": "…"}`).
 * A file of format 1 starts with `{`, never with `TMST`.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { TidemarkError } from '../errors.js';
import type { StateImage } from '../protocol.js';
import { decodeTypedArrays, mapTypedArrays } from '../stages/snapshot-codec.js';

/** The header of a state file. */
export interface StateFileHeader {
  readonly stage: string;
  readonly version: number;
  readonly configuration: Record<string, unknown>;
  readonly kind: 'snapshot' | 'delta';
  readonly partition: number;
  readonly numPartitions: number;
}

/** The state file format {@link encodeStateFile} writes. */
export const STATE_FILE_FORMAT = 2;

const MAGIC = Buffer.from('TMST', 'latin1');
const PREFIX_BYTES = 16;
type SectionKind = 'f64' | 'i32' | 'u8';
const ELEMENT_BYTES: Record<SectionKind, number> = { f64: 8, i32: 4, u8: 1 };

// The sections are the arrays' own bytes: the format is little-endian, as every host Node runs on in practice.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const pad8 = (n: number): number => (n + 7) & ~7;

/** The bytes of partition `p` of `image` as a state file (format 2). */
export function encodeStateFile(image: StateImage, partition: number): Buffer {
  if (!LITTLE_ENDIAN) throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', 'state files are little-endian: this host is big-endian');
  const numPartitions = Math.max(1, image.partitions.length);
  const arrays: Array<Float64Array | Int32Array | Uint8Array> = [];
  const sections: Array<[SectionKind, number]> = [];
  // Each typed array becomes a section of the file; the header names it by its index.
  const toSection = (value: ArrayBufferView): unknown => {
    const kind: SectionKind | null = value instanceof Float64Array ? 'f64' : value instanceof Int32Array ? 'i32' : value instanceof Uint8Array ? 'u8' : null;
    if (kind === null) throw new TidemarkError('ERR_PROTOCOL', `a state record holds a ${value.constructor.name}, which state files do not carry`);
    arrays.push(value as Float64Array | Int32Array | Uint8Array);
    return { $s: sections.push([kind, (value as Float64Array | Int32Array | Uint8Array).length]) - 1 };
  };
  const records = (image.partitions[partition] ?? []).map((record) => mapTypedArrays(record, toSection));
  const header = Buffer.from(JSON.stringify({ stage: image.stage, version: image.version, configuration: image.configuration, kind: image.kind, partition, numPartitions, sections, records }), 'utf8');
  let total = pad8(PREFIX_BYTES + header.length);
  for (const array of arrays) total += pad8(array.byteLength);
  const out = Buffer.alloc(total);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(STATE_FILE_FORMAT, 4);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, PREFIX_BYTES);
  let at = pad8(PREFIX_BYTES + header.length);
  for (const array of arrays) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), at);
    at += pad8(array.byteLength);
  }
  return out;
}

/** Reads a state file's bytes (either format) back into an image of its one partition (records in `partitions[0]`). */
export function decodeStateFile(bytes: Buffer, path: string): { header: StateFileHeader; image: StateImage } {
  return bytes.length >= PREFIX_BYTES && bytes.subarray(0, 4).equals(MAGIC) ? decodeBinary(bytes, path) : decodeText(bytes, path);
}

function decodeBinary(bytes: Buffer, path: string): { header: StateFileHeader; image: StateImage } {
  const format = bytes.readUInt32LE(4);
  if (format !== STATE_FILE_FORMAT) throw corrupt(path, `it is in state file format ${format}; this release reads formats 1 and ${STATE_FILE_FORMAT}`);
  if (!LITTLE_ENDIAN) throw new TidemarkError('ERR_UNSUPPORTED_FORMAT', `state file ${path}: state files are little-endian: this host is big-endian`, { file: path });
  const headerLength = bytes.readUInt32LE(8);
  if (PREFIX_BYTES + headerLength > bytes.length) throw corrupt(path, `its header runs past its end (${headerLength} bytes from byte ${PREFIX_BYTES}, the file has ${bytes.length})`);
  let parsed: StateFileHeader & { sections?: unknown; records?: unknown };
  try {
    parsed = JSON.parse(bytes.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength)) as typeof parsed;
  } catch (err) {
    throw corrupt(path, `its header is not valid JSON: ${(err as Error).message}`);
  }
  const { sections, records, ...header } = parsed;
  checkHeader(header, path);
  if (!Array.isArray(sections) || !Array.isArray(records)) throw corrupt(path, 'its header lists no sections and records');
  // Views over the file's bytes where they are aligned (a read file's buffer is its own); copies where not.
  const arrays: Array<Float64Array | Int32Array | Uint8Array> = [];
  let at = pad8(PREFIX_BYTES + headerLength);
  for (const section of sections as unknown[]) {
    const [kind, length] = Array.isArray(section) ? (section as [unknown, unknown]) : [null, null];
    if ((kind !== 'f64' && kind !== 'i32' && kind !== 'u8') || !Number.isSafeInteger(length) || (length as number) < 0) {
      throw corrupt(path, `section ${arrays.length} is not a kind and a length: ${JSON.stringify(section)}`);
    }
    const byteLength = (length as number) * ELEMENT_BYTES[kind];
    if (at + byteLength > bytes.length) throw corrupt(path, `section ${arrays.length} runs past its end`);
    const offset = bytes.byteOffset + at;
    const aligned = offset % ELEMENT_BYTES[kind] === 0;
    const buffer = aligned ? bytes.buffer : bytes.buffer.slice(offset, offset + byteLength);
    const start = aligned ? offset : 0;
    arrays.push(kind === 'f64' ? new Float64Array(buffer, start, length as number) : kind === 'i32' ? new Int32Array(buffer, start, length as number) : new Uint8Array(buffer, start, length as number));
    at += pad8(byteLength);
  }
  const lower = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(lower);
    if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if (typeof o['$s'] === 'number') {
        const array = arrays[o['$s']];
        if (array === undefined) throw corrupt(path, `a record names section ${o['$s']}, of ${arrays.length}`);
        return array;
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) out[k] = lower(v);
      return out;
    }
    return value;
  };
  const image: StateImage = { stage: header.stage, version: header.version, configuration: header.configuration ?? {}, kind: header.kind, partitions: [records.map(lower)] };
  return { header, image };
}

// Format 1: a header line, then a JSON line per record.
function decodeText(bytes: Buffer, path: string): { header: StateFileHeader; image: StateImage } {
  const lines: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(10, from); ; at = bytes.indexOf(10, from)) {
    lines.push(bytes.subarray(from, at < 0 ? bytes.length : at));
    if (at < 0) break;
    from = at + 1;
  }
  let header: StateFileHeader;
  try {
    header = JSON.parse(lines[0]!.toString('utf8')) as StateFileHeader;
  } catch (err) {
    throw corrupt(path, `its header is not valid JSON: ${(err as Error).message}`);
  }
  checkHeader(header, path);
  const records: unknown[] = [];
  for (let i = 1; i < lines.length; i++) {
    try {
      records.push(decodeTypedArrays(JSON.parse(lines[i]!.toString('utf8'))));
    } catch (err) {
      throw corrupt(path, `line ${i + 1} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const image: StateImage = { stage: header.stage, version: header.version, configuration: header.configuration ?? {}, kind: header.kind, partitions: [records] };
  return { header, image };
}

function checkHeader(header: StateFileHeader, path: string): void {
  if (header === null || typeof header !== 'object' || typeof header.stage !== 'string' || typeof header.version !== 'number' || (header.kind !== 'snapshot' && header.kind !== 'delta')) {
    throw corrupt(path, 'its header does not name a stage, a format version and a kind');
  }
}

/** `12.snapshot` → 12 and `snapshot`; `12.delta`; `12.json` (the format before); or null. */
export function parseStateFileName(name: string): { version: number; kind: 'snapshot' | 'delta' | 'json' } | null {
  const match = /^(\d+)\.(snapshot|delta|json)$/.exec(name);
  return match === null ? null : { version: Number(match[1]), kind: match[2] as 'snapshot' | 'delta' | 'json' };
}

function corrupt(path: string, message: string): TidemarkError {
  return new TidemarkError('ERR_CHECKPOINT_CORRUPT', `state file ${path}: ${message}`, { file: path });
}

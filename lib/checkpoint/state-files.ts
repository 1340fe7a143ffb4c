/**
 * State files of incremental checkpoints (Spark's HDFS-backed state store):
 * `state/<op>/<p>/<V>.snapshot` holds the whole state of partition `p` of
 * operator `op` after batch `V - 1`, `state/<op>/<p>/<V>.delta` what batch
 * `V - 1` changed in it. Each is text: a header line (stage, format version,
 * configuration, kind, partition), then one line per record (see
 * `StateImage`), typed arrays as base64. Lines keep every string bounded:
 * a state of millions of groups is never one JSON text.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { TidemarkError } from '../errors.js';
import type { StateImage } from '../protocol.js';
import { decodeTypedArrays, encodeTypedArrays } from '../stages/snapshot-codec.js';

/** The first line of a state file. */
export interface StateFileHeader {
  readonly stage: string;
  readonly version: number;
  readonly configuration: Record<string, unknown>;
  readonly kind: 'snapshot' | 'delta';
  readonly partition: number;
  readonly numPartitions: number;
}

const NEWLINE = Buffer.from('\n');

/** The bytes of partition `p` of `image` as a state file. */
export function encodeStateFile(image: StateImage, partition: number): Buffer {
  const numPartitions = Math.max(1, image.partitions.length);
  const header: StateFileHeader = { stage: image.stage, version: image.version, configuration: image.configuration, kind: image.kind, partition, numPartitions };
  const pieces: Buffer[] = [Buffer.from(JSON.stringify(header), 'utf8')];
  for (const record of image.partitions[partition] ?? []) {
    pieces.push(NEWLINE, Buffer.from(JSON.stringify(encodeTypedArrays(record)), 'utf8'));
  }
  return Buffer.concat(pieces);
}

/** Reads a state file's bytes back into an image of its one partition (records in `partitions[0]`). */
export function decodeStateFile(bytes: Buffer, path: string): { header: StateFileHeader; image: StateImage } {
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
  if (typeof header.stage !== 'string' || typeof header.version !== 'number' || (header.kind !== 'snapshot' && header.kind !== 'delta')) {
    throw corrupt(path, 'its header does not name a stage, a format version and a kind');
  }
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

/** `12.snapshot` → 12 and `snapshot`; `12.delta`; `12.json` (the format before); or null. */
export function parseStateFileName(name: string): { version: number; kind: 'snapshot' | 'delta' | 'json' } | null {
  const match = /^(\d+)\.(snapshot|delta|json)$/.exec(name);
  return match === null ? null : { version: Number(match[1]), kind: match[2] as 'snapshot' | 'delta' | 'json' };
}

function corrupt(path: string, message: string): TidemarkError {
  return new TidemarkError('ERR_CHECKPOINT_CORRUPT', `state file ${path}: ${message}`, { file: path });
}

/**
 * Hadoop's checksum sidecar files, as Spark leaves them on a local file
 * system (`ChecksumFileSystem`): beside `dir/name` lies `dir/.name.crc`
 * holding the bytes `crc\0`, a big-endian int `bytesPerChecksum` (512), then
 * one big-endian CRC32 per 512-byte chunk of the file (none for an empty
 * file). Hadoop verifies a sidecar when it reads the file, so Spark reading a
 * checkpoint or `_spark_metadata` that tidemark wrote checks the same sums.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TidemarkError } from '../errors.js';

/** Hadoop's `file.bytes-per-checksum` default. */
export const BYTES_PER_CHECKSUM = 512;

const HEADER = Buffer.from([0x63, 0x72, 0x63, 0x00]); // "crc\0"

/** `dir/.name.crc`: where the checksum of `dir/name` lies (`ChecksumFileSystem.getChecksumFile`). */
export function checksumPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.crc`);
}

/** True for a sidecar's name (`.name.crc`). */
export function isChecksumName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.crc');
}

/** The sidecar's bytes for `data`. */
export function checksumFile(data: Uint8Array): Buffer {
  const chunks = Math.ceil(data.length / BYTES_PER_CHECKSUM);
  const out = Buffer.alloc(8 + 4 * chunks);
  HEADER.copy(out, 0);
  out.writeInt32BE(BYTES_PER_CHECKSUM, 4);
  for (let c = 0; c < chunks; c++) {
    out.writeUInt32BE(crc32(data.subarray(c * BYTES_PER_CHECKSUM, (c + 1) * BYTES_PER_CHECKSUM)), 8 + 4 * c);
  }
  return out;
}

/**
 * Checks `data` against a sidecar; returns null when it matches, else what is
 * wrong. Any `bytesPerChecksum` is accepted, as Hadoop's reader does.
 */
export function checksumProblem(data: Uint8Array, sidecar: Uint8Array): string | null {
  const crc = Buffer.from(sidecar.buffer, sidecar.byteOffset, sidecar.byteLength);
  if (crc.length < 8 || !crc.subarray(0, 4).equals(HEADER)) return 'is not a checksum file';
  const per = crc.readInt32BE(4);
  if (per <= 0) return `has an invalid bytesPerChecksum ${per}`;
  const chunks = Math.ceil(data.length / per);
  if (crc.length !== 8 + 4 * chunks) return `holds ${(crc.length - 8) / 4} checksums for ${chunks} chunks of ${per} bytes`;
  for (let c = 0; c < chunks; c++) {
    if (crc.readUInt32BE(8 + 4 * c) !== crc32(data.subarray(c * per, (c + 1) * per))) return `does not match bytes ${c * per}..${Math.min(data.length, (c + 1) * per) - 1}`;
  }
  return null;
}

/**
 * Reads `path` and checks it against its sidecar.
 *
 * @param required a sidecar must exist (the file was written by a version that writes them)
 * @throws the read error of `path` itself (ENOENT included: the caller knows what a missing file means)
 * @throws TidemarkError `ERR_CHECKPOINT_CORRUPT` naming the file when the sums differ, or the sidecar is missing and `required`
 */
export async function readChecked(path: string, required: boolean): Promise<Buffer> {
  const data = await readFile(path);
  let sidecar: Buffer;
  try {
    sidecar = await readFile(checksumPath(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!required) return data;
    throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `${path} has lost its checksum file ${checksumPath(path)}: it cannot be trusted`, { file: path });
  }
  const problem = checksumProblem(data, sidecar);
  if (problem !== null) {
    throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', `${path} was changed or damaged after it was written: its checksum file ${checksumPath(path)} ${problem}`, { file: path });
  }
  return data;
}

/** CRC32 of a whole buffer as 8 hex digits (how a commit records its state files). */
export function crc32Hex(data: Uint8Array): string {
  return crc32(data).toString(16).padStart(8, '0');
}

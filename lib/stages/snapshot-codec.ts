/**
 * Typed arrays in stage snapshots: a snapshot is written as JSON, where a
 * `Float64Array` of a million window starts would become megabytes of
 * decimal text. They travel as base64 of their little-endian bytes instead
 * (`{"$f64": "…"}`, `{"$i32": "…"}`, `{"$u8": "…"}`): exact, and far
 * cheaper to write and read.
 *
 * @module
 */
import { Buffer } from 'node:buffer';

/** A copy of a JSON-like `value` (arrays, plain objects) where every typed array is replaced by `replace(array)`. */
export function mapTypedArrays(value: unknown, replace: (array: ArrayBufferView) => unknown): unknown {
  if (ArrayBuffer.isView(value)) return replace(value);
  if (Array.isArray(value)) return value.map((v) => mapTypedArrays(v, replace));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapTypedArrays(v, replace);
    return out;
  }
  return value;
}

/** A copy of `value` where every typed array is replaced by its base64 form. */
export function encodeTypedArrays(value: unknown): unknown {
  return mapTypedArrays(value, (array) => {
    if (array instanceof Float64Array) return { $f64: base64(array) };
    if (array instanceof Int32Array) return { $i32: base64(array) };
    if (array instanceof Uint8Array) return { $u8: base64(array) };
    throw new TypeError(`a ${array.constructor.name} has no base64 form here`);
  });
}

/** The inverse of {@link encodeTypedArrays}. */
export function decodeTypedArrays(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeTypedArrays);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o['$f64'] === 'string') return new Float64Array(bytes(o['$f64']).buffer);
    if (typeof o['$i32'] === 'string') return new Int32Array(bytes(o['$i32']).buffer);
    if (typeof o['$u8'] === 'string') return bytes(o['$u8']);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = decodeTypedArrays(v);
    return out;
  }
  return value;
}

function base64(array: Float64Array | Int32Array | Uint8Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

// A fresh, aligned copy: a Buffer may sit at any offset of Node's pool.
function bytes(text: string): Uint8Array {
  const decoded = Buffer.from(text, 'base64');
  const copy = new Uint8Array(decoded.length);
  copy.set(decoded);
  return copy;
}

/**
 * State files: format 2 (binary: a JSON header, the records' typed arrays
 * as raw little-endian sections) is what a commit writes; format 1 (JSON
 * lines, typed arrays as base64), written before, is still read.
 */
import t from 'tap';
import { Buffer } from 'node:buffer';
import { decodeStateFile, encodeStateFile, STATE_FILE_FORMAT } from '../../lib/checkpoint/state-files.js';
import { encodeTypedArrays } from '../../lib/stages/snapshot-codec.js';
import type { StateImage } from '../../lib/protocol.js';

const record = {
  put: {
    size: 3,
    lanes: [{ utf8: new Uint8Array([104, 105, 195, 169]), ends: new Int32Array([2, 4]), ids: new Int32Array([0, 1, -1]) }, { f64: new Float64Array([1.5, -0, Number.MAX_VALUE]) }, { flag: new Uint8Array([0, 1, 0]) }],
    nulls: [new Int32Array([2]), null, null],
    sequence: new Float64Array([7, 8, 9]),
    buffers: { count: new Float64Array([1, 2, 3]), names: ['a', null] },
  },
};
const image: StateImage = { stage: 'KeyedCount', version: 5, configuration: { groupBy: ['k'] }, kind: 'delta', partitions: [[{ remove: { size: 0, lanes: [], nulls: [] } }, record]] };

t.test('a state file is written in format 2: the magic, the format, then a JSON header', async (t) => {
  const bytes = encodeStateFile(image, 0);
  t.equal(bytes.subarray(0, 4).toString('latin1'), 'TMST');
  t.equal(bytes.readUInt32LE(4), STATE_FILE_FORMAT);
  t.equal(STATE_FILE_FORMAT, 2);
  const header = JSON.parse(bytes.toString('utf8', 16, 16 + bytes.readUInt32LE(8))) as { sections: unknown };
  t.strictSame(header.sections, [['u8', 4], ['i32', 2], ['i32', 3], ['f64', 3], ['u8', 3], ['i32', 1], ['f64', 3], ['f64', 3]]);
  t.equal(bytes.length % 8, 0, 'every section padded to 8 bytes');
});

t.test('a format 2 state file reads back into the same records, typed arrays of the same kinds and values', async (t) => {
  const { header, image: read } = decodeStateFile(encodeStateFile(image, 0), '/x/1.delta');
  t.strictSame(header, { stage: 'KeyedCount', version: 5, configuration: { groupBy: ['k'] }, kind: 'delta', partition: 0, numPartitions: 1 });
  t.strictSame(read.partitions, image.partitions);
  const put = (read.partitions[0]![1] as typeof record).put;
  t.ok(put.sequence instanceof Float64Array && put.lanes[0]!.ids instanceof Int32Array && put.lanes[2]!.flag instanceof Uint8Array);
  t.ok(Object.is((put.lanes[1] as { f64: Float64Array }).f64[1], -0), 'bytes, not text: -0 stays -0');
});

t.test('a format 2 state file read from an unaligned buffer gives the same arrays', async (t) => {
  const bytes = encodeStateFile(image, 0);
  const shifted = Buffer.alloc(bytes.length + 1);
  bytes.copy(shifted, 1);
  t.strictSame(decodeStateFile(shifted.subarray(1), '/x/1.delta').image.partitions, image.partitions);
});

t.test('a format 1 state file (JSON lines, base64 typed arrays) is still read', async (t) => {
  const header = { stage: 'KeyedCount', version: 5, configuration: { groupBy: ['k'] }, kind: 'delta', partition: 0, numPartitions: 1 };
  const text = [header, ...image.partitions[0]!.map(encodeTypedArrays)].map((v) => JSON.stringify(v)).join('\n');
  const { image: read } = decodeStateFile(Buffer.from(text), '/x/1.delta');
  t.strictSame(read.partitions, image.partitions);
});

t.test('a state file of a format this release does not know is refused, naming the file and the format', async (t) => {
  const bytes = encodeStateFile(image, 0);
  bytes.writeUInt32LE(3, 4);
  t.throws(() => decodeStateFile(bytes, '/x/1.delta'), { code: 'ERR_CHECKPOINT_CORRUPT', file: '/x/1.delta', message: 'state file /x/1.delta: it is in state file format 3; this release reads formats 1 and 2' });
});

t.test('a truncated format 2 state file is refused, naming the file', async (t) => {
  const bytes = encodeStateFile(image, 0);
  t.throws(() => decodeStateFile(bytes.subarray(0, bytes.length - 8), '/x/1.delta'), { code: 'ERR_CHECKPOINT_CORRUPT', file: '/x/1.delta', message: 'state file /x/1.delta: section 7 runs past its end' });
});

/**
 * Reading a file source's byte chunks (`FileSource({ framing: 'chunks' })`):
 * the bookkeeping `ParseSchema` and `ChunkAggregate` share — which columns
 * hold the chunk, its file and offset; the line a chunk starts at (a source
 * reads one file at a time, so a chunk continues the line numbers of the one
 * before unless it opens a file); the batch's input and malformed counts;
 * read buffers handed back for reuse.
 *
 * @module
 */
import { rawValueAt, type BatchBuilder, type Column, type RecordBatch } from '../core/batch.js';
import type { ChunkRead, JsonReader } from '../core/json-reader.js';
import { giveReadBuffer } from '../core/read-buffers.js';
import { fieldIndex, type Schema } from '../core/schema.js';
import type { BarrierItem } from '../protocol.js';

/** One chunk of a batch. */
export interface Chunk {
  readonly bytes: Uint8Array;
  readonly file: string;
  /** Byte offset of the chunk in its file (0: the file's start). */
  readonly offset: number;
}

/** The chunk side of a stage that parses JSON lines. */
export class ChunkInput {
  readonly reader: JsonReader;
  #chunkIndex = -1;
  #fileIndex = -1;
  #offsetIndex = -1;
  /** Longest line the source allows (bytes). */
  maxLineLength = Infinity;
  /** The source gives its chunks away (FileSource): they may move to a worker instead of being copied. */
  handedOver = false;
  // The file being read and its next line number.
  #lineFile: string | null = null;
  #nextLine = 1;
  // This micro-batch: records read (blank lines excluded: the batch's input rows) and malformed ones.
  #records = 0;
  #malformed = 0;

  constructor(reader: JsonReader) {
    this.reader = reader;
  }

  /** True when `input` carries chunks. */
  static accepts(input: Schema): boolean {
    return fieldIndex(input, 'chunk') >= 0;
  }

  /** Reads the column layout of the source's schema. */
  plan(input: Schema): void {
    this.#chunkIndex = fieldIndex(input, 'chunk');
    this.#fileIndex = fieldIndex(input, 'file');
    this.#offsetIndex = fieldIndex(input, 'offset');
    const chunk = input.fields[this.#chunkIndex]!;
    this.maxLineLength = chunk.metadata?.maxLength ?? Infinity;
    this.handedOver = chunk.metadata?.handedOver === true;
  }

  /** The non-null chunks of a batch, in order. */
  *chunks(batch: RecordBatch): Iterable<Chunk> {
    const chunks = batch.columns[this.#chunkIndex] as Extract<Column, { kind: 'any' }>;
    for (let r = 0; r < batch.length; r++) {
      const bytes = chunks.values[r] as Uint8Array | null;
      if (bytes === null) continue;
      const file = this.#fileIndex >= 0 ? (rawValueAt(batch.columns[this.#fileIndex]!, r) as string) : '(input)';
      const offset = this.#offsetIndex >= 0 ? (rawValueAt(batch.columns[this.#offsetIndex]!, r) as number) : 0;
      yield { bytes, file, offset };
    }
  }

  /** Bytes of all chunks of a batch / 32: a builder capacity that rarely grows. */
  capacityOf(batch: RecordBatch): number {
    const chunks = batch.columns[this.#chunkIndex] as Extract<Column, { kind: 'any' }>;
    let capacity = 0;
    for (let r = 0; r < batch.length; r++) capacity += Math.ceil(((chunks.values[r] as Uint8Array | null)?.length ?? 0) / 32);
    return capacity;
  }

  /** The line a chunk starts at. */
  firstLineOf(chunk: { file: string; offset: number }): number {
    return chunk.offset === 0 || chunk.file !== this.#lineFile ? 1 : this.#nextLine;
  }

  /** Records that a chunk starting at `firstLine` was read (wherever it was read). */
  chunkRead(file: string, firstLine: number, read: ChunkRead): void {
    this.#records += read.records;
    this.#malformed += read.malformed;
    this.#lineFile = file;
    this.#nextLine = firstLine + read.lines;
  }

  /** Reads every chunk of a batch on this thread into `builder` (strings copied: read buffers go back). */
  readAll(batch: RecordBatch, builder: BatchBuilder): void {
    for (const chunk of this.chunks(batch)) {
      const firstLine = this.firstLineOf(chunk);
      const read = this.reader.readChunk(chunk.bytes, builder, chunk.file, firstLine, chunk.offset === 0, this.maxLineLength);
      if (this.handedOver) giveReadBuffer(chunk.bytes.buffer);
      this.chunkRead(chunk.file, firstLine, read);
    }
  }

  /** Counts malformed records met outside chunks (the row path). */
  addMalformed(count: number): void {
    this.#malformed += count;
  }

  /** Ends the batch: its input rows (chunk records) and malformed records go to the progress. */
  finishBatch(barrier: BarrierItem, chunked: boolean): void {
    if (chunked) barrier.progress.numInputRows = this.#records;
    barrier.progress.numMalformedRecords = (barrier.progress.numMalformedRecords ?? 0) + this.#malformed;
    this.#records = 0;
    this.#malformed = 0;
  }
}

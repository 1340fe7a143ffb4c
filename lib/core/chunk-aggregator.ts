/**
 * What a chunk worker does with one chunk, stream-free: read its lines,
 * window them and reduce them to partial aggregates (Spark's partial
 * `HashAggregate`), in one pass. The same object runs on a worker thread
 * (`chunk-worker.ts`) or on the query's thread (`ChunkAggregate`).
 *
 * Lines in the layout the scanner learned go through a fused kernel
 * (`JsonLineScanner.compileKernel`) that reads each line and counts it into
 * its group at once: no row is built. Any other line — another key order,
 * whitespace, escapes, a malformed record — is read by the
 * {@link JsonReader} as always (its rows, its errors with their line) and
 * its rows are folded into the same groups in line order, so the groups,
 * their order (first row) and the event-time figures are those of
 * {@link partialAggregate} over the rows the reader would have built: the
 * differential test in `test/core/chunk-aggregator.test.ts` holds the two
 * together.
 *
 * @module
 */
import { AggregateBuffers } from './aggregate-buffers.js';
import { columnKindOf, type Column, type RecordBatch } from './batch.js';
import { JsonReader, type ChunkRead, type JsonReaderOptions } from './json-reader.js';
import { KernelNeed, viewOf, type ChunkKernel, type KernelSink } from './json-scanner.js';
import { PaneWindows } from './pane-windows.js';
import { createAggregateStore, partialAggregate, type PartialAggregatePlan, type PartialAggregates } from './partial-aggregate.js';
import { figuresOfUs } from './watermark.js';

/** What a query's chunks are read and aggregated with. Plain data: it crosses threads. */
export interface ChunkAggregatorConfig {
  readonly reader: JsonReaderOptions;
  readonly plan: PartialAggregatePlan;
}

/** A chunk read and reduced to its groups. */
export interface ChunkAggregated extends ChunkRead {
  readonly groups: PartialAggregates;
}

// Lines in a row the kernel could not read before the rest of the chunk goes to the reader whole.
const MISSES_BEFORE_GIVING_UP = 16;
// A kernel's first lines are read a few lines a call. V8 optimises the kernel while it is still
// interpreted; in a call over a whole chunk it also compiles it a second time to enter the
// running loop (OSR), which costs a worker as much CPU as the first compile. In short calls the
// next call simply starts in the optimised code.
const WARM_UP_LINES = 200_000;
const WARM_UP_CALL_BYTES = 1024;
const EMPTY_I32 = new Int32Array(0);
// Keys (dictionary ids) below this are found in a slot's dense array; the others in the slot's map.
// Bounds the dense arrays (4 KiB a slot): a chunk with many windows and many distinct keys would
// otherwise hold an array as long as the dictionary for each window.
const DENSE_KEYS = 1024;

/**
 * A chunk's groups as they are found: per slot (window or pane start) an
 * array from key (string id + 1, 0: null) to group + 1; per group its slot
 * start, key and row count, in order of first row; the event-time figures;
 * and, when the aggregation needs values, each row's group and values.
 */
class ChunkGroups implements KernelSink {
  maxUs = -Infinity;
  minUs = Infinity;
  sumUs = 0;
  rows = 0;
  lines = 0;
  lastStart = NaN;
  lastEnd = NaN;
  cur: Int32Array = EMPTY_I32;
  counts: Float64Array = new Float64Array(64);
  starts: Float64Array = new Float64Array(64);
  keys = new Int32Array(64);
  length = 0;
  rowGroups: Int32Array;
  values: Float64Array[];
  nulls: Uint8Array[];
  // The slot current before this one (NaN: none), and its groups by key.
  prevStart = NaN;
  prevSlot: Int32Array = EMPTY_I32;
  readonly slideUs: number;
  need = 0;
  needTime = 0;
  needKey = 0;
  givenGroup = -1;
  #width = 1;
  #slots = new Map<number, Int32Array>();
  // Per slot start, groups of keys at or above DENSE_KEYS (key → group).
  #sparse = new Map<number, Map<number, number>>();
  readonly #startTimeUs: number;

  constructor(slideUs: number, startTimeUs: number, valueCount: number) {
    this.slideUs = slideUs;
    this.#startTimeUs = startTimeUs;
    const rows = valueCount === 0 ? 0 : 1024;
    this.rowGroups = new Int32Array(rows);
    this.values = Array.from({ length: valueCount }, () => new Float64Array(rows));
    this.nulls = Array.from({ length: valueCount }, () => new Uint8Array(rows));
  }

  /** Empties it for a chunk whose keys are (mostly) below `width` - 1. */
  reset(width: number): void {
    this.maxUs = -Infinity;
    this.minUs = Infinity;
    this.sumUs = 0;
    this.rows = 0;
    this.lines = 0;
    this.lastStart = NaN;
    this.lastEnd = NaN;
    this.cur = EMPTY_I32;
    this.prevStart = NaN;
    this.prevSlot = EMPTY_I32;
    this.need = KernelNeed.none;
    this.length = 0;
    this.#width = Math.min(width, DENSE_KEYS);
    this.#slots = new Map();
    this.#sparse = new Map();
  }

  slotOf(t: number): Int32Array {
    // Events a few seconds out of order cross a slot boundary and back (often, with 10-minute panes):
    // the slot before is kept at hand, so going back costs no remainder and no map lookup.
    if (t >= this.prevStart && t < this.prevStart + this.slideUs) {
      const start = this.prevStart;
      const slot = this.prevSlot;
      this.prevStart = this.lastStart;
      this.prevSlot = this.cur;
      this.lastStart = start;
      this.lastEnd = start + this.slideUs;
      this.cur = slot;
      return slot;
    }
    this.prevStart = this.lastStart;
    this.prevSlot = this.cur;
    // As partialCount computes it: the remainder only when a row leaves the slot of the row before.
    const remainder = (t - this.#startTimeUs) % this.slideUs;
    const start = t - (remainder < 0 ? remainder + this.slideUs : remainder);
    this.lastStart = start;
    this.lastEnd = start + this.slideUs;
    let slot = this.#slots.get(start);
    if (slot === undefined) {
      slot = new Int32Array(this.#width);
      this.#slots.set(start, slot);
    }
    this.cur = slot;
    return slot;
  }

  newGroup(k: number): number {
    let slot = this.cur;
    let sparse: Map<number, number> | undefined;
    if (k >= DENSE_KEYS) {
      // Past the dense array: the slot's map, which may already hold the key.
      sparse = this.#sparse.get(this.lastStart);
      if (sparse === undefined) this.#sparse.set(this.lastStart, (sparse = new Map()));
      const found = sparse.get(k);
      if (found !== undefined) return found;
    } else if (k >= slot.length) {
      // A key first seen in this chunk: the slot's array grows (keys are dense ids).
      const grown = new Int32Array(Math.min(DENSE_KEYS, Math.max(k + 1, slot.length * 2)));
      grown.set(slot);
      this.#slots.set(this.lastStart, grown);
      this.cur = slot = grown;
      if (k >= this.#width) this.#width = grown.length;
    }
    const g = this.length++;
    if (g >= this.counts.length) {
      const capacity = this.counts.length * 2;
      this.counts = grow(this.counts, capacity);
      this.starts = grow(this.starts, capacity);
      const keys = new Int32Array(capacity);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.counts[g] = 0;
    this.starts[g] = this.lastStart;
    this.keys[g] = k;
    if (sparse === undefined) slot[k] = g + 1;
    else sparse.set(k, g);
    return g;
  }

  growRows(rows: number): void {
    const capacity = Math.max(1024, rows * 2);
    const groups = new Int32Array(capacity);
    groups.set(this.rowGroups.subarray(0, rows));
    this.rowGroups = groups;
    this.values = this.values.map((v) => grow(v, capacity));
    this.nulls = this.nulls.map((n) => {
      const out = new Uint8Array(capacity);
      out.set(n.subarray(0, rows));
      return out;
    });
  }

  /**
   * Adds the rows of a batch the reader built, as the kernel adds a line:
   * `time` its time column, `key` its key column (null: no key), `values` the
   * columns whose values are kept.
   */
  fold(batch: RecordBatch, timeIndex: number, keyIndex: number, valueIndexes: readonly number[]): void {
    const time = batch.columns[timeIndex] as Extract<Column, { kind: 'f64' }>;
    const key = keyIndex < 0 ? null : (batch.columns[keyIndex] as Extract<Column, { kind: 'dict' }>);
    const values = valueIndexes.map((i) => batch.columns[i] as Extract<Column, { kind: 'f64' }>);
    for (let i = 0; i < batch.length; i++) {
      let g = -1;
      if (time.nulls !== null && time.nulls[i] === 1) {
        if (0 > this.maxUs) this.maxUs = 0;
        if (0 < this.minUs) this.minUs = 0;
      } else {
        const t = time.values[i]!;
        if (t > this.maxUs) this.maxUs = t;
        if (t < this.minUs) this.minUs = t;
        this.sumUs += t;
        if (!(t >= this.lastStart && t < this.lastEnd)) this.slotOf(t);
        const k = key === null ? 0 : key.ids[i]! + 1;
        g = k < this.cur.length ? this.cur[k]! - 1 : -1;
        if (g < 0) g = this.newGroup(k);
        this.counts[g]++;
      }
      if (values.length > 0) {
        if (this.rows >= this.rowGroups.length) this.growRows(this.rows);
        this.rowGroups[this.rows] = g;
        for (let j = 0; j < values.length; j++) {
          const column = values[j]!;
          const isNull = column.nulls !== null && column.nulls[i] === 1;
          this.values[j]![this.rows] = isNull ? 0 : column.values[i]!;
          this.nulls[j]![this.rows] = isNull ? 1 : 0;
        }
      }
      this.rows++;
    }
  }
}

function grow(values: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(capacity);
  out.set(values.subarray(0, Math.min(values.length, capacity)));
  return out;
}

/** Reads and partially aggregates chunks of one query. */
export class ChunkAggregator {
  readonly reader: JsonReader;
  readonly plan: PartialAggregatePlan;
  // The schema columns whose values the aggregates take (numbers only; null: not fused).
  readonly #valueIndexes: readonly number[] | null;
  readonly #groups: ChunkGroups | null;
  readonly #buffers: AggregateBuffers | null;
  // Panes into windows, when the slots are panes.
  readonly #paneWindows: PaneWindows | null;
  // The kernel last run, and how many lines it has read in short calls (see WARM_UP_LINES).
  #warmingKernel: ChunkKernel | null = null;
  #warmUpLines = 0;

  constructor(config: ChunkAggregatorConfig) {
    this.reader = new JsonReader(config.reader);
    this.plan = config.plan;
    const schema = config.reader.schema;
    const store = config.plan.store;
    let valueIndexes: number[] | null = [];
    if (store.kind === 'aggregates') {
      for (const a of store.aggregates) {
        if (a.inputIndex < 0 || valueIndexes.includes(a.inputIndex)) continue;
        const field = schema.fields[a.inputIndex];
        // Strings, decimals and other kinds go through their own buffers' loops: the rows path.
        if (field === undefined || columnKindOf(field.dataType) !== 'f64') valueIndexes = null;
        if (valueIndexes === null) break;
        valueIndexes.push(a.inputIndex);
      }
    }
    this.#valueIndexes = valueIndexes;
    this.#groups = valueIndexes === null ? null : new ChunkGroups(config.plan.slideUs, config.plan.startTimeUs, valueIndexes.length);
    this.#buffers = store.kind === 'aggregates' && valueIndexes !== null ? new AggregateBuffers(store.aggregates) : null;
    const perPane = config.plan.panesPerWindow ?? 1;
    this.#paneWindows = perPane > 1 ? new PaneWindows(createAggregateStore(store), perPane, config.plan.slideUs) : null;
  }

  /**
   * Reads a chunk of whole lines whose first is line `firstLine` of `file`
   * (see {@link JsonReader.readChunk}; FAILFAST throws, naming the line) and
   * reduces it to its groups.
   */
  read(bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, batchTimestampMs: number, firstLine = 1): ChunkAggregated {
    const reader = this.reader;
    reader.setBatchTimestamp(batchTimestampMs);
    // Rows the kernel cannot read are built here, folded and dropped: one builder serves.
    const builder = reader.scratchBuilder(this.#groups === null ? Math.ceil(bytes.length / 32) : 64);
    if (this.#groups === null) {
      const { lines, records, malformed } = reader.readChunk(bytes, builder, file, firstLine, fileStart, maxLineLength);
      return { lines, records, malformed, groups: this.#windowsOf(partialAggregate(builder.finish(), this.plan)) };
    }
    const g = this.#groups;
    const { timeIndex, keyIndex } = this.plan;
    const valueIndexes = this.#valueIndexes!;
    g.reset(keyIndex < 0 ? 1 : reader.dictionaryOf(keyIndex).size + 1);
    const view = viewOf(bytes);
    const end = bytes.length;
    // Tested on every chunk though only a file's first can start with a BOM: a test V8 first met
    // once the function was optimised (the second file's first chunk) sent it back to be compiled again.
    const bom = end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    let pos = fileStart && bom ? 3 : 0;
    let line = firstLine;
    let records = 0;
    let malformed = 0;
    let version = reader.layoutVersion;
    let kernel: ChunkKernel | null = reader.kernel(timeIndex, keyIndex, valueIndexes);
    let misses = 0;
    while (pos < end) {
      if (kernel !== null) {
        if (kernel !== this.#warmingKernel) {
          this.#warmingKernel = kernel;
          this.#warmUpLines = 0;
        }
        let stop = end;
        if (this.#warmUpLines < WARM_UP_LINES && end - pos > WARM_UP_CALL_BYTES) {
          const newline = bytes.indexOf(0x0a, pos + WARM_UP_CALL_BYTES);
          if (newline >= 0) stop = newline + 1;
        }
        const before = g.lines;
        pos = kernel(bytes, view, pos, stop, g, maxLineLength);
        const read = g.lines - before;
        this.#warmUpLines += read;
        line += read;
        records += read;
        if (read > 0) misses = 0;
        if (g.need !== KernelNeed.none) {
          if (g.need === KernelNeed.slot) g.slotOf(g.needTime);
          else if (g.need === KernelNeed.group) g.givenGroup = g.newGroup(g.needKey);
          else g.growRows(g.rows);
          continue;
        }
        if (pos >= end) break;
        if (pos === stop) continue;
      }
      // The line the kernel stopped at (or, when the kernel keeps missing, the rest of the chunk)
      // through the reader, which learns layouts, reads what the kernel does not and raises errors.
      let stop = end;
      if (misses < MISSES_BEFORE_GIVING_UP) {
        const newline = bytes.indexOf(0x0a, pos);
        if (newline >= 0) stop = newline + 1;
      }
      builder.reset();
      const read = reader.readChunk(bytes.subarray(pos, stop), builder, file, line, false, maxLineLength);
      g.fold(builder.finish(), timeIndex, keyIndex, valueIndexes);
      line += read.lines;
      records += read.records;
      malformed += read.malformed;
      pos = stop;
      misses++;
      if (reader.layoutVersion !== version) {
        version = reader.layoutVersion;
        kernel = reader.kernel(timeIndex, keyIndex, valueIndexes);
        misses = 0;
      }
    }
    return { lines: line - firstLine, records, malformed, groups: this.#windowsOf(this.#groupsOf(g)) };
  }

  // Groups of panes go out as their windows: combined here, where the chunk is read, and not once
  // per window and pane row in the keyed state.
  #windowsOf(groups: PartialAggregates): PartialAggregates {
    return this.#paneWindows === null ? groups : this.#paneWindows.expand(groups);
  }

  #groupsOf(g: ChunkGroups): PartialAggregates {
    const n = g.length;
    const keyIndex = this.plan.keyIndex;
    let keys: Array<string | null> | null = null;
    if (keyIndex >= 0) {
      const strings = this.reader.dictionaryOf(keyIndex).values;
      keys = new Array<string | null>(n);
      for (let i = 0; i < n; i++) keys[i] = g.keys[i] === 0 ? null : strings[g.keys[i]! - 1]!;
    }
    let partial: Column[];
    const buffers = this.#buffers;
    if (buffers === null) {
      partial = [{ kind: 'f64', values: g.counts.slice(0, n), nulls: null }];
    } else {
      buffers.ensureCapacity(n);
      const slots = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        slots[i] = i;
        buffers.reset(i);
      }
      const input: Column[] = [];
      this.#valueIndexes!.forEach((index, j) => {
        input[index] = { kind: 'f64', values: g.values[j]!.subarray(0, g.rows), nulls: g.nulls[j]!.subarray(0, g.rows) };
      });
      buffers.accumulate(g.rowGroups.subarray(0, g.rows), g.rows, input, null);
      partial = buffers.writePartial(slots, n);
    }
    return { length: n, slotStarts: g.starts.slice(0, n), keys, partial, eventTime: g.rows === 0 ? null : figuresOfUs(g.maxUs, g.minUs, g.sumUs, g.rows) };
  }
}

/**
 * {@link AggregateBuffers}: the aggregation buffers of every group of a
 * keyed aggregation, columnar. The caller maps each group to a small integer
 * slot (its own allocation: a dense array index, a free list…); the buffers
 * hold, per slot, what Spark's aggregation buffer holds per group, in typed
 * arrays that grow by capacity — no object per group, no closure per row.
 *
 * One object serves the three places aggregation happens:
 * - the row path: {@link AggregateBuffers.accumulate} a batch's rows
 *   (optionally weighted: a row that stands for n identical rows);
 * - the push-down: {@link AggregateBuffers.writePartial} turns a chunk's
 *   slots into partial-aggregate columns (Spark's partial `HashAggregate`
 *   output), {@link AggregateBuffers.mergePartial} adds them in state, and
 *   {@link AggregateBuffers.mergeSlots} merges two groups (session windows);
 * - the state: {@link AggregateBuffers.snapshot}/{@link AggregateBuffers.restore}
 *   and {@link AggregateBuffers.writeResults} (Spark's result columns).
 *
 * Merging is exact and order-free for counts and integral/decimal sums, and
 * order-free for min/max except that of two equal values the one held first
 * stays (`-0.0` vs `0.0`, as in Spark). Double sums are IEEE additions, as
 * in Spark: a different grouping of the same values can change the last
 * bits. A weighted double adds `value × weight` once (Spark would add it
 * `weight` times; the two can differ in the last bit).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { Column } from './batch.js';
import {
  DecimalSumCell,
  DoubleSumCell,
  LongSumCell,
  NonNullCell,
  NumberColumnPass,
  NumberExtremeCell,
  ObjectExtremeCell,
  RowCountCell,
  STRING_ORDER,
  decimalOrder,
  type Cell,
} from './aggregate-cells.js';
import { isIntegralType, type ResolvedAggregate } from './aggregate-spec.js';
import { boundedDecimal, divideHalfUp, divideResultType, fitsPrecision, formatUnscaled, MAX_DECIMAL_PRECISION, pow10, rescaleHalfUp } from './decimal.js';
import type { DataType, Field } from './schema.js';

/** {@link AggregateBuffers} options. */
export interface AggregateBuffersOptions {
  /**
   * Spark's `spark.sql.ansi.enabled`. Off (Spark 3.5's default): an integral
   * sum beyond the bigint range wraps around as Java's `long` does, and a
   * decimal sum beyond its precision is null. On (Spark 4's default): both
   * throw `ERR_ARITHMETIC_OVERFLOW` with Spark's `[ARITHMETIC_OVERFLOW]` text.
   */
  readonly ansi?: boolean;
}

/** The compact, JSON-friendly form {@link AggregateBuffers.snapshot} returns. */
export interface AggregateSnapshot {
  readonly version: 1;
  /** The buffers' ids in order (`count`, `count(x)`, `sum(x)`, `max(x)`…): what the state holds. */
  readonly layout: readonly string[];
  /** Number of groups. */
  readonly size: number;
  /** One entry per buffer: base64 of float64s, or arrays of strings. */
  readonly cells: readonly unknown[];
}

/** Writes one aggregate's result column from its cells. */
type ResultWriter = (slots: Int32Array, length: number) => Column;

/**
 * Per-slot aggregation buffers of a list of aggregates (see the module
 * documentation). Slots must be below the capacity ({@link ensureCapacity});
 * a new slot, and one {@link reset}, is empty: counts 0, sums/min/max null.
 */
export class AggregateBuffers {
  /** The aggregates, in result order. */
  readonly aggregates: readonly ResolvedAggregate[];
  readonly #cells: Cell[] = [];
  /** What {@link accumulate} runs, in order: a fused pass per number column, else a cell's own loop. */
  readonly #steps: AccumulateStep[];
  readonly #writers: ResultWriter[] = [];
  readonly #ansi: boolean;
  #capacity = 0;

  constructor(aggregates: readonly ResolvedAggregate[], options: AggregateBuffersOptions = {}) {
    this.aggregates = aggregates;
    this.#ansi = options.ansi === true;
    const byId = new Map<string, Cell>();
    const cell = <C extends Cell>(id: string, make: () => C): C => {
      let c = byId.get(id) as C | undefined;
      if (c === undefined) {
        c = make();
        byId.set(id, c);
        this.#cells.push(c);
      }
      return c;
    };
    for (const a of aggregates) this.#writers.push(this.#plan(a, cell));
    this.#steps = accumulateSteps(this.#cells);
  }

  /** Slots the buffers hold now. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Grows the buffers to hold at least `slots` slots (doubling, so growing one slot at a time stays linear); new slots are empty. */
  ensureCapacity(slots: number): void {
    if (slots <= this.#capacity) return;
    const capacity = Math.max(slots, this.#capacity * 2, 16);
    for (const c of this.#cells) c.grow(capacity);
    this.#capacity = capacity;
  }

  /** Empties a slot (count 0, sums/min/max null), for a group that is new or was evicted. */
  reset(slot: number): void {
    for (const c of this.#cells) c.reset(slot);
  }

  /**
   * Adds the rows of a batch: row `i` goes to slot `slots[i]` (-1: skip the
   * row) and stands for `weights[i]` identical rows (a positive integer:
   * rows that are already counts, panes), or one when `weights` is null.
   * `input` are the batch's columns, indexed as the schema the aggregates
   * were resolved against. One loop over the batch per number column (its
   * count, sums, min and max together; the first also counts the rows) and
   * one per other buffer.
   */
  accumulate(slots: Int32Array, length: number, input: readonly Column[], weights: Float64Array | null = null): void {
    for (const step of this.#steps) step(slots, length, input, weights);
  }

  /**
   * The columns of a partial-aggregate row, one or two per buffer: `count`,
   * `count(x)` (non-null values of x), `sum(x)` (double, or bigint with an
   * exact `sum(x)#remainder`, or decimal — null once overflowed),
   * `sum(CAST(x AS DOUBLE))` (avg of an integral x), `min(x)`, `max(x)`
   * (null when the group saw no value).
   */
  partialFields(): Field[] {
    return this.#cells.flatMap((c) => c.partialFields());
  }

  /** The partial columns ({@link partialFields}) of `slots[0..length)`: what a push-down sends on. */
  writePartial(slots: Int32Array, length: number): Column[] {
    return this.#cells.flatMap((c) => c.writePartial(slots, length));
  }

  /** Merges partial rows (columns as {@link partialFields}) into the slots: row `i` into `slots[i]` (-1: skip). */
  mergePartial(slots: Int32Array, length: number, partial: readonly Column[]): void {
    let at = 0;
    for (const c of this.#cells) {
      const width = c.partialFields().length;
      const columns = partial.slice(at, at + width);
      if (columns.length !== width) throw new TidemarkError('ERR_PROTOCOL', `partial aggregate rows need ${this.partialFields().length} columns, got ${partial.length}`);
      c.mergePartial(slots, length, columns);
      at += width;
    }
  }

  /** Merges slot `source` into slot `target` (two session windows becoming one); `source` keeps its values. */
  mergeSlots(target: number, source: number): void {
    for (const c of this.#cells) c.mergeSlots(target, source);
  }

  /** Spark's result columns: the aggregates' names and result types (`count`s never null). */
  resultFields(): Field[] {
    return this.aggregates.map((a) => ({ name: a.name, dataType: a.resultType, nullable: a.fn !== 'count' && a.fn !== 'count_col' }));
  }

  /**
   * The results of `slots[0..length)`, one column per aggregate
   * ({@link resultFields}). bigint results are f64 columns, except when a sum
   * reaches 2^53: then that call's column is an `any` column whose large
   * values are `bigint`s (exact; the JSON sink and `show()` print them).
   * Decimals are `any` columns of plain strings.
   *
   * @throws TidemarkError `ERR_ARITHMETIC_OVERFLOW` with `ansi` when a decimal sum overflowed.
   */
  writeResults(slots: Int32Array, length: number): Column[] {
    return this.#writers.map((write) => write(slots, length));
  }

  /** The state of `slots[0..length)`, compact and JSON-friendly ({@link AggregateSnapshot}). */
  snapshot(slots: Int32Array, length: number): AggregateSnapshot {
    return { version: 1, layout: this.#cells.map((c) => c.id), size: length, cells: this.#cells.map((c) => c.snapshot(slots, length)) };
  }

  /**
   * Writes a snapshot's groups into slots: group `i` into `slots[i]`
   * (`slots` must hold `size` entries, below the capacity).
   *
   * @throws TidemarkError `ERR_SNAPSHOT_VERSION` for an unknown version;
   *   `ERR_CHECKPOINT_MISMATCH` when the snapshot holds other buffers than
   *   these aggregates need (naming both); `ERR_CHECKPOINT_CORRUPT` when it
   *   is not a snapshot these buffers wrote.
   */
  restore(data: unknown, slots: Int32Array): void {
    const d = data as Partial<AggregateSnapshot> | null;
    if (d === null || typeof d !== 'object') throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', 'aggregate state: not a snapshot object');
    if (d.version !== 1) throw new TidemarkError('ERR_SNAPSHOT_VERSION', `aggregate state: snapshot version ${String(d.version)} is not one this version of tidemark reads (1)`);
    const layout = this.#cells.map((c) => c.id);
    if (!Array.isArray(d.layout) || d.layout.join('\u0000') !== layout.join('\u0000')) {
      throw new TidemarkError(
        'ERR_CHECKPOINT_MISMATCH',
        `aggregate state holds [${Array.isArray(d.layout) ? d.layout.join(', ') : '?'}] but the query's aggregates need [${layout.join(', ')}]: the aggregates changed since the checkpoint was written`,
      );
    }
    const size = d.size;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > slots.length || !Array.isArray(d.cells) || d.cells.length !== layout.length) {
      throw new TidemarkError('ERR_CHECKPOINT_CORRUPT', 'aggregate state: malformed snapshot');
    }
    this.#cells.forEach((c, k) => c.restore(d.cells![k], slots, size));
  }

  /** Bytes the buffers take (capacity included), for `memoryUsedBytes`. */
  bytesUsed(): number {
    let total = 0;
    for (const c of this.#cells) total += c.bytesUsed();
    return total;
  }

  // How aggregate `a` is kept: which cells, and how its result column is written.
  #plan(a: ResolvedAggregate, cell: <C extends Cell>(id: string, make: () => C) => C): ResultWriter {
    if (a.fn === 'count') {
      const rows = cell('count', () => new RowCountCell());
      return (slots, length) => ({ kind: 'f64', values: gather(rows.values, slots, length), nulls: null });
    }
    const column = a.column!;
    const index = a.inputIndex;
    const t = a.inputType!;
    const nonNull = cell(`count(${column})`, () => new NonNullCell(column, index));
    switch (a.fn) {
      case 'count_col':
        return (slots, length) => ({ kind: 'f64', values: gather(nonNull.values, slots, length), nulls: null });
      case 'sum':
        if (isIntegralType(t)) {
          const sum = cell(`sum(${column})`, () => new LongSumCell(column, index, this.#ansi));
          return (slots, length) => longSumResult(sum, nonNull, slots, length);
        }
        if (t.type === 'decimal') {
          const sum = this.#decimalSum(cell, column, index, t);
          return (slots, length) => decimalSumResult(sum, nonNull, slots, length, this.#ansi);
        }
        {
          const sum = cell(`sum(${column})`, () => new DoubleSumCell(`sum(${column})`, index));
          return (slots, length) => doubleResult(sum.values, nonNull.values, slots, length, 1);
        }
      case 'avg': {
        if (t.type === 'decimal') {
          const sum = this.#decimalSum(cell, column, index, t);
          const result = a.resultType as Extract<DataType, { type: 'decimal' }>;
          return (slots, length) => decimalAvgResult(sum, nonNull, result, slots, length, this.#ansi);
        }
        // Spark sums CAST(x AS DOUBLE): for a double column that is sum(x)'s buffer too.
        const id = isIntegralType(t) ? `sum(CAST(${column} AS DOUBLE))` : `sum(${column})`;
        const sum = cell(id, () => new DoubleSumCell(id, index));
        return (slots, length) => doubleResult(sum.values, nonNull.values, slots, length, 2);
      }
      case 'min':
      case 'max': {
        const isMax = a.fn === 'max';
        const id = `${a.fn}(${column})`;
        if (t.type === 'string') {
          const c = cell(id, () => new ObjectExtremeCell(column, index, isMax, t, STRING_ORDER));
          return (slots, length) => c.result(slots, length);
        }
        if (t.type === 'decimal') {
          const c = cell(id, () => new ObjectExtremeCell(column, index, isMax, t, decimalOrder(t.scale)));
          return (slots, length) => c.result(slots, length);
        }
        const c = cell(id, () => new NumberExtremeCell(column, index, isMax, t, nonNull));
        return (slots, length) => c.result(slots, length);
      }
    }
  }

  #decimalSum(cell: <C extends Cell>(id: string, make: () => C) => C, column: string, index: number, t: Extract<DataType, { type: 'decimal' }>): DecimalSumCell {
    const bufferType = boundedDecimal(t.precision + 10, t.scale);
    return cell(`sum(${column})`, () => new DecimalSumCell(column, index, t.scale, bufferType.precision));
  }
}

type AccumulateStep = (slots: Int32Array, length: number, input: readonly Column[], weights: Float64Array | null) => void;

/**
 * The loops of {@link AggregateBuffers.accumulate}: the number buffers of one
 * input column (non-null count, sums, min, max) share one pass when the
 * rows are unweighted numbers, and the first such pass counts the rows too;
 * every other buffer runs its own loop.
 */
function accumulateSteps(cells: readonly Cell[]): AccumulateStep[] {
  const steps: AccumulateStep[] = [];
  const fused = new Set<Cell>();
  let rowCount = (cells.find((c) => c instanceof RowCountCell) as RowCountCell | undefined) ?? null;
  for (const cell of cells) {
    if (!(cell instanceof NonNullCell)) continue;
    const mine = cells.filter((c) => c.inputIndex === cell.inputIndex);
    const pick = <C>(type: abstract new (...args: never[]) => C, test: (c: C) => boolean = () => true): C | null =>
      (mine.find((c) => c instanceof type && test(c as C)) as C | undefined) ?? null;
    const pass = new NumberColumnPass(
      rowCount,
      cell,
      pick(DoubleSumCell),
      pick(LongSumCell),
      pick(NumberExtremeCell, (c) => !c.isMax),
      pick(NumberExtremeCell, (c) => c.isMax),
    );
    if (pass.cells().length === (rowCount === null ? 1 : 2) && mine.length > 1) continue; // only counts beside other kinds of buffers: nothing to fuse
    const covered = pass.cells();
    for (const c of covered) fused.add(c);
    rowCount = null; // counted by this pass
    const index = cell.inputIndex;
    steps.push((slots, length, input, weights) => {
      const column = input[index] ?? missing(cell);
      if (weights === null && column.kind === 'f64') pass.run(slots, length, column.values, column.nulls);
      else for (const c of covered) c.accumulate(slots, length, column, weights);
    });
  }
  for (const cell of cells) {
    if (fused.has(cell)) continue;
    const index = cell.inputIndex;
    steps.push((slots, length, input, weights) => cell.accumulate(slots, length, index < 0 ? null : input[index] ?? missing(cell), weights));
  }
  return steps;
}

function missing(c: Cell): never {
  throw new TidemarkError('ERR_PROTOCOL', `${c.id}: the batch has no column ${c.inputIndex}`);
}

function gather(source: Float64Array, slots: Int32Array, length: number): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = source[slots[i]!]!;
  return out;
}

/** A double result: `sums / counts` (`divide` 2, avg) or the sum itself (1), null where the count is 0. */
function doubleResult(sums: Float64Array, counts: Float64Array, slots: Int32Array, length: number, mode: 1 | 2): Column {
  const values = new Float64Array(length);
  let nulls: Uint8Array | null = null;
  for (let i = 0; i < length; i++) {
    const s = slots[i]!;
    const n = counts[s]!;
    if (n === 0) (nulls ??= new Uint8Array(length))[i] = 1;
    else values[i] = mode === 1 ? sums[s]! : sums[s]! / n;
  }
  return { kind: 'f64', values, nulls };
}

function longSumResult(sum: LongSumCell, nonNull: NonNullCell, slots: Int32Array, length: number): Column {
  const values = new Float64Array(length);
  let nulls: Uint8Array | null = null;
  let exact: unknown[] | null = null;
  for (let i = 0; i < length; i++) {
    const s = slots[i]!;
    if (nonNull.values[s] === 0) (nulls ??= new Uint8Array(length))[i] = 1;
    else {
      const v = sum.values[s]!;
      if (v === v) values[i] = v;
      else (exact ??= [])[i] = sum.big.get(s)!;
    }
  }
  if (exact === null) return { kind: 'f64', values, nulls };
  // A sum at or beyond 2^53 does not fit a double exactly: the column holds bigints there.
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) out[i] = nulls !== null && nulls[i] === 1 ? null : (exact[i] ?? values[i]);
  return { kind: 'any', values: out };
}

function overflowInSum(ansi: boolean): TidemarkError | null {
  return ansi
    ? new TidemarkError(
        'ERR_ARITHMETIC_OVERFLOW',
        `[ARITHMETIC_OVERFLOW] Overflow in sum of decimals. Use 'try_sum' to tolerate overflow and return NULL instead. If necessary set "spark.sql.ansi.enabled" to "false" to bypass this error.`,
      )
    : null;
}

function decimalSumResult(sum: DecimalSumCell, nonNull: NonNullCell, slots: Int32Array, length: number, ansi: boolean): Column {
  const values = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    const s = slots[i]!;
    if (nonNull.values[s] === 0) values[i] = null;
    else if (sum.overflowed[s] === 1) {
      const error = overflowInSum(ansi);
      if (error !== null) throw error;
      values[i] = null;
    } else values[i] = formatUnscaled(sum.sums[s]!, sum.scale);
  }
  return { kind: 'any', values };
}

/**
 * `avg` of a decimal(p,s) column as Spark computes it: the sum (decimal(p+10,s),
 * null if it overflowed) divided by the count as decimal(20,0) — rounded
 * HALF_UP once to the division's scale (`divideResultType`) — then cast
 * to decimal(p+4,s+4), rounding HALF_UP again; null when a step does not fit
 * its precision.
 */
function decimalAvgResult(sum: DecimalSumCell, nonNull: NonNullCell, result: { precision: number; scale: number }, slots: Int32Array, length: number, ansi: boolean): Column {
  const quotient = divideResultType({ precision: sum.precision, scale: sum.scale }, { precision: 20, scale: 0 });
  const values = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    const s = slots[i]!;
    const n = nonNull.values[s]!;
    if (n === 0) {
      values[i] = null;
      continue;
    }
    if (sum.overflowed[s] === 1) {
      const error = overflowInSum(ansi);
      if (error !== null) throw error;
      values[i] = null;
      continue;
    }
    const q = divideHalfUp(sum.sums[s]! * pow10(quotient.scale - sum.scale), BigInt(n));
    if (!fitsPrecision(q, Math.min(quotient.precision, MAX_DECIMAL_PRECISION))) {
      values[i] = null;
      continue;
    }
    const r = rescaleHalfUp(q, quotient.scale, result.scale);
    values[i] = fitsPrecision(r, result.precision) ? formatUnscaled(r, result.scale) : null;
  }
  return { kind: 'any', values };
}

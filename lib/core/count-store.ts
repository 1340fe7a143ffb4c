/**
 * The aggregate store of a plain `count()`: one float64 per group slot.
 * It implements the part of the aggregate-buffer contract keyed state uses,
 * so `count()` costs what a counter costs.
 *
 * @module
 */
import type { Column } from './batch.js';
import { Types, type Field } from './schema.js';

/**
 * What keyed state asks of the per-group aggregate buffers (see
 * `AggregateBuffers` for every aggregate function; this is the subset the
 * state uses).
 */
export interface AggregateStore {
  /** Makes room for slots `0..slots-1`. */
  ensureCapacity(slots: number): void;
  /** Empties a slot's buffers (a new group). */
  reset(slot: number): void;
  /** Adds raw rows: row `i` goes to `slots[i]` (-1 skips it), counted `weights[i]` times (1 when null). */
  accumulate(slots: Int32Array, length: number, input: readonly Column[], weights: Float64Array | null): void;
  /** The columns of a partial-aggregate row (what a push-down sends). */
  partialFields(): Field[];
  /** Partial buffers of the given slots, as columns of {@link AggregateStore.partialFields}. */
  writePartial(slots: Int32Array, length: number): Column[];
  /** Adds partial buffers: row `i` of `partial` goes to `slots[i]` (-1 skips it). */
  mergePartial(slots: Int32Array, length: number, partial: readonly Column[]): void;
  /** Merges the buffers of `source` into `target` (sessions that merge). */
  mergeSlots(target: number, source: number): void;
  /** The result columns (Spark's names and types). */
  resultFields(): Field[];
  /** Final values of the given slots, as columns of {@link AggregateStore.resultFields}. */
  writeResults(slots: Int32Array, length: number): Column[];
  /** The buffers of the given slots, JSON-friendly (typed arrays allowed). */
  snapshot(slots: Int32Array, length: number): unknown;
  /** Buffers from a snapshot into the given slots (in the snapshot's order). */
  restore(data: unknown, slots: Int32Array): void;
  /** Memory the buffers hold. */
  bytesUsed(): number;
  /** A copy of the buffers as they are now (array copies), for a snapshot read later; absent: the snapshot is read at once. */
  clone?(): AggregateStore;
}

/** Buffers of `count()`: rows per group. */
export class CountStore implements AggregateStore {
  /** Name of the result column (`count`). */
  readonly name: string;
  #counts: Float64Array = new Float64Array(16);

  constructor(name = 'count') {
    this.name = name;
  }

  /** The count of a slot. */
  countOf(slot: number): number {
    return this.#counts[slot]!;
  }

  ensureCapacity(slots: number): void {
    if (slots <= this.#counts.length) return;
    const next = new Float64Array(Math.max(slots, this.#counts.length * 2));
    next.set(this.#counts);
    this.#counts = next;
  }

  reset(slot: number): void {
    this.#counts[slot] = 0;
  }

  accumulate(slots: Int32Array, length: number, _input: readonly Column[], weights: Float64Array | null): void {
    const counts = this.#counts;
    if (weights === null) {
      for (let i = 0; i < length; i++) {
        const s = slots[i]!;
        if (s >= 0) counts[s]!++;
      }
      return;
    }
    for (let i = 0; i < length; i++) {
      const s = slots[i]!;
      if (s >= 0) counts[s] += weights[i]!;
    }
  }

  partialFields(): Field[] {
    return [{ name: this.name, dataType: Types.long, nullable: false }];
  }

  writePartial(slots: Int32Array, length: number): Column[] {
    return this.writeResults(slots, length);
  }

  mergePartial(slots: Int32Array, length: number, partial: readonly Column[]): void {
    const column = partial[0]!;
    this.accumulate(slots, length, partial, column.kind === 'f64' ? column.values : null);
  }

  mergeSlots(target: number, source: number): void {
    this.#counts[target] += this.#counts[source]!;
  }

  resultFields(): Field[] {
    return [{ name: this.name, dataType: Types.long, nullable: false }];
  }

  writeResults(slots: Int32Array, length: number): Column[] {
    const values = new Float64Array(length);
    for (let i = 0; i < length; i++) values[i] = this.#counts[slots[i]!]!;
    return [{ kind: 'f64', values, nulls: null }];
  }

  snapshot(slots: Int32Array, length: number): unknown {
    const values = new Float64Array(length);
    for (let i = 0; i < length; i++) values[i] = this.#counts[slots[i]!]!;
    return { count: values };
  }

  restore(data: unknown, slots: Int32Array): void {
    const values = (data as { count: ArrayLike<number> }).count;
    for (let i = 0; i < slots.length; i++) this.#counts[slots[i]!] = values[i]!;
  }

  bytesUsed(): number {
    return this.#counts.byteLength;
  }

  clone(): CountStore {
    const copy = new CountStore(this.name);
    copy.#counts = this.#counts.slice();
    return copy;
  }
}

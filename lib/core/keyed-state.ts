/**
 * Keyed aggregation state and Spark's three output modes
 * (`StateStoreSaveExec`), free of streams.
 *
 * A group is identified by an encoded key string; the state keeps the
 * group's storage values (to emit them) and its count. The late filter and
 * eviction compare the group's event time (the window end, or the raw event
 * time) with the watermark, both inclusive (`<=`), as Spark does.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { TidemarkError } from '../errors.js';

/** Spark's output modes. */
export type OutputMode = 'append' | 'update' | 'complete';

/** Parses an output mode name, case-insensitively, with Spark's message. */
export function parseOutputMode(value: string, option = 'outputMode'): OutputMode {
  const v = value.toLowerCase();
  if (v === 'append' || v === 'update' || v === 'complete') return v;
  throw new TidemarkError(
    'ERR_INVALID_OPTION',
    `Unknown output mode ${value}. Accepted output modes are 'append', 'complete', 'update'`,
    { option },
  );
}

/** Spark's `OutputMode.toString`. */
export function outputModeName(mode: OutputMode): string {
  return mode === 'append' ? 'Append' : mode === 'update' ? 'Update' : 'Complete';
}

/** One group in state. */
export interface GroupEntry {
  /** Storage values of the grouping columns, in grouping order. */
  readonly key: readonly unknown[];
  /** Event time the watermark is compared with (µs); NaN when the grouping has no event time. */
  readonly eventTimeUs: number;
  count: number;
}

/** What one micro-batch did to the state. */
export interface BatchOutcome {
  /** Groups written to the sink, in state order. */
  readonly emitted: readonly GroupEntry[];
  /** Late partial-aggregate rows dropped (one per late group per batch). */
  readonly numRowsDroppedByWatermark: number;
  /** Groups updated by this batch. */
  readonly numRowsUpdated: number;
  /** Groups evicted by this batch. */
  readonly numRowsRemoved: number;
  /** Groups in state after the batch. */
  readonly numRowsTotal: number;
}

/** Checkpointed form: entries in state order. */
export interface KeyedCountStateSnapshot {
  /** Number of groups. */
  readonly size: number;
  /**
   * Key values by grouping column, in state order: a plain array, or for a
   * struct (the window) one array per struct field. Columns, not one array
   * per group: the JSON is written every micro-batch, and this form is about
   * twice as fast to stringify.
   */
  readonly keys: ReadonlyArray<SnapshotColumn>;
  readonly counts: readonly number[];
}

/** One grouping column of a {@link KeyedCountStateSnapshot}. */
export type SnapshotColumn = PackedValues | { readonly fields: readonly PackedValues[]; readonly nulls: readonly number[] };

/**
 * A column of values: numbers only (no null) as the base64 of their
 * float64 bytes (little-endian) — exact, and far cheaper to write than
 * decimal text — anything else as a JSON array.
 */
export type PackedValues = { readonly values: readonly unknown[] } | { readonly f64: string };

function pack(values: readonly unknown[]): PackedValues {
  for (const v of values) if (typeof v !== 'number') return { values };
  const array = Float64Array.from(values as number[]);
  return { f64: Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64') };
}

function unpack(column: PackedValues): readonly unknown[] {
  if ('values' in column) return column.values;
  const bytes = Buffer.from(column.f64, 'base64');
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return Array.from(new Float64Array(copy.buffer));
}

/**
 * Counts per group across micro-batches.
 *
 * Per batch: {@link KeyedCountState.beginBatch} with the batch's watermarks,
 * {@link KeyedCountState.add} per row, {@link KeyedCountState.finishBatch}.
 */
export class KeyedCountState {
  // configuration
  readonly outputMode: OutputMode;
  /** False when no grouping column carries a watermark, or in complete mode: nothing is late, nothing is evicted. */
  readonly watermarkApplies: boolean;
  readonly #eventTimeOf: (key: readonly unknown[]) => number;
  // checkpointed
  readonly #groups = new Map<string, GroupEntry>();
  // transient (one micro-batch)
  #watermarkUs = 0;
  #lateWatermarkUs = 0;
  readonly #lateGroups = new Set<string>();
  readonly #updated = new Set<string>();

  constructor(options: {
    outputMode: OutputMode;
    /** Whether a grouping column carries the watermark. */
    hasWatermark: boolean;
    /** The event time of a group from its key (µs); only called when `hasWatermark`. */
    eventTimeOf: (key: readonly unknown[]) => number;
  }) {
    this.outputMode = options.outputMode;
    this.watermarkApplies = options.hasWatermark && options.outputMode !== 'complete';
    this.#eventTimeOf = options.eventTimeOf;
  }

  /** Groups currently held. */
  get size(): number {
    return this.#groups.size;
  }

  /** Starts a micro-batch: `watermarkMs` evicts, `lateWatermarkMs` (the previous batch's) filters late rows. */
  beginBatch(watermarkMs: number, lateWatermarkMs: number): void {
    this.#watermarkUs = watermarkMs * 1000;
    this.#lateWatermarkUs = lateWatermarkMs * 1000;
    this.#lateGroups.clear();
    this.#updated.clear();
  }

  /** True when a group of event time `eventTimeUs` is late in this batch and must be dropped. */
  isLate(eventTimeUs: number): boolean {
    return this.watermarkApplies && eventTimeUs <= this.#lateWatermarkUs;
  }

  /** Records a late group (counted once per batch, like Spark's partial-aggregate rows). */
  dropLate(encodedKey: string): void {
    this.#lateGroups.add(encodedKey);
  }

  /**
   * Adds `count` to a group that is not late. Returns false when the group is
   * unknown, in which case the caller must call {@link KeyedCountState.insert}
   * (so the key's values are only built for new groups).
   */
  increment(encodedKey: string, count: number): boolean {
    const entry = this.#groups.get(encodedKey);
    if (entry === undefined) return false;
    entry.count += count;
    this.#updated.add(encodedKey);
    return true;
  }

  /** Adds a new group. */
  insert(encodedKey: string, key: readonly unknown[], count: number): void {
    const eventTimeUs = this.watermarkApplies ? this.#eventTimeOf(key) : NaN;
    this.#groups.set(encodedKey, { key, eventTimeUs, count });
    this.#updated.add(encodedKey);
  }

  /** Ends the micro-batch: emits per the output mode and evicts what the watermark closed. */
  finishBatch(): BatchOutcome {
    const emitted: GroupEntry[] = [];
    let removed = 0;
    const updated = this.#updated.size;
    const evicts = this.watermarkApplies;
    const watermarkUs = this.#watermarkUs;
    switch (this.outputMode) {
      case 'complete':
        for (const entry of this.#groups.values()) emitted.push(entry);
        break;
      case 'update':
        for (const k of this.#updated) emitted.push(this.#groups.get(k)!);
        if (evicts) {
          for (const [k, entry] of this.#groups) {
            if (entry.eventTimeUs <= watermarkUs) {
              this.#groups.delete(k);
              removed++;
            }
          }
        }
        break;
      case 'append':
        if (evicts) {
          for (const [k, entry] of this.#groups) {
            if (entry.eventTimeUs <= watermarkUs) {
              this.#groups.delete(k);
              emitted.push(entry);
              removed++;
            }
          }
        }
        break;
    }
    const outcome: BatchOutcome = {
      emitted,
      numRowsDroppedByWatermark: this.#lateGroups.size,
      numRowsUpdated: updated,
      numRowsRemoved: removed,
      numRowsTotal: this.#groups.size,
    };
    this.#lateGroups.clear();
    this.#updated.clear();
    return outcome;
  }

  /** The checkpointed part, in state order. */
  snapshot(): KeyedCountStateSnapshot {
    const entries = [...this.#groups.values()];
    const width = entries.length === 0 ? 0 : entries[0]!.key.length;
    const keys: SnapshotColumn[] = [];
    for (let c = 0; c < width; c++) {
      const sample = entries.find((e) => e.key[c] !== null)?.key[c];
      if (Array.isArray(sample)) {
        // A struct: one array per field; a null struct is marked in `nulls`.
        const fields: unknown[][] = sample.map(() => []);
        const nulls: number[] = [];
        entries.forEach((e, i) => {
          const value = e.key[c] as unknown[] | null;
          if (value === null) nulls.push(i);
          for (let f = 0; f < fields.length; f++) fields[f]!.push(value === null ? null : value[f]);
        });
        keys.push({ fields: fields.map((f) => pack(f)), nulls });
      } else {
        keys.push(pack(entries.map((e) => e.key[c])));
      }
    }
    return { size: entries.length, keys, counts: entries.map((e) => e.count) };
  }

  /** Replaces the state with a snapshot's; `encode` gives the key string of a key's values. */
  restore(snapshot: KeyedCountStateSnapshot, encode: (key: readonly unknown[]) => string): void {
    this.#groups.clear();
    const nullSets = snapshot.keys.map((column) => ('nulls' in column ? new Set(column.nulls) : null));
    const columns = snapshot.keys.map((column) => ('fields' in column ? column.fields.map(unpack) : unpack(column)));
    for (let i = 0; i < snapshot.size; i++) {
      const key = snapshot.keys.map((column, c) => {
        if (!('fields' in column)) return (columns[c] as readonly unknown[])[i] ?? null;
        return nullSets[c]!.has(i) ? null : (columns[c] as Array<readonly unknown[]>).map((f) => f[i] ?? null);
      });
      const eventTimeUs = this.watermarkApplies ? this.#eventTimeOf(key) : NaN;
      this.#groups.set(encode(key), { key, eventTimeUs, count: snapshot.counts[i]! });
    }
  }
}

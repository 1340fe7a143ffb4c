/**
 * `KeyedCount`: Spark's `groupBy(cols…).count()` on a stream — the
 * `KeyedAggregate` of one aggregate, `count`, kept as one float64 per group —
 * with the watermark's late filter and eviction and the three output modes.
 * Restores checkpoints of the release before (state format 3).
 *
 * @module
 */
import { BatchBuilder, type Column } from '../core/batch.js';
import type { StoreSpec } from '../core/partial-aggregate.js';
import type { Schema } from '../core/schema.js';
import type { StageSnapshot, StateImage } from '../protocol.js';
import { checkSnapshot } from './stage.js';
import { KeyedAggregate, type KeyedAggregateOptions } from './keyed-aggregate.js';
import { decodeTypedArrays } from './snapshot-codec.js';

/** Options of {@link KeyedCount}. */
export interface KeyedCountOptions extends Omit<KeyedAggregateOptions, 'aggregates'> {
  /** Name of the count column; `count` by default. */
  countColumn?: string;
}

// Format 3: a Map of encoded keys, columns packed (what 0.1 wrote).
const LEGACY_SNAPSHOT_VERSION = 3;

/**
 * Counts rows per group across micro-batches.
 *
 * Append mode emits a group once, when the watermark passes its event time
 * (window end); update mode emits every group a batch changed, with its new
 * total; complete mode emits the whole table every batch and never evicts.
 */
export class KeyedCount extends KeyedAggregate {
  readonly countColumn: string;

  constructor(options: KeyedCountOptions) {
    const countColumn = options?.countColumn ?? 'count';
    super({ ...options, aggregates: [{ fn: 'count', column: null, alias: countColumn }] });
    this.countColumn = countColumn;
  }

  protected override storeSpec(_input: Schema): StoreSpec {
    return { kind: 'count', name: this.countColumn };
  }

  protected override storeMatches(sent: StoreSpec): boolean {
    return sent.kind === 'count' && sent.name === this.countColumn;
  }

  protected override get resultOption(): string {
    return 'countColumn';
  }

  protected override resultConfiguration(): Record<string, unknown> {
    return { countColumn: this.countColumn };
  }

  override restore(image: StateImage | StageSnapshot): void {
    if (!('kind' in image) && image.stage === 'KeyedCount' && image.version === LEGACY_SNAPSHOT_VERSION) {
      checkSnapshot(image, 'KeyedCount', LEGACY_SNAPSHOT_VERSION, this.configuration());
      this.keyState.clear();
      this.#restoreLegacy(image);
      return;
    }
    super.restore(image);
  }

  // Format 3 (the release before): per partition, key values by column (numbers packed as
  // float64 bytes, structs as one array per field) and a count per group, in state order.
  #restoreLegacy(snapshot: StageSnapshot): void {
    const state = this.keyState;
    const keySchema: Schema = { fields: this.outputKeyFields };
    for (const part of snapshot.partitions ?? [snapshot.state]) {
      const legacy = part as LegacySnapshot;
      const builder = new BatchBuilder(keySchema, legacy.size);
      const columns = legacy.keys.map((column): { fields: Array<readonly unknown[]>; nulls: Set<number> } | readonly unknown[] =>
        'fields' in column ? { fields: column.fields.map(unpackLegacy), nulls: new Set(column.nulls) } : unpackLegacy(column),
      );
      for (let i = 0; i < legacy.size; i++) {
        columns.forEach((column, c) => {
          if ('nulls' in column) builder.columns[c]!.appendRaw(column.nulls.has(i) ? null : column.fields.map((f) => f[i] ?? null));
          else builder.columns[c]!.appendRaw(column[i] ?? null);
        });
        builder.endRow();
      }
      const keys = builder.finish();
      const counts: Column = { kind: 'f64', values: Float64Array.from(legacy.counts), nulls: null };
      state.restoreGroups(keys.columns, [counts], keys.length);
    }
  }
}

type LegacyPacked = { readonly values: readonly unknown[] } | { readonly f64: string };
interface LegacySnapshot {
  readonly size: number;
  readonly keys: ReadonlyArray<LegacyPacked | { readonly fields: readonly LegacyPacked[]; readonly nulls: readonly number[] }>;
  readonly counts: readonly number[];
}

function unpackLegacy(column: LegacyPacked): readonly unknown[] {
  if ('values' in column) return column.values;
  return Array.from(decodeTypedArrays({ $f64: column.f64 }) as Float64Array);
}

/**
 * `MemorySource`: Spark's `MemoryStream` — rows added by the program, read
 * as a stream. Its offset is the number of `addData` calls, so a restarted
 * query (a new source from {@link MemorySource.reopen}) re-reads exactly
 * what a batch read before.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { RecordBatch, type Row } from '../core/batch.js';
import type { Schema } from '../core/schema.js';
import { parseDDL } from '../core/ddl.js';
import { MicroBatchSource, type MicroBatchSourceOptions, type Offset, type PlanMode } from './micro-batch-source.js';

/** The data of a memory source, shared by the sources reopened from it. */
class MemoryLog {
  readonly batches: RecordBatch[] = [];
  readonly listeners = new Set<() => void>();
}

let memorySourceCount = 0;

/** Options of {@link MemorySource}. */
export interface MemorySourceOptions extends MicroBatchSourceOptions {
  /** The rows' schema: a schema value or a Spark DDL string (`"time timestamp, action string"`). */
  schema: Schema | string;
}

/**
 * An in-memory source for tests, examples and programs that produce events
 * themselves.
 *
 * @example
 * ```ts
 * const source = new MemorySource({ schema: parseDDL('time timestamp, action string') })
 * source.addData([{ time: Date.parse('2016-07-26T03:00:00Z'), action: 'Open' }])
 * ```
 */
export class MemorySource extends MicroBatchSource {
  readonly schema: Schema;
  readonly description: string;
  readonly #log: MemoryLog;
  #frozenCount: number | null = null;

  constructor(options: MemorySourceOptions, log?: MemoryLog, description?: string) {
    super(options);
    const s = typeof options?.schema === 'string' ? parseDDL(options.schema) : options?.schema;
    if (s === undefined || !Array.isArray(s.fields)) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'MemorySource needs a schema', { option: 'schema' });
    }
    this.schema = s;
    this.#log = log ?? new MemoryLog();
    this.description = description ?? `MemoryStream[${s.fields.map((f) => f.name).join(',')}]#${memorySourceCount++}`;
  }

  /** Adds rows (objects in the row view, or a batch); returns the new offset. */
  addData(rows: readonly Row[] | RecordBatch): number {
    const batch = rows instanceof RecordBatch ? rows : RecordBatch.fromRows(this.schema, rows);
    this.#log.batches.push(batch);
    for (const listener of [...this.#log.listeners]) listener();
    return this.#log.batches.length;
  }

  /** A new source over the same data, for a new run of a query (restart). */
  reopen(options: Omit<MemorySourceOptions, 'schema'> = {}): MemorySource {
    return new MemorySource({ ...this.options, ...options, schema: this.schema }, this.#log, this.description);
  }

  protected override async planBatch(_start: Offset | null, _mode: PlanMode): Promise<Offset | null> {
    const count = this.#frozenCount ?? this.#log.batches.length;
    return count === 0 ? null : count;
  }

  protected override *readRange(start: Offset | null, end: Offset): Iterable<RecordBatch> {
    const from = typeof start === 'number' ? start : 0;
    const to = end as number;
    for (let i = from; i < to; i++) {
      const batch = this.#log.batches[i];
      if (batch === undefined) {
        throw new TidemarkError('ERR_CHECKPOINT_MISMATCH', `the checkpoint refers to memory offset ${to}, but this MemorySource holds ${this.#log.batches.length} additions`);
      }
      if (batch.length > 0) yield batch;
    }
  }

  protected override async freezeAvailable(): Promise<void> {
    this.#frozenCount = this.#log.batches.length;
  }

  protected override waitForData(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const listener = (): void => {
        this.#log.listeners.delete(listener);
        resolve();
      };
      this.#log.listeners.add(listener);
      signal.addEventListener('abort', listener, { once: true });
    });
  }
}

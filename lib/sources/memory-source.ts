/**
 * `MemorySource`: Spark's `MemoryStream` — rows added by the program, read
 * as a stream. Its offset is the number of `addData` calls so far; a
 * restarted query (a new run over {@link MemorySource.reopen}) re-reads
 * exactly what a batch read before. Rows leave memory once their batch is
 * committed.
 *
 * A new `MemorySource` starts empty, so it cannot continue a checkpoint
 * written with another one: that is refused (the checkpoint records which
 * source it read), never skipped silently.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { TidemarkError } from '../errors.js';
import { RecordBatch, type Row } from '../core/batch.js';
import type { Schema } from '../core/schema.js';
import { parseDDL } from '../core/ddl.js';
import { checkInputRows } from '../core/row-check.js';
import type { InputRowOf, RowOf, RowTyped } from '../core/row-types.js';
import { SourceBase, type Offset, type PlanMode, type SourceContext } from './source.js';

/** The data of a memory source, shared by the sources reopened from it. */
class MemoryLog {
  readonly id = randomUUID();
  /** Additions not yet committed; `batches[0]` is addition number `base`. */
  batches: RecordBatch[] = [];
  base = 0;
  readonly listeners = new Set<() => void>();

  get count(): number {
    return this.base + this.batches.length;
  }
}

let memorySourceCount = 0;

/** Options of {@link MemorySource}. */
export interface MemorySourceOptions<S extends string = string> {
  /**
   * The rows' schema: a schema value or a Spark DDL string
   * (`"time timestamp, action string"`). A string literal types the rows
   * `addData` takes ({@link InputRowOf}) and the rows read from the source
   * ({@link RowOf}).
   */
  schema: Schema | S;
}

/**
 * An in-memory source for tests, examples and programs that produce events
 * themselves.
 *
 * `addData` refuses rows with a property that is not a column
 * (`ERR_UNKNOWN_FIELD`, naming it, the closest column and the schema's
 * columns) and timestamps that look like epoch seconds read as milliseconds
 * (`ERR_TIMESTAMP_IN_SECONDS`: a number from 10^8 up to 1971-01-01 in ms;
 * smaller numbers, as tests use, are taken as given, and a `Date` always is).
 * With a DDL string literal as the schema, TypeScript refuses both already.
 *
 * @example
 * ```ts
 * const source = new MemorySource({ schema: 'time timestamp, action string' })
 * source.addData([{ time: Date.parse('2016-07-26T03:00:00Z'), action: 'Open' }])
 * ```
 */
export class MemorySource<S extends string = string> extends SourceBase implements RowTyped<RowOf<S>, InputRowOf<S>> {
  declare readonly '~row'?: RowOf<S>;
  declare readonly '~input'?: InputRowOf<S>;
  readonly schema: Schema;
  readonly description: string;
  readonly #log: MemoryLog;
  #frozenCount: number | null = null;

  constructor(options: MemorySourceOptions<S>, log?: MemoryLog, description?: string) {
    super();
    const s = typeof options?.schema === 'string' ? parseDDL(options.schema) : options?.schema;
    if (s === undefined || !Array.isArray(s.fields)) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'MemorySource needs a schema', { option: 'schema' });
    }
    this.schema = s;
    this.#log = log ?? new MemoryLog();
    this.description = description ?? `MemoryStream[${s.fields.map((f) => f.name).join(',')}]#${memorySourceCount++}`;
  }

  /**
   * Adds rows (objects in the row view, or a batch); returns the new offset.
   *
   * @throws TidemarkError `ERR_UNKNOWN_FIELD` for a property that is not a
   *   column; `ERR_TIMESTAMP_IN_SECONDS` for a timestamp that looks like epoch
   *   seconds; `ERR_SCHEMA_MISMATCH` for a value of the wrong type. Nothing is
   *   added then.
   */
  addData(rows: readonly InputRowOf<S>[] | RecordBatch): number {
    let batch: RecordBatch;
    if (rows instanceof RecordBatch) batch = rows;
    else {
      checkInputRows(this.schema, rows as readonly Row[], 'MemorySource.addData');
      batch = RecordBatch.fromRows(this.schema, rows as readonly Row[]);
    }
    this.#log.batches.push(batch);
    for (const listener of [...this.#log.listeners]) listener();
    return this.#log.count;
  }

  /** A new source over the same data, for a new run of a query (restart). */
  reopen(): MemorySource<S> {
    return new MemorySource<S>({ schema: this.schema }, this.#log, this.description);
  }

  /** Rows still held (not yet committed), for tests of memory release. */
  get heldAdditions(): number {
    return this.#log.batches.length;
  }

  override fingerprint(): Record<string, unknown> {
    return { memoryStream: this.#log.id };
  }

  override async open(context: SourceContext): Promise<void> {
    const committed = typeof context.committedOffset === 'number' ? context.committedOffset : 0;
    if (committed > this.#log.count) {
      throw new TidemarkError('ERR_CHECKPOINT_MISMATCH', `the checkpoint has read ${committed} additions of this MemorySource, which holds ${this.#log.count}`, { option: 'source' });
    }
  }

  override async latestOffset(_start: Offset | null, _mode: PlanMode): Promise<Offset | null> {
    const count = this.#frozenCount ?? this.#log.count;
    return count === 0 ? null : count;
  }

  override *getBatch(start: Offset | null, end: Offset): Iterable<RecordBatch> {
    const log = this.#log;
    const from = typeof start === 'number' ? start : 0;
    const to = end as number;
    if (from < log.base || to > log.count) {
      throw new TidemarkError('ERR_CHECKPOINT_MISMATCH', `the checkpoint refers to memory offsets ${from}..${to}, but this MemorySource holds ${log.base}..${log.count}`);
    }
    for (let i = from; i < to; i++) {
      const batch = log.batches[i - log.base]!;
      if (batch.length > 0) yield batch;
    }
  }

  // Committed additions are never read again: let them go.
  override async commit(end: Offset): Promise<void> {
    const log = this.#log;
    const drop = Math.min((end as number) - log.base, log.batches.length);
    if (drop <= 0) return;
    log.batches = log.batches.slice(drop);
    log.base += drop;
  }

  override async prepareForAvailableNow(): Promise<void> {
    this.#frozenCount = this.#log.count;
  }

  override waitForData(signal: AbortSignal): Promise<void> {
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

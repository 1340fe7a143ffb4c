/**
 * `ConsoleSink`: Spark's console sink (`writeStream.format('console')`),
 * printing each micro-batch as a `show()` table under a `Batch: N` banner,
 * byte for byte as Spark does, so a notebook's output can be diffed against
 * tidemark's.
 *
 * @module
 */
import { once } from 'node:events';
import { TidemarkError } from '../errors.js';
import { valueAt, type RecordBatch } from '../core/batch.js';
import { showString } from '../core/show.js';
import { Sink, sinkTimeZone, type SinkPlan } from './sink.js';

/** Options of {@link ConsoleSink}: Spark's `numRows` and `truncate`, plus where to print. */
export interface ConsoleSinkOptions {
  /** Rows printed per batch (default 20); the rest is announced by `only showing top N rows`. */
  numRows?: number;
  /** Cut cells at 20 characters, right-aligned (default true); false prints whole cells, left-aligned. */
  truncate?: boolean;
  /** Session time zone timestamps are printed in; the process's zone by default. */
  timeZone?: string;
  /** Where to print (default `process.stdout`). */
  output?: NodeJS.WritableStream;
}

const BANNER = '-------------------------------------------\n';

/**
 * Prints every micro-batch, in every output mode. Not idempotent, like
 * Spark's: a batch re-executed after a crash is printed again.
 */
export class ConsoleSink extends Sink {
  /** Rows printed per batch (negative values clamped to 0, as Spark does). */
  readonly numRows: number;
  /** Whether cells are cut at 20 characters. */
  readonly truncate: boolean;
  /** Zone timestamps are printed in. */
  readonly timeZone: string;
  readonly #output: NodeJS.WritableStream;

  constructor(options: ConsoleSinkOptions = {}) {
    super();
    const numRows: unknown = options.numRows ?? 20;
    if (typeof numRows !== 'number' || !Number.isInteger(numRows)) {
      throw new TidemarkError('ERR_INVALID_OPTION', `numRows must be an integer, got ${String(numRows)}`, { option: 'numRows' });
    }
    const truncate: unknown = options.truncate ?? true;
    if (typeof truncate !== 'boolean') {
      throw new TidemarkError('ERR_INVALID_OPTION', `truncate must be true or false, got ${String(truncate)}`, { option: 'truncate' });
    }
    const timeZone = sinkTimeZone(options.timeZone);
    const output = options.output ?? process.stdout;
    if (typeof (output as { write?: unknown }).write !== 'function') {
      throw new TidemarkError('ERR_INVALID_OPTION', 'output must be a writable stream', { option: 'output' });
    }
    // Spark clamps a negative numRows to 0 rows.
    this.numRows = Math.max(0, numRows);
    this.truncate = truncate;
    this.timeZone = timeZone;
    this.#output = output;
  }

  /** Spark 2's `ConsoleSink.toString`; Spark 3 prints an object id here, which is not reproducible. */
  override get description(): string {
    return `ConsoleSink[numRows=${this.numRows}, truncate=${this.truncate}]`;
  }

  protected override async hasBatch(_batchId: number): Promise<boolean> {
    return false;
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[], plan: SinkPlan): Promise<number> {
    // Only the rows shown, plus one to decide the `only showing` footer.
    const wanted = this.numRows + 1;
    const rows: unknown[][] = [];
    let count = 0;
    for (const batch of batches) {
      count += batch.length;
      const columns = batch.columns;
      const types = batch.schema.fields;
      for (let i = 0; i < batch.length && rows.length < wanted; i++) {
        const row = new Array<unknown>(columns.length);
        for (let c = 0; c < columns.length; c++) row[c] = valueAt(columns[c]!, types[c]!.dataType, i);
        rows.push(row);
      }
    }
    const table = showString(plan.schema, rows, {
      numRows: this.numRows,
      truncate: this.truncate,
      timeZone: this.timeZone,
    });
    const text = `${BANNER}Batch: ${batchId}\n${BANNER}${table}\n`;
    if (!this.#output.write(text)) await once(this.#output, 'drain');
    return count;
  }
}

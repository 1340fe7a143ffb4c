/**
 * `Window`: Spark's `window(timeColumn, duration[, slide[, startTime]])` as a
 * stage. Adds a `window` struct column (`start`, `end`), one output row per
 * window an event falls in (sliding windows repeat a row), drops rows whose
 * time is null, and carries the time column's watermark onto the window.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { assignWindows, maxWindowsPerEvent, windowSpec, type WindowSpec, type WindowSpecOptions } from '../core/window.js';
import { WINDOW_TYPE, fieldIndex, isTimestampType, isWindowType, requireField, sqlTypeName, type Field, type Schema } from '../core/schema.js';
import { RecordBatch, type Column } from '../core/batch.js';
import { slotStarts } from '../core/partial-count.js';
import type { StageSnapshot, StreamItem } from '../protocol.js';
import { Stage, checkSnapshot, type PlanContext } from './stage.js';

/** Options of {@link Window}. */
export interface WindowOptions extends WindowSpecOptions {
  /** The event-time column: a timestamp, or a window struct (chained windows use its last microsecond). */
  timeColumn: string;
  /** Name of the added column; Spark's is `window`. */
  as?: string;
  /**
   * Emit each row once with the slide-sized pane it falls in, instead of
   * once per sliding window, for a `KeyedCount` placed right after that
   * groups by this window: it counts panes and expands them into windows
   * (same output, a fraction of the work). Needs `duration` to be a multiple
   * of `slide`. `startQuery` turns it on by itself when the pipeline allows.
   */
  panes?: boolean;
}

const SNAPSHOT_VERSION = 1;

/**
 * Assigns event-time windows.
 *
 * @example
 * ```ts
 * new Window({ timeColumn: 'time', duration: '10 minutes', slide: '5 minutes' })
 * ```
 */
export class Window extends Stage {
  // configuration
  readonly timeColumn: string;
  readonly spec: WindowSpec;
  readonly as: string;
  readonly #options: WindowOptions;
  #panes: boolean;
  // transient
  #timeIndex = -1;
  #chained = false;
  readonly #starts: Float64Array;
  #indices = new Int32Array(0);
  #windowStarts = new Float64Array(0);

  constructor(options: WindowOptions) {
    super();
    if (typeof options?.timeColumn !== 'string' || options.timeColumn.length === 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', 'Window needs a timeColumn name', { option: 'timeColumn' });
    }
    this.timeColumn = options.timeColumn;
    this.#options = { ...options };
    this.spec = windowSpec(options);
    this.as = options.as ?? 'window';
    this.#starts = new Float64Array(maxWindowsPerEvent(this.spec));
    this.#panes = false;
    if (options.panes === true) this.usePanes();
  }

  /** Whether panes can stand for this window's rows: sliding, with the duration a multiple of the slide. */
  get panesPossible(): boolean {
    return this.spec.slideUs < this.spec.durationUs && this.spec.durationUs % this.spec.slideUs === 0;
  }

  override get role(): 'window' {
    return 'window';
  }

  override describe(): string {
    return super.describe() + (this.#panes ? ' over panes' : '');
  }

  /** A new `Window` like this one that emits panes (see {@link WindowOptions.panes}); this one is left as it is. */
  withPanes(): Window {
    return new Window({ ...this.#options, panes: true });
  }

  /** Emits panes instead of windows (see {@link WindowOptions.panes}); for a stage not yet running. */
  usePanes(): void {
    if (!this.panesPossible) {
      throw new TidemarkError('ERR_INVALID_OPTION', `panes need a sliding window whose duration is a multiple of its slide (duration ${this.spec.durationUs} µs, slide ${this.spec.slideUs} µs)`, { option: 'panes' });
    }
    this.#panes = true;
  }

  /** True when rows carry panes. */
  get panes(): boolean {
    return this.#panes;
  }

  override plan(input: Schema, _context: PlanContext): Schema {
    const time = requireField(input, this.timeColumn, 'timeColumn');
    if (!isTimestampType(time.dataType) && !isWindowType(time.dataType)) {
      throw new TidemarkError(
        'ERR_INVALID_WINDOW',
        `[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve "window(${this.timeColumn})" due to data type mismatch: the first parameter requires the "TIMESTAMP" type, however \`${this.timeColumn}\` has the type "${sqlTypeName(time.dataType)}".`,
        { option: 'timeColumn' },
      );
    }
    const other = input.fields.find((f) => f.metadata?.timeWindow !== undefined && f.name !== this.timeColumn);
    if (other !== undefined) {
      throw new TidemarkError(
        'ERR_MULTIPLE_WINDOWS',
        'Multiple time/session window expressions would result in a cartesian product of rows, therefore they are currently not supported.',
      );
    }
    if (fieldIndex(input, this.as) >= 0 && this.as !== this.timeColumn) {
      throw new TidemarkError('ERR_INVALID_OPTION', `Window cannot add column \`${this.as}\`: the stream already has one`, { option: 'as' });
    }
    this.#timeIndex = fieldIndex(input, this.timeColumn);
    this.#chained = isWindowType(time.dataType);
    if (this.#panes && this.#chained) throw new TidemarkError('ERR_INVALID_OPTION', 'panes need a timestamp time column, not a window', { option: 'panes' });
    const windowField: Field = {
      name: this.as,
      dataType: WINDOW_TYPE,
      nullable: true,
      metadata: {
        ...time.metadata,
        timeWindow: { durationUs: this.spec.durationUs, slideUs: this.spec.slideUs, startTimeUs: this.spec.startTimeUs, ...(this.#panes ? { panes: true } : {}) },
      },
    };
    return { fields: [...input.fields.filter((f) => f.name !== this.as), windowField] };
  }

  protected override *process(item: StreamItem): Iterable<StreamItem> {
    if (item.kind !== 'rows') {
      yield item;
      return;
    }
    const out = this.#assign(item.batch);
    if (out.length > 0) yield { kind: 'rows', batch: out };
  }

  #assign(batch: RecordBatch): RecordBatch {
    const column = batch.columns[this.#timeIndex]!;
    let times: Float64Array;
    let nulls: Uint8Array | null;
    if (column.kind === 'struct') {
      const end = column.children[1]!;
      if (end.kind !== 'f64') throw new TidemarkError('ERR_PROTOCOL', 'window end must be an f64 column');
      times = end.values;
      nulls = column.nulls;
    } else if (column.kind === 'f64') {
      times = column.values;
      nulls = column.nulls;
    } else {
      throw new TidemarkError('ERR_PROTOCOL', `time column ${this.timeColumn} must be an f64 column`);
    }
    const capacity = batch.length * this.#starts.length;
    if (this.#indices.length < capacity) {
      this.#indices = new Int32Array(capacity);
      this.#windowStarts = new Float64Array(capacity);
    }
    const indices = this.#indices;
    const windowStarts = this.#windowStarts;
    const starts = this.#starts;
    const spec = this.spec;
    const chainedOffset = this.#chained ? 1 : 0;
    let n = 0;
    const paneMode = this.#panes && column.kind === 'f64';
    const oneWindowPerRow = (spec.slideUs === spec.durationUs || paneMode) && column.kind === 'f64';
    let startValues: Float64Array;
    let endValues: Float64Array;
    let base: RecordBatch;
    if (oneWindowPerRow && nulls === null) {
      // Tumbling windows (or panes) and no null time: one window per row, written straight into
      // the output columns.
      startValues = new Float64Array(batch.length);
      endValues = new Float64Array(batch.length);
      slotStarts(times, batch.length, spec.slideUs, spec.startTimeUs, startValues);
      for (let i = 0; i < batch.length; i++) endValues[i] = startValues[i]! + spec.slideUs;
      base = batch;
    } else {
      for (let i = 0; i < batch.length; i++) {
        if (nulls !== null && nulls[i] === 1) continue;
        if (column.kind === 'struct' && isNullChild(column.children[1]!, i)) continue;
        const count = oneWindowPerRow
          ? ((starts[0] = paneOrWindowStart(spec, times[i]!)), 1)
          : assignWindows(spec, times[i]! - chainedOffset, starts);
        for (let w = 0; w < count; w++) {
          indices[n] = i;
          windowStarts[n] = starts[w]!;
          n++;
        }
      }
      base = batch.take(indices, n);
      startValues = windowStarts.slice(0, n);
      endValues = new Float64Array(n);
      // A pane is one slide long; a window, one duration.
      const width = paneMode ? spec.slideUs : spec.durationUs;
      for (let i = 0; i < n; i++) endValues[i] = startValues[i]! + width;
    }
    const windowColumn: Column = {
      kind: 'struct',
      children: [
        { kind: 'f64', values: startValues, nulls: null },
        { kind: 'f64', values: endValues, nulls: null },
      ],
      nulls: null,
    };
    const kept = this.as === this.timeColumn ? dropColumn(base, this.#timeIndex) : base;
    return kept.withColumn(this.outputSchema!.fields[this.outputSchema!.fields.length - 1]!, windowColumn).withSchema(this.outputSchema!);
  }

  override configuration(): Record<string, unknown> {
    // Panes change how rows travel to the aggregation, not what it holds: not part of the configuration.
    return { timeColumn: this.timeColumn, as: this.as, ...this.spec };
  }
}

// The start of the slide-sized slot holding `timeUs` (a tumbling window, or a pane).
function paneOrWindowStart(spec: WindowSpec, timeUs: number): number {
  const remainder = (timeUs - spec.startTimeUs) % spec.slideUs;
  return timeUs - (remainder < 0 ? remainder + spec.slideUs : remainder);
}

function isNullChild(column: Column, i: number): boolean {
  return column.kind === 'f64' && column.nulls !== null && column.nulls[i] === 1;
}

function dropColumn(batch: RecordBatch, index: number): RecordBatch {
  const fields = batch.schema.fields.filter((_, i) => i !== index);
  const columns = batch.columns.filter((_, i) => i !== index);
  return new RecordBatch({ fields }, columns, batch.length);
}

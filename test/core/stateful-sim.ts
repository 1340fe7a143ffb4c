/**
 * A small stand-in for the micro-batch executor, for driving the session and
 * deduplication cores through conformance scenarios before the stages exist.
 *
 * It applies the rules of spark-semantics.md § b and nothing else: a batch
 * uses the watermark computed after the previous batch and judges late rows
 * against the previous batch's watermark (0 for the first); the watermark
 * is `max(previous, max event time − delay)` over every row of a batch (a
 * null time read as 0, as Spark's stats do); after a data batch, a no-data
 * batch runs when the operator evicts by watermark and the watermark moved;
 * a restart replaces the operator by one restored from its snapshot records
 * (or from the chain of per-batch delta records), through JSON and keeps the watermarks, which Spark
 * keeps in its offset and commit logs.
 */
import { RecordBatch, rawValueAt } from '../../lib/core/batch.js';
import { parseInterval, watermarkDelayMs } from '../../lib/core/interval.js';
import { field, schema, Types, type DataType, type Schema } from '../../lib/core/schema.js';
import { SessionCounts, SessionWindowState, type SessionStateRecord } from '../../lib/core/session-window.js';
import { DeduplicateState, type DedupStateRecord } from '../../lib/core/dedup.js';

export interface CaseRow {
  readonly time: number | null;
  readonly key: string | number | null;
}

export interface StreamingCase {
  readonly name: string;
  readonly kind: string;
  readonly batches: readonly (readonly CaseRow[])[];
  readonly watermark_delay: string | null;
  readonly restart_before_step: readonly number[];
  readonly no_data_batches?: boolean;
  readonly trigger?: string | null;
  // session windows
  readonly grouping?: string;
  readonly session_gap?: string;
  readonly output_mode?: string;
  // deduplication
  readonly columns?: readonly string[];
  readonly within_watermark?: boolean;
  // expectations
  readonly expected_after_each_batch: readonly (readonly Record<string, unknown>[])[];
  readonly state_rows_after_step: ReadonlyArray<number | null> | null;
  readonly watermark_used_by_step: ReadonlyArray<number | null> | null;
  readonly watermark_after_step: ReadonlyArray<number | null> | null;
  readonly num_rows_dropped_by_watermark: ReadonlyArray<number | null> | null;
}

/** What the runner contract prints for a case. */
export interface SimResult {
  readonly emitted: Array<Array<Record<string, unknown>>>;
  readonly watermark_used_by_step: Array<number | null>;
  readonly watermark_after_step: Array<number | null>;
  readonly state_rows_after_step: number[];
  readonly num_rows_dropped_by_watermark: Array<number | null>;
}

/** How a restart rebuilds the operator's state. */
export type RestoreFrom = 'snapshot' | 'changes';

/** A state whose checkpoint is records (the session and deduplication cores). */
interface RecordedCore<R> {
  snapshotRecords(): R[];
  clear(): void;
  applyRecord(record: R): void;
}

/** Replaces `target`'s state with `source`'s, through its snapshot records written as JSON and read back (a restart). */
export function copyState<R>(source: RecordedCore<R>, target: RecordedCore<R>): void {
  target.clear();
  for (const record of JSON.parse(JSON.stringify(source.snapshotRecords())) as R[]) target.applyRecord(record);
}

interface Operator {
  /** One micro-batch; `batch` is null for a no-data batch. */
  run(watermarkMs: number, lateWatermarkMs: number, batch: RecordBatch | null): { emitted: Array<Record<string, unknown>>; dropped: number; total: number };
  /** Whether a no-data batch would evict or emit (Spark's `shouldRunAnotherBatch`, given the watermark moved). */
  readonly evictsOnNoData: boolean;
  /** A new operator with this one's state, rebuilt as a restarted query would. */
  restarted(from: RestoreFrom): Operator;
}

const keyTypeOf = (c: StreamingCase): DataType =>
  c.batches.some((b) => b.some((r) => typeof r.key === 'string')) ? Types.string : Types.long;

export const caseSchema = (c: StreamingCase): Schema => schema([field('time', Types.timestamp), field('key', keyTypeOf(c))]);

const batchOf = (s: Schema, rows: readonly CaseRow[]): RecordBatch =>
  RecordBatch.fromRows(s, rows.map((r) => ({ time: r.time === null ? null : r.time * 1000, key: r.key })));

const seconds = (us: number): number => us / 1_000_000;

class SessionOperator implements Operator {
  readonly counts = new SessionCounts();
  readonly state: SessionWindowState;
  readonly evictsOnNoData: boolean;
  // Every batch's changes since the start, for rebuilding from changes.
  readonly #log: SessionStateRecord[][];

  constructor(
    readonly gapUs: number,
    readonly outputMode: 'append' | 'complete',
    readonly hasWatermark: boolean,
    log: SessionStateRecord[][] = [],
  ) {
    this.state = new SessionWindowState({ outputMode, hasWatermark, aggregates: this.counts, keyWidth: 1 });
    this.evictsOnNoData = outputMode === 'append' && hasWatermark;
    this.#log = log;
  }

  run(watermarkMs: number, lateWatermarkMs: number, batch: RecordBatch | null): { emitted: Array<Record<string, unknown>>; dropped: number; total: number } {
    this.state.beginBatch(watermarkMs, lateWatermarkMs);
    if (batch !== null) {
      this.state.add({ length: batch.length, keys: [batch.columns[1]!], time: batch.columns[0]!, gapUs: this.gapUs, aggregateInput: batch.columns });
    }
    const outcome = this.state.finishBatch();
    this.#log.push(JSON.parse(JSON.stringify(this.state.deltaRecords())) as SessionStateRecord[]);
    const e = outcome.emitted;
    const emitted: Array<Record<string, unknown>> = [];
    for (let i = 0; i < e.length; i++) {
      emitted.push({ session_start: seconds(e.startsUs[i]!), session_end: seconds(e.endsUs[i]!), key: e.keys[i]![0], count: this.counts.count(e.slots[i]!) });
    }
    return { emitted, dropped: outcome.numRowsDroppedByWatermark, total: outcome.numRowsTotal };
  }

  restarted(from: RestoreFrom): Operator {
    const next = new SessionOperator(this.gapUs, this.outputMode, this.hasWatermark, this.#log);
    if (from === 'snapshot') copyState(this.state, next.state);
    else for (const records of this.#log) for (const record of records) next.state.applyRecord(record);
    return next;
  }
}

class DedupOperator implements Operator {
  readonly state: DeduplicateState;
  readonly evictsOnNoData: boolean;
  readonly #log: DedupStateRecord[][];

  constructor(
    readonly columns: readonly string[],
    readonly withinWatermark: boolean,
    readonly delayMs: number | null,
    log: DedupStateRecord[][] = [],
  ) {
    const eventTimeKey = columns.indexOf('time');
    this.state = new DeduplicateState({ withinWatermark, hasWatermark: delayMs !== null, eventTimeKey, delayMs: delayMs ?? 0 });
    // StreamingDeduplicateExec.shouldRunAnotherBatch: whenever the operator has an eviction watermark.
    this.evictsOnNoData = delayMs !== null;
    this.#log = log;
  }

  run(watermarkMs: number, lateWatermarkMs: number, batch: RecordBatch | null): { emitted: Array<Record<string, unknown>>; dropped: number; total: number } {
    this.state.beginBatch(watermarkMs, lateWatermarkMs);
    const emitted: Array<Record<string, unknown>> = [];
    if (batch !== null) {
      const keys = this.columns.map((name) => batch.column(name)!);
      const selection = this.state.add(keys, this.delayMs === null ? null : batch.column('time')!, batch.length);
      for (let i = 0; i < selection.length; i++) {
        const row = selection.rows[i]!;
        const time = rawValueAt(batch.columns[0]!, row) as number | null;
        emitted.push({ time: time === null ? null : seconds(time), key: rawValueAt(batch.columns[1]!, row) });
      }
    }
    const outcome = this.state.finishBatch();
    this.#log.push(JSON.parse(JSON.stringify(this.state.deltaRecords())) as DedupStateRecord[]);
    return { emitted, dropped: outcome.numRowsDroppedByWatermark, total: outcome.numRowsTotal };
  }

  restarted(from: RestoreFrom): Operator {
    const next = new DedupOperator(this.columns, this.withinWatermark, this.delayMs, this.#log);
    if (from === 'snapshot') copyState(this.state, next.state);
    else for (const records of this.#log) for (const record of records) next.state.applyRecord(record);
    return next;
  }
}

function operatorFor(c: StreamingCase, delayMs: number | null): Operator {
  if (c.kind === 'deduplication') return new DedupOperator(c.columns ?? ['key', 'time'], c.within_watermark === true, delayMs);
  if (c.grouping !== 'session') throw new Error(`${c.name}: not a session or deduplication case`);
  const gap = parseInterval(c.session_gap!);
  const gapUs = gap.days * 86_400_000_000 + gap.microseconds;
  const mode = c.output_mode === 'complete' ? 'complete' : 'append';
  return new SessionOperator(gapUs, mode, delayMs !== null);
}

/**
 * The executor's watermark rules for one query with one watermark: what a
 * batch uses, what it judges late rows by, when a no-data batch follows.
 */
export class MicroBatchClock {
  /** The global watermark (ms): what the next batch uses. */
  watermarkMs = 0;
  /** The watermark the last executed batch used: the next batch judges late rows by it (Spark ≥ 3.4). */
  lastBatchWatermarkMs = 0;

  constructor(
    /** `withWatermark`'s delay (ms), or null without a watermark. */
    readonly delayMs: number | null,
    readonly noDataBatches = true,
  ) {}

  /**
   * One step: the data batch (`run(watermark, lateWatermark, true)`), the
   * watermark update from its event times (ms, null read as 0), and the
   * no-data batch (`run(…, false)`) when `evictsOnNoData` and the watermark moved.
   */
  step<T>(eventTimesMs: ReadonlyArray<number | null>, evictsOnNoData: boolean, run: (watermarkMs: number, lateWatermarkMs: number, data: boolean) => T): { data: T; noData: T | null; usedMs: number } {
    const usedMs = this.watermarkMs;
    const data = run(usedMs, this.lastBatchWatermarkMs, true);
    this.lastBatchWatermarkMs = usedMs;
    if (this.delayMs !== null && eventTimesMs.length > 0) {
      const maxMs = Math.max(...eventTimesMs.map((ms) => ms ?? 0));
      this.watermarkMs = Math.max(this.watermarkMs, maxMs - this.delayMs);
    }
    let noData: T | null = null;
    if (this.noDataBatches && evictsOnNoData && this.watermarkMs > usedMs) {
      noData = run(this.watermarkMs, this.lastBatchWatermarkMs, false);
      this.lastBatchWatermarkMs = this.watermarkMs;
    }
    return { data, noData, usedMs };
  }
}

/** Runs a session (`grouping: "session"`) or `deduplication` case step by step. */
export function simulate(c: StreamingCase, restoreFrom: RestoreFrom = 'snapshot'): SimResult {
  const delayMs = c.watermark_delay === null ? null : watermarkDelayMs(c.watermark_delay);
  const s = caseSchema(c);
  const clock = new MicroBatchClock(delayMs, c.no_data_batches !== false && c.trigger !== 'once');
  let operator = operatorFor(c, delayMs);
  const result: SimResult = { emitted: [], watermark_used_by_step: [], watermark_after_step: [], state_rows_after_step: [], num_rows_dropped_by_watermark: [] };
  c.batches.forEach((rows, step) => {
    if (c.restart_before_step.includes(step)) operator = operator.restarted(restoreFrom);
    const batch = batchOf(s, rows);
    const op = operator;
    const { data, noData, usedMs } = clock.step(
      rows.map((r) => (r.time === null ? null : r.time * 1000)),
      op.evictsOnNoData,
      (watermarkMs, lateWatermarkMs, isData) => op.run(watermarkMs, lateWatermarkMs, isData ? batch : null),
    );
    result.emitted.push([...data.emitted, ...(noData?.emitted ?? [])]);
    result.watermark_used_by_step.push(delayMs === null ? null : usedMs / 1000);
    result.watermark_after_step.push(delayMs === null ? null : clock.watermarkMs / 1000);
    result.state_rows_after_step.push((noData ?? data).total);
    result.num_rows_dropped_by_watermark.push(delayMs === null ? null : data.dropped);
  });
  return result;
}

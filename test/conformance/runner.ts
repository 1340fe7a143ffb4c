#!/usr/bin/env node
/**
 * The conformance runner: drives tidemark's public API through scenarios
 * translated from Spark's own test suites and prints what happened, one JSON
 * object per case (`npm run conformance -- cases.json`). It reads each
 * case's fields and never looks at its name.
 *
 * @module
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Transform } from 'node:stream';
// The built package, as a user's program would use it: the runner drives the public API.
import {
  isTidemarkError,
  field,
  schema,
  Types,
  MemorySource,
  MemorySink,
  Watermark,
  Window,
  KeyedCount,
  KeyedAggregate,
  SessionWindow,
  DropDuplicates,
  startQuery,
  StreamingQueryManager,
  type DataType,
  type Row,
  type StreamingQuery,
  type StreamingQueryProgress,
} from 'tidemark';
import { parseOutputMode } from 'tidemark/internals';

/** A scenario's window fields. */
interface CaseWindow {
  duration: string;
  slide?: string | null;
  startTime?: string | null;
}

/** The fields of a scenario the runner reads. */
export interface ConformanceCase {
  kind: string;
  name: string;
  grouping?: 'window' | 'time' | 'key' | 'session';
  window?: CaseWindow | null;
  /** `grouping: "session"`: the gap of `session_window(time, gap)`. */
  session_gap?: string | null;
  /** `deduplication`: the key columns. */
  columns?: string[] | null;
  /** `deduplication`: `dropDuplicatesWithinWatermark` rather than `dropDuplicates`. */
  within_watermark?: boolean;
  watermark_delay?: string | null;
  output_mode?: string;
  batches?: Array<Array<{ time?: number | null; key?: unknown; value?: number | null }>>;
  restart_before_step?: number[];
  no_data_batches?: boolean;
  trigger?: string;
  input?: Array<{ time_us: number | null }>;
  /** Spark result columns per group instead of the count alone (`count`, `count(value)`, `sum(value)`, …). */
  aggregates?: string[];
}

/** What a streaming_aggregation case produced. */
export interface AggregationResult {
  name: string;
  emitted: Row[][];
  watermark_used_by_step: Array<number | null>;
  watermark_after_step: Array<number | null>;
  state_rows_after_step: Array<number | null>;
  num_rows_dropped_by_watermark: Array<number | null>;
}

/** What a window_assignment case produced. */
export interface WindowAssignmentResult {
  name: string;
  windows: Array<Array<{ start_us: number; end_us: number }>>;
  group_counts: Array<{ window_start_us: number; window_end_us: number; count: number }>;
}

/** A case the runner could not run. */
export interface CaseError {
  name: string;
  error: { code: string; message: string };
}

function keyType(batches: ConformanceCase['batches']): DataType {
  const keys = (batches ?? []).flat().map((r) => r.key).filter((k) => k !== null && k !== undefined);
  if (keys.length > 0 && keys.every((k) => typeof k === 'number' && Number.isInteger(k))) return Types.long;
  if (keys.length > 0 && keys.every((k) => typeof k === 'number')) return Types.double;
  if (keys.length > 0 && keys.every((k) => typeof k === 'boolean')) return Types.boolean;
  return Types.string;
}

const msToSeconds = (ms: number): number => ms / 1000;

function watermarkSeconds(progress: StreamingQueryProgress | undefined): number | null {
  const text = progress?.eventTime?.['watermark'];
  return text === undefined ? null : msToSeconds(Date.parse(text));
}

/**
 * Runs one `streaming_aggregation` case through MemorySource → Watermark →
 * Window → KeyedCount → MemorySink (`grouping: "session"`: → SessionWindow),
 * or one `deduplication` case through MemorySource → Watermark →
 * DropDuplicates → MemorySink; the figures come from the query's progress.
 */
export async function runAggregationCase(c: ConformanceCase): Promise<AggregationResult> {
  const dedup = c.kind === 'deduplication';
  const grouping = dedup ? 'rows' : (c.grouping ?? 'window');
  const hasWatermark = c.watermark_delay !== null && c.watermark_delay !== undefined;
  const outputMode = parseOutputMode(c.output_mode ?? 'append');
  const once = c.trigger === 'once';
  const aggregates = c.aggregates ?? null;
  const inputSchema = schema([field('time', Types.timestamp), field('key', keyType(c.batches)), ...(aggregates === null ? [] : [field('value', Types.long)])]);
  const checkpointLocation = await mkdtemp(join(tmpdir(), 'tidemark-conformance-'));
  const manager = new StreamingQueryManager();
  let source = new MemorySource({ schema: inputSchema });
  let watermarkStage: Watermark | null = null;
  let latest: StreamingQuery | null = null;
  const emittedThisStep: Row[] = [];
  const progressThisStep: StreamingQueryProgress[] = [];

  const start = async (): Promise<StreamingQuery> => {
    const stages: Transform[] = [];
    watermarkStage = hasWatermark ? new Watermark({ eventTime: 'time', delay: c.watermark_delay! }) : null;
    if (watermarkStage !== null) stages.push(watermarkStage);
    if (dedup) {
      stages.push(new DropDuplicates({ columns: c.columns ?? null, withinWatermark: c.within_watermark === true }));
    } else if (grouping === 'session') {
      if (typeof c.session_gap !== 'string') throw new Error('grouping "session" needs a session_gap');
      stages.push(new SessionWindow({ timeColumn: 'time', gap: c.session_gap, groupBy: ['key'] }));
    } else {
      if (grouping === 'window') {
        if (c.window === null || c.window === undefined) throw new Error('grouping "window" needs a window');
        stages.push(new Window({ timeColumn: 'time', duration: c.window.duration, slide: c.window.slide ?? null, startTime: c.window.startTime ?? null }));
      }
      const groupBy = grouping === 'window' ? ['window', 'key'] : grouping === 'time' ? ['time', 'key'] : ['key'];
      stages.push(aggregates === null ? new KeyedCount({ groupBy }) : new KeyedAggregate({ groupBy, aggregates }));
    }
    const sink = new MemorySink();
    sink.on('batch', (_id: number, rows: Row[]) => emittedThisStep.push(...rows));
    const query = await startQuery({
      source,
      stages,
      sink,
      checkpointLocation,
      outputMode,
      manager,
      ...(once ? { trigger: 'once' as const } : {}),
      ...(c.no_data_batches === undefined ? {} : { noDataMicroBatches: c.no_data_batches }),
    });
    query.on('progress', (p: StreamingQueryProgress) => progressThisStep.push(p));
    latest = query;
    return query;
  };

  const result: AggregationResult = {
    name: c.name,
    emitted: [],
    watermark_used_by_step: [],
    watermark_after_step: [],
    state_rows_after_step: [],
    num_rows_dropped_by_watermark: [],
  };
  try {
    let query: StreamingQuery | null = once ? null : await start();
    const restarts = new Set(c.restart_before_step ?? []);
    for (const [step, rows] of (c.batches ?? []).entries()) {
      if (!once && restarts.has(step)) {
        await query!.stop();
        source = source.reopen();
        query = await start();
      }
      emittedThisStep.length = 0;
      progressThisStep.length = 0;
      source.addData(
        rows.map((r) => ({ time: r.time === null || r.time === undefined ? null : r.time * 1000, key: r.key ?? null, ...(aggregates === null ? {} : { value: r.value ?? null }) })),
      );
      if (once) {
        source = source.reopen();
        const run = await start();
        await run.awaitTermination();
      } else {
        await query!.processAllAvailable();
      }
      const dataBatch = progressThisStep[0];
      const lastBatch = progressThisStep[progressThisStep.length - 1];
      result.emitted.push(emittedThisStep.map((row) => toCaseRow(grouping, row, aggregates)));
      result.watermark_used_by_step.push(hasWatermark ? watermarkSeconds(dataBatch) : null);
      const watermarkAfter = (latest as StreamingQuery | null)?.watermarkMs ?? null;
      result.watermark_after_step.push(!hasWatermark || watermarkAfter === null ? null : msToSeconds(watermarkAfter));
      const lastState = lastBatch?.stateOperators[0];
      result.state_rows_after_step.push(lastState === undefined ? null : (lastState['numRowsTotal'] as number));
      const dataState = dataBatch?.stateOperators[0];
      result.num_rows_dropped_by_watermark.push(hasWatermark && dataState !== undefined ? (dataState['numRowsDroppedByWatermark'] as number) : null);
    }
    if (query !== null) await query.stop();
  } finally {
    await manager.stopAll();
    await rm(checkpointLocation, { recursive: true, force: true });
  }
  return result;
}

// A row as the cases write them: the grouping, then `count` or each listed aggregate (null where Spark's result is null).
function toCaseRow(grouping: string, row: Row, aggregates: readonly string[] | null): Row {
  if (grouping === 'rows') {
    const time = row['time'] as number | null;
    return { time: time === null ? null : msToSeconds(time), key: row['key'] };
  }
  const values: Row = {};
  for (const name of aggregates ?? ['count']) {
    const v = row[name];
    values[name] = typeof v === 'bigint' ? Number(v) : (v ?? null);
  }
  if (grouping === 'session') {
    const w = row['session_window'] as { start: number; end: number };
    return { session_start: msToSeconds(w.start), session_end: msToSeconds(w.end), key: row['key'], ...values };
  }
  if (grouping === 'window') {
    const w = row['window'] as { start: number; end: number };
    return { window_start: msToSeconds(w.start), window_end: msToSeconds(w.end), key: row['key'], ...values };
  }
  if (grouping === 'time') return { time: row['time'] === null ? null : msToSeconds(row['time'] as number), key: row['key'], ...values };
  return { key: row['key'], ...values };
}

/** Runs one `window_assignment` case: the windows of each row, and the batch `groupBy(window).count()`. */
export async function runWindowAssignmentCase(c: ConformanceCase): Promise<WindowAssignmentResult> {
  if (c.window === null || c.window === undefined) throw new Error('a window_assignment case needs a window');
  const input = c.input ?? [];
  const inputSchema = schema([field('id', Types.long), field('time', Types.timestamp)]);
  const rows = input.map((r, id) => ({ id, time: r.time_us === null ? null : BigInt(r.time_us) }));
  const windowOf = (): Window => new Window({ timeColumn: 'time', duration: c.window!.duration, slide: c.window!.slide ?? null, startTime: c.window!.startTime ?? null });
  const manager = new StreamingQueryManager();
  const toUs = (ms: number): number => Math.round(ms * 1000);

  const assigned = new MemorySink();
  const source1 = new MemorySource({ schema: inputSchema });
  source1.addData(rows);
  const q1 = await startQuery({ source: source1, stages: [windowOf()], sink: assigned, trigger: 'availableNow', manager });
  await q1.awaitTermination();
  const windows: Array<Array<{ start_us: number; end_us: number }>> = input.map(() => []);
  for (const row of assigned.rows()) {
    const w = row['window'] as { start: number; end: number };
    windows[row['id'] as number]!.push({ start_us: toUs(w.start), end_us: toUs(w.end) });
  }

  const counted = new MemorySink();
  const source2 = new MemorySource({ schema: inputSchema });
  source2.addData(rows);
  const q2 = await startQuery({
    source: source2,
    stages: [windowOf(), new KeyedCount({ groupBy: ['window'] })],
    sink: counted,
    outputMode: 'complete',
    trigger: 'availableNow',
    manager,
  });
  await q2.awaitTermination();
  const group_counts = counted.rows().map((row) => {
    const w = row['window'] as { start: number; end: number };
    return { window_start_us: toUs(w.start), window_end_us: toUs(w.end), count: row['count'] as number };
  });
  return { name: c.name, windows, group_counts };
}

/** The kinds of case the runner drives; the others are prose setups for tap tests. */
export const RUNNABLE_KINDS: ReadonlySet<string> = new Set(['streaming_aggregation', 'deduplication', 'window_assignment']);

/** Runs every runnable case of a scenario file, in file order; a case that fails yields an error line. */
export async function* runConformance(cases: readonly ConformanceCase[]): AsyncGenerator<AggregationResult | WindowAssignmentResult | CaseError> {
  for (const c of cases) {
    if (!RUNNABLE_KINDS.has(c.kind)) continue;
    try {
      yield c.kind === 'window_assignment' ? await runWindowAssignmentCase(c) : await runAggregationCase(c);
    } catch (err) {
      yield { name: c.name, error: { code: isTidemarkError(err) ? err.code : 'ERR_CONFORMANCE_CASE', message: (err as Error).message } };
    }
  }
}

/** Reads a scenario file (`{ cases: [...] }` or a bare array). */
export async function readCases(path: string): Promise<ConformanceCase[]> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as { cases?: ConformanceCase[] } | ConformanceCase[];
  return Array.isArray(parsed) ? parsed : (parsed.cases ?? []);
}

async function main(argv: readonly string[]): Promise<number> {
  const path = argv[0];
  if (path === undefined || path === '--help' || path === '-h') {
    process.stderr.write('usage: npm run conformance -- <cases.json>\n');
    return path === undefined ? 2 : 0;
  }
  for await (const line of runConformance(await readCases(path))) process.stdout.write(JSON.stringify(line) + '\n');
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`conformance: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}

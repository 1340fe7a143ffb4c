/**
 * The planner: from the stages a user composed to the stages that run
 * (Spark's physical planning). Pure: it never changes the user's stage
 * objects — a rewritten stage is a new instance — and `optimize: false`
 * runs the plan exactly as written.
 *
 * Rewrites, each giving the same rows, progress figures and checkpoints
 * as the plan as written:
 * - a sliding `Window` right before an aggregation that groups by it sends
 *   each row once with its slide-sized pane, which the aggregation expands
 *   into windows (a fraction of the work for `1 hour` every `10 minutes`);
 * - `ParseSchema → [Watermark] → Window → keyed aggregation` over byte
 *   chunks becomes `ChunkAggregate → [Watermark] → keyed aggregation`: each
 *   chunk is parsed, windowed and partially aggregated where it is read, on
 *   worker threads (Spark's partial aggregation before the state store).
 *
 * Every stage is then checked against its input schema (Spark's analysis
 * errors, thrown here before any data flows) and the sink against the
 * result.
 *
 * @module
 */
import type { Transform } from 'node:stream';
import type { OutputMode } from '../core/output-mode.js';
import { checkGlobalWatermarkLimit, type StatefulOperatorInfo } from '../core/stateful-chain.js';
import type { Schema } from '../core/schema.js';
import type { WindowSpec } from '../core/window.js';
import type { Source } from '../sources/source.js';
import type { Sink } from '../sinks/sink.js';
import { refusePartialInput, type PlanContext, type Stage } from '../stages/stage.js';
import type { ParseSchema } from '../stages/parse-schema.js';
import { ChunkAggregate, chunkAggregateProblem, type ChunkWindow } from '../stages/chunk-aggregate.js';
import type { StoreSpec } from '../core/partial-aggregate.js';
import type { PlanEntry } from '../protocol.js';

/** Options of {@link planQuery}. */
export interface PlanOptions {
  readonly outputMode: OutputMode;
  readonly checkpointLocation: string | null;
  /** Apply the rewrites (default true); false runs the stages as written. */
  readonly optimize?: boolean;
}

/** The stages that run, and how to show them. */
export interface QueryPlan {
  /** The stages to put between the source and the sink, in order. */
  readonly stages: readonly Transform[];
  /** The schema the sink receives. */
  readonly outputSchema: Schema;
  /** The plan as text, source to sink, one operator a line (Spark's `explain()`). */
  readonly explain: string;
}

// What the planner reads of the stages it rewrites around (by role, not by class).
interface StageLike extends Transform {
  readonly role?: string;
  plan?(input: Schema, context: PlanContext): Schema;
  describe?(): string;
  readonly aggregates?: boolean;
  readonly stateful?: boolean;
  readonly operatorName?: string;
  readonly acceptsPartialAggregates?: boolean;
  readonly statefulOperator?: StatefulOperatorInfo | null;
  outputModeAfter?(mode: OutputMode | undefined): OutputMode | undefined;
}
interface WindowLike extends StageLike {
  readonly role: 'window';
  planEntries(): PlanEntry[];
  readonly timeColumn: string;
  readonly as: string;
  readonly spec: WindowSpec;
  readonly panes: boolean;
  readonly panesPossible: boolean;
  withPanes(): Stage;
}
interface AggregateLike extends StageLike {
  readonly role: 'aggregate';
  readonly groupBy: readonly string[];
  readonly emitsLateRows: boolean;
  /** The buffers it keeps, when a partial aggregation where the rows are read can feed it (null: it cannot). */
  partialStore?(input: Schema): StoreSpec | null;
}
interface ParseLike extends StageLike {
  readonly role: 'parse';
  readonly schema: Schema;
}
interface WatermarkLike extends StageLike {
  readonly role: 'watermark';
  readonly eventTime: string;
}

const isWindow = (s: StageLike | undefined): s is WindowLike => s?.role === 'window';
const isAggregate = (s: StageLike | undefined): s is AggregateLike => s?.role === 'aggregate';
const isParse = (s: StageLike | undefined): s is ParseLike => s?.role === 'parse';
const isWatermark = (s: StageLike | undefined): s is WatermarkLike => s?.role === 'watermark';

/**
 * Plans a query: checks it as Spark's analyzer does, and chooses the stages
 * that run.
 *
 * @example
 * ```ts
 * const plan = planQuery(source, [parse, watermark, window, count], sink, { outputMode: 'append', checkpointLocation: './chk' })
 * await pipeline(microBatches(source, { checkpointLocation: './chk' }), ...plan.stages, sink)
 * ```
 */
export function planQuery(source: Source, stages: readonly Transform[], sink: Sink, options: PlanOptions): QueryPlan {
  checkOutputOutsideInput(source, sink);
  // The plan as written is checked first: its errors are the ones the user can act on.
  const written = analyse(source, stages, sink, options);
  const physical = options.optimize === false ? [...stages] : rewrite(stages as readonly StageLike[], written.inputs);
  const checked = physical === stages ? written : analyse(source, physical, sink, options);
  let operatorId = 0;
  const lines = [source.description];
  for (const stage of physical as readonly StageLike[]) {
    const text = stage.describe?.() ?? `${stage.constructor.name} (a stage of your own)`;
    lines.push(stage.stateful === true ? text.replace(/ \[state operator \d+\]$/, '') + ` [state operator ${operatorId++}]` : text);
  }
  lines.push(sink.description);
  return { stages: physical, outputSchema: checked.output, explain: lines.join('\n') };
}

// A file sink writing where a file source reads would read its own output back, one batch per trigger, forever.
function checkOutputOutsideInput(source: Source, sink: Sink): void {
  const output = sink.outputPath;
  if (output !== undefined) source.refuseOutputAt?.(output);
}

// Each stage's input schema, and the output, as the stages plan them (throws Spark's analysis errors).
function analyse(source: Source, stages: readonly Transform[], sink: Sink, options: PlanOptions): { inputs: Schema[]; output: Schema } {
  let schema = source.schema;
  let aggregated = false;
  let mode: OutputMode | undefined = options.outputMode;
  const inputs: Schema[] = [];
  let statefulOperators: readonly StatefulOperatorInfo[] = [];
  for (const stage of stages as readonly StageLike[]) {
    inputs.push(schema);
    // Stages say whether they merge partial aggregates; a transform of the user's own that plans its
    // schema (filterRows, mapRows) checks by itself; any other transform cannot take them.
    if (stage.operatorName !== undefined || stage.plan === undefined) refusePartialInput(stage.operatorName ?? stage.constructor.name, stage.acceptsPartialAggregates, schema);
    if (stage.plan !== undefined) schema = stage.plan(schema, { outputMode: mode, aggregated, statefulOperators });
    const operator = stage.statefulOperator ?? null;
    if (operator !== null) {
      statefulOperators = [...statefulOperators, operator];
      // Spark's global watermark check, as each stage does again when the run opens.
      checkGlobalWatermarkLimit(statefulOperators, mode ?? options.outputMode);
    }
    if (stage.aggregates === true) aggregated = true;
    if (stage.outputModeAfter !== undefined) mode = stage.outputModeAfter(mode);
  }
  sink.plan({ schema, outputMode: mode ?? options.outputMode, aggregated, checkpointLocation: options.checkpointLocation });
  return { inputs, output: schema };
}

function rewrite(stages: readonly StageLike[], inputs: readonly Schema[]): Transform[] {
  const out: StageLike[] = [...stages];
  for (let i = 0; i < out.length; i++) {
    const window = out[i];
    if (isWindow(window) && panesFit(window, out[i + 1], inputs[i]!)) out[i] = window.withPanes() as unknown as StageLike;
  }
  for (let i = 0; i < out.length; i++) {
    const parse = out[i];
    if (!isParse(parse) || !inputs[i]!.fields.some((f) => f.name === 'chunk')) continue;
    const chunked = chunkAggregate(parse, out.slice(i + 1), inputs);
    if (chunked === null) continue;
    // The parse becomes the chunk aggregate; the window it stands for leaves the plan.
    out[i] = chunked.stage as unknown as StageLike;
    out.splice(i + 1 + chunked.windowAt, 1);
  }
  return out;
}

// A sliding window whose duration is a multiple of its slide, right before an aggregation grouping by it
// that does not route late rows one by one, over a timestamp column.
function panesFit(window: WindowLike, next: StageLike | undefined, input: Schema): boolean {
  if (window.panes || !window.panesPossible || !isAggregate(next) || next.emitsLateRows || !next.groupBy.includes(window.as)) return false;
  const time = input.fields.find((f) => f.name === window.timeColumn);
  return time !== undefined && (time.dataType.type === 'timestamp' || time.dataType.type === 'timestamp_ntz');
}

// `[Watermark on the window's time] → Window → keyed aggregation` right after the parse, one window per row:
// a ChunkAggregate in place of the parse, and the index (in `rest`) of the window it absorbs.
function chunkAggregate(parse: ParseLike, rest: readonly StageLike[], _inputs: readonly Schema[]): { stage: ChunkAggregate; windowAt: number } | null {
  let at = 0;
  const watermark = isWatermark(rest[at]) ? (rest[at++] as WatermarkLike) : null;
  const window = rest[at];
  const aggregate = rest[at + 1];
  if (!isWindow(window) || !isAggregate(aggregate) || aggregate.emitsLateRows || aggregate.partialStore === undefined) return null;
  if (watermark !== null && watermark.eventTime !== window.timeColumn) return null;
  const spec = window.spec;
  const chunkWindow: ChunkWindow = { timeColumn: window.timeColumn, as: window.as, durationUs: spec.durationUs, slideUs: spec.slideUs, startTimeUs: spec.startTimeUs, panes: window.panes };
  if (chunkAggregateProblem(parse as unknown as ParseSchema, chunkWindow, aggregate.groupBy) !== null) return null;
  // The aggregates read the parse's columns: their buffers are resolved against its schema.
  const store = aggregate.partialStore(parse.schema);
  if (store === null) return null;
  const stage = new ChunkAggregate({ parse: parse as unknown as ParseSchema, window: chunkWindow, groupBy: aggregate.groupBy, store, windowEntry: window.planEntries()[0]! });
  return { stage, windowAt: at };
}

/**
 * `tidemark run`: the notebook's streaming query from the command line —
 * a file source (or a NATS JetStream stream), `ParseSchema`, an optional `Watermark`, `Window` and
 * `KeyedCount` (or `KeyedAggregate` with `--agg`), into a JSON, Parquet or CSV file sink, a NATS subject or the console.
 *
 * With a bounded trigger (`available-now`, `once`) it runs until the input
 * available at the start is processed; otherwise until SIGINT/SIGTERM, which
 * stop the query gracefully (the batch in flight completes) and exit 0.
 *
 * @module
 */
import type { Transform } from 'node:stream';
import { FileSource } from '../sources/file-source.js';
import { JetStreamSource } from '../sources/jetstream-source.js';
import { JetStreamSink } from '../sinks/jetstream-sink.js';
import { isNatsUrl, parseNatsUrl } from '../core/jetstream-offsets.js';
import { ParseSchema, type ParseMode } from '../stages/parse-schema.js';
import { Watermark } from '../stages/watermark.js';
import { Window } from '../stages/window.js';
import { KeyedCount } from '../stages/keyed-count.js';
import { KeyedAggregate } from '../stages/keyed-aggregate.js';
import { parseAggregates, resolveAggregates, type AggregateSpec } from '../core/aggregate-spec.js';
import { WINDOW_TYPE, type Schema } from '../core/schema.js';
import { SessionWindow } from '../stages/session-window.js';
import { DropDuplicates } from '../stages/drop-duplicates.js';
import { TidemarkError, isTidemarkError } from '../errors.js';
import { CheckpointSink } from '../sinks/checkpoint-sink.js';
import { ConsoleSink } from '../sinks/console-sink.js';
import { startQuery, StreamingQueryManager, type StartQueryOptions, type StreamingQuery } from '../query/streaming-query.js';
import { parseTrigger, type TriggerOption } from '../query/trigger.js';
import type { StreamingQueryProgress } from '../query/progress.js';
import { eventTimeWarning } from './event-time-warning.js';
import {
  booleanFlag,
  choiceFlag,
  integerFlag,
  listFlag,
  parseCommandArgs,
  processIO,
  requiredFlag,
  stringFlag,
  UsageError,
  type CommandIO,
  type FlagSpec,
} from './args.js';
import { parseUiFlags, startCliUi, UI_FLAGS, withUiDefault, type UiFlags } from './ui-flags.js';
import { checkRunOptions } from './run-checks.js';
import { progressLine, RunTotals } from './summary.js';
import { ProgressLog } from './progress-log.js';

export { progressLine } from './summary.js';

/** `tidemark run --help`. */
export const RUN_USAGE = `Usage: tidemark run --input DIR|nats://HOST:PORT/STREAM --schema DDL
                    [--group-by COLS] (--window DURATION | --session-window GAP)
                    [--agg AGGREGATES]
                    --output-mode append|update|complete
                    (--output DIR|nats://HOST:PORT/SUBJECT --checkpoint DIR
                     | --console [--checkpoint DIR])
                    [flags]

Counts (or, with --agg, aggregates) the events of a directory of JSON-lines
files per group and event-time window, as Spark's
  spark.readStream.schema(DDL).json(DIR)
    .withWatermark(TIME, DELAY)
    .groupBy(col(COL)…, window(col(TIME), DURATION, SLIDE, START)).count()
    .writeStream.outputMode(MODE).trigger(…).start()
(.agg(AGGREGATES) in place of .count() with --agg). The result columns are
the grouping columns with window after them (or where --group-by names it:
--group-by window,action), then count (or the aggregates, in the order
given); --window without --group-by counts per window. With
--session-window GAP instead of --window, the groups are Spark's
session_window(col(TIME), GAP) per key: the result columns are the grouping
columns, then session_window, then count (or the aggregates).

Input:
  --input DIR                     directory of JSON-lines files (new files are picked up),
                                  or a glob such as "logs/2016-*/*.json"; .gz and
                                  .deflate files are decompressed
  --schema DDL                    input schema, e.g. "time timestamp, action string"
  --mode MODE                     PERMISSIVE (default), DROPMALFORMED or FAILFAST
  --time-zone ZONE                zone of zone-less timestamps in the input and of
                                  timestamps in the output (default: the process's)
  --max-files-per-trigger N       at most N new files per micro-batch
  --max-event-time-ahead DURATION a record whose time is more than DURATION past its
                                  micro-batch's processing time is malformed (--mode
                                  decides); without it such a batch prints a warning
                                  when its max event time is over 1 day ahead
  --max-file-age AGE              skip new files older than the newest file seen
                                  minus AGE, e.g. 30d (default 7d; a warning names them)
  --latest-first                  newest files first (with --max-files-per-trigger,
                                  no file is skipped for its age)
  --ignore-missing-files          skip, with a warning, a file removed between the
                                  planning and the reading of its batch

Input from NATS JetStream (--input nats://HOST:PORT/STREAM, subjects STREAM.<partition>,
as tidemark publish writes them; several servers: nats://H1:P1,H2:P2/STREAM):
  --partitions LIST               the partitions this process reads, e.g. 0,1 or 0-3
                                  (default: all); processes with disjoint lists and
                                  their own checkpoints share the work
  --max-offsets-per-trigger N     at most N messages per micro-batch (shared among the
                                  partitions as Spark's Kafka source shares them)
  --starting-offsets S            earliest (default), latest, or JSON such as
                                  '{"STREAM":{"0":1200,"1":-2}}' (-2 earliest, -1 latest)

Aggregation:
  --group-by COL                  grouping column; repeat or comma-separate for several
  --event-time COL                event-time column (default: time)
  --window DURATION               window length, e.g. "1 hour"
  --slide DURATION                distance between window starts (default: the length)
  --start-time DURATION           offset of window starts (default: 0)
  --session-window GAP            instead of --window: sessions per key that end GAP after
                                  their last event, e.g. "10 minutes" (append or complete)
  --watermark DELAY               allowed lateness, e.g. "2 hours" (required for append)
  --agg AGGREGATES                the aggregates per group, in Spark's expressions,
                                  comma-separated: count (the default), count(*),
                                  count(COL), sum(COL), avg(COL), min(COL), max(COL),
                                  each optionally "AS NAME"; e.g.
                                  "count,avg(temperature),max(temperature)". Result
                                  columns are named as Spark names them (avg(temperature));
                                  nulls are skipped, a group with only nulls gets null
                                  (count(COL): 0)

Deduplication (before the aggregation):
  --drop-duplicates COLS          Spark's dropDuplicates(COLS): let through the first row
                                  of each key (COLS comma-separated, * for every column);
                                  keys are held until the watermark passes the event
                                  time when it is among COLS, forever otherwise
  --drop-duplicates-within-watermark COLS
                                  Spark's dropDuplicatesWithinWatermark(COLS): a key is
                                  held until its event time + the watermark delay passes
                                  the watermark (needs --watermark)
  Without --group-by and a window, a deduplication alone writes the rows let through.

Output:
  --output-mode MODE              append, update or complete
  --output DIR                    write files to DIR (Spark's file sink, with its
                                  _spark_metadata log: each batch's file once)
  --format FORMAT                 json (default), parquet or csv: the files --output DIR
                                  writes (Parquet as Spark writes it: DuckDB, pandas and
                                  Spark read it as it is; CSV with a header line, and as
                                  Spark refuses a struct such as window in CSV)
  --output nats://HOST:PORT/SUBJECT
                                  publish each row as a JSON message to SUBJECT, with a
                                  Nats-Msg-Id (query, batch, row) that drops a re-executed
                                  batch's copies (a new stream for SUBJECT keeps ids 1 hour)
  --console                       print each micro-batch's rows instead
  --checkpoint DIR                checkpoint directory (required with --output)
  --min-deltas-for-snapshot N     state deltas written between two snapshots of an
                                  operator's state (Spark's stateStore.minDeltasForSnapshot;
                                  default 10; 0: a snapshot every batch)
  --trigger T                     available-now or once (stop when the input present
                                  at the start is processed), or "processingTime=1 second"
                                  (default: back-to-back micro-batches until SIGINT/SIGTERM)
  --drain                         with a bounded trigger, end with a batch whose
                                  watermark is +infinity, so every open window is emitted
  --name NAME                     query name (shown in progress reports)
  --progress                      print a progress line per micro-batch on stderr even
                                  when stderr is not a terminal
  --progress-json FILE            append each micro-batch's StreamingQueryProgress to FILE
                                  as one line of JSON (Spark's shape), for monitoring;
                                  FILE is created when missing and never truncated

Live view:
  --ui [HOST:]PORT                serve a live view of the query in the browser until it
                                  ends (Spark's Structured Streaming tab); a bare --ui is
                                  127.0.0.1:4040; port 0 takes any free port; the address
                                  is printed on stderr
  --ui-token TOKEN                every request must carry TOKEN (required when HOST is
                                  not a loopback address); or set TIDEMARK_UI_TOKEN
  -h, --help                      print this help
`;

const FLAGS: Record<string, FlagSpec> = {
  input: { type: 'string' },
  schema: { type: 'string' },
  'group-by': { type: 'string', multiple: true },
  agg: { type: 'string' },
  window: { type: 'string' },
  'session-window': { type: 'string' },
  'drop-duplicates': { type: 'string', multiple: true },
  'drop-duplicates-within-watermark': { type: 'string', multiple: true },
  slide: { type: 'string' },
  'start-time': { type: 'string' },
  'event-time': { type: 'string' },
  watermark: { type: 'string' },
  'output-mode': { type: 'string' },
  checkpoint: { type: 'string' },
  'min-deltas-for-snapshot': { type: 'string' },
  output: { type: 'string' },
  format: { type: 'string' },
  console: { type: 'boolean' },
  trigger: { type: 'string' },
  'max-files-per-trigger': { type: 'string' },
  'max-event-time-ahead': { type: 'string' },
  'max-file-age': { type: 'string' },
  'latest-first': { type: 'boolean' },
  'ignore-missing-files': { type: 'boolean' },
  partitions: { type: 'string' },
  'max-offsets-per-trigger': { type: 'string' },
  'starting-offsets': { type: 'string' },
  drain: { type: 'boolean' },
  'time-zone': { type: 'string' },
  mode: { type: 'string' },
  name: { type: 'string' },
  progress: { type: 'boolean' },
  'progress-json': { type: 'string' },
  ...UI_FLAGS,
};

/** What `tidemark run` runs: its flags, parsed. */
export interface RunOptions {
  /** Input directory, or `nats://HOST:PORT/STREAM`. */
  readonly input: string;
  /** DDL schema of the input. */
  readonly schema: string;
  /** Grouping columns (the window column is added after them); empty for a deduplication alone. */
  readonly groupBy: readonly string[];
  /** Window length (absent with a session window, or for a deduplication alone). */
  readonly window?: string;
  /** Session gap: `session_window(time, gap)` instead of a window. */
  readonly sessionWindow?: string;
  /**
   * The aggregates per group in Spark's expressions (`"count, avg(temperature)"`),
   * result columns in this order after the grouping columns and the window;
   * `count` (Spark's `.count()`) when absent.
   */
  readonly aggregates?: string;
  /** `dropDuplicates(columns)` (null: every column), or `dropDuplicatesWithinWatermark` with `withinWatermark`, before the aggregation. */
  readonly dropDuplicates?: { readonly columns: readonly string[] | null; readonly withinWatermark: boolean };
  readonly slide?: string;
  readonly startTime?: string;
  /** Event-time column; default `time`. */
  readonly eventTime?: string;
  /** Watermark delay; no watermark when absent. */
  readonly watermark?: string;
  /** `append`, `update` or `complete`. */
  readonly outputMode: string;
  /** Checkpoint directory; in memory when absent (console only). */
  readonly checkpoint?: string;
  /** Spark's `stateStore.minDeltasForSnapshot`: state deltas between two snapshots (default 10). */
  readonly minDeltasForSnapshot?: number;
  /** Sink: an output directory of JSON, Parquet or CSV files, a NATS subject (`nats://HOST:PORT/SUBJECT`), or the console. */
  readonly sink:
    | { readonly kind: 'json' | 'parquet' | 'csv'; readonly path: string }
    | { readonly kind: 'nats'; readonly url: string }
    | { readonly kind: 'console' };
  /** Trigger string: `available-now`, `once`, `processingTime=…`; back to back when absent. */
  readonly trigger?: string;
  readonly maxFilesPerTrigger?: number;
  /** ParseSchema's `maxEventTimeAhead`: records with a time further past the batch's processing time are malformed. */
  readonly maxEventTimeAhead?: string;
  /** Spark's `maxFileAge` (`7d`, `12h`). */
  readonly maxFileAge?: string;
  /** Spark's `latestFirst`. */
  readonly latestFirst?: boolean;
  /** Spark's `ignoreMissingFiles`. */
  readonly ignoreMissingFiles?: boolean;
  /** NATS input: the partitions read (`0,1`, `0-3`); all by default. */
  readonly partitions?: string;
  /** NATS input: Spark's `maxOffsetsPerTrigger`. */
  readonly maxOffsetsPerTrigger?: number;
  /** NATS input: Spark's `startingOffsets`. */
  readonly startingOffsets?: string;
  readonly drain?: boolean;
  readonly timeZone?: string;
  readonly mode?: ParseMode;
  readonly name?: string;
}

/**
 * The {@link startQuery} options for a run: `FileSource → ParseSchema →
 * [Watermark] → [DropDuplicates] → Window → KeyedCount([...groupBy, 'window'])
 * → sink` (`KeyedAggregate` for aggregates other than a plain `count`), or
 * `… → SessionWindow([...groupBy, 'session_window']) → sink`.
 *
 * @throws TidemarkError from the stages' and sinks' constructors (bad interval, schema, zone…);
 *   for `--agg`, an unknown function or column named with the flag and what exists
 */
export function buildQuery(options: RunOptions): StartQueryOptions {
  const eventTime = options.eventTime ?? 'time';
  const timeZone = options.timeZone;
  const source = isNatsUrl(options.input) ? jetStreamSource(options) : new FileSource({
    path: options.input,
    // JSON lines go to ParseSchema as byte chunks: its compiled scanner reads them without a string per line.
    framing: 'chunks',
    ...(options.maxFilesPerTrigger === undefined ? {} : { maxFilesPerTrigger: options.maxFilesPerTrigger }),
    ...(options.maxFileAge === undefined ? {} : { maxFileAge: options.maxFileAge }),
    ...(options.latestFirst === undefined ? {} : { latestFirst: options.latestFirst }),
    ...(options.ignoreMissingFiles === undefined ? {} : { ignoreMissingFiles: options.ignoreMissingFiles }),
  });
  const parse = new ParseSchema({
    schema: options.schema,
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    ...(timeZone === undefined ? {} : { timeZone }),
    ...(options.maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead: options.maxEventTimeAhead }),
  });
  const stages: Transform[] = [parse];
  // The window column is there for the aggregates too (Window appends it); a session's is not.
  const aggregates = options.aggregates === undefined ? null : aggregateFlag(options.aggregates, options.window === undefined ? parse.schema : withWindowColumn(parse.schema));
  if (options.watermark !== undefined) stages.push(new Watermark({ eventTime, delay: options.watermark }));
  const dedup = options.dropDuplicates;
  if (dedup !== undefined) stages.push(new DropDuplicates({ columns: dedup.columns, withinWatermark: dedup.withinWatermark }));
  if (options.sessionWindow !== undefined) {
    const gap = options.sessionWindow;
    stages.push(
      flagged('--session-window', () =>
        new SessionWindow({ timeColumn: eventTime, gap, groupBy: withColumn(options.groupBy, 'session_window'), ...(aggregates === null ? {} : { aggregates }) }),
      ),
    );
  } else if (options.window !== undefined) {
    stages.push(
      new Window({
        timeColumn: eventTime,
        duration: options.window,
        ...(options.slide === undefined ? {} : { slide: options.slide }),
        ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
      }),
    );
    const groupBy = withColumn(options.groupBy, 'window');
    // A plain count stays KeyedCount: the same plan, and checkpoints, as without --agg.
    stages.push(aggregates === null || isPlainCount(aggregates) ? new KeyedCount({ groupBy }) : new KeyedAggregate({ groupBy, aggregates }));
  }
  const sink =
    options.sink.kind === 'console'
      ? new ConsoleSink(timeZone === undefined ? {} : { timeZone })
      : options.sink.kind === 'nats'
        ? jetStreamSink(options.sink.url, timeZone)
        : new CheckpointSink({ path: options.sink.path, format: options.sink.kind, ...(timeZone === undefined ? {} : { timeZone }) });
  return {
    ...(options.name === undefined ? {} : { name: options.name }),
    source,
    stages,
    sink,
    ...(options.checkpoint === undefined ? {} : { checkpointLocation: options.checkpoint }),
    ...(options.minDeltasForSnapshot === undefined ? {} : { minDeltasForSnapshot: options.minDeltasForSnapshot }),
    outputMode: options.outputMode,
    ...(options.trigger === undefined ? {} : { trigger: parseTrigger(options.trigger as TriggerOption) }),
    ...(options.drain === undefined ? {} : { drain: options.drain }),
  };
}

// `--input nats://HOST:PORT/STREAM`: the stream's partitions (all, or those of --partitions).
function jetStreamSource(options: RunOptions): JetStreamSource {
  const address = parseNatsUrl(options.input, 'stream', 'input');
  return new JetStreamSource({
    servers: address.servers,
    stream: address.name,
    framing: 'chunks',
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.maxOffsetsPerTrigger === undefined ? {} : { maxOffsetsPerTrigger: options.maxOffsetsPerTrigger }),
    ...(options.startingOffsets === undefined ? {} : { startingOffsets: options.startingOffsets }),
  });
}

// `--output nats://HOST:PORT/SUBJECT`.
function jetStreamSink(url: string, timeZone: string | undefined): JetStreamSink {
  const address = parseNatsUrl(url, 'subject', 'output');
  return new JetStreamSink({ servers: address.servers, subject: address.name, ...(timeZone === undefined ? {} : { timeZone }) });
}

// --agg, parsed and resolved against the aggregation's input now, so an unknown function or
// column is refused naming the flag before the query (and its checkpoint) starts.
function aggregateFlag(text: string, input: Schema): AggregateSpec[] {
  return flagged('--agg', () => {
    const specs = parseAggregates(text, '--agg');
    resolveAggregates(specs, input, { option: '--agg' });
    return specs;
  });
}

function withWindowColumn(schema: Schema): Schema {
  return { fields: [...schema.fields, { name: 'window', dataType: WINDOW_TYPE, nullable: true }] };
}

// `count` alone, unnamed: Spark's `.count()`.
function isPlainCount(specs: readonly AggregateSpec[]): boolean {
  return specs.length === 1 && specs[0]!.fn === 'count' && specs[0]!.alias === null && specs[0]!.star !== true;
}

// A stage built from a flag's value: its option error names the flag.
function flagged<T>(flag: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (!isTidemarkError(err) || err.option === undefined) throw err;
    throw new TidemarkError(err.code, `flag ${flag}: ${err.message}`, { option: flag, cause: err });
  }
}

/** Hooks of {@link executeQuery}. */
export interface ExecuteHooks {
  /** Called with every micro-batch's progress. */
  readonly onProgress?: (progress: StreamingQueryProgress) => void;
  /** Called with the source's warnings (files skipped by age, missing files ignored). */
  readonly onWarning?: (warning: Error) => void;
  /** Stop the query gracefully on SIGINT/SIGTERM (a second signal exits at once with 130). */
  readonly handleSignals?: boolean;
  /** Registry for the query; a private one by default. */
  readonly manager?: StreamingQueryManager;
}

/**
 * Starts the query and waits until it ends: by itself with a bounded
 * trigger, or after a graceful stop on SIGINT/SIGTERM.
 *
 * @returns the ended query (for its last progress)
 * @throws TidemarkError if the query cannot start or fails (`ERR_QUERY_FAILED`)
 */
export async function executeQuery(options: RunOptions, hooks: ExecuteHooks = {}): Promise<StreamingQuery> {
  const startOptions = buildQuery(options);
  const query = await startQuery({ ...startOptions, manager: hooks.manager ?? new StreamingQueryManager() });
  if (hooks.onProgress !== undefined) query.on('progress', hooks.onProgress);
  if (hooks.onWarning !== undefined) query.on('warning', hooks.onWarning);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
    void query.stop().catch(() => undefined);
  };
  if (hooks.handleSignals === true) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    await query.awaitTermination();
  } finally {
    if (hooks.handleSignals === true) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (hooks.onProgress !== undefined) query.off('progress', hooks.onProgress);
    if (hooks.onWarning !== undefined) query.off('warning', hooks.onWarning);
  }
  return query;
}

/**
 * Parses `tidemark run`'s flags into {@link RunOptions}.
 *
 * @throws UsageError naming a missing or bad flag
 */
export function parseRunArgs(argv: readonly string[]): { help: boolean; progress: boolean; progressJson: string | null; options: RunOptions | null; ui: UiFlags | null } {
  const args = parseCommandArgs('run', withUiDefault(argv), FLAGS);
  if (args.help) return { help: true, progress: false, progressJson: null, options: null, ui: null };
  const input = requiredFlag('run', args, 'input');
  const schema = requiredFlag('run', args, 'schema');
  const groupBy = listFlag(args, 'group-by');
  const { window, sessionWindow, dropDuplicates } = parseGroupingFlags(args, groupBy);
  const aggregates = stringFlag(args, 'agg');
  if (aggregates !== undefined && aggregates.trim().length === 0) throw new UsageError('flag --agg needs aggregates, e.g. "count,avg(temperature)"', 'run');
  if (aggregates !== undefined && window === undefined && sessionWindow === undefined) throw new UsageError('flag --agg needs --window or --session-window', 'run');
  const outputMode = choiceFlag('run', args, 'output-mode', ['append', 'update', 'complete'] as const);
  if (outputMode === undefined) throw new UsageError('missing required flag --output-mode', 'run');
  const output = stringFlag(args, 'output');
  const toConsole = booleanFlag(args, 'console');
  if (output !== undefined && toConsole) throw new UsageError('flags --output and --console cannot be used together', 'run');
  if (output === undefined && !toConsole) throw new UsageError('missing required flag --output (or --console)', 'run');
  if (output !== undefined && output.length === 0) throw new UsageError('flag --output needs a non-empty value', 'run');
  const format = choiceFlag('run', args, 'format', ['json', 'parquet', 'csv'] as const);
  if (format !== undefined && output === undefined) throw new UsageError('--format: the console prints rows; --format chooses the files --output writes', 'run');
  if (format !== undefined && output !== undefined && isNatsUrl(output)) {
    throw new UsageError('--format: a NATS subject gets one JSON message per row; --format chooses the files --output DIR writes', 'run');
  }
  const checkpoint = stringFlag(args, 'checkpoint');
  if (output !== undefined && checkpoint === undefined) throw new UsageError('missing required flag --checkpoint', 'run');
  if (checkpoint !== undefined && checkpoint.length === 0) throw new UsageError('flag --checkpoint needs a non-empty value', 'run');
  const minDeltasForSnapshot = minDeltasFlag(stringFlag(args, 'min-deltas-for-snapshot'), checkpoint);
  const trigger = stringFlag(args, 'trigger');
  const maxFilesPerTrigger = integerFlag('run', args, 'max-files-per-trigger');
  const mode = choiceFlag('run', args, 'mode', ['PERMISSIVE', 'DROPMALFORMED', 'FAILFAST'] as const);
  const optional = (name: string): string | undefined => {
    const v = stringFlag(args, name);
    if (v !== undefined && v.length === 0) throw new UsageError(`flag --${name} needs a non-empty value`, 'run');
    return v;
  };
  const maxFileAge = optional('max-file-age');
  const slide = optional('slide');
  const startTime = optional('start-time');
  const eventTime = optional('event-time');
  const watermark = optional('watermark');
  const timeZone = optional('time-zone');
  const name = optional('name');
  const maxEventTimeAhead = optional('max-event-time-ahead');
  const partitions = optional('partitions');
  const maxOffsetsPerTrigger = integerFlag('run', args, 'max-offsets-per-trigger');
  const startingOffsets = optional('starting-offsets');
  // Each input has its own flags: one given for the other input would be ignored.
  const natsInput = isNatsUrl(input);
  const fileOnly = ['max-files-per-trigger', 'max-file-age', 'latest-first', 'ignore-missing-files'].filter((f) => args.values[f] !== undefined);
  const natsOnly = ['partitions', 'max-offsets-per-trigger', 'starting-offsets'].filter((f) => args.values[f] !== undefined);
  if (natsInput && fileOnly.length > 0) throw new UsageError(`flag --${fileOnly[0]} applies to a file input, not to --input ${input}`, 'run');
  if (!natsInput && natsOnly.length > 0) throw new UsageError(`flag --${natsOnly[0]} applies to a NATS input (--input nats://HOST:PORT/STREAM)`, 'run');
  const options: RunOptions = {
    input,
    schema,
    groupBy,
    ...(window === undefined ? {} : { window }),
    ...(sessionWindow === undefined ? {} : { sessionWindow }),
    ...(aggregates === undefined ? {} : { aggregates }),
    ...(dropDuplicates === undefined ? {} : { dropDuplicates }),
    outputMode,
    sink: output === undefined ? { kind: 'console' } : isNatsUrl(output) ? { kind: 'nats', url: output } : { kind: format ?? 'json', path: output },
    ...(slide === undefined ? {} : { slide }),
    ...(startTime === undefined ? {} : { startTime }),
    ...(eventTime === undefined ? {} : { eventTime }),
    ...(watermark === undefined ? {} : { watermark }),
    ...(checkpoint === undefined ? {} : { checkpoint }),
    ...(minDeltasForSnapshot === undefined ? {} : { minDeltasForSnapshot }),
    ...(trigger === undefined ? {} : { trigger }),
    ...(maxFilesPerTrigger === undefined ? {} : { maxFilesPerTrigger }),
    ...(maxFileAge === undefined ? {} : { maxFileAge }),
    ...(booleanFlag(args, 'latest-first') ? { latestFirst: true } : {}),
    ...(booleanFlag(args, 'ignore-missing-files') ? { ignoreMissingFiles: true } : {}),
    ...(booleanFlag(args, 'drain') ? { drain: true } : {}),
    ...(timeZone === undefined ? {} : { timeZone }),
    ...(mode === undefined ? {} : { mode }),
    ...(name === undefined ? {} : { name }),
    ...(maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(maxOffsetsPerTrigger === undefined ? {} : { maxOffsetsPerTrigger }),
    ...(startingOffsets === undefined ? {} : { startingOffsets }),
  };
  // Flags against each other and --schema: a bad value is named, with its fix, before anything starts.
  checkRunOptions(options);
  const progressJson = stringFlag(args, 'progress-json');
  if (progressJson !== undefined && progressJson.length === 0) throw new UsageError('flag --progress-json needs a file name', 'run');
  return { help: false, progress: booleanFlag(args, 'progress'), progressJson: progressJson ?? null, options, ui: parseUiFlags('run', args) };
}

// --min-deltas-for-snapshot: a whole number, 0 or more, for the state files of a checkpoint on disk.
function minDeltasFlag(value: string | undefined, checkpoint: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const flag = '--min-deltas-for-snapshot';
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new TidemarkError('ERR_INVALID_OPTION', `flag ${flag} must be a whole number of deltas, 0 or more (0: a snapshot every batch); got '${value}'`, { option: flag });
  }
  if (checkpoint === undefined) throw new TidemarkError('ERR_INVALID_OPTION', `flag ${flag} needs --checkpoint: without one no state file is written`, { option: flag });
  return Number(value);
}

// --window or --session-window (one of them, with --group-by), and the deduplication flags; a
// deduplication alone needs neither.
function parseGroupingFlags(
  args: ReturnType<typeof parseCommandArgs>,
  groupBy: readonly string[],
): Pick<RunOptions, 'window' | 'sessionWindow' | 'dropDuplicates'> {
  const nonEmpty = (name: string): string | undefined => {
    const v = stringFlag(args, name);
    if (v !== undefined && v.length === 0) throw new UsageError(`flag --${name} needs a non-empty value`, 'run');
    return v;
  };
  const window = nonEmpty('window');
  const sessionWindow = nonEmpty('session-window');
  if (window !== undefined && sessionWindow !== undefined) throw new UsageError('flags --window and --session-window cannot be used together', 'run');
  if (window === undefined) {
    for (const name of ['slide', 'start-time']) {
      if (stringFlag(args, name) !== undefined) throw new UsageError(`flag --${name} needs --window${sessionWindow === undefined ? '' : ' (a session window has none)'}`, 'run');
    }
  }
  const given = (name: string): boolean => args.values[name] !== undefined;
  let dropDuplicates: RunOptions['dropDuplicates'];
  for (const [name, withinWatermark] of [['drop-duplicates', false], ['drop-duplicates-within-watermark', true]] as const) {
    if (!given(name)) continue;
    if (dropDuplicates !== undefined) throw new UsageError('flags --drop-duplicates and --drop-duplicates-within-watermark cannot be used together', 'run');
    const columns = listFlag(args, name);
    if (columns.length === 0) throw new UsageError(`flag --${name} needs column names (comma-separated, or * for every column)`, 'run');
    if (columns.includes('*') && columns.length > 1) throw new UsageError(`flag --${name}: * stands for every column, list no other`, 'run');
    dropDuplicates = { columns: columns[0] === '*' ? null : columns, withinWatermark };
  }
  if (dropDuplicates?.withinWatermark === true && stringFlag(args, 'watermark') === undefined) {
    throw new UsageError('flag --drop-duplicates-within-watermark needs --watermark', 'run');
  }
  const grouped = window !== undefined || sessionWindow !== undefined;
  if (!grouped && dropDuplicates !== undefined && groupBy.length > 0) throw new UsageError('flag --group-by needs --window or --session-window', 'run');
  if (!grouped && dropDuplicates === undefined) {
    if (groupBy.length === 0) throw new UsageError('missing required flag --group-by', 'run');
    throw new UsageError('missing required flag --window (or --session-window)', 'run');
  }
  // Spark refuses a session window with no other key; a time window alone is counted per window.
  if (sessionWindow !== undefined && groupBy.filter((c) => c !== 'session_window').length === 0) throw new UsageError('flag --session-window needs --group-by (Spark refuses a session window with no other grouping column)', 'run');
  return {
    ...(window === undefined ? {} : { window }),
    ...(sessionWindow === undefined ? {} : { sessionWindow }),
    ...(dropDuplicates === undefined ? {} : { dropDuplicates }),
  };
}

/**
 * Runs `tidemark run` with the arguments after `run`.
 *
 * @returns the exit status: 0 when the query ended (bounded trigger) or was stopped by a signal
 * @throws UsageError for a bad command line; TidemarkError when the query cannot start or fails
 */
export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseRunArgs(argv);
  if (parsed.help || parsed.options === null) {
    io.stdout.write(RUN_USAGE);
    return 0;
  }
  const options = parsed.options;
  // Checked before anything starts, so a bad trigger is refused before the checkpoint is touched.
  if (options.trigger !== undefined) parseTrigger(options.trigger as TriggerOption);
  const showProgress = parsed.progress || process.stderr.isTTY === true;
  const totals = new RunTotals();
  // Opened before the query starts, so a path that cannot be written is refused before any work.
  const progressLog = parsed.progressJson === null ? null : ProgressLog.open(parsed.progressJson, (err) =>
    io.stderr.write(`tidemark: warning: --progress-json ${parsed.progressJson}: ${err.message}; later progress is not written to it\n`),
  );
  const manager = new StreamingQueryManager();
  let ui: Awaited<ReturnType<typeof startCliUi>> | null = null;
  try {
    ui = parsed.ui === null ? null : await startCliUi(parsed.ui, manager, io.stderr, options.timeZone);
    await executeQuery(options, {
      handleSignals: true,
      manager,
      // Input left unread is always said, progress lines or not.
      onWarning: (warning: Error) => io.stderr.write(`tidemark: warning: ${warning.message}\n`),
      onProgress: (p: StreamingQueryProgress) => {
        totals.add(p);
        progressLog?.append(p);
        if (showProgress) io.stderr.write(progressLine(p) + '\n');
        // Always, progress shown or not: one absurd event time makes every later row late.
        const warning = eventTimeWarning(p, options.maxEventTimeAhead);
        if (warning !== null) io.stderr.write(`tidemark: ${warning}\n`);
      },
    });
  } finally {
    await progressLog?.close();
    await ui?.close();
  }
  // Always, terminal or not: what the run did, in one line a log or a script can keep.
  io.stderr.write(`tidemark: ${totals.summary()}\n`);
  return 0;
}

// The grouping columns with the window column: where the user listed it (`--group-by window,action`),
// else after them, as in the notebook's `groupBy(col("action"), window(...))`.
function withColumn(groupBy: readonly string[], column: string): string[] {
  return groupBy.includes(column) ? [...groupBy] : [...groupBy, column];
}

/**
 * tidemark: Spark Structured Streaming's event-time processing — windows,
 * watermarks, aggregations, sessions, deduplication, output modes,
 * checkpoints, exactly-once file output — as composable Node streams.
 *
 * This entry holds what programs compose: sources, stages, sinks, the query
 * driver, errors, and the schema and row types. The building blocks under
 * them (the protocol's helpers, the rule modules, the checkpoint store, the
 * JSON reader) are in `tidemark/internals`.
 *
 * @packageDocumentation
 */

// Errors
export { TidemarkError, isTidemarkError, type TidemarkErrorCode } from './errors.js';

// Schemas and rows
export { parseDDL } from './core/ddl.js';
export { schema, field, Types, type Schema, type Field, type DataType } from './core/schema.js';
export { RecordBatch, type Row } from './core/batch.js';
export type { StreamItem } from './protocol.js';

// Sources
export { FileSource, type FileSourceOptions } from './sources/file-source.js';
export { MemorySource, type MemorySourceOptions } from './sources/memory-source.js';
export { JetStreamSource, type JetStreamSourceOptions } from './sources/jetstream-source.js';
export { IterableSource, type IterableSourceOptions } from './sources/iterable-source.js';
export { SourceBase, type Source, type SourceContext, type Offset } from './sources/source.js';

// Stages
export { ParseSchema, type ParseSchemaOptions, type ParseMode } from './stages/parse-schema.js';
export { Watermark, type WatermarkOptions } from './stages/watermark.js';
export { Window, type WindowOptions } from './stages/window.js';
export { KeyedAggregate, type KeyedAggregateOptions } from './stages/keyed-aggregate.js';
export { KeyedCount, type KeyedCountOptions } from './stages/keyed-count.js';
export { SessionWindow, type SessionWindowOptions } from './stages/session-window.js';
export { DropDuplicates, type DropDuplicatesOptions } from './stages/drop-duplicates.js';
export { Sort, type SortOptions } from './stages/sort.js';
export { ReceiptTime, type ReceiptTimeOptions } from './stages/receipt-time.js';
export { filterRows, mapRows } from './stages/row-stages.js';
export { Stage, type PlanContext } from './stages/stage.js';

// Sinks
export { Sink, type SinkPlan } from './sinks/sink.js';
export { CheckpointSink, type CheckpointSinkOptions } from './sinks/checkpoint-sink.js';
export { ConsoleSink, type ConsoleSinkOptions } from './sinks/console-sink.js';
export { MemorySink } from './sinks/memory-sink.js';
export { JetStreamSink, type JetStreamSinkOptions } from './sinks/jetstream-sink.js';
export { ForEachBatchSink, type ForEachBatchFunction, type ForEachBatchContext } from './sinks/foreach-batch-sink.js';

// Publishing files to a NATS JetStream stream, partitioned by a key (tidemark publish)
export { publishFiles, type PublishOptions } from './cli/publish.js';

// Queries
export { startQuery, streams, StreamingQuery, StreamingQueryManager, type StartQueryOptions, type StreamingQueryListener } from './query/streaming-query.js';
export { microBatches, type ExecutionOptions } from './query/executor.js';
export { planQuery, type QueryPlan } from './query/planner.js';
export type { StreamingQueryProgress } from './query/progress.js';
export type { TriggerOption } from './query/trigger.js';
export type { OutputMode } from './core/output-mode.js';

// Reading what a query wrote, and watching it run
export { showDirectory } from './cli/show.js';
export { readCommittedJsonLines } from './sinks/file-sink-log.js';
export { serveUi, type ServeUiOptions, type UiServer } from './ui/server.js';

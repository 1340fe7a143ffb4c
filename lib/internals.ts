/**
 * `tidemark/internals`: the building blocks under the public API — the
 * protocol, the pure rule modules (`core/`), the checkpoint store, the JSON
 * reader and scanner, the state and aggregation cores, the sink logs. For
 * tools, tests and people extending tidemark; unlike the main entry, these
 * may change between minor versions.
 *
 * @packageDocumentation
 */
export { TidemarkError, isTidemarkError, type TidemarkErrorCode, type ErrorLocation } from './errors.js';
export * from './core/schema.js';
// Row types from a DDL string literal. Meant for the main entry (issue 17), which is at its 80 names for now.
export type { RowOf, InputRowOf, RowTyped } from './core/row-types.js';
export * from './core/batch.js';
export * from './core/interval.js';
export * from './core/window.js';
export * from './core/watermark.js';
export * from './core/output-mode.js';
export { parseDDL, schemaToDDL, dataTypeToDDL } from './core/ddl.js';
export { stringToTimestampUs, formatTimestampIso, formatTimestampShow, formatTimestampUtcMillis, defaultTimeZone, isValidTimeZone } from './core/timestamp.js';
export { appendJsonRecord, appendJsonValue, convertJsonValue, convertJsonRecord, type JsonConvertOptions } from './core/json-convert.js';
export { inferJsonSchema, inferJsonLinesSchema, jsonRecordsToRows, showString, type ShowOptions } from './core/show.js';
export * from './protocol.js';
export { Checkpoint, MIN_BATCHES_TO_RETAIN, DEFAULT_MIN_DELTAS_FOR_SNAPSHOT, type OffsetLogEntry, type CommitLogEntry, type CheckpointRecovery, type StateFileRecord } from './checkpoint/checkpoint.js';
export { encodeStateFile, decodeStateFile, parseStateFileName, type StateFileHeader } from './checkpoint/state-files.js';
export { Stage, checkSnapshot, STAGE_HIGH_WATER_MARK, type Checkpointable, type PlanContext } from './stages/stage.js';
export { Watermark, type WatermarkOptions } from './stages/watermark.js';
export { Window, type WindowOptions } from './stages/window.js';
export { KeyedCount, type KeyedCountOptions } from './stages/keyed-count.js';
export { KeyedAggregate, type KeyedAggregateOptions } from './stages/keyed-aggregate.js';
export { ChunkAggregate, chunkAggregateProblem, type ChunkAggregateOptions, type ChunkWindow } from './stages/chunk-aggregate.js';
export { refusePartialInput } from './stages/stage.js';
export * from './core/aggregates.js';
export { CountStore, type AggregateStore } from './core/count-store.js';
export { createAggregateStore, partialAggregate, partialFieldsOf, type PartialAggregatePlan, type PartialAggregates, type StoreSpec } from './core/partial-aggregate.js';
export { GroupTable, StringPool, keyLayout, canonicalJson, type KeyLayout, type KeyColumnLayout, type KeyCursor } from './core/group-table.js';
export { KeyedAggregation, type KeyedAggregationOptions, type AggregationBatchOutcome, type KeyedAggregationSnapshot, type PaneExpansion } from './core/keyed-aggregation.js';
export * from './core/session-window.js';
export * from './core/dedup.js';
export * from './core/java-number.js';
export { mulberry32 } from './core/prng.js';
export * from './core/file-selection.js';
export * from './sources/file-listing.js';
export { sourceLogPath, toFileUri } from './checkpoint/file-uri.js';
export { SessionWindow, type SessionWindowOptions } from './stages/session-window.js';
export { DropDuplicates, type DropDuplicatesOptions } from './stages/drop-duplicates.js';
export { checkStatefulOperators, checkGlobalWatermarkLimit, type StatefulOperatorInfo, type StatefulOperatorKind } from './core/stateful-chain.js';
export { Sort, type SortOptions, type SortKey } from './stages/sort.js';
export { ReceiptTime, type ReceiptTimeOptions } from './stages/receipt-time.js';
export { filterRows, mapRows, isPlannable, type Plannable } from './stages/row-stages.js';
export { SourceBase, isSource, notASource, refuseQueryOptions, sleep, type Source, type SourceContext, type SourceLogLocation, type SourceEvents, type Offset, type PlanMode, type PlannedAhead } from './sources/source.js';
export { MicroBatchExecution, microBatches, type ExecutionOptions, type ExecutionStatus } from './query/executor.js';
export { planQuery, type PlanOptions, type QueryPlan } from './query/planner.js';
export { MemorySource, type MemorySourceOptions } from './sources/memory-source.js';
export { FileSource, FILE_LINES_SCHEMA, type FileSourceOptions } from './sources/file-source.js';
export { JetStreamSource, type JetStreamSourceOptions } from './sources/jetstream-source.js';
export { IterableSource, type IterableSourceOptions } from './sources/iterable-source.js';
export { murmur2, keyText, partitionOfKeyText, partitionOfRecord } from './core/partition-hash.js';
export { formatPartitionOffsets, parsePartitionOffsets, parseStartingOffsets, prorate, type PartitionOffsets, type StartingOffsets } from './core/jetstream-offsets.js';
export { JetStreamSink, type JetStreamSinkOptions } from './sinks/jetstream-sink.js';
export { ForEachBatchSink, type ForEachBatchFunction, type ForEachBatchContext } from './sinks/foreach-batch-sink.js';
export { publishFiles, type PublishOptions, type PublishSummary } from './cli/publish.js';
export { ParseSchema, type ParseSchemaOptions } from './stages/parse-schema.js';
export { JsonReader, type JsonReaderOptions, type ParseMode, type LineLocation } from './core/json-reader.js';
export { compileScanner, JsonLineScanner, ByteInterner } from './core/json-scanner.js';
export { Sink, checkSinkPlan, OUTPUT_SAMPLE_ROWS, type SinkPlan } from './sinks/sink.js';
export { MemorySink } from './sinks/memory-sink.js';
export { CheckpointSink, type CheckpointSinkOptions } from './sinks/checkpoint-sink.js';
export { ConsoleSink, type ConsoleSinkOptions } from './sinks/console-sink.js';
export { readCommittedJsonLines, readSinkLog, readSinkOwner, writeSinkLogEntry, latestSinkBatchId, hasSinkLog, type SinkLogFile, type SinkOwner, type CommittedLine } from './sinks/file-sink-log.js';
export { parseTrigger, isBounded, DEFAULT_TRIGGER, type Trigger, type TriggerOption } from './query/trigger.js';
export { buildProgress, type StreamingQueryProgress, type SourceProgress } from './query/progress.js';
export { StreamingQuery, StreamingQueryManager, startQuery, streams, RECENT_PROGRESS_LIMIT, type StartQueryOptions, type StreamingQueryListener, type StreamingQueryEvents } from './query/streaming-query.js';
export { generateDataset, generateLines, partFileName, ACTIONS, GEN_DEFAULTS, MAX_OUT_OF_ORDER_SECONDS, type GenerateOptions, type GenerateDatasetOptions } from './gen.js';
export { clickstream, clickLine, writeClickstream, CLICK_ACTIONS, type ClickEvent, type Clickstream, type ClickstreamOptions } from './gen-clickstream.js';
export { iotReadings, iotLines, iotLine, iotDeviceNames, iotMaxDisorderSeconds, writeIotDataset, IOT_DEFAULTS, IOT_SCHEMA, type IotReading, type IotOptions, type WriteIotOptions } from './gen-iot.js';
export { showDirectory, type ShowDirectoryOptions } from './cli/show.js';
export { serveUi, type ServeUiOptions, type UiServer } from './ui/server.js';

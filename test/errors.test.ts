/**
 * The `error` scenarios of Spark's suites (test/fixtures/spark-cases.json):
 * each refusal with Spark's message and a stable code.
 */
import t from 'tap';
import { field, schema, Types } from '../lib/core/schema.js';
import { MemorySource } from '../lib/sources/memory-source.js';
import { MemorySink } from '../lib/sinks/memory-sink.js';
import { Watermark } from '../lib/stages/watermark.js';
import { Window } from '../lib/stages/window.js';
import { KeyedCount } from '../lib/stages/keyed-count.js';
import { Sort } from '../lib/stages/sort.js';
import { startQuery, StreamingQueryManager } from '../lib/query/streaming-query.js';
import { parseFileSourceOptions } from '../lib/core/file-selection.js';
import { eventSchema } from './helpers.js';
import { microBatches } from '../lib/query/executor.js';
import { FileSource } from '../lib/sources/file-source.js';

const source = (): MemorySource => new MemorySource({ schema: eventSchema });
const manager = (): StreamingQueryManager => new StreamingQueryManager();

t.test('err_append_aggregation_without_watermark: append mode needs a watermark on a grouping column', async (t) => {
  const message = 'Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark';
  await t.rejects(startQuery({ source: source(), stages: [new KeyedCount({ groupBy: ['action'] })], sink: new MemorySink(), outputMode: 'append', manager: manager() }), {
    code: 'ERR_APPEND_WITHOUT_WATERMARK',
    message,
  });
  await t.rejects(
    startQuery({
      source: source(),
      stages: [new Window({ timeColumn: 'time', duration: '1 hour' }), new KeyedCount({ groupBy: ['action', 'window'] })],
      sink: new MemorySink(),
      manager: manager(),
    }),
    { code: 'ERR_APPEND_WITHOUT_WATERMARK', message },
    'a window without a watermark',
  );
  await t.rejects(
    startQuery({
      source: source(),
      stages: [new Watermark({ eventTime: 'time', delay: '1 hour' }), new KeyedCount({ groupBy: ['action'] })],
      sink: new MemorySink(),
      manager: manager(),
    }),
    { code: 'ERR_APPEND_WITHOUT_WATERMARK', message },
    'a watermark on a column the aggregation does not group by',
  );
});

t.test('err_complete_without_aggregation: complete mode needs an aggregation', async (t) => {
  await t.rejects(startQuery({ source: source(), stages: [], sink: new MemorySink(), outputMode: 'complete', manager: manager() }), {
    code: 'ERR_COMPLETE_WITHOUT_AGGREGATION',
    message: 'Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets',
  });
});

t.test('err_negative_watermark_delay: negative delays are refused when the stage is built', async (t) => {
  t.throws(() => new Watermark({ eventTime: 'time', delay: '-10 seconds' }), {
    code: 'ERR_NEGATIVE_DELAY',
    message: 'requirement failed: delay threshold (-10 seconds) should not be negative.',
    option: 'delay',
  });
});

t.test('err_watermark_bad_column: a watermark on a missing column names it', async (t) => {
  await t.rejects(
    startQuery({ source: source(), stages: [new Watermark({ eventTime: 'badColumn', delay: '1 minute' })], sink: new MemorySink(), manager: manager() }),
    {
      code: 'ERR_UNKNOWN_COLUMN',
      message: '[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `badColumn` cannot be resolved. Did you mean one of the following? [`time`, `action`].',
    },
  );
});

t.test('err_watermark_wrong_type: a watermark on a non-timestamp column names column and type', async (t) => {
  const ints = new MemorySource({ schema: schema([field('value', Types.int)]) });
  await t.rejects(startQuery({ source: ints, stages: [new Watermark({ eventTime: 'value', delay: '1 minute' })], sink: new MemorySink(), manager: manager() }), {
    code: 'ERR_EVENT_TIME_NOT_TIMESTAMP',
    message: '[EVENT_TIME_IS_NOT_ON_TIMESTAMP_TYPE] The event time `value` has the invalid type "INT", but expected "TIMESTAMP".',
  });
});

t.test('err_max_files_per_trigger_invalid: maxFilesPerTrigger must be a positive integer', async (t) => {
  for (const v of ['not-a-integer', '-1', '0', '10.1']) {
    t.throws(() => parseFileSourceOptions({ maxFilesPerTrigger: v }), {
      code: 'ERR_INVALID_OPTION',
      message: `Invalid value '${v}' for option 'maxFilesPerTrigger', must be a positive integer`,
      option: 'maxFilesPerTrigger',
    });
  }
});

t.test('err_window_slide_greater_than_duration', async (t) => {
  t.throws(() => new Window({ timeColumn: 'time', duration: '1 second', slide: '1 minute' }), {
    code: 'ERR_INVALID_WINDOW',
    message: 'The slide duration (60000000) must be less than or equal to the windowDuration (1000000).',
  });
});

t.test('err_window_start_time_not_smaller_than_slide', async (t) => {
  for (const startTime of ['1 minute', '1 second']) {
    const us = startTime === '1 minute' ? 60000000 : 1000000;
    t.throws(() => new Window({ timeColumn: 'time', duration: '1 second', slide: '1 second', startTime }), {
      code: 'ERR_INVALID_WINDOW',
      message: `The absolute value of start time (${us}) must be less than the slideDuration (1000000).`,
    });
  }
});

t.test('err_window_month_interval', async (t) => {
  t.throws(() => new Window({ timeColumn: 'time', duration: '1 month' }), {
    code: 'ERR_INVALID_INTERVAL',
    message: 'Intervals greater than a month is not supported (1 month).',
  });
});

t.test('err_multiple_time_windows: a second window over the same rows is refused', async (t) => {
  await t.rejects(
    startQuery({
      source: source(),
      stages: [new Window({ timeColumn: 'time', duration: '10 seconds', as: 'w1' }), new Window({ timeColumn: 'time', duration: '15 seconds', as: 'w2' })],
      sink: new MemorySink(),
      manager: manager(),
    }),
    {
      code: 'ERR_MULTIPLE_WINDOWS',
      message: 'Multiple time/session window expressions would result in a cartesian product of rows, therefore they are currently not supported.',
    },
  );
});

t.test('err_batch_action_on_streaming_df: collecting an unbounded stream of micro-batches is refused', async (t) => {
  await t.rejects(microBatches(source()).toArray(), {
    code: 'ERR_UNSUPPORTED_OPERATION',
    message: 'Queries with streaming sources must be executed with writeStream.start()',
  });
});

t.test('a source read as a stream, outside a query, says how to run it', async (t) => {
  const { pipeline } = await import('node:stream/promises');
  const { Writable } = await import('node:stream');
  const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
  await t.rejects(pipeline(source() as unknown as NodeJS.ReadableStream, sink), {
    code: 'ERR_INVALID_SOURCE',
    message: /is run by a query, not read as a stream: startQuery\(\{ source, stages, sink \}\) or pipeline\(microBatches\(source/,
  });
});

t.test('something that is not a tidemark source is refused at start, naming the sources to use', async (t) => {
  const { Readable } = await import('node:stream');
  await t.rejects(startQuery({ source: Readable.from([{ a: 1 }]) as never, sink: new MemorySink(), manager: manager() }), {
    code: 'ERR_INVALID_SOURCE',
    message: /^Readable is not a tidemark source: read files with FileSource, rows your program adds with MemorySource, an async iterable or a Node Readable of objects with IterableSource/,
  });
});

t.test('the sources the refusal names are the ones the package exports', async (t) => {
  const api = (await import('../lib/index.js')) as Record<string, unknown>;
  const { notASource } = await import('../lib/sources/source.js');
  const named = notASource({}).message.match(/\b[A-Z]\w+Source\b/g) ?? [];
  t.strictSame(named, ['FileSource', 'MemorySource', 'IterableSource', 'JetStreamSource']);
  for (const name of named) t.type(api[name], 'function', `${name} is exported`);
});

t.test('a query option given to a source is refused, naming where it belongs', async (t) => {
  t.throws(() => new FileSource({ path: '.', checkpointLocation: './chk' } as never), {
    code: 'ERR_INVALID_OPTION',
    option: 'checkpointLocation',
    message: 'checkpointLocation is an option of the query, not of FileSource: startQuery({ source, checkpointLocation, … }) or pipeline(microBatches(source, { checkpointLocation }), …)',
  });
});

t.test('err_sort_without_complete_aggregation: sorting needs an aggregation in complete mode', async (t) => {
  const message = 'Sorting is not supported on streaming DataFrames/Datasets, unless it is on aggregated DataFrame/Dataset in Complete output mode';
  await t.rejects(startQuery({ source: source(), stages: [new Sort({ by: ['time'] })], sink: new MemorySink(), manager: manager() }), {
    code: 'ERR_UNSUPPORTED_OPERATION',
    message,
  });
  await t.rejects(
    startQuery({
      source: source(),
      stages: [new KeyedCount({ groupBy: ['action'] }), new Sort({ by: ['count'] })],
      sink: new MemorySink(),
      outputMode: 'update',
      manager: manager(),
    }),
    { code: 'ERR_UNSUPPORTED_OPERATION', message },
    'an aggregation in update mode',
  );
});

t.test('err_duplicate_active_query_name: two active queries cannot share a name', async (t) => {
  const m = manager();
  const first = await startQuery({ name: 'stream_1p', source: source(), sink: new MemorySink(), manager: m });
  await t.rejects(startQuery({ name: 'stream_1p', source: source(), sink: new MemorySink(), manager: m }), {
    code: 'ERR_DUPLICATE_QUERY_NAME',
    message: 'Cannot start query with name stream_1p as a query with that name is already active in this SparkSession',
  });
  await first.stop();
  const again = await startQuery({ name: 'stream_1p', source: source(), sink: new MemorySink(), manager: m });
  t.equal(again.name, 'stream_1p', 'the name is free again once the first query stopped');
  await again.stop();
});

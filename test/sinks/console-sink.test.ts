/**
 * `ConsoleSink`: each micro-batch printed exactly as Spark's console sink
 * prints it (banner, `show()` table, blank line), in every output mode.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { ConsoleSink } from '../../lib/sinks/console-sink.js';
import { eventSchema, events, notebookStages } from '../helpers.js';
import { microBatches } from '../../lib/query/executor.js';

/** A stream that keeps what was printed. */
function capture(): { output: Writable; text: () => string } {
  const chunks: string[] = [];
  const output = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { output, text: () => chunks.join('') };
}

t.test('update mode prints each batch under its banner, cells cut at 20 characters and right-aligned', async (t) => {
  const { output, text } = capture();
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({
    source,
    stages: notebookStages({ delay: '10 minutes', duration: '1 hour' }),
    sink: new ConsoleSink({ output, timeZone: 'UTC' }),
    outputMode: 'update',
    noDataMicroBatches: false,
    manager: new StreamingQueryManager(),
  });
  source.addData(events([1469504400, 'Open'], [1469504460, 'Open'], [1469505000, 'Close']));
  await query.processAllAvailable();
  source.addData(events([1469505100, 'Close']));
  await query.processAllAvailable();
  await query.stop();
  t.equal(
    text(),
    [
      '-------------------------------------------',
      'Batch: 0',
      '-------------------------------------------',
      '+------+--------------------+-----+',
      '|action|              window|count|',
      '+------+--------------------+-----+',
      '|  Open|{2016-07-26 03:00...|    2|',
      '| Close|{2016-07-26 03:00...|    1|',
      '+------+--------------------+-----+',
      '',
      '-------------------------------------------',
      'Batch: 1',
      '-------------------------------------------',
      '+------+--------------------+-----+',
      '|action|              window|count|',
      '+------+--------------------+-----+',
      '| Close|{2016-07-26 03:00...|    2|',
      '+------+--------------------+-----+',
      '',
      '',
    ].join('\n'),
  );
  t.equal(query.lastProgress?.sink.description, 'ConsoleSink[numRows=20, truncate=true]');
  t.equal(query.lastProgress?.sink.numOutputRows, 1);
});

t.test('complete mode with numRows and truncate false prints whole left-aligned cells and the only-showing footer', async (t) => {
  const { output, text } = capture();
  const source = new MemorySource({ schema: eventSchema });
  const run = { trigger: 'availableNow', outputMode: 'complete' } as const;
  source.addData(events([1, 'Open'], [2, 'Close'], [3, 'Open']));
  await pipeline(microBatches(source, run), new KeyedCount({ groupBy: ['action'] }), new ConsoleSink({ output, numRows: 1, truncate: false }));
  t.equal(
    text(),
    [
      '-------------------------------------------',
      'Batch: 0',
      '-------------------------------------------',
      '+------+-----+',
      '|action|count|',
      '+------+-----+',
      '|Open  |2    |',
      '+------+-----+',
      'only showing top 1 row',
      '',
      '',
    ].join('\n'),
  );
});

t.test('a batch without rows prints the header of an empty table (append mode before a window closes)', async (t) => {
  const { output, text } = capture();
  const source = new MemorySource({ schema: eventSchema });
  const run = { trigger: 'availableNow', outputMode: 'append' } as const;
  source.addData(events([1469504400, 'Open']));
  const sink = new ConsoleSink({ output, timeZone: 'Asia/Kolkata' });
  await pipeline([microBatches(source, run), ...notebookStages({ delay: '10 minutes', duration: '1 hour' }), sink] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  t.equal(
    text().split('\n').slice(0, 9).join('\n'),
    [
      '-------------------------------------------',
      'Batch: 0',
      '-------------------------------------------',
      '+------+------+-----+',
      '|action|window|count|',
      '+------+------+-----+',
      '+------+------+-----+',
      '',
      '-------------------------------------------',
    ].join('\n'),
  );
});

t.test('options are checked in the constructor, naming the option', async (t) => {
  t.throws(() => new ConsoleSink({ numRows: 1.5 }), { code: 'ERR_INVALID_OPTION', option: 'numRows', message: 'numRows must be an integer, got 1.5' });
  t.throws(() => new ConsoleSink({ truncate: 'yes' as unknown as boolean }), { code: 'ERR_INVALID_OPTION', option: 'truncate', message: 'truncate must be true or false, got yes' });
  t.throws(() => new ConsoleSink({ timeZone: 'Nowhere/Town' }), { code: 'ERR_INVALID_OPTION', option: 'timeZone' });
  t.throws(() => new ConsoleSink({ output: {} as NodeJS.WritableStream }), { code: 'ERR_INVALID_OPTION', option: 'output' });
  t.equal(new ConsoleSink({ numRows: -3, truncate: false }).description, 'ConsoleSink[numRows=0, truncate=false]', 'a negative numRows shows no rows, as in Spark');
});

import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transform } from 'node:stream';
import { FileSource } from '../../lib/sources/file-source.js';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { Watermark } from '../../lib/stages/watermark.js';
import { Window } from '../../lib/stages/window.js';
import { KeyedCount } from '../../lib/stages/keyed-count.js';
import { Stage, type PlanContext } from '../../lib/stages/stage.js';
import { filterRows } from '../../lib/stages/row-stages.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { planQuery } from '../../lib/query/planner.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import type { Schema } from '../../lib/core/schema.js';
import type { StreamItem } from '../../lib/protocol.js';
import type { Row } from '../../lib/core/batch.js';

const SCHEMA = 'time timestamp, action string';
const lines = ['{"time":1,"action":"Open"}', '{"time":2,"action":"Close"}', '{"time":3,"action":"Open"}', '{"time":14,"action":"Open"}'];

function notebook(extra: Transform[] = [], slide: string | null = null): Transform[] {
  return [new ParseSchema({ schema: SCHEMA, timeZone: 'UTC', workers: 0 }), ...extra, new Watermark({ eventTime: 'time', delay: '1 second' }), new Window({ timeColumn: 'time', duration: '10 seconds', slide }), new KeyedCount({ groupBy: ['action', 'window'] })];
}

async function runQuery(dir: string, stages: Transform[], optimize: boolean, checkpointLocation?: string): Promise<{ rows: Row[]; explain: string }> {
  const sink = new MemorySink();
  const query = await startQuery({
    source: new FileSource({ path: dir }),
    stages,
    sink,
    trigger: 'availableNow',
    drain: true,
    optimize,
    manager: new StreamingQueryManager(),
    ...(checkpointLocation === undefined ? {} : { checkpointLocation }),
  });
  await query.awaitTermination();
  return { rows: sink.rows(), explain: query.explain() };
}

t.test('the planner returns new stages for what it rewrites and leaves the user\'s stage objects as they were', async (t) => {
  const stages = notebook([], '5 seconds');
  const plan = planQuery(new FileSource({ path: t.testdir() }), stages, new MemorySink(), { outputMode: 'append', checkpointLocation: null });
  t.equal(plan.stages.length, 3, 'the chunk aggregate stands for the parse and the window');
  t.equal(plan.stages[0]!.constructor.name, 'ChunkAggregate');
  t.equal(plan.stages[1], stages[1], 'the watermark is kept as it is');
  t.equal(plan.stages[2], stages[3], 'the aggregation is kept as it is');
  t.equal((stages[2] as Window).panes, false, "the user's Window is left as it was");
});

t.test('optimize: false runs the stages exactly as written', async (t) => {
  const stages = notebook([], '5 seconds');
  const plan = planQuery(new FileSource({ path: t.testdir() }), stages, new MemorySink(), { outputMode: 'append', checkpointLocation: null, optimize: false });
  t.strictSame(plan.stages, stages);
});

t.test('explain shows the source, each operator (state operators numbered) and the sink', async (t) => {
  const dir = t.testdir();
  const source = new FileSource({ path: dir });
  const plan = planQuery(source, notebook(), new MemorySink(), { outputMode: 'append', checkpointLocation: null });
  const text = plan.explain.split('\n');
  t.equal(text[0], source.description);
  t.equal(text[1], 'ChunkAggregate(schema=time TIMESTAMP, action STRING, window=time 10000000/10000000/0 µs) with a partial count by [action, window], on the query thread');
  t.equal(text[2], 'Watermark(eventTime=time, delayMs=1000)');
  t.match(text[3], /^KeyedCount\(groupBy=\["action","window"\].*\) \[state operator 0\]$/);
  t.equal(text[4], 'MemorySink');
});

t.test('a filterRows after the parse keeps the row path: the same rows as the plan as written, never a silent skip', async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'a.json'), lines.join('\n') + '\n');
  const written = await runQuery(dir, notebook([filterRows((row) => row['action'] === 'Close')]), false);
  const planned = await runQuery(dir, notebook([filterRows((row) => row['action'] === 'Close')]), true);
  t.strictSame(planned.rows, written.rows);
  t.strictSame(planned.rows.map((r) => [r['action'], r['count']]), [['Close', 1]]);
  t.notMatch(planned.explain, /partial count/);
});

t.test('a stage of the user\'s own after the parse keeps the row path too', async (t) => {
  class Shout extends Stage {
    override plan(input: Schema, _context: PlanContext): Schema {
      return input;
    }
    protected override *process(item: StreamItem): Iterable<StreamItem> {
      if (item.kind !== 'rows') return yield item;
      yield { kind: 'rows', batch: item.batch.take(Int32Array.from({ length: item.batch.length }, (_, i) => i).filter((i) => item.batch.row(i)['action'] === 'Open'), item.batch.length) } as StreamItem;
    }
  }
  const dir = t.testdir();
  await writeFile(join(dir, 'a.json'), lines.join('\n') + '\n');
  const written = await runQuery(dir, notebook([new Shout()]), false);
  const planned = await runQuery(dir, notebook([new Shout()]), true);
  t.strictSame(planned.rows, written.rows);
  t.strictSame(written.rows.map((r) => [r['action'], r['count']]), [['Open', 2], ['Open', 1]]);
});

t.test('a checkpoint written by the plan as written restarts under the optimised plan, and the other way round', async (t) => {
  const dir = t.testdir({ in: {}, a: {}, b: {} });
  const input = join(dir, 'in');
  await writeFile(join(input, '1.json'), lines.slice(0, 2).join('\n') + '\n');
  const stagesFor = (): Transform[] => [new ParseSchema({ schema: SCHEMA, timeZone: 'UTC', workers: 2 }), new Watermark({ eventTime: 'time', delay: '1 second' }), new Window({ timeColumn: 'time', duration: '10 seconds', slide: '5 seconds' }), new KeyedCount({ groupBy: ['action', 'window'] })];
  const run = async (checkpoint: string, optimize: boolean, drain: boolean): Promise<Row[]> => {
    const sink = new MemorySink();
    const query = await startQuery({ source: new FileSource({ path: input }), stages: stagesFor(), sink, checkpointLocation: checkpoint, trigger: 'availableNow', drain, optimize, manager: new StreamingQueryManager() });
    await query.awaitTermination();
    return sink.rows();
  };
  const firstA = await run(join(dir, 'a'), false, false);
  const firstB = await run(join(dir, 'b'), true, false);
  t.strictSame(firstA, firstB);
  await writeFile(join(input, '2.json'), lines.slice(2).join('\n') + '\n');
  t.strictSame(await run(join(dir, 'a'), true, true), await run(join(dir, 'b'), false, true));
});

t.test('MemorySource input has no chunks: nothing is pushed down', async (t) => {
  const plan = planQuery(new MemorySource({ schema: 'value string' }), notebook(), new MemorySink(), { outputMode: 'append', checkpointLocation: null });
  t.notMatch(plan.explain, /partial count/);
});

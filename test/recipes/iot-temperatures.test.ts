/**
 * Recipe iot-temperatures: the windows it writes are the batch group-by of
 * the readings (count, avg, min, max per device and 5-minute window, null
 * where a window has no value), its chart has a line per charted device,
 * and a crash and restart at every micro-batch boundary gives the same output.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { iotReadings, writeIotDataset } from 'tidemark/internals';
import { IOT_DATA } from '../../recipes/common.js';
import { run, type IotTemperaturesResult } from '../../recipes/iot-temperatures.js';
import { capture, committedBatches, CRASH_MESSAGE, CrashingJsonSink, crashesAt, describeCrash, golden, readGolden } from './harness.js';

const root = t.testdir();
const data = join(root, 'readings');
await writeIotDataset(data, IOT_DATA);
const reference: IotTemperaturesResult = await run({ dataDir: data, workDir: join(root, 'reference'), out: capture().out });

t.test('prints the summary and two devices\' windows, dev-40\'s aggregates NULL (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('iot-temperatures.txt', text()));
});

t.test('the windows written are the batch group-by: readings counted, null temperatures skipped, null where a window has none', async (t) => {
  const groups = new Map<string, { device: string; startMs: number; readings: number; values: number[] }>();
  for (const r of iotReadings(IOT_DATA)) {
    const startMs = Math.floor(r.time / 300) * 300_000;
    const key = `${r.device} ${startMs}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { device: r.device, startMs, readings: 0, values: [] }));
    g.readings++;
    if (r.temperature !== null) g.values.push(r.temperature);
  }
  // Temperatures are multiples of 1/16: their sums are exact in any order, so the average is exactly sum / count.
  const expected = [...groups.values()].map((g) => {
    const none = g.values.length === 0;
    return `${g.device} ${g.startMs} ${g.readings} ${none ? null : g.values.reduce((a, b) => a + b, 0) / g.values.length} ${none ? null : Math.min(...g.values)} ${none ? null : Math.max(...g.values)}`;
  });
  t.equal(expected.length, 240);
  t.strictSame(reference.windows.map((w) => `${w.device} ${w.startMs} ${w.readings} ${w.avg} ${w.min} ${w.max}`).sort(), expected.sort());
  t.strictSame(
    reference.windows.filter((w) => w.avg === null).map((w) => w.device),
    Array(6).fill('dev-40'),
    'only the broken sensor has windows without a value',
  );
});

t.test('the chart has one line per charted device, dev-01 to dev-08', async (t) => {
  const svg = await readFile(reference.svg, 'utf8');
  for (const device of ['dev-01', 'dev-08']) t.match(svg, new RegExp(`<text[^>]*>${device}</text>`));
  t.notMatch(svg, /<text[^>]*>dev-09<\/text>/);
  t.equal([...svg.matchAll(/<path [^>]*d="M[^"]*L[^"]*" stroke="#[0-9a-f]{6}"/g)].length, 8, 'eight lines');
  t.ok((await readFile(reference.png)).subarray(1, 4).toString() === 'PNG', 'a PNG');
});

t.test('a crash at every micro-batch boundary, then a restart, writes the same windows', async (t) => {
  const expected = await readGolden('iot-temperatures.txt');
  const batches = await committedBatches(reference.checkpointLocation);
  t.ok(batches.length >= 5, `${batches.length} batches`);
  for (const crash of crashesAt(batches)) {
    await t.test(describeCrash(crash), async (t) => {
      const workDir = t.testdir();
      const crashed = run({ dataDir: data, workDir, out: capture().out, makeJsonSink: (o) => new CrashingJsonSink(o, crash) });
      if (crash.batchId > batches.at(-1)!) await crashed;
      else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
      const { out, text } = capture();
      await run({ dataDir: data, workDir, out });
      t.equal(text(), expected);
    });
  }
});

/**
 * The IoT readings generator: seeded, 40 devices in turn, 5 % of the working
 * devices' readings null and the last device always null, temperatures on a
 * 1/16 °C grid, disorder bounded.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { iotDeviceNames, iotLine, iotLines, iotMaxDisorderSeconds, iotReadings, writeIotDataset, IOT_DEFAULTS } from '../../lib/gen-iot.js';

const readings = [...iotReadings({ files: 4, lines: 10_000, seed: 5 })];

t.test('a reading is a JSON line of time in epoch seconds, device and temperature or null', async (t) => {
  t.equal(iotLine({ time: 1709251215, device: 'dev-07', temperature: 21.375 }), '{"time":1709251215,"device":"dev-07","temperature":21.375}');
  t.equal(iotLine({ time: 1709251215, device: 'dev-40', temperature: null }), '{"time":1709251215,"device":"dev-40","temperature":null}');
});

t.test('the same seed gives the same readings, another seed others', async (t) => {
  t.strictSame([...iotLines({ files: 2, lines: 50, seed: 5 })], [...iotLines({ files: 2, lines: 50, seed: 5 })]);
  t.notSame([...iotLines({ files: 2, lines: 50, seed: 5 })], [...iotLines({ files: 2, lines: 50, seed: 6 })]);
});

t.test('40 devices dev-01 … dev-40 report in turn, as many readings each', async (t) => {
  t.strictSame(iotDeviceNames().slice(0, 2), ['dev-01', 'dev-02']);
  t.equal(iotDeviceNames().at(-1), 'dev-40');
  const perDevice = new Map<string, number>();
  for (const r of readings) perDevice.set(r.device, (perDevice.get(r.device) ?? 0) + 1);
  t.strictSame([...perDevice.keys()], iotDeviceNames(IOT_DEFAULTS.devices));
  t.ok([...perDevice.values()].every((n) => n === 1000));
});

t.test('the last device never has a temperature; about 5 % of the others\' readings have none', async (t) => {
  t.ok(readings.filter((r) => r.device === 'dev-40').every((r) => r.temperature === null));
  const working = readings.filter((r) => r.device !== 'dev-40');
  const nulls = working.filter((r) => r.temperature === null).length / working.length;
  t.ok(nulls > 0.04 && nulls < 0.06, `${(nulls * 100).toFixed(2)} % null`);
  t.ok(iotReadings({ files: 1, lines: 80, deadDevice: 0 }).next().value!.temperature !== null, 'deadDevice 0: none dead');
});

t.test('temperatures are multiples of 1/16 °C between 10 and 35 °C', async (t) => {
  const values = readings.flatMap((r) => (r.temperature === null ? [] : [r.temperature]));
  t.ok(values.every((v) => Number.isInteger(v * 16)), 'on the 1/16 grid');
  t.ok(values.every((v) => v > 10 && v < 35), 'plausible');
  t.ok(new Set(values).size > 100, 'varied');
});

t.test('no reading is more than iotMaxDisorderSeconds older than one before it, and some are late', async (t) => {
  let max = -Infinity;
  let disorder = 0;
  for (const r of readings) {
    disorder = Math.max(disorder, max - r.time);
    max = Math.max(max, r.time);
  }
  t.equal(iotMaxDisorderSeconds(), 314);
  t.ok(disorder <= iotMaxDisorderSeconds(), `disorder ${disorder} s`);
  t.ok(disorder > 200, 'late readings exist');
  t.ok(readings.every((r) => r.time >= IOT_DEFAULTS.startEpochSeconds), 'none before the start');
});

t.test('writeIotDataset writes the lines, file by file', async (t) => {
  const { files, events } = await writeIotDataset(t.testdir(), { files: 2, lines: 30, seed: 9 });
  t.equal(events, 60);
  const text = (await readFile(files[0]!, 'utf8')) + (await readFile(files[1]!, 'utf8'));
  t.equal(text, [...iotLines({ files: 2, lines: 30, seed: 9 })].map((l) => l + '\n').join(''));
});

t.test('an option out of range is refused naming it', async (t) => {
  t.throws(() => iotReadings({ devices: 0 }).next(), { code: 'ERR_INVALID_OPTION', option: 'devices', message: "Invalid value '0' for option 'devices', must be a positive integer" });
  t.throws(() => iotReadings({ nullFraction: 2 }).next(), { code: 'ERR_INVALID_OPTION', option: 'nullFraction' });
  t.throws(() => iotReadings({ devices: 4, deadDevice: 5 }).next(), { code: 'ERR_INVALID_OPTION', message: "Invalid value '5' for option 'deadDevice', must be 0 (none) or a device number up to 4" });
});

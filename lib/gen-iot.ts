/**
 * Synthetic IoT readings for aggregations beyond count: temperature sensors
 * that report every few seconds, `{"time":1709251215,"device":"dev-07","temperature":21.375}`,
 * some readings without a value (`"temperature":null`) and one device whose
 * sensor is broken and never reports one.
 *
 * Deterministic for a seed, and shaped so that a streaming query can be
 * checked against a batch `GROUP BY` of the same files:
 * - temperatures are multiples of 1/16 °C (a DS18B20's 12-bit resolution),
 *   so sums and averages are exact in binary floating point whatever the
 *   order of addition, and a streaming sum equals a batch one bit for bit;
 * - disorder is bounded ({@link iotMaxDisorderSeconds}): with a watermark
 *   delay longer than that, no reading is dropped as late.
 *
 * The generator ({@link iotReadings}, {@link iotLines}) is pure; only
 * {@link writeIotDataset} touches the file system.
 *
 * @module
 */
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from './errors.js';
import { mulberry32 as prng } from './core/prng.js';

/** One reading: event time in epoch seconds, the device, the temperature in °C or null (no value read). */
export interface IotReading {
  readonly time: number;
  readonly device: string;
  readonly temperature: number | null;
}

/** Options of {@link iotReadings} and {@link writeIotDataset}. */
export interface IotOptions {
  /** Number of files (default 10). */
  files?: number;
  /** Readings per file (default 1000). */
  lines?: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Number of devices, `dev-01` … (default 40). */
  devices?: number;
  /** Every device reports once per this many seconds (default 15). */
  intervalSeconds?: number;
  /** Chance that a working device's reading has no value, 0–1 (default 0.05). */
  nullFraction?: number;
  /**
   * The device (1-based) whose sensor is broken: its readings never have a
   * value, so its `sum`, `avg`, `min` and `max` are null. Default: the last
   * device (`dev-40`); 0 for none.
   */
  deadDevice?: number;
  /** Chance that a reading arrives late, set back by up to {@link IotOptions.maxLateSeconds} (default 0.1). */
  lateFraction?: number;
  /** Most seconds a late reading is set back (default 300). */
  maxLateSeconds?: number;
  /** The first reading's slot, epoch seconds (default 2024-03-01T00:00:00Z). */
  startEpochSeconds?: number;
}

/** Defaults of {@link IotOptions}: 10 files of 1000 readings, 40 devices every 15 s ≈ 1 hour of event time. */
export const IOT_DEFAULTS = {
  files: 10,
  lines: 1000,
  seed: 1,
  devices: 40,
  intervalSeconds: 15,
  nullFraction: 0.05,
  lateFraction: 0.1,
  maxLateSeconds: 300,
  startEpochSeconds: Date.UTC(2024, 2, 1) / 1000,
} as const;

/** The schema to read the readings with: `time timestamp, device string, temperature double`. */
export const IOT_SCHEMA = 'time timestamp, device string, temperature double';

type Resolved = Required<IotOptions>;

function check(option: string, value: unknown, ok: (v: number) => boolean, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new TidemarkError('ERR_INVALID_OPTION', `Invalid value '${String(value)}' for option '${option}', must be ${what}`, { option });
  }
  return value;
}

function resolveOptions(options: IotOptions): Resolved {
  const positive = (v: number): boolean => Number.isSafeInteger(v) && v >= 1;
  const fraction = (v: number): boolean => v >= 0 && v <= 1;
  const devices = check('devices', options.devices ?? IOT_DEFAULTS.devices, positive, 'a positive integer');
  return {
    files: check('files', options.files ?? IOT_DEFAULTS.files, positive, 'a positive integer'),
    lines: check('lines', options.lines ?? IOT_DEFAULTS.lines, positive, 'a positive integer'),
    seed: check('seed', options.seed ?? IOT_DEFAULTS.seed, Number.isSafeInteger, 'an integer'),
    devices,
    intervalSeconds: check('intervalSeconds', options.intervalSeconds ?? IOT_DEFAULTS.intervalSeconds, positive, 'a positive integer'),
    nullFraction: check('nullFraction', options.nullFraction ?? IOT_DEFAULTS.nullFraction, fraction, 'between 0 and 1'),
    deadDevice: check('deadDevice', options.deadDevice ?? devices, (v) => Number.isSafeInteger(v) && v >= 0 && v <= devices, `0 (none) or a device number up to ${devices}`),
    lateFraction: check('lateFraction', options.lateFraction ?? IOT_DEFAULTS.lateFraction, fraction, 'between 0 and 1'),
    maxLateSeconds: check('maxLateSeconds', options.maxLateSeconds ?? IOT_DEFAULTS.maxLateSeconds, (v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'),
    startEpochSeconds: check('startEpochSeconds', options.startEpochSeconds ?? IOT_DEFAULTS.startEpochSeconds, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer'),
  };
}

/**
 * No reading is more than this many seconds older than a reading before it
 * (in file order): a reading's time lies in its slot of `intervalSeconds`,
 * and a late one is set back by at most `maxLateSeconds`. With the defaults,
 * 314 s: a watermark delay of 10 minutes never drops a reading.
 */
export function iotMaxDisorderSeconds(options: IotOptions = {}): number {
  const o = resolveOptions(options);
  return o.maxLateSeconds + o.intervalSeconds - 1;
}

/** `dev-01` … `dev-40`: the device names for `devices` devices (at least two digits). */
export function iotDeviceNames(devices: number = IOT_DEFAULTS.devices): string[] {
  const width = Math.max(2, String(devices).length);
  return Array.from({ length: devices }, (_, i) => `dev-${String(i + 1).padStart(width, '0')}`);
}


/**
 * The readings, file 0's first: reading `i` belongs to file
 * `Math.floor(i / lines)`. Devices report in turn, one round per
 * `intervalSeconds`, each at a random second of its slot; each device has
 * its own level (18–26 °C) and daily swing, plus noise, rounded to 1/16 °C.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for an option out of range
 */
export function* iotReadings(options: IotOptions = {}): Generator<IotReading, void, undefined> {
  const o = resolveOptions(options);
  const random = prng(o.seed);
  const names = iotDeviceNames(o.devices);
  const level = names.map(() => 18 + random() * 8);
  const swing = names.map(() => 1 + random() * 3);
  const phase = names.map(() => random() * 2 * Math.PI);
  const total = o.files * o.lines;
  for (let i = 0; i < total; i++) {
    const device = i % o.devices;
    const slot = o.startEpochSeconds + Math.floor(i / o.devices) * o.intervalSeconds;
    let time = slot + Math.floor(random() * o.intervalSeconds);
    if (random() < o.lateFraction) time = Math.max(o.startEpochSeconds, time - 1 - Math.floor(random() * o.maxLateSeconds));
    const noise = (random() + random() + random() - 1.5) / 2;
    const value = level[device]! + swing[device]! * Math.sin((2 * Math.PI * time) / 86_400 + phase[device]!) + noise;
    // Drawn for every reading, so that the values of the other readings do not depend on which are null.
    const missing = random() < o.nullFraction;
    const temperature = device + 1 === o.deadDevice || missing ? null : Math.round(value * 16) / 16 + 0;
    yield { time, device: names[device]!, temperature };
  }
}

/** A reading as a JSON line, without the newline: `{"time":1709251215,"device":"dev-07","temperature":21.375}`. */
export function iotLine(reading: IotReading): string {
  return `{"time":${reading.time},"device":"${reading.device}","temperature":${reading.temperature === null ? 'null' : String(reading.temperature)}}`;
}

/** The lines of a data set without their `\n`, file 0's first (see {@link iotReadings}). */
export function* iotLines(options: IotOptions = {}): Generator<string, void, undefined> {
  for (const reading of iotReadings(options)) yield iotLine(reading);
}

/** Options of {@link writeIotDataset} only. */
export interface WriteIotOptions extends IotOptions {
  /** Modification time of the first file, epoch ms; file k gets k seconds more. Default: whole seconds ending now. */
  firstMtimeMs?: number;
}

/**
 * Writes a data set into `dir` (created if missing): `files` files
 * `part-00000.json`, … of `lines` readings each, every file written under a
 * hidden name and renamed into place (a query watching `dir` never sees half
 * a file), file k modified k seconds after the first so a file source reads
 * them in name order.
 *
 * @returns the absolute paths written, in order, and the number of readings
 * @throws TidemarkError `ERR_INVALID_OPTION` for an option out of range;
 *   `ERR_FILE_SOURCE` (with `file`) when a file cannot be written
 */
export async function writeIotDataset(dir: string, options: WriteIotOptions = {}): Promise<{ files: string[]; events: number }> {
  const o = resolveOptions(options);
  const firstMtimeMs = check('firstMtimeMs', options.firstMtimeMs ?? (Math.floor(Date.now() / 1000) - (o.files - 1)) * 1000, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
  const root = resolve(dir);
  const readings = iotReadings(o);
  const written: string[] = [];
  try {
    await mkdir(root, { recursive: true });
  } catch (err) {
    throw writeError(root, err);
  }
  for (let f = 0; f < o.files; f++) {
    const name = `part-${String(f).padStart(5, '0')}.json`;
    const path = join(root, name);
    const temporary = join(root, `.${name}.tmp`);
    const parts: string[] = [];
    for (let i = 0; i < o.lines; i++) parts.push(iotLine(readings.next().value as IotReading), '\n');
    try {
      await writeFile(temporary, parts.join(''));
      const mtimeSeconds = (firstMtimeMs + f * 1000) / 1000;
      await utimes(temporary, mtimeSeconds, mtimeSeconds);
      await rename(temporary, path);
    } catch (err) {
      throw writeError(path, err);
    }
    written.push(path);
  }
  return { files: written, events: o.files * o.lines };
}

function writeError(file: string, cause: unknown): TidemarkError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new TidemarkError('ERR_FILE_SOURCE', `Unable to write ${file}${detail}`, { file, cause });
}

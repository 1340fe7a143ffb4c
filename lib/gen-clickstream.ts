/**
 * A synthetic clickstream for session windows and deduplication: users
 * whose events come in bursts (a visit), with long pauses between bursts,
 * delivered roughly in time order, some of them twice, as an at-least-once
 * producer delivers them.
 *
 * Deterministic for a seed, and shaped so that the right answers are easy
 * to compute by hand: within a burst events are at most
 * `maxEventGapSeconds` apart and bursts are at least `minBurstGapSeconds`
 * apart, so with a session gap between the two every burst is one session.
 *
 * @module
 */
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidemarkError } from './errors.js';
import { mulberry32 as prng } from './core/prng.js';

/** One event of the clickstream. */
export interface ClickEvent {
  /** Unique per event; a redelivered event keeps its id. */
  readonly id: string;
  /** Event time, epoch seconds. */
  readonly time: number;
  readonly user: string;
  readonly action: string;
}

/** What users do on the site, in proportion: mostly views. */
export const CLICK_ACTIONS = ['view', 'view', 'view', 'click', 'click', 'search', 'cart', 'buy'] as const;

/** Options of {@link clickstream}. */
export interface ClickstreamOptions {
  /** Number of users (default 60). */
  users?: number;
  /** Bursts (visits) per user (default 4). */
  burstsPerUser?: number;
  /** Most events in a burst (default 12; at least 1). */
  maxEventsPerBurst?: number;
  /** Largest pause between two events of a burst, seconds (default 120; the smallest is 0). */
  maxEventGapSeconds?: number;
  /** Pause between bursts of a user, seconds: from the last event of one to the first of the next (default 20–60 minutes). */
  minBurstGapSeconds?: number;
  maxBurstGapSeconds?: number;
  /** Fraction of events delivered a second time (default 0). */
  duplicateFraction?: number;
  /** How much later a duplicate is delivered, seconds (default 1–240). */
  minDuplicateDelaySeconds?: number;
  maxDuplicateDelaySeconds?: number;
  /** Delivery lags event time by 0 to this many seconds (default 30): the stream is a little out of order. */
  maxDeliveryLagSeconds?: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** The earliest event time, epoch seconds (default 2024-03-01T08:00:00Z). */
  startEpochSeconds?: number;
}

/** The events of a clickstream: `events` once each, and `delivered` in delivery order (duplicates included). */
export interface Clickstream {
  readonly events: readonly ClickEvent[];
  readonly delivered: readonly ClickEvent[];
}

const DEFAULTS = {
  users: 60,
  burstsPerUser: 4,
  maxEventsPerBurst: 12,
  maxEventGapSeconds: 120,
  minBurstGapSeconds: 20 * 60,
  maxBurstGapSeconds: 60 * 60,
  duplicateFraction: 0,
  minDuplicateDelaySeconds: 1,
  maxDuplicateDelaySeconds: 240,
  maxDeliveryLagSeconds: 30,
  seed: 1,
  startEpochSeconds: Date.UTC(2024, 2, 1, 8) / 1000,
} as const;


function check(option: string, value: number, ok: boolean): number {
  if (!Number.isFinite(value) || !ok) throw new TidemarkError('ERR_INVALID_OPTION', `clickstream: invalid ${option} ${value}`, { option });
  return value;
}

/**
 * Generates a clickstream.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for an option out of range.
 */
export function clickstream(options: ClickstreamOptions = {}): Clickstream {
  const o = { ...DEFAULTS, ...options };
  check('users', o.users, Number.isInteger(o.users) && o.users >= 1);
  check('burstsPerUser', o.burstsPerUser, Number.isInteger(o.burstsPerUser) && o.burstsPerUser >= 1);
  check('maxEventsPerBurst', o.maxEventsPerBurst, Number.isInteger(o.maxEventsPerBurst) && o.maxEventsPerBurst >= 1);
  check('maxBurstGapSeconds', o.maxBurstGapSeconds, o.maxBurstGapSeconds >= o.minBurstGapSeconds && o.minBurstGapSeconds >= 0);
  check('maxDuplicateDelaySeconds', o.maxDuplicateDelaySeconds, o.maxDuplicateDelaySeconds >= o.minDuplicateDelaySeconds && o.minDuplicateDelaySeconds >= 0);
  check('duplicateFraction', o.duplicateFraction, o.duplicateFraction >= 0 && o.duplicateFraction <= 1);
  const random = prng(o.seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const width = String(o.users).length;
  const events: ClickEvent[] = [];
  for (let u = 0; u < o.users; u++) {
    const user = `u${String(u + 1).padStart(width, '0')}`;
    let time = o.startEpochSeconds + between(0, 30 * 60);
    for (let b = 0; b < o.burstsPerUser; b++) {
      if (b > 0) time += between(o.minBurstGapSeconds, o.maxBurstGapSeconds);
      const n = between(1, o.maxEventsPerBurst);
      for (let e = 0; e < n; e++) {
        if (e > 0) time += between(0, o.maxEventGapSeconds);
        events.push({ id: '', time, user, action: CLICK_ACTIONS[between(0, CLICK_ACTIONS.length - 1)]! });
      }
    }
  }
  // Ids in event-time order, so they read like a producer's sequence numbers.
  events.sort((a, b) => a.time - b.time || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  const idWidth = String(events.length).length;
  const numbered = events.map((e, i) => ({ ...e, id: `e${String(i + 1).padStart(idWidth, '0')}` }));
  const deliveries: Array<{ at: number; order: number; event: ClickEvent }> = [];
  for (const event of numbered) {
    const at = event.time + between(0, o.maxDeliveryLagSeconds);
    deliveries.push({ at, order: deliveries.length, event });
    if (random() < o.duplicateFraction) {
      deliveries.push({ at: at + between(o.minDuplicateDelaySeconds, o.maxDuplicateDelaySeconds), order: deliveries.length, event });
    }
  }
  deliveries.sort((a, b) => a.at - b.at || a.order - b.order);
  return { events: numbered, delivered: deliveries.map((d) => d.event) };
}

/** One event as a JSON line (`time` in epoch seconds, as the notebook's data set has it), without the newline. */
export function clickLine(event: ClickEvent): string {
  return JSON.stringify({ id: event.id, time: event.time, user: event.user, action: event.action });
}

/**
 * Writes a clickstream's deliveries as JSON-lines files of `linesPerFile`
 * lines (`part-00000.json`, …) into `dir`, each written beside and renamed,
 * as a producer that never shows half a file does. File k's modification
 * time is k seconds after the first's, the last one's whole seconds ending
 * now, so a file source takes them in delivery order.
 *
 * @returns the clickstream written
 */
export async function writeClickstream(dir: string, options: ClickstreamOptions & { linesPerFile?: number } = {}): Promise<Clickstream> {
  const stream = clickstream(options);
  const perFile = options.linesPerFile ?? 100;
  check('linesPerFile', perFile, Number.isInteger(perFile) && perFile >= 1);
  const target = resolve(dir);
  await mkdir(target, { recursive: true });
  const files = Math.ceil(stream.delivered.length / perFile);
  const firstMtimeSeconds = Math.floor(Date.now() / 1000) - (files - 1);
  for (let file = 0; file < files; file++) {
    const lines = stream.delivered.slice(file * perFile, (file + 1) * perFile).map((e) => clickLine(e) + '\n');
    const name = `part-${String(file).padStart(5, '0')}.json`;
    const temporary = join(target, `.${name}.tmp`);
    await writeFile(temporary, lines.join(''));
    await utimes(temporary, firstMtimeSeconds + file, firstMtimeSeconds + file);
    await rename(temporary, join(target, name));
  }
  return stream;
}

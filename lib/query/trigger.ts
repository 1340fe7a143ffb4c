/**
 * Triggers: when a query runs its micro-batches (Spark's `Trigger`).
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import { parseInterval, US_PER_DAY, US_PER_MS } from '../core/interval.js';

/** A parsed trigger. `processingTime` 0 is Spark's default trigger: batches back to back. */
export type Trigger =
  | { readonly kind: 'processingTime'; readonly intervalMs: number }
  | { readonly kind: 'once' }
  | { readonly kind: 'availableNow' };

/** What users may write: `'once'`, `'availableNow'` (or `'available-now'`), `'processingTime=1 second'`, `{ processingTime: '1 second' }`. */
export type TriggerOption = Trigger | 'once' | 'availableNow' | 'available-now' | `processingTime=${string}` | { processingTime: string | number };

/** The default trigger: run a micro-batch as soon as the previous one finished and there is work. */
export const DEFAULT_TRIGGER: Trigger = { kind: 'processingTime', intervalMs: 0 };

function intervalMs(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new TidemarkError('ERR_INVALID_OPTION', `processingTime must be a non-negative number of milliseconds, got ${value}`, { option: 'trigger' });
    return value;
  }
  const cal = parseInterval(value, 'trigger');
  if (cal.months !== 0) throw new TidemarkError('ERR_INVALID_OPTION', `Doesn't support month or year interval: ${value}`, { option: 'trigger' });
  const us = cal.days * US_PER_DAY + cal.microseconds;
  if (us < 0) throw new TidemarkError('ERR_INVALID_OPTION', `Interval cannot be negative: ${value}`, { option: 'trigger' });
  return Math.floor(us / US_PER_MS);
}

/** Parses a trigger option. */
export function parseTrigger(option: TriggerOption | undefined): Trigger {
  if (option === undefined) return DEFAULT_TRIGGER;
  if (typeof option === 'string') {
    if (option === 'once') return { kind: 'once' };
    if (option === 'availableNow' || option === 'available-now') return { kind: 'availableNow' };
    const m = /^processingTime\s*=\s*(.+)$/i.exec(option);
    if (m !== null) return { kind: 'processingTime', intervalMs: intervalMs(m[1]!.trim()) };
    throw new TidemarkError('ERR_INVALID_OPTION', `Unknown trigger '${option}': use 'once', 'available-now' or 'processingTime=<interval>'`, { option: 'trigger' });
  }
  if ('kind' in option) return option;
  if ('processingTime' in option) return { kind: 'processingTime', intervalMs: intervalMs(option.processingTime) };
  throw new TidemarkError('ERR_INVALID_OPTION', `Unknown trigger ${JSON.stringify(option)}`, { option: 'trigger' });
}

/** True for the triggers that end by themselves. */
export function isBounded(trigger: Trigger): boolean {
  return trigger.kind !== 'processingTime';
}

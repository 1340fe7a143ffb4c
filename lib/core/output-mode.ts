/**
 * Spark's output modes.
 *
 * @module
 */
import { TidemarkError } from '../errors.js';

/** Spark's output modes. */
export type OutputMode = 'append' | 'update' | 'complete';

/** Parses an output mode name, case-insensitively, with Spark's message. */
export function parseOutputMode(value: string, option = 'outputMode'): OutputMode {
  const v = String(value).toLowerCase();
  if (v === 'append' || v === 'update' || v === 'complete') return v;
  throw new TidemarkError('ERR_INVALID_OPTION', `Unknown output mode ${value}. Accepted output modes are 'append', 'complete', 'update'`, { option });
}

/** Spark's `OutputMode.toString`. */
export function outputModeName(mode: OutputMode): string {
  return mode === 'append' ? 'Append' : mode === 'update' ? 'Update' : 'Complete';
}

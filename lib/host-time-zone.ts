/**
 * The process's default zone for stages and sinks, read from the host
 * first (`TZ`, `/etc/localtime`) so that the common UTC host does not pay
 * ICU's start-up on the query's critical path; see
 * {@link defaultTimeZone} for the rule.
 *
 * @module
 */
import { readlinkSync } from 'node:fs';
import { defaultTimeZone } from './core/timestamp.js';

function localtimeLink(): string | null {
  try {
    return readlinkSync('/etc/localtime');
  } catch {
    // Not a link, missing, or not a Unix host: ICU decides.
    return null;
  }
}

/** The default zone of this process (Spark's session time zone default), as ICU would name it. */
export function hostTimeZone(): string {
  return defaultTimeZone({ tz: process.env['TZ'], localtime: localtimeLink() });
}

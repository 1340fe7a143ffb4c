/**
 * The zone stages and sinks use by default, read from the host before ICU:
 * it must always be the zone ICU itself would name.
 */
import t from 'tap';
import { hostTimeZone } from '../lib/host-time-zone.js';

const icuZone = (): string => new Intl.DateTimeFormat().resolvedOptions().timeZone;

t.test('the host zone is the zone ICU names, whatever TZ says', async (t) => {
  const saved = process.env.TZ;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  delete process.env.TZ;
  t.equal(hostTimeZone(), icuZone(), 'TZ unset: this machine\'s zone');
  for (const tz of ['UTC', 'Asia/Kolkata', 'America/New_York', 'Etc/UTC']) {
    process.env.TZ = tz;
    t.equal(hostTimeZone(), icuZone(), `TZ=${tz}`);
  }
});

import t from 'tap';
import {
  civilToEpochDays,
  defaultTimeZone,
  formatDateDays,
  formatTimestampIso,
  formatTimestampShow,
  formatTimestampUtcMillis,
  isValidTimeZone,
  stringToDateDays,
  stringToTimestampNtzUs,
  stringToTimestampUs,
} from '../../lib/core/timestamp.js';

const us = (iso: string): number => Date.parse(iso) * 1000;

t.test('a string with an offset is read at that offset whatever the default zone', async (t) => {
  t.equal(stringToTimestampUs('2016-07-26T08:30:00.000+05:30', 'UTC'), us('2016-07-26T03:00:00Z'));
  t.equal(stringToTimestampUs('2016-07-26T08:30:00.000+05:30', 'America/New_York'), us('2016-07-26T03:00:00Z'));
});

t.test('a string without a zone is read in the default zone', async (t) => {
  t.equal(stringToTimestampUs('2016-07-26 08:30:00', 'Asia/Kolkata'), us('2016-07-26T03:00:00Z'));
  t.equal(stringToTimestampUs('2016-07-26 08:30:00', 'UTC'), us('2016-07-26T08:30:00Z'));
});

t.test('partial dates and one-digit fields are accepted as Spark casts them', async (t) => {
  t.equal(stringToTimestampUs('2016', 'UTC'), us('2016-01-01T00:00:00Z'));
  t.equal(stringToTimestampUs('2016-7', 'UTC'), us('2016-07-01T00:00:00Z'));
  t.equal(stringToTimestampUs('2016-7-6', 'UTC'), us('2016-07-06T00:00:00Z'));
  t.equal(stringToTimestampUs('2016-07-26T8:5', 'UTC'), us('2016-07-26T08:05:00Z'));
  t.equal(stringToTimestampUs('2016-07-26 08:30:5', 'UTC'), us('2016-07-26T08:30:05Z'));
  t.equal(stringToTimestampUs('+2016-07-26', 'UTC'), us('2016-07-26T00:00:00Z'));
});

t.test('the fraction keeps microseconds and drops digits beyond them', async (t) => {
  t.equal(stringToTimestampUs('2016-03-27 19:39:29.999999', 'UTC'), us('2016-03-27T19:39:29Z') + 999_999);
  t.equal(stringToTimestampUs('2016-03-27 19:39:29.1234567', 'UTC'), us('2016-03-27T19:39:29Z') + 123_456);
  t.equal(stringToTimestampUs('2016-03-27 19:39:29.5', 'UTC'), us('2016-03-27T19:39:29Z') + 500_000);
});

t.test('every zone spelling Spark accepts is understood', async (t) => {
  const at0300 = us('2016-07-26T03:00:00Z');
  for (const s of [
    '2016-07-26T08:30:00+05:30',
    '2016-07-26T08:30:00+0530',
    '2016-07-26T08:30:00+5:30',
    '2016-07-26T08:30:00UTC+05:30',
    '2016-07-26T08:30:00 GMT+05:30',
    '2016-07-26T08:30:00 Asia/Kolkata',
    '2016-07-26T08:30:00 IST',
  ]) {
    t.equal(stringToTimestampUs(s, 'UTC'), at0300, s);
  }
  t.equal(stringToTimestampUs('2016-07-26T03:00:00Z', 'Asia/Tokyo'), at0300);
  t.equal(stringToTimestampUs('2016-07-26T03:00:00.000Z', 'Asia/Tokyo'), at0300);
  t.equal(stringToTimestampUs('2016-07-26T03:00:00 UTC', 'Asia/Tokyo'), at0300);
  t.equal(stringToTimestampUs('2016-07-26T03:00:00 UT', 'Asia/Tokyo'), at0300);
  t.equal(stringToTimestampUs('2016-07-26T08:00:00+05', 'UTC'), at0300);
  t.equal(stringToTimestampUs('2016-07-25T22:00:00 EST', 'UTC'), at0300);
  t.equal(stringToTimestampUs('2016-07-25T20:00:00 PST', 'UTC'), at0300);
});

t.test('surrounding whitespace and control characters are trimmed', async (t) => {
  t.equal(stringToTimestampUs(' \t2016-07-26 08:30:00\n', 'UTC'), us('2016-07-26T08:30:00Z'));
});

t.test('strings that are not timestamps give null', async (t) => {
  for (const s of [
    '',
    '   ',
    'abc',
    '16-07-26',
    '2016-13-01',
    '2016-02-30',
    '2016-07-26T',
    '2016-07-26T25:00',
    '2016-07-26 08:60',
    '2016-07-26 08:30Z',
    '2016-07-26 08:30:00+19:00',
    '2016-07-26 08:30:00 Mars/Base',
    '2016-07-26 08:30:00 utc',
    '2016-07-26 08:30:00.1.2',
    '999999-01-01',
  ]) {
    t.equal(stringToTimestampUs(s, 'UTC'), null, JSON.stringify(s));
  }
});

t.test('a local time in a DST gap moves forward by the gap, an ambiguous one takes the earlier offset', async (t) => {
  t.equal(stringToTimestampUs('2016-03-27 02:30:00', 'Europe/Berlin'), us('2016-03-27T01:30:00Z'));
  t.equal(stringToTimestampUs('2016-10-30 02:30:00', 'Europe/Berlin'), us('2016-10-30T00:30:00Z'));
  t.equal(stringToTimestampUs('2016-10-30 03:30:00', 'Europe/Berlin'), us('2016-10-30T02:30:00Z'));
  t.equal(stringToTimestampUs('2011-12-30 12:00:00', 'Pacific/Apia'), us('2011-12-30T22:00:00Z'));
});

t.test('a bare time is on today in the zone', async (t) => {
  const v = stringToTimestampUs('12:30:00', 'UTC')!;
  t.equal(formatTimestampShow(v, 'UTC').slice(11), '12:30:00');
  t.ok(Math.abs(v / 1000 - Date.now()) <= 86_400_000);
});

t.test('an invalid default zone is an option error', async (t) => {
  t.throws(() => stringToTimestampUs('2016-07-26 08:30:00', 'Mars/Base'), {
    code: 'ERR_INVALID_OPTION',
    option: 'timeZone',
    message: 'Invalid time zone "Mars/Base": expected a region id such as "Asia/Kolkata", "UTC" or an offset such as "+05:30"',
  });
});

t.test('TIMESTAMP_NTZ strings refuse a zone', async (t) => {
  t.equal(stringToTimestampNtzUs('2016-07-26 08:30:00.5'), us('2016-07-26T08:30:00Z') + 500_000);
  t.equal(stringToTimestampNtzUs('2016-07-26 08:30:00Z'), null);
  t.equal(stringToTimestampNtzUs('08:30:00'), null);
});

t.test('dates accept a trailing time part and refuse trailing junk', async (t) => {
  t.equal(stringToDateDays('2016-07-26'), 17008);
  t.equal(stringToDateDays('2016-07-26T08:30:00+05:30'), 17008);
  t.equal(stringToDateDays('2016-07-26 anything'), 17008);
  t.equal(stringToDateDays('2016-7'), 16983);
  t.equal(stringToDateDays('2016'), 16801);
  t.equal(stringToDateDays('2016-07x'), null);
  t.equal(stringToDateDays('2016-02-30'), null);
  t.equal(stringToDateDays(''), null);
});

t.test('civil dates convert to epoch days on the proleptic Gregorian calendar', async (t) => {
  t.equal(civilToEpochDays(1970, 1, 1), 0);
  t.equal(civilToEpochDays(1969, 12, 31), -1);
  t.equal(civilToEpochDays(2016, 7, 26), 17008);
  t.equal(civilToEpochDays(1, 1, 1), -719162);
  t.equal(formatDateDays(17008), '2016-07-26');
  t.equal(formatDateDays(-719162), '0001-01-01');
});

t.test('the JSON writer format prints milliseconds and the offset, Z for UTC', async (t) => {
  t.equal(formatTimestampIso(us('2016-07-26T03:00:00Z'), 'Asia/Kolkata'), '2016-07-26T08:30:00.000+05:30');
  t.equal(formatTimestampIso(us('2016-07-26T03:00:00Z'), 'UTC'), '2016-07-26T03:00:00.000Z');
  t.equal(formatTimestampIso(us('2016-07-26T03:00:00Z') + 123_999, 'UTC'), '2016-07-26T03:00:00.123Z');
  t.equal(formatTimestampIso(us('2016-01-26T03:00:00Z'), 'America/New_York'), '2016-01-25T22:00:00.000-05:00');
  t.equal(formatTimestampIso(us('2016-07-26T03:00:00Z'), 'America/New_York'), '2016-07-25T23:00:00.000-04:00');
});

t.test('the JSON writer format floors negative epoch values and pads early years', async (t) => {
  t.equal(formatTimestampIso(-1, 'UTC'), '1969-12-31T23:59:59.999Z');
  t.equal(formatTimestampIso(-1_000_001, 'UTC'), '1969-12-31T23:59:58.999Z');
  t.equal(formatTimestampIso(civilToEpochDays(999, 3, 4) * 86_400_000_000, 'UTC'), '0999-03-04T00:00:00.000Z');
});

t.test('show() format drops trailing zero fraction digits', async (t) => {
  const base = us('2016-03-27T19:39:29Z');
  t.equal(formatTimestampShow(base + 999_999, 'UTC'), '2016-03-27 19:39:29.999999');
  t.equal(formatTimestampShow(base + 1_000_000, 'UTC'), '2016-03-27 19:39:30');
  t.equal(formatTimestampShow(base + 1_500_000, 'UTC'), '2016-03-27 19:39:30.5');
  t.equal(formatTimestampShow(base + 1_000_010, 'UTC'), '2016-03-27 19:39:30.00001');
  t.equal(formatTimestampShow(base, 'Asia/Kolkata'), '2016-03-28 01:09:29');
  t.equal(formatTimestampShow(-1, 'UTC'), '1969-12-31 23:59:59.999999');
});

t.test('progress timestamps are UTC with milliseconds and a literal Z', async (t) => {
  t.equal(formatTimestampUtcMillis(5000), '1970-01-01T00:00:05.000Z');
  t.equal(formatTimestampUtcMillis(1469504400123), '2016-07-26T03:40:00.123Z');
  t.equal(formatTimestampUtcMillis(-1), '1969-12-31T23:59:59.999Z');
});

t.test('time zone ids are validated the way java.time accepts them', async (t) => {
  for (const z of ['UTC', 'GMT', 'UT', 'Z', 'Asia/Kolkata', 'Europe/Berlin', '+05:30', '-08', 'UTC+1', 'GMT-08:00', 'PST', 'EST']) t.ok(isValidTimeZone(z), z);
  for (const z of ['', 'utc', 'Mars/Base', '+19:00', 'UTC+', 'GMT+5:30x', 'X']) t.notOk(isValidTimeZone(z), z);
});

t.test('the default zone follows TZ', async (t) => {
  const saved = process.env.TZ;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  process.env.TZ = 'Asia/Tokyo';
  t.equal(defaultTimeZone(), 'Asia/Tokyo');
  process.env.TZ = 'UTC';
  t.equal(defaultTimeZone(), 'UTC');
});

t.test('a host hint that says UTC answers UTC without ICU: TZ=UTC, or no TZ and /etc/localtime linking to zoneinfo/UTC or zoneinfo/Etc/UTC', async (t) => {
  t.equal(defaultTimeZone({ tz: 'UTC', localtime: null }), 'UTC');
  t.equal(defaultTimeZone({ tz: undefined, localtime: '/usr/share/zoneinfo/Etc/UTC' }), 'UTC');
  t.equal(defaultTimeZone({ tz: undefined, localtime: '../usr/share/zoneinfo/UTC' }), 'UTC');
});

t.test('any other host hint is decided by ICU, as before', async (t) => {
  const saved = process.env.TZ;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  process.env.TZ = 'Asia/Tokyo';
  // The hint is not ICU's input: an answer other than UTC comes from ICU, which reads TZ itself.
  t.equal(defaultTimeZone({ tz: 'Asia/Tokyo', localtime: '/usr/share/zoneinfo/Etc/UTC' }), 'Asia/Tokyo', 'TZ set to a region: ICU, not the link');
  t.equal(defaultTimeZone({ tz: undefined, localtime: '/usr/share/zoneinfo/Europe/Paris' }), 'Asia/Tokyo', 'a link to another zone: ICU');
  t.equal(defaultTimeZone({ tz: undefined, localtime: '/usr/share/zoneinfo/Etc/UTC+1' }), 'Asia/Tokyo', 'not exactly UTC: ICU');
  t.equal(defaultTimeZone({ tz: undefined, localtime: null }), 'Asia/Tokyo', 'no link: ICU');
});

import t from 'tap';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { archivePath, checkArchiveDir, listFiles } from '../../lib/sources/file-listing.js';
import { sourceLogPath, toFileUri } from '../../lib/checkpoint/file-uri.js';
import {
  createSelectionState,
  effectiveMaxFileAgeMs,
  formatSourceLogFile,
  isVisibleName,
  needsListing,
  parseFileSourceOptions,
  parseSourceLogFile,
  SeenFilesMap,
  selectBatch,
  timeStringAsMs,
  type FileEntry,
  type FileSourceOptions,
  type SelectionState,
  type SelectionTrigger,
} from '../../lib/core/file-selection.js';

/** Matches the whole message, not a substring (t.throws' string patterns are substrings). */
const exactly = (message: string) => new RegExp('^' + message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');

const file = (name: string, mtimeMs: number, size = 1): FileEntry => ({ path: `/data/${name}`, mtimeMs, size });
const names = (files: readonly FileEntry[]) => files.map((f) => f.path.slice('/data/'.length));
/** listFiles' order: by name. */
const byName = (files: readonly FileEntry[]) => files.slice().sort((a, b) => (a.path < b.path ? -1 : 1));

/** Triggers until a trigger selects nothing (Spark then runs no batch); returns each batch's names. */
function drain(
  state: SelectionState,
  dirFiles: readonly FileEntry[],
  options: FileSourceOptions,
  trigger: SelectionTrigger = {},
): string[][] {
  const batches: string[][] = [];
  for (;;) {
    const batch = selectBatch(state, needsListing(state) ? byName(dirFiles) : undefined, options, trigger);
    if (batch.length === 0) return batches;
    batches.push(names(batch));
  }
}

// ---------------------------------------------------------------------------------------------
// fss_max_files_per_trigger

t.test('maxFilesPerTrigger takes the oldest new files first, at most N per batch, across three steps', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: '2' });
  const state = createSelectionState(options);
  const dir: FileEntry[] = [];
  let mtime = 10_000;
  const add = (...ns: number[]) => ns.forEach((n) => dir.push(file(`${n}.txt`, (mtime += 1000))));

  add(1, 2, 3);
  t.strictSame(drain(state, dir, options), [['1.txt', '2.txt'], ['3.txt']]);
  add(4, 5, 6, 7);
  t.strictSame(drain(state, dir, options), [['4.txt', '5.txt'], ['6.txt', '7.txt']]);
  add(8, 9, 10, 11, 12);
  t.strictSame(drain(state, dir, options), [['8.txt', '9.txt'], ['10.txt', '11.txt'], ['12.txt']]);
});

t.test('without a limit every new file goes into one batch', async (t) => {
  const options = parseFileSourceOptions({});
  const state = createSelectionState(options);
  t.strictSame(drain(state, [file('b', 2000), file('a', 3000), file('c', 1000)], options), [['c', 'b', 'a']]);
});

t.test('files with equal mtime keep listing order (stable sort, no path tie-break)', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: 2 });
  const state = createSelectionState(options);
  const listing = [file('z', 1000), file('a', 1000), file('m', 500)];
  t.strictSame(names(selectBatch(state, listing, options)), ['m', 'z']);
});

t.test('Trigger.Once (readAll) ignores maxFilesPerTrigger', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: '1' });
  const state = createSelectionState(options);
  const listing = [file('1', 1000), file('2', 2000), file('3', 3000)];
  t.strictSame(names(selectBatch(state, listing, options, { readAll: true })), ['1', '2', '3']);
  t.equal(state.unread, null);
});

t.test('files appearing while unselected files are cached wait until the cache is used up', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: 2 });
  const state = createSelectionState(options);
  const dir = [1, 2, 3, 4, 5].map((n) => file(`${n}`, n * 1000));
  t.strictSame(names(selectBatch(state, byName(dir), options)), ['1', '2']);
  t.strictSame(names(state.unread ?? []), ['3', '4', '5']);
  t.equal(needsListing(state), false);
  dir.push(file('0', 500)); // an older file, e.g. copied with its mtime preserved
  t.strictSame(drain(state, dir, options), [['3', '4'], ['5'], ['0']]);
});

t.test('fewer unselected files than discardCachedInputRatio x limit are dropped and the next batch lists again', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: 10 });
  const state = createSelectionState(options);
  const dir = Array.from({ length: 11 }, (_, i) => file(`f${String(i).padStart(2, '0')}`, (i + 1) * 1000));
  t.equal(selectBatch(state, dir, options).length, 10);
  t.equal(state.unread, null, '1 left < 10 * 0.2');
  dir.push(file('g', 500));
  t.strictSame(drain(state, dir, options), [['g', 'f10']]);
});

t.test('maxCachedFiles=0 disables the unread-files cache', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: 1, maxCachedFiles: '0' });
  const state = createSelectionState(options);
  selectBatch(state, [file('a', 1000), file('b', 2000)], options);
  t.equal(state.unread, null);
});

t.test('maxBytesPerTrigger takes files while the total fits, at least one, and stops at the first that does not fit', async (t) => {
  const options = parseFileSourceOptions({ maxBytesPerTrigger: '100' });
  const state = createSelectionState(options);
  const dir = [file('a', 1000, 60), file('b', 2000, 50), file('c', 3000, 10), file('d', 4000, 30), file('e', 5000, 200)];
  t.strictSame(drain(state, dir, options), [['a'], ['b', 'c', 'd'], ['e']]);
});

t.test('selectBatch refuses to run without a listing when nothing is cached', async (t) => {
  const options = parseFileSourceOptions({});
  t.throws(() => selectBatch(createSelectionState(options), undefined, options), {
    code: 'ERR_FILE_SOURCE',
    message: exactly('selectBatch needs a listing: no cached unread files remain'),
  });
});

// ---------------------------------------------------------------------------------------------
// fss_latest_first

t.test('latestFirst=false takes the older file first', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: '1', latestFirst: 'false' });
  t.strictSame(drain(createSelectionState(options), [file('1.txt', 1000), file('2.txt', 2000)], options), [
    ['1.txt'],
    ['2.txt'],
  ]);
});

t.test('latestFirst=true takes the newer file first', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: '1', latestFirst: 'true' });
  const state = createSelectionState(options);
  t.strictSame(drain(state, [file('1.txt', 1000), file('2.txt', 2000)], options), [['2.txt'], ['1.txt']]);
});

t.test('SPARK-19813: maxFileAge is ignored when latestFirst and maxFilesPerTrigger are both set', async (t) => {
  const options = parseFileSourceOptions({ maxFilesPerTrigger: '1', latestFirst: 'true', maxFileAge: '1m' });
  t.equal(effectiveMaxFileAgeMs(options), Infinity);
  const dir = [file('1.txt', 1000), file('2.txt', 1000 + 3_600_000)];
  t.strictSame(drain(createSelectionState(options), dir, options), [['2.txt'], ['1.txt']]);

  // What the bound would do if applied: 1.txt falls behind the purge threshold after batch 0.
  const unbounded: SelectionState = { seen: new SeenFilesMap(60_000), unread: null, aged: new Set(), skippedByAge: [], skippedBefore: 0 };
  t.strictSame(drain(unbounded, dir, options), [['2.txt']]);
});

t.test('maxFileAge applies with latestFirst and maxBytesPerTrigger too', async (t) => {
  t.equal(effectiveMaxFileAgeMs(parseFileSourceOptions({ maxBytesPerTrigger: 5, latestFirst: true, maxFileAge: '1m' })), Infinity);
  t.equal(effectiveMaxFileAgeMs(parseFileSourceOptions({ latestFirst: true, maxFileAge: '1m' })), 60_000);
});

t.test('the first batch accepts files of any age; later files older than newest - maxFileAge are ignored', async (t) => {
  const options = parseFileSourceOptions({ maxFileAge: '1m' });
  const state = createSelectionState(options);
  const dir = [file('old', 1000), file('new', 1000 + 3_600_000)];
  t.strictSame(drain(state, dir, options), [['old', 'new']]);
  dir.push(file('late', 1000 + 3_600_000 - 120_000), file('recent', 1000 + 3_600_000 - 30_000));
  t.strictSame(drain(state, dir, options), [['recent']]);
});

t.test('fileNameOnly treats equal names in different directories as the same file', async (t) => {
  const options = parseFileSourceOptions({ fileNameOnly: 'true' });
  const state = createSelectionState(options);
  selectBatch(state, [{ path: '/in/a/x.json', mtimeMs: 1000, size: 1 }], options);
  t.strictSame(selectBatch(state, [{ path: '/in/b/x.json', mtimeMs: 2000, size: 1 }], options), []);
});

// ---------------------------------------------------------------------------------------------
// fss_fault_tolerance_restart (selection side)

t.test('a restarted source does not take files recorded in the source log again', async (t) => {
  const options = parseFileSourceOptions({});
  const first = createSelectionState(options);
  const batch0 = selectBatch(first, [file('a.json', 1000)], options);
  const log = formatSourceLogFile(batch0.map((f) => ({ path: toFileUri(f.path), timestamp: f.mtimeMs, batchId: 0 })));

  const restarted = createSelectionState(options, parseSourceLogFile(log, '/ckpt/sources/0/0').map((e) => ({ path: sourceLogPath(e.path), timestamp: e.timestamp })));
  t.equal(restarted.seen.size, 1);
  t.strictSame(names(selectBatch(restarted, [file('a.json', 1000), file('b.json', 2000)], options)), ['b.json']);
});

// ---------------------------------------------------------------------------------------------
// fss_seen_files_map_purge

t.test('SeenFilesMap: purge forgets entries older than newest - maxAge, step by step', async (t) => {
  const map = new SeenFilesMap(10, false);
  map.add('a', 5);
  t.equal(map.purge(), 0);
  t.equal(map.size, 1);

  map.add('b', 15);
  t.equal(map.purge(), 0, 'gap exactly 10 ms: nothing purged');
  t.equal(map.size, 2);

  map.add('c', 16);
  t.equal(map.purge(), 1, 'threshold 16 - 10 = 6 removes a@5');
  t.equal(map.lastPurgeTimestamp, 6);
  t.equal(map.size, 2);

  map.add('c', 25);
  t.equal(map.size, 2, 'overwrite');

  t.equal(map.isNewFile('c', 20), false, 'already seen');
  t.equal(map.isNewFile('d', 5), false, 'timestamp 5 < lastPurgeTimestamp 6');
  t.equal(map.isNewFile('e', 20), true);
});

t.test('SeenFilesMap: a file is old only when earlier than the last purge time', async (t) => {
  const map = new SeenFilesMap(10, false);
  map.add('a', 20);
  t.equal(map.size, 1);
  t.equal(map.isNewFile('b', 9), true, 'purge time is still 0');
  t.equal(map.isNewFile('b', 10), true);
  map.purge();
  t.equal(map.isNewFile('b', 9), false);
  t.equal(map.isNewFile('b', 10), true);
});

t.test('SeenFilesMap: toJSON/fromJSON round-trips entries and thresholds', async (t) => {
  const map = new SeenFilesMap(10, true);
  map.add('/x/a', 5);
  map.add('/y/b', 30);
  map.purge();
  const json = JSON.parse(JSON.stringify(map));
  t.strictSame(json, { maxAgeMs: 10, fileNameOnly: true, latestTimestamp: 30, lastPurgeTimestamp: 20, files: [['b', 30]] });
  const back = SeenFilesMap.fromJSON(json);
  t.equal(back.isNewFile('/z/b', 40), false);
  t.equal(back.isNewFile('/z/c', 19), false);
  t.equal(back.isNewFile('/z/c', 20), true);
  t.equal(SeenFilesMap.fromJSON(new SeenFilesMap(Infinity).toJSON()).maxAgeMs, Infinity);
});

t.test('SeenFilesMap.fromJSON refuses a malformed state', async (t) => {
  t.throws(() => SeenFilesMap.fromJSON({ maxAgeMs: 1, fileNameOnly: false, latestTimestamp: 0, lastPurgeTimestamp: 0, files: [['a']] }), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    message: exactly('Invalid seen-files state: files entry'),
  });
});

t.test('SeenFilesMap refuses a negative max age with Spark\'s "requirement failed"', async (t) => {
  t.throws(() => new SeenFilesMap(-1), { code: 'ERR_INVALID_OPTION', option: 'maxFileAge', message: exactly('requirement failed') });
});

// ---------------------------------------------------------------------------------------------
// Options

t.test('options default to Spark\'s defaults', async (t) => {
  t.strictSame(parseFileSourceOptions({}), {
    latestFirst: false,
    maxFileAgeMs: 604_800_000,
    fileNameOnly: false,
    cleanSource: 'off',
    maxCachedFiles: 10000,
    discardCachedInputRatio: Math.fround(0.2),
    recursiveFileLookup: false,
    ignoreMissingFiles: false,
  });
});

t.test('maxFilesPerTrigger refuses values that are not positive integers', async (t) => {
  for (const v of ['not-a-integer', '-1', '0', '10.1', 10.5, 0, '2147483648']) {
    t.throws(() => parseFileSourceOptions({ maxFilesPerTrigger: v }), {
      code: 'ERR_INVALID_OPTION',
      option: 'maxFilesPerTrigger',
      message: exactly(`Invalid value '${v}' for option 'maxFilesPerTrigger', must be a positive integer`),
    });
  }
});

t.test('maxFilesPerTrigger accepts Java integer forms and numbers', async (t) => {
  t.equal(parseFileSourceOptions({ maxFilesPerTrigger: '10' }).maxFilesPerTrigger, 10);
  t.equal(parseFileSourceOptions({ maxFilesPerTrigger: '+007' }).maxFilesPerTrigger, 7);
  t.equal(parseFileSourceOptions({ maxFilesPerTrigger: 3 }).maxFilesPerTrigger, 3);
});

t.test('maxBytesPerTrigger refuses values that are not positive integers', async (t) => {
  for (const v of ['not-a-integer', '-1', '0', '10.1', '10g']) {
    t.throws(() => parseFileSourceOptions({ maxBytesPerTrigger: v }), {
      code: 'ERR_INVALID_OPTION',
      option: 'maxBytesPerTrigger',
      message: exactly(`Invalid value '${v}' for option 'maxBytesPerTrigger', must be a positive integer`),
    });
  }
  t.equal(parseFileSourceOptions({ maxBytesPerTrigger: '1048576' }).maxBytesPerTrigger, 1048576);
});

t.test('maxFilesPerTrigger and maxBytesPerTrigger cannot be combined', async (t) => {
  t.throws(() => parseFileSourceOptions({ maxFilesPerTrigger: '1', maxBytesPerTrigger: '100' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'maxBytesPerTrigger',
    message: exactly("Options 'maxFilesPerTrigger' and 'maxBytesPerTrigger' can't be both set at the same time"),
  });
});

t.test('boolean options accept true/false in any case and refuse anything else', async (t) => {
  t.equal(parseFileSourceOptions({ latestFirst: 'TRUE' }).latestFirst, true);
  t.equal(parseFileSourceOptions({ latestFirst: true }).latestFirst, true);
  t.equal(parseFileSourceOptions({ fileNameOnly: 'False' }).fileNameOnly, false);
  t.throws(() => parseFileSourceOptions({ latestFirst: 'yes' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'latestFirst',
    message: exactly("Invalid value 'yes' for option 'latestFirst', must be 'true' or 'false'"),
  });
  t.throws(() => parseFileSourceOptions({ fileNameOnly: '1' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'fileNameOnly',
    message: exactly("Invalid value '1' for option 'fileNameOnly', must be 'true' or 'false'"),
  });
});

t.test('option keys are case-insensitive and unknown keys are ignored', async (t) => {
  const o = parseFileSourceOptions({ MAXFILESPERTRIGGER: '3', path: '/in', multiLine: 'true' });
  t.equal(o.maxFilesPerTrigger, 3);
});

t.test('cleanSource=archive requires sourceArchiveDir, resolved to an absolute path', async (t) => {
  t.throws(() => parseFileSourceOptions({ cleanSource: 'archive' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'sourceArchiveDir',
    message: exactly("Archive mode must be used with 'sourceArchiveDir' option."),
  });
  const o = parseFileSourceOptions({ cleanSource: 'ARCHIVE', sourceArchiveDir: '/archived/here' });
  t.equal(o.cleanSource, 'archive');
  t.equal(o.sourceArchiveDir, '/archived/here');
  t.equal(parseFileSourceOptions({ cleanSource: 'delete' }).cleanSource, 'delete');
});

t.test('an unknown cleanSource mode is refused with Spark\'s text', async (t) => {
  t.throws(() => parseFileSourceOptions({ cleanSource: 'move' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'cleanSource',
    message: exactly('Invalid mode for clean source option Some(move). Must be one of ARCHIVE,DELETE,OFF'),
  });
});

t.test('modifiedBefore and modifiedAfter are refused', async (t) => {
  t.throws(() => parseFileSourceOptions({ modifiedafter: '2020-06-01T00:00:00' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'modifiedAfter',
    message: exactly("option 'modifiedAfter' is not allowed in file stream sources"),
  });
});

t.test('maxFileAge is parsed as a Spark time string', async (t) => {
  t.equal(parseFileSourceOptions({ maxFileAge: '7d' }).maxFileAgeMs, 604_800_000);
  t.equal(parseFileSourceOptions({ maxFileAge: '1m' }).maxFileAgeMs, 60_000);
  t.equal(parseFileSourceOptions({ maxFileAge: 250 }).maxFileAgeMs, 250);
  t.equal(timeStringAsMs('2MIN'), 120_000);
  t.equal(timeStringAsMs(' 1h '), 3_600_000);
  t.equal(timeStringAsMs('10s'), 10_000);
  t.equal(timeStringAsMs('1999us'), 1);
  t.equal(timeStringAsMs('10'), 10);
});

t.test('maxFileAge refuses a space before the unit, fractions and unknown units', async (t) => {
  const head =
    'Time must be specified as seconds (s), milliseconds (ms), microseconds (us), minutes (m or min), hour (h), or day (d). ' +
    'E.g. 50s, 100ms, or 250us.\n';
  t.throws(() => parseFileSourceOptions({ maxFileAge: '10 ms' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'maxFileAge',
    message: exactly(head + 'Failed to parse time string: 10 ms'),
  });
  t.throws(() => timeStringAsMs('1.5h'), { message: exactly(head + 'Failed to parse time string: 1.5h') });
  t.throws(() => timeStringAsMs('2w'), { message: exactly(head + 'Invalid suffix: "w"') });
});

t.test('a negative maxFileAge fails unless latestFirst with a limit makes it unused', async (t) => {
  t.throws(() => parseFileSourceOptions({ maxFileAge: '-1' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'maxFileAge',
    message: exactly('requirement failed'),
  });
  t.equal(parseFileSourceOptions({ maxFileAge: '-1', latestFirst: 'true', maxFilesPerTrigger: 1 }).maxFileAgeMs, -1);
});

t.test('maxCachedFiles and discardCachedInputRatio are validated with Spark\'s texts', async (t) => {
  t.throws(() => parseFileSourceOptions({ maxCachedFiles: '-1' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'maxCachedFiles',
    message: exactly("Invalid value '-1' for option 'maxCachedFiles', must be an integer greater than or equal to 0"),
  });
  t.throws(() => parseFileSourceOptions({ discardCachedInputRatio: '1.5' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'discardCachedInputRatio',
    message: exactly("Invalid value '1.5' for option 'discardCachedInputRatio', must be a positive float between 0 and 1"),
  });
  t.equal(parseFileSourceOptions({ discardCachedInputRatio: '0.5f' }).discardCachedInputRatio, 0.5);
});

t.test('recursiveFileLookup is a boolean', async (t) => {
  t.equal(parseFileSourceOptions({ recursiveFileLookup: 'true' }).recursiveFileLookup, true);
  t.throws(() => parseFileSourceOptions({ recursiveFileLookup: 'yes' }), {
    code: 'ERR_INVALID_OPTION',
    option: 'recursiveFileLookup',
    message: exactly('For input string: "yes"'),
  });
});

t.test('option values other than strings, numbers and booleans are refused', async (t) => {
  t.throws(() => parseFileSourceOptions({ maxFilesPerTrigger: [1] }), {
    code: 'ERR_INVALID_OPTION',
    option: 'maxFilesPerTrigger',
    message: exactly("Invalid value for option 'maxFilesPerTrigger', must be a string, number or boolean"),
  });
});

// ---------------------------------------------------------------------------------------------
// Listing

t.test('isVisibleName skips hidden, underscore and _COPYING_ names but keeps metadata and partition names', async (t) => {
  const visible = ['a.json', '_metadata', '_common_metadata', '_metadata_x', '_k=v', 'k=v', 'a_b'];
  const hidden = ['.a', '_SUCCESS', '_temporary', 'a.json._COPYING_', '.a=b', '_'];
  t.strictSame(visible.filter(isVisibleName), visible);
  t.strictSame(hidden.filter(isVisibleName), []);
});

t.test('listFiles lists visible files in name order with whole-ms mtimes and sizes', async (t) => {
  const dir = t.testdir({
    'b.json': '22',
    'a.json': '1',
    '.hidden.json': 'x',
    _SUCCESS: '',
    _metadata: 'm',
    '_x=1': 'p',
    'c.json._COPYING_': 'x',
    sub: { 'd.json': 'd' },
    'p=1': { 'g.json': 'g' },
  });
  await utimes(join(dir, 'a.json'), 1_469_501_675.125, 1_469_501_675.125);
  const files = await listFiles(dir);
  t.strictSame(
    files.map((f) => f.path),
    ['_metadata', '_x=1', 'a.json', 'b.json'].map((n) => join(dir, n)),
  );
  const a = files.find((f) => f.path === join(dir, 'a.json'))!;
  t.equal(a.mtimeMs, 1_469_501_675_125);
  t.equal(a.size, 1);
});

t.test('listFiles with recursive descends into visible sub-directories only, files before sub-directories', async (t) => {
  const dir = t.testdir({
    'z.json': '',
    sub: { 'd.json': '', '.h': '', deeper: { 'e.json': '' } },
    _tmp: { 'e.json': '' },
    '.git': { f: '' },
    'p=1': { 'g.json': '' },
  });
  const files = await listFiles(dir, { recursive: true });
  t.strictSame(
    files.map((f) => f.path.slice(dir.length + 1)),
    ['z.json', 'p=1/g.json', 'sub/d.json', 'sub/deeper/e.json'],
  );
});

t.test('listFiles of thousands of files lists each with its own size in name order, skipping dangling links and link cycles', async (t) => {
  // Far more files than one slice of stats holds (see Slices in file-listing.ts).
  const count = 3000;
  const entries: Record<string, string> = {};
  for (let i = 0; i < count; i++) entries[`part-${String(i).padStart(5, '0')}.json`] = 'x'.repeat(i % 7);
  const dir = t.testdir({ ...entries, 'zz-dangling': t.fixture('symlink', 'nowhere'), 'zz-loop': t.fixture('symlink', 'zz-loop') });
  const files = await listFiles(dir);
  t.equal(files.length, count);
  t.strictSame(
    files.map((f) => [f.path.slice(dir.length + 1), f.size]),
    Object.keys(entries).map((name, i) => [name, i % 7]),
  );
});

t.test('listFiles of a missing directory is empty', async (t) => {
  const dir = t.testdir({});
  t.strictSame(await listFiles(join(dir, 'nope')), []);
});

// ---------------------------------------------------------------------------------------------
// Source log

t.test('formatSourceLogFile writes v1 and one JSON line per file without a trailing newline', async (t) => {
  const text = formatSourceLogFile([
    { path: toFileUri('/in/a.json'), timestamp: 1469501675000, batchId: 3 },
    { path: toFileUri('/in/b c.json'), timestamp: 1469501676000, batchId: 3 },
  ]);
  t.equal(
    text,
    'v1\n' +
      '{"path":"file:///in/a.json","timestamp":1469501675000,"batchId":3}\n' +
      '{"path":"file:///in/b%20c.json","timestamp":1469501676000,"batchId":3}',
  );
  t.equal(formatSourceLogFile([]), 'v1');
});

t.test('parseSourceLogFile reads back entries, including Hadoop file:/ and Spark 2.1 bare paths', async (t) => {
  const text = 'v1\n{"path":"file:/in/a.json","timestamp":1,"batchId":0}\n{"path":"/in/b.json","timestamp":2,"batchId":0,"extra":1}\n';
  const entries = parseSourceLogFile(text, '/ckpt/sources/0/0');
  t.strictSame(entries, [
    { path: 'file:/in/a.json', timestamp: 1, batchId: 0 },
    { path: '/in/b.json', timestamp: 2, batchId: 0 },
  ]);
  t.strictSame(entries.map((e) => sourceLogPath(e.path)), ['/in/a.json', '/in/b.json']);
  t.equal(sourceLogPath(toFileUri('/in/b c.json')), '/in/b c.json');
});

t.test('parseSourceLogFile refuses a bad header with Spark\'s texts', async (t) => {
  const f = '/ckpt/sources/0/4';
  t.throws(() => parseSourceLogFile('', f), { code: 'ERR_CHECKPOINT_CORRUPT', file: f, message: exactly('Incomplete log file') });
  t.throws(() => parseSourceLogFile('x\n{}', f), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: f,
    line: 1,
    message: exactly('Log file was malformed: failed to read correct log version from x.'),
  });
  t.throws(() => parseSourceLogFile('v0', f), {
    message: exactly('Log file was malformed: failed to read correct log version from v0.'),
  });
  t.throws(() => parseSourceLogFile('v2', f), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    message: exactly(
      'UnsupportedLogVersion: maximum supported log version is v1, but encountered v2. The log file was produced by a newer ' +
        'version of Spark and cannot be read by this version. Please upgrade.',
    ),
  });
});

t.test('parseSourceLogFile refuses a bad entry naming its line', async (t) => {
  const f = '/ckpt/sources/0/4';
  t.throws(() => parseSourceLogFile('v1\n{"path":"file:///a","timestamp":1,"batchId":4}\n{"path":', f), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: f,
    line: 3,
    message: exactly('Malformed source log entry at line 3: not JSON'),
  });
  t.throws(() => parseSourceLogFile('v1\n{"path":"file:///a","timestamp":"1","batchId":4}', f), {
    line: 2,
    message: exactly("Malformed source log entry at line 2: 'timestamp' must be an integer"),
  });
  t.throws(() => parseSourceLogFile('v1\n{"path":"s3://b/a","timestamp":1,"batchId":4}', f), {
    line: 2,
    message: exactly("Malformed source log entry at line 2: 'path' must be a file URI"),
  });
});

// ---------------------------------------------------------------------------------------------
// cleanSource

t.test('archivePath appends the absolute source path to the archive directory', async (t) => {
  t.equal(archivePath('/archived/here', '/a/b/dataset.txt'), '/archived/here/a/b/dataset.txt');
  t.equal(archivePath('/archived/here/', '/a/b/dataset.txt'), '/archived/here/a/b/dataset.txt');
});

t.test('checkArchiveDir refuses an archive directory on the source directory\'s path', async (t) => {
  t.doesNotThrow(() => checkArchiveDir('/data/in', '/data/archive'));
  t.doesNotThrow(() => checkArchiveDir('/data/in', '/archive'));
  const message = exactly(
    'requirement failed: Base archive path cannot be set to the path where archived path can possibly match with source ' +
      "pattern. Ensure the base archive path doesn't match with source pattern in depth, where the depth is minimum of " +
      'depth on both paths.',
  );
  t.throws(() => checkArchiveDir('/data/in', '/data/in/archive'), { code: 'ERR_INVALID_OPTION', option: 'sourceArchiveDir', message });
  t.throws(() => checkArchiveDir('/data/in', '/data'), { message });
});

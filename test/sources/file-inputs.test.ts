/**
 * What a file source reads, and what it refuses to read (issue 10: defects
 * 2, 4, 6, 7, 8, 9): missing paths and globs, compressed files, files skipped
 * by age, files gone before their batch read them, output written into the
 * input, a checkpoint pointed at another input.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { FileSource, type FileSourceOptions } from '../../lib/sources/file-source.js';
import { ParseSchema, type ParseMode } from '../../lib/stages/parse-schema.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { CheckpointSink } from '../../lib/sinks/checkpoint-sink.js';
import { Checkpoint } from '../../lib/checkpoint/checkpoint.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { InputPattern, listInputFiles } from '../../lib/sources/file-listing.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';
import type { Row } from '../../lib/core/batch.js';

const DAY_MS = 86_400_000;
const T0 = 1_600_000_000_000;

// Placed atomically, with its modification time set, as a running source must see files.
async function place(path: string, content: string | Buffer, mtimeMs: number): Promise<void> {
  const hidden = join(dirname(path), '.' + basename(path));
  await writeFile(hidden, content);
  await utimes(hidden, new Date(mtimeMs), new Date(mtimeMs));
  await rename(hidden, path);
}

interface Run {
  values: string[];
  progress: StreamingQueryProgress[];
  warnings: Error[];
  error: (Error & { cause?: Error & { code?: string; file?: string; line?: number; option?: string } }) | null;
}

/** Runs a FileSource (raw lines, no parsing) with availableNow; collects lines, progress and warnings. */
async function runLines(options: FileSourceOptions, checkpointLocation?: string, source: FileSource = new FileSource({ framing: 'lines', ...options })): Promise<Run> {
  const sink = new MemorySink();
  const progress: StreamingQueryProgress[] = [];
  const warnings: Error[] = [];
  source.on('warning', (w: Error) => warnings.push(w));
  const query = await startQuery({ source, sink, trigger: 'availableNow', manager: new StreamingQueryManager(), ...(checkpointLocation === undefined ? {} : { checkpointLocation }) });
  query.on('progress', (p: StreamingQueryProgress) => progress.push(p));
  let error: Run['error'] = null;
  await query.awaitTermination().catch((e: unknown) => (error = e as Run['error']));
  return { values: sink.rows().map((r) => r['value'] as string), progress, warnings, error };
}

// ---------------------------------------------------------------------------------------------
// Defect 2: a missing input path; globs

t.test('defect 2 (missing input): a path that does not exist is refused at construction with Spark PATH_NOT_FOUND', async (t) => {
  const dir = t.testdir({});
  const missing = join(dir, 'nope');
  t.throws(() => new FileSource({ path: missing }), {
    name: 'TidemarkError',
    code: 'ERR_PATH_NOT_FOUND',
    message: `[PATH_NOT_FOUND] Path does not exist: file:${missing}.`,
    file: missing,
    option: 'path',
  });
  t.strictSame(await readdir(dir), [], 'nothing created');
});

t.test('defect 2 (missing input): a relative path is named absolute; a dangling symbolic link is missing too', async (t) => {
  const dir = t.testdir({});
  const relativePath = relative(process.cwd(), join(dir, 'nope'));
  t.throws(() => new FileSource({ path: relativePath }), { code: 'ERR_PATH_NOT_FOUND', message: `[PATH_NOT_FOUND] Path does not exist: file:${join(dir, 'nope')}.` });
  await symlink(join(dir, 'gone'), join(dir, 'link'));
  t.throws(() => new FileSource({ path: join(dir, 'link') }), { code: 'ERR_PATH_NOT_FOUND', file: join(dir, 'link') });
});

t.test('defect 2 (missing input): a glob that matches nothing yet is accepted, and its files are read once they appear', async (t) => {
  const root = t.testdir({});
  const chk = join(root, 'chk');
  const options = { path: join(root, 'logs', '2016-*', '*.json') };
  const first = await runLines(options, chk);
  t.equal(first.error, null);
  t.strictSame(first.values, []);
  await mkdir(join(root, 'logs', '2016-01'), { recursive: true });
  await mkdir(join(root, 'logs', '2017-01'), { recursive: true });
  await place(join(root, 'logs', '2016-01', 'a.json'), 'a1\na2\n', T0);
  await place(join(root, 'logs', '2016-01', 'a.txt'), 'not matched\n', T0);
  await place(join(root, 'logs', '2017-01', 'b.json'), 'not matched\n', T0);
  const second = await runLines(options, chk);
  t.equal(second.error, null);
  t.strictSame(second.values, ['a1', 'a2']);
});

t.test("defect 2 (globs): Hadoop's glob syntax, one path component at a time", async (t) => {
  const names = ['a.json', 'b.json', 'c.json', 'ab.json', '.h.json', '*.json', '(a|b).json', 'x+y.json'];
  const dir = t.testdir(Object.fromEntries(names.map((n) => [n, n])));
  const matched = async (pattern: string): Promise<string[]> => (await listInputFiles(new InputPattern(join(dir, pattern)))).map((f) => relative(dir, f.path));
  t.strictSame(await matched('?.json'), ['*.json', 'a.json', 'b.json', 'c.json'], '? is one character');
  t.strictSame(await matched('[ab].json'), ['a.json', 'b.json'], '[ab]');
  t.strictSame(await matched('[b-c].json'), ['b.json', 'c.json'], '[b-c]');
  t.strictSame(await matched('[^a].json'), ['*.json', 'b.json', 'c.json'], '[^a]');
  t.strictSame(await matched('[!a].json'), ['*.json', 'b.json', 'c.json'], '[!a]');
  t.strictSame(await matched('{a,ab}.json'), ['a.json', 'ab.json'], '{a,ab}');
  t.strictSame(await matched('\\*.json'), ['*.json'], '\\ escapes');
  t.strictSame(await matched('(a|b).json'), ['(a|b).json'], '( | ) are characters');
  t.strictSame(await matched('x+y.json'), ['x+y.json'], '+ is a character');
  t.strictSame(await matched('a*'), ['a.json', 'ab.json'], '* within a name');
  t.strictSame(await matched('*'), ['(a|b).json', '*.json', 'a.json', 'ab.json', 'b.json', 'c.json', 'x+y.json'], 'a matched hidden file is not read, as Spark filters it');
});

t.test('defect 2 (globs): a matched directory is listed like the source directory, not below unless recursiveFileLookup', async (t) => {
  const dir = t.testdir({ d1: { 'a.json': 'a', sub: { 'deep.json': 'deep' } }, d2: { 'b.json': 'b', _tmp: 'hidden' }, e1: { 'c.json': 'c' }, 'd.json': 'file' });
  const listed = async (recursive: boolean): Promise<string[]> => (await listInputFiles(new InputPattern(join(dir, 'd*')), { recursive })).map((f) => relative(dir, f.path));
  t.strictSame(await listed(false), ['d.json', 'd1/a.json', 'd2/b.json']);
  t.strictSame(await listed(true), ['d.json', 'd1/a.json', 'd1/sub/deep.json', 'd2/b.json']);
});

t.test('defect 2 (globs): a pattern Hadoop refuses is refused naming the option', async (t) => {
  const dir = t.testdir({});
  t.throws(() => new FileSource({ path: join(dir, '[ab.json') }), { code: 'ERR_INVALID_OPTION', option: 'path', message: `Illegal file pattern: Unclosed character class near index ${join(dir, '[ab.json').length} for glob: ${join(dir, '[ab.json')}` });
  t.throws(() => new FileSource({ path: join(dir, '{a,b.json') }), { code: 'ERR_INVALID_OPTION', option: 'path', message: `Illegal file pattern: Unclosed group near index ${join(dir, '{a,b.json').length} for glob: ${join(dir, '{a,b.json')}` });
  t.throws(() => new FileSource({ path: join(dir, '{a/x,b}.json') }), { code: 'ERR_INVALID_OPTION', option: 'path', message: /a \{…\} alternative containing '\/' is not supported/ });
});

// ---------------------------------------------------------------------------------------------
// Defect 6: compressed input

const LINES = ['{"time":1,"action":"Open"}', '{"time":2,"action":"Close"}', 'not json', '{"time":3,"action":"Open"}', '{"time":"x","action":"Close"}', '{"time":4,"action":"Open"}'];
const PLAIN = LINES.join('\n') + '\n';
const PARSE_SCHEMA = 'time timestamp, action string, _corrupt_record string';

async function parsed(dir: string, framing: 'lines' | 'chunks', mode: ParseMode): Promise<{ rows: Row[] } | { code?: string; line?: number; file?: string }> {
  const sink = new MemorySink();
  // Tiny reads: every line is cut by a read, and most reads hold no whole line.
  const query = await startQuery({
    source: new FileSource({ path: dir, framing, readBufferBytes: 7 }),
    stages: [new ParseSchema({ schema: PARSE_SCHEMA, mode, timeZone: 'UTC' })],
    sink,
    trigger: 'availableNow',
    manager: new StreamingQueryManager(),
  });
  try {
    await query.awaitTermination();
    return { rows: sink.rows() };
  } catch (err) {
    const cause = (err as { cause: { code?: string; line?: number; file?: string } }).cause;
    return { code: cause.code, line: cause.line, file: cause.file };
  }
}

t.test('defect 6 (compressed input): .gz and .deflate files give the rows of the plain file, in both framings and every parse mode', async (t) => {
  const root = t.testdir({ gz: {}, deflate: {} });
  await writeFile(join(root, 'gz', 'a.json.gz'), gzipSync(PLAIN));
  await writeFile(join(root, 'deflate', 'a.json.deflate'), deflateSync(PLAIN));
  const permissive = [
    { time: 1000, action: 'Open', _corrupt_record: null },
    { time: 2000, action: 'Close', _corrupt_record: null },
    { time: null, action: null, _corrupt_record: 'not json' },
    { time: 3000, action: 'Open', _corrupt_record: null },
    { time: null, action: 'Close', _corrupt_record: '{"time":"x","action":"Close"}' },
    { time: 4000, action: 'Open', _corrupt_record: null },
  ];
  const dropped = permissive.filter((r) => r._corrupt_record === null);
  for (const [codec, file] of [['gz', 'a.json.gz'], ['deflate', 'a.json.deflate']] as const) {
    for (const framing of ['lines', 'chunks'] as const) {
      const dir = join(root, codec);
      t.strictSame(await parsed(dir, framing, 'PERMISSIVE'), { rows: permissive }, `${codec} ${framing} PERMISSIVE`);
      t.strictSame(await parsed(dir, framing, 'DROPMALFORMED'), { rows: dropped }, `${codec} ${framing} DROPMALFORMED`);
      t.strictSame(await parsed(dir, framing, 'FAILFAST'), { code: 'ERR_MALFORMED_RECORD', line: 3, file: join(dir, file) }, `${codec} ${framing} FAILFAST names line 3`);
    }
  }
});

t.test('defect 6 (compressed input): multiLine documents and a concatenated (multi-member) .gz are read whole', async (t) => {
  const dir = t.testdir({});
  await place(join(dir, 'a.json.gz'), gzipSync('[{"time": 1, "action": "Open"},\n {"time": 2, "action": "Close"}]'), T0);
  await place(join(dir, 'b.json.gz'), Buffer.concat([gzipSync('{"time": 3,\n'), gzipSync(' "action": "Click"}')]), T0 + 1000);
  const sink = new MemorySink();
  const query = await startQuery({ source: new FileSource({ path: dir, multiLine: true, readBufferBytes: 5 }), stages: [new ParseSchema({ schema: 'time timestamp, action string', timeZone: 'UTC' })], sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows(), [{ time: 1000, action: 'Open' }, { time: 2000, action: 'Close' }, { time: 3000, action: 'Click' }] as Row[]);
});

t.test('multiLine reads a document that starts after more than 4096 blank bytes', async (t) => {
  const dir = t.testdir({ 'a.json': ' '.repeat(5000) + '{"time": 1,\n "action": "Open"}' });
  const sink = new MemorySink();
  const query = await startQuery({ source: new FileSource({ path: dir, multiLine: true }), stages: [new ParseSchema({ schema: 'time timestamp, action string', timeZone: 'UTC' })], sink, trigger: 'availableNow', manager: new StreamingQueryManager() });
  await query.awaitTermination();
  t.strictSame(sink.rows(), [{ time: 1000, action: 'Open' }] as Row[]);
});

t.test('defect 6 (compressed input): a line longer than maxLineLength in a .gz file is refused naming its line', async (t) => {
  const dir = t.testdir({});
  await writeFile(join(dir, 'a.json.gz'), gzipSync(`one\ntwo\n${'y'.repeat(5000)}\nfour\n`));
  for (const framing of ['lines', 'chunks'] as const) {
    const run = await runLines({ path: dir, framing, maxLineLength: 1024, readBufferBytes: 100 });
    t.match(run.error?.cause, { code: 'ERR_LINE_TOO_LONG', line: 3, file: join(dir, 'a.json.gz') }, framing);
  }
});

t.test('defect 6 (compressed input): a truncated .gz file fails the query naming the file', async (t) => {
  const dir = t.testdir({});
  const whole = gzipSync(PLAIN);
  await writeFile(join(dir, 'a.json.gz'), whole.subarray(0, whole.length - 12));
  for (const framing of ['lines', 'chunks'] as const) {
    const run = await runLines({ path: dir, framing });
    t.match(run.error?.cause, { code: 'ERR_FILE_SOURCE', file: join(dir, 'a.json.gz'), message: `cannot read ${join(dir, 'a.json.gz')}: ` }, framing);
    t.match(run.error?.cause?.message, /unexpected end of file/, framing);
  }
});

t.test('defect 6 (compressed input): a codec tidemark cannot read fails the query naming the file and the codec, before the batch is recorded', async (t) => {
  for (const [suffix, codec] of [['.bz2', 'bzip2'], ['.lz4', 'lz4'], ['.snappy', 'snappy'], ['.zst', 'zstd'], ['.lzo', 'lzop'], ['.BZ2', 'bzip2']] as const) {
    const root = t.testdir({ in: { ['a.json' + suffix]: 'compressed bytes' }, chk: {} });
    const file = join(root, 'in', 'a.json' + suffix);
    const run = await runLines({ path: join(root, 'in') }, join(root, 'chk'));
    t.strictSame(run.values, [], `${suffix}: no row`);
    t.match(run.error?.cause, {
      code: 'ERR_UNSUPPORTED_COMPRESSION',
      file,
      message: `cannot read ${file}: it is ${codec}-compressed (${suffix.toLowerCase()}), and tidemark reads only .gz (gzip) and .deflate (zlib) compressed input; decompress it, or recompress it with gzip`,
    });
    t.strictSame(await readdir(join(root, 'chk', 'sources', '0')), [], `${suffix}: no source log entry`);
  }
});

// ---------------------------------------------------------------------------------------------
// Defect 7: files skipped by age

t.test('defect 7 (files skipped by age): a new file older than maxFileAge before the newest is reported once, in a warning and the progress', async (t) => {
  const root = t.testdir({ in: {}, chk: {} });
  const input = join(root, 'in');
  const chk = join(root, 'chk');
  await place(join(input, 'old.txt'), 'old', T0);
  await place(join(input, 'new.txt'), 'new', T0 + 10 * DAY_MS);
  const first = await runLines({ path: input }, chk);
  t.strictSame(first.values, ['old', 'new'], 'the first batch takes files of any age');
  t.strictSame(first.progress.map((p) => p.sources[0]!.metrics), [{ numFilesSkippedByAge: '0', numMissingFilesIgnored: '0', numFilesRead: '2' }]);
  t.strictSame(first.warnings, [], 'old.txt, read and then forgotten, is not reported on restart');

  await place(join(input, 'late.txt'), 'late', T0 + 1 * DAY_MS);
  await place(join(input, 'newer.txt'), 'newer', T0 + 11 * DAY_MS);
  const second = await runLines({ path: input }, chk);
  t.strictSame(second.values, ['newer'], 'late.txt is skipped by Spark rule');
  t.strictSame(second.progress.map((p) => p.sources[0]!.metrics), [{ numFilesSkippedByAge: '1', numMissingFilesIgnored: '0', numFilesRead: '1' }]);
  t.equal(second.warnings.length, 1);
  t.match(second.warnings[0], {
    code: 'ERR_FILE_SOURCE',
    file: join(input, 'late.txt'),
    option: 'maxFileAge',
    message:
      `1 new file skipped by maxFileAge, modified before ${new Date(T0 + 3 * DAY_MS).toISOString()} (the newest file seen, ${new Date(T0 + 10 * DAY_MS).toISOString()}, minus maxFileAge): ` +
      `${join(input, 'late.txt')}. To read them, run again with a larger --max-file-age (option maxFileAge)`,
  });

  const third = await runLines({ path: input, maxFileAge: '30d' }, chk);
  t.strictSame(third.values, ['late'], 'a larger maxFileAge reads it on the next run');
  t.strictSame(third.warnings, []);
});

t.test('defect 7 (files skipped by age): files skipped while no batch runs are counted in the next batch', async (t) => {
  const root = t.testdir({ in: {}, chk: {} });
  const input = join(root, 'in');
  const source = new FileSource({ path: input, framing: 'lines' });
  const sink = new MemorySink();
  const progress: StreamingQueryProgress[] = [];
  const warnings: Error[] = [];
  source.on('warning', (w: Error) => warnings.push(w));
  await place(join(input, 'a.txt'), 'a', T0 + 10 * DAY_MS);
  const query = await startQuery({ source, sink, checkpointLocation: join(root, 'chk'), manager: new StreamingQueryManager() });
  query.on('progress', (p: StreamingQueryProgress) => progress.push(p));
  await query.processAllAvailable();
  await place(join(input, 'stale.txt'), 'stale', T0);
  await query.processAllAvailable();
  t.equal(warnings.length, 1, 'warned when seen, with no batch to report it');
  await place(join(input, 'b.txt'), 'b', T0 + 10 * DAY_MS + 1000);
  await query.processAllAvailable();
  await query.stop();
  t.strictSame(sink.rows().map((r) => r['value']), ['a', 'b']);
  t.strictSame(progress.map((p) => p.sources[0]!.metrics['numFilesSkippedByAge']), ['0', '1']);
});

// ---------------------------------------------------------------------------------------------
// Defect 8: a file gone between planning and reading

t.test('defect 8 (vanished file): the error names the file, the batch and the fix; ignoreMissingFiles skips it, counts it and warns', async (t) => {
  const root = t.testdir({ in: {}, chk: {} });
  const input = join(root, 'in');
  const chk = join(root, 'chk');
  const options = (more: Partial<FileSourceOptions> = {}): FileSourceOptions => ({ path: input, ...more });
  const parseRun = async (options: FileSourceOptions): Promise<Run> => {
    const source = new FileSource(options);
    const sink = new MemorySink();
    const run: Run = { values: [], progress: [], warnings: [], error: null };
    source.on('warning', (w: Error) => run.warnings.push(w));
    const query = await startQuery({ source, stages: [new ParseSchema({ schema: 'time timestamp, action string', mode: 'FAILFAST', timeZone: 'UTC' })], sink, checkpointLocation: chk, trigger: 'availableNow', manager: new StreamingQueryManager() });
    query.on('progress', (p: StreamingQueryProgress) => run.progress.push(p));
    await query.awaitTermination().catch((e: unknown) => (run.error = e as Run['error']));
    run.values = sink.rows().map((r) => String(r['action']));
    return run;
  };
  await place(join(input, 'a.json'), '{"time":1,"action":"Open"}\n', T0);
  await place(join(input, 'bad.json'), 'not json\n', T0 + 1000);
  // Batch 0 is planned (both files), then fails on bad.json; the user removes it.
  const failed = await parseRun(options());
  t.match(failed.error?.cause, { code: 'ERR_MALFORMED_RECORD' });
  await rm(join(input, 'bad.json'));
  const missing = `[FAILED_READ_FILE.FILE_NOT_EXIST] ${join(input, 'bad.json')} of batch 0 does not exist: it was listed when the batch was planned and removed before it was read. Put it back, or run again with --ignore-missing-files (option ignoreMissingFiles) to skip it`;
  for (const attempt of ['first rerun', 'second rerun']) {
    const rerun = await parseRun(options());
    t.match(rerun.error?.cause, { code: 'ERR_FILE_NOT_FOUND', file: join(input, 'bad.json'), option: 'ignoreMissingFiles', message: missing }, attempt);
  }
  const skipping = await parseRun(options({ ignoreMissingFiles: true }));
  t.equal(skipping.error, null);
  t.strictSame(skipping.values, ['Open']);
  t.strictSame(skipping.progress.map((p) => [p.batchId, p.sources[0]!.metrics['numMissingFilesIgnored']]), [[0, '1']]);
  t.equal(skipping.warnings.length, 1);
  t.match(skipping.warnings[0], {
    code: 'ERR_FILE_NOT_FOUND',
    file: join(input, 'bad.json'),
    message: `ignored missing file ${join(input, 'bad.json')} of batch 0 (ignoreMissingFiles): it was planned but no longer exists, so its rows are not read`,
  });
});

t.test('defect 8 (vanished file): ignoreMissingFiles takes only true or false', async (t) => {
  const dir = t.testdir({});
  t.throws(() => new FileSource({ path: dir, ignoreMissingFiles: 'yes' }), { code: 'ERR_INVALID_OPTION', option: 'ignoreMissingFiles', message: 'For input string: "yes"' });
});

// ---------------------------------------------------------------------------------------------
// Defect 9: output inside the input

async function refusedOutput(t: Test, input: string, output: string, named: { input: string; output: string; matched?: boolean }): Promise<void> {
  const chk = join(t.testdirName, 'chk-' + Math.random().toString(36).slice(2));
  const outputExisted = existsSync(named.output);
  await t.rejects(
    startQuery({ source: new FileSource({ path: input }), sink: new CheckpointSink({ path: output }), checkpointLocation: chk, manager: new StreamingQueryManager() }),
    {
      code: 'ERR_OUTPUT_INSIDE_INPUT',
      file: named.output,
      message: `the output directory ${named.output} is ${named.matched === true ? 'matched by' : 'inside'} the input path ${named.input}: each batch would read the one before's output as new input, forever. Write the output outside the input`,
    },
    `${output} in ${input}`,
  );
  t.notOk(existsSync(chk), 'no checkpoint created');
  t.equal(existsSync(named.output), outputExisted, 'no output created');
}

t.test('defect 9 (output inside input): an output directory equal to or inside the input is refused at start, naming both', async (t) => {
  const root = t.testdir({ in: { existing: {} } });
  const input = join(root, 'in');
  await refusedOutput(t, input, input, { input, output: input });
  await refusedOutput(t, input, join(input, 'out'), { input, output: join(input, 'out') });
  await refusedOutput(t, input, join(input, 'existing'), { input, output: join(input, 'existing') });
  await refusedOutput(t, join(input, '.'), relative(process.cwd(), join(input, 'a', '..', 'out')), { input, output: join(input, 'out') });
});

t.test('defect 9 (output inside input): through globs and symbolic links too', async (t) => {
  const root = t.testdir({ data: { '2016-01': {} }, real: {}, elsewhere: {} });
  const data = join(root, 'data');
  await refusedOutput(t, join(data, '2016-*'), join(data, '2016-out'), { input: join(data, '2016-*'), output: join(data, '2016-out'), matched: true });
  await refusedOutput(t, join(data, '*', '*.json'), join(data, 'out'), { input: join(data, '*', '*.json'), output: join(data, 'out'), matched: true });
  await refusedOutput(t, join(data, '*'), data, { input: join(data, '*'), output: data, matched: true });
  await symlink(join(root, 'real'), join(root, 'link'));
  await refusedOutput(t, join(root, 'link'), join(root, 'real', 'out'), { input: join(root, 'link'), output: join(root, 'real', 'out') });
  await refusedOutput(t, join(root, 'real'), join(root, 'link', 'out'), { input: join(root, 'real'), output: join(root, 'link', 'out') });
});

t.test('defect 9 (output inside input): an output beside the input, or that a glob cannot match, is accepted', async (t) => {
  const root = t.testdir({ in: {}, data: {} });
  for (const [input, output] of [
    [join(root, 'in'), join(root, 'in-out')],
    [join(root, 'data', '*.json'), join(root, 'data', 'out')],
    [join(root, 'data', '2016-*'), join(root, 'data', 'out')],
  ] as const) {
    const query = await startQuery({ source: new FileSource({ path: input }), sink: new CheckpointSink({ path: output }), checkpointLocation: join(root, 'chk-' + relative(root, output).replace(/\W/g, '')), trigger: 'availableNow', manager: new StreamingQueryManager() });
    await query.awaitTermination();
    t.pass(`${output} beside ${input}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Defect 4 (last sentence): a checkpoint pointed at another input

t.test('defect 4 (checkpoint of another input): a restart with another path is refused naming both; the path is in the offsets conf', async (t) => {
  const root = t.testdir({ a: { 'x.txt': 'x' }, b: { 'y.txt': 'y' }, chk: {} });
  const chk = join(root, 'chk');
  const first = await runLines({ path: join(root, 'a') }, chk);
  t.strictSame(first.values, ['x']);
  const checkpoint = await Checkpoint.open(chk);
  t.equal((await checkpoint.readOffsets(0)).conf['tidemark.source.0'], JSON.stringify({ path: join(root, 'a') }));
  await checkpoint.close();
  const second = await runLines({ path: join(root, 'b') }, chk);
  t.strictSame(second.values, []);
  t.match(second.error?.cause, {
    code: 'ERR_CHECKPOINT_MISMATCH',
    option: 'path',
    message: `the query changed since the checkpoint was written: FileSource path was ${JSON.stringify(join(root, 'a'))}, is now ${JSON.stringify(join(root, 'b'))}`,
  });
  const same = await runLines({ path: join(root, 'a') }, chk);
  t.equal(same.error, null, 'the same path is accepted');
});

t.test('defect 4 (checkpoint of another input): a checkpoint written before the path was recorded is accepted', async (t) => {
  const root = t.testdir({ a: { 'x.txt': 'x' }, chk: {} });
  const chk = join(root, 'chk');
  // A source that records nothing: what a checkpoint of the release before looks like.
  class Unrecorded extends FileSource {
    override fingerprint(): Record<string, unknown> {
      return {};
    }
  }
  const old = await runLines({ path: join(root, 'a') }, chk, new Unrecorded({ path: join(root, 'a'), framing: 'lines' }));
  t.strictSame(old.values, ['x']);
  const checkpoint = await Checkpoint.open(chk);
  t.equal((await checkpoint.readOffsets(0)).conf['tidemark.source.0'], undefined);
  await checkpoint.close();
  await place(join(root, 'a', 'z.txt'), 'z', Date.now() + 1000);
  const now = await runLines({ path: join(root, 'a') }, chk);
  t.equal(now.error, null);
  t.strictSame(now.values, ['z']);
});

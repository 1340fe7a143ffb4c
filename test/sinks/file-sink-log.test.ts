/**
 * The file sink's manifest (`_spark_metadata`) and the readers that go
 * through it.
 */
import t from 'tap';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  hasSinkBatch,
  hasSinkLog,
  latestSinkBatchId,
  readCommittedJsonLines,
  readSinkLog,
  sinkLogFileFor,
  writeSinkLogEntry,
  type CommittedLine,
  type SinkLogFile,
} from '../../lib/sinks/file-sink-log.js';

/** A log entry for `name` with fixed figures. */
const entry = (out: string, name: string, size = 10): SinkLogFile => ({
  path: pathToFileURL(join(out, name)).href,
  size,
  isDir: false,
  modificationTime: 1469504400000,
  blockReplication: 1,
  blockSize: 33554432,
  action: 'add',
});

async function collect(lines: AsyncIterable<CommittedLine>): Promise<Array<[string, number, string]>> {
  const out: Array<[string, number, string]> = [];
  for await (const l of lines) out.push([l.file, l.line, l.text]);
  return out;
}

t.test('an entry is written as Spark FileStreamSinkLog v1: version line, then one JSON object per file, no trailing newline', async (t) => {
  const out = t.testdir();
  t.equal(await writeSinkLogEntry(out, 0, [entry(out, 'a.json', 5), entry(out, 'b.json', 7)]), true);
  t.equal(
    await readFile(join(out, '_spark_metadata', '0'), 'utf8'),
    'v1\n' +
      `{"path":"file://${out}/a.json","size":5,"isDir":false,"modificationTime":1469504400000,"blockReplication":1,"blockSize":33554432,"action":"add"}\n` +
      `{"path":"file://${out}/b.json","size":7,"isDir":false,"modificationTime":1469504400000,"blockReplication":1,"blockSize":33554432,"action":"add"}`,
  );
  t.strictSame(await readSinkLog(out), [entry(out, 'a.json', 5), entry(out, 'b.json', 7)]);
});

t.test('an existing entry is never overwritten (HDFSMetadataLog.add returns false)', async (t) => {
  const out = t.testdir();
  await writeSinkLogEntry(out, 0, [entry(out, 'a.json')]);
  t.equal(await writeSinkLogEntry(out, 0, [entry(out, 'other.json')]), false);
  t.strictSame(await readSinkLog(out), [entry(out, 'a.json')]);
});

t.test('latestSinkBatchId, hasSinkBatch and hasSinkLog see committed entries only, not temp files', async (t) => {
  const out = t.testdir();
  t.equal(await hasSinkLog(out), false);
  t.equal(await latestSinkBatchId(out), null);
  t.equal(await hasSinkBatch(out, 0), false);
  await writeSinkLogEntry(out, 0, [entry(out, 'a.json')]);
  await writeSinkLogEntry(out, 1, []);
  await writeFile(join(out, '_spark_metadata', '.2.12345.0.tmp'), 'v1');
  t.equal(await hasSinkLog(out), true);
  t.equal(await latestSinkBatchId(out), 1);
  t.equal(await hasSinkBatch(out, 1), true);
  t.equal(await hasSinkBatch(out, 2), false);
});

t.test('every tenth batch is compacted into N.compact holding all files so far; readers start from it', async (t) => {
  const out = t.testdir();
  for (let id = 0; id <= 11; id++) await writeSinkLogEntry(out, id, [entry(out, `f${String(id).padStart(2, '0')}.json`)]);
  const names = await readdir(join(out, '_spark_metadata'));
  t.ok(names.includes('9.compact') && !names.includes('9'), 'batch 9 is 9.compact');
  t.equal((await readFile(join(out, '_spark_metadata', '9.compact'), 'utf8')).split('\n').length, 11, 'version line + files of batches 0..9');
  t.equal(await latestSinkBatchId(out), 11);
  t.equal(await hasSinkBatch(out, 9), true);
  const expected = Array.from({ length: 12 }, (_, id) => entry(out, `f${String(id).padStart(2, '0')}.json`));
  t.strictSame(await readSinkLog(out), expected);
  // Deltas before the compact file are not needed any more (Spark deletes them).
  for (let id = 0; id < 9; id++) await rm(join(out, '_spark_metadata', String(id)));
  t.strictSame(await readSinkLog(out), expected);
});

t.test('delete entries remove an earlier add of the same path', async (t) => {
  const out = t.testdir();
  await writeSinkLogEntry(out, 0, [entry(out, 'a.json'), entry(out, 'b.json')]);
  await writeSinkLogEntry(out, 1, [{ ...entry(out, 'a.json'), action: 'delete' }]);
  t.strictSame(await readSinkLog(out), [entry(out, 'b.json')]);
});

t.test('a missing delta or an unknown log version is reported as a corrupt log', async (t) => {
  const out = t.testdir();
  await writeSinkLogEntry(out, 0, []);
  await writeSinkLogEntry(out, 1, []);
  await writeSinkLogEntry(out, 2, []);
  await rm(join(out, '_spark_metadata', '1'));
  await t.rejects(readSinkLog(out), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    file: join(out, '_spark_metadata', '1'),
    message: `${join(out, '_spark_metadata', '1')} is missing from the file sink log ${join(out, '_spark_metadata')}: it is needed to read batches up to 2`,
  });
  // As a newer Spark would write it (its own sidecar replaced by none here).
  await writeFile(join(out, '_spark_metadata', '1'), 'v2\n');
  await rm(join(out, '_spark_metadata', '.1.crc'));
  await t.rejects(readSinkLog(out), {
    code: 'ERR_CHECKPOINT_CORRUPT',
    message:
      'UnsupportedLogVersion: maximum supported log version is v1, but encountered v2. The log file was produced by a newer version of Spark and cannot be read by this version. Please upgrade.',
  });
});

t.test('readCommittedJsonLines reads only the files the log lists, in batch order; unlisted, partial and temp files are invisible', async (t) => {
  const out = t.testdir({
    'part-00000-b-c000.json': '{"n":1}\n{"n":2}\n',
    'part-00000-a-c000.json': '{"n":3}\r\n\n{"n":4}',
    'part-00000-stray-c000.json': '{"n":"stray"}\n',
    '.part-00000-c-c000.json.tmp': '{"n":"temp"}\n',
  });
  await writeSinkLogEntry(out, 0, [await sinkLogFileFor(join(out, 'part-00000-b-c000.json'))]);
  await writeSinkLogEntry(out, 1, [await sinkLogFileFor(join(out, 'part-00000-a-c000.json'))]);
  t.strictSame(await collect(readCommittedJsonLines(out)), [
    [join(out, 'part-00000-b-c000.json'), 1, '{"n":1}'],
    [join(out, 'part-00000-b-c000.json'), 2, '{"n":2}'],
    [join(out, 'part-00000-a-c000.json'), 1, '{"n":3}'],
    [join(out, 'part-00000-a-c000.json'), 2, ''],
    [join(out, 'part-00000-a-c000.json'), 3, '{"n":4}'],
  ]);
});

t.test('an empty log means no committed file at all', async (t) => {
  const out = t.testdir({ 'part-00000-x-c000.json': '{"n":1}\n', _spark_metadata: {} });
  t.strictSame(await collect(readCommittedJsonLines(out)), []);
});

t.test('without _spark_metadata every visible file directly in the directory is read, by name', async (t) => {
  const out = t.testdir({
    'b.json': '{"n":2}\n',
    'a.json': '{"n":1}\n',
    '_SUCCESS': '',
    '.a.json.crc': 'crc',
    sub: { 'c.json': '{"n":3}\n' },
  });
  t.strictSame(await collect(readCommittedJsonLines(out)), [
    [join(out, 'a.json'), 1, '{"n":1}'],
    [join(out, 'b.json'), 1, '{"n":2}'],
  ]);
});

t.test('a file listed in the log but gone is an error naming it', async (t) => {
  const out = t.testdir();
  await mkdir(join(out, '_spark_metadata'));
  await writeSinkLogEntry(out, 0, [entry(out, 'gone.json')]);
  await t.rejects(collect(readCommittedJsonLines(out)), {
    code: 'ERR_FILE_SOURCE',
    file: join(out, 'gone.json'),
    message: `File ${join(out, 'gone.json')} does not exist, but it is listed in ${join(out, '_spark_metadata')}`,
  });
});

t.test('issue 10 #5: once N.compact is written, the files before the previous compact go, sidecars included; readers still see every file', async (t) => {
  const out = t.testdir();
  for (let id = 0; id <= 31; id++) await writeSinkLogEntry(out, id, [entry(out, `f${String(id).padStart(2, '0')}.json`)]);
  // 19.compact and the deltas after it stay for a reader that listed before 29.compact appeared.
  const kept = ['19.compact', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29.compact', '30', '31'];
  t.strictSame((await readdir(join(out, '_spark_metadata'))).sort(), [...kept.map((n) => `.${n}.crc`), ...kept].sort());
  t.strictSame(await readSinkLog(out), Array.from({ length: 32 }, (_, id) => entry(out, `f${String(id).padStart(2, '0')}.json`)));
  t.equal((await readFile(join(out, '_spark_metadata', '29.compact'), 'utf8')).split('\n').length, 31, 'version line + files of batches 0..29');
});

t.test('a damaged log file is refused by readers, naming it', async (t) => {
  const out = t.testdir();
  await writeSinkLogEntry(out, 0, [entry(out, 'a.json')]);
  const path = join(out, '_spark_metadata', '0');
  await writeFile(path, (await readFile(path, 'utf8')).replace('a.json', 'b.json'));
  await t.rejects(readSinkLog(out), { code: 'ERR_CHECKPOINT_CORRUPT', file: path, message: new RegExp(`^${path} was changed or damaged after it was written`) });
});

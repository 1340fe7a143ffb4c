/**
 * `tidemark show` and `tidemark plot` read a Parquet output (`run --format
 * parquet`) as Spark reads it back: `spark.read.parquet(DIR).show()` prints
 * the schema the query wrote (window a struct of two timestamps, in write
 * order), committed files only. They run in `tidemark` processes (the built
 * package): the decoder's package uses subpath-pattern exports the test
 * runner's module resolver does not know.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function tidemark(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

// 03:40, 03:41 and 03:50 UTC on 2016-07-26, then 05:46:40 (which closes the 03:00 window).
const INPUT = ['{"time":1469504400,"action":"Open"}', '{"time":1469504460,"action":"Open"}', '{"time":1469505000,"action":"Close"}', '{"time":1469512000,"action":"Open"}'].join('\n') + '\n';

async function runBoth(t: Test): Promise<{ root: string; json: string; parquet: string }> {
  const root = t.testdir({ in: { 'a.json': INPUT } });
  for (const [out, extra] of [['json', []], ['parquet', ['--format', 'parquet']]] as const) {
    const r = await tidemark([
      'run', '--input', join(root, 'in'), '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour', '--watermark', '10 minutes',
      '--output-mode', 'append', '--output', join(root, out), '--checkpoint', join(root, `chk-${out}`), '--trigger', 'available-now', '--drain', ...extra,
    ]);
    t.equal(r.code, 0, r.stderr);
  }
  return { root, json: join(root, 'json'), parquet: join(root, 'parquet') };
}

const PARQUET_SHOW =
  '+------+------------------------------------------+-----+\n' +
  '|action|window                                    |count|\n' +
  '+------+------------------------------------------+-----+\n' +
  '|Open  |{2016-07-26 03:00:00, 2016-07-26 04:00:00}|2    |\n' +
  '|Close |{2016-07-26 03:00:00, 2016-07-26 04:00:00}|1    |\n' +
  '|Open  |{2016-07-26 05:00:00, 2016-07-26 06:00:00}|1    |\n' +
  '+------+------------------------------------------+-----+\n' +
  '\n';

t.test("show prints a Parquet output as spark.read.parquet(DIR).show(): the written schema, window as a struct of timestamps, the JSON run's rows", async (t) => {
  const { json, parquet } = await runBoth(t);
  const shown = await tidemark(['show', parquet, '--truncate', 'false', '--time-zone', 'UTC']);
  t.equal(shown.code, 0, shown.stderr);
  t.equal(shown.stderr, '');
  t.equal(shown.stdout, PARQUET_SHOW);
  // The JSON run's show: the same rows, under the schema spark.read.json infers (columns sorted, window's fields as strings).
  const fromJson = await tidemark(['show', json, '--truncate', 'false', '--time-zone', 'UTC']);
  t.equal(
    fromJson.stdout,
    `+------+-----+${'-'.repeat(52)}+\n` +
      `|action|count|window${' '.repeat(46)}|\n` +
      `+------+-----+${'-'.repeat(52)}+\n` +
      '|Open  |2    |{2016-07-26T04:00:00.000Z, 2016-07-26T03:00:00.000Z}|\n' +
      '|Close |1    |{2016-07-26T04:00:00.000Z, 2016-07-26T03:00:00.000Z}|\n' +
      '|Open  |1    |{2016-07-26T06:00:00.000Z, 2016-07-26T05:00:00.000Z}|\n' +
      `+------+-----+${'-'.repeat(52)}+\n` +
      '\n',
  );
});

t.test('show reads committed Parquet files only: a part file left out of _spark_metadata is not read', async (t) => {
  const { parquet } = await runBoth(t);
  const [first] = (await readdir(parquet)).filter((n) => n.endsWith('.parquet'));
  // A crash between a data file and its manifest entry leaves such a file.
  await copyFile(join(parquet, first!), join(parquet, 'part-00000-00000000-0000-4000-8000-000000000000-c000.snappy.parquet'));
  const shown = await tidemark(['show', parquet, '--truncate', 'false', '--time-zone', 'UTC']);
  t.equal(shown.code, 0, shown.stderr);
  t.equal(shown.stdout, PARQUET_SHOW);
});

t.test("plot draws a Parquet output exactly as the JSON run's output: the same SVG", async (t) => {
  const { root, json, parquet } = await runBoth(t);
  for (const [dir, file] of [[json, 'json.svg'], [parquet, 'parquet.svg']] as const) {
    const r = await tidemark(['plot', dir, '-o', join(root, file)]);
    t.equal(r.code, 0, r.stderr);
  }
  const svg = await readFile(join(root, 'parquet.svg'), 'utf8');
  t.match(svg, /^<svg /);
  t.equal(svg, await readFile(join(root, 'json.svg'), 'utf8'));
});

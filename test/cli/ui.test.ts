/**
 * `tidemark run --ui [HOST:]PORT [--ui-token TOKEN]`: the flags, their
 * refusals, and a live query served while files arrive.
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRunArgs } from '../../lib/cli/run.js';
import { parseUiAddress, withUiDefault } from '../../lib/cli/ui-flags.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';
import { browserSkip, launchBrowser, openPage } from '../ui/browser.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC' };
const XSS = '<img src=x onerror=alert(1)>';

function tidemark(args: readonly string[], env: NodeJS.ProcessEnv = ENV): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const RUN = ['--input', 'in', '--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 minute', '--output-mode', 'update', '--console'];

/** Polls `check` until it returns a value, at most `tries` times (a bounded wait). */
async function until<T>(what: string, check: () => Promise<T | null> | T | null, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

t.test('a bare --ui means 127.0.0.1:4040, last or before another flag', async (t) => {
  t.strictSame(withUiDefault(['--ui']), ['--ui=127.0.0.1:4040']);
  t.strictSame(withUiDefault(['--ui', '--console']), ['--ui=127.0.0.1:4040', '--console']);
  t.strictSame(withUiDefault(['--ui', '8080']), ['--ui', '8080']);
  const ui = parseRunArgs([...RUN, '--ui']).ui;
  t.strictSame([ui?.host, ui?.port], ['127.0.0.1', 4040]);
});

t.test('--ui takes PORT, HOST:PORT or [IPv6]:PORT', async (t) => {
  t.strictSame(parseUiAddress('run', '4041'), { host: '127.0.0.1', port: 4041 });
  t.strictSame(parseUiAddress('run', '0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  t.strictSame(parseUiAddress('run', 'localhost:0'), { host: 'localhost', port: 0 });
  t.strictSame(parseUiAddress('run', '[::1]:4040'), { host: '::1', port: 4040 });
  for (const bad of ['', 'host', ':', '4040:host', '99999', '::1:4040', 'a b:1']) {
    t.throws(() => parseUiAddress('run', bad), { name: 'UsageError', message: /^flag --ui needs PORT or HOST:PORT/ }, bad);
  }
});

t.test('the token comes from --ui-token, or else TIDEMARK_UI_TOKEN; --ui-token alone is a usage error', async (t) => {
  t.strictSame(parseRunArgs([...RUN, '--ui', '4040', '--ui-token', 'abc']).ui, { host: '127.0.0.1', port: 4040, token: 'abc' });
  const saved = process.env['TIDEMARK_UI_TOKEN'];
  process.env['TIDEMARK_UI_TOKEN'] = 'from-env';
  t.teardown(() => {
    if (saved === undefined) delete process.env['TIDEMARK_UI_TOKEN'];
    else process.env['TIDEMARK_UI_TOKEN'] = saved;
  });
  t.strictSame(parseRunArgs([...RUN, '--ui', '4040']).ui, { host: '127.0.0.1', port: 4040, token: 'from-env' });
  t.throws(() => parseRunArgs([...RUN, '--ui-token', 'abc']), { name: 'UsageError', message: 'flag --ui-token needs --ui' });
  t.strictSame(parseRunArgs(RUN).ui, null);
});

t.test('tidemark run --ui on a non-loopback address without a token exits 1 with ERR_UI_NEEDS_TOKEN', async (t) => {
  const root = t.testdir({ in: {} });
  const env = { ...ENV };
  delete env['TIDEMARK_UI_TOKEN'];
  const r = await tidemark(['run', ...RUN.map((a) => (a === 'in' ? join(root, 'in') : a)), '--ui', '0.0.0.0:0'], env);
  t.equal(r.code, 1);
  t.match(r.stderr, /^tidemark: The UI would listen on 0\.0\.0\.0, .* \(code ERR_UI_NEEDS_TOKEN\)\n$/);
});

t.test('tidemark run --ui on a port in use exits 1 with ERR_UI_PORT_IN_USE', async (t) => {
  const root = t.testdir({ in: {} });
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as { port: number }).port;
  const r = await tidemark(['run', ...RUN.map((a) => (a === 'in' ? join(root, 'in') : a)), '--ui', `127.0.0.1:${port}`]);
  t.equal(r.code, 1);
  t.match(r.stderr, `the port is in use`);
  t.match(r.stderr, '(code ERR_UI_PORT_IN_USE)');
});

t.test('tidemark run --ui serves a processingTime query while files arrive: /api/queries lists its batches, the page shows it', async (t) => {
  const root = t.testdir({ in: {}, staging: {} });
  const child = spawn(
    process.execPath,
    [
      CLI, 'run',
      '--input', join(root, 'in'),
      '--schema', 'time timestamp, action string',
      '--group-by', 'action', '--window', '1 hour', '--watermark', '2 hours',
      '--output-mode', 'append', '--output', join(root, 'out'), '--checkpoint', join(root, 'chk'),
      '--trigger', 'processingTime=200 milliseconds',
      '--name', XSS,
      '--ui', '127.0.0.1:0', '--ui-token', 'tok',
    ],
    { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const url = await until('the address on stderr', () => /live view at (\S+)\n/.exec(stderr)?.[1] ?? null);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=tok$/);
  const api = new URL('api/queries', url);
  api.search = '';

  // Files arrive one by one while the query runs; each appears whole (renamed into place).
  const lines = [
    ['{"time":0,"action":"Open"}', '{"time":60,"action":"Close"}'],
    ['{"time":7200,"action":"Open"}', '{"time":7260,"action":"Open"}', '{"time":7300,"action":"Click"}'],
    ['{"time":14400,"action":"Close"}'],
  ];
  type Listed = { name: string; state: string; recentProgress: StreamingQueryProgress[] };
  let listed: Listed[] = [];
  let written = 0;
  for (const [i, file] of lines.entries()) {
    await writeFile(join(root, 'staging', `part-${i}.json`), file.join('\n') + '\n');
    await rename(join(root, 'staging', `part-${i}.json`), join(root, 'in', `part-${i}.json`));
    written += file.length;
    listed = await until(`batches reading ${written} rows`, async () => {
      const res = await fetch(api, { headers: { authorization: 'Bearer tok' } });
      const body = (await res.json()) as Listed[];
      const read = body[0]?.recentProgress.reduce((n, p) => n + p.numInputRows, 0) ?? 0;
      return read === written ? body : null;
    });
  }
  t.equal((await fetch(api)).status, 401, 'the API needs the token');
  t.equal(listed.length, 1);
  t.equal(listed[0]!.name, XSS);
  t.equal(listed[0]!.state, 'RUNNING');
  const batches = listed[0]!.recentProgress;
  t.ok(batches.filter((p) => p.numInputRows > 0).length >= 3, 'one batch per file at least');
  t.strictSame(batches.map((p) => p.batchId), batches.map((_, i) => i), 'every batch, in order');

  await t.test('the page shows the query, its name as text, and its latest figures', { skip: browserSkip }, async (t) => {
    const browser = await launchBrowser();
    t.teardown(() => browser.close());
    const { page, watch } = await openPage(browser);
    await page.goto(url);
    await page.locator('#latest-heading[data-batch-id]:not([data-batch-id=""])').waitFor();
    t.equal(await page.locator('#detail-name').textContent(), XSS);
    // Read in one go, so that the figures belong to one rendering; then compared with that batch's progress.
    const shown = (await page.evaluate(`(() => {
      const attr = (selector, name) => document.querySelector(selector)?.getAttribute(name) ?? null;
      return {
        batchId: Number(attr('#latest-heading', 'data-batch-id')),
        points: Number(attr('[data-chart="input-rows"]', 'data-points')),
        numInputRows: attr('[data-metric="numInputRows"] .value', 'data-value'),
        watermark: document.querySelector('[data-metric="watermark"] .value')?.textContent ?? null,
      };
    })()`)) as { batchId: number; points: number; numInputRows: string | null; watermark: string | null };
    const now = (await (await fetch(api, { headers: { authorization: 'Bearer tok' } })).json()) as Listed[];
    const progress = now[0]!.recentProgress.find((p) => p.batchId === shown.batchId)!;
    t.ok(shown.batchId >= batches.at(-1)!.batchId, 'the page is at the latest batch or later');
    t.equal(shown.numInputRows, String(progress.numInputRows));
    t.equal(shown.watermark, progress.eventTime?.['watermark'] === '1970-01-01T00:00:00.000Z' ? '—' : progress.eventTime?.['watermark']);
    t.equal(shown.points, shown.batchId + 1, 'a point per batch');
    t.strictSame(watch.dialogs, []);
  });

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'stopped gracefully');
  await t.rejects(fetch(api), 'the UI stopped with the query');
});

/**
 * The live view's server without a browser: its refusals (coded errors),
 * the token, the loopback Host check, the JSON API and the event stream.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { startQuery, StreamingQueryManager } from '../../lib/query/streaming-query.js';
import { isLoopbackHost, serveUi, type UiServer } from '../../lib/ui/server.js';
import { QueryBoard } from '../../lib/ui/board.js';
import { eventSchema, events, notebookStages } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function ui(t: Test, options: Parameters<typeof serveUi>[0] = {}): Promise<UiServer> {
  const server = await serveUi({ port: 0, manager: new StreamingQueryManager(), ...options });
  t.teardown(() => server.close());
  return server;
}

/** GET with optional headers, by node:http so the Host header can be anything. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const origin = (server: UiServer): string => `http://127.0.0.1:${server.port}`;

t.test('a non-loopback host without a token is refused with ERR_UI_NEEDS_TOKEN, before listening', async (t) => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
    await t.rejects(serveUi({ host, port: 0, manager: new StreamingQueryManager() }), { code: 'ERR_UI_NEEDS_TOKEN', option: 'token' }, host);
  }
});

t.test('a non-loopback host with a token is served', async (t) => {
  const server = await ui(t, { host: '0.0.0.0', token: 's3cret' });
  t.equal(server.url, `http://127.0.0.1:${server.port}/?token=s3cret`);
  t.equal((await get(`${origin(server)}/api/queries`, { authorization: 'Bearer s3cret' })).status, 200);
});

t.test('a second UI on the same port is refused with ERR_UI_PORT_IN_USE naming the port', async (t) => {
  const first = await ui(t);
  await t.rejects(serveUi({ port: first.port, manager: new StreamingQueryManager() }), {
    code: 'ERR_UI_PORT_IN_USE',
    option: 'port',
    message: new RegExp(`127\\.0\\.0\\.1:${first.port}: the port is in use`),
  });
});

t.test('a bad port or an empty token is refused with ERR_INVALID_OPTION', async (t) => {
  await t.rejects(serveUi({ port: 70000 }), { code: 'ERR_INVALID_OPTION', option: 'port' });
  await t.rejects(serveUi({ port: 1.5 }), { code: 'ERR_INVALID_OPTION', option: 'port' });
  await t.rejects(serveUi({ port: 0, token: '' }), { code: 'ERR_INVALID_OPTION', option: 'token' });
});

t.test('loopback addresses are told from others', async (t) => {
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) t.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.example.com', 'example.com', '::2']) t.equal(isLoopbackHost(host), false, host);
});

t.test('with a token, every route refuses a request without it (401) and serves one with it, as a header or ?token=', async (t) => {
  const server = await ui(t, { token: 'tok en/+' });
  const routes = ['/', '/assets/app.js', '/assets/style.css', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css', '/api/queries'];
  for (const route of routes) {
    const refused = await get(`${origin(server)}${route}`);
    t.equal(refused.status, 401, `${route} without token`);
    t.equal(refused.headers['www-authenticate'], 'Bearer realm="tidemark"');
    t.equal((await get(`${origin(server)}${route}`, { authorization: 'Bearer wrong' })).status, 401, `${route} with a wrong token`);
    t.equal((await get(`${origin(server)}${route}`, { authorization: 'Bearer tok en/+' })).status, 200, `${route} with the header`);
    t.equal((await get(`${origin(server)}${route}?token=${encodeURIComponent('tok en/+')}`)).status, 200, `${route} with ?token=`);
  }
  t.equal((await get(`${origin(server)}/api/events`)).status, 401, 'the event stream too');
});

t.test('opened with its token, the page asks for its assets with the token', async (t) => {
  const server = await ui(t, { token: 'a"b<c' });
  const page = await get(server.url);
  t.equal(page.status, 200);
  t.match(page.body, 'src="assets/app.js?token=a%22b%3Cc"');
  t.match(page.body, 'href="assets/style.css?token=a%22b%3Cc"');
  t.notMatch(page.body, '{{TOKEN_QUERY}}');
});

t.test('without a token, the page and its assets are served with a CSP allowing only its own scripts', async (t) => {
  const server = await ui(t);
  t.equal(server.url, `http://127.0.0.1:${server.port}/`);
  const page = await get(server.url);
  t.equal(page.status, 200);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self';/);
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.notMatch(page.body, '?token=');
  const uplot = await get(`${origin(server)}/assets/uPlot.iife.min.js`);
  t.equal(uplot.status, 200);
  t.match(uplot.body, 'uPlot');
});

t.test('on loopback, a request naming another host is refused (DNS rebinding)', async (t) => {
  const server = await ui(t);
  const refused = await get(`${origin(server)}/api/queries`, { host: `attacker.example:${server.port}` });
  t.equal(refused.status, 403);
  for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
    t.equal((await get(`${origin(server)}/api/queries`, { host })).status, 200, host);
  }
});

t.test('the UI is read-only: other methods than GET and HEAD get 405', async (t) => {
  const server = await ui(t);
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await get(`${origin(server)}/api/queries`, {}, method);
    t.equal(res.status, 405, method);
    t.equal(res.headers['allow'], 'GET, HEAD');
  }
});

t.test('an unknown path is 404, and so is an unknown query', async (t) => {
  const server = await ui(t);
  t.equal((await get(`${origin(server)}/nope`)).status, 404);
  t.equal((await get(`${origin(server)}/api/queries/00000000-0000-0000-0000-000000000000`)).status, 404);
  t.equal((await get(`${origin(server)}/assets/../package.json`)).status, 404);
});

t.test('GET /api/queries lists a running query with its id, name, status and recentProgress as the query reports them', async (t) => {
  const manager = new StreamingQueryManager();
  const server = await ui(t, { manager });
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ name: 'clicks', source, stages: notebookStages(), sink: new MemorySink(), manager, trigger: 'processingTime=50 milliseconds' });
  t.teardown(() => query.stop());
  source.addData(events([1, 'Open'], [2, 'Close']));
  await query.processAllAvailable();
  source.addData(events([30, 'Open']));
  await query.processAllAvailable();
  const listed = JSON.parse((await get(`${origin(server)}/api/queries`)).body) as Array<Record<string, unknown>>;
  t.equal(listed.length, 1);
  const q = listed[0]!;
  t.equal(q['id'], query.id);
  t.equal(q['runId'], query.runId);
  t.equal(q['name'], 'clicks');
  t.equal(q['state'], 'RUNNING');
  t.strictSame(q['status'], JSON.parse(JSON.stringify(query.status)));
  t.strictSame(q['recentProgress'], JSON.parse(JSON.stringify(query.recentProgress)));
  t.ok((q['recentProgress'] as unknown[]).length >= 2, 'one entry per committed batch');
});

t.test('GET /api/queries/<runId> adds the plan and the latest output rows, cells as show() prints them', async (t) => {
  const manager = new StreamingQueryManager();
  const server = await ui(t, { manager, timeZone: 'UTC' });
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ name: 'counts', source, stages: notebookStages(), sink: new MemorySink(), manager, outputMode: 'update' });
  t.teardown(() => query.stop());
  source.addData(events([1, 'Open'], [2, 'Open']));
  await query.processAllAvailable();
  const detail = JSON.parse((await get(`${origin(server)}/api/queries/${query.runId}`)).body) as Record<string, unknown>;
  t.equal(detail['plan'], query.explain());
  t.strictSame(detail['output'], { columns: ['action', 'window', 'count'], rows: [['Open', '{1970-01-01 00:00:00, 1970-01-01 00:00:05}', '2']] });
  const byId = JSON.parse((await get(`${origin(server)}/api/queries/${query.id}`)).body) as Record<string, unknown>;
  t.equal(byId['runId'], query.runId, 'the query id finds its latest run');
});

t.test('a stopped query stays listed as FINISHED, a failed one as FAILED with its error', async (t) => {
  const manager = new StreamingQueryManager();
  const server = await ui(t, { manager });
  const stopped = await startQuery({ name: 'stopped', source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager });
  await stopped.stop();
  const source = new MemorySource({ schema: eventSchema });
  const failing = await startQuery({
    name: 'failing',
    source,
    stages: [mapRows(() => { throw new Error('bad row <b>'); })],
    sink: new MemorySink(),
    manager,
  });
  source.addData(events([1, 'Open']));
  await failing.awaitTermination().catch(() => undefined);
  const listed = JSON.parse((await get(`${origin(server)}/api/queries`)).body) as Array<Record<string, unknown>>;
  t.strictSame(listed.map((q) => [q['name'], q['state']]), [['stopped', 'FINISHED'], ['failing', 'FAILED']]);
  t.match(String(listed[1]!['exception']), 'bad row <b>');
  t.type(listed[0]!['endedAtMs'], 'number');
});

t.test('queries already active when the UI starts are listed too', async (t) => {
  const manager = new StreamingQueryManager();
  const query = await startQuery({ name: 'early', source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager });
  t.teardown(() => query.stop());
  const server = await ui(t, { manager });
  const listed = JSON.parse((await get(`${origin(server)}/api/queries`)).body) as Array<Record<string, unknown>>;
  t.strictSame(listed.map((q) => q['name']), ['early']);
});

t.test('the event stream sends a snapshot, then a progress event per committed batch, then terminated', async (t) => {
  const manager = new StreamingQueryManager();
  const server = await ui(t, { manager });
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({ name: 'live', source, stages: notebookStages(), sink: new MemorySink(), manager });
  const seen: Array<{ event: string; data: Record<string, unknown> }> = [];
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const response = await fetch(`${origin(server)}/api/events`, { signal: controller.signal });
  t.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body!) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(message)?.[1];
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (event !== undefined && data !== undefined) seen.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        if (event === 'terminated') return;
      }
    }
  })();
  // The snapshot comes first, so the batches below cannot be missed.
  while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  source.addData(events([1, 'Open']));
  await query.processAllAvailable();
  await query.stop();
  await reading;
  t.strictSame(seen.map((s) => s.event), ['snapshot', ...query.recentProgress.map(() => 'progress'), 'terminated']);
  const snapshot = seen[0]!.data as { queries: Array<{ name: string }> };
  t.strictSame(snapshot.queries.map((q) => q.name), ['live']);
  t.strictSame(seen.filter((s) => s.event === 'progress').map((s) => s.data['progress']), JSON.parse(JSON.stringify(query.recentProgress)));
  t.equal(seen.at(-1)!.data['state'], 'FINISHED');
});

t.test('close() ends the live connections and stops listening; a second close is harmless', async (t) => {
  const server = await serveUi({ port: 0, manager: new StreamingQueryManager() });
  const response = await fetch(`http://127.0.0.1:${server.port}/api/events`);
  const reader = response.body!.getReader();
  await reader.read();
  await server.close();
  await server.close();
  let done = false;
  while (!done) done = (await reader.read()).done;
  t.ok(done, 'the stream ended');
  await t.rejects(fetch(`http://127.0.0.1:${server.port}/api/queries`));
});

t.test('the board keeps at most 100 finished runs, forgetting the oldest', async (t) => {
  const manager = new StreamingQueryManager();
  const board = new QueryBoard(manager, { timeZone: 'UTC' });
  t.teardown(() => board.close());
  for (let i = 0; i < 102; i++) {
    const query = await startQuery({ name: `q${i}`, source: new MemorySource({ schema: eventSchema }), sink: new MemorySink(), manager });
    await query.stop();
  }
  const names = board.list().map((q) => q.name);
  t.equal(names.length, 100);
  t.strictSame(names.slice(0, 2), ['q2', 'q3']);
});

t.test('npm pack ships the page: ui/index.html, ui/app.js, ui/style.css and dist/ui', async (t) => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, maxBuffer: 16 << 20 });
  const files = new Set((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  for (const path of ['ui/index.html', 'ui/app.js', 'ui/style.css', 'dist/ui/server.js', 'dist/ui/board.js']) t.ok(files.has(path), path);
  t.notOk(files.has('ui/types.d.ts'), 'the page types stay in the repository');
});

/**
 * The live view in a real browser (headless Chromium): a running query's
 * figures as its progress JSON has them, charts that grow batch by batch,
 * strings from queries shown as text, the token carried by the page.
 *
 * Every wait is bounded (the page's default timeout); none measures time.
 */
import t, { type Test } from 'tap';
import type { Browser, Page } from 'playwright-core';
import { MemorySource } from '../../lib/sources/memory-source.js';
import { MemorySink } from '../../lib/sinks/memory-sink.js';
import { mapRows } from '../../lib/stages/row-stages.js';
import { ParseSchema } from '../../lib/stages/parse-schema.js';
import { startQuery, StreamingQueryManager, type StreamingQuery } from '../../lib/query/streaming-query.js';
import type { StreamingQueryProgress } from '../../lib/query/progress.js';
import { serveUi, type UiServer } from '../../lib/ui/server.js';
import { eventSchema, events, notebookStages } from '../helpers.js';
import { browserSkip, launchBrowser, openPage, waitForBatch, type PageWatch } from './browser.js';

const XSS = '<img src=x onerror=alert(1)>';

let browser: Promise<Browser> | null = null;
function sharedBrowser(): Promise<Browser> {
  browser ??= launchBrowser();
  return browser;
}
t.teardown(async () => {
  if (browser !== null) await (await browser).close();
});

interface Live {
  readonly manager: StreamingQueryManager;
  readonly server: UiServer;
  readonly source: MemorySource;
  readonly query: StreamingQuery;
  readonly page: Page;
  readonly watch: PageWatch;
}

/** A UI, a running notebook query (processingTime trigger) and the page open on it. */
async function live(t: Test, options: { name?: string; token?: string } = {}): Promise<Live> {
  const manager = new StreamingQueryManager();
  const server = await serveUi({ manager, port: 0, timeZone: 'UTC', ...(options.token === undefined ? {} : { token: options.token }) });
  t.teardown(() => server.close());
  const source = new MemorySource({ schema: eventSchema });
  const query = await startQuery({
    name: options.name ?? 'clicks',
    source,
    stages: notebookStages({ delay: '10 seconds' }),
    sink: new MemorySink(),
    outputMode: 'update',
    trigger: 'processingTime=100 milliseconds',
    manager,
  });
  t.teardown(() => query.stop());
  const { page, watch } = await openPage(await sharedBrowser());
  t.teardown(() => page.close());
  await page.goto(server.url);
  return { manager, server, source, query, page, watch };
}

/** Feeds rows and waits until the query committed them and the page shows that batch. */
async function feed(l: Live, rows: ReturnType<typeof events>): Promise<StreamingQueryProgress> {
  l.source.addData(rows);
  await l.query.processAllAvailable();
  const last = l.query.lastProgress!;
  await waitForBatch(l.page, last.batchId);
  return last;
}

const tileValue = (page: Page, metric: string) => page.locator(`[data-metric="${metric}"] .value`);
const integer = (n: number): string => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const rate = (n: number): string => new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(n);

t.test('the page lists a running query and shows its latest figures as the progress JSON has them', { skip: browserSkip }, async (t) => {
  const l = await live(t);
  await feed(l, events([20, 'Open'], [21, 'Close']));
  // The watermark is now 11 s: the row at 5 s is late. Nothing passes 21 s, so the watermark stays and no no-data batch follows.
  const p = await feed(l, events([18, 'Open'], [19, 'Click'], [5, 'Open']));
  t.equal(p.numInputRows, 3, 'the latest batch is the one with the rows');
  const row = l.page.locator(`#active-queries tr[data-run-id="${l.query.runId}"]`);
  t.equal(await row.locator('td').nth(0).textContent(), 'clicks');
  t.equal(await row.locator('td').nth(1).textContent(), 'RUNNING');
  t.equal(await row.locator('td').nth(2).textContent(), l.query.id);
  t.equal(await row.locator('td').nth(8).textContent(), String(p.batchId), 'latest batch');
  const state = p.stateOperators[0]!;
  const expected: Array<[string, number, string]> = [
    ['numInputRows', p.numInputRows, integer(p.numInputRows)],
    ['inputRowsPerSecond', p.inputRowsPerSecond, rate(p.inputRowsPerSecond)],
    ['processedRowsPerSecond', p.processedRowsPerSecond, rate(p.processedRowsPerSecond)],
    ['batchDuration', p.batchDuration, `${integer(p.batchDuration)} ms`],
    ['numOutputRows', p.sink.numOutputRows, integer(p.sink.numOutputRows)],
    ['numRowsTotal', state['numRowsTotal'] as number, integer(state['numRowsTotal'] as number)],
    ['numRowsDroppedByWatermark', state['numRowsDroppedByWatermark'] as number, integer(state['numRowsDroppedByWatermark'] as number)],
    ['eventTimeLag', Date.parse(p.eventTime!['max']!) - Date.parse(p.eventTime!['watermark']!), '8.0 s'],
  ];
  for (const [metric, value, text] of expected) {
    t.equal(await tileValue(l.page, metric).getAttribute('data-value'), String(value), `${metric} value`);
    t.equal(await tileValue(l.page, metric).textContent(), text, `${metric} as shown`);
  }
  t.equal(await tileValue(l.page, 'watermark').textContent(), p.eventTime!['watermark']);
  t.equal(state['numRowsDroppedByWatermark'], 1, 'the late row was dropped');
  for (const [key, ms] of Object.entries(p.durationMs)) {
    t.equal(await l.page.locator(`[data-duration="${key}"] b`).textContent(), `${integer(ms)} ms`, `durationMs.${key}`);
  }
  t.equal(await l.page.locator('#plan').textContent(), l.query.explain());
  t.strictSame(
    await l.page.locator('#output tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))),
    [
      ['Open', '{1970-01-01 00:00:15, 1970-01-01 00:00:20}', '1'],
      ['Click', '{1970-01-01 00:00:15, 1970-01-01 00:00:20}', '1'],
    ],
    'the latest output rows, as show() prints them',
  );
  t.strictSame(l.watch.errors, []);
});

t.test('the charts gain a point for every committed batch', { skip: browserSkip }, async (t) => {
  const l = await live(t);
  const points = async (): Promise<number> => Number(await l.page.locator('[data-chart="input-rows"]').getAttribute('data-points'));
  await feed(l, events([1, 'Open']));
  const before = await points();
  t.equal(before, l.query.recentProgress.length);
  await feed(l, events([20, 'Open']));
  await feed(l, events([21, 'Close']));
  const after = await points();
  t.equal(after, l.query.recentProgress.length);
  t.ok(after >= before + 2, `${before} points, then ${after}`);
  for (const chart of ['input-rate', 'process-rate', 'batch-duration', 'operation-duration', 'state-rows', 'event-time-lag', 'late-rows']) {
    t.equal(await l.page.locator(`[data-chart="${chart}"]`).getAttribute('data-points'), String(after), chart);
  }
  t.equal(await l.page.locator('[data-chart="malformed-rows"]').count(), 0, 'no chart of a figure the query does not report');
});

t.test('state memory and malformed rows show as the progress reports them', { skip: browserSkip }, async (t) => {
  const manager = new StreamingQueryManager();
  const server = await serveUi({ manager, port: 0, timeZone: 'UTC' });
  t.teardown(() => server.close());
  const source = new MemorySource({ schema: 'value string' });
  const query = await startQuery({
    name: 'parsed',
    source,
    stages: [new ParseSchema({ schema: 'time timestamp, action string', timeZone: 'UTC' }), ...notebookStages({ delay: '10 seconds' })],
    sink: new MemorySink(),
    outputMode: 'update',
    trigger: 'processingTime=100 milliseconds',
    manager,
  });
  t.teardown(() => query.stop());
  const { page } = await openPage(await sharedBrowser());
  t.teardown(() => page.close());
  await page.goto(server.url);
  source.addData([{ value: '{"time":1,"action":"Open"}' }, { value: 'not json' }, { value: '{"time":"x","action":"Open"}' }, { value: '{"time":2,"action":"Close"}' }]);
  await query.processAllAvailable();
  const p = query.lastProgress!;
  await waitForBatch(page, p.batchId);
  t.equal(p.sources[0]!.metrics['numMalformedRecords'], '2');
  t.equal(await tileValue(page, 'numMalformedRecords').textContent(), '2');
  const memory = p.stateOperators[0]!['memoryUsedBytes'] as number;
  t.ok(memory > 0, `state memory is reported (${memory} bytes)`);
  t.equal(await tileValue(page, 'memoryUsedBytes').getAttribute('data-value'), String(memory));
  t.equal(await page.locator('[data-chart="malformed-rows"]').count(), 1);
});

t.test(`a query named ${XSS} renders as text, as do its output cells and its error; no dialog fires`, { skip: browserSkip }, async (t) => {
  const manager = new StreamingQueryManager();
  const server = await serveUi({ manager, port: 0 });
  t.teardown(() => server.close());
  const source = new MemorySource({ schema: eventSchema });
  let fail = false;
  const query = await startQuery({
    name: XSS,
    source,
    stages: [mapRows((row) => {
      if (fail) throw new Error(`cannot read <img src=y onerror=alert(2)>`);
      return row;
    })],
    sink: new MemorySink(),
    manager,
    trigger: 'processingTime=100 milliseconds',
  });
  const { page, watch } = await openPage(await sharedBrowser());
  t.teardown(() => page.close());
  await page.goto(server.url);
  source.addData(events([1, '<script>alert(3)</script>']));
  await query.processAllAvailable();
  await waitForBatch(page, query.lastProgress!.batchId);
  t.equal(await page.locator('#detail-name').textContent(), XSS);
  t.equal(await page.locator(`tr[data-run-id="${query.runId}"] td`).first().textContent(), XSS);
  t.equal(await page.locator('#output tbody td').nth(1).textContent(), '<script>alert(3)</script>');
  fail = true;
  source.addData(events([2, 'Open']));
  await query.awaitTermination().catch(() => undefined);
  await page.locator('#detail-state[data-state="FAILED"]').waitFor();
  t.match(await page.locator('#summary dd.error').textContent(), 'cannot read <img src=y onerror=alert(2)>');
  t.match(await page.locator(`#finished-queries tr[data-run-id="${query.runId}"] td.error`).textContent(), '<img src=y onerror=alert(2)>');
  t.equal(await page.locator('main img, main script').count(), 0, 'no element came from the data');
  t.strictSame(watch.dialogs, []);
  t.strictSame(watch.errors, []);
});

t.test('opened with its token, the page loads its assets and goes live', { skip: browserSkip }, async (t) => {
  const l = await live(t, { token: 'open sesame' });
  t.match(l.server.url, '?token=open%20sesame');
  await feed(l, events([1, 'Open']));
  t.equal(await l.page.locator('#connection').getAttribute('data-state'), 'live');
  t.equal(await l.page.evaluate('typeof uPlot'), 'function', 'uPlot loaded with the token');
  t.ok(Number(await l.page.locator('[data-chart="input-rows"]').getAttribute('data-points')) > 0, 'a chart drawn');
  t.strictSame(l.watch.errors, []);
});

t.test('opened without the token, the page is refused', { skip: browserSkip }, async (t) => {
  const manager = new StreamingQueryManager();
  const server = await serveUi({ manager, port: 0, token: 'open sesame' });
  t.teardown(() => server.close());
  const { page } = await openPage(await sharedBrowser());
  t.teardown(() => page.close());
  const response = await page.goto(`http://127.0.0.1:${server.port}/`);
  t.equal(response?.status(), 401);
});

t.test('a query that stops moves to the completed list, with its batches', { skip: browserSkip }, async (t) => {
  const l = await live(t);
  const p = await feed(l, events([1, 'Open']));
  await l.query.stop();
  const row = l.page.locator(`#finished-queries tr[data-run-id="${l.query.runId}"]`);
  await row.waitFor();
  t.equal(await row.locator('td').nth(1).textContent(), 'FINISHED');
  t.equal(await row.locator('td').nth(8).textContent(), String(l.query.lastProgress!.batchId));
  t.ok(l.query.lastProgress!.batchId >= p.batchId);
  t.equal(await l.page.locator('#active-queries tr[data-run-id]').count(), 0);
});

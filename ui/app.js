// @ts-check
/**
 * The live view's page: keeps every run the server reports (Server-Sent
 * Events from `api/events`) and draws the lists, the selected query's latest
 * figures, its charts (uPlot), output rows and plan.
 *
 * Every string from the server (query names, errors, output cells, the plan)
 * goes into the page through `textContent` or an attribute set by
 * `setAttribute`, never as markup: a query named `<img src=x onerror=…>`
 * shows as those characters.
 */

/** @typedef {import('./types.js').QueryDetail} QueryDetail */
/** @typedef {import('./types.js').Progress} Progress */

/** Progress entries kept per run, as the server's `recentProgress`. */
const RECENT_PROGRESS_LIMIT = 100;

const token = new URLSearchParams(location.search).get('token');
/** @param {string} path */
const withToken = (path) => (token === null ? path : `${path}?token=${encodeURIComponent(token)}`);

/** @type {Map<string, QueryDetail>} runs by run id, in start order */
const runs = new Map();
/** Server clock − this clock, so uptimes use the server's time. */
let clockOffsetMs = 0;
/** @type {string | null} */
let selectedRunId = null;

// ---------------------------------------------------------------------------
// Figures of one progress report. null = not reported.

/** @param {Progress} p */
const stateOps = (p) => (Array.isArray(p.stateOperators) ? p.stateOperators : []);

/**
 * Sum of a numeric field over the state operators, or null when no operator reports it.
 * @param {Progress} p
 * @param {string} field
 */
function stateSum(p, field) {
  let sum = null;
  for (const op of stateOps(p)) {
    const v = op[field];
    if (typeof v === 'number') sum = (sum ?? 0) + v;
  }
  return sum;
}

/** @param {string | undefined} iso */
function epochMs(iso) {
  if (typeof iso !== 'string') return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** Spark leaves the watermark at the epoch until the first batch with event times moves it. @param {Progress} p */
function watermarkMs(p) {
  const ms = epochMs(p.eventTime?.watermark);
  return ms === null || ms === 0 ? null : ms;
}

/** max event time of the batch − watermark. @param {Progress} p */
function eventTimeLagMs(p) {
  const max = epochMs(p.eventTime?.max);
  const wm = watermarkMs(p);
  return max === null || wm === null ? null : max - wm;
}

/** @param {Progress} p */
function malformedRows(p) {
  const v = p.sources?.[0]?.metrics?.numMalformedRecords;
  if (v === undefined || v === null) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** @param {unknown} v */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// ---------------------------------------------------------------------------
// Formatting.

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const rateFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** @param {number} n */
const fmtInt = (n) => integerFormat.format(n);
/** @param {number} n */
const fmtRate = (n) => rateFormat.format(n);
/** @param {number} n */
const fmtMs = (n) => `${fmtInt(n)} ms`;

/** @param {number} bytes */
function fmtBytes(bytes) {
  if (Math.abs(bytes) < 1024) return `${fmtInt(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A span of time, coarse: `850 ms`, `12.5 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. @param {number} ms */
function fmtDuration(ms) {
  const sign = ms < 0 ? '−' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)} s`;
  const s = Math.floor(a / 1000);
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${sign}${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${sign}${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** Local time, `YYYY-MM-DD HH:MM:SS`. @param {number} ms */
function fmtTime(ms) {
  const d = new Date(ms);
  /** @param {number} n */
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

// ---------------------------------------------------------------------------
// What the tiles and charts show.

/**
 * @typedef {object} Metric
 * @property {string} id
 * @property {string} label
 * @property {(p: Progress) => number | string | null} value
 * @property {(v: any) => string} format
 */

/** @type {Metric[]} */
const TILES = [
  { id: 'inputRowsPerSecond', label: 'Input rate (rows/s)', value: (p) => num(p.inputRowsPerSecond), format: fmtRate },
  { id: 'processedRowsPerSecond', label: 'Process rate (rows/s)', value: (p) => num(p.processedRowsPerSecond), format: fmtRate },
  { id: 'numInputRows', label: 'Input rows', value: (p) => num(p.numInputRows), format: fmtInt },
  { id: 'batchDuration', label: 'Batch duration', value: (p) => num(p.batchDuration), format: fmtMs },
  { id: 'numOutputRows', label: 'Output rows', value: (p) => num(p.sink?.numOutputRows), format: fmtInt },
  { id: 'numRowsTotal', label: 'State rows', value: (p) => stateSum(p, 'numRowsTotal'), format: fmtInt },
  { id: 'memoryUsedBytes', label: 'State memory', value: (p) => stateSum(p, 'memoryUsedBytes'), format: fmtBytes },
  { id: 'watermark', label: 'Watermark', value: (p) => (watermarkMs(p) === null ? null : p.eventTime?.watermark ?? null), format: String },
  { id: 'eventTimeLag', label: 'Event-time lag (max − watermark)', value: eventTimeLagMs, format: fmtDuration },
  { id: 'numRowsDroppedByWatermark', label: 'Late rows dropped', value: (p) => stateSum(p, 'numRowsDroppedByWatermark'), format: fmtInt },
  { id: 'numMalformedRecords', label: 'Malformed rows', value: malformedRows, format: fmtInt },
];

/** Spark's order of the `durationMs` keys; others follow, sorted. */
const DURATION_ORDER = ['addBatch', 'getBatch', 'latestOffset', 'queryPlanning', 'walCommit', 'commitOffsets'];

/**
 * @typedef {object} ChartSpec
 * @property {string} id
 * @property {string} title
 * @property {(v: number) => string} format
 * @property {(progress: Progress[]) => Array<[string, (p: Progress) => number | null]>} series
 */

/** @type {ChartSpec[]} */
const CHARTS = [
  // Two charts, as Spark's tab draws them: a process rate far above the input rate would flatten it.
  { id: 'input-rate', title: 'Input rate (rows/s)', format: fmtRate, series: () => [['Input rate', (p) => num(p.inputRowsPerSecond)]] },
  { id: 'process-rate', title: 'Process rate (rows/s)', format: fmtRate, series: () => [['Process rate', (p) => num(p.processedRowsPerSecond)]] },
  { id: 'input-rows', title: 'Input rows per batch', format: fmtInt, series: () => [['Input rows', (p) => num(p.numInputRows)]] },
  { id: 'batch-duration', title: 'Batch duration (ms)', format: fmtInt, series: () => [['Batch duration', (p) => num(p.batchDuration)]] },
  {
    id: 'operation-duration',
    title: 'Operation duration (ms), durationMs',
    format: fmtInt,
    series: (progress) => {
      const keys = new Set();
      for (const p of progress) for (const k of Object.keys(p.durationMs ?? {})) if (k !== 'triggerExecution') keys.add(k);
      const ordered = [...DURATION_ORDER.filter((k) => keys.has(k)), ...[...keys].filter((k) => !DURATION_ORDER.includes(k)).sort()];
      return ordered.map((k) => [k, (p) => num(p.durationMs?.[k])]);
    },
  },
  { id: 'state-rows', title: 'State rows (all operators)', format: fmtInt, series: () => [['State rows', (p) => stateSum(p, 'numRowsTotal')]] },
  { id: 'state-memory', title: 'State memory used', format: fmtBytes, series: () => [['State memory', (p) => stateSum(p, 'memoryUsedBytes')]] },
  {
    id: 'event-time-lag',
    title: 'Event-time lag: max event time − watermark (s)',
    format: (v) => rateFormat.format(v),
    series: () => [['Lag (s)', (p) => { const lag = eventTimeLagMs(p); return lag === null ? null : lag / 1000; }]],
  },
  { id: 'late-rows', title: 'Late rows dropped by the watermark', format: fmtInt, series: () => [['Late rows', (p) => stateSum(p, 'numRowsDroppedByWatermark')]] },
  { id: 'malformed-rows', title: 'Malformed rows', format: fmtInt, series: () => [['Malformed rows', malformedRows]] },
];

const SERIES_COLOURS = ['#1f6feb', '#d9480f', '#2f9e44', '#ae3ec9', '#f59f00', '#0c8599', '#e64980'];

// ---------------------------------------------------------------------------
// DOM helpers: text only.

/**
 * @param {string} tag
 * @param {{ text?: string, cls?: string, title?: string, attrs?: Record<string, string> }} [o]
 */
function el(tag, o = {}) {
  const node = document.createElement(tag);
  if (o.text !== undefined) node.textContent = o.text;
  if (o.cls !== undefined) node.className = o.cls;
  if (o.title !== undefined) node.title = o.title;
  for (const [k, v] of Object.entries(o.attrs ?? {})) node.setAttribute(k, v);
  return node;
}

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`page has no #${id}`);
  return node;
}

/** @param {QueryDetail} run */
const lastProgress = (run) => (run.recentProgress.length === 0 ? null : run.recentProgress[run.recentProgress.length - 1]);

/** @param {QueryDetail} run */
function uptimeMs(run) {
  const end = run.endedAtMs ?? Date.now() + clockOffsetMs;
  return Math.max(0, end - run.startedAtMs);
}

/** @param {QueryDetail} run @param {'inputRowsPerSecond' | 'processedRowsPerSecond'} field */
function average(run, field) {
  const values = run.recentProgress.map((p) => num(p[field])).filter((v) => v !== null);
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

// ---------------------------------------------------------------------------
// Lists.

/** @param {QueryDetail} run */
function listRow(run) {
  const tr = el('tr', { attrs: { 'data-run-id': run.runId } });
  if (run.runId === selectedRunId) tr.className = 'selected';
  const nameCell = el('td', { cls: 'name-cell' });
  const link = el('a', { text: run.name ?? '(unnamed)' });
  link.setAttribute('href', `#run=${encodeURIComponent(run.runId)}`);
  nameCell.append(link);
  const last = lastProgress(run);
  const avgIn = average(run, 'inputRowsPerSecond');
  const avgOut = average(run, 'processedRowsPerSecond');
  tr.append(
    nameCell,
    el('td', { text: run.state, cls: 'status' }),
    el('td', { text: run.id, cls: 'mono' }),
    el('td', { text: run.runId, cls: 'mono' }),
    el('td', { text: fmtTime(run.startedAtMs) }),
    el('td', { text: fmtDuration(uptimeMs(run)), cls: 'num uptime' }),
    el('td', { text: avgIn === null ? '—' : fmtRate(avgIn), cls: 'num' }),
    el('td', { text: avgOut === null ? '—' : fmtRate(avgOut), cls: 'num' }),
    el('td', { text: last === null ? '—' : String(last.batchId), cls: 'num latest-batch' }),
    el('td', { text: run.exception ?? '', cls: 'error', title: run.exception ?? '' }),
  );
  return tr;
}

/** @param {string} text */
function noneRow(text) {
  const tr = el('tr', { cls: 'none' });
  const td = el('td', { text });
  td.setAttribute('colspan', '10');
  tr.append(td);
  return tr;
}

function renderLists() {
  const all = [...runs.values()];
  const active = all.filter((r) => r.state === 'RUNNING');
  const finished = all.filter((r) => r.state !== 'RUNNING').reverse();
  byId('active-count').textContent = String(active.length);
  byId('finished-count').textContent = String(finished.length);
  const activeBody = /** @type {HTMLTableElement} */ (byId('active-queries')).tBodies[0];
  const finishedBody = /** @type {HTMLTableElement} */ (byId('finished-queries')).tBodies[0];
  activeBody?.replaceChildren(...(active.length === 0 ? [noneRow('No active query')] : active.map(listRow)));
  finishedBody?.replaceChildren(...(finished.length === 0 ? [noneRow('No completed query')] : finished.map(listRow)));
  byId('empty').hidden = all.length > 0;
}

// ---------------------------------------------------------------------------
// The selected query.

function chooseRun() {
  const fromHash = /^#run=(.+)$/.exec(location.hash);
  const wanted = fromHash === null ? null : decodeURIComponent(fromHash[1] ?? '');
  if (wanted !== null && runs.has(wanted)) return wanted;
  if (selectedRunId !== null && runs.has(selectedRunId)) return selectedRunId;
  const all = [...runs.values()];
  return (all.find((r) => r.state === 'RUNNING') ?? all[all.length - 1])?.runId ?? null;
}

/** @param {QueryDetail} run */
function renderSummary(run) {
  const dl = byId('summary');
  const last = lastProgress(run);
  /** @type {Array<[string, string, string?]>} */
  const items = [
    ['ID', run.id],
    ['Run ID', run.runId],
    ['Status', `${run.state}: ${run.status.message}`],
    ['Started', fmtTime(run.startedAtMs)],
    [run.endedAtMs === null ? 'Uptime' : 'Duration', fmtDuration(uptimeMs(run))],
    ['Latest batch', last === null ? '—' : String(last.batchId)],
    ['Batches shown', String(run.recentProgress.length)],
  ];
  if (run.exception !== null) items.push(['Error', run.exception, 'error']);
  dl.replaceChildren(...items.flatMap(([k, v, cls]) => [el('dt', { text: k }), el('dd', cls === undefined ? { text: v } : { text: v, cls })]));
}

/** @param {Progress | null} p */
function renderTiles(p) {
  const heading = byId('latest-heading');
  heading.textContent = p === null ? 'Latest batch: none yet' : `Latest batch: ${p.batchId}, ${p.timestamp}`;
  heading.setAttribute('data-batch-id', p === null ? '' : String(p.batchId));
  byId('tiles').replaceChildren(
    ...TILES.map((m) => {
      const v = p === null ? null : m.value(p);
      const tile = el('div', { cls: 'tile', attrs: { 'data-metric': m.id } });
      const value = el('div', { cls: m.id === 'watermark' ? 'value small' : 'value', text: v === null ? '—' : m.format(v) });
      if (v === null) tile.setAttribute('data-missing', '');
      else value.setAttribute('data-value', String(v));
      tile.append(el('div', { cls: 'label', text: m.label }), value);
      if (v === null) tile.title = 'not reported by this query';
      return tile;
    }),
  );
  const durations = byId('durations');
  const entries = p === null ? [] : Object.entries(p.durationMs ?? {});
  durations.replaceChildren(
    ...(entries.length === 0 ? [] : [el('span', { text: 'durationMs:' })]),
    ...entries.map(([k, v]) => {
      const span = el('span', { attrs: { 'data-duration': k } });
      span.append(`${k} `, el('b', { text: fmtMs(Number(v)) }));
      return span;
    }),
  );
}

/** @typedef {{ spec: ChartSpec, key: string, plot: any, box: HTMLElement }} LiveChart */
/** @type {Map<string, LiveChart>} */
const charts = new Map();
/** @type {string | null} */
let chartsRunId = null;

function destroyCharts() {
  for (const c of charts.values()) c.plot.destroy();
  charts.clear();
  byId('charts').replaceChildren();
}

/** @param {QueryDetail} run */
function renderCharts(run) {
  if (chartsRunId !== run.runId) {
    destroyCharts();
    chartsRunId = run.runId;
  }
  const progress = run.recentProgress;
  const xs = progress.map((p) => (epochMs(p.timestamp) ?? 0) / 1000);
  const container = byId('charts');
  for (const spec of CHARTS) {
    const series = spec.series(progress);
    const columns = series.map(([, f]) => progress.map((p) => f(p)));
    const shown = columns.some((col) => col.some((v) => v !== null));
    const key = series.map(([label]) => label).join('\u0000');
    let chart = charts.get(spec.id);
    if (!shown || (chart !== undefined && chart.key !== key)) {
      chart?.plot.destroy();
      chart?.box.remove();
      charts.delete(spec.id);
      chart = undefined;
      if (!shown) continue;
    }
    /** @type {any[]} */
    const data = [xs, ...columns];
    if (chart === undefined) {
      const box = el('div', { cls: 'chart', attrs: { 'data-chart': spec.id } });
      const plotBox = el('div', { cls: 'plot' });
      box.append(el('h4', { text: spec.title }), plotBox);
      // Keep the charts in CHARTS order whatever order they appear in.
      const next = CHARTS.slice(CHARTS.indexOf(spec) + 1).map((s) => charts.get(s.id)?.box).find((b) => b !== undefined);
      container.insertBefore(box, next ?? null);
      const width = Math.max(300, plotBox.clientWidth || 460);
      const format = spec.format;
      const plot = new uPlot(
        {
          width,
          height: 180,
          legend: { live: true },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          axes: [{}, { values: (/** @type {any} */ _u, /** @type {number[]} */ ticks) => ticks.map((v) => format(v)), size: 70 }],
          series: [
            {},
            ...series.map(([label], i) => ({
              label,
              stroke: SERIES_COLOURS[i % SERIES_COLOURS.length],
              width: 1.5,
              points: { show: true, size: 4 },
              spanGaps: false,
              value: (/** @type {any} */ _u, /** @type {number | null} */ v) => (v === null || v === undefined ? '—' : format(v)),
            })),
          ],
        },
        data,
        plotBox,
      );
      chart = { spec, key, plot, box };
      charts.set(spec.id, chart);
    } else {
      chart.plot.setData(data);
    }
    chart.box.setAttribute('data-points', String(xs.length));
  }
}

/** @param {QueryDetail} run */
function renderOutput(run) {
  const table = /** @type {HTMLTableElement} */ (byId('output'));
  const { columns, rows } = run.output;
  const head = el('tr');
  head.append(...columns.map((c) => el('th', { text: c })));
  table.tHead?.replaceChildren(...(columns.length === 0 ? [] : [head]));
  table.tBodies[0]?.replaceChildren(
    ...rows.map((row) => {
      const tr = el('tr');
      tr.append(...row.map((cell) => el('td', { text: cell, title: cell })));
      return tr;
    }),
  );
  byId('output-note').textContent = rows.length === 0 ? '(none yet)' : `(${rows.length} rows of the last batch that wrote rows)`;
}

function renderDetail() {
  selectedRunId = chooseRun();
  const detail = byId('detail');
  const run = selectedRunId === null ? undefined : runs.get(selectedRunId);
  if (run === undefined) {
    detail.hidden = true;
    destroyCharts();
    chartsRunId = null;
    return;
  }
  detail.hidden = false;
  detail.setAttribute('data-run-id', run.runId);
  byId('detail-name').textContent = run.name ?? '(unnamed)';
  const state = byId('detail-state');
  state.textContent = run.state;
  state.setAttribute('data-state', run.state);
  document.title = `${run.name ?? run.id} · tidemark`;
  renderSummary(run);
  renderTiles(lastProgress(run));
  renderCharts(run);
  renderOutput(run);
  byId('plan').textContent = run.plan;
}

// ---------------------------------------------------------------------------
// Rendering at most once per frame, whatever the rate of events.

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderLists();
    renderDetail();
  });
}

addEventListener('hashchange', schedule);
addEventListener('resize', () => {
  for (const c of charts.values()) c.plot.setSize({ width: Math.max(300, c.box.clientWidth - 16), height: 180 });
});
// Uptimes move on between batches.
setInterval(() => {
  if ([...runs.values()].some((r) => r.state === 'RUNNING')) schedule();
}, 1000);

// ---------------------------------------------------------------------------
// The live connection.

const connection = byId('connection');
/** @param {'connecting' | 'live' | 'lost'} state @param {string} text */
function setConnection(state, text) {
  connection.setAttribute('data-state', state);
  connection.textContent = text;
}

const events = new EventSource(withToken('api/events'));
events.addEventListener('open', () => setConnection('live', 'live'));
events.addEventListener('error', () => setConnection('lost', events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…'));

events.addEventListener('snapshot', (e) => {
  const data = JSON.parse(/** @type {MessageEvent} */ (e).data);
  clockOffsetMs = data.nowMs - Date.now();
  runs.clear();
  for (const q of data.queries) runs.set(q.runId, q);
  schedule();
});

events.addEventListener('started', (e) => {
  /** @type {QueryDetail} */
  const q = JSON.parse(/** @type {MessageEvent} */ (e).data);
  runs.set(q.runId, q);
  schedule();
});

events.addEventListener('progress', (e) => {
  const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
  const run = runs.get(d.runId);
  if (run === undefined) return;
  run.recentProgress.push(d.progress);
  if (run.recentProgress.length > RECENT_PROGRESS_LIMIT) run.recentProgress.shift();
  run.status = d.status;
  run.output = d.output;
  schedule();
});

events.addEventListener('terminated', (e) => {
  const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
  const run = runs.get(d.runId);
  if (run === undefined) return;
  run.state = d.state;
  run.status = d.status;
  run.endedAtMs = d.endedAtMs;
  run.exception = d.exception;
  schedule();
});

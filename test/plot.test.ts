/**
 * Charts without a browser: the notebook's line graph (Keys = start, Series
 * groupings = action, Values = count) as a Vega-Lite spec, SVG and PNG, and
 * the `tidemark plot` command over a directory of sink output.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { buildLineChartSpec, plotRows, readChartRows, renderPng, renderSvg, type PlotOptions } from '../lib/plot.js';
import { PLOT_USAGE, runPlot } from '../lib/cli/plot.js';
import { decodePng, type Image } from './png.js';

const ACTIONS = ['Open', 'Close', 'Click', 'Scroll'] as const;
/** Far apart so the four lines never cross: Open on top, Scroll at the bottom. */
const BASE: Record<(typeof ACTIONS)[number], number> = { Open: 1200, Close: 900, Click: 600, Scroll: 300 };
const HOURS = 6;

/** Spark's JSON sink text for a timestamp in a +05:30 session: `2016-07-26T07:30:00.000+05:30`. */
function sparkTimestamp(utcMs: number): string {
  const local = new Date(utcMs + 330 * 60_000).toISOString();
  return local.replace('Z', '+05:30');
}

/** One row per action and 1-hour window, starting at 2016-07-26T02:00Z (07:30+05:30), in a scrambled order. */
function windowRows(): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const first = Date.UTC(2016, 6, 26, 2);
  for (let h = HOURS - 1; h >= 0; h--) {
    for (const action of ACTIONS) {
      const start = first + h * 3_600_000;
      rows.push({ action, window: { start: sparkTimestamp(start), end: sparkTimestamp(start + 3_600_000) }, count: BASE[action] + ((h * 37) % 100) });
    }
  }
  return rows;
}

const NOTEBOOK: PlotOptions = { x: 'start', series: 'action', y: 'count' };

/** Vega-Lite 6's default `category` scheme (tableau10): the first four, by sorted series value. */
const COLOURS = { Click: [0x4c, 0x78, 0xa8], Close: [0xf5, 0x85, 0x18], Open: [0xe4, 0x57, 0x56], Scroll: [0x72, 0xb7, 0xb2] } as const;

/** Pixels within `tolerance` of `rgb` in every channel, left of column `maxX`, and their mean row. */
function colourStats(img: Image, rgb: readonly number[], maxX = img.width, tolerance = 12): { count: number; meanY: number } {
  let count = 0;
  let sumY = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < maxX; x++) {
      const i = (y * img.width + x) * 4;
      if (Math.abs(img.rgba[i]! - rgb[0]!) <= tolerance && Math.abs(img.rgba[i + 1]! - rgb[1]!) <= tolerance && Math.abs(img.rgba[i + 2]! - rgb[2]!) <= tolerance) {
        count++;
        sumY += y;
      }
    }
  }
  return { count, meanY: count === 0 ? NaN : sumY / count };
}

/** Text content of the SVG's `<text>` elements, in document order. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

function collector(): { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => ((out += s), true) },
    stderr: { write: (s: string) => ((err += s), true) },
    out: () => out,
    err: () => err,
  };
}

/** A sink output directory without `_spark_metadata`: plain part files, read as they are (a `t.testdir` fixture). */
function sinkFiles(): Record<string, string> {
  const lines = windowRows().map((r) => JSON.stringify(r));
  return {
    'part-00000-3f9c-c000.json': lines.slice(0, 10).join('\n') + '\n',
    'part-00001-3f9c-c000.json': lines.slice(10).join('\n') + '\n\n',
  };
}

t.test("Keys = start reads the window struct's start: epoch ms on a UTC time axis, sorted by x then series", async (t) => {
  const spec = buildLineChartSpec(windowRows(), NOTEBOOK) as unknown as Record<string, unknown>;
  const values = (spec['data'] as { values: Record<string, unknown>[] }).values;
  t.equal(values.length, ACTIONS.length * HOURS);
  t.same(values.slice(0, 5), [
    { start: Date.UTC(2016, 6, 26, 2), action: 'Click', count: 600 },
    { start: Date.UTC(2016, 6, 26, 2), action: 'Close', count: 900 },
    { start: Date.UTC(2016, 6, 26, 2), action: 'Open', count: 1200 },
    { start: Date.UTC(2016, 6, 26, 2), action: 'Scroll', count: 300 },
    { start: Date.UTC(2016, 6, 26, 3), action: 'Click', count: 637 },
  ]);
  t.same(spec['mark'], { type: 'line', point: true });
  t.same(spec['encoding'], {
    x: { field: 'start', type: 'temporal', title: 'start (UTC)', scale: { type: 'utc' }, axis: { format: '%Y-%m-%d %H:%M', labelOverlap: true } },
    y: { field: 'count', type: 'quantitative', title: 'count' },
    color: { field: 'action', type: 'nominal', title: 'action' },
  });
  t.equal(spec['width'], 600);
  t.equal(spec['height'], 300);
  t.notOk('title' in spec, 'no title unless asked');
});

/** `windows` one-minute windows from 2016-07-26T00:00Z, one row per action, as a JSON sink writes them. */
function minuteRows(windows: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const first = Date.UTC(2016, 6, 26);
  for (let i = 0; i < windows; i++) {
    const start = first + i * 60_000;
    for (const action of ACTIONS) rows.push({ action, window: { start: new Date(start).toISOString(), end: new Date(start + 60_000).toISOString() }, count: BASE[action] + ((i * 37) % 100) });
  }
  return rows;
}

t.test('5,000 windows stay readable: 1 px lines without points, four x labels with date and time', async (t) => {
  const spec = buildLineChartSpec(minuteRows(5000), NOTEBOOK) as unknown as Record<string, unknown>;
  t.equal((spec['data'] as { values: unknown[] }).values.length, 5000 * ACTIONS.length);
  t.strictSame(spec['mark'], { type: 'line', point: false, strokeWidth: 1 });
  t.strictSame(spec['encoding'], {
    x: { field: 'start', type: 'temporal', title: 'start (UTC)', scale: { type: 'utc' }, axis: { format: '%Y-%m-%d %H:%M', labelOverlap: true, tickCount: 4 } },
    y: { field: 'count', type: 'quantitative', title: 'count' },
    color: { field: 'action', type: 'nominal', title: 'action' },
  });
  const svg = await renderSvg(spec as never);
  // 5,000 minutes from 2016-07-26 00:00 end on 07-29 11:19: a label a day.
  t.strictSame(
    svgTexts(svg).filter((s) => /^\d{4}-/.test(s)),
    ['2016-07-26 00:00', '2016-07-27 00:00', '2016-07-28 00:00', '2016-07-29 00:00'],
  );
  t.strictSame(svgTexts(svg).slice(-5), ['Click', 'Close', 'Open', 'Scroll', 'action'], 'the four series in the legend');
  t.equal((svg.match(/<path[^>]*stroke-width="1"/g) ?? []).length, ACTIONS.length, 'one 1 px line per series');
});

t.test('the width decides when points no longer fit: 75 windows in 600 px keep their points, 76 do not', async (t) => {
  t.strictSame(buildLineChartSpec(minuteRows(75), NOTEBOOK)['mark' as never], { type: 'line', point: true });
  t.strictSame(buildLineChartSpec(minuteRows(76), NOTEBOOK)['mark' as never], { type: 'line', point: false, strokeWidth: 1 });
  const wide = buildLineChartSpec(minuteRows(76), { ...NOTEBOOK, width: 1200 }) as unknown as Record<string, unknown>;
  t.strictSame(wide['mark'], { type: 'line', point: true });
  t.strictSame((wide['encoding'] as { x: { axis: unknown } }).x.axis, { format: '%Y-%m-%d %H:%M', labelOverlap: true });
  const narrow = buildLineChartSpec(minuteRows(5000), { ...NOTEBOOK, width: 200 }) as unknown as Record<string, unknown>;
  t.strictSame((narrow['encoding'] as { x: { axis: unknown } }).x.axis, { format: '%Y-%m-%d %H:%M', labelOverlap: true, tickCount: 2 });
});

t.test('many series: 20 colours past 10, and past 20 the legend lists 19 and says how many more', async (t) => {
  const rows = (series: number): Record<string, unknown>[] =>
    Array.from({ length: series * 3 }, (_, i) => ({ host: `h${String(Math.floor(i / 3)).padStart(2, '0')}`, window: { start: new Date(Date.UTC(2016, 6, 26, i % 3)).toISOString() }, count: i }));
  const color = (series: number): unknown => (buildLineChartSpec(rows(series), { x: 'start', series: 'host', y: 'count' }) as unknown as { encoding: { color: unknown } }).encoding.color;
  t.strictSame(color(10), { field: 'host', type: 'nominal', title: 'host' });
  t.strictSame(color(11), { field: 'host', type: 'nominal', title: 'host', scale: { scheme: 'tableau20' } });
  t.strictSame(color(20), { field: 'host', type: 'nominal', title: 'host', scale: { scheme: 'tableau20' } });
  t.strictSame(color(30), { field: 'host', type: 'nominal', title: 'host', scale: { scheme: 'tableau20' }, legend: { symbolLimit: 20 } });
  const texts = svgTexts(await renderSvg(buildLineChartSpec(rows(30), { x: 'start', series: 'host', y: 'count' })));
  t.strictSame(texts.slice(texts.indexOf('h00')), [...Array.from({ length: 19 }, (_, i) => `h${String(i).padStart(2, '0')}`), '…11 entries', 'host']);
});

t.test('thousands of ordinal or numeric x values: labels thinned, ordinal ones slanted', async (t) => {
  const rows = Array.from({ length: 2000 }, (_, i) => ({ batch: i, name: `b${i}`, action: 'Open', count: i }));
  const axis = (x: string, xType: PlotOptions['xType']): unknown =>
    (buildLineChartSpec(rows, { x, series: 'action', y: 'count', xType }) as unknown as { encoding: { x: { axis?: unknown } } }).encoding.x.axis;
  t.strictSame(axis('batch', 'quantitative'), { labelOverlap: true, tickCount: 4 });
  t.strictSame(axis('name', undefined), { labelOverlap: 'greedy', labelAngle: -45 });
});

t.test('a dotted path reaches into the struct and is escaped for Vega-Lite', async (t) => {
  const spec = buildLineChartSpec(windowRows(), { ...NOTEBOOK, x: 'window.start', title: 'Actions per hour', width: 400, height: 200 }) as unknown as Record<string, unknown>;
  const values = (spec['data'] as { values: Record<string, unknown>[] }).values;
  t.same(values[0], { 'window.start': Date.UTC(2016, 6, 26, 2), action: 'Click', count: 600 });
  t.same((spec['encoding'] as Record<string, unknown>)['x'], { field: 'window\\.start', type: 'temporal', title: 'window.start (UTC)', scale: { type: 'utc' }, axis: { format: '%Y-%m-%d %H:%M', labelOverlap: true } });
  t.equal(spec['title'], 'Actions per hour');
  t.equal(spec['width'], 400);
  t.equal(spec['height'], 200);
});

t.test('x is temporal for epoch ms, ordinal for other strings, and xType overrides', async (t) => {
  const xEncoding = (rows: Record<string, unknown>[], options: PlotOptions): unknown => ((buildLineChartSpec(rows, options) as unknown as Record<string, Record<string, unknown>>)['encoding']!['x'] as Record<string, unknown>)['type'];
  t.equal(xEncoding([{ t: 1_469_498_400_000, a: 'Open', n: 1 }], { x: 't', series: 'a', y: 'n' }), 'temporal');
  t.equal(xEncoding([{ t: 'Monday', a: 'Open', n: 1 }], { x: 't', series: 'a', y: 'n' }), 'ordinal');
  t.equal(xEncoding([{ t: 3, a: 'Open', n: 1 }], { x: 't', series: 'a', y: 'n', xType: 'quantitative' }), 'quantitative');
});

t.test('an aggregate column such as avg(temperature) is drawn as y; yZero false fits the axis to the values', async (t) => {
  const rows = [
    { device: 'dev-01', window: { start: '2024-03-01T00:00:00.000Z' }, 'avg(temperature)': 21.5 },
    { device: 'dev-40', window: { start: '2024-03-01T00:00:00.000Z' } },
  ];
  const spec = buildLineChartSpec(rows, { x: 'start', series: 'device', y: 'avg(temperature)' }) as unknown as { data: { values: unknown[] }; encoding: Record<string, unknown> };
  t.same(spec.data.values, [{ start: Date.UTC(2024, 2, 1), device: 'dev-01', 'avg(temperature)': 21.5 }], 'a null average (left out of the line) is no point');
  t.same(spec.encoding['y'], { field: 'avg(temperature)', type: 'quantitative', title: 'avg(temperature)' }, 'from 0 by default, as counts are');
  const fitted = buildLineChartSpec(rows, { x: 'start', series: 'device', y: 'avg(temperature)', yZero: false }) as unknown as { encoding: Record<string, unknown> };
  t.same(fitted.encoding['y'], { field: 'avg(temperature)', type: 'quantitative', title: 'avg(temperature)', scale: { zero: false } });
  const svg = await renderSvg(fitted as never);
  t.match(svg, /<text[^>]*>avg\(temperature\)<\/text>/, 'the axis title');
});

t.test('rows without an x or a numeric y are left out', async (t) => {
  const rows = [
    { action: 'Open', window: { start: '2016-07-26T07:30:00.000+05:30' }, count: 3 },
    { action: 'Open', window: { start: '2016-07-26T08:30:00.000+05:30' }, count: null },
    { action: 'Open', window: null, count: 4 },
    { action: 'Close', window: { start: '2016-07-26T07:30:00.000+05:30' }, count: '7' },
  ];
  const values = (buildLineChartSpec(rows, NOTEBOOK) as unknown as { data: { values: unknown[] } }).data.values;
  t.same(values, [
    { start: Date.UTC(2016, 6, 26, 2), action: 'Close', count: 7 },
    { start: Date.UTC(2016, 6, 26, 2), action: 'Open', count: 3 },
  ]);
});

t.test('a column in no row is ERR_UNKNOWN_COLUMN listing the columns, struct fields as paths', async (t) => {
  t.throws(() => buildLineChartSpec(windowRows(), { ...NOTEBOOK, y: 'total' }), {
    code: 'ERR_UNKNOWN_COLUMN',
    option: 'y',
    message: '[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `total` cannot be resolved. Did you mean one of the following? [`action`, `window`, `window.start`, `window.end`, `count`].',
  });
});

t.test('a width that is not a positive integer is ERR_INVALID_OPTION', async (t) => {
  t.throws(() => buildLineChartSpec(windowRows(), { ...NOTEBOOK, width: 0 }), {
    code: 'ERR_INVALID_OPTION',
    option: 'width',
    message: 'width must be a positive integer number of pixels, got 0',
  });
});

t.test('the SVG has the four actions as legend labels, the axis titles start (UTC) and count, and x labels with date and time', async (t) => {
  const svg = await renderSvg(buildLineChartSpec(windowRows(), NOTEBOOK));
  t.match(svg, /^<svg /);
  const texts = svgTexts(svg);
  t.same(
    texts.filter((s) => (ACTIONS as readonly string[]).includes(s)),
    ['Click', 'Close', 'Open', 'Scroll'],
    'legend labels, in the colour scale order',
  );
  t.equal(texts.filter((s) => s === 'start (UTC)').length, 1, 'x axis title, with the zone');
  const xLabels = texts.filter((s) => /^\d{4}-\d\d-\d\d \d\d:\d\d$/.test(s));
  t.ok(xLabels.length >= 2, `x labels with year, date and time: ${xLabels.join(', ')}`);
  t.ok(xLabels.every((s) => s.startsWith('2016-07-2')), 'in UTC, the data set day');
  t.equal(texts.filter((s) => s === 'count').length, 1, 'y axis title');
  t.equal(texts.filter((s) => s === 'action').length, 1, 'legend title');
  for (const hex of ['#4c78a8', '#f58518', '#e45756', '#72b7b2']) t.match(svg, `stroke="${hex}"`, `a line in ${hex}`);
});

t.test('the PNG shows four lines in the category colours, Open on top and Scroll at the bottom', async (t) => {
  const svg = await renderSvg(buildLineChartSpec(windowRows(), NOTEBOOK));
  const img = decodePng(renderPng(svg));
  const size = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
  t.equal(img.width, Number(size[1]));
  t.equal(img.height, Number(size[2]));
  // Only the plot area (the legend sits right of it), so the mean row is the line's.
  const plotArea = 640;
  const stats = Object.fromEntries(Object.entries(COLOURS).map(([action, rgb]) => [action, colourStats(img, rgb, plotArea)])) as Record<keyof typeof COLOURS, { count: number; meanY: number }>;
  for (const [action, s] of Object.entries(stats)) t.ok(s.count >= 500, `${action}: ${s.count} pixels of its colour`);
  t.ok(stats.Open.meanY < stats.Close.meanY && stats.Close.meanY < stats.Click.meanY && stats.Click.meanY < stats.Scroll.meanY, 'colours map to actions by sorted name');
});

t.test('the PNG draws text: axis labels, titles and legend are dark pixels a font put there', async (t) => {
  const svg = await renderSvg(buildLineChartSpec(windowRows(), NOTEBOOK));
  const img = decodePng(renderPng(svg));
  const dark = colourStats(img, [0, 0, 0], img.width, 80).count;
  t.ok(dark >= 500, `${dark} near-black pixels`);
  const noFont = new Resvg(svg, { font: { loadSystemFonts: false }, background: 'white' }).render();
  const blank = { width: noFont.width, height: noFont.height, rgba: new Uint8Array(noFont.pixels) };
  t.equal(colourStats(blank, [0, 0, 0], blank.width, 80).count, 0, 'with no font resvg draws no text, so the pixels above are text');
});

t.test('renderPng refuses a font file that does not exist (resvg would draw no text)', async (t) => {
  t.throws(() => renderPng('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', { fontFiles: ['/nonexistent/font.ttf'] }), {
    code: 'ERR_INVALID_OPTION',
    option: 'fontFiles',
    message: 'font file /nonexistent/font.ttf does not exist',
  });
});

t.test('renderPng scales the picture', async (t) => {
  const svg = await renderSvg(buildLineChartSpec(windowRows(), { ...NOTEBOOK, width: 200, height: 100 }));
  const one = decodePng(renderPng(svg));
  const two = decodePng(renderPng(svg, { scale: 2 }));
  t.equal(two.width, one.width * 2);
  t.equal(two.height, one.height * 2);
});

t.test('plotRows refuses an output that is neither .svg nor .png', async (t) => {
  await t.rejects(plotRows(windowRows(), { ...NOTEBOOK, output: join(t.testdir(), 'chart.pdf') }), {
    code: 'ERR_INVALID_OPTION',
    option: 'output',
    message: /^output must end in \.svg or \.png, got .*chart\.pdf$/,
  });
});

t.test('readChartRows parses every line of the part files, skipping blank lines', async (t) => {
  const rows = await readChartRows(t.testdir(sinkFiles()));
  t.equal(rows.length, ACTIONS.length * HOURS);
  t.same(rows[0], { action: 'Open', window: { start: '2016-07-26T12:30:00.000+05:30', end: '2016-07-26T13:30:00.000+05:30' }, count: 1285 });
});

t.test('readChartRows: a line that is not a JSON object is ERR_MALFORMED_RECORD with file and line', async (t) => {
  const dir = t.testdir({ 'part-00000.json': '{"action":"Open","count":1}\n[1,2]\n' });
  await t.rejects(readChartRows(dir), { code: 'ERR_MALFORMED_RECORD', file: join(dir, 'part-00000.json'), line: 2, message: `Malformed record in ${join(dir, 'part-00000.json')} line 2: [1,2]` });
});

t.test('readChartRows: a missing directory is ERR_FILE_SOURCE PATH_NOT_FOUND', async (t) => {
  const dir = join(t.testdir(), 'nope');
  await t.rejects(readChartRows(dir), { code: 'ERR_FILE_SOURCE', message: `[PATH_NOT_FOUND] Path does not exist: file:${dir}.` });
});

t.test('tidemark plot writes an SVG and a PNG of a sink output directory', async (t) => {
  const root = t.testdir({ sink: sinkFiles() });
  const dir = join(root, 'sink');
  const out = join(root, 'out');
  for (const name of ['chart.svg', 'nested/chart.png']) {
    const io = collector();
    const code = await runPlot([dir, '--x', 'start', '--series', 'action', '--y', 'count', '-o', join(out, name), '--title', 'Actions', '--width', '500', '--height', '250'], io);
    t.equal(code, 0, name);
    t.equal(io.out(), '');
    t.equal(io.err(), '');
  }
  const svg = await readFile(join(out, 'chart.svg'), 'utf8');
  const texts = svgTexts(svg);
  for (const s of ['Actions', 'start (UTC)', 'count', 'action', ...ACTIONS]) t.ok(texts.includes(s), `SVG text ${s}`);
  const img = decodePng(await readFile(join(out, 'nested/chart.png')));
  t.equal(img.width, Number(/^<svg [^>]*width="(\d+)"/.exec(svg)![1]), 'the PNG is the SVG rasterised');
  for (const [action, rgb] of Object.entries(COLOURS)) t.ok(colourStats(img, rgb).count >= 400, `PNG has ${action}'s colour`);
});

t.test('tidemark plot defaults to the notebook columns', async (t) => {
  const root = t.testdir({ sink: sinkFiles() });
  const out = join(root, 'chart.svg');
  t.equal(await runPlot([join(root, 'sink'), '-o', out], collector()), 0);
  const texts = svgTexts(await readFile(out, 'utf8'));
  t.ok(texts.includes('start (UTC)') && texts.includes('count') && texts.includes('action'));
});

t.test('tidemark plot --help prints the usage on stdout and exits 0', async (t) => {
  const io = collector();
  t.equal(await runPlot(['--help'], io), 0);
  t.equal(io.out(), PLOT_USAGE);
  t.equal(io.err(), '');
  for (const flag of ['--output', '--x', '--series', '--y', '--title', '--width', '--height', '--help']) t.match(PLOT_USAGE, new RegExp(`^  (?:-\\w, )?${flag} `, 'm'), `usage lists ${flag}`);
});

t.test('tidemark plot: usage errors exit 2 with a pointer to --help', async (t) => {
  const cases: [string[], string][] = [
    [['dir'], 'missing required flag --output (-o)'],
    [['-o', 'x.svg'], 'missing the output directory DIR'],
    [['dir', '-o', 'chart.pdf'], "flag --output must name a .svg or .png file, got 'chart.pdf'"],
    [['dir', '-o', 'x.svg', '--width', 'wide'], "flag --width needs a positive integer, got 'wide'"],
    [['dir', '-o', 'x.svg', '--height', '0'], "flag --height needs a positive integer, got '0'"],
    [['dir', 'other', '-o', 'x.svg'], "unexpected argument 'other'"],
    [['dir', '-o', 'x.svg', '--colour', 'red'], "Unknown option '--colour'"],
  ];
  for (const [argv, message] of cases) {
    const io = collector();
    t.equal(await runPlot(argv, io), 2, argv.join(' '));
    t.equal(io.err(), `tidemark: ${message}\nRun 'tidemark plot --help' for usage.\n`);
    t.equal(io.out(), '');
  }
});

t.test('tidemark plot: a TidemarkError is printed as tidemark: <message>, exit 1', async (t) => {
  const root = t.testdir({ empty: {}, sink: sinkFiles() });
  const missing = join(root, 'missing');
  let io = collector();
  t.equal(await runPlot([missing, '-o', join(root, 'c.svg')], io), 1);
  t.equal(io.err(), `tidemark: [PATH_NOT_FOUND] Path does not exist: file:${missing}.\n`);

  io = collector();
  t.equal(await runPlot([join(root, 'empty'), '-o', join(root, 'c.svg')], io), 1);
  t.equal(io.err(), `tidemark: no rows to plot in ${join(root, 'empty')}\n`);

  io = collector();
  t.equal(await runPlot([join(root, 'sink'), '--y', 'total', '-o', join(root, 'c.svg')], io), 1);
  t.match(io.err(), /^tidemark: \[UNRESOLVED_COLUMN\.WITH_SUGGESTION\] A column, variable, or function parameter with name `total` cannot be resolved\./);
});

t.test('a PNG rendered to a file is the same bytes as renderPng returns', async (t) => {
  const dir = t.testdir();
  const rows = windowRows();
  await plotRows(rows, { ...NOTEBOOK, output: join(dir, 'c.png') });
  const expected = renderPng(await renderSvg(buildLineChartSpec(rows, NOTEBOOK)));
  t.same(new Uint8Array(await readFile(join(dir, 'c.png'))), expected);
});

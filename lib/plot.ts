/**
 * Charts of windowed counts without a browser: the notebook's
 * `display(countsDF)` set to a line graph with Keys = `start`, Series
 * groupings = `action`, Values = `count`.
 *
 * Rows (as a JSON sink writes them) become a Vega-Lite spec, Vega renders it
 * to SVG in Node (`renderer: 'none'`, no canvas, no DOM), and resvg turns the
 * SVG into a PNG. resvg draws text only with fonts it is given, and Node ships
 * none: {@link renderPng} loads DejaVu Sans from the system (Debian's
 * `fonts-dejavu-core`, part of the machine image) by explicit path, which is
 * ten times faster than scanning every system font and picks the same face on
 * every machine; when no DejaVu file exists it falls back to resvg's system
 * font scan.
 *
 * Time axes are drawn in UTC, whatever the machine's time zone, so a chart
 * is the same on a developer's machine and in CI (Spark's display uses the
 * session time zone; a `+05:30` timestamp `07:30` is drawn at `02:00`).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { TidemarkError } from './errors.js';
import { committedDataFiles, readCommittedJsonLines } from './sinks/file-sink-log.js';

/** Which columns to draw: the notebook's Keys, Series groupings and Values. */
export interface PlotOptions {
  /**
   * The x column (Keys): a top-level column, a dotted path into a struct
   * (`window.start`), or a field of the `window` struct by its own name
   * (`start`), as the notebook's Keys = `start` means.
   */
  x: string;
  /** The column whose distinct values each get a line and a legend entry (`action`). */
  series: string;
  /** The value column (`count`). */
  y: string;
  /** Chart title; none by default. */
  title?: string;
  /** Width of the plot area in pixels (default 600). */
  width?: number;
  /** Height of the plot area in pixels (default 300). */
  height?: number;
  /**
   * How to read x. By default: `temporal` when every x is an ISO-8601
   * timestamp, a `Date` or a number (taken as epoch milliseconds, which is
   * how tidemark's in-memory rows hold times), `ordinal` otherwise. Say
   * `quantitative` for plain numbers such as batch ids.
   */
  xType?: 'temporal' | 'quantitative' | 'ordinal';
  /**
   * Whether the y axis starts at 0 (default true, right for counts); false
   * fits it to the values, for a column such as an average temperature.
   */
  yZero?: boolean;
}

/** Options of {@link renderPng}. */
export interface PngOptions {
  /**
   * Font files (TTF/OTF) to draw text with, instead of the DejaVu Sans files
   * looked up by default. The first file's family is used for `sans-serif`.
   */
  fontFiles?: readonly string[];
  /** Background colour (CSS), default white: a PNG viewer's checkerboard hides grey grid lines. */
  background?: string;
  /** Scale factor (2 for a high-density screen), default 1. */
  scale?: number;
}

/** Default plot area, close to a notebook cell's chart. */
const DEFAULT_WIDTH = 600;
const DEFAULT_HEIGHT = 300;

/**
 * Horizontal pixels a marked point needs (Vega's default point is about 6 px
 * across): with more distinct x values than `width / PX_PER_POINT`, the
 * points would merge into a band, so the chart draws thin lines only.
 */
const PX_PER_POINT = 8;
/** Horizontal pixels an x label needs (`2016-07-26 02:00` is about 90 px in Vega's 10 px font), plus a gap. */
const PX_PER_LABEL = 150;
/** Legend entries drawn at most; Vega says how many more there are (`…N entries`). */
const LEGEND_LIMIT = 20;
/** Past this many series, the 20-colour scheme, so that colours repeat later. */
const CATEGORY10_SERIES = 10;

/**
 * Where DejaVu Sans lives on the usual Linux layouts (Debian/Ubuntu, Fedora,
 * Arch). Regular first: its family becomes the default.
 */
const DEJAVU_CANDIDATES: readonly (readonly string[])[] = [
  ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'],
  ['/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf', '/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf'],
  ['/usr/share/fonts/dejavu/DejaVuSans.ttf', '/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf'],
  ['/usr/share/fonts/TTF/DejaVuSans.ttf', '/usr/share/fonts/TTF/DejaVuSans-Bold.ttf'],
];

/** The column names a row set has, nested struct fields as dotted paths, for error messages. */
function columnNames(rows: readonly Record<string, unknown>[]): string[] {
  const names = new Set<string>();
  const walk = (value: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(value)) {
      names.add(prefix + k);
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) walk(v as Record<string, unknown>, `${prefix}${k}.`);
    }
  };
  for (const row of rows) walk(row, '');
  return [...names];
}

function getPath(row: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = row;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * How `name` reaches into the rows: a top-level key (even one with a dot in
 * it), a dotted path, or a field of the `window` struct.
 *
 * @throws TidemarkError `ERR_UNKNOWN_COLUMN` naming the columns that exist
 */
function resolveColumn(rows: readonly Record<string, unknown>[], name: string, option: string): readonly string[] {
  const candidates: string[][] = [[name]];
  if (name.includes('.')) candidates.push(name.split('.'));
  else candidates.push(['window', name]);
  for (const path of candidates) {
    if (rows.some((row) => getPath(row, path) !== undefined)) return path;
  }
  const known = columnNames(rows)
    .map((n) => '`' + n + '`')
    .join(', ');
  throw new TidemarkError(
    'ERR_UNKNOWN_COLUMN',
    `[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name \`${name}\` cannot be resolved. Did you mean one of the following? [${known}].`,
    { option },
  );
}

/** An ISO-8601 date or date-time, as Spark's JSON writer and `Date#toISOString` write them. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

function timestampMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'string' && ISO_TIMESTAMP.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

function numberValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Vega-Lite reads `.` and `[` in a field name as access into a struct: escape them for flat keys. */
function fieldRef(name: string): string {
  return name.replace(/[\\.[\]]/g, (c) => '\\' + c);
}

function positiveSize(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new TidemarkError('ERR_INVALID_OPTION', `${option} must be a positive integer number of pixels, got ${value}`, { option });
  }
  return value;
}

/**
 * The notebook's line graph as a Vega-Lite spec, so it can be rendered here,
 * embedded in a page, or opened in the Vega editor as it is.
 *
 * Values are copied out of the rows under the names given in `options` (the
 * axis and legend titles), rows without an x or a numeric y are left out,
 * and the rest are sorted by x then series: a line joins its points in data
 * order, and sorted data also makes the spec byte-stable. Every point is
 * marked, so a series seen in one window only still shows.
 *
 * Thousands of windows stay readable: with more distinct x values than fit
 * as points (one per 8 px of width), lines are 1 px without point marks and
 * the x axis asks for one label per 150 px, dropping any that would still
 * overlap. Past 10 series the colours come from a 20-colour scheme; past 20
 * the legend lists 20 and says how many more there are.
 *
 * @throws TidemarkError `ERR_UNKNOWN_COLUMN` when a column is in no row;
 *   `ERR_INVALID_OPTION` for a width or height that is not a positive integer
 */
export function buildLineChartSpec(rows: readonly Record<string, unknown>[], options: PlotOptions): TopLevelSpec {
  const width = positiveSize(options.width, DEFAULT_WIDTH, 'width');
  const height = positiveSize(options.height, DEFAULT_HEIGHT, 'height');
  const xPath = resolveColumn(rows, options.x, 'x');
  const seriesPath = resolveColumn(rows, options.series, 'series');
  const yPath = resolveColumn(rows, options.y, 'y');

  const raw = rows.map((row) => ({ x: getPath(row, xPath), series: getPath(row, seriesPath), y: numberValue(getPath(row, yPath)) }));
  const present = raw.filter((r): r is { x: unknown; series: unknown; y: number } => r.x !== undefined && r.x !== null && r.y !== undefined);
  const xType = options.xType ?? (present.every((r) => timestampMs(r.x) !== undefined) ? 'temporal' : 'ordinal');

  const points = present.flatMap((r) => {
    let x: number | string | undefined;
    if (xType === 'temporal') x = timestampMs(r.x);
    else if (xType === 'quantitative') x = numberValue(r.x);
    else x = typeof r.x === 'string' ? r.x : JSON.stringify(r.x);
    const series = r.series === undefined || r.series === null ? 'null' : typeof r.series === 'string' ? r.series : JSON.stringify(r.series);
    return x === undefined ? [] : [{ x, series, y: r.y }];
  });
  points.sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : a.series < b.series ? -1 : a.series > b.series ? 1 : 0));

  const values = points.map((p) => ({ [options.x]: p.x, [options.series]: p.series, [options.y]: p.y }));
  // Thousands of windows: more x values than fit as points. Thin 1 px lines without points,
  // and a few x labels (each with date and time), dropped where they would still overlap.
  let distinctX = 0;
  for (let i = 0; i < points.length; i++) if (i === 0 || points[i]!.x !== points[i - 1]!.x) distinctX++;
  const dense = distinctX * PX_PER_POINT > width;
  const tickCount = Math.max(2, Math.floor(width / PX_PER_LABEL));
  const seriesCount = new Set(points.map((p) => p.series)).size;
  let xAxis: Record<string, unknown> | undefined;
  if (xType === 'temporal') xAxis = { format: '%Y-%m-%d %H:%M', labelOverlap: true, ...(dense ? { tickCount } : {}) };
  else if (dense) xAxis = xType === 'quantitative' ? { labelOverlap: true, tickCount } : { labelOverlap: 'greedy', labelAngle: -45 };
  const color = {
    field: fieldRef(options.series),
    type: 'nominal' as const,
    title: options.series,
    ...(seriesCount > CATEGORY10_SERIES ? { scale: { scheme: 'tableau20' } } : {}),
    ...(seriesCount > LEGEND_LIMIT ? { legend: { symbolLimit: LEGEND_LIMIT } } : {}),
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title === undefined ? {} : { title: options.title }),
    width,
    height,
    background: 'white',
    data: { values },
    mark: dense ? { type: 'line', point: false, strokeWidth: 1 } : { type: 'line', point: true },
    encoding: {
      x: {
        field: fieldRef(options.x),
        type: xType,
        // Times are drawn in UTC: the title says so, and each label carries the date with the
        // time (Vega's default labels drop the year and, between midnights, the day).
        title: xType === 'temporal' ? `${options.x} (UTC)` : options.x,
        ...(xType === 'temporal' ? { scale: { type: 'utc' as const } } : {}),
        ...(xAxis === undefined ? {} : { axis: xAxis }),
      },
      y: { field: fieldRef(options.y), type: 'quantitative', title: options.y, ...(options.yZero === false ? { scale: { zero: false } } : {}) },
      color,
    },
  };
  return spec;
}

/**
 * Renders a Vega-Lite spec to SVG text in Node: Vega's headless view
 * (`renderer: 'none'`) needs neither a DOM nor `canvas`.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded here, not at the top: Vega's module graph has a top-level await
  // (vega-canvas), and a module that has one cannot be `require`d from CommonJS.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const { spec: vgSpec } = compile(spec);
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The first DejaVu Sans pair that exists, or null. */
function systemDejaVu(): readonly string[] | null {
  for (const files of DEJAVU_CANDIDATES) {
    const found = files.filter((f) => existsSync(f));
    if (found.length > 0 && found[0] === files[0]) return found;
  }
  return null;
}

/** resvg's font options: given files, else DejaVu by path, else a scan of the system's fonts. */
function fontOptions(fontFiles: readonly string[] | undefined): NonNullable<ResvgRenderOptions['font']> {
  // resvg skips a font file it cannot read without a word, and draws no text.
  const missing = fontFiles?.find((f) => !existsSync(f));
  if (missing !== undefined) throw new TidemarkError('ERR_INVALID_OPTION', `font file ${missing} does not exist`, { option: 'fontFiles' });
  const files = fontFiles !== undefined && fontFiles.length > 0 ? fontFiles : systemDejaVu();
  if (files === null) return { loadSystemFonts: true };
  const family = fontFiles === undefined || fontFiles.length === 0 ? 'DejaVu Sans' : undefined;
  return {
    loadSystemFonts: false,
    fontFiles: [...files],
    // With only the given files loaded, resvg takes the first one's family as
    // its default, which also serves `sans-serif` (Vega's font) when it is not
    // named explicitly.
    ...(family === undefined ? {} : { defaultFontFamily: family, sansSerifFamily: family }),
  };
}

/**
 * Rasterises an SVG (from {@link renderSvg}) to PNG bytes with resvg, a
 * native renderer with no browser and no system libraries. Text is drawn
 * with DejaVu Sans (see the module notes) unless `fontFiles` says otherwise.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for a scale that is not a positive
 *   number or a font file that does not exist
 */
export function renderPng(svg: string, options: PngOptions = {}): Uint8Array {
  const scale = options.scale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0)) throw new TidemarkError('ERR_INVALID_OPTION', `scale must be a positive number, got ${scale}`, { option: 'scale' });
  const resvg = new Resvg(svg, {
    font: fontOptions(options.fontFiles),
    background: options.background ?? 'white',
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/**
 * Draws `rows` and writes the chart to `options.output`: SVG or PNG by the
 * file's extension. Parent directories are created.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` for another extension or an
 *   output that cannot be written; whatever {@link buildLineChartSpec} throws
 */
export async function plotRows(rows: readonly Record<string, unknown>[], options: PlotOptions & { output: string } & PngOptions): Promise<void> {
  const ext = extname(options.output).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') {
    throw new TidemarkError('ERR_INVALID_OPTION', `output must end in .svg or .png, got ${options.output}`, { option: 'output' });
  }
  const svg = await renderSvg(buildLineChartSpec(rows, options));
  const bytes = ext === '.svg' ? svg : renderPng(svg, options);
  const target = resolve(options.output);
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  } catch (err) {
    throw new TidemarkError('ERR_INVALID_OPTION', `cannot write ${target}: ${(err as Error).message}`, { option: 'output', cause: err });
  }
}

/**
 * The records of a JSON output directory, as the chart reads them: only
 * committed files (a sink's `_spark_metadata` decides, as for
 * `spark.read.json`), one parsed object per non-blank line. A Parquet output
 * (`format: 'parquet'`) gives one object per row, timestamps as epoch ms; a
 * CSV output one object of strings per row, named by the header.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` (`[PATH_NOT_FOUND]`) when `dir` does
 *   not exist; `ERR_MALFORMED_RECORD` with file and line for a line that is
 *   not a JSON object
 */
export async function readChartRows(dir: string): Promise<Record<string, unknown>[]> {
  const root = resolve(dir);
  try {
    await stat(root);
  } catch {
    throw new TidemarkError('ERR_FILE_SOURCE', `[PATH_NOT_FOUND] Path does not exist: file:${root}.`, { file: root });
  }
  const listing = await committedDataFiles(root);
  if (listing.files.length > 0 && listing.files.every((f) => f.endsWith('.parquet'))) {
    const { readParquetFiles } = await import('./sinks/parquet-read.js');
    return (await readParquetFiles(listing.files, listing.log)).flatMap(({ schema, rows }) =>
      rows.map((row) => Object.fromEntries(schema.fields.map((f, i) => [f.name, row[i]]))),
    );
  }
  if (listing.files.length > 0 && listing.files.every((f) => f.endsWith('.csv'))) {
    // Strings, as spark.read.csv gives them without inferSchema: the chart reads numbers and ISO times from text.
    const { readCsvFiles } = await import('./sinks/csv-file.js');
    return (await readCsvFiles(listing.files, listing.log)).flatMap(({ header, rows }) =>
      rows.map((row) => Object.fromEntries(header.map((name, i) => [name, row[i] ?? null]))),
    );
  }
  const rows: Record<string, unknown>[] = [];
  for await (const { file, line, text } of readCommittedJsonLines(root)) {
    if (text.trim().length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      value = undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new TidemarkError('ERR_MALFORMED_RECORD', `Malformed record in ${file} line ${line}: ${text}`, { file, line });
    }
    rows.push(value as Record<string, unknown>);
  }
  return rows;
}

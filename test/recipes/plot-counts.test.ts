/**
 * Recipe plot-counts (the plot cell): its printed output, the chart it
 * draws (four coloured, labelled lines in the PNG), and the same output and
 * chart after a crash and restart at every micro-batch boundary. The chart
 * functions themselves are tested in test/plot.test.ts; these tests are
 * about what the recipe draws from the notebook's query.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type PlotCountsResult } from '../../recipes/plot-counts.js';
import {
  capture,
  committedBatches,
  CRASH_MESSAGE,
  CrashingJsonSink,
  crashesAt,
  decodePng,
  describeCrash,
  golden,
  notebookData,
  pixelsOf,
  readGolden,
  sortTableRows,
  rgbOf,
  type Region,
} from './harness.js';

const ACTIONS = ['Click', 'Close', 'Open', 'Scroll'];
const root = t.testdir();
const data = await notebookData(join(root, 'data'));
// One uninterrupted run whose chart and checkpoint the tests look at.
const reference: PlotCountsResult = await run({ dataDir: data, workDir: join(root, 'reference'), out: capture().out });

/** The legend entries of a Vega SVG, in order: symbol colour and label. */
function legendEntries(svg: string): Array<{ colour: string; label: string }> {
  const entry = /fill="(#[0-9a-f]{6})" stroke="\1"[^>]*\/><\/g><g class="mark-text role-legend-label"[^>]*><text[^>]*>([^<]*)<\/text>/g;
  return [...svg.matchAll(entry)].map((m) => ({ colour: m[1]!, label: m[2]! }));
}

t.test('prints the counts read back and names the chart files (golden)', async (t) => {
  const { out, text } = capture();
  await run({ dataDir: data, workDir: t.testdir(), out });
  t.equal(text(), await golden('plot-counts.txt', text()));
});

t.test('the SVG has one legend entry per action, each in its own colour, drawn as a line', async (t) => {
  const svg = await readFile(reference.svg, 'utf8');
  const entries = legendEntries(svg);
  t.strictSame(
    entries.map((e) => e.label),
    ACTIONS,
  );
  t.equal(new Set(entries.map((e) => e.colour)).size, 4, 'four distinct colours');
  for (const { colour, label } of entries) t.match(svg, new RegExp(`<path [^>]*d="M[^"]*L[^"]*" stroke="${colour}"`), `a line for ${label} in ${colour}`);
});

t.test('the PNG draws the four series in distinct colours, each next to its action label', async (t) => {
  const svg = await readFile(reference.svg, 'utf8');
  const img = decodePng(await readFile(reference.png));
  const [, width, height] = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
  t.equal(img.width, Number(width), 'the PNG is the SVG rasterised');
  t.equal(img.height, Number(height));
  // Where Vega put the plot and the legend: the root group's offset, the plot's size, the legend's offset.
  const [, left, top] = /<g fill="none" stroke-miterlimit="4" transform="translate\((\d+),(\d+)\)">/.exec(svg)!.map(Number);
  const legendLeft = left! + Number(/<g class="mark-group role-legend"[^>]*><g transform="translate\((\d+),0\)">/.exec(svg)![1]);
  const plot: Region = { x0: left!, x1: left! + 600, y0: top!, y1: top! + 300 };
  const legend: Region = { x0: legendLeft, x1: img.width, y0: 0, y1: img.height };
  const rows: number[] = [];
  for (const { colour, label } of legendEntries(svg)) {
    const rgb = rgbOf(colour);
    const inPlot = pixelsOf(img, rgb, plot);
    const swatch = pixelsOf(img, rgb, legend);
    t.ok(inPlot.count >= 100, `${label}: ${inPlot.count} pixels of ${colour} in the plot`);
    t.ok(swatch.count >= 40, `${label}: a ${colour} legend symbol (${swatch.count} pixels)`);
    // The label is text a font drew to the right of the symbol, on its row.
    const row = Math.round(swatch.meanY);
    const text = pixelsOf(img, [0, 0, 0], { x0: legendLeft + 14, x1: img.width, y0: row - 6, y1: row + 6 }, 100);
    t.ok(text.count >= 20, `${label}: its label drawn beside the symbol (${text.count} dark pixels)`);
    rows.push(row);
  }
  t.ok(rows.every((y, i) => i === 0 || y > rows[i - 1]! + 8), `legend rows top to bottom in label order: ${rows.join(', ')}`);
});

t.test('a crash at every micro-batch boundary, then a restart, prints the golden output and draws the same chart', async (t) => {
  const expected = await readGolden('plot-counts.txt');
  const expectedSvg = await readFile(reference.svg, 'utf8');
  const batches = await committedBatches(reference.checkpointLocation);
  t.strictSame(batches, [0, 1, 2, 3, 4], 'three batches of 10 files, a no-data batch, the drain batch');
  for (const crash of crashesAt(batches)) {
    await t.test(describeCrash(crash), async (t) => {
      const workDir = t.testdir();
      const crashed = run({ dataDir: data, workDir, out: capture().out, makeJsonSink: (o) => new CrashingJsonSink(o, crash) });
      if (crash.batchId > batches.at(-1)!) await crashed;
      else await t.rejects(crashed, { code: 'ERR_QUERY_FAILED', message: new RegExp(CRASH_MESSAGE) });
      const { out, text } = capture();
      const result = await run({ dataDir: data, workDir, out });
      t.equal(sortTableRows(text()), sortTableRows(expected), 'the same text, the same rows in each table');
      t.equal(await readFile(result.svg, 'utf8'), expectedSvg);
    });
  }
});

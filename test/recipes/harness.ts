/**
 * What the recipe tests share: capturing a recipe's output, golden files,
 * the notebook's data set, and crashing a recipe's JSON sink at a chosen
 * micro-batch to restart it from its checkpoint.
 *
 * Everything comes from the package (`tidemark`, i.e. dist/), as the
 * recipes use it: a sink class from lib/ would be another class to the
 * query driver the recipes run.
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CheckpointSink, type CheckpointSinkOptions, type RecordBatch } from 'tidemark';
import { generateDataset } from 'tidemark/internals';
import { RECIPE_DATA } from '../../recipes/common.js';

/** Golden files: `test/fixtures/recipes/<name>`. Set TIDEMARK_UPDATE_GOLDEN=1 to rewrite them from the current output. */
export const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/recipes/', import.meta.url));

/** A writable that keeps what a recipe prints. */
export function capture(): { out: Writable; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { out, text: () => text };
}

/** The golden text `name`, rewritten first from `actual` when TIDEMARK_UPDATE_GOLDEN=1. */
export async function golden(name: string, actual: string): Promise<string> {
  const path = join(GOLDEN_DIR, name);
  if (process.env['TIDEMARK_UPDATE_GOLDEN'] === '1') {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, actual);
  }
  return readGolden(name);
}

/** The golden text `name`. */
export function readGolden(name: string): Promise<string> {
  return readFile(join(GOLDEN_DIR, name), 'utf8');
}

/** Generates the recipes' data set (30 files × 400 events, seed 1) into `dir`; returns `dir`. */
export async function notebookData(dir: string): Promise<string> {
  await generateDataset(dir, RECIPE_DATA);
  return dir;
}

/** Batch ids committed in a checkpoint, ascending. */
export async function committedBatches(checkpointLocation: string): Promise<number[]> {
  const names = await readdir(join(checkpointLocation, 'commits'));
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Where a crash happens: right after the sink wrote batch `batchId`'s output
 * but before the batch committed, or when batch `batchId` reaches the sink,
 * i.e. after batch `batchId - 1` committed and batch `batchId` was planned
 * (its offsets written) and run through the stages.
 */
export interface Crash {
  readonly batchId: number;
  readonly when: 'after-write' | 'before-write';
}

/** The error the crashing sink throws. */
export const CRASH_MESSAGE = 'injected crash';

/** The JSON sink, failing once at {@link Crash}: the query stops with that error, as a killed process would, leaving its files as they were. */
export class CrashingJsonSink extends CheckpointSink {
  readonly crash: Crash;

  constructor(options: CheckpointSinkOptions, crash: Crash) {
    super(options);
    this.crash = crash;
  }

  protected override async writeBatch(batchId: number, batches: readonly RecordBatch[]): Promise<number> {
    if (this.crash.when === 'before-write' && batchId === this.crash.batchId) throw new Error(`${CRASH_MESSAGE} before writing batch ${batchId}`);
    const written = await super.writeBatch(batchId, batches);
    if (this.crash.when === 'after-write' && batchId === this.crash.batchId) throw new Error(`${CRASH_MESSAGE} after writing batch ${batchId}`);
    return written;
  }
}

/**
 * The crashes at every micro-batch boundary of a run that committed
 * `batches`: for each k, after batch k's output was written but before its
 * commit, and after its commit (batch k + 1 reaching the sink). The crash
 * after the last commit never fires: that run ends normally and is simply
 * restarted.
 */
export function crashesAt(batches: readonly number[]): Crash[] {
  return batches.flatMap((k) => [
    { batchId: k, when: 'after-write' as const },
    { batchId: k + 1, when: 'before-write' as const },
  ]);
}

/** A crash in words, for test names. */
export function describeCrash(crash: Crash): string {
  return crash.when === 'after-write' ? `sink wrote batch ${crash.batchId}, crash before its commit` : `batch ${crash.batchId - 1} committed, crash as batch ${crash.batchId} reaches the sink`;
}

import type { Image } from '../png.js';
export { decodePng, type Image } from '../png.js';

/** A rectangle of an image: `[x0, x1) × [y0, y1)`. */
export interface Region {
  readonly x0: number;
  readonly x1: number;
  readonly y0: number;
  readonly y1: number;
}

/** Pixels of `region` within `tolerance` of colour `rgb` in every channel, and their mean row. */
export function pixelsOf(img: Image, rgb: readonly number[], region: Region, tolerance = 12): { count: number; meanY: number } {
  let count = 0;
  let sumY = 0;
  for (let y = Math.max(0, region.y0); y < Math.min(img.height, region.y1); y++) {
    for (let x = Math.max(0, region.x0); x < Math.min(img.width, region.x1); x++) {
      const i = (y * img.width + x) * 4;
      if (Math.abs(img.rgba[i]! - rgb[0]!) <= tolerance && Math.abs(img.rgba[i + 1]! - rgb[1]!) <= tolerance && Math.abs(img.rgba[i + 2]! - rgb[2]!) <= tolerance) {
        count++;
        sumY += y;
      }
    }
  }
  return { count, meanY: count === 0 ? NaN : sumY / count };
}

/** `#rrggbb` as [r, g, b]. */
export function rgbOf(hex: string): [number, number, number] {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
}

/**
 * `text` with the body rows of every show() table sorted. A restarted query
 * writes the same rows, but not always in the same order (the order groups
 * come out of the state depends on the run's history, as in Spark, which
 * promises no order either); everything else must match exactly.
 */
export function sortTableRows(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    // A table: border, header, border, body rows, border.
    if (lines[i]!.startsWith('+-') && lines[i + 2]?.startsWith('+-') === true) {
      out.push(lines[i]!, lines[i + 1]!, lines[i + 2]!);
      let end = i + 3;
      while (end < lines.length && lines[end]!.startsWith('|')) end++;
      out.push(...lines.slice(i + 3, end).sort());
      i = end - 1;
      continue;
    }
    out.push(lines[i]!);
  }
  return out.join('\n');
}

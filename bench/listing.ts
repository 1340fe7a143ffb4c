/**
 * What listing a file source's directory costs (`listFiles`, which a file
 * source runs at every trigger, and once for `availableNow`): a directory
 * of `--files` empty files (made once under `bench/data/`), and the
 * benchmark's data set.
 *
 * Prints the median over `--rounds` listings in ms, and the longest time the
 * event loop waited for a turn during one (a timer due every millisecond,
 * late by that much). With `--baseline DIR`, the same for
 * `DIR/dist/sources/file-listing.js` (another checkout, built), in alternate
 * rounds, after checking that both list the same paths, sizes and mtimes.
 *
 * `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/listing.js [--files 10000] [--baseline DIR] [--rounds 9]`
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DATA_DEFAULTS, DATA_ROOT, ROOT, dataSetName, flags, intFlag, isMain, median } from './common.js';

interface FileEntry {
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
}
type ListFiles = (dir: string) => Promise<FileEntry[]>;

async function listFilesFrom(dist: string): Promise<ListFiles> {
  return ((await import(pathToFileURL(join(dist, 'sources', 'file-listing.js')).href)) as { listFiles: ListFiles }).listFiles;
}

/** A directory of `count` empty files, made once. */
function manyFiles(count: number): string {
  const dir = join(DATA_ROOT, `listing-${count}`);
  if (existsSync(dir) && readdirSync(dir).length === count) return dir;
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, `part-${String(i).padStart(6, '0')}.json`), '');
  return dir;
}

/** `list(dir)`'s time, and the longest wait for a timer due every millisecond meanwhile. */
async function timed(list: ListFiles, dir: string): Promise<{ ms: number; stallMs: number }> {
  let stallMs = 0;
  let due = performance.now() + 1;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - due);
    due = now + 1;
  }, 1);
  const started = performance.now();
  await list(dir);
  const ms = performance.now() - started;
  clearInterval(timer);
  return { ms, stallMs: Math.max(stallMs, performance.now() - due) };
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = flags(argv, { files: { type: 'string' }, baseline: { type: 'string' }, rounds: { type: 'string' } });
  const rounds = intFlag(values.rounds, 'rounds', 9);
  const dirs = [manyFiles(intFlag(values.files, 'files', 10_000)), join(DATA_ROOT, dataSetName(DATA_DEFAULTS))].filter((d) => existsSync(d));
  const cases: Array<{ name: string; list: ListFiles }> = [{ name: 'this build', list: await listFilesFrom(join(ROOT, 'dist')) }];
  if (typeof values.baseline === 'string') cases.push({ name: 'baseline', list: await listFilesFrom(join(resolve(values.baseline), 'dist')) });
  for (const dir of dirs) {
    if (cases.length === 2 && JSON.stringify(await cases[0]!.list(dir)) !== JSON.stringify(await cases[1]!.list(dir))) throw new Error(`the baseline lists ${dir} otherwise`);
    const figures = cases.map(() => ({ ms: [] as number[], stallMs: [] as number[] }));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order.filter((i) => i < cases.length)) {
        const { ms, stallMs } = await timed(cases[i]!.list, dir);
        figures[i]!.ms.push(ms);
        figures[i]!.stallMs.push(stallMs);
      }
    }
    console.log(`${dir}: ${readdirSync(dir).length} entries`);
    cases.forEach((c, i) => console.log(`  ${c.name.padEnd(10)}  median ${median(figures[i]!.ms).toFixed(2)} ms a listing, the event loop waiting at most ${Math.max(...figures[i]!.stallMs).toFixed(1)} ms`));
  }
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));

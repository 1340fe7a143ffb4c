/**
 * Where tidemark's time goes: runs the `tidemark` scenario's command once
 * under `node --cpu-prof` and prints, per thread (the main thread, then each
 * count worker), the functions with the most self time, and for the main
 * thread self time by file. The `.cpuprofile` is kept (open it in Chrome
 * DevTools → Performance, or VS Code) under `bench/data/_profiles/`.
 *
 * `node dist-bench/profile.js [--files N --lines N --seed N] [--slide "10 minutes"] [--top 25]`
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATA_DEFAULTS, DATA_ROOT, ROOT, flags, intFlag, seedFlag } from './common.js';
import { ensureDataSet, warmPageCache } from './data.js';
import { readTidemarkOutput, tidemarkArgs } from './scenarios/tidemark.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const { values } = flags(process.argv.slice(2), {
  files: { type: 'string' },
  lines: { type: 'string' },
  seed: { type: 'string' },
  slide: { type: 'string' },
  top: { type: 'string' },
});
const top = intFlag(values.top, 'top', 25);
const data = await ensureDataSet({
  files: intFlag(values.files, 'files', DATA_DEFAULTS.files),
  lines: intFlag(values.lines, 'lines', DATA_DEFAULTS.lines),
  seed: seedFlag(values.seed, DATA_DEFAULTS.seed),
});
await warmPageCache(data.files);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileDir = join(DATA_ROOT, '_profiles', stamp);
const runDir = join(DATA_ROOT, '_scratch', `profile-${process.pid}`);
await rm(runDir, { recursive: true, force: true });
await mkdir(profileDir, { recursive: true });
const args = ['--cpu-prof', '--cpu-prof-dir', profileDir, ...tidemarkArgs(data.dir, runDir, typeof values.slide === 'string' ? { slide: values.slide } : {})];
const started = performance.now();
const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
const wallMs = performance.now() - started;
if (run.status !== 0) throw new Error(`tidemark run failed (status ${run.status}): ${run.stderr}`);
const output = await readTidemarkOutput(join(runDir, 'output'), 3600);
await rm(runDir, { recursive: true, force: true });

// One profile per thread, named `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`; thread 0 is the main thread.
const threadOf = (name: string): number => Number(/\.(\d+)\.\d+\.cpuprofile$/.exec(name)?.[1] ?? 0);
const files = (await readdir(profileDir)).filter((n) => n.endsWith('.cpuprofile')).sort((a, b) => threadOf(a) - threadOf(b));
if (files.length === 0) throw new Error(`no .cpuprofile in ${profileDir}`);

const where = (url: string): string => {
  if (url === '') return '';
  try {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    return path.startsWith('/') ? relative(ROOT, path) : path;
  } catch {
    return url;
  }
};

interface ThreadSummary {
  readonly totalUs: number;
  readonly byFunction: Map<string, { name: string; at: string; us: number }>;
  readonly byFile: Map<string, number>;
}

function summarise(profile: CpuProfile): ThreadSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the delta to the next sample.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + delta);
  }
  const byFunction = new Map<string, { name: string; at: string; us: number }>();
  const byFile = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const at = frame.url === '' ? '' : `${where(frame.url)}:${frame.lineNumber + 1}`;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name}\u0000${at}`;
    const entry = byFunction.get(key) ?? { name, at, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const fileKey = frame.url === '' ? name : where(frame.url);
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
    totalUs += us;
  }
  return { totalUs, byFunction, byFile };
}

const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const lines: string[] = [];
lines.push(`tidemark run${values.slide === undefined ? '' : ` --slide "${values.slide}"`} on ${data.events.toLocaleString('en-US')} events under --cpu-prof: ${(wallMs / 1000).toFixed(2)} s wall (profiling slows it), ${output.rows} output rows, ${files.length} thread(s)`);
for (const [index, file] of files.entries()) {
  const summary = summarise(JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile);
  const pct = (us: number): string => `${((100 * us) / summary.totalUs).toFixed(1).padStart(5)}%`;
  const limit = index === 0 ? top : Math.min(top, 8);
  lines.push('');
  lines.push(`${index === 0 ? 'main thread' : `count worker ${index}`}: ${(summary.totalUs / 1e6).toFixed(2)} s sampled — ${relative(ROOT, join(profileDir, file))}`);
  lines.push(`top ${limit} functions by self time:`);
  for (const f of [...summary.byFunction.values()].sort((a, b) => b.us - a.us).slice(0, limit)) lines.push(`${ms(f.us)} ${pct(f.us)}  ${f.name}  ${f.at}`);
  if (index === 0) {
    lines.push('self time by file:');
    for (const [name, us] of [...summary.byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`${ms(us)} ${pct(us)}  ${name}`);
  }
}
process.stdout.write(lines.join('\n') + '\n');

/**
 * Baseline `bare-loop`: what a Node user writes — read a file, split it into
 * lines, `JSON.parse` each, count in a `Map` by (action, hour). No streaming,
 * no checkpoint, the whole file in memory at once.
 *
 * `node dist-bench/scenarios/bare-loop.js DATA_DIR`
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { countKey, countsToJson, dataFiles, printScenarioOutput } from '../common.js';

const dir = process.argv[2]!;
const counts = new Map<string, number>();
let events = 0;
let bytes = 0;
for (const file of await dataFiles(dir)) {
  const text = await readFile(file, 'utf8');
  bytes += Buffer.byteLength(text);
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const e = JSON.parse(line) as { time: number; action: string };
    const key = countKey(e.action, Math.floor(e.time / 3600) * 3600);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    events++;
  }
}
printScenarioOutput({ events, bytes, counts: countsToJson(counts) });

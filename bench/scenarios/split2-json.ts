/**
 * Baseline `split2-json`: the streaming way a Node user writes it —
 * `createReadStream` → `split2(JSON.parse)` → a `Writable` that gets one
 * object per write and counts in a `Map` by (action, hour).
 *
 * `node dist-bench/scenarios/split2-json.js DATA_DIR`
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import split2 from 'split2';
import { countKey, countsToJson, dataFiles, printScenarioOutput } from '../common.js';

const dir = process.argv[2]!;
const counts = new Map<string, number>();
let events = 0;
let bytes = 0;
for (const file of await dataFiles(dir)) {
  bytes += (await stat(file)).size;
  await pipeline(
    createReadStream(file),
    split2(JSON.parse),
    new Writable({
      objectMode: true,
      write(e: { time: number; action: string }, _encoding, callback) {
        const key = countKey(e.action, Math.floor(e.time / 3600) * 3600);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        events++;
        callback();
      },
    }),
  );
}
printScenarioOutput({ events, bytes, counts: countsToJson(counts) });

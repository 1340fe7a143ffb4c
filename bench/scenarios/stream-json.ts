/**
 * Baseline `stream-json`: stream-json's JSON-lines parser (`{ key, value }`
 * per line) into a `Writable` counting in a `Map` by (action, hour).
 *
 * `node dist-bench/scenarios/stream-json.js DATA_DIR`
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import jsonlParser from 'stream-json/jsonl/parser.js';
import { countKey, countsToJson, dataFiles, printScenarioOutput } from '../common.js';

const dir = process.argv[2]!;
const counts = new Map<string, number>();
let events = 0;
let bytes = 0;
for (const file of await dataFiles(dir)) {
  bytes += (await stat(file)).size;
  await pipeline(
    createReadStream(file),
    jsonlParser.asStream(),
    new Writable({
      objectMode: true,
      write(item: { value: { time: number; action: string } }, _encoding, callback) {
        const e = item.value;
        const key = countKey(e.action, Math.floor(e.time / 3600) * 3600);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        events++;
        callback();
      },
    }),
  );
}
printScenarioOutput({ events, bytes, counts: countsToJson(counts) });

/**
 * Baseline `duckdb-iot-2`: issue 12's aggregate query on the IoT readings
 * by DuckDB (`@duckdb/node-api`, in process, `SET threads=N`): count, sum,
 * avg, min and max of the temperature per device and 5-minute window, one
 * `GROUP BY` over `read_ndjson` with the schema given (the oracle's query,
 * `bench/iot-oracle.ts`). No state, no checkpoint.
 *
 * `node dist-bench/scenarios/duckdb-iot.js DATA_DIR --threads N` prints one
 * JSON line: `events`, `bytes`, `counts: null` and `groups` (`[device,
 * windowStartSeconds, count, sum, avg, min, max]`), which the runner checks
 * against the oracle's table.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dataFiles, flags, intFlag } from '../common.js';
import { duckdbAggregates } from '../iot-oracle.js';

const { values, positionals } = flags(process.argv.slice(2), { threads: { type: 'string' } });
const dir = positionals[0]!;
const threads = intFlag(values.threads, 'threads', 2);

const table = await duckdbAggregates(join(dir, 'part-*.json'), threads);
let events = 0;
const groups: unknown[] = [];
for (const [key, row] of table) {
  const [device, start] = key.split('\t');
  groups.push([device, Number(start), ...row]);
  events += row[0];
}
let bytes = 0;
for (const file of await dataFiles(dir)) bytes += (await stat(file)).size;
process.stdout.write(JSON.stringify({ events, bytes, counts: null, groups }) + '\n');

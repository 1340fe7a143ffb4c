/**
 * Baselines `duckdb-1` and `duckdb-2`: DuckDB (`@duckdb/node-api`, in
 * process) with `SET threads=N`, one `GROUP BY` over `read_ndjson` with the
 * schema given (no sampling), the 1-hour window as `floor(time/3600)*3600`.
 * What a user of DuckDB-on-a-cron would run; no state, no checkpoint.
 *
 * `node dist-bench/scenarios/duckdb.js DATA_DIR --threads N`
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { countKey, countsToJson, dataFiles, flags, intFlag, printScenarioOutput } from '../common.js';

const { values, positionals } = flags(process.argv.slice(2), { threads: { type: 'string' } });
const dir = positionals[0]!;
const threads = intFlag(values.threads, 'threads', 1);
const glob = join(dir, 'part-*.json').replaceAll("'", "''");

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run(`SET threads=${threads}`);
const result = await connection.runAndReadAll(
  `SELECT action, CAST(floor(time / 3600) * 3600 AS BIGINT) AS window_start, count(*) AS n
   FROM read_ndjson('${glob}', columns = {time: 'BIGINT', action: 'VARCHAR'})
   GROUP BY ALL`,
);
const counts = new Map<string, number>();
let events = 0;
for (const [action, start, n] of result.getRows()) {
  counts.set(countKey(String(action), Number(start)), Number(n));
  events += Number(n);
}
connection.closeSync();
instance.closeSync();
let bytes = 0;
for (const file of await dataFiles(dir)) bytes += (await stat(file)).size;
printScenarioOutput({ events, bytes, counts: countsToJson(counts) });

/**
 * Baseline `read-bytes`: read every file and count its bytes, nothing else —
 * the floor any approach pays for the input (page cache warm). It computes
 * no counts, so the runner checks only its byte total.
 *
 * `node dist-bench/scenarios/read-bytes.js DATA_DIR`
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { dataFiles, printScenarioOutput } from '../common.js';

const dir = process.argv[2]!;
let bytes = 0;
for (const file of await dataFiles(dir)) bytes += (await readFile(file)).length;
printScenarioOutput({ events: 0, bytes, counts: null });

/**
 * Issue 10, defect 14: CommonJS users crashed at run time — `require('tidemark')`
 * compiled but failed with `ERR_PACKAGE_PATH_NOT_EXPORTED`. The `exports`
 * map has a `default` condition, and nothing the package loads when it is
 * required has a top-level await, so Node ≥ 20.19 can `require` it.
 *
 * Run on the built package (`npm test` builds first), from a `.cjs` file
 * in a child process, resolved through `node_modules` as an installed
 * package is.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

const SCRIPT = `
const tidemark = require('tidemark');
const plot = require('tidemark/plot');
const { version } = require('tidemark/package.json');
const rows = [{ window: { start: '2016-07-26T00:00:00.000Z' }, action: 'Open', count: 1 }];
plot.renderSvg(plot.buildLineChartSpec(rows, { x: 'start', series: 'action', y: 'count' })).then((svg) => {
  console.log(JSON.stringify({
    startQuery: typeof tidemark.startQuery,
    ParseSchema: typeof tidemark.ParseSchema,
    error: new tidemark.TidemarkError('ERR_INVALID_OPTION', 'x').code,
    version: typeof version,
    svg: svg.startsWith('<svg'),
  }));
});
`;

t.test('defect 14: require("tidemark") and require("tidemark/plot") work from CommonJS', async (t) => {
  const dir = t.testdir();
  await mkdir(join(dir, 'node_modules'));
  await symlink(PACKAGE_ROOT, join(dir, 'node_modules', 'tidemark'), 'dir');
  await writeFile(join(dir, 'main.cjs'), SCRIPT);
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(dir, 'main.cjs')], { cwd: dir }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
  t.equal(stderr, '');
  t.equal(code, 0);
  t.strictSame(JSON.parse(stdout), { startQuery: 'function', ParseSchema: 'function', error: 'ERR_INVALID_OPTION', version: 'string', svg: true });
});

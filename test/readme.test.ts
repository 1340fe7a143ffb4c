/**
 * The README's first example runs as written (with its paths in a temp
 * directory), importing the package by name as a user would.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { generateDataset } from '../lib/gen.js';
import { readCommittedJsonLines } from '../lib/sinks/file-sink-log.js';

const root = fileURLToPath(new URL('..', import.meta.url));

t.test('the README example runs the notebook query and writes committed JSON output', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
  const dir = t.testdir();
  await generateDataset(join(dir, 'datasets', 'time-series'), { files: 3, lines: 300, seed: 7 });
  // Run from the package folder so that `import 'tidemark'` resolves to this package, with paths under the temp dir.
  const script = join(root, `.readme-example-${process.pid}.mjs`);
  await writeFile(script, example.replaceAll("'./", `'${dir}/`));
  t.teardown(() => import('node:fs/promises').then((fs) => fs.rm(script, { force: true })));
  await promisify(execFile)(process.execPath, [script], { cwd: root });
  const lines = [];
  for await (const line of readCommittedJsonLines(join(dir, 'out'))) lines.push(JSON.parse(line.text) as { action: string; count: number });
  t.ok(lines.length > 0, 'windows came out');
  t.ok(lines.every((l) => ['Open', 'Close', 'Click', 'Scroll'].includes(l.action) && l.count > 0));
});

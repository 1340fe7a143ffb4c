/**
 * The published package (issue 17 §5): what `npm pack` puts in it.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The paths `npm pack` would put in the tarball (of the current build: run `npm run build` first). */
async function packedFiles(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
  return (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
}

t.test('the package ships the Apache-2.0 LICENSE it declares, every export target, and no source map', async (t) => {
  const files = await packedFiles();
  const pkg = JSON.parse(await readFile(new URL('package.json', `file://${root}/`), 'utf8')) as { license: string; exports: Record<string, unknown>; bin: Record<string, string> };
  t.equal(pkg.license, 'Apache-2.0');
  t.ok(files.includes('LICENSE'), 'LICENSE');
  t.match(await readFile(new URL('LICENSE', `file://${root}/`), 'utf8'), /^\s*Apache License\s+Version 2\.0, January 2004\s/);
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as Record<string, string>)));
  for (const target of [...targets, ...Object.values(pkg.bin)]) t.ok(files.includes(target.replace(/^\.\//, '')), `${target} is shipped`);
  // A map points at lib/*.ts, which is not shipped: a debugger would show nothing, a bundler warns.
  t.strictSame(files.filter((f) => f.endsWith('.map')), [], 'no source maps (they would point at sources the package does not ship)');
  t.strictSame(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');
});

/**
 * The shape of lib/ as ARCHITECTURE.md draws it: no import cycle; core/
 * pure (no node: module, nothing outside core/ but the errors); sources,
 * stages and sinks independent of the query driver.
 */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

// Every `import … from '…'` and `export … from '…'` of a module, type-only ones included.
async function importsOf(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'([^']+)';/gms)) specifiers.push(m[1]!);
  for (const m of text.matchAll(/^import\s+'([^']+)';/gm)) specifiers.push(m[1]!);
  return specifiers;
}

async function graph(): Promise<Map<string, { relative: string[]; external: string[] }>> {
  const out = new Map<string, { relative: string[]; external: string[] }>();
  for (const path of await files(LIB)) {
    const name = relative(LIB, path);
    const relativeImports: string[] = [];
    const external: string[] = [];
    for (const s of await importsOf(path)) {
      if (s.startsWith('.')) relativeImports.push(relative(LIB, resolve(dirname(path), s)).replace(/\.js$/, '.ts'));
      else external.push(s);
    }
    out.set(name, { relative: relativeImports, external });
  }
  return out;
}

t.test('lib/ has no import cycle', async (t) => {
  const g = await graph();
  // Tarjan's strongly connected components: a component of more than one module is a cycle.
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v)?.relative ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || g.get(v)!.relative.includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  let edges = 0;
  for (const { relative: rel } of g.values()) edges += rel.filter((r) => g.has(r)).length;
  t.ok(edges > 200, `the imports were read (${edges} between lib modules)`);
  t.strictSame(cycles, []);
});

t.test('core/ imports no node: module and nothing outside core/ but the errors', async (t) => {
  const g = await graph();
  const offending: string[] = [];
  for (const [name, { relative: rel, external }] of g) {
    if (!name.startsWith('core/')) continue;
    for (const s of external) if (s.startsWith('node:')) offending.push(`${name} imports ${s}`);
    for (const r of rel) if (!r.startsWith('core/') && r !== 'errors.ts') offending.push(`${name} imports ${r}`);
  }
  t.strictSame(offending, []);
});

t.test('sources, stages and sinks import nothing from query/', async (t) => {
  const g = await graph();
  const offending: string[] = [];
  for (const [name, { relative: rel }] of g) {
    if (!/^(sources|stages|sinks)\//.test(name)) continue;
    for (const r of rel) if (r.startsWith('query/')) offending.push(`${name} imports ${r}`);
  }
  t.strictSame(offending, []);
});

t.test('the main entry exports at most 80 names, types included; the rest is in tidemark/internals', async (t) => {
  const ts = (await import('typescript')).default;
  const entry = fileURLToPath(new URL('../../dist/index.d.ts', import.meta.url));
  const program = ts.createProgram([entry], { skipLibCheck: true });
  const checker = program.getTypeChecker();
  const names = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!).map((s) => s.name);
  t.ok(names.length > 20 && names.length <= 80, `${names.length} names`);
  for (const name of ['startQuery', 'FileSource', 'ParseSchema', 'KeyedAggregate', 'CheckpointSink', 'TidemarkError', 'microBatches']) t.ok(names.includes(name), name);
  const internals = await import('tidemark/internals');
  t.type(internals.JsonReader, 'function', 'internals are reachable through tidemark/internals');
});

t.test('the package ships the LICENSE it declares and every export target; no conformance runner, tests, recipes, sources or source maps', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
  const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  t.ok(files.includes('dist/index.js'));
  t.strictSame(files.filter((f) => /conformance|^test\/|^recipes\/|^dist-/.test(f)), []);
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { license: string; exports: Record<string, unknown>; bin: Record<string, string>; typesVersions?: unknown };
  t.equal(pkg.license, 'Apache-2.0');
  t.ok(files.includes('LICENSE'), 'LICENSE');
  t.match(await readFile(join(root, 'LICENSE'), 'utf8'), /^\s*Apache License\s+Version 2\.0, January 2004\s/);
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as Record<string, string>)));
  for (const target of [...targets, ...Object.values(pkg.bin)]) t.ok(files.includes(target.replace(/^\.\//, '')), `${target} is shipped`);
  // TypeScript's node10 resolution ignores `exports`: `typesVersions` gives it each subpath's types (arethetypeswrong checks this).
  const subpaths = Object.entries(pkg.exports).filter(([k, v]) => k !== '.' && typeof v !== 'string');
  t.strictSame(
    pkg.typesVersions,
    { '*': Object.fromEntries(subpaths.map(([k, v]) => [k.slice(2), [(v as { types: string }).types]])) },
    'typesVersions maps every subpath to its types',
  );
  // A map would point at lib/*.ts, which is not shipped: a debugger would show nothing, a bundler warns.
  t.strictSame(files.filter((f) => f.endsWith('.map')), [], 'no source maps (they would point at sources the package does not ship)');
  t.strictSame(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');
});

/**
 * Checkpoints written by earlier releases, kept under test/fixtures with
 * their absolute paths replaced by a placeholder: installing one for a
 * restart test, and reading what its output committed.
 */
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checksumFile, checksumPath, isChecksumName } from '../../lib/checkpoint/checksum.js';
import { readCommittedJsonLines } from '../../lib/sinks/file-sink-log.js';

/**
 * Copies the fixture directory `fixture` under `root` (its README left
 * out), every `placeholder` in its files replaced by `replacement`. With
 * `sidecars`, each rewritten file gets its checksum sidecar anew (a
 * release that wrote sidecars); a release before them had none to rewrite.
 */
export async function installFixture(fixture: string, root: string, o: { placeholder: string; replacement: string; sidecars: boolean }): Promise<void> {
  await cp(fixture, root, { recursive: true, filter: (src) => !src.endsWith('README.md') });
  const rewrite = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await rewrite(path);
      else if (!isChecksumName(entry.name)) {
        const text = await readFile(path, 'utf8');
        if (!text.includes(o.placeholder)) continue;
        const bytes = Buffer.from(text.replaceAll(o.placeholder, o.replacement), 'utf8');
        await writeFile(path, bytes);
        if (o.sidecars) await writeFile(checksumPath(path), checksumFile(bytes));
      }
    }
  };
  await rewrite(root);
}

/** The lines an output directory committed (non-empty), sorted. */
export async function committedLines(out: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const { text } of readCommittedJsonLines(out)) if (text !== '') lines.push(text);
  return lines.sort();
}

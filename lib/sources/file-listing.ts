/**
 * The file system side of the file source: listing a directory or a Hadoop
 * glob the way Spark's `InMemoryFileIndex` does, file URIs, archive paths.
 * The selection rules themselves (which files a batch takes, the source log
 * format) are pure, in `core/file-selection.ts`.
 *
 * @module
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { statSync, type BigIntStats, type Dirent } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { basename, join, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import type picomatchModule from 'picomatch';
import { TidemarkError } from '../errors.js';
import { isVisibleName, type FileEntry } from '../core/file-selection.js';

/** Options of {@link listFiles}. */
export interface ListFilesOptions {
  /**
   * Descend into sub-directories (Spark's `recursiveFileLookup`). Off by
   * default because Spark lists only the files directly in the source
   * directory unless the sub-directories are `key=value` partitions or
   * `recursiveFileLookup=true` is set.
   */
  recursive?: boolean;
}

/**
 * Lists the files a file source sees in `dir`, applying
 * {@link isVisibleName} to every name below `dir` (a hidden directory hides
 * everything under it).
 *
 * Order: the files of a directory sorted by name (UTF-16 code units), then
 * the files of its visible sub-directories, each in name order. Spark's order
 * for files with equal modification time is whatever the file system returns
 * (the later sort by mtime is stable and has no path tie-break), so it is not
 * reproducible across machines; sorting by name makes ours deterministic.
 *
 * Symbolic links are followed (as Hadoop's local file system does); dangling
 * links, files that vanish between `readdir` and `stat`, and a missing `dir`
 * (Spark: "The directory … was not found. Was it deleted very recently?")
 * yield nothing rather than an error. `key=value` partition directories are
 * not descended into unless `recursive` is set: tidemark has no partition
 * columns.
 *
 * Files are stat'ed synchronously, about 2 ms of them at a time between
 * turns of the event loop: far cheaper than a stat through the thread pool
 * each, for directories of thousands of files.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` (with `file`) when a directory or
 * file cannot be read for another reason (permissions, I/O).
 */
export async function listFiles(dir: string, options: ListFilesOptions = {}): Promise<FileEntry[]> {
  const root = resolve(dir);
  const rootStat = await rootStatOrNull(root);
  if (rootStat === null) return [];
  if (!rootStat.isDirectory()) {
    return rootStat.isFile() ? [{ path: root, mtimeMs: Number(rootStat.mtimeNs / 1_000_000n), size: Number(rootStat.size) }] : [];
  }
  const out: FileEntry[] = [];
  const ancestors = new Set<string>([await realpathOrSelf(root)]);
  await listInto(root, options.recursive === true, out, ancestors, new Slices());
  return out;
}

/**
 * The files of a listing are stat'ed on the calling thread, a slice at a
 * time. Through the thread pool each stat cost the query's thread tens of µs
 * of promise and callback work for a system call of a few, and a file
 * source lists its directory at every trigger: 10,000 files took 411–416 ms
 * one stat after another (180–300 ms with 8 or 64 in flight), 74–78 ms this
 * way (`bench/listing.ts`). The event loop runs between slices, so a listing
 * holds the thread about {@link SLICE_MS} at a time (plus the stat under
 * way: one that hangs, on a network file system, holds it until it returns).
 */
class Slices {
  #since = performance.now();

  /** True once this slice has held the thread long enough: then `await` {@link Slices.pause}. */
  get due(): boolean {
    return performance.now() - this.#since >= SLICE_MS;
  }

  /** Lets the event loop run, and starts the next slice. */
  async pause(): Promise<void> {
    await nextTurn();
    this.#since = performance.now();
  }
}

/** How long a listing holds the thread before the event loop runs again, in ms. */
const SLICE_MS = 2;

async function listInto(dir: string, recursive: boolean, out: FileEntry[], ancestors: Set<string>, slices: Slices): Promise<void> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
    throw fileSourceError(`Unable to list directory ${dir}`, dir, err);
  }
  const names = dirents
    .filter((d) => isVisibleName(d.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const subdirs: string[] = [];
  for (const d of names) {
    const path = join(dir, d.name);
    if (d.isDirectory()) {
      if (recursive) subdirs.push(path);
      continue;
    }
    if (!d.isFile() && !d.isSymbolicLink()) continue;
    if (slices.due) await slices.pause();
    const st = statNowOrNull(path);
    if (st === null) continue;
    if (st.isDirectory()) {
      if (recursive) subdirs.push(path);
    } else if (st.isFile()) {
      out.push({ path, mtimeMs: Number(st.mtimeNs / 1_000_000n), size: Number(st.size) });
    }
  }
  for (const sub of subdirs) {
    const real = await realpathOrSelf(sub);
    if (ancestors.has(real)) continue; // a link back up the tree: listing it would never end
    ancestors.add(real);
    await listInto(sub, recursive, out, ancestors, slices);
    ancestors.delete(real);
  }
}

// The listed path itself, through the thread pool (one stat); null when it is gone.
async function rootStatOrNull(path: string): Promise<BigIntStats | null> {
  try {
    return await stat(path, { bigint: true });
  } catch (err) {
    return statFailure(path, true, err);
  }
}

/** A path below the root, stat'ed on the calling thread (see {@link Slices}); null when it is gone or a link cycle. */
function statNowOrNull(path: string): BigIntStats | null {
  try {
    return statSync(path, { bigint: true });
  } catch (err) {
    return statFailure(path, false, err);
  }
}

// Gone is nothing to list; anything else is the listing's error.
function statFailure(path: string, isRoot: boolean, err: unknown): null {
  if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return null;
  if (!isRoot && isCode(err, 'ELOOP')) return null; // a link cycle points at nothing
  throw fileSourceError(`Unable to stat ${path}`, path, err);
}

async function realpathOrSelf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function fileSourceError(message: string, file: string, cause: unknown): TidemarkError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new TidemarkError('ERR_FILE_SOURCE', message + detail, { file, cause });
}

// ---------------------------------------------------------------------------------------------
// Input paths and globs

/** Hadoop's glob characters (`GlobPattern` / `SparkHadoopUtil.isGlobPath`). */
const GLOB_CHARS = /[{}[\]*?\\]/;

/**
 * Spark's `SparkHadoopUtil.isGlobPath`: a path with any of `{ } [ ] * ? \`
 * is a glob pattern.
 */
export function isGlobPath(path: string): boolean {
  return GLOB_CHARS.test(path);
}

/**
 * A file source's path: a directory, a file, or a Hadoop glob pattern
 * (`data/*.json`, `logs/2016-*` , `in/{a,b}/[0-9]?.json`), made absolute.
 *
 * A glob is matched one path component at a time, as Hadoop's `Globber`
 * does: `*` and `?` never match `/`, `[abc]`, `[a-c]`, `[^a]` / `[!a]` match
 * one character, `{a,b}` is an alternation, `\` escapes the next character,
 * and every other character (`( ) | + @ !`…) stands for itself. Names
 * starting with `.` or `_` are matched too (Hadoop has no hidden names; the
 * file source's own filter applies to the files listed, see
 * {@link listInputFiles}). Matching is done by picomatch, given Hadoop's
 * meaning for the characters where the two differ.
 */
export class InputPattern {
  /** The absolute path or pattern. */
  readonly path: string;
  /** Whether {@link path} is a glob. */
  readonly isGlob: boolean;
  /** The longest leading part without glob characters: the directory a glob is listed from (the path itself when not a glob). */
  readonly base: string;
  /** The components after {@link base}, each a matcher (empty when not a glob). */
  readonly #components: ReadonlyArray<(name: string) => boolean>;

  /**
   * @throws TidemarkError `ERR_INVALID_OPTION` (option `path`) for a pattern
   * Hadoop refuses (an unclosed `[` or `{`), with Hadoop's text, and for a
   * `{…}` alternative that contains `/`, which tidemark does not expand.
   */
  constructor(path: string) {
    const absolute = resolve(path);
    this.path = absolute;
    this.isGlob = isGlobPath(absolute);
    if (!this.isGlob) {
      this.base = absolute;
      this.#components = [];
      return;
    }
    checkGlobSyntax(absolute);
    const parts = absolute.split('/');
    const first = parts.findIndex((part) => isGlobPath(part));
    this.base = parts.slice(0, first).join('/') || '/';
    this.#components = parts.slice(first).map((part) => compileComponent(part));
  }

  /** How many components a glob matches below {@link base}. */
  get depth(): number {
    return this.#components.length;
  }

  /** Whether `name` matches component `i` (0-based below {@link base}). */
  matches(i: number, name: string): boolean {
    return this.#components[i]!(name);
  }

  /**
   * Whether files under `absolutePath` could be read through this pattern:
   * `absolutePath` is the path, lies inside it, or (for a glob) is or lies
   * inside a path it matches, or holds paths it could match (the first
   * components that both have match). No file system access: symbolic links
   * are the caller's to resolve, passing the real path of {@link base} as `base`.
   */
  covers(absolutePath: string, base: string = this.base): boolean {
    const target = resolve(absolutePath);
    const prefix = base.endsWith('/') ? base.slice(0, -1) : base;
    if (target !== base && !target.startsWith(prefix + '/')) return false;
    if (!this.isGlob) return true;
    const rest = target === base ? [] : target.slice(prefix.length + 1).split('/');
    const n = Math.min(rest.length, this.depth);
    for (let i = 0; i < n; i++) if (!this.matches(i, rest[i]!)) return false;
    return true;
  }
}

// Hadoop's GlobPattern refuses these with an IOException ("Illegal file pattern: …").
function checkGlobSyntax(pattern: string): void {
  let braces = 0;
  let bracketAt = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (bracketAt >= 0) {
      if (c === ']' && i > bracketAt + 1 && !(i === bracketAt + 2 && (pattern[bracketAt + 1] === '^' || pattern[bracketAt + 1] === '!'))) bracketAt = -1;
      continue;
    }
    if (c === '[') bracketAt = i;
    else if (c === '{') braces++;
    else if (c === '}' && braces > 0) braces--;
    else if (c === '/' && braces > 0) {
      throw new TidemarkError('ERR_INVALID_OPTION', `Unsupported file pattern ${pattern}: a {…} alternative containing '/' is not supported; use one alternative per path component`, { option: 'path' });
    }
  }
  if (bracketAt >= 0) throw new TidemarkError('ERR_INVALID_OPTION', `Illegal file pattern: Unclosed character class near index ${pattern.length} for glob: ${pattern}`, { option: 'path' });
  if (braces > 0) throw new TidemarkError('ERR_INVALID_OPTION', `Illegal file pattern: Unclosed group near index ${pattern.length} for glob: ${pattern}`, { option: 'path' });
}

// Loaded on the first glob only: most inputs are a directory, and its six modules cost a
// query's start-up 11–14 ms of the main thread.
const loadModule = createRequire(import.meta.url);
let picomatch: typeof picomatchModule | null = null;

const PICOMATCH_OPTIONS: picomatchModule.PicomatchOptions = {
  dot: true, // Hadoop's `*` matches a leading `.`
  posix: true, // `[!a]` negates, as Hadoop's
  noextglob: true, // `+(a)` `@(a)` `!(a)` are not Hadoop syntax
  noglobstar: true, // `**` is `*` followed by `*`
  nonegate: true, // a leading `!` is a character
};

// One component of a glob: literal when it has no glob character left, else a picomatch matcher
// over the component with Hadoop's literal characters escaped (picomatch reads `(a|b)` as a group).
function compileComponent(part: string): (name: string) => boolean {
  if (!isGlobPath(part)) return (name) => name === part;
  let escaped = '';
  let inClass = false;
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '\\') {
      escaped += c + (part[i + 1] ?? '');
      i++;
    } else if (inClass) {
      escaped += c;
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      escaped += c;
      // A `]` right after `[`, `[^` or `[!` is a member, not the end.
      for (const lead of ['^', '!']) if (part[i + 1] === lead) (escaped += lead), i++;
      if (part[i + 1] === ']') (escaped += ']'), i++;
    } else if ('()|'.includes(c)) {
      escaped += '\\' + c;
    } else {
      escaped += c;
    }
  }
  picomatch ??= loadModule('picomatch') as typeof picomatchModule;
  const match = picomatch(escaped, PICOMATCH_OPTIONS);
  return (name) => match(name);
}

/**
 * Lists the files a file source reads through `input`: for a directory or a
 * file, {@link listFiles}; for a glob, the paths it matches now (Spark
 * expands the glob at every listing, `globPathIfNecessary`), each listed as
 * {@link listFiles} lists a directory, while a matched file is taken as it is
 * unless its name is hidden ({@link isVisibleName}). Matches are taken in
 * name order. A glob that matches nothing yields nothing: Spark accepts such
 * a path at start, since the matching paths may appear later.
 *
 * @throws TidemarkError `ERR_FILE_SOURCE` (with `file`) when a directory or
 * file cannot be read for another reason than being missing.
 */
export async function listInputFiles(input: InputPattern, options: ListFilesOptions = {}): Promise<FileEntry[]> {
  if (!input.isGlob) return listFiles(input.path, options);
  const slices = new Slices();
  let paths = [input.base];
  for (let i = 0; i < input.depth; i++) {
    const last = i === input.depth - 1;
    const next: string[] = [];
    for (const dir of paths) {
      let dirents: Dirent[];
      try {
        dirents = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) continue;
        throw fileSourceError(`Unable to list directory ${dir}`, dir, err);
      }
      const names = dirents.map((d) => d.name).filter((name) => input.matches(i, name));
      names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const name of names) {
        const path = join(dir, name);
        if (last) next.push(path);
        else {
          if (slices.due) await slices.pause();
          if (statNowOrNull(path)?.isDirectory() === true) next.push(path);
        }
      }
    }
    paths = next;
  }
  const out: FileEntry[] = [];
  for (const path of paths) {
    if (slices.due) await slices.pause();
    const st = statNowOrNull(path);
    if (st === null) continue;
    if (st.isDirectory()) for (const f of await listFiles(path, options)) out.push(f);
    else if (st.isFile() && isVisibleName(basename(path))) out.push({ path, mtimeMs: Number(st.mtimeNs / 1_000_000n), size: Number(st.size) });
  }
  return out;
}



/**
 * Where `cleanSource=archive` moves a completed file: the archive directory
 * followed by the file's full absolute path (`/archived/here` +
 * `/a/b/dataset.txt` → `/archived/here/a/b/dataset.txt`), so files of
 * different source directories cannot collide.
 */
export function archivePath(sourceArchiveDir: string, absolutePath: string): string {
  let base = resolve(sourceArchiveDir);
  while (base.endsWith(sep)) base = base.slice(0, -1);
  return base + resolve(absolutePath);
}

/**
 * Spark's check (`SourceFileArchiver`) that archived files can never be
 * listed again as new input: compared at the smaller of the two depths, the
 * archive directory must not lie on the source directory's path.
 *
 * @throws TidemarkError `ERR_INVALID_OPTION` (option `sourceArchiveDir`) with
 * Spark's text.
 */
export function checkArchiveDir(sourceDir: string, sourceArchiveDir: string): void {
  // A glob source is compared component by component through its pattern, as Spark's GlobFilter does.
  const pattern = new InputPattern(sourceDir);
  const src = pattern.path.split(sep).filter((c) => c !== '');
  const literal = pattern.base.split(sep).filter((c) => c !== '').length;
  const arc = resolve(sourceArchiveDir).split(sep).filter((c) => c !== '');
  const depth = Math.min(src.length, arc.length);
  let matched = true;
  for (let i = 0; i < depth; i++) {
    if (i < literal ? src[i] !== arc[i] : !pattern.matches(i - literal, arc[i]!)) {
      matched = false;
      break;
    }
  }
  if (matched) {
    throw new TidemarkError(
      'ERR_INVALID_OPTION',
      'requirement failed: Base archive path cannot be set to the path where archived path can possibly match with ' +
        "source pattern. Ensure the base archive path doesn't match with source pattern in depth, where the depth " +
        'is minimum of depth on both paths.',
      { option: 'sourceArchiveDir' },
    );
  }
}

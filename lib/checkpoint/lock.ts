/**
 * One process per checkpoint: `<dir>/.lock` names the owner
 * (`{"pid","hostname","since","token"}`).
 *
 * Taking it is atomic: the content is written to a claim file first, then
 * hard-linked to `.lock`; `link` fails with EEXIST when the lock exists, so
 * `.lock` appears with its whole content or not at all, and of two
 * simultaneous starters exactly one wins.
 *
 * A lock whose owner died (same host, no such process) is taken over, under
 * a takeover mutex so that two takers cannot both remove it: the mutex is
 * the directory `.lock.takeover`, made by renaming a fresh directory that
 * already holds the taker's `owner.<pid>.<uuid>` file onto that name (an
 * atomic rename fails when the target holds a file). Under it the taker
 * reads `.lock` again and removes it only if it is byte for byte the stale
 * lock it judged (each lock carries a random token, so a new owner's lock
 * never matches), then everyone races for `link` again.
 *
 * A taker that dies holding the mutex: the next taker finds the owner file
 * of a dead process and deletes that one file (its name is unique, so this
 * never touches a later holder's); the empty directory left is replaced by
 * the next rename (renaming onto an empty directory replaces it), and a
 * holder releases by deleting its own file before the directory for the
 * same reason. Every loop is bounded; a lock that cannot be had after them
 * is `ERR_CHECKPOINT_LOCKED`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TidemarkError } from '../errors.js';

/** Name of the lock file in a checkpoint directory. */
export const LOCK_FILE = '.lock';
const TAKEOVER = '.lock.takeover';
const ATTEMPTS = 12;
const CLAIM_NAME = /^\.lock\.(\d+)\.[0-9a-f-]{36}\.claim$/;
const TAKEOVER_TEMP_NAME = /^\.lock\.takeover\.(\d+)\.[0-9a-f-]{36}$/;
const TAKEOVER_OWNER_NAME = /^owner\.(\d+)\.[0-9a-f-]{36}$/;

interface LockOwner {
  pid?: number;
  hostname?: string;
  since?: string;
}

// Checkpoints this process holds, with how many open handles and the token of
// our lock: a new run of a query may open its checkpoint while the old run stops.
const held = new Map<string, { handles: number; token: string }>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A lock (or mutex) recorded by `owner` is held while that process lives. Another
// host's process cannot be checked: held. Our own pid without a handle here is a
// previous process that had the same pid (containers reuse pids): not held.
function holderAlive(owner: LockOwner | null): boolean {
  if (owner === null || typeof owner.pid !== 'number') return false;
  if (owner.hostname !== undefined && owner.hostname !== hostname()) return true;
  return owner.pid !== process.pid && processAlive(owner.pid);
}

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as LockOwner) : null;
  } catch {
    // An empty or cut lock file (written by a release before locks were atomic) names no one.
    return null;
  }
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// `.lock` appears with its content or not at all: true when we made it.
async function tryLink(dir: string, content: string): Promise<boolean> {
  const claim = join(dir, `.lock.${process.pid}.${randomUUID()}.claim`);
  await writeFile(claim, content);
  try {
    await link(claim, join(dir, LOCK_FILE));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    // A file system without hard links: exclusive create, the content written just after (not atomic, but exclusive).
    try {
      await writeFile(join(dir, LOCK_FILE), content, { flag: 'wx' });
      return true;
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw inner;
    }
  } finally {
    await rm(claim, { force: true });
  }
}

// The takeover mutex: a release function, or null when someone else holds it
// (after deleting the owner file of a holder that died).
async function takeMutex(dir: string): Promise<(() => Promise<void>) | null> {
  const target = join(dir, TAKEOVER);
  const id = `${process.pid}.${randomUUID()}`;
  const temp = join(dir, `${TAKEOVER}.${id}`);
  const ownerName = `owner.${id}`;
  await mkdir(temp);
  try {
    await writeFile(join(temp, ownerName), JSON.stringify({ pid: process.pid, hostname: hostname() }));
    await rename(temp, target);
    return async () => {
      await rm(join(target, ownerName), { force: true });
      await rmdir(target).catch(() => {}); // another taker may already have renamed onto the empty directory
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    await rm(temp, { recursive: true, force: true });
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw err;
  }
  let names: string[] = [];
  try {
    names = await readdir(target);
  } catch {
    // Released meanwhile.
  }
  for (const name of names) {
    if (!TAKEOVER_OWNER_NAME.test(name)) continue;
    const text = await readOrNull(join(target, name));
    if (text !== null && !holderAlive(parseOwner(text))) await rm(join(target, name), { force: true });
  }
  return null;
}

/**
 * Takes the lock of checkpoint directory `dir` (re-entrant within a process).
 *
 * @returns true when this call took the lock from the file system (not a further handle of this process)
 * @throws TidemarkError `ERR_CHECKPOINT_LOCKED` naming the owner, when a live process holds it
 */
export async function acquireLock(dir: string): Promise<boolean> {
  const mine = held.get(dir);
  if (mine !== undefined) {
    mine.handles++;
    return false;
  }
  const path = join(dir, LOCK_FILE);
  const token = randomUUID();
  const content = JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString(), token }) + '\n';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (await tryLink(dir, content)) {
      held.set(dir, { handles: 1, token });
      return true;
    }
    const stale = await readOrNull(path);
    if (stale === null) continue; // released meanwhile: race for it again
    const owner = parseOwner(stale);
    if (holderAlive(owner)) {
      throw new TidemarkError(
        'ERR_CHECKPOINT_LOCKED',
        `checkpoint ${dir} is in use by process ${owner!.pid} on ${owner!.hostname ?? 'an unknown host'} (since ${owner!.since ?? 'unknown'}): stop that query first, or delete ${path} if it is gone`,
        { file: path },
      );
    }
    const release = await takeMutex(dir);
    if (release === null) {
      // Another starter is taking the stale lock over right now: let it finish, then look again.
      await sleep(2 * (attempt + 1));
      continue;
    }
    try {
      if ((await readOrNull(path)) === stale) await rm(path, { force: true });
    } finally {
      await release();
    }
  }
  throw new TidemarkError('ERR_CHECKPOINT_LOCKED', `could not lock checkpoint ${dir}: other processes kept taking it over; try again`, { file: path });
}

/** Releases one handle; the lock file goes with the last handle of the process (only if it is still ours). */
export async function releaseLock(dir: string): Promise<void> {
  const mine = held.get(dir);
  if (mine === undefined) return;
  if (mine.handles > 1) {
    mine.handles--;
    return;
  }
  held.delete(dir);
  const path = join(dir, LOCK_FILE);
  const text = await readOrNull(path);
  if (text !== null && (parseOwner(text) as { token?: unknown } | null)?.token === mine.token) await rm(path, { force: true });
}

/**
 * Deletes what crashed lock takers left in `dir` (claim files, takeover
 * directories of dead processes). Call with the lock held.
 */
export async function removeStaleLockFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const m = CLAIM_NAME.exec(name) ?? TAKEOVER_TEMP_NAME.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/**
 * The staging directory of a restore into a new or empty directory: made
 * beside the target (the same file system, so the final rename is atomic),
 * named `.<target name>.cairn-restore-<8 hex>`, holding
 *
 *   owner.json   who made it: {v: 1, target, pid, host, started}, written
 *                atomically right after the directory is created;
 *   tree/        the restored tree, renamed onto the target when complete.
 *
 * A process killed before the rename leaves it behind. The next restore into
 * the same target removes such directories when their owner is known to be
 * gone (same host, no process with that pid): the name must have the pattern,
 * the directory must be a real one, and owner.json must name this target.
 * A directory without a readable owner.json (an older cairn made it, or a
 * restore was killed in the instant between creating it and writing the
 * marker) is never removed, only reported: nothing proves it is not in use.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeError, isErrno } from '../errors.js';
import type { RepoContext } from '../repoContext.js';
import { writeFileAtomic } from '../util/durableFs.js';
import { quoteName } from '../util/quoteName.js';

const OWNER_FILE = 'owner.json';
const TREE_DIR = 'tree';
const SUFFIX = /^[0-9a-f]{8}$/;

export interface TargetStaging {
  /** The staging directory (beside the target). */
  dir: string;
  /** Where the tree is written: renamed onto the target when complete. */
  tree: string;
}

interface StagingOwner {
  v: 1;
  target: string;
  pid: number;
  host: string;
  started: string;
}

/** `target` with its parent's real path: how owner.json names it, whichever way the user spelled the path. */
function canonical(target: string): string {
  try {
    return path.join(fs.realpathSync(path.dirname(target)), path.basename(target));
  } catch {
    return target;
  }
}

function prefixOf(target: string): string {
  return `.${path.basename(target)}.cairn-restore-`;
}

/** Creates the staging directory for a restore into `target`, with its owner marker and an empty tree/. */
export async function createTargetStaging(target: string): Promise<TargetStaging> {
  const dir = path.join(path.dirname(target), `${prefixOf(target)}${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(dir, { mode: 0o700 });
  try {
    const owner: StagingOwner = { v: 1, target: canonical(target), pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
    await writeFileAtomic(path.join(dir, OWNER_FILE), JSON.stringify(owner), { tempDir: dir, mode: 0o600 });
    await fsp.mkdir(path.join(dir, TREE_DIR), { mode: 0o700 });
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  return { dir, tree: path.join(dir, TREE_DIR) };
}

/** Removes a staging directory: the tree first, the owner marker last, so that an interrupted removal can be finished later. */
export async function removeTargetStaging(dir: string): Promise<void> {
  await removeTree(path.join(dir, TREE_DIR));
  await removeTree(dir);
}

/** The owner recorded in a staging directory, or null when there is no usable marker. */
function readOwner(dir: string): StagingOwner | null {
  const file = path.join(dir, OWNER_FILE);
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > 4096) return null;
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StagingOwner> | null;
    if (o === null || typeof o !== 'object' || o.v !== 1) return null;
    if (typeof o.target !== 'string' || typeof o.host !== 'string' || typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return null;
    return o as StagingOwner;
  } catch {
    return null;
  }
}

/** True unless the owner is known to be gone: a process on this host that no longer exists. */
function ownerMayRun(o: StagingOwner): boolean {
  if (o.host !== os.hostname()) return true;
  try {
    process.kill(o.pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}

/**
 * Removes the staging directories an interrupted restore into `target` left
 * beside it (see the module comment); warns about those it cannot prove
 * abandoned. Returns the directories removed.
 */
export async function removeStaleTargetStaging(ctx: RepoContext, target: string): Promise<string[]> {
  const parent = path.dirname(target);
  const prefix = prefixOf(target);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return []; // no parent (yet): nothing left there
  }
  const removed: string[] = [];
  for (const name of names.sort()) {
    if (!name.startsWith(prefix) || !SUFFIX.test(name.slice(prefix.length))) continue;
    const dir = path.join(parent, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue; // a database restore's staged file, or not cairn's
    const owner = readOwner(dir);
    if (owner === null || owner.target !== canonical(target)) {
      ctx.warn(`${quoteName(dir)} looks like the staging directory of an interrupted restore into ${quoteName(target)}, but has no owner record cairn can read (an older cairn made it, or a restore was stopped as it started); if no restore into ${quoteName(target)} is running, delete it`);
      continue;
    }
    if (ownerMayRun(owner)) continue; // a restore into the same target running now (or on another host)
    try {
      await removeTargetStaging(dir);
    } catch (err) {
      ctx.warn(`cannot remove ${quoteName(dir)}, left by an interrupted restore into ${quoteName(target)}: ${describeError(err)}`);
      continue;
    }
    ctx.warn(`removed ${quoteName(dir)}, left by an interrupted restore into ${quoteName(target)} (pid ${owner.pid}, no longer running)`);
    removed.push(dir);
  }
  return removed;
}

/** Removes a directory tree, making read-only directories inside it writable first if need be. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
    return;
  } catch (err) {
    if (!isErrno(err, 'EACCES') && !isErrno(err, 'EPERM') && !isErrno(err, 'ENOTEMPTY')) throw err;
  }
  const unlock = async (d: string): Promise<void> => {
    await fsp.chmod(d, 0o700).catch(() => undefined);
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await unlock(path.join(d, e.name));
  };
  await unlock(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}

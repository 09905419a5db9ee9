/**
 * Repository locks: one file per holder in locks/. Shared locks (snapshot,
 * restore, tag) coexist; an exclusive lock (prune, forget) excludes all. A
 * lock whose process is gone (same host, dead pid) is stale and removed.
 */
import { processAlive } from './util/processAlive.js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError, describeError, IoError } from './errors.js';
import { tempName, writeFileAtomicSync } from './util/durableFs.js';
import { faultPointSync } from './util/faults.js';

export interface LockInfo {
  exclusive: boolean;
  pid: number;
  host: string;
  time: string;
  operation: string;
}


let lockWrites = 0;

/**
 * The error for a lock file that could not be written: one line naming the file (a write's errno error carries no
 * path), and for a full disk saying so. Anything that is not an errno error is passed on as it is.
 */
function lockWriteError(err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return err;
  const full = code === 'ENOSPC' || code === 'EDQUOT';
  const what = code === 'ENOSPC' ? 'no space left on device' : code === 'EDQUOT' ? 'disk quota exceeded' : describeError(err).replace(/, \w+ '.*'$/, '');
  return new IoError(`${what}: cannot write the repository's lock file ${file}`, {
    cause: err,
    hint: full
      ? "free some space on the repository's file system and run the command again; the repository is unchanged"
      : 'check that this user may write the repository\'s locks/ directory and that its file system is sound, then run the command again',
    details: { lock: file },
  });
}

/**
 * Removes `name` from `dir` if it is the temp file of a lock write (`.tmp-<pid>-...`, util/durableFs.ts tempName)
 * whose process is gone: a kill -9 between the temp file's creation and its rename or removal leaves one, and
 * nothing else ever would. The same rule as the temp files of tmp/ and refs/ (RepoContext.cleanStaleTemp,
 * rebuildIndex): the name's pid, not alive here. Returns whether it was such a file.
 */
function removeDeadWritersTemp(dir: string, name: string): boolean {
  const m = /^\.tmp-(\d+)-/.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid !== process.pid && !processAlive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  return true;
}

/** The lock files this process holds: what releaseHeldLocksSync removes when the process must exit at once. */
const held = new Set<string>();

export class RepositoryLock {
  private constructor(private readonly file: string) {}

  static acquire(repoDir: string, operation: string, exclusive: boolean): RepositoryLock {
    const dir = path.join(repoDir, 'locks');
    fs.mkdirSync(dir, { recursive: true });
    const info: LockInfo = { exclusive, pid: process.pid, host: os.hostname(), time: new Date().toISOString(), operation };
    const file = path.join(dir, `${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}.json`);
    try {
      // Fault point `lock-write` (util/faults.ts): each lock file, with its temp file open and nothing written.
      writeFileAtomicSync(file, JSON.stringify(info), { durable: false, beforeWrite: () => faultPointSync('lock-write', ++lockWrites) });
    } catch (err) {
      throw lockWriteError(err, file);
    }
    held.add(file);
    for (const name of fs.readdirSync(dir)) {
      const other = path.join(dir, name);
      if (removeDeadWritersTemp(dir, name)) continue;
      if (other === file || !name.endsWith('.json')) continue;
      let o: LockInfo;
      try {
        o = JSON.parse(fs.readFileSync(other, 'utf8')) as LockInfo;
      } catch {
        continue; // vanished or half-written by a process that died: not a holder
      }
      if (o.host === info.host && !processAlive(o.pid)) {
        fs.rmSync(other, { force: true });
        continue;
      }
      if (o.exclusive || exclusive) {
        fs.rmSync(file, { force: true });
        held.delete(file);
        throw new BusyError(`the repository is busy: ${o.operation} (pid ${o.pid} on ${o.host}) holds ${o.exclusive ? 'an exclusive' : 'a'} lock`, {
          hint: `wait for it to finish; if that process is gone, remove ${other}`,
          details: { lock: other },
        });
      }
    }
    return new RepositoryLock(file);
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
    held.delete(this.file);
  }
}

/** The file of the index-rebuild lock, in locks/ (not a `.json` holder file: RepositoryLock.acquire ignores it). */
export const REBUILD_LOCK = 'index-rebuild.lock';
const REBUILD_POLL_MS = 50;

/**
 * The index-rebuild lock: one process at a time rebuilds index.db (and renames it into place). Unlike the
 * repository lock it is waited for, not refused: a process that finds it held by a live process (or one on another
 * host) calls `onWait` once with the holder and polls until it is released; one held by a dead process on this host
 * is stale and removed. The lock file is made whole under a temp name and hard-linked into place, so it is never
 * seen half-written. Returns the release function. Released by releaseHeldLocksSync too.
 */
export async function acquireRebuildLock(repoDir: string, onWait: (holder: LockInfo) => void): Promise<() => void> {
  const dir = path.join(repoDir, 'locks');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, REBUILD_LOCK);
  const info: LockInfo = { exclusive: true, pid: process.pid, host: os.hostname(), time: new Date().toISOString(), operation: 'index rebuild' };
  const tmp = tempName(dir, '.tmp');
  try {
    writeFileAtomicSync(tmp, JSON.stringify(info), { durable: false, beforeWrite: () => faultPointSync('lock-write', ++lockWrites) });
  } catch (err) {
    throw lockWriteError(err, file);
  }
  let waited = false;
  try {
    for (;;) {
      try {
        fs.linkSync(tmp, file);
        held.add(file);
        return () => {
          fs.rmSync(file, { force: true });
          held.delete(file);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockWriteError(err, file);
      }
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // released meanwhile: try again
      }
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(text) as LockInfo;
      } catch {
        holder = undefined; // not written by this code: treated as stale
      }
      if (holder === undefined || (holder.host === info.host && !processAlive(holder.pid))) {
        // Stale. Removed only if it is still the same file content (another waiter may have replaced it).
        try {
          if (fs.readFileSync(file, 'utf8') === text) fs.rmSync(file, { force: true });
        } catch {
          /* gone already */
        }
        continue;
      }
      if (!waited) onWait(holder);
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, REBUILD_POLL_MS));
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes, synchronously, every lock file this process still holds: for an exit that cannot wait for the
 * operations holding them to end (a second Ctrl-C, a signal to a command that stops at once, a closed pipe), so
 * that other commands are not told the repository is busy until the next taker notices the pid is dead. What a
 * lock keeps apart ends with this process anyway; the repository is consistent at any point (kill -9 included).
 * A file is removed only if it still says it is this process's (same pid and host). Returns how many were removed.
 */
export function releaseHeldLocksSync(): number {
  let removed = 0;
  for (const file of held) {
    held.delete(file);
    try {
      const info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockInfo>;
      if (info.pid !== process.pid || info.host !== os.hostname()) continue;
      fs.rmSync(file, { force: true });
      removed++;
    } catch {
      /* gone already, or unreadable: not ours to remove */
    }
  }
  return removed;
}

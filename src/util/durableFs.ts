/**
 * Durable file-system primitives: the only correct way to write the only copy
 * of someone's data is temp file → fsync → rename → fsync the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { faultPoint, faultPointSync } from './faults.js';

const session = randomBytes(4).toString('hex');
let counter = 0;

/**
 * A unique temporary file name in `dir`: `<prefix>-<pid>-<session><counter>`.
 * The pid lets a later process tell a dead writer's leftovers from a live one's.
 */
export function tempName(dir: string, prefix = 'tmp'): string {
  return `${dir}${path.sep}${prefix}-${process.pid}-${session}${(counter++).toString(16)}`;
}

/** fsync a directory so that renames and creations inside it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on directories (EINVAL/EISDIR); that is not fatal.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await fh?.close();
  }
}

/** fsync a file or directory by path, synchronously; file systems that refuse fsync on a directory are tolerated. */
export function fsyncPathSync(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  /** Directory for the temporary file; must be on the same file system as `file`. */
  tempDir?: string;
  mode?: number;
  /** fsync the file and its directory (default true). */
  durable?: boolean;
  /** writeFileAtomicSync: called with the temp file open, before its content is written (a test's fault point). */
  beforeWrite?: () => void;
}

/** Writes `data` to `file` atomically: readers see the old file or the whole new one. */
export async function writeFileAtomic(file: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const tmp = tempName(options.tempDir ?? path.dirname(file), '.tmp');
  const fh = await fsp.open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(path.dirname(file));
}

/** Synchronous variant for small metadata files (config, refs) and the stat cache, whose parts (a list) are written one after another. */
export function writeFileAtomicSync(file: string, data: Uint8Array | string | readonly Uint8Array[], options: AtomicWriteOptions = {}): void {
  const tmp = tempName(options.tempDir ?? path.dirname(file), '.tmp');
  const fd = fs.openSync(tmp, 'wx', options.mode ?? 0o644);
  try {
    options.beforeWrite?.();
    if (Array.isArray(data)) writeAllSync(fd, data as readonly Uint8Array[]);
    else fs.writeFileSync(fd, data as Uint8Array | string);
    if (options.durable ?? true) fs.fsyncSync(fd);
  } catch (err) {
    // A failed write (a full disk) leaves no temp file behind: it would hold an inode, and its blocks, for good.
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  if (options.durable ?? true) {
    const dfd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dfd);
    } catch {
      /* not supported on this file system */
    } finally {
      fs.closeSync(dfd);
    }
  }
}

/**
 * Writes `parts` one after another at fd's position, all of them, without joining them first. writev may write less
 * than asked (a signal, a nearly full disk): it goes on from where it stopped.
 */
export function writeAllSync(fd: number, parts: readonly Uint8Array[]): void {
  const rest = parts.slice();
  let left = rest.reduce((n, p) => n + p.length, 0);
  while (left > 0) {
    let n = fs.writevSync(fd, rest);
    left -= n;
    while (n > 0) {
      const first = rest[0]!;
      if (n >= first.length) {
        n -= first.length;
        rest.shift();
      } else {
        rest[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

let syncfsWorks: boolean | undefined;
let syncfsCalls = 0;

/** Where the system's `sync` is looked for before $PATH. */
export const SYNC_PATHS: readonly string[] = ['/usr/bin/sync', '/bin/sync'];

let syncPath: string | undefined;

/**
 * The `sync` to run: the system's, at a fixed path, so that another program named `sync` earlier on $PATH (a
 * user's shim or tool) is never what stands between a batch and its durability, and no directory of $PATH is
 * tried first; `sync` from $PATH only where neither exists (NixOS, for one). A `sync` without `-f` fails, and
 * the callers then fsync file by file.
 */
export function syncCommand(): string {
  if (syncPath === undefined) {
    syncPath = 'sync';
    for (const p of SYNC_PATHS) {
      try {
        fs.accessSync(p, fs.constants.X_OK);
        syncPath = p;
        break;
      } catch {
        // not there: the next
      }
    }
  }
  return syncPath;
}

/**
 * Flushes every dirty page and inode of the file system holding `anyPath`
 * (syncfs(2) via coreutils `sync -f`). One call makes a whole batch of
 * freshly written objects durable, far cheaper than an fsync per object.
 * Returns false when unavailable; callers then fsync file by file.
 */
export function syncFileSystem(anyPath: string): boolean {
  if (syncfsWorks === false) return false;
  try {
    faultPointSync('syncfs', ++syncfsCalls); // a test's stand-in for a system without `sync -f`
  } catch {
    return false;
  }
  const r = spawnSync(syncCommand(), ['-f', anyPath], { stdio: 'ignore' });
  syncfsWorks = r.status === 0;
  return syncfsWorks;
}

/**
 * syncFileSystem() without blocking the thread while the disk writes: `sync -f` as a child process whose exit is
 * awaited (the flush worker writes temp files meanwhile). The same fault point; each thread counts its own calls.
 */
export function syncFileSystemAsync(anyPath: string): Promise<boolean> {
  if (syncfsWorks === false) return Promise.resolve(false);
  try {
    faultPointSync('syncfs', ++syncfsCalls);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const child = spawn(syncCommand(), ['-f', anyPath], { stdio: 'ignore' });
    child.once('error', () => resolve((syncfsWorks = false)));
    child.once('exit', (code) => resolve((syncfsWorks = code === 0)));
  });
}

/**
 * Starts a `sync -f` of the file system holding `anyPath` without waiting for it: only so the disk writes while
 * the caller goes on and a later syncFileSystem() finds less to do. It guarantees nothing (its outcome is not
 * looked at); returns the process, or undefined where `sync -f` is known not to work.
 */
export function startFileSystemSync(anyPath: string): ChildProcess | undefined {
  if (syncfsWorks === false) return undefined;
  try {
    const child = spawn(syncCommand(), ['-f', anyPath], { stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return child;
  } catch {
    return undefined;
  }
}

let treeFileSyncs = 0;

/**
 * fsync every regular file and directory under `dir` (and `dir` itself), children before their parent: what
 * makes a restored tree durable where syncFileSystem() is unavailable.
 */
export async function fsyncTree(dir: string): Promise<void> {
  for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) await fsyncTree(p);
    else if (d.isFile()) {
      await faultPoint('file-sync', ++treeFileSyncs);
      const fh = await fsp.open(p, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  }
  await fsyncDir(dir);
}

/**
 * Makes a batch of staged objects durable and moves them into place: contents durable (syncfs of the temp
 * directory's file system, or an fsync per file where `sync -f` is unavailable), then each renamed to its final
 * path (its shard directory made first), then the names durable. Run by the flush worker (flushThread.ts), or on
 * the calling thread where this build has no worker entry (the sources run by a test runner).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncPathSync, syncFileSystemAsync } from '../util/durableFs.js';
import type { ObjectId } from './objectId.js';
import { objectPath, objectShardDir } from './objectPath.js';
import type { ShardDirs } from './shardDirSet.js';

/**
 * A staged object: its temp file and its id, from which its final path (and shard directory) under the objects
 * root is made where it is renamed. Paths made there rather than sent: three paths per object (~300 bytes) in
 * every batch of 16k (then the batch size), on both threads, were about half of what the flush worker's heap held live (7 of ~13.5 MB in
 * a heap snapshot during the db dataset's first snapshot: docs/performance.md).
 */
export interface FlushItem {
  tmp: string;
  id: ObjectId;
}

/**
 * Makes the shard directory `dir` (and its parent) unless `made` has it, and adds it there. A directory made
 * before the objects it is for are durable is only an empty directory after a crash, which listing skips (as it
 * skips those prune leaves).
 */
export function makeShardDir(dir: string, made: ShardDirs): void {
  if (made.has(dir)) return;
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fs.mkdirSync(dir, { recursive: true });
    else if (code !== 'EEXIST') throw err;
  }
  made.add(dir);
}

/**
 * Renames the temp file `tmp` to `dest` in the shard directory `dir`, which the caller has made (or found). When
 * `dir` is gone meanwhile (another process's failed write removes the empty shard directories it made: see
 * FsObjectStore.abort, and a directory it made may be one this process found), it is made again and the rename
 * retried; true then, so that the caller treats `dir` as new.
 */
export function renameIntoShard(tmp: string, dest: string, dir: string): boolean {
  try {
    fs.renameSync(tmp, dest);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || fs.existsSync(dir) || !fs.existsSync(tmp)) throw err;
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.renameSync(tmp, dest);
  return true;
}

/**
 * Removes the shard directories among `dirs` (objects/ab/cd), and their parents, that are empty: after a failed
 * write, those made for objects that were never moved into them. A directory holding anything stays (rmdir
 * refuses); one another process is about to rename into is made again by it (renameIntoShard).
 */
export function removeEmptyShardDirs(dirs: Iterable<string>): void {
  const parents = new Set<string>();
  for (const d of dirs) {
    parents.add(path.dirname(d));
    try {
      fs.rmdirSync(d);
    } catch {
      // not empty, or gone: kept as it is
    }
  }
  for (const d of parents) {
    try {
      fs.rmdirSync(d);
    } catch {
      // not empty, or gone
    }
  }
}

/**
 * The directories to fsync, where a batch is made durable file by file, so that the names of objects renamed into
 * `shardDirs` (objects/ab/cd) survive a crash: every one of them (its new entries), and for each not in `synced`
 * (shard directories whose own names are known durable) its parent and the objects root as well, because its
 * name, or its parent's, may be new. Made by this thread or by the flush worker's early mkdir (writeTemps), which
 * syncs nothing, mkdir's own answer does not tell.
 */
export function shardDirsToSync(root: string, shardDirs: Iterable<string>, synced: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const d of shardDirs) {
    out.add(d);
    if (synced.has(d)) continue;
    out.add(path.dirname(d));
    out.add(root);
  }
  return out;
}

/** Renames between two calls of `between` (where the flush worker writes the temp files sent meanwhile). */
const RENAMES_PER_TURN = 256;

/**
 * See the module comment. `made`: shard directories this thread made or found already (kept across batches).
 * Resolves when every item is under its final name and that is durable; a failure leaves the items not yet
 * renamed as temp files.
 */
export async function makeBatchDurable(
  items: readonly FlushItem[],
  tempDir: string,
  root: string,
  made: ShardDirs,
  between: () => Promise<void> = async () => undefined,
): Promise<void> {
  if (!(await syncFileSystemAsync(tempDir))) for (const it of items) fsyncPathSync(it.tmp);
  const dirs = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const dir = objectShardDir(root, it.id);
    makeShardDir(dir, made);
    dirs.add(dir);
    renameIntoShard(it.tmp, objectPath(root, it.id), dir);
    if (i % RENAMES_PER_TURN === RENAMES_PER_TURN - 1) await between();
  }
  if (!(await syncFileSystemAsync(root))) for (const d of shardDirsToSync(root, dirs, new Set())) fsyncPathSync(d);
}

/**
 * Whether a restore fits where it is going, checked before anything is written: a restore into a new directory
 * writes every file of the snapshot into a staging directory first, so one that cannot fit would fill the disk
 * (other programs' writes failing meanwhile) before failing and removing what it wrote. It also bounds what a
 * crafted manifest claiming huge counts can make a restore attempt (a tree naming more than its manifest claims
 * is stopped by the walk's budget, model/treeBudget.ts).
 *
 * The need is a lower bound: the files' logical bytes (not the blocks they take) and one inode per entry, so the
 * check never refuses a restore that would fit on an ordinary file system. A file system that compresses or
 * deduplicates may fit more than it reports free: `--no-space-check` skips the check.
 */
import { IoError } from '../errors.js';
import type { SnapshotStats } from '../model/manifest.js';
import { recordedEntries } from '../model/treeBudget.js';
import { freeRoom, type FreeRoom } from '../util/freeSpace.js';
import { humanBytes } from '../util/humanBytes.js';
import { quoteName } from '../util/quoteName.js';

/** What writing a snapshot's whole tree needs at least. */
export interface RoomNeeded {
  bytes: number;
  inodes: number;
}

/** `sparse`: zero blocks are left as holes, so the bytes needed are unknown (0: only the entries are counted). */
export function roomNeeded(stats: Pick<SnapshotStats, 'files' | 'dirs' | 'symlinks' | 'bytes'>, sparse = false): RoomNeeded {
  // +1: the staging directory itself.
  return { bytes: sparse ? 0 : stats.bytes, inodes: recordedEntries(stats) + 1 };
}

/** Why `need` does not fit into `free` (null when it does, or when the file system does not say). Pure. */
export function shortOfRoom(need: RoomNeeded, free: FreeRoom): string | null {
  if (free.bytes !== undefined && need.bytes > free.bytes) {
    return `it holds ${humanBytes(need.bytes)} of files, and that file system has ${humanBytes(free.bytes)} free`;
  }
  if (free.inodes !== undefined && need.inodes > free.inodes) {
    return `it holds ${need.inodes - 1} files, directories and symlinks, and that file system has ${free.inodes} free inodes`;
  }
  return null;
}

/** Throws an IoError (exit 1) when snapshot `what` cannot fit into the file system holding `dir`. */
export function checkRestoreRoom(dir: string, target: string, what: string, stats: Pick<SnapshotStats, 'files' | 'dirs' | 'symlinks' | 'bytes'>, options: { sparse?: boolean } = {}): void {
  const short = shortOfRoom(roomNeeded(stats, options.sparse ?? false), freeRoom(dir));
  if (short === null) return;
  throw new IoError(`not enough space to restore ${what} into ${quoteName(target)}: ${short}`, {
    hint: 'free some space, or restore into another file system, or only part of it (--path); nothing was written. --no-space-check skips this check (for file systems that compress or deduplicate)',
    details: { target },
  });
}

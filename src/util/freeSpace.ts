/**
 * Free space of a file system, for the few places that must act before a full disk turns into a crash rather
 * than an error (see VersionIndex.open: SQLite's memory-mapped -shm file).
 */
import * as fs from 'node:fs';
import { faultPointSync } from './faults.js';

let checks = 0;

/** The free bytes of the file system holding `dir`: freeRoom(dir).bytes. */
export function freeBytes(dir: string): number | undefined {
  return freeRoom(dir).bytes;
}

/** What a file system has free: bytes and inodes, each undefined where the file system does not say. */
export interface FreeRoom {
  bytes: number | undefined;
  inodes: number | undefined;
}

/**
 * The free room of the file system holding `dir`. Bytes: free to unprivileged users (statfs f_bavail; root may
 * write into the blocks reserved for it as well, though not into all that f_bfree counts: ext4 keeps some back for
 * its own allocations). Inodes: undefined where the file system does not count them (btrfs). Fault point
 * `free-space` (each call): a rule that trips makes it report 0 bytes free, as on a full disk.
 */
export function freeRoom(dir: string): FreeRoom {
  try {
    faultPointSync('free-space', ++checks);
  } catch {
    return { bytes: 0, inodes: undefined };
  }
  try {
    const s = fs.statfsSync(dir);
    return { bytes: s.bavail * s.bsize, inodes: s.files > 0 ? s.ffree : undefined };
  } catch {
    return { bytes: undefined, inodes: undefined };
  }
}

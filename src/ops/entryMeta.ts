/**
 * The metadata a restore gives what it writes, in one place for both threads that write (Materializer on the
 * main thread, restoreWriterThread.ts): the owner first (one that cannot be set is not an error: only root may
 * give files away, and a restore by another user keeps its own), then the mode, then the times (last, since
 * changing the others does not touch mtime but writing does).
 */
import * as fs from 'node:fs';

/** An owner to set, or none. */
export type Owner = { uid: number; gid: number } | undefined;

/** Sets an open file's owner, its mode when `chmod` (creation with `mode & 0o777` took bits away), and its times. */
export function setOpenFileMetaSync(fd: number, mode: number, chmod: boolean, owner: Owner, seconds: number): void {
  if (owner) {
    try {
      fs.fchownSync(fd, owner.uid, owner.gid);
    } catch {
      /* see the module comment */
    }
  }
  if (chmod) fs.fchmodSync(fd, mode);
  fs.futimesSync(fd, seconds, seconds);
}

/** Sets the owner (without following a symlink), mode and times of the directory or file at `p`. */
export function setPathMetaSync(p: Buffer | string, mode: number, owner: Owner, seconds: number): void {
  if (owner) {
    try {
      fs.lchownSync(p, owner.uid, owner.gid);
    } catch {
      /* see the module comment */
    }
  }
  fs.chmodSync(p, mode);
  fs.utimesSync(p, seconds, seconds);
}

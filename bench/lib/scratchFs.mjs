// A fresh file system for one benchmark run: a sparse image file, formatted ext4 (journaled, the default of
// mkfs.ext4, as on most users' machines), attached to a loop device with direct I/O (no second page cache) and
// mounted. Every tool then works on the same kind of file system, untouched by earlier runs.
//
// Why: this VM's root file system is ext4 without a journal. There, ext4 skips an inode deleted in the last
// 60 s (6 min when its inode-table block is dirty) when it allocates a new one (`recently_deleted()` in
// fs/ext4/ialloc.c), and it finds that out by looking at each candidate: after the benchmark deleted the last
// run's 100k files, creating files cost 0.1-0.4 ms each instead of 0.025 (perf: `recently_deleted` under
// `ext4_create`), for whichever tool came next. With a journal the check is not made.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureCommand } from './tools.mjs';

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });

/**
 * Makes and mounts the file system under `parent` (image `parent/scratch.img`, mount point `parent/fs`), sized
 * `bytes` (sparse: only what is written takes space). Returns { mountPoint, description, release() }, or
 * { reason } when it cannot (not root, no mkfs.ext4 or losetup and no way to install them, no loop device). release() unmounts it and
 * removes the image; it also runs on exit, SIGINT and SIGTERM unless `keep` (then it stays mounted).
 */
export function mountScratchFs(parent, bytes, { keep = false, log = () => undefined } = {}) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { reason: 'not root (a loop mount needs it)' };
  // Installed with apt-get when missing, as the peers' tools are (tools.mjs).
  const missing = ensureCommand('mkfs.ext4', 'e2fsprogs', log) || ensureCommand('losetup', 'mount', log);
  if (missing) return { reason: missing };
  const mkfs = 'mkfs.ext4';
  const losetup = 'losetup';
  const image = path.join(parent, 'scratch.img');
  const mountPoint = path.join(parent, 'fs');
  fs.mkdirSync(mountPoint, { recursive: true });
  const fd = fs.openSync(image, 'w');
  fs.ftruncateSync(fd, bytes);
  fs.closeSync(fd);
  // Inode tables and journal written now, not by a kernel thread in the background during the runs.
  const made = run(mkfs, ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
  if (made.status !== 0) {
    fs.rmSync(image, { force: true });
    return { reason: `mkfs.ext4 failed: ${(made.stderr || made.stdout).trim()}` };
  }
  const attached = run(losetup, ['-f', '--show', '--direct-io=on', image]);
  const device = attached.stdout?.trim();
  if (attached.status !== 0 || !device) {
    fs.rmSync(image, { force: true });
    return { reason: `losetup failed: ${(attached.stderr || '').trim()}` };
  }
  const mounted = run('mount', [device, mountPoint]);
  if (mounted.status !== 0) {
    run(losetup, ['-d', device]);
    fs.rmSync(image, { force: true });
    return { reason: `mount failed: ${(mounted.stderr || '').trim()}` };
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    run('umount', [mountPoint]);
    run(losetup, ['-d', device]);
    fs.rmSync(image, { force: true });
    fs.rmSync(mountPoint, { recursive: true, force: true });
  };
  if (!keep) {
    process.on('exit', release);
    for (const sig of ['SIGINT', 'SIGTERM']) {
      process.once(sig, () => {
        release();
        process.exit(130);
      });
    }
  }
  const gib = Math.round(bytes / 2 ** 30);
  return { mountPoint, description: `ext4 with a journal, made fresh for this run (${gib} GiB sparse image on a loop device, direct I/O)`, release };
}

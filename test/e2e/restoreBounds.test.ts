/**
 * A restore writes no more than the snapshot's manifest accounts for, and refuses up front what cannot fit: a
 * crafted tree (a subtree named over and over, a chunk listed over and over) stops with one line (exit 4) instead
 * of writing until the disk is full, and a snapshot larger than the free space is refused before anything is
 * written (exit 1). Nothing is left behind either way.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, describeTree, parseJson, tempDir, writeTree } from '../helpers.js';
import { goodRepo, putRaw, putSnapshot, putTreeBomb } from './craftedRepo.js';

const root = tempDir('cairn-restore-bounds-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Everything beside `target` whose name says it is a restore's staging directory for it. */
const stagingLeft = (target: string) => fs.readdirSync(path.dirname(target)).filter((n) => n.startsWith(`.${path.basename(target)}.cairn-restore-`));
const noTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at |internal error/);
/** Runs the index's catch-up (and its one warning line) for snapshots crafted into the store. */
const catchUp = (repo: string) => cairnOk(['log', '--repo', repo], { timeout: 60_000 });
const later = (manifest: Record<string, unknown>, ms: number) => new Date(Date.parse(String(manifest.time)) + ms).toISOString();

describe('restore of a crafted tree', () => {
  it('a tree bomb (2^40 paths in 41 small trees) is refused with one line, into a new directory, a dry run, --path, or over a directory', () => {
    const { repo, good, manifest } = goodRepo(root, 'bomb');
    const bomb = putSnapshot(repo, { ...manifest, tree: putTreeBomb(repo), parents: [good], message: 'bomb', time: later(manifest, 1000) });
    catchUp(repo);

    const out = path.join(root, 'bomb-out');
    for (const extra of [[], ['--dry-run'], ['--path', 'a']]) {
      // Without the bound this wrote files until the disk (or its inodes) ran out: killed by the timeout here.
      const r = cairn(['restore', bomb, '--target', out, ...extra, '--repo', repo], { timeout: 60_000 });
      expect(r.code, extra.join(' ')).toBe(4);
      expect(r.stderr).toContain('far more than its manifest records');
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('  hint:'))).toHaveLength(1);
      noTrace(r.stderr);
      expect(fs.existsSync(out), extra.join(' ')).toBe(false);
      expect(stagingLeft(out)).toEqual([]);
    }

    // Over an existing directory (--force): stopped while planning, before the approval and the restore point.
    const over = path.join(root, 'bomb-over');
    writeTree(over, { 'keep.txt': 'mine', d: { 'x.txt': 'x' } });
    const before = describeTree(over);
    const r = cairn(['restore', bomb, '--target', over, '--force', '--yes', '--repo', repo], { timeout: 60_000 });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('far more than its manifest records');
    noTrace(r.stderr);
    expect(describeTree(over)).toEqual(before);
    expect(fs.readdirSync(over).filter((n) => n.includes('cairn'))).toEqual([]);
    // The sound snapshot beside it restores.
    cairnOk(['restore', good, '--target', path.join(root, 'bomb-good'), '--repo', repo]);
  });

  it('a file listing one chunk a thousand times under a small size stops at that chunk, not after writing them all', () => {
    const { repo, good, manifest } = goodRepo(root, 'chunk-list');
    const big = putRaw(repo, Buffer.alloc(1024 * 1024, 7));
    const tree = putRaw(repo, Buffer.from(JSON.stringify({ entries: [{ chunks: Array(1000).fill(big), mode: 0o644, mtime: '0', name: 'f', size: 10, type: 'file' }], v: 1 })));
    const id = putSnapshot(repo, { ...manifest, tree, parents: [good], message: 'chunk list', time: later(manifest, 1000) });
    catchUp(repo);
    const out = path.join(root, 'chunk-list-out');
    const r = cairn(['restore', id, '--target', out, '--repo', repo], { timeout: 60_000 });
    expect(r.code).toBe(4);
    // Before: "its chunks hold 1048576000 bytes, the tree says 10", after writing them all.
    expect(r.stderr).toContain('cannot restore f: its chunks hold more than the 10 bytes the tree says');
    noTrace(r.stderr);
    expect(fs.existsSync(out)).toBe(false);
    expect(stagingLeft(out)).toEqual([]);
  });

  it('a file of one chunk larger than its size, small or large, stops at that chunk with the same line', () => {
    // One chunk: the small file's content comes straight from the store's read buffer (materialize.ts withSmallFile);
    // a file over 256 KiB writes each chunk as it is read (useChunkSync). Both check before anything is written.
    const { repo, good, manifest } = goodRepo(root, 'one-chunk');
    const big = putRaw(repo, Buffer.alloc(1024 * 1024, 5));
    for (const [size, count] of [
      [10, 1],
      [300 * 1024, 1000],
    ] as const) {
      const tree = putRaw(repo, Buffer.from(JSON.stringify({ entries: [{ chunks: Array(count).fill(big), mode: 0o644, mtime: '0', name: 'f', size, type: 'file' }], v: 1 })));
      const id = putSnapshot(repo, { ...manifest, tree, parents: [good], message: `one chunk, ${size}`, time: later(manifest, size) });
      catchUp(repo);
      const out = path.join(root, `one-chunk-out-${size}`);
      const r = cairn(['restore', id, '--target', out, '--repo', repo], { timeout: 60_000 });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`cannot restore f: its chunks hold more than the ${size} bytes the tree says`);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('  hint:'))).toHaveLength(1);
      noTrace(r.stderr);
      expect(fs.existsSync(out)).toBe(false);
      expect(stagingLeft(out)).toEqual([]);
    }
  });

  it('files whose contents add up to far more than the manifest records stop at its bound (2x its bytes + 64 MiB)', () => {
    const { repo, good, manifest } = goodRepo(root, 'byte-bomb');
    const big = putRaw(repo, Buffer.alloc(1024 * 1024, 9));
    // 200 files of 1 MiB, each the same chunk: 200 MiB written for a manifest of 9 bytes.
    const entries = Array.from({ length: 200 }, (_, i) => ({ chunks: [big], mode: 0o644, mtime: '0', name: `f${String(i).padStart(3, '0')}`, size: 1024 * 1024, type: 'file' }));
    const tree = putRaw(repo, Buffer.from(JSON.stringify({ entries, v: 1 })));
    const id = putSnapshot(repo, { ...manifest, tree, parents: [good], message: 'byte bomb', time: later(manifest, 1000) });
    catchUp(repo);
    const out = path.join(root, 'byte-bomb-out');
    const r = cairn(['restore', id, '--target', out, '--repo', repo], { timeout: 60_000 });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/bytes of file content, far more than its manifest records/);
    noTrace(r.stderr);
    expect(fs.existsSync(out)).toBe(false);
    expect(stagingLeft(out)).toEqual([]);
  });
});

describe('restore into a file system without room', () => {
  it('a snapshot claiming more bytes or entries than the file system has free is refused before anything is written; --no-space-check goes ahead', () => {
    const { repo, good, manifest } = goodRepo(root, 'claims');
    const stats = manifest.stats as Record<string, number>;
    const huge = putSnapshot(repo, { ...manifest, stats: { ...stats, bytes: 2 ** 50 }, parents: [good], message: 'claims 1 PiB', time: later(manifest, 1000) });
    catchUp(repo);
    const out = path.join(root, 'claims-out');
    const r = cairn(['restore', huge, '--target', out, '--repo', repo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^cairn: not enough space to restore snapshot ${huge.slice(0, 12)} into ${out}: it holds 1024 TiB of files, and that file system has .+ free\\n  hint: .*--no-space-check`));
    expect(fs.existsSync(out)).toBe(false);
    expect(stagingLeft(out)).toEqual([]);
    // The tree is the sound one: with the check skipped it restores.
    cairnOk(['restore', huge, '--target', out, '--no-space-check', '--repo', repo]);
    expect(fs.readFileSync(path.join(out, 'a.txt'), 'utf8')).toBe('alpha');

    const many = putSnapshot(repo, { ...manifest, stats: { ...stats, files: 2 ** 45 }, parents: [good], message: 'claims 2^45 files', time: later(manifest, 2000) });
    catchUp(repo);
    const out2 = path.join(root, 'claims-out2');
    const r2 = cairn(['restore', many, '--target', out2, '--repo', repo]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/not enough space to restore .* free inodes/);
    expect(fs.existsSync(out2)).toBe(false);
  });

  it('a sound snapshot onto a full file system (injected) is refused with one line and exit 1; --json says IO', () => {
    const { repo, good } = goodRepo(root, 'full');
    const out = path.join(root, 'full-out');
    // Every free-space check of the process reports a full disk (index.db opens for reading in its low-room mode).
    const full = Array.from({ length: 50 }, (_, i) => `free-space:ENOSPC:${i + 1}`).join(',');
    const r = cairn(['restore', good, '--target', out, '--json', '--repo', repo], { env: { ...process.env, CAIRN_TEST_FAULTS: full } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cairn: not enough space to restore snapshot [0-9a-f]{12} into .*: it holds 9 B of files, and that file system has 0 B free\n/);
    expect(parseJson<{ error: string }>(r).error).toBe('IO');
    expect(fs.existsSync(out)).toBe(false);
    cairnOk(['restore', good, '--target', out, '--repo', repo]);
  });
});

describe('a restore of many small files', () => {
  it('stops on SIGTERM while it writes (exit 143), and the next restore into the target clears what it left', { timeout: 120_000 }, async () => {
    const { repo, good, manifest } = goodRepo(root, 'endless');
    const stats = manifest.stats as Record<string, number>;
    // A bomb whose manifest claims 2^41 one-byte files: within its bounds, so it writes until stopped (--no-space-check).
    const id = putSnapshot(repo, { ...manifest, tree: putTreeBomb(repo), stats: { ...stats, files: 2 ** 41, dirs: 2 ** 41, bytes: 2 ** 41 }, parents: [good], message: 'endless', time: later(manifest, 1000) });
    catchUp(repo);
    const out = path.join(root, 'endless-out');
    const child = spawn(process.execPath, [CLI, 'restore', id, '--target', out, '--no-space-check', '--repo', repo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Writing: its staging directory beside the target holds files (polled).
    const written = () => stagingLeft(out).some((d) => fs.existsSync(path.join(root, d, 'tree', 'a', 'a')));
    while (!written()) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGTERM');
    // Before: the walk never gave the event loop a turn between small files, and ran on (killed after 40 min).
    expect(await done, stderr).toBe(143);
    expect(stderr).toMatch(/^cairn: interrupted/m);
    expect(fs.existsSync(out)).toBe(false);
    // What it left beside the target (its owner is gone) is removed by the next restore into it.
    cairnOk(['restore', good, '--target', out, '--repo', repo]);
    expect(stagingLeft(out)).toEqual([]);
    expect(fs.readFileSync(path.join(out, 'a.txt'), 'utf8')).toBe('alpha');
  });
});

describe('walks of a snapshot whose manifest claims enormous counts', () => {
  it('ls -r, stats and diff run until interrupted, and SIGINT stops them (exit 130)', { timeout: 180_000 }, async () => {
    const { repo, good, manifest } = goodRepo(root, 'claims-walk');
    const stats = manifest.stats as Record<string, number>;
    const id = putSnapshot(repo, { ...manifest, tree: putTreeBomb(repo), stats: { ...stats, files: 2 ** 41, dirs: 2 ** 41, bytes: 2 ** 41 }, parents: [good], message: 'claims', time: later(manifest, 1000) });
    // The catch-up indexes it without its per-file history (its walk stops at the subtree-sharing bound).
    const log = catchUp(repo);
    expect(log.stderr).toMatch(/indexed without its per-file history: .* entries from \d+ distinct trees of \d+ entries/);
    for (const args of [['ls', '-r', id], ['stats', id], ['diff', good, id]]) {
      const child = spawn(process.execPath, [CLI, ...args, '--repo', repo], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Walking: it has used more CPU than starting and opening take (polled; user + system ticks of /proc/PID/stat).
      const ticks = () => {
        const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return Number(f[11]) + Number(f[12]);
      };
      try {
        while (ticks() < 200) await new Promise((resolve) => setTimeout(resolve, 20));
        child.kill('SIGINT');
        // Before: trees come from the cache without a turn of the event loop, so the walk never saw the signal (ls -r
        // ran on for six minutes, to an out-of-memory abort).
        expect(await done, `${args[0]}: ${stderr}`).toBe(130);
      } finally {
        child.kill('SIGKILL');
      }
      expect(stderr).toMatch(/^cairn: interrupted/m);
    }
  });
});

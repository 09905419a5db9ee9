/**
 * `restore --sparse` through the built CLI: a sparse file (a disk image with a trailing hole, a file with zero
 * stretches inside) comes back with the same bytes and only its data's blocks allocated, into a new directory and
 * in place; without the flag, as before, dense. A database snapshot refuses the flag.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, killAtStall, parseJson, tempDir } from '../helpers.js';

const root = tempDir('cairn-sparse-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const MiB = 1024 * 1024;

/** Whether this file system keeps holes (a file extended by ftruncate takes no blocks). */
function holesKept(dir: string): boolean {
  const probe = path.join(dir, 'probe');
  fs.writeFileSync(probe, '');
  fs.truncateSync(probe, 8 * MiB);
  const kept = fs.statSync(probe).blocks * 512 < MiB;
  fs.rmSync(probe);
  return kept;
}

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const allocated = (file: string) => fs.statSync(file).blocks * 512;

const HOLES = holesKept(root);

describe('restore --sparse', () => {
  const src = path.join(root, 'src');
  const repo = path.join(root, 'repo');
  fs.mkdirSync(src);

  // vm.img: 1 MiB of data at 0 and at 40 MiB, a hole between and after them (64 MiB in all).
  const img = path.join(src, 'vm.img');
  const fd = fs.openSync(img, 'w');
  fs.writeSync(fd, randomBytes(MiB), 0, MiB, 0);
  fs.writeSync(fd, randomBytes(MiB), 0, MiB, 40 * MiB);
  fs.ftruncateSync(fd, 64 * MiB);
  fs.closeSync(fd);
  const imgSha = sha(img);
  // pages.bin: 64 KiB stretches of zeros between random ones, inside chunks (not whole chunks of zeros).
  const pages = Buffer.concat(Array.from({ length: 48 }, (_, i) => (i % 3 === 1 ? Buffer.alloc(64 * 1024) : randomBytes(64 * 1024))));
  fs.writeFileSync(path.join(src, 'pages.bin'), pages);
  fs.writeFileSync(path.join(src, 'small.txt'), 'small');

  cairnOk(['init', '--repo', repo]);
  const snap = parseJson<{ id: string }>(cairnOk(['--repo', repo, '--json', 'snapshot', src])).id;

  it.skipIf(!HOLES)('writes only the data blocks of large files into a new directory', () => {
    const target = path.join(root, 'sparse');
    cairnOk(['--repo', repo, 'restore', snap, '--target', target, '--sparse']);
    const out = path.join(target, 'vm.img');
    expect(fs.statSync(out).size).toBe(64 * MiB);
    expect(sha(out)).toBe(imgSha);
    expect(allocated(out)).toBeLessThan(4 * MiB); // 2 MiB of data
    const p = path.join(target, 'pages.bin');
    expect(fs.readFileSync(p).equals(pages)).toBe(true);
    expect(allocated(p)).toBeLessThanOrEqual(pages.length - 15 * 64 * 1024); // 16 stretches of zeros, at most one partly written
    expect(fs.readFileSync(path.join(target, 'small.txt'), 'utf8')).toBe('small');
    // What --verify re-reads matches as well.
    cairnOk(['--repo', repo, 'restore', snap, '--target', path.join(root, 'sparse-verified'), '--sparse', '--verify']);
  });

  it.skipIf(!HOLES)('writes them dense without the flag', () => {
    const target = path.join(root, 'dense');
    cairnOk(['--repo', repo, 'restore', snap, '--target', target]);
    const out = path.join(target, 'vm.img');
    expect(sha(out)).toBe(imgSha);
    expect(allocated(out)).toBeGreaterThanOrEqual(64 * MiB);
  });

  it.skipIf(!HOLES)('keeps the holes in place, over a changed file', () => {
    fs.writeFileSync(img, randomBytes(3 * MiB)); // the image replaced by a dense file of other bytes
    const r = cairn(['--repo', repo, '--yes', 'restore', snap, '--sparse'], { cwd: src });
    expect(r.code, r.stderr).toBe(0);
    expect(sha(img)).toBe(imgSha);
    expect(fs.statSync(img).size).toBe(64 * MiB);
    expect(allocated(img)).toBeLessThan(4 * MiB);
  });

  it.skipIf(!HOLES)('resumes an interrupted in-place restore sparse, as its journal records', async () => {
    fs.writeFileSync(img, randomBytes(3 * MiB));
    expect(await killAtStall([CLI, '--repo', repo, '--yes', 'restore', snap, '--sparse'], 'restore-stage:stall:1', 'restore-stage 1')).toBe(true);
    expect(fs.statSync(img).size).toBe(3 * MiB); // untouched until the resume
    cairnOk(['--repo', repo, 'restore', '--resume']);
    expect(sha(img)).toBe(imgSha);
    expect(allocated(img)).toBeLessThan(4 * MiB);
  });

  it('is refused for a database snapshot, with one line and nothing written', () => {
    const db = path.join(root, 'app.db');
    const d = new Database(db);
    d.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1);');
    d.close();
    const id = parseJson<{ snapshots: Array<{ id: string }> }>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', db])).snapshots[0]!.id;
    const target = path.join(root, 'restored.db');
    const r = cairn(['--repo', repo, 'restore', id, '--target', target, '--sparse']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sparse applies to directory snapshots/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(target)).toBe(false);
  });
});

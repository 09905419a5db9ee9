/**
 * Restoring a snapshot of many files into a new directory, through the built CLI: its small files are created,
 * and its directories' metadata set, by the restore's writing worker (src/ops/restoreWriter.ts) while the main
 * thread reads and verifies what comes next. The fault point `restore-write-worker` exists only in the worker:
 * a stall there proves the worker writes; a failure there must fail the restore with the one line writing on
 * the main thread gives, and leave neither a target nor a staging directory.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, describeTree, killAtStall, parseJson, restoreThroughLibrary, tempDir } from '../helpers.js';

const root = tempDir('cairn-restore-writer-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const src = path.join(root, 'src');
const small = path.join(root, 'small');
const repo = path.join(root, 'repo');
let snapshot = '';
let smallSnapshot = '';

const OBJECT_CONTENT = Buffer.from('an object of its own\n'.repeat(600));

/** Seconds since the epoch with a microsecond part, different for every `i`. */
const when = (i: number) => 1_600_000_000 + i * 37 + (i % 1000) / 1000 + 0.000123;

/** 1,200 small files in 24 folders, with modes, an empty file, a non-UTF-8 name, large files, symlinks; every mtime its own. */
function makeSource(dir: string, count: number): void {
  const dirs: string[] = [];
  for (let d = 0; d < 24; d++) {
    const sub = path.join(dir, `d${d}`, d % 3 === 0 ? 'deep' : '');
    fs.mkdirSync(sub, { recursive: true });
    dirs.push(sub);
  }
  for (let i = 0; i < count; i++) {
    const p = path.join(dirs[i % dirs.length]!, `f${i}.txt`);
    fs.writeFileSync(p, i % 50 === 0 ? '' : `file ${i}\n`.repeat(1 + (i % 300)));
    fs.chmodSync(p, [0o644, 0o600, 0o755, 0o640][i % 4]!);
    fs.utimesSync(p, when(i), when(i));
  }
  // Modes a file cannot be created with (set-id bits: set through the descriptor after creation).
  fs.chmodSync(path.join(dirs[1]!, 'f1.txt'), 0o4755);
  fs.chmodSync(path.join(dirs[2]!, 'f2.txt'), 0o2750);
  fs.writeFileSync(Buffer.from(`${dirs[3]}/caf\xe9.bin`, 'latin1'), 'latin-1 name\n');
  fs.writeFileSync(path.join(dirs[4]!, 'large.bin'), Buffer.alloc(600 * 1024, 7)); // > 256 KiB: the main thread writes it
  fs.symlinkSync('f5.txt', path.join(dirs[5]!, 'link'));
  // Over the inline limit: an object of its own, for the damaged-object case.
  fs.writeFileSync(path.join(dirs[6]!, 'object.bin'), OBJECT_CONTENT);
  // Folders that hold nothing the worker writes but the folders themselves: a large file and a symlink three levels
  // down, which the main thread writes while the worker may not have created their folders yet.
  const late = path.join(dir, 'late', 'a', 'b');
  fs.mkdirSync(late, { recursive: true });
  fs.writeFileSync(path.join(late, 'big.bin'), Buffer.alloc(300 * 1024, 3));
  fs.symlinkSync('b/big.bin', path.join(dir, 'late', 'a', 'link'));
  for (const [i, d] of [late, path.dirname(late), path.join(dir, 'late')].entries()) {
    fs.chmodSync(d, [0o751, 0o705, 0o770][i]!);
    fs.utimesSync(d, when(30_000 + i), when(30_000 + i));
  }
  // Directory metadata last, deepest first: a restore must set it only after everything inside is written.
  for (const [i, sub] of [...dirs].reverse().entries()) {
    fs.chmodSync(sub, i % 2 === 0 ? 0o750 : 0o755);
    fs.utimesSync(sub, when(10_000 + i), when(10_000 + i));
  }
  for (let d = 0; d < 24; d++) fs.utimesSync(path.join(dir, `d${d}`), when(20_000 + d), when(20_000 + d));
}

beforeAll(() => {
  makeSource(src, 1200);
  makeSource(small, 100);
  cairnOk(['init', '--repo', repo]);
  snapshot = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
  smallSnapshot = parseJson<{ id: string }>(cairnOk(['snapshot', small, '--repo', repo, '--json'])).id;
});

const restoreStaging = () => fs.readdirSync(root).filter((n) => n.includes('cairn-restore'));
const env = (faults: string) => ({ ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: faults });

describe('restoring many small files with the writing worker', () => {
  it('restores contents, modes and mtimes of files and folders exactly, with --verify', () => {
    const out = path.join(root, 'out');
    const r = cairnOk(['restore', snapshot, '--repo', repo, '--target', out, '--verify', '--json']);
    expect(parseJson<{ files: number }>(r).files).toBe(1204);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
    expect(fs.statSync(path.join(out, 'd1', 'f1.txt')).mode & 0o7777).toBe(0o4755);
  });

  it('creates the small files on the worker: a stall there holds the restore, and kill -9 then leaves no target', async () => {
    const out = path.join(root, 'out-kill');
    const killed = await killAtStall([CLI, 'restore', snapshot, '--repo', repo, '--target', out], 'restore-write-worker:stall:400', 'restore-write-worker 400');
    expect(killed).toBe(true);
    expect(fs.existsSync(out)).toBe(false); // staged beside it, never renamed into place
    expect(restoreStaging().length).toBe(1);
    // The next restore into the same target removes what the killed one left, and restores everything.
    cairnOk(['restore', snapshot, '--repo', repo, '--target', out]);
    expect(restoreStaging()).toEqual([]);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
  });

  it("fails with the failing file's name in one line when the worker cannot write, and leaves no target", () => {
    const out = path.join(root, 'out-eio');
    const r = cairn(['restore', snapshot, '--repo', repo, '--target', out], { env: env('restore-write-worker:EIO:700') });
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr).toMatch(/cannot write d\d+\/(deep\/)?f\d+\.txt: EIO: injected fault at restore-write-worker 700/);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^cairn: /);
    expect(r.code).not.toBe(0);
    expect(fs.existsSync(out)).toBe(false);
    expect(restoreStaging()).toEqual([]);
  });

  it('fails the same way when the very first file cannot be written', () => {
    const out = path.join(root, 'out-eio-first');
    const r = cairn(['restore', snapshot, '--repo', repo, '--target', out], { env: env('restore-write-worker:ENOSPC:1') });
    expect(r.stderr).toMatch(/cannot write \S+: ENOSPC: injected fault at restore-write-worker 1/);
    expect(r.code).not.toBe(0);
    expect(fs.existsSync(out)).toBe(false);
    expect(restoreStaging()).toEqual([]);
  });

  it('fails on a damaged object while the worker holds queued files: exit 4, one line naming the file, no target, no staging', () => {
    const damaged = path.join(root, 'repo-damaged');
    fs.cpSync(repo, damaged, { recursive: true });
    const id = createHash('sha256').update(OBJECT_CONTENT).digest('hex');
    const object = path.join(damaged, 'objects', id.slice(0, 2), id.slice(2, 4), id);
    const bytes = fs.readFileSync(object);
    bytes[bytes.length - 1] ^= 0xff;
    fs.chmodSync(object, 0o644);
    fs.writeFileSync(object, bytes);
    const out = path.join(root, 'out-damaged');
    const r = cairn(['restore', snapshot, '--repo', damaged, '--target', out]);
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr).toMatch(new RegExp(`^cairn: cannot restore d6/(deep/)?object\\.bin: object ${id} `));
    expect(r.code).toBe(4);
    expect(fs.existsSync(out)).toBe(false);
    expect(restoreStaging()).toEqual([]);
  });

  it('writes a snapshot of few files on the main thread (no worker to start)', () => {
    const out = path.join(root, 'out-small');
    const r = cairn(['restore', smallSnapshot, '--repo', repo, '--target', out], { env: env('restore-write-worker:stall:1') });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(small, { mtimes: true }));
  });
});

describe('the library', () => {
  it("writes through the same worker (dist/src/ops/restoreWriterThread.js), from any parent's Node options", async () => {
    const out = path.join(root, 'out-library');
    const cleanUp = () => {
      for (const s of restoreStaging()) fs.rmSync(path.join(root, s), { recursive: true, force: true });
    };
    const r = await restoreThroughLibrary(repo, snapshot, out, 'restore-write-worker:stall:1', 'restore-write-worker 1', cleanUp);
    expect(r).toEqual({ killed: true, printed: 'restored' });
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
  });
});

/**
 * Restoring large files with the reading worker (src/store/parallelReader.ts)
 * and making restored files durable, through the built CLI: a file of 16 MiB
 * or more of small chunks (a database's pages) has groups of its chunks read, decoded and verified on the worker while
 * the main thread reads others. The fault point `object-read-worker` exists
 * only in the worker: a restore that stalls there proves the worker reads, and
 * one that fails there must still restore byte for byte, the main thread
 * reading the groups the worker gave up on.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, describeTree, killAtStall, parseJson, restoreThroughLibrary, tempDir } from '../helpers.js';
import { makeRowDatabase } from './databaseFixtures.js';

const root = tempDir('cairn-parallel-restore-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const src = path.join(root, 'src');
const repo = path.join(root, 'repo');
let snapshot = '';

beforeAll(() => {
  fs.mkdirSync(src);
  // A database of 8 KiB page chunks, over 16 MiB: read on two threads. A 20 MiB file of ~1 MiB content-defined
  // chunks: read on the main thread only; the writeback of both is started once at least.
  fs.writeFileSync(path.join(src, 'big.bin'), Buffer.concat([randomBytes(12 * 1024 * 1024), Buffer.from('text '.repeat(1_000_000)), randomBytes(3 * 1024 * 1024)]));
  makeRowDatabase(path.join(src, 'app.db'), 130_000);
  expect(fs.statSync(path.join(src, 'app.db')).size).toBeGreaterThan(16 * 1024 * 1024);
  fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');
  cairnOk(['init', '--repo', repo]);
  snapshot = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
});

const restoreStaging = () => fs.readdirSync(root).filter((n) => n.includes('cairn-restore'));

describe('restoring large files with the reading worker', () => {
  it('restores byte for byte, with --verify', () => {
    const out = path.join(root, 'out');
    cairnOk(['restore', snapshot, '--repo', repo, '--target', out, '--verify']);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
  });

  it('restores byte for byte when the worker fails groups: the main thread reads them', () => {
    const out = path.join(root, 'out-eio');
    const r = cairn(['restore', snapshot, '--repo', repo, '--target', out], {
      env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'object-read-worker:EIO:1,object-read-worker:EIO:2,object-read-worker:EIO:5' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
  });

  it('reads on the worker (a stall there holds the restore), and kill -9 then leaves no target', async () => {
    const out = path.join(root, 'out-kill');
    // The worker's first group is the database's last (materialize.ts): the restore cannot finish without it.
    const killed = await killAtStall([CLI, 'restore', snapshot, '--repo', repo, '--target', out], 'object-read-worker:stall:1', 'object-read-worker 1');
    expect(killed).toBe(true);
    expect(fs.existsSync(out)).toBe(false); // the restore was staged beside it and never renamed into place
    cairnOk(['verify', '--read-data', '--repo', repo]);
    for (const s of restoreStaging()) fs.rmSync(path.join(root, s), { recursive: true, force: true });
  });

  it('fails the restore when a large file cannot be synced while it is written, and leaves no target', () => {
    const out = path.join(root, 'out-writeback');
    const r = cairn(['restore', snapshot, '--repo', repo, '--target', out], { env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'restore-writeback:EIO:1' } });
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr).toMatch(/cannot write (big\.bin|app\.db): EIO: injected fault at restore-writeback 1/);
    expect(r.code).toBe(1);
    expect(fs.existsSync(out)).toBe(false);
    expect(restoreStaging()).toEqual([]);
  });

  it('without syncfs, syncs every restored file before the rename: a failing file sync fails the restore and leaves no target', () => {
    const out = path.join(root, 'out-nosyncfs');
    const r = cairn(['restore', snapshot, '--repo', repo, '--target', out], {
      env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'syncfs:ENOSYS:1,file-sync:EIO:2' },
    });
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr).toMatch(/EIO: injected fault at file-sync 2/);
    expect(r.code).toBe(1);
    expect(fs.existsSync(out)).toBe(false);
    expect(restoreStaging()).toEqual([]);
    // And without the fault, the same file-by-file path restores everything.
    const ok = cairn(['restore', snapshot, '--repo', repo, '--target', out], { env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'syncfs:ENOSYS:1' } });
    expect(ok.code).toBe(0);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
  });
});

describe('the library', () => {
  it("reads through the same worker (dist/src/store/readerThread.js), from any parent's Node options", async () => {
    const out = path.join(root, 'out-library');
    const cleanUp = () => {
      for (const s of restoreStaging()) fs.rmSync(path.join(root, s), { recursive: true, force: true });
    };
    // The stall is reached only on the worker: its marker proves that the library started the worker.
    const r = await restoreThroughLibrary(repo, snapshot, out, 'object-read-worker:stall:1', 'object-read-worker 1', cleanUp);
    expect(r).toEqual({ killed: true, printed: 'restored' });
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
  });
});

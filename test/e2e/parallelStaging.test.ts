/**
 * Files of 16 MiB and more have their large chunks compressed and written by
 * the staging worker (src/store/parallelStager.ts), from the chunker's shared
 * buffer. These tests run the built CLI, whose bundle starts the worker from
 * dist/bin/cairn-stager.cjs. The fault point `object-stage` exists only in
 * the worker, so a test that trips it also proves the worker did the writing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../src/store/fsObjectStore.js';
import type { ObjectId } from '../../src/store/objectId.js';
import { sha256Hex } from '../../src/util/hash.js';
import { CLI, cairn, cairnOk, describeTree, killAtStall, parseJson, tempDir } from '../helpers.js';
import { content } from '../property/treeArb.js';

const root = tempDir('cairn-staging-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const MiB = 1024 * 1024;

/** 40 MiB: 4 MiB segments alternating compressible and random, with one random segment repeated (duplicate chunks). */
function bigFile(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 9; i++) parts.push(content(4 * MiB, 100 + i));
  parts.push(parts[1]!); // the same 4 MiB again: its chunks (after the first few) are stored once
  return Buffer.concat(parts);
}

const big = bigFile();
const src = path.join(root, 'src');
fs.mkdirSync(src, { recursive: true });
fs.writeFileSync(path.join(src, 'big.bin'), big);
fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');

function objectCount(repo: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else n++;
    }
  };
  walk(path.join(repo, 'objects'));
  return n;
}

const tempObjects = (repo: string) => fs.readdirSync(path.join(repo, 'tmp')).filter((n) => n.startsWith('obj-'));

interface SnapshotJson {
  id: string;
  stats: { newObjects: number; newBytes: number };
}

describe('a big file stored through the staging worker', () => {
  it('restores byte for byte, writes each distinct chunk once, and a re-read of the same content stores nothing', () => {
    const repo = path.join(root, 'repo-roundtrip');
    cairnOk(['init', '--repo', repo]);
    const first = parseJson<SnapshotJson>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(first.stats.newObjects).toBeGreaterThan(20); // ~1 MiB chunks of 36 MiB of distinct content
    // Every new object (chunks and the tree) is under its name once: the repeated segment's chunks were not
    // written twice. The other object is the manifest. Nothing is left in tmp/.
    expect(objectCount(repo)).toBe(first.stats.newObjects + 1);
    expect(tempObjects(repo)).toEqual([]);
    const out = path.join(root, 'out-roundtrip');
    cairnOk(['restore', first.id, '--repo', repo, '--target', out, '--verify']);
    expect(fs.readFileSync(path.join(out, 'big.bin')).equals(big)).toBe(true);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
    cairnOk(['verify', '--read-data', '--repo', repo]);

    // Same bytes, new mtime: the file is read again, every chunk is found stored, nothing is written.
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(src, 'big.bin'), t, t);
    const again = parseJson<SnapshotJson>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(again.stats.newObjects).toBe(1); // the root tree (big.bin's mtime changed), no chunk
    expect(objectCount(repo)).toBe(first.stats.newObjects + 1 + 2); // + the new tree and the new manifest
  });

  it('stores a stream from standard input the same way', () => {
    const repo = path.join(root, 'repo-stdin');
    cairnOk(['init', '--repo', repo]);
    const snap = parseJson<SnapshotJson>(cairnOk(['snapshot', '--stdin', '--name', 'dump.bin', '--repo', repo, '--json'], { input: big }));
    const out = spawnSync(process.execPath, [CLI, 'cat', `${snap.id}:dump.bin`, '--repo', repo], { maxBuffer: 64 * MiB });
    expect(out.status).toBe(0);
    expect(out.stdout.equals(big)).toBe(true);
    expect(tempObjects(repo)).toEqual([]);
  });

  it('a write failing on the worker fails the snapshot with what failed and what to do (exit 1), stores no snapshot, leaves no temp file', () => {
    const repo = path.join(root, 'repo-enospc');
    cairnOk(['init', '--repo', repo]);
    const r = cairn(['snapshot', src, '--repo', repo], { env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'object-stage:ENOSPC:3' } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2); // what failed, and what to do
    expect(lines[0]).toMatch(/^cairn: cannot write object [0-9a-f]{64}: .*ENOSPC/);
    expect(lines[1]).toMatch(/hint: .*disk is full: free some space/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--repo', repo]))).toEqual([]);
    expect(tempObjects(repo)).toEqual([]);
    // The next snapshot, without the fault, is whole.
    const next = parseJson<SnapshotJson>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    const out = path.join(root, 'out-enospc');
    cairnOk(['restore', next.id, '--repo', repo, '--target', out, '--verify']);
    expect(fs.readFileSync(path.join(out, 'big.bin')).equals(big)).toBe(true);
  });

  it('kill -9 while the worker is writing leaves the repository consistent, and the next snapshot is clean', async () => {
    const repo = path.join(root, 'repo-kill');
    cairnOk(['init', '--repo', repo]);
    const killed = await killAtStall([CLI, 'snapshot', src, '--repo', repo], 'object-stage:stall:4', 'object-stage 4');
    expect(killed).toBe(true);
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--repo', repo]))).toEqual([]);
    expect(tempObjects(repo).length).toBeGreaterThan(0); // the stalled chunk's file, and those written before it
    cairnOk(['verify', '--read-data', '--repo', repo]);
    const next = parseJson<SnapshotJson>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(tempObjects(repo)).toEqual([]); // the dead process's temp files were swept
    const out = path.join(root, 'out-kill');
    cairnOk(['restore', next.id, '--repo', repo, '--target', out, '--verify']);
    expect(fs.readFileSync(path.join(out, 'big.bin')).equals(big)).toBe(true);
  });
});

describe('the library', () => {
  it('stores a big file through the same worker (dist/src/store/stagerThread.js), from any parent\'s Node options', () => {
    const repo = path.join(root, 'repo-library');
    const index = path.resolve(path.dirname(CLI), '../src/index.js');
    const script = `
      import { Repository } from ${JSON.stringify(index)};
      const repo = await Repository.init({ repo: ${JSON.stringify(repo)} });
      try { await repo.snapshot({ path: ${JSON.stringify(src)} }); console.log('saved'); }
      catch (e) { console.log(e.code, e.message); }`;
    // The fault point exists only in the worker: reaching it proves the library started it.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'object-stage:EIO:2' },
    });
    expect(r.stdout).toMatch(/^IO cannot write object [0-9a-f]{64}: EIO: injected fault at object-stage 2/);
    expect(tempObjects(repo)).toEqual([]);
    // Without the fault the snapshot is saved: both workers (staging, and flushing the batch of 30+ objects)
    // start from a parent run as \`node --input-type=module -e\`, whose options they must not inherit.
    fs.rmSync(repo, { recursive: true, force: true });
    const ok = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, CAIRN_REPO: '' } });
    expect(ok.stdout.trim()).toBe('saved');
  });
});

describe('chunks the staging worker hashes (putUnhashed)', () => {
  it('are stored under the id the worker computed; one the store has is not written; of one staged twice at once, one copy is kept', async () => {
    const dir = path.join(root, 'store-unhashed');
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp, { recursive: true });
    const store = new FsObjectStore(path.join(dir, 'objects'), {
      tempDir: tmp,
      compression: 'snappy',
      stagerScript: path.resolve(path.dirname(CLI), '../src/store/stagerThread.js'), // the built worker
    });
    const shared = new SharedArrayBuffer(3 * MiB);
    const buf = Buffer.from(shared);
    content(MiB, 1).copy(buf, 0);
    content(MiB, 1).copy(buf, MiB); // the same bytes again
    content(MiB, 2).copy(buf, 2 * MiB);
    const sink = store.sharedSink(shared)!;
    const id = sha256Hex(buf.subarray(0, MiB)) as ObjectId;
    const [a, b] = await Promise.all([sink.putUnhashed(0, MiB), sink.putUnhashed(MiB, MiB)]);
    expect([a.id, b.id]).toEqual([id, id]);
    expect(a.written).toBe(true);
    expect(b).toEqual({ id, written: false, storedBytes: 0 }); // staged by the worker, then dropped here
    await store.flush();
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect((await store.get(id)).equals(buf.subarray(0, MiB))).toBe(true);
    // In the store now: the worker finds it after hashing, and writes nothing.
    expect(await sink.putUnhashed(0, MiB)).toEqual({ id, written: false, storedBytes: 0 });
    expect(fs.readdirSync(tmp)).toEqual([]);
    const c = await sink.putUnhashed(2 * MiB, MiB);
    expect(c.id).toBe(sha256Hex(buf.subarray(2 * MiB)));
    expect(c.written).toBe(true);
    await store.flush();
    expect((await store.get(c.id)).equals(buf.subarray(2 * MiB))).toBe(true);
    sink.release();
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Repository } from '../../../src/index.js';
import type { TreeEntry } from '../../../src/model/tree.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { CODE_ABSENT, CODE_FILE, CODE_SYMLINK, nsToStatMs, StatCache, StatCacheWriter } from '../../../src/snapshot/statCache.js';
import { statCachePath } from '../../../src/snapshot/snapshotter.js';
import { writeFileAtomicSync } from '../../../src/util/durableFs.js';
import { waitForFsClockPast } from '../../helpers.js';

const T1 = '1'.repeat(64) as ObjectId;
const T2 = '2'.repeat(64) as ObjectId;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-statcache-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function entryOf(file: string, name: string): TreeEntry {
  const st = fs.lstatSync(file, { bigint: true });
  return {
    name,
    type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file',
    mode: Number(st.mode & 0o7777n),
    mtime: st.mtimeNs.toString(),
    ctime: st.ctimeNs.toString(),
    ino: Number(st.ino),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.isDirectory() ? 0 : Number(st.size),
  };
}

describe('stat cache file', () => {
  it('round-trips records and rows, and matches only the same tree id and listing', () => {
    fs.writeFileSync(path.join(dir, 'a'), 'hello');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync('a', path.join(dir, 'l'));
    const w = new StatCacheWriter();
    const sub = w.endDir(T2, 0);
    w.entryRow('a', CODE_FILE, entryOf(path.join(dir, 'a'), 'a'));
    w.absentRow('excluded');
    w.entryRow('l', CODE_SYMLINK, entryOf(path.join(dir, 'l'), 'l'));
    w.entryRow('sub', sub, entryOf(path.join(dir, 'sub'), 'sub'));
    const root = w.endDir(T1, 3);
    const file = path.join(dir, 'cache');
    fs.writeFileSync(file, Buffer.concat(w.finish(root, T1)));

    expect(StatCache.load(file, T2)).toBeNull(); // describes another tree
    const c = StatCache.load(file, T1)!;
    expect(c).not.toBeNull();
    expect(c.root).toBe(root);
    expect(c.matches(root, T1, ['a', 'excluded', 'l', 'sub'])).toBe(true);
    expect(c.matches(root, T2, ['a', 'excluded', 'l', 'sub'])).toBe(false);
    expect(c.matches(root, T1, ['excluded', 'a', 'l', 'sub'])).toBe(false); // another order
    expect(c.matches(root, T1, ['a', 'excluded', 'l'])).toBe(false);
    expect(c.kept(root)).toBe(3);
    const first = c.first(root);
    expect([0, 1, 2, 3].map((i) => c.code(first + i))).toEqual([CODE_FILE, CODE_ABSENT, CODE_SYMLINK, sub]);
    expect(c.treeOf(sub)).toBe(T2);
    expect(c.statMatches(first, fs.lstatSync(path.join(dir, 'a')))).toBe(true);
    expect(c.statMatches(first + 2, fs.lstatSync(path.join(dir, 'l')))).toBe(true);
    expect(c.statMatches(first + 3, fs.lstatSync(path.join(dir, 'sub')))).toBe(true);
    fs.writeFileSync(path.join(dir, 'a'), 'hello, world');
    expect(c.statMatches(first, fs.lstatSync(path.join(dir, 'a')))).toBe(false);
  });

  it('keeps every name across the parts it is written in (thousands of entries, multi-byte names)', () => {
    // The writer keeps rows and encoded names in fixed blocks (8,192 rows, 256 KiB of names) that become parts of the
    // file: rows and names must survive the block boundaries, the "/" between names too.
    const w = new StatCacheWriter();
    const long = 'n'.repeat(40);
    const names = Array.from({ length: 10_007 }, (_, i) => (i % 3 === 0 ? `f${i}${long}` : i % 3 === 1 ? `ü-${i}-名前${long}` : `😀${i}`));
    const e = { type: 'file', mode: 0o644, mtime: '1000000000', ctime: '1000000000', ino: 1, uid: 0, gid: 0, size: 1 } as const;
    for (const name of names.slice(0, 5000)) w.entryRow(name, CODE_FILE, { ...e, name });
    const sub = w.endDir(T2, 5000);
    for (const name of names.slice(5000)) w.entryRow(name, CODE_FILE, { ...e, name });
    w.entryRow('sub', sub, { ...e, name: 'sub', type: 'dir' });
    const root = w.endDir(T1, names.length - 5000 + 1);
    const parts = w.finish(root, T1);
    expect(parts.length).toBeGreaterThan(5);
    const file = path.join(dir, 'cache');
    writeFileAtomicSync(file, parts, { durable: false });
    expect(fs.readFileSync(file)).toEqual(Buffer.concat(parts));
    const c = StatCache.load(file, T1)!;
    expect(c).not.toBeNull();
    expect(c.matches(sub, T2, names.slice(0, 5000))).toBe(true);
    expect(c.matches(root, T1, [...names.slice(5000), 'sub'])).toBe(true);
    expect(c.matches(root, T1, [...names.slice(5000, -1), 'zz', 'sub'])).toBe(false);
    const first = c.first(root);
    for (let i = 0; i < 5008; i++) expect(c.code(first + i)).toBe(i === 5007 ? sub : CODE_FILE);
  });

  it('is ignored when missing, truncated or damaged', () => {
    const w = new StatCacheWriter();
    w.entryRow('a', CODE_FILE, { name: 'a', type: 'file', mode: 0o644, mtime: '1000000000', ctime: '1000000000', ino: 1, uid: 0, gid: 0, size: 1 });
    const root = w.endDir(T1, 1);
    const bytes = Buffer.concat(w.finish(root, T1));
    const file = path.join(dir, 'cache');
    expect(StatCache.load(file, T1)).toBeNull();
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(StatCache.load(file, T1)).toBeNull();
    for (const at of [0, 20, bytes.length - 70, bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[at]! ^= 0x40;
      fs.writeFileSync(file, bad);
      expect(StatCache.load(file, T1)).toBeNull();
    }
    fs.writeFileSync(file, bytes);
    expect(StatCache.load(file, T1)).not.toBeNull();
  });

  it('converts ns strings exactly as the BigInt path does', () => {
    for (const ns of ['1700000000123456789', '1000000000', '999999999', '0', '-1500000000', '1234567890000000001', '4102444800999999999']) {
      const n = BigInt(ns);
      const exact = Number(n / 1_000_000_000n) * 1000 + Number(n % 1_000_000_000n) / 1e6;
      expect(nsToStatMs(ns)).toBe(exact);
    }
  });
});

describe('stat cache in snapshots', () => {
  it('is written by a snapshot and still notices a directory swapped for an older one with the same names', async () => {
    const src = path.join(dir, 'src');
    const older = path.join(dir, 'older');
    for (const d of [older, src]) {
      fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(d, 'sub', 'f'), d === src ? 'current' : 'older!!');
    }
    const repo = await Repository.init({ repo: path.join(dir, 'repo') });
    try {
      const a = await repo.snapshot({ path: src });
      expect(fs.existsSync(statCachePath(repo, fs.realpathSync(src)))).toBe(true);
      // The swapped-in directory's files are older than the snapshot's scan: only the inode tells them apart.
      fs.renameSync(src, path.join(dir, 'was'));
      fs.renameSync(older, src);
      const b = await repo.snapshot({ path: src });
      expect(b.manifest.tree).not.toBe(a.manifest.tree);
      expect(b.manifest.stats.modified).toBe(1);
      const out = path.join(dir, 'out');
      await repo.restore(b.id, { target: out });
      expect(fs.readFileSync(path.join(out, 'sub', 'f'), 'utf8')).toBe('older!!');
    } finally {
      repo.close();
    }
  });

  it('is left alone by a no-change snapshot and rebuilt, unchanged subtrees copied, after a deep change', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'same', 'deeper'), { recursive: true });
    fs.mkdirSync(path.join(src, 'edited'));
    fs.writeFileSync(path.join(src, 'same', 'deeper', 'x'), 'x');
    fs.writeFileSync(path.join(src, 'edited', 'y'), 'y');
    // Old enough that the next scans take them from the cache (not racily clean).
    const past = new Date(Date.now() - 60_000);
    for (const f of ['same/deeper/x', 'edited/y']) fs.utimesSync(path.join(src, f), past, past);
    for (const f of ['same/deeper/x', 'edited/y']) waitForFsClockPast(path.join(src, f), dir); // utimes set ctime to now
    const repo = await Repository.init({ repo: path.join(dir, 'repo') });
    try {
      const a = await repo.snapshot({ path: src });
      const file = statCachePath(repo, fs.realpathSync(src));
      const written = fs.statSync(file).mtimeMs;
      await new Promise((r) => setTimeout(r, 20));
      const b = await repo.snapshot({ path: src });
      expect(b.manifest.tree).toBe(a.manifest.tree);
      expect(fs.statSync(file).mtimeMs).toBe(written); // nothing changed: the cache stands
      fs.writeFileSync(path.join(src, 'edited', 'y'), 'y2');
      // Else y2 may share c's clock tick and rightly be read again by d (racy clean).
      waitForFsClockPast(path.join(src, 'edited', 'y'), dir);
      const c = await repo.snapshot({ path: src });
      expect(c.manifest.stats.modified).toBe(1);
      const cache = StatCache.load(file, c.manifest.tree)!;
      expect(cache).not.toBeNull();
      const names = fs.readdirSync(src);
      expect(cache.matches(cache.root, c.manifest.tree, names)).toBe(true);
      const sameRow = cache.first(cache.root) + names.indexOf('same');
      const sameRec = cache.code(sameRow);
      expect(sameRec).toBeGreaterThanOrEqual(0);
      const rootEntries = await repo.loadTree(c.manifest.tree);
      expect(cache.treeOf(sameRec)).toBe(rootEntries.find((e) => e.name === 'same')!.tree);
      expect(cache.matches(sameRec, cache.treeOf(sameRec) as ObjectId, ['deeper'])).toBe(true);
      expect(cache.statMatches(sameRow, fs.lstatSync(path.join(src, 'same')))).toBe(true);
      const d = await repo.snapshot({ path: src });
      expect(d.manifest.tree).toBe(c.manifest.tree);
      expect(d.manifest.stats.filesRead).toBe(0);
    } finally {
      repo.close();
    }
  });

  it('a cache naming an entry its tree lacks makes the snapshot walk again without it, with the right result', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'keep'), 'k');
    fs.writeFileSync(path.join(src, 'skip'), 's');
    const repo = await Repository.init({ repo: path.join(dir, 'repo') });
    try {
      const a = await repo.snapshot({ path: src, exclude: ['skip'] });
      // Forge a cache for the real root tree that claims `skip` (left out of that tree) as a file of it.
      const w = new StatCacheWriter();
      const names = fs.readdirSync(src);
      for (const n of names) {
        const st = fs.lstatSync(path.join(src, n), { bigint: true });
        w.entryRow(n, CODE_FILE, { name: n, type: 'file', mode: Number(st.mode & 0o7777n), mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: Number(st.ino), uid: Number(st.uid), gid: Number(st.gid), size: 1 });
      }
      const root = w.endDir(a.manifest.tree, names.length + 1);
      fs.writeFileSync(statCachePath(repo, fs.realpathSync(src)), Buffer.concat(w.finish(root, a.manifest.tree)));
      const b = await repo.snapshot({ path: src });
      const out = path.join(dir, 'out');
      await repo.restore(b.id, { target: out });
      expect(fs.readdirSync(out).sort()).toEqual(['keep', 'skip']);
      expect(fs.readFileSync(path.join(out, 'skip'), 'utf8')).toBe('s');
    } finally {
      repo.close();
    }
  });
});

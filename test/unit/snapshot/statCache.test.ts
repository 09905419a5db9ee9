import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Repository } from '../../../src/index.js';
import type { TreeEntry } from '../../../src/model/tree.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { CODE_ABSENT, CODE_FILE, CODE_SYMLINK, nsToStatMs, StatCache, StatCacheMismatch, StatCacheWriter } from '../../../src/snapshot/statCache.js';
import { statCachePath } from '../../../src/snapshot/snapshotter.js';
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

const FILE_ENTRY = { type: 'file', mode: 0o644, mtime: '1000000000', ctime: '1000000000', ino: 1, uid: 0, gid: 0, size: 1 } as const;

/** Loads `file` for `tree`, or fails the test. */
function loaded(file: string, tree: ObjectId): StatCache {
  const c = StatCache.load(file, tree);
  expect(c).not.toBeNull();
  return c!;
}

describe('stat cache file', () => {
  it('round-trips records and rows, and opens a record only for the same tree id and listing', () => {
    fs.writeFileSync(path.join(dir, 'a'), 'hello');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync('a', path.join(dir, 'l'));
    const file = path.join(dir, 'cache');
    const w = new StatCacheWriter(file);
    const sub = w.endDir(T2, 0);
    w.entryRow('a', CODE_FILE, entryOf(path.join(dir, 'a'), 'a'));
    w.absentRow('excluded');
    w.entryRow('l', CODE_SYMLINK, entryOf(path.join(dir, 'l'), 'l'));
    w.entryRow('sub', sub, entryOf(path.join(dir, 'sub'), 'sub'));
    const root = w.endDir(T1, 3);
    expect(w.finish(root, T1)).toBe(true);

    expect(StatCache.load(file, T2)).toBeNull(); // describes another tree
    const c = loaded(file, T1);
    try {
      expect(c.root).toBe(root);
      expect(c.open(root, T2, ['a', 'excluded', 'l', 'sub'])).toBeNull();
      expect(c.open(root, T1, ['excluded', 'a', 'l', 'sub'])).toBeNull(); // another order
      expect(c.open(root, T1, ['a', 'excluded', 'l'])).toBeNull();
      const d = c.open(root, T1, ['a', 'excluded', 'l', 'sub'])!;
      expect(d).not.toBeNull();
      expect(d.kept).toBe(3);
      expect([0, 1, 2, 3].map((i) => d.code(i))).toEqual([CODE_FILE, CODE_ABSENT, CODE_SYMLINK, sub]);
      expect(c.treeOf(sub)).toBe(T2);
      expect(c.open(sub, T2, [])!.kept).toBe(0);
      expect(d.statMatches(0, fs.lstatSync(path.join(dir, 'a')))).toBe(true);
      expect(d.statMatches(2, fs.lstatSync(path.join(dir, 'l')))).toBe(true);
      expect(d.statMatches(3, fs.lstatSync(path.join(dir, 'sub')))).toBe(true);
      fs.writeFileSync(path.join(dir, 'a'), 'hello, world');
      expect(d.statMatches(0, fs.lstatSync(path.join(dir, 'a')))).toBe(false);
    } finally {
      c.close();
    }
    expect(c.open(root, T1, ['a', 'excluded', 'l', 'sub'])).toBeNull(); // closed: nothing read
  });

  it('keeps every name across the pieces it is written in (thousands of entries, multi-byte names)', () => {
    // The writer gathers ~256 KiB before each write and reuses one directory's buffers for the next: rows and names
    // must survive both, the "/" between names too.
    const long = 'n'.repeat(40);
    const names = Array.from({ length: 10_007 }, (_, i) => (i % 3 === 0 ? `f${i}${long}` : i % 3 === 1 ? `ü-${i}-名前${long}` : `😀${i}`));
    const file = path.join(dir, 'cache');
    const w = new StatCacheWriter(file);
    for (const name of names.slice(0, 5000)) w.entryRow(name, CODE_FILE, { ...FILE_ENTRY, name });
    const sub = w.endDir(T2, 5000);
    for (const name of names.slice(5000)) w.entryRow(name, CODE_FILE, { ...FILE_ENTRY, name });
    w.entryRow('sub', sub, { ...FILE_ENTRY, name: 'sub', type: 'dir' });
    const root = w.endDir(T1, names.length - 5000 + 1);
    expect(w.finish(root, T1)).toBe(true);
    expect(fs.statSync(file).size).toBeGreaterThan(3 * 256 * 1024);
    const c = loaded(file, T1);
    try {
      expect(c.open(sub, T2, names.slice(0, 5000))).not.toBeNull();
      expect(c.open(root, T1, [...names.slice(5000, -1), 'zz', 'sub'])).toBeNull();
      const d = c.open(root, T1, [...names.slice(5000), 'sub'])!;
      expect(d).not.toBeNull();
      for (let i = 0; i < 5008; i++) expect(d.code(i)).toBe(i === 5007 ? sub : CODE_FILE);
    } finally {
      c.close();
    }
  });

  it('round-trips any tree of directories, and copies a record with everything below it', () => {
    // A directory: its entries' names, each a file or a subdirectory; records are written children first.
    type Dir = { names: string[]; sub: Array<Dir | null> };
    const nameArb = fc.string({ unit: fc.constantFrom('a', 'é', '名', '😀', '.', ' ', '-'), minLength: 1, maxLength: 12 });
    const dirOf = (depth: number): fc.Arbitrary<Dir> =>
      fc
        .uniqueArray(nameArb, { maxLength: 6 })
        .chain((names) => fc.tuple(fc.constant(names), fc.array(depth === 0 ? fc.constant(null) : fc.option(dirOf(depth - 1), { freq: 2 }), { minLength: names.length, maxLength: names.length })))
        .map(([names, sub]) => ({ names, sub }));
    const dirArb = dirOf(3);
    let n = 0;
    fc.assert(
      fc.property(dirArb, fc.integer({ min: 0, max: 2 ** 40 }), (top, seed) => {
        const file = path.join(dir, `cache-${n++}`);
        const w = new StatCacheWriter(file);
        // Writes `d` (children first); returns its record and what each record must read back as.
        const expected = new Map<number, { tree: ObjectId; names: string[]; codes: number[]; inos: number[] }>();
        let tree = 0;
        const write = (d: Dir): number => {
          const codes = d.sub.map((s) => (s === null ? CODE_FILE : write(s)));
          const inos = d.names.map((_, i) => seed + tree * 100 + i);
          d.names.forEach((name, i) => w.entryRow(name, codes[i]!, { ...FILE_ENTRY, name, ino: inos[i]!, type: codes[i]! >= 0 ? 'dir' : 'file' }));
          const id = (tree++).toString(16).padStart(64, '0') as ObjectId;
          const rec = w.endDir(id, d.names.length);
          expected.set(rec, { tree: id, names: d.names, codes, inos });
          return rec;
        };
        const root = write(top);
        const rootTree = expected.get(root)!.tree;
        expect(w.finish(root, rootTree)).toBe(true);
        const check = (c: StatCache, rec: number, want: { tree: ObjectId; names: string[]; codes: number[]; inos: number[] }, codeOf: (code: number) => number) => {
          const d = c.open(rec, want.tree, want.names)!;
          expect(d).not.toBeNull();
          expect(d.kept).toBe(want.names.length);
          want.codes.forEach((code, i) => {
            expect(d.code(i)).toBe(code >= 0 ? codeOf(code) : code);
            expect(d.statMatches(i, { ino: want.inos[i], size: code >= 0 ? 0 : 1, mtimeMs: 1000, ctimeMs: 1000, mode: 0o644, uid: 0, gid: 0, isDirectory: () => code >= 0 } as unknown as fs.Stats)).toBe(true);
          });
          return d;
        };
        const c = loaded(file, rootTree);
        try {
          for (const [rec, want] of expected) check(c, rec, want, (code) => code);
          // A copy of the whole tree into a new cache: the same records, renumbered in the same order.
          const copyFile = `${file}-copy`;
          const w2 = new StatCacheWriter(copyFile);
          const root2 = c.copyRecord(root, w2);
          expect(w2.finish(root2, rootTree)).toBe(true);
          const c2 = loaded(copyFile, rootTree);
          try {
            expect(c2.root).toBe(root2);
            // Walk both from the root: each subdirectory's record in the copy holds what the original's does.
            const walk = (rec: number, rec2: number) => {
              const want = expected.get(rec)!;
              const d2 = c2.open(rec2, want.tree, want.names)!;
              expect(d2).not.toBeNull();
              want.codes.forEach((code, i) => {
                if (code >= 0) walk(code, d2.code(i));
                else expect(d2.code(i)).toBe(code);
              });
            };
            walk(root, root2);
          } finally {
            c2.close();
          }
        } finally {
          c.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('is ignored when missing, truncated, damaged or of the first version', () => {
    const file = path.join(dir, 'cache');
    const w = new StatCacheWriter(path.join(dir, 'written'));
    w.entryRow('a', CODE_FILE, { ...FILE_ENTRY, name: 'a' });
    const root = w.endDir(T1, 1);
    expect(w.finish(root, T1)).toBe(true);
    const bytes = fs.readFileSync(path.join(dir, 'written'));
    expect(StatCache.load(file, T1)).toBeNull();
    for (const cut of [3, 12, bytes.length - 20]) {
      fs.writeFileSync(file, bytes.subarray(0, bytes.length - cut));
      expect(StatCache.load(file, T1)).toBeNull();
    }
    // Every byte matters: the magic at both ends, the rows, the names, the table, the trees, the footer, its length.
    for (let at = 0; at < bytes.length; at++) {
      const bad = Buffer.from(bytes);
      bad[at]! ^= 0x40;
      fs.writeFileSync(file, bad);
      const c = StatCache.load(file, T1);
      c?.close();
      expect(c === null ? null : at).toBeNull();
    }
    // A cache of the first layout (CAIRNSC1) is not read: the next snapshot compares with the tree and writes a new one.
    fs.writeFileSync(file, Buffer.concat([Buffer.from('CAIRNSC1'), bytes.subarray(8)]));
    expect(StatCache.load(file, T1)).toBeNull();
    fs.writeFileSync(file, bytes);
    loaded(file, T1).close();
  });

  it('refuses records it lacks, loops and tree ids that are not hex, as a mismatch (the walk begins again without it)', () => {
    // Hash-valid files whose rows name records badly: a crafted cache, or a writer's bug.
    const write = (file: string, subCode: number, tree = T1): StatCache | null => {
      const w = new StatCacheWriter(file);
      const sub = w.endDir(T2, 0);
      w.entryRow('sub', subCode < 0 ? sub : subCode, { ...FILE_ENTRY, name: 'sub', type: 'dir' });
      const root = w.endDir(tree, 1);
      expect(w.finish(root, tree)).toBe(true);
      return StatCache.load(file, tree);
    };
    const good = write(path.join(dir, 'good'), -1)!;
    try {
      expect(good.copyRecord(good.root, new StatCacheWriter(path.join(dir, 'copy')))).toBe(1);
      expect(good.isRecord(0) && good.isRecord(1)).toBe(true);
      expect([2, -1, 0.5, Number.NaN].some((r) => good.isRecord(r))).toBe(false);
    } finally {
      good.close();
    }
    for (const [name, code] of [['self', 1], ['beyond', 7], ['fraction', 0.5]] as const) {
      const c = write(path.join(dir, name), code)!;
      try {
        expect(c.open(c.root, T1, ['sub'])!.code(0)).toBe(code);
        expect(() => c.copyRecord(c.root, new StatCacheWriter(path.join(dir, `${name}-copy`)))).toThrow(StatCacheMismatch);
        expect(c.open(code, T2, [])).toBeNull();
      } finally {
        c.close();
      }
    }
    expect(write(path.join(dir, 'not-hex'), -1, 'Z'.repeat(64) as ObjectId)).toBeNull();
  });

  it('never fails the caller: a file that cannot be written is dropped, and discard removes what was written', () => {
    const w = new StatCacheWriter(path.join(dir, 'no-such-dir', 'cache'));
    w.entryRow('a', CODE_FILE, { ...FILE_ENTRY, name: 'a' });
    const root = w.endDir(T1, 1);
    expect(w.finish(root, T1)).toBe(false);
    expect((w.failure as NodeJS.ErrnoException).code).toBe('ENOENT');

    const file = path.join(dir, 'cache');
    const big = new StatCacheWriter(file);
    for (let i = 0; i < 5000; i++) big.entryRow(`file-${i}`, CODE_FILE, { ...FILE_ENTRY, name: `file-${i}` });
    big.endDir(T1, 5000); // more than one write's worth: the file exists now
    expect(fs.existsSync(file)).toBe(true);
    big.discard();
    expect(fs.existsSync(file)).toBe(false);
    expect(big.finish(0, T1)).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
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
      const cache = loaded(file, c.manifest.tree);
      try {
        const names = fs.readdirSync(src);
        const top = cache.open(cache.root, c.manifest.tree, names)!;
        expect(top).not.toBeNull();
        const sameRec = top.code(names.indexOf('same'));
        expect(sameRec).toBeGreaterThanOrEqual(0);
        const rootEntries = await repo.loadTree(c.manifest.tree);
        expect(cache.treeOf(sameRec)).toBe(rootEntries.find((e) => e.name === 'same')!.tree);
        expect(cache.open(sameRec, cache.treeOf(sameRec) as ObjectId, ['deeper'])).not.toBeNull();
        expect(top.statMatches(names.indexOf('same'), fs.lstatSync(path.join(src, 'same')))).toBe(true);
      } finally {
        cache.close();
      }
      expect(fs.readdirSync(path.join(repo.dir, 'tmp')).filter((n) => n.startsWith('statcache'))).toEqual([]);
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
      const w = new StatCacheWriter(statCachePath(repo, fs.realpathSync(src)));
      const names = fs.readdirSync(src);
      for (const n of names) {
        const st = fs.lstatSync(path.join(src, n), { bigint: true });
        w.entryRow(n, CODE_FILE, { name: n, type: 'file', mode: Number(st.mode & 0o7777n), mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: Number(st.ino), uid: Number(st.uid), gid: Number(st.gid), size: 1 });
      }
      const root = w.endDir(a.manifest.tree, names.length + 1);
      expect(w.finish(root, a.manifest.tree)).toBe(true);
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

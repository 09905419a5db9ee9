import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { inlineBytes } from '../../../src/model/tree.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { allObjects, makeFixture, type Fixture } from './repoFixture.js';

let f: Fixture | undefined;
afterEach(() => {
  const done = f;
  f = undefined;
  if (!done) return;
  try {
    done.repo.close();
  } finally {
    fs.rmSync(done.root, { recursive: true, force: true });
  }
});

/** Deterministic incompressible bytes. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Brute force: distinct chunks of every snapshot and their lengths, and of those the bytes held inline. */
async function distinctChunkBytes(f: Fixture): Promise<{ bytes: number; chunks: number; inline: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  let inline = 0;
  const walk = async (tree: ObjectId): Promise<void> => {
    for (const e of await f.repo.loadTree(tree)) {
      if (e.type === 'dir') await walk(e.tree!);
      else if (e.type === 'file') {
        for (const c of e.chunks ?? []) {
          if (seen.has(c)) continue;
          seen.add(c);
          const held = inlineBytes(e);
          bytes += held ? held.length : (await f.repo.store.get(c)).length;
          inline += held?.length ?? 0;
        }
      }
    }
  };
  for (const r of f.repo.log()) await walk(r.tree);
  return { bytes, chunks: seen.size, inline };
}

describe('stats', () => {
  it('counts logical, unique and stored sizes exactly, across shared, edited and self-repeating files', async () => {
    const big = noise(5 * 1024 * 1024, 7);
    f = await makeFixture({ data: { 'big.bin': big }, 'small.txt': 'hello\n'.repeat(1000), 'tiny.txt': 'tiny\n' });
    await f.snap('2026-01-01T00:00:00Z', 'daily');
    const edited = Buffer.from(big);
    noise(2000, 9).copy(edited, 2_600_000);
    f.write({ data: { 'big.bin': edited } });
    await f.snap('2026-01-02T00:00:00Z', 'daily');
    const block = noise(2 * 1024 * 1024, 11);
    f.write({ 'twice.bin': Buffer.concat([block, block, block]) });
    await f.snap('2026-01-03T00:00:00Z', 'weekly');

    const s = await f.repo.stats();
    const truth = await distinctChunkBytes(f);
    expect(s.uniqueBytes).toBe(truth.bytes);
    expect(s.inlineBytes).toBe(5); // tiny.txt, held in its tree
    expect(truth.inline).toBe(5);
    expect(s.compressionRatio).toBeCloseTo((s.uniqueBytes - s.inlineBytes) / s.uniqueStoredBytes, 2);
    expect(s.snapshots).toBe(3);
    expect(s.byType).toEqual({ daily: 2, weekly: 1 });
    expect(s.sources).toEqual([
      expect.objectContaining({ source: f.src, snapshots: 3, oldest: '2026-01-01T00:00:00.000Z', newest: '2026-01-03T00:00:00.000Z' }),
    ]);
    const logical = f.repo.log().reduce((n, r) => n + r.bytes, 0);
    expect(s.logicalBytes).toBe(logical);
    expect(s.logicalBytes).toBe(3 * 5 + 2 * (5 * 1024 * 1024 + 6000) + 5 * 1024 * 1024 + 6000 + 6 * 1024 * 1024);
    expect(s.uniqueBytes).toBeLessThan(s.logicalBytes / 2);
    expect(s.dedupRatio).toBeCloseTo(s.logicalBytes / s.uniqueBytes, 2);
    expect(s.objects).toBe((await allObjects(f.repo)).size);
    expect(s.unreferencedObjects).toBe(0);
    expect(s.storedBytes).toBe(s.uniqueStoredBytes + s.metadataStoredBytes);
  });

  it('breaks one snapshot down by top-level folder and extension, and against its parent', async () => {
    f = await makeFixture({
      journal_entries: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`e${i}.json`, `{"n":${i}}`])),
      emotional_logs: { 'mood.json': '{}', 'old.txt': 'x' },
      'README': 'readme',
      empty: {},
    });
    await f.snap('2026-01-01T00:00:00Z');
    f.write({ journal_entries: { 'e10.json': '{"n":10}', 'e0.json': '{"n":"zero, edited"}' } });
    const id = await f.snap('2026-01-02T00:00:00Z');
    const r = await f.repo.snapshotStats(id);
    expect(r.totals).toMatchObject({ files: 14, dirs: 3, symlinks: 0 });
    const folders = Object.fromEntries(r.folders.map((x) => [x.name, x.files]));
    expect(folders).toEqual({ 'journal_entries/': 11, 'emotional_logs/': 2, '.': 1, 'empty/': 0 });
    expect(Object.fromEntries(r.extensions.map((x) => [x.name, x.files]))).toEqual({ '.json': 12, '.txt': 1, '(none)': 1 });
    expect(r.overParent).toMatchObject({ added: 1, modified: 1, deleted: 0, newChunks: 2 });
    expect(r.overParent!.newBytes).toBe('{"n":10}'.length + '{"n":"zero, edited"}'.length);
    expect(r.folders.reduce((n, x) => n + x.bytes, 0)).toBe(r.totals.bytes);
    const first = await f.repo.snapshotStats('latest~1');
    expect(first.overParent).toBeNull();
  });

  it('counts unreferenced objects', async () => {
    f = await makeFixture({ 'a.txt': 'a' });
    await f.snap('2026-01-01T00:00:00Z');
    await f.repo.store.put(Buffer.from('orphan'));
    await f.repo.store.flush();
    const s = await f.repo.stats();
    expect(s.unreferencedObjects).toBe(1);
    expect((await f.repo.prune()).deletedObjects).toBe(1);
    expect((await f.repo.stats()).unreferencedObjects).toBe(0);
  });
});

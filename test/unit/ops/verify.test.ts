import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { Repository } from '../../../src/index.js';
import { sampler } from '../../../src/ops/verify.js';
import { writeTag } from '../../../src/refs.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { chunkOf, flipByte, makeFixture, type Fixture } from './repoFixture.js';

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

/** Three snapshots; journal_entries/a.json is in all three, b.json only in the last. */
async function journal(): Promise<{ f: Fixture; ids: ObjectId[] }> {
  f = await makeFixture({ journal_entries: { 'a.json': '{"entry":"a"}' }, 'notes.txt': 'n1' }, true, { inlineMax: 0 }); // every file an object: these tests damage file objects
  const ids: ObjectId[] = [];
  ids.push((await f.snap('2026-01-01T00:00:00Z')) as ObjectId);
  f.write({ 'notes.txt': 'n2' });
  ids.push((await f.snap('2026-01-02T00:00:00Z')) as ObjectId);
  f.write({ journal_entries: { 'b.json': '{"entry":"b"}' } });
  ids.push((await f.snap('2026-01-03T00:00:00Z')) as ObjectId);
  await f.reopen(); // fresh caches: verify reads what is on disk
  return { f, ids };
}

describe('verify', () => {
  it('passes a healthy repository, with and without --read-data', async () => {
    const { f } = await journal();
    const r = await f.repo.verify();
    expect(r).toMatchObject({ ok: true, snapshots: 3, damagedObjects: [], damagedSnapshots: [], indexProblems: [] });
    const all = await f.repo.verify({ readData: true });
    expect(all.ok).toBe(true);
    expect(all.readData.objectsRead).toBe(all.objects);
    expect(all.objects).toBe(4); // a.json, b.json, n1, n2
  });

  it('reports a deleted chunk as missing, with every snapshot and file it breaks', async () => {
    const { f, ids } = await journal();
    const a = await chunkOf(f.repo, ids[0]!, 'journal_entries/a.json');
    fs.rmSync(f.repo.store.pathOf(a));
    const r = await f.repo.verify();
    expect(r.ok).toBe(false);
    expect(r.damagedObjects).toEqual([{ id: a, kind: 'chunk', problem: 'missing', message: expect.any(String), snapshots: ids }]);
    expect(r.damagedSnapshots.map((s) => s.id)).toEqual(ids);
    for (const s of r.damagedSnapshots) {
      expect(s.files).toEqual([{ path: 'journal_entries/a.json', object: a, problem: 'missing' }]);
      expect(s.source).toBe(f.src);
    }
  });

  it('finds a flipped byte only when reading data, and names the file', async () => {
    const { f, ids } = await journal();
    const b = await chunkOf(f.repo, ids[2]!, 'journal_entries/b.json');
    flipByte(f.repo, b);
    expect((await f.repo.verify()).ok).toBe(true); // existence only
    const r = await f.repo.verify({ readData: true });
    expect(r.damagedObjects.map((o) => [o.id, o.problem])).toEqual([[b, 'corrupted']]);
    expect(r.damagedSnapshots).toEqual([
      expect.objectContaining({ id: ids[2], problem: null, damagedFiles: 1, files: [{ path: 'journal_entries/b.json', object: b, problem: 'corrupted' }] }),
    ]);
  });

  it('finds a truncated object', async () => {
    const { f, ids } = await journal();
    const n = await chunkOf(f.repo, ids[0]!, 'notes.txt');
    fs.truncateSync(f.repo.store.pathOf(n), 0);
    const r = await f.repo.verify({ readData: true });
    expect(r.damagedObjects.map((o) => [o.id, o.problem])).toEqual([[n, 'corrupted']]);
    expect(r.damagedSnapshots.map((s) => s.files[0]!.path)).toEqual(['notes.txt']);
  });

  it('reports a damaged tree as an unreadable folder, and a lost manifest as a lost snapshot', async () => {
    const { f, ids } = await journal();
    const root = (await f.repo.readManifest(ids[2]!)).tree;
    const journalTree = (await f.repo.entryAt(root, 'journal_entries'))!.tree!;
    flipByte(f.repo, journalTree);
    fs.rmSync(f.repo.store.pathOf(ids[0]!));
    await f.reopen();
    const r = await f.repo.verify();
    const byId = new Map(r.damagedSnapshots.map((s) => [s.id, s]));
    expect(byId.get(ids[0]!)!.problem).toMatch(/manifest is missing/);
    expect(byId.get(ids[2]!)!.files).toEqual([{ path: 'journal_entries/', object: journalTree, problem: 'corrupted' }]);
    expect(byId.has(ids[1]!)).toBe(false);
    expect(r.damagedObjects.map((o) => o.kind).sort()).toEqual(['manifest', 'tree']);
  });

  it('compares the index with the store: deleted and altered rows, heads and tags', async () => {
    const { f, ids } = await journal();
    f.repo.index.db.prepare('DELETE FROM snapshots WHERE id = ?').run(ids[0]);
    f.repo.index.db.prepare("UPDATE snapshots SET type = 'weekly' WHERE id = ?").run(ids[1]);
    writeTag(f.repoDir, { name: 'dangling', snapshot: 'f'.repeat(64) as ObjectId, time: '2026-01-01T00:00:00Z', message: '' });
    f.repo.index.setTag({ name: 'only-in-index', snapshot: ids[2]!, time: '2026-01-01T00:00:00Z', message: '' });
    fs.writeFileSync(`${f.repoDir}/refs/heads/broken.json`, '{not json');
    f.repo.index.setHead('/elsewhere', ids[2]!);
    const r = await f.repo.verify();
    expect(r.ok).toBe(false);
    expect(r.damagedObjects).toEqual([]);
    // The dangling tag is tag-dangling only: the index rightly lacks it (rebuild-index leaves it out too).
    expect(r.indexProblems.map((p) => p.problem).sort()).toEqual(
      ['missing-from-index', 'index-mismatch', 'ref-unreadable', 'head-mismatch', 'tag-dangling', 'tag-mismatch'].sort(),
    );
    expect(r.indexProblems.find((p) => p.problem === 'index-mismatch')!.message).toMatch(/\(type\)/);
    const rebuilt = await f.repo.rebuildIndex();
    expect(rebuilt.snapshots).toBe(3);
  });

  it('reads refs as the open-time catch-up does: a ref that is not a ref of its name is unreadable, and keeps its index row', async () => {
    const { f, ids } = await journal();
    await f.repo.tag('v1', ids[0]!);
    await f.repo.tag('v2', ids[1]!, { message: 'two' });
    // v1's file holds another tag's ref; v2's index row lost its message
    fs.writeFileSync(`${f.repoDir}/refs/tags/v1.json`, JSON.stringify({ name: 'other', snapshot: ids[0], time: '2026-01-01T00:00:00Z', message: '' }));
    f.repo.index.setTag({ ...f.repo.index.tag('v2')!, message: '' });
    const r = await f.repo.verify();
    expect(r.indexProblems.map((p) => [p.problem, p.message])).toEqual([
      ['ref-unreadable', 'ref file refs/tags/v1.json is unreadable: it is not a tag ref of that name'],
      ['tag-mismatch', 'tag v2 differs between refs/tags and the index; run `cairn rebuild-index`'],
    ]);
    const warnings: string[] = [];
    f.repo.close();
    f.repo = await Repository.open({ repo: f.repoDir, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual(['the index was behind refs/ (an interrupted command): 1 tag and 0 HEADs brought in line']);
    expect(f.repo.index.tag('v2')!.message).toBe('two');
    expect(f.repo.index.tag('v1')!.snapshot).toBe(ids[0]); // the last known target of the damaged name stays
    expect((await f.repo.verify()).indexProblems.map((p) => p.problem)).toEqual(['ref-unreadable']);
  });

  it('samples deterministically with n/t and covers everything across t runs', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => i.toString(16).padStart(64, '0').replace(/^0{8}/, ((i * 2654435761) >>> 0).toString(16).padStart(8, '0')));
    const picked = [1, 2, 3].map((n) => ids.filter(sampler(`${n}/3`, false).selected));
    expect(picked.flat().sort()).toEqual([...ids].sort());
    expect(new Set(picked.flat()).size).toBe(ids.length);
    expect(ids.filter(sampler('100%', false).selected)).toHaveLength(200);
    const tenth = ids.filter(sampler('10%', false, 'seed').selected);
    expect(tenth.length).toBeGreaterThan(5);
    expect(tenth.length).toBeLessThan(40);
    expect(ids.filter(sampler('10%', false, 'seed').selected)).toEqual(tenth);
    expect(ids.filter(sampler(undefined, false).selected)).toEqual([]);
    for (const bad of ['0%', '101%', '0/3', '4/3', 'ten', '1/0']) expect(() => sampler(bad, false), bad).toThrow(UsageError);
  });

  it('reads a subset when asked', async () => {
    const { f, ids } = await journal();
    const b = await chunkOf(f.repo, ids[2]!, 'journal_entries/b.json');
    flipByte(f.repo, b);
    const groups = [1, 2, 3, 4].map((n) => `${n}/4`);
    const results = [];
    for (const g of groups) results.push(await f.repo.verify({ readDataSubset: g }));
    expect(results.reduce((n, r) => n + r.readData.objectsRead, 0)).toBe(4);
    expect(results.filter((r) => !r.ok)).toHaveLength(1);
  });
});

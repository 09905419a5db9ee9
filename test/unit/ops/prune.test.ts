import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusyError, IntegrityError, RefusedError } from '../../../src/errors.js';
import { snapshotMarker } from '../../../src/refs.js';
import { describeTree } from '../../helpers.js';
import { allObjects, flipByte, makeFixture, reachable, type Fixture } from './repoFixture.js';

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

/** Five daily snapshots, each changing one file and adding one. */
async function history(): Promise<{ f: Fixture; ids: string[] }> {
  f = await makeFixture({ 'keep.txt': 'always the same\n', docs: { 'a.md': 'v0' } });
  const ids: string[] = [];
  for (let d = 1; d <= 5; d++) {
    f.write({ docs: { 'a.md': `version ${d}\n`.repeat(50), [`new${d}.txt`]: `file ${d}` } });
    ids.push(await f.snap(`2026-02-0${d}T02:00:00Z`));
  }
  return { f, ids };
}

describe('prune', () => {
  it('deletes exactly the objects no remaining snapshot uses, and every remaining one restores', async () => {
    const { f, ids } = await history();
    const views: Record<string, unknown> = {};
    for (const id of ids.slice(3)) {
      const t = path.join(f.root, `before-${id}`);
      await f.repo.restore(id, { target: t });
      views[id] = describeTree(t);
    }
    const forget = await f.repo.forget({ rules: { keepLast: 2 }, keepMinimum: 0 });
    expect(forget.removed.sort()).toEqual(ids.slice(0, 3).sort());
    const keepSet = new Set<string>();
    for (const id of ids.slice(3)) for (const o of await reachable(f.repo, id as never)) keepSet.add(o);
    const before = await allObjects(f.repo);
    const garbage = [...before].filter((o) => !keepSet.has(o));
    expect(garbage.length).toBeGreaterThan(0);

    const dry = await f.repo.prune({ dryRun: true });
    expect(await allObjects(f.repo)).toEqual(before);
    const r = await f.repo.prune();
    expect(r.deletedObjects).toBe(garbage.length);
    expect(dry.deletedObjects).toBe(garbage.length);
    expect(dry.deletedBytes).toBe(r.deletedBytes);
    expect(r.reachableObjects).toBe(keepSet.size);
    expect(await allObjects(f.repo)).toEqual(keepSet);
    expect((await f.repo.verify()).ok).toBe(true);
    for (const id of ids.slice(3)) {
      const t = path.join(f.root, `after-${id}`);
      await f.repo.restore(id, { target: t });
      expect(describeTree(t)).toEqual(views[id]);
    }
    expect((await f.repo.prune()).deletedObjects).toBe(0);
  });

  it('deletes an orphan object left by a crashed snapshot', async () => {
    f = await makeFixture({ 'a.txt': 'a' });
    await f.snap('2026-01-01T00:00:00Z');
    const orphan = (await f.repo.store.put(Buffer.from('written by a snapshot that died before its manifest'))).id;
    await f.repo.store.flush();
    const r = await f.repo.prune();
    expect(r.deletedObjects).toBe(1);
    expect(await f.repo.store.has(orphan)).toBe(false);
  });

  it('stops before deleting anything when a remaining snapshot cannot be read', async () => {
    const { f, ids } = await history();
    await f.repo.forget({ refs: [ids[0]!] });
    const tree = (await f.repo.readManifest(ids[4] as never)).tree;
    f.repo.closeIndex();
    await f.reopen(); // a fresh tree cache
    flipByte(f.repo, tree);
    const before = await allObjects(f.repo);
    await expect(f.repo.prune()).rejects.toThrow(IntegrityError);
    expect(await allObjects(f.repo)).toEqual(before);
  });

  it('needs approval', async () => {
    const { f, ids } = await history();
    await f.repo.forget({ refs: [ids[0]!] });
    await f.reopen(false);
    const before = await allObjects(f.repo);
    await expect(f.repo.prune()).rejects.toThrow(RefusedError);
    expect(await allObjects(f.repo)).toEqual(before);
    const audit = f.repo.audit.read().filter((a) => a.op === 'prune' || (a.op === 'approval' && a.args.operation === 'prune'));
    expect(audit.map((a) => a.outcome)).toEqual(['refused', 'refused']);
  });

  it('is refused while another process holds a shared lock, and blocks snapshots while it runs', async () => {
    const { f } = await history();
    const shared = f.repo.lock('snapshot', false);
    await expect(f.repo.prune()).rejects.toThrow(BusyError);
    shared.release();
    const exclusive = f.repo.lock('prune', true);
    await expect(f.snap('2026-03-01T00:00:00Z')).rejects.toThrow(BusyError);
    exclusive.release();
    await f.snap('2026-03-01T00:00:00Z');
  });

  it('removes temp files of dead processes, never of live ones', async () => {
    f = await makeFixture({ 'a.txt': 'a' });
    await f.snap('2026-01-01T00:00:00Z');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = path.join(f.repo.tmpDir, `obj-${dead}-0123456789ab`);
    const staleDb = path.join(f.repo.tmpDir, `prune.mark-${dead}-0123456789ab.db`);
    const live = path.join(f.repo.tmpDir, `obj-${process.pid}-0123456789ab`);
    for (const p of [stale, staleDb, live]) fs.writeFileSync(p, 'x');
    const r = await f.repo.prune();
    expect(r.tmpFilesRemoved).toBe(2);
    expect(fs.existsSync(stale) || fs.existsSync(staleDb)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
  });

  it('drops index rows left by an interrupted forget', async () => {
    const { f, ids } = await history();
    fs.rmSync(snapshotMarker(f.repoDir, ids[0] as never));
    expect((await f.repo.verify()).indexProblems.map((p) => p.problem)).toEqual(['not-in-store']);
    const r = await f.repo.prune();
    expect(r.indexRowsRemoved).toBe(1);
    expect(f.repo.index.get(ids[0] as never)).toBeUndefined();
    expect((await f.repo.verify()).ok).toBe(true);
  });

  it('keeps what a HEAD or tag ref names even without a marker', async () => {
    const { f, ids } = await history();
    // A marker lost (crash, hand deletion) while HEAD still names the snapshot: its data must survive prune.
    fs.rmSync(snapshotMarker(f.repoDir, ids[4] as never));
    const warnings: string[] = [];
    f.repo.close();
    const { Repository } = await import('../../../src/repository.js');
    f.repo = await Repository.open({ repo: f.repoDir, approve: () => true, onWarning: (m) => warnings.push(m) });
    await f.repo.prune();
    expect(warnings.join('\n')).toMatch(/named by a ref or a restore journal but has no marker/);
    const objects = await allObjects(f.repo);
    for (const o of await reachable(f.repo, ids[4] as never)) expect(objects.has(o)).toBe(true);
  });
});

describe('forget', () => {
  it('forgets by ref, moves a forgotten HEAD back, and refuses a tagged snapshot unless includeTagged', async () => {
    const { f, ids } = await history();
    const { writeTag } = await import('../../../src/refs.js');
    const tag = { name: 'v1', snapshot: ids[1] as never, time: '2026-02-02T03:00:00Z', message: '' };
    writeTag(f.repoDir, tag);
    f.repo.index.setTag(tag);
    await expect(f.repo.forget({ refs: [ids[1]!] })).rejects.toThrow(RefusedError);
    const r = await f.repo.forget({ refs: ['latest', 'v1'], includeTagged: true });
    expect(r.removed.sort()).toEqual([ids[1]!, ids[4]!].sort());
    expect(r.tagsRemoved).toEqual(['v1']);
    expect(r.headsMoved).toEqual([{ source: f.src, from: ids[4], to: ids[3] }]);
    expect(f.repo.index.head(f.src)).toBe(ids[3]);
    expect(fs.existsSync(snapshotMarker(f.repoDir, ids[4] as never))).toBe(false);
    await f.repo.prune();
    expect((await f.repo.verify()).ok).toBe(true);
    // The next snapshot takes the moved HEAD as its parent.
    const next = await f.snap('2026-02-10T00:00:00Z');
    expect((await f.repo.readManifest(next as never)).parents).toEqual([ids[3]]);
  });

  it('a dry run changes nothing and with prune reports what would be freed', async () => {
    const { f } = await history();
    const before = await allObjects(f.repo);
    const dry = await f.repo.forget({ rules: { keepLast: 1 }, keepMinimum: 0, dryRun: true, prune: true });
    expect(dry.remove).toHaveLength(4);
    expect(await allObjects(f.repo)).toEqual(before);
    expect(f.repo.log()).toHaveLength(5);
    const real = await f.repo.forget({ rules: { keepLast: 1 }, keepMinimum: 0, prune: true });
    expect(real.prune!.deletedObjects).toBe(dry.prune!.deletedObjects);
    expect(real.prune!.deletedBytes).toBe(dry.prune!.deletedBytes);
    const audit = f.repo.audit.read().filter((a) => a.op === 'forget');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.snapshots.sort()).toEqual(real.removed.sort());
  });

  it('uses the config policy when no rules are given', async () => {
    const { f, ids } = await history();
    await f.repo.setConfig('retention.daily.keepWithin', '2d');
    const r = await f.repo.forget({ keepMinimum: 0, dryRun: true });
    expect(r.policy).toBe('config');
    expect(r.keep.map((k) => k.id)).toEqual([ids[4], ids[3]]);
    expect(r.keep[0]!.reasons).toEqual(['daily policy: keep-within 2d', 'HEAD of its source']);
  });

  it('keeps, and prune keeps the data of, the snapshots an interrupted restore needs', async () => {
    const { f, ids } = await history();
    const { newStagingDir, writeJournal } = await import('../../../src/ops/restoreJournal.js');
    const os = await import('node:os');
    await writeJournal(f.repoDir, f.repo.tmpDir, {
      v: 1,
      target: path.join(f.root, 'target'),
      snapshot: ids[0] as never,
      restorePoint: ids[1] as never,
      staging: newStagingDir(path.join(f.root, 'target')),
      phase: 'staging',
      setHead: true,
      paths: [],
      verify: false,
      chown: false,
      pid: spawnSync(process.execPath, ['-e', '0']).pid!,
      host: os.hostname(),
      started: '2026-02-06T00:00:00Z',
      actions: [],
    });
    const dry = await f.repo.forget({ rules: { keepLast: 1 }, keepMinimum: 0, dryRun: true });
    const reasons = Object.fromEntries(dry.keep.map((k) => [k.id, k.reasons]));
    expect(reasons[ids[0]!]).toEqual([`needed by the interrupted restore into ${path.join(f.root, 'target')}`]);
    expect(reasons[ids[1]!]).toEqual([`restore point of the interrupted restore into ${path.join(f.root, 'target')}`]);
    await expect(f.repo.forget({ refs: [ids[0]!] })).rejects.toThrow(/interrupted restore/);
    // Even with its marker gone, the data an interrupted restore needs survives prune.
    fs.rmSync(snapshotMarker(f.repoDir, ids[0] as never));
    await f.repo.prune();
    const objects = await allObjects(f.repo);
    for (const o of await reachable(f.repo, ids[0] as never)) expect(objects.has(o)).toBe(true);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AmbiguousRefError, IntegrityError, NotFoundError, Repository, UsageError, type Manifest, type ObjectId } from '../../../src/index.js';
import { tempDir } from '../../helpers.js';

const dir = tempDir('cairn-ref-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function fakeManifest(time: string, parents: ObjectId[]): Manifest {
  return {
    v: 1, kind: 'dir', tree: 'e'.repeat(64) as ObjectId, source: '/src', host: 'h', user: 'u', time, scanStart: '0', parents,
    mode: 'full', base: null, type: 'manual', message: '', errors: [], warnings: [],
    stats: { files: 0, dirs: 0, symlinks: 0, bytes: 0, added: 0, modified: 0, deleted: 0, unchanged: 0, bytesRead: 0, filesRead: 0, newObjects: 0, newBytes: 0, durationMs: 0, errors: 0 },
  };
}

describe('resolveRef', () => {
  it('resolves ids, unique prefixes, latest~N, tags and ~N along parents; rejects ambiguous and short prefixes', async () => {
    const repo = await Repository.init({ repo: path.join(dir, 'r') });
    const a = `abcd1${'0'.repeat(59)}` as ObjectId;
    const b = `abcd2${'0'.repeat(59)}` as ObjectId;
    const c = `ffff0${'0'.repeat(59)}` as ObjectId;
    repo.index.addSnapshot(a, fakeManifest('2026-01-01T00:00:00Z', []));
    repo.index.addSnapshot(b, fakeManifest('2026-01-02T00:00:00Z', [a]));
    repo.index.addSnapshot(c, fakeManifest('2026-01-03T00:00:00Z', [b]));
    repo.index.setTag({ name: 'v1.0', snapshot: b, time: '2026-01-02T00:00:00Z', message: '' });
    await expect(repo.resolveRef('abcd')).rejects.toBeInstanceOf(AmbiguousRefError);
    await expect(repo.resolveRef('abc')).rejects.toBeInstanceOf(UsageError);
    expect(await repo.resolveRef('abcd1')).toBe(a);
    expect(await repo.resolveRef(c)).toBe(c);
    expect(await repo.resolveRef('latest')).toBe(c);
    expect(await repo.resolveRef('latest~2')).toBe(a);
    expect(await repo.resolveRef('v1.0')).toBe(b);
    expect(await repo.resolveRef('v1.0~1')).toBe(a);
    expect(await repo.resolveRef('ffff~2')).toBe(a);
    await expect(repo.resolveRef('latest~3')).rejects.toBeInstanceOf(NotFoundError);
    await expect(repo.resolveRef('abcd1~1')).rejects.toBeInstanceOf(NotFoundError);
    await expect(repo.resolveRef('nosuchtag')).rejects.toBeInstanceOf(NotFoundError);
    repo.close();
  });

  it('names a snapshot whose manifest is damaged (left out of the index) as damage, not "not found"; forget may resolve it', async () => {
    const repo = await Repository.init({ repo: path.join(dir, 'damaged') });
    const put = async (m: unknown) => {
      const r = await repo.store.put(Buffer.from(JSON.stringify(m)));
      await repo.store.flush();
      fs.writeFileSync(path.join(repo.dir, 'snapshots', r.id), '');
      return r.id;
    };
    const bad = await put({ ...fakeManifest('2026-01-01T00:00:00Z', []), tree: '90dd3b3b99fd' });
    const fine = await put(fakeManifest('2026-01-02T00:00:00Z', [])); // committed by another process since open
    const err = await repo.resolveRef(bad.slice(0, 12)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).message).toBe(`snapshot ${bad} is malformed: bad root tree id "90dd3b3b99fd"`);
    await expect(repo.resolveRef(`${bad.slice(0, 12)}~1`)).rejects.toBeInstanceOf(IntegrityError);
    expect(await repo.resolveRef(bad.slice(0, 12), { allowDamaged: true })).toBe(bad);
    expect(await repo.resolveRef(fine.slice(0, 12))).toBe(fine);
    await expect(repo.resolveRef('0000')).rejects.toBeInstanceOf(NotFoundError);
    repo.close();
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AmbiguousRefError, NotFoundError, Repository, UsageError, type Manifest, type ObjectId } from '../../../src/index.js';
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
});

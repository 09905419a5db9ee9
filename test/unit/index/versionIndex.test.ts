import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VersionIndex, type FileVersionRow } from '../../../src/index/versionIndex.js';
import type { Manifest } from '../../../src/model/manifest.js';
import type { ObjectId } from '../../../src/store/objectId.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-index-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const id = (c: string) => c.repeat(64) as ObjectId;
function manifest(time: string): Manifest {
  return {
    v: 1,
    kind: 'dir',
    tree: id('e'),
    source: '/src',
    host: 'h',
    user: 'u',
    time,
    scanStart: '0',
    parents: [],
    mode: 'full',
    base: null,
    type: 'manual',
    message: '',
    stats: { files: 1, dirs: 0, symlinks: 0, bytes: 1, added: 1, modified: 0, deleted: 0, unchanged: 0, durationMs: 0, errors: 0 },
    errors: [],
    warnings: [],
  } as unknown as Manifest;
}
const row = (p: string, content: string): FileVersionRow => ({ path: p, status: 'A', type: 'file', content, size: 1 });

describe('the versions of a snapshot being committed', () => {
  it('are staged until the snapshot id is known, filed under it, and a rollback drops them', () => {
    const index = VersionIndex.open(path.join(dir, 'index.db'));
    try {
      // A commit that fails after staging: nothing of it is left, in the stage or in the table.
      index.begin();
      index.stageVersion(row('lost.txt', id('0')));
      index.rollback();

      index.begin();
      index.stageVersion(row('a.txt', id('1')));
      index.stageVersion(row('dir/b.txt', id('2')));
      index.addSnapshot(id('a'), manifest('2026-01-01T00:00:00.000Z'));
      index.publishVersions(id('a'));
      index.commit();

      // The next commit starts from an empty stage: its rows only.
      index.begin();
      index.stageVersion(row('a.txt', id('3')));
      index.addSnapshot(id('b'), manifest('2026-01-02T00:00:00.000Z'));
      index.publishVersions(id('b'));
      index.commit();

      expect(index.fileVersions('lost.txt')).toEqual([]);
      expect(index.fileVersions('a.txt').map((v) => [v.snapshot, v.content])).toEqual([
        [id('b'), id('3')],
        [id('a'), id('1')],
      ]);
      expect(index.fileVersions('dir').map((v) => [v.path, v.snapshot])).toEqual([['dir/b.txt', id('a')]]);
    } finally {
      index.close();
    }
  });
});

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

describe('index.db page cache', () => {
  it("is SQLite's 2 MB for the database and for the staged rows' temp schema, not better-sqlite3's 16 MB", () => {
    // Each cache fills as a first snapshot inserts its rows, and its memory stays with the process to its end.
    const index = VersionIndex.open(path.join(dir, 'cache.db'));
    try {
      index.begin();
      index.stageVersion(row('a.txt', id('1'))); // creates the temp schema
      index.rollback();
      expect(index.db.pragma('cache_size', { simple: true })).toBe(-2000);
      expect(index.db.pragma('temp.cache_size', { simple: true })).toBe(-2000);
    } finally {
      index.close();
    }
  });
});

describe('index.db on a file system with little free space', () => {
  /** CAIRN_TEST_FAULTS making every free-space check (of this process) report a full disk. */
  const full = Array.from({ length: 2000 }, (_, i) => `free-space:ENOSPC:${i + 1}`).join(',');

  it('is opened with its WAL index in the heap, not in the memory-mapped -shm file (SIGBUS when the disk cannot back it)', () => {
    const file = path.join(dir, 'low.db');
    const saved = process.env.CAIRN_TEST_FAULTS;
    process.env.CAIRN_TEST_FAULTS = full;
    let index: VersionIndex;
    try {
      index = VersionIndex.open(file);
    } finally {
      process.env.CAIRN_TEST_FAULTS = saved ?? '';
    }
    try {
      expect(index.sharedMemory).toBe(false);
      expect(index.db.pragma('locking_mode', { simple: true })).toBe('exclusive');
      expect(index.db.pragma('journal_mode', { simple: true })).toBe('wal');
      index.addSnapshot(id('a'), manifest('2026-01-01T00:00:00.000Z'));
      expect(fs.existsSync(`${file}-shm`)).toBe(false);
      expect(() => index.checkRoom('nothing')).not.toThrow(); // no shared memory: nothing to keep room for
    } finally {
      index.close();
    }
    // With room, the usual shared mode, and what was written is there.
    const again = VersionIndex.open(file);
    try {
      expect(again.sharedMemory).toBe(true);
      expect(again.db.pragma('locking_mode', { simple: true })).toBe('normal');
      expect(fs.existsSync(`${file}-shm`)).toBe(true);
      expect(again.allIds()).toEqual([id('a')]);
    } finally {
      again.close();
    }
  });

  it('opened with shared memory, refuses a write that follows a full disk (checkRoom) with no space left, naming what was not done', () => {
    const index = VersionIndex.open(path.join(dir, 'room.db'));
    const saved = process.env.CAIRN_TEST_FAULTS;
    try {
      expect(() => index.checkRoom('the snapshot was not saved')).not.toThrow();
      process.env.CAIRN_TEST_FAULTS = full;
      let err: unknown;
      try {
        index.checkRoom('the snapshot was not saved');
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'IO', message: expect.stringMatching(/^no space left on device: .* has 0 KiB free, and cairn keeps 1 MiB there for its index \(index\.db\); the snapshot was not saved$/) });
    } finally {
      process.env.CAIRN_TEST_FAULTS = saved ?? '';
      index.close();
    }
  });
});

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { databaseChunker, databaseChunkSize, databaseError, parseSqliteHeader, removeStaleCopies, SQLITE_MAGIC, tempCopyName, withTempDatabase } from '../../../src/snapshot/sqliteSource.js';

const pageSizes = fc.integer({ min: 9, max: 16 }).map((b) => 2 ** b);

describe('databaseChunkSize', () => {
  it('is a whole number of pages, at least the configured size and less than one page more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 512, max: 4 * 1024 * 1024 }), pageSizes, (configured, page) => {
        const size = databaseChunkSize(configured, page);
        expect(size % page).toBe(0);
        expect(size).toBeGreaterThanOrEqual(Math.max(configured, page));
        expect(size).toBeLessThan(Math.max(configured, page) + page);
      }),
    );
  });

  it('keeps content-defined dbChunker settings as they are', () => {
    const cdc = { kind: 'cdc', min: 1024, avg: 4096, max: 16384 } as const;
    expect(databaseChunker(cdc, 4096)).toBe(cdc);
    expect(databaseChunker({ kind: 'fixed', size: 4096 }, 65536)).toEqual({ kind: 'fixed', size: 65536 });
  });
});

describe('parseSqliteHeader', () => {
  const header = (pageSizeField: number, writeVersion: number, pages: number) => {
    const b = Buffer.alloc(100);
    SQLITE_MAGIC.copy(b, 0);
    b.writeUInt16BE(pageSizeField, 16);
    b[18] = writeVersion;
    b[19] = writeVersion;
    b.writeUInt32BE(pages, 28);
    return b;
  };

  it('reads page size, journal format and page count', () => {
    expect(parseSqliteHeader(header(4096, 2, 10))).toEqual({ pageSize: 4096, pageCount: 10, journal: 'wal' });
    expect(parseSqliteHeader(header(1, 1, 3))).toEqual({ pageSize: 65536, pageCount: 3, journal: 'rollback' });
  });

  it('rejects what is not a database header', () => {
    expect(parseSqliteHeader(Buffer.from('hello'))).toBeNull();
    expect(parseSqliteHeader(Buffer.alloc(100))).toBeNull();
    expect(parseSqliteHeader(header(3000, 1, 1))).toBeNull();
  });
});

describe('temp copies', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const scratch = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-tmpcopy-'));
    dirs.push(d);
    return d;
  };

  it('are removed when the work fails', async () => {
    const dir = scratch();
    const copy = tempCopyName(dir);
    await expect(
      withTempDatabase(copy, async () => {
        fs.writeFileSync(copy, 'x');
        fs.writeFileSync(`${copy}-wal`, 'x');
        throw new Error('copy failed');
      }),
    ).rejects.toThrow('copy failed');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("left by a dead process are swept once they are old; a live process's and fresh ones stay", async () => {
    const dir = scratch();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const names = {
      deadOld: `sqlite-${dead}-0123456789ab.db`,
      deadOldWal: `sqlite-${dead}-0123456789ab.db-wal`,
      deadFresh: `sqlite-${dead}-ba9876543210.db`,
      mine: `sqlite-${process.pid}-aaaaaaaaaaaa.db`,
      other: 'index-123-abc',
    };
    for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), '');
    for (const n of [names.deadOld, names.deadOldWal, names.mine, names.other]) fs.utimesSync(path.join(dir, n), old, old);
    const removed = await removeStaleCopies(dir);
    expect(removed.map((p) => path.basename(p)).sort()).toEqual([names.deadOld, names.deadOldWal].sort());
    expect(fs.readdirSync(dir).sort()).toEqual([names.deadFresh, names.mine, names.other].sort());
  });
});

describe('databaseError', () => {
  const err = (code: string, message: string) => databaseError(new Database.SqliteError(message, code), '/srv/app.db', 'the consistent copy');

  it('a full disk (the copy in the repository\'s tmp/ cannot grow) is an I/O error, not damage', () => {
    const e = err('SQLITE_FULL', 'database or disk is full');
    expect(e).toMatchObject({ code: 'IO', message: 'database /srv/app.db: the consistent copy failed: no space left on device' });
    expect((e as { hint: string }).hint).toMatch(/free some space.*tmp\/.*nothing was stored/);
    expect(err('SQLITE_IOERR_WRITE', 'disk I/O error')).toMatchObject({ code: 'IO', message: expect.stringMatching(/disk I\/O error/) });
  });

  it('a damaged database is still damage, and a busy one busy', () => {
    expect(err('SQLITE_CORRUPT', 'database disk image is malformed')).toMatchObject({ code: 'DATABASE' });
    expect(err('SQLITE_BUSY', 'database is locked')).toMatchObject({ code: 'BUSY' });
  });
});

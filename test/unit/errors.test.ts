import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { explainError } from '../../src/errors.js';
import { thrown, tempDir } from '../helpers.js';

const dir = tempDir('cairn-errors-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('explainError: SQLite errors of index.db on a full or failing disk', () => {
  it('a real SQLITE_FULL (a database that cannot grow) is an I/O error naming index.db and saying to free space', () => {
    const db = new Database(path.join(dir, 'full.db'));
    try {
      db.exec('CREATE TABLE t(x)');
      db.pragma('max_page_count = 3');
      const err = thrown(() => db.exec("INSERT INTO t VALUES (randomblob(100000))"));
      expect(err).toBeInstanceOf(Database.SqliteError);
      expect((err as { code: string }).code).toBe('SQLITE_FULL');
      const known = explainError(err);
      expect(known?.code).toBe('IO');
      expect(known?.message).toBe("no space left on device: cannot write the repository's index (index.db): database or disk is full");
      expect(known?.hint).toMatch(/free some space/);
    } finally {
      db.close();
    }
  });

  it.each(['SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_IOERR_SHMSIZE', 'SQLITE_IOERR_SHMOPEN', 'SQLITE_IOERR_TRUNCATE'])(
    '%s (what better-sqlite3 throws when SQLite cannot write on a full disk) is an I/O error naming index.db, not an internal error',
    (code) => {
      const known = explainError(new Database.SqliteError('disk I/O error', code));
      expect(known?.code).toBe('IO');
      expect(known?.message).toBe(`cannot write the repository's index (index.db): disk I/O error (${code})`);
      expect(known?.hint).toMatch(/full or failing.*free space/);
    },
  );

  it('a read error says read; damage stays damage', () => {
    expect(explainError(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_READ'))?.message).toMatch(/^cannot read the repository's index/);
    expect(explainError(new Database.SqliteError('database disk image is malformed', 'SQLITE_CORRUPT'))?.code).toBe('INTEGRITY');
    expect(explainError(new Database.SqliteError('some bug', 'SQLITE_MISUSE'))).toBeUndefined();
  });
});

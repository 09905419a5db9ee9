/**
 * The two ways a database restore notices another user of the database, each
 * on its own: the SQLite lock probe (quiesceDatabase) and the /proc scan.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusyError } from '../../../src/errors.js';
import { databaseInUse, IN_USE, quiesceDatabase } from '../../../src/ops/restoreDatabase.js';
import { processesHolding } from '../../../src/util/openFiles.js';
import { makeDatabase, startUser, type Running } from '../../e2e/databaseFixtures.js';

const running: Running[] = [];
const dirs: string[] = [];
afterEach(async () => {
  try {
    for (const r of running.splice(0)) await r.stop();
  } finally {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
});

function freshDb(journal: 'wal' | 'delete'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-quiesce-'));
  dirs.push(dir);
  const db = path.join(dir, 'app.db');
  makeDatabase(db, journal, 0, 10);
  return db;
}

describe('quiesceDatabase (the lock probe)', () => {
  it.each(['wal', 'delete'] as const)('passes a database no one uses (%s)', (journal) => {
    const db = freshDb(journal);
    expect(quiesceDatabase(db)).toBe('ok');
    expect(databaseInUse(db)).toBeNull();
  });

  it.each(['wal', 'delete'] as const)('refuses while another process holds a write lock (%s)', async (journal) => {
    const db = freshDb(journal);
    running.push(await startUser('lock', db, journal));
    let err: unknown;
    try {
      quiesceDatabase(db);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BusyError);
    expect((err as Error).message).toContain(IN_USE);
  });

  it('refuses while another process reads a WAL database (its checkpoint cannot finish)', async () => {
    const db = freshDb('wal');
    // an open read transaction pins the WAL: hold one in this process through a second connection
    const Database = (await import('better-sqlite3')).default;
    makeDatabase(db, 'wal', 0, 5); // leave frames in the WAL
    const reader = new Database(db);
    reader.pragma('wal_autocheckpoint = 0');
    reader.prepare('INSERT INTO items(payload) VALUES (?)').run('in the wal');
    const it = reader.prepare('SELECT * FROM items').iterate();
    it.next(); // a read transaction stays open while the iterator is unfinished
    try {
      expect(() => quiesceDatabase(db)).toThrow(IN_USE);
    } finally {
      it.return?.();
      reader.close();
    }
  });

  it('reports a file SQLite cannot read as damaged instead of failing', () => {
    const db = freshDb('delete');
    const bytes = fs.readFileSync(db);
    bytes.fill(0xff, 100, 4096);
    fs.writeFileSync(db, bytes);
    expect(quiesceDatabase(db)).toBe('damaged');
  });
});

describe('processesHolding (the /proc scan)', () => {
  it('finds another process that only has the file open, and nothing once it is gone', async () => {
    const db = freshDb('wal');
    const user = await startUser('open', db, 'wal');
    running.push(user);
    const found = processesHolding([db, `${db}-wal`, `${db}-shm`]);
    if (found === null) return; // no /proc on this system: the lock probe alone applies
    expect(found.map((h) => h.pid)).toContain(user.child.pid);
    // an idle connection holds no lock: only the scan sees it
    expect(databaseInUse(db)).toContain(IN_USE);
    await user.stop();
    expect(processesHolding([db, `${db}-wal`, `${db}-shm`])).toEqual([]);
  });
});

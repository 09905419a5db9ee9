/**
 * A set of object ids on disk, for mark and sweep over stores too large for
 * a JavaScript Set: a scratch SQLite table of 32-byte keys (WITHOUT ROWID, so
 * the B-tree holds only the keys), written in batched transactions, no
 * journal and no fsync (a crash just leaves a stale temp file that the next
 * prune removes). Memory stays at SQLite's page cache (16 MiB) whatever the
 * number of ids; a million ids take about 45 MB on disk.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { IoError } from '../errors.js';
import { tempName } from '../util/durableFs.js';
import { quoteName } from '../util/quoteName.js';

const BATCH = 20_000;
const CACHE_KIB = 16 * 1024;

export class ObjectSet {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly probe: Database.Statement;
  private pendingWrites = 0;
  private count = 0;

  private constructor(readonly file: string) {
    this.db = new Database(file);
    try {
      this.db.pragma('journal_mode = OFF');
      this.db.pragma('synchronous = OFF');
      this.db.pragma(`cache_size = -${CACHE_KIB}`);
      this.db.pragma('temp_store = FILE');
      this.db.exec('CREATE TABLE ids (id BLOB PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID');
      this.insert = this.db.prepare('INSERT OR IGNORE INTO ids(id, v) VALUES (?, ?)');
      this.probe = this.db.prepare('SELECT 1 FROM ids WHERE id = ?').pluck();
    } catch (err) {
      this.dispose();
      throw this.failure(err);
    }
  }

  /**
   * A SQLite error of this scratch file as a CairnError naming it: a full or failing disk is an IoError (its
   * temp file in the repository's tmp/ grows with the number of ids); anything else is thrown as it is.
   */
  private failure(err: unknown): unknown {
    const code = (err as { code?: unknown } | null)?.code;
    if (code !== 'SQLITE_FULL' && !(typeof code === 'string' && code.startsWith('SQLITE_IOERR'))) return err;
    const full = code === 'SQLITE_FULL';
    return new IoError(`${full ? 'no space left on device: ' : ''}cannot write the scratch database ${quoteName(this.file)}: ${(err as Error).message}${full ? '' : ` (${code})`}`, {
      cause: err,
      hint: full
        ? 'free some space on the repository\'s file system and run the command again (this command needs about 45 MB there per million objects); the repository is unchanged'
        : 'the repository\'s file system is full or failing: check its free space (df) and the system log, then run the command again',
    });
  }

  /**
   * A new empty set in a temp file under `dir`, named `<prefix>-<pid>-<unique>.db`
   * (prefix of letters and dots), so that once its process is dead
   * RepoContext.cleanStaleTemp recognises and removes it.
   */
  static create(dir: string, prefix = 'objset'): ObjectSet {
    return new ObjectSet(`${tempName(dir, prefix)}.db`);
  }

  /** Adds an id (with a number carried along, such as its size); true when it was not in the set before. */
  add(id: string, value = 0): boolean {
    try {
      // SQLite's own flag, not one of ours: a failed write (a full disk) may have rolled the transaction back.
      if (!this.db.inTransaction) this.db.exec('BEGIN');
      const added = this.insert.run(Buffer.from(id, 'hex'), value).changes > 0;
      if (added) {
        this.count++;
        if (++this.pendingWrites >= BATCH) this.commit();
      }
      return added;
    } catch (err) {
      throw this.failure(err);
    }
  }

  has(id: string): boolean {
    try {
      return this.probe.get(Buffer.from(id, 'hex')) !== undefined;
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Every id and its value, in id order, streamed `batch` at a time (bounded memory). */
  *entries(batch = 1000): Generator<Array<{ id: string; value: number }>> {
    let page: Database.Statement;
    try {
      this.commit();
      page = this.db.prepare('SELECT id, v FROM ids WHERE id > ? ORDER BY id LIMIT ?');
    } catch (err) {
      throw this.failure(err);
    }
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      let rows: Array<{ id: Buffer; v: number }>;
      try {
        rows = page.all(after, batch) as Array<{ id: Buffer; v: number }>;
      } catch (err) {
        throw this.failure(err);
      }
      if (rows.length === 0) return;
      yield rows.map((r) => ({ id: r.id.toString('hex'), value: r.v }));
      after = rows[rows.length - 1]!.id;
    }
  }

  get size(): number {
    return this.count;
  }

  private commit(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.pendingWrites = 0;
  }

  /**
   * Closes the database and deletes its file. Nothing is committed first: the file is thrown away, and after a
   * failed write (a full disk) a COMMIT would fail as well (SQLite may have rolled back already: "cannot commit -
   * no transaction is active"), hiding the error that the command is ending with.
   */
  dispose(): void {
    try {
      this.db.close();
    } finally {
      for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(this.file + suffix, { force: true });
    }
  }
}

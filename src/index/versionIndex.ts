/**
 * The version index: a SQLite cache of what the object store holds, for fast
 * queries (log, refs, history of a path). The store is the source of truth;
 * this file can be deleted and rebuilt (see ops/rebuildIndex.ts).
 */
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { IntegrityError, BusyError, IoError } from '../errors.js';
import { freeBytes } from '../util/freeSpace.js';
import type { Manifest, SnapshotStats } from '../model/manifest.js';
import type { ObjectId } from '../store/objectId.js';
import { INDEX_SCHEMA_VERSION, MIGRATIONS } from './schema.js';
import { quoteName } from '../util/quoteName.js';

export interface SnapshotRow {
  id: ObjectId;
  source: string;
  time: string;
  timeMs: number;
  kind: string;
  type: string;
  mode: string;
  base: ObjectId | null;
  message: string;
  tree: ObjectId;
  host: string;
  user: string;
  files: number;
  bytes: number;
  stats: SnapshotStats;
  parents: ObjectId[];
  tags: string[];
}

/** Rows per statement of stageVersions(): 5 parameters each, well under SQLite's 32,766. */
const STAGE_ROWS = 128;
/** The page cache of index.db and of its temp schema, each (KiB; see VersionIndex.open). */
const CACHE_KIB = 2000;

export interface FileVersionRow {
  path: string;
  status: string;
  type: string | null;
  content: string | null;
  size: number | null;
}

export interface TagRow {
  name: string;
  snapshot: ObjectId;
  time: string;
  message: string;
}

export interface LogQuery {
  source?: string;
  type?: string;
  limit?: number;
}

interface RawSnapshot {
  id: string;
  path: string;
  time: string;
  time_ms: number;
  kind: string;
  type: string;
  mode: string;
  base: string | null;
  message: string;
  tree: string;
  host: string;
  user: string;
  files: number;
  bytes: number;
  stats: string;
}

const SNAPSHOT_COLUMNS = `s.id, src.path, s.time, s.time_ms, s.kind, s.type, s.mode, s.base, s.message, s.tree, s.host, s.user, s.files, s.bytes, s.stats`;

/**
 * Free space below which index.db is opened without shared memory (see VersionIndex.open), and below which a
 * snapshot is not recorded by a process that opened it with shared memory (checkRoom).
 */
export const INDEX_ROOM_BYTES = 1024 * 1024;

function kib(bytes: number): string {
  return `${Math.floor(bytes / 1024)} KiB`;
}

function mapSqliteError(err: unknown, file: string, lowSpace?: number): never {
  const code = (err as { code?: string }).code ?? '';
  if ((code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') && lowSpace !== undefined) {
    throw new BusyError(`the index ${quoteName(file)} is in use by another cairn process, and with ${kib(lowSpace)} free on its file system it can only be opened by one process at a time`, {
      cause: err,
      hint: 'free some space (cairn shares index.db between processes with 1 MiB or more free), or wait for the other command to finish and try again',
    });
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new BusyError(`the index ${quoteName(file)} is busy`, { cause: err, hint: 'another cairn process is writing; try again' });
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    throw new IntegrityError(`the index ${quoteName(file)} is damaged`, { cause: err, hint: 'run `cairn rebuild-index` to rebuild it from the object store' });
  }
  throw err;
}

export class VersionIndex {
  readonly db: Database.Database;

  /**
   * @param sharedMemory whether SQLite keeps this connection's WAL index in the memory-mapped index.db-shm (the
   * default) rather than in this process's heap (opened with little free space: see open()).
   */
  private constructor(
    db: Database.Database,
    readonly file: string,
    readonly sharedMemory: boolean,
  ) {
    this.db = db;
  }

  /**
   * Opens (creating or migrating) the index at `file`.
   *
   * With less than INDEX_ROOM_BYTES free on its file system, the index is opened in SQLite's exclusive locking
   * mode, which keeps the WAL index in this process's heap instead of the memory-mapped index.db-shm. SQLite
   * grows that file by writing one byte per 4 KiB page and then writes the pages through the mapping; where a
   * page is not wholly allocated by that byte (file systems with blocks under 4 KiB, such as a small ext4, or
   * copy-on-write ones) and the disk is full, the write through the mapping raises SIGBUS and the process dies
   * with no message (exit 135; 8-16 KiB free on a 1 KiB-block ext4). In exclusive mode a full disk is an
   * SQLITE_FULL error instead, and commands that only read still work; the price is that no other process can
   * use index.db meanwhile (it waits busy_timeout, then fails as busy), which is why this is not the default.
   */
  static open(file: string, options: { readonly?: boolean } = {}): VersionIndex {
    let db: Database.Database | undefined;
    let lowSpace: number | undefined;
    try {
      db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      db.pragma('busy_timeout = 10000');
      if (!options.readonly) {
        const free = freeBytes(path.dirname(file));
        if (free !== undefined && free < INDEX_ROOM_BYTES) {
          lowSpace = free;
          db.pragma('locking_mode = EXCLUSIVE'); // before the first access of the WAL: its index then lives in the heap
        }
        db.pragma('journal_mode = WAL');
        // A commit is not fsync'd: the index is a cache of snapshots/ and refs/, whose files are written (durably)
        // before the rows, and every open brings it in line with them (reconcileIndex). In WAL mode NORMAL keeps the
        // database consistent through a power loss, which can only take the last commits, and those the next open
        // adds back. FULL had cost a no-change snapshot four serial fsyncs (journal commits) of its ~13.
        db.pragma('synchronous = NORMAL');
      }
      // SQLite's own default page cache (2 MB) for the index and for its temp schema (the rows a snapshot stages),
      // not better-sqlite3's 16 MB: each fills as a first snapshot inserts its rows, and that memory stays with the
      // process (malloc's heap) to its end: up to 32 MB of a first snapshot's peak RSS.
      db.pragma(`cache_size = -${CACHE_KIB}`);
      db.pragma(`temp.cache_size = -${CACHE_KIB}`);
      db.pragma('foreign_keys = ON');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > INDEX_SCHEMA_VERSION) {
        throw new IntegrityError(`the index ${quoteName(file)} was written by a newer cairn (schema ${version})`, {
          hint: 'upgrade cairn, or run `cairn rebuild-index`',
        });
      }
      if (!options.readonly && version < INDEX_SCHEMA_VERSION) {
        db.transaction(() => {
          for (let v = version; v < INDEX_SCHEMA_VERSION; v++) db!.exec(MIGRATIONS[v]!);
          db!.pragma(`user_version = ${INDEX_SCHEMA_VERSION}`);
        })();
      }
      // Touch the schema so a damaged file fails here, not in the middle of a command.
      db.prepare('SELECT count(*) FROM snapshots').get();
      return new VersionIndex(db, file, lowSpace === undefined);
    } catch (err) {
      db?.close();
      if (err instanceof IntegrityError) throw err;
      return mapSqliteError(err, file, lowSpace);
    }
  }

  /**
   * Throws an IoError (no space left on device) when this index uses shared memory (see open()) and its file
   * system has less than INDEX_ROOM_BYTES free: called before a write that follows much other writing (a
   * snapshot records itself after storing its objects), so that the index is written only with room for the
   * pages of index.db-shm that the write may touch for the first time.
   */
  checkRoom(what: string): void {
    if (!this.sharedMemory) return;
    const free = freeBytes(path.dirname(this.file));
    if (free === undefined || free >= INDEX_ROOM_BYTES) return;
    throw new IoError(`no space left on device: ${quoteName(path.dirname(this.file))} has ${kib(free)} free, and cairn keeps 1 MiB there for its index (index.db); ${what}`, {
      hint: 'free some space and run the command again',
      details: { free },
    });
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      return mapSqliteError(err, this.file);
    }
  }

  /**
   * Opens a write transaction that may span awaits, for bulk inserts whose
   * rows are produced as they are found (nothing else in this process may use
   * the index until commit() or rollback()).
   */
  begin(): void {
    this.makeStage();
    this.db.exec('BEGIN');
  }

  /** The table stageVersion() fills: made outside any transaction, so that a rollback empties it but keeps it. */
  private makeStage(): void {
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS staged_versions(path TEXT NOT NULL, status TEXT NOT NULL, type TEXT, content TEXT, size INTEGER)');
  }

  /**
   * Empties the stage (stageVersions), outside a transaction too: rows staged before begin() (a first snapshot
   * stages them during its walk, in statements of their own, so that no transaction spans the walk) are not
   * removed by a rollback.
   */
  clearStaged(): void {
    this.makeStage();
    this.db.exec('DELETE FROM staged_versions');
  }

  /**
   * Stages rows as stageVersion() does, several per statement: inside begin()/commit(), or before begin() each
   * statement a transaction of its own on the connection's temporary database only (the repository's index is
   * neither read nor locked). publishVersions() files every staged row, however it was staged.
   */
  stageVersions(rows: readonly FileVersionRow[]): void {
    this.makeStage();
    let at = 0;
    for (; at + STAGE_ROWS <= rows.length; at += STAGE_ROWS) {
      this.stageManyStmt ??= this.db.prepare(`INSERT INTO staged_versions(path, status, type, content, size) VALUES ${Array(STAGE_ROWS).fill('(?,?,?,?,?)').join(',')}`);
      const args: Array<string | number | null> = [];
      for (let i = at; i < at + STAGE_ROWS; i++) {
        const v = rows[i]!;
        args.push(v.path, v.status, v.type, v.content, v.size);
      }
      this.stageManyStmt.run(args);
    }
    for (; at < rows.length; at++) this.stageVersion(rows[at]!);
  }

  private stageManyStmt: Database.Statement | undefined;

  commit(): void {
    this.db.exec('COMMIT');
  }

  rollback(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  /**
   * One changed path of the snapshot being committed, whose id is not known yet (inside begin()/commit()): held
   * in a temporary table, without indexes, until publishVersions() files every row under the id in one statement.
   * Rows inserted under a placeholder id and renamed afterwards cost twice the index updates: for the 36k-file
   * tree's first snapshot, 210-264 ms of inserts and 250-286 ms for the rename and commit, against 91-112 ms and
   * 244-251 ms this way (docs/performance.md).
   */
  stageVersion(v: FileVersionRow): void {
    this.stageVersionStmt ??= this.db.prepare('INSERT INTO staged_versions(path, status, type, content, size) VALUES (?,?,?,?,?)');
    this.stageVersionStmt.run(v.path, v.status, v.type, v.content, v.size);
  }

  private stageVersionStmt: Database.Statement | undefined;

  /** Files the rows stageVersion() staged under snapshot `id`, and empties the stage (inside begin()/commit()). */
  publishVersions(id: ObjectId): void {
    this.db
      .prepare('INSERT OR REPLACE INTO file_versions(path, snapshot, status, type, content, size) SELECT path, ?, status, type, content, size FROM staged_versions ORDER BY rowid')
      .run(id);
    this.db.exec('DELETE FROM staged_versions');
  }

  private sourceId(path: string): number {
    this.db.prepare('INSERT OR IGNORE INTO sources(path) VALUES (?)').run(path);
    return (this.db.prepare('SELECT id FROM sources WHERE path = ?').get(path) as { id: number }).id;
  }

  /** Records a snapshot and its parent edges (and its changed paths) in one transaction. */
  addSnapshot(id: ObjectId, m: Manifest, versions: readonly FileVersionRow[] = []): void {
    this.transaction(() => {
      const sid = this.sourceId(m.source);
      this.db
        .prepare(
          `INSERT OR REPLACE INTO snapshots(id, source_id, time_ms, time, kind, type, mode, base, message, tree, host, user, files, bytes, stats)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(id, sid, Date.parse(m.time), m.time, m.kind, m.type, m.mode, m.base, m.message, m.tree, m.host, m.user, m.stats.files, m.stats.bytes, JSON.stringify(m.stats));
      const insParent = this.db.prepare('INSERT OR REPLACE INTO parents(child, parent, ord) VALUES (?,?,?)');
      m.parents.forEach((p, i) => insParent.run(id, p, i));
      const insVersion = this.db.prepare('INSERT OR REPLACE INTO file_versions(path, snapshot, status, type, content, size) VALUES (?,?,?,?,?,?)');
      for (const v of versions) insVersion.run(v.path, id, v.status, v.type, v.content, v.size);
    });
  }

  removeSnapshot(id: ObjectId): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
      this.db.prepare('DELETE FROM parents WHERE child = ?').run(id);
      this.db.prepare('DELETE FROM file_versions WHERE snapshot = ?').run(id);
    });
  }

  setHead(source: string, id: ObjectId | null): void {
    this.transaction(() => {
      this.sourceId(source);
      this.db.prepare('UPDATE sources SET head = ? WHERE path = ?').run(id, source);
    });
  }

  head(source: string): ObjectId | null {
    const r = this.db.prepare('SELECT head FROM sources WHERE path = ?').get(source) as { head: string | null } | undefined;
    return (r?.head ?? null) as ObjectId | null;
  }

  heads(): Array<{ source: string; head: ObjectId }> {
    return (this.db.prepare('SELECT path AS source, head FROM sources WHERE head IS NOT NULL').all() as Array<{ source: string; head: ObjectId }>);
  }

  private hydrate(rows: RawSnapshot[]): SnapshotRow[] {
    if (rows.length === 0) return [];
    const parentStmt = this.db.prepare('SELECT parent FROM parents WHERE child = ? ORDER BY ord');
    const tagStmt = this.db.prepare('SELECT name FROM tags WHERE snapshot = ? ORDER BY name');
    return rows.map((r) => ({
      id: r.id as ObjectId,
      source: r.path,
      time: r.time,
      timeMs: r.time_ms,
      kind: r.kind,
      type: r.type,
      mode: r.mode,
      base: r.base as ObjectId | null,
      message: r.message,
      tree: r.tree as ObjectId,
      host: r.host,
      user: r.user,
      files: r.files,
      bytes: r.bytes,
      stats: JSON.parse(r.stats) as SnapshotStats,
      parents: (parentStmt.all(r.id) as Array<{ parent: ObjectId }>).map((p) => p.parent),
      tags: (tagStmt.all(r.id) as Array<{ name: string }>).map((t) => t.name),
    }));
  }

  /** Snapshots, newest first. */
  list(q: LogQuery = {}): SnapshotRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.source !== undefined) {
      where.push('src.path = ?');
      args.push(q.source);
    }
    if (q.type !== undefined) {
      where.push('s.type = ?');
      args.push(q.type);
    }
    const sql = `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN sources src ON src.id = s.source_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.time_ms DESC, s.id DESC ${q.limit ? `LIMIT ${Number(q.limit)}` : ''}`;
    return this.hydrate(this.db.prepare(sql).all(...args) as RawSnapshot[]);
  }

  get(id: ObjectId): SnapshotRow | undefined {
    const rows = this.db.prepare(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN sources src ON src.id = s.source_id WHERE s.id = ?`).all(id) as RawSnapshot[];
    return this.hydrate(rows)[0];
  }

  /** Ids starting with `prefix` (at most `limit`). */
  idsWithPrefix(prefix: string, limit = 2): ObjectId[] {
    return (this.db.prepare('SELECT id FROM snapshots WHERE id >= ? AND id < ? ORDER BY id LIMIT ?').all(prefix, `${prefix}g`, limit) as Array<{ id: ObjectId }>).map(
      (r) => r.id,
    );
  }

  allIds(): ObjectId[] {
    return (this.db.prepare('SELECT id FROM snapshots').all() as Array<{ id: ObjectId }>).map((r) => r.id);
  }

  children(id: ObjectId): ObjectId[] {
    return (this.db.prepare('SELECT child FROM parents WHERE parent = ?').all(id) as Array<{ child: ObjectId }>).map((r) => r.child);
  }

  /** Latest snapshot of a source, optionally of one mode. */
  latest(source: string, mode?: string): SnapshotRow | undefined {
    const rows = this.db
      .prepare(
        `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN sources src ON src.id = s.source_id
         WHERE src.path = ? ${mode ? 'AND s.mode = ?' : ''} AND s.type != 'restore-point' ORDER BY s.time_ms DESC, s.id DESC LIMIT 1`,
      )
      .all(...(mode ? [source, mode] : [source])) as RawSnapshot[];
    return this.hydrate(rows)[0];
  }

  // tags
  setTag(tag: TagRow): void {
    this.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO tags(name, snapshot, time, message) VALUES (?,?,?,?)').run(tag.name, tag.snapshot, tag.time, tag.message);
    });
  }

  deleteTag(name: string): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM tags WHERE name = ?').run(name);
    });
  }

  tag(name: string): TagRow | undefined {
    return this.db.prepare('SELECT name, snapshot, time, message FROM tags WHERE name = ?').get(name) as TagRow | undefined;
  }

  tags(): TagRow[] {
    return this.db.prepare('SELECT name, snapshot, time, message FROM tags ORDER BY name').all() as TagRow[];
  }

  /** Versions of a path (or of anything under it), newest first. */
  fileVersions(path: string): Array<FileVersionRow & { snapshot: ObjectId; time: string }> {
    const p = path.replace(/\/+$/, '');
    return this.db
      .prepare(
        `SELECT fv.path, fv.snapshot, fv.status, fv.type, fv.content, fv.size, s.time FROM file_versions fv JOIN snapshots s ON s.id = fv.snapshot
         WHERE fv.path = ? OR (fv.path >= ? AND fv.path < ?) ORDER BY s.time_ms DESC, fv.path`,
      )
      .all(p, `${p}/`, `${p}0`) as Array<FileVersionRow & { snapshot: ObjectId; time: string }>;
  }
}

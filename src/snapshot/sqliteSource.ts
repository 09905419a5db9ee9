/**
 * SQLite glossary
 * - header: the first 100 bytes of a database file; starts with
 *   "SQLite format 3\0", holds the page size (bytes 16-17), the journal
 *   format (byte 18: 1 rollback journal, 2 WAL) and the page count (28-31).
 * - consistent copy: a copy made with SQLite's online backup API, which reads
 *   the database under SQLite's own locks and restarts when another
 *   connection writes in between, so the copy is one committed state — never
 *   the torn file `cp` makes of a database that is being written.
 * - sidecars: the `-wal`, `-shm` and `-journal` files beside a database.
 *   A stale one beside a restored database would be replayed into it.
 */
import { processAlive } from '../util/processAlive.js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { ChunkerParams } from '../chunk/chunkerParams.js';
import { BusyError, DatabaseError, IoError, SourceError, describeError, isErrno } from '../errors.js';
import { quoteName } from '../util/quoteName.js';

export const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
export const SIDECAR_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

export type SqliteCheck = 'integrity_check' | 'quick_check';

export interface SqliteHeader {
  pageSize: number;
  /** Page count the header records (0 for files written by very old SQLite). */
  pageCount: number;
  journal: 'wal' | 'rollback';
}

/** The SQLite error code of a thrown value (SQLITE_BUSY, ...), or ''. */
export function sqliteCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : '';
}

/** Parses a database header; null when `bytes` is not one. */
export function parseSqliteHeader(bytes: Buffer): SqliteHeader | null {
  if (bytes.length < 100 || !bytes.subarray(0, 16).equals(SQLITE_MAGIC)) return null;
  const raw = bytes.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return null;
  return { pageSize, pageCount: bytes.readUInt32BE(28), journal: bytes[18] === 2 ? 'wal' : 'rollback' };
}

/**
 * Reads and checks the header of the database at `file`. Missing, a directory,
 * unreadable, empty or not SQLite: a SourceError saying which.
 */
export async function readSqliteHeader(file: string): Promise<{ header: SqliteHeader; stat: fs.BigIntStats }> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new SourceError(`database ${quoteName(file)} does not exist`, { hint: 'check the path given to --sqlite' });
    if (isErrno(err, 'EACCES') || isErrno(err, 'EPERM')) {
      throw new SourceError(`cannot read database ${quoteName(file)}: permission denied`, { cause: err, hint: 'run cairn as a user that can read the database' });
    }
    throw new SourceError(`cannot open database ${quoteName(file)}: ${describeError(err)}`, { cause: err });
  }
  try {
    const stat = await fh.stat({ bigint: true });
    if (stat.isDirectory()) throw new SourceError(`${quoteName(file)} is a directory, not a SQLite database`, { hint: 'give the database file itself to --sqlite (snapshot a directory without --sqlite)' });
    if (!stat.isFile()) throw new SourceError(`${quoteName(file)} is not a regular file`, { hint: 'give the database file itself to --sqlite' });
    if (stat.size === 0n) throw new SourceError(`${quoteName(file)} is empty (0 bytes), not a SQLite database`, { hint: 'check the path: the application may keep its database elsewhere' });
    const buf = Buffer.alloc(100);
    let got = 0;
    try {
      got = (await fh.read(buf, 0, 100, 0)).bytesRead;
    } catch (err) {
      throw new SourceError(`cannot read database ${quoteName(file)}: ${describeError(err)}`, { cause: err });
    }
    const header = parseSqliteHeader(buf.subarray(0, got));
    if (!header) {
      throw new SourceError(`${quoteName(file)} is not a SQLite database (it does not start with the SQLite header)`, {
        hint: 'check the path given to --sqlite; to store any other file, snapshot its directory or use --stdin',
      });
    }
    return { header, stat };
  } finally {
    await fh.close();
  }
}

/** Turns a SQLite error met while reading `file` (or writing its copy) into a CairnError. */
export function databaseError(err: unknown, file: string, doing: string): Error {
  const code = sqliteCode(err);
  const why = describeError(err);
  if (code === 'SQLITE_NOTADB') return new SourceError(`${quoteName(file)} is not a SQLite database (${why})`, { cause: err, hint: 'check the path given to --sqlite' });
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new DatabaseError(`database ${quoteName(file)} is damaged: ${doing} failed: ${why}`, {
      cause: err,
      hint: 'nothing was stored; restore the database from an earlier snapshot, or repair it with the sqlite3 .recover command',
    });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new BusyError(`database ${quoteName(file)} stayed locked by another process while ${doing}`, {
      cause: err,
      hint: 'a long write transaction held it; run the snapshot again, or raise the wait with busyTimeoutMs',
    });
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_AUTH')) {
    return new SourceError(`cannot read database ${quoteName(file)}: ${why}`, { cause: err, hint: 'check that cairn may read the database and its directory (for -wal/-shm)' });
  }
  // A full (or failing) disk is no sign of damage in the database: most often the repository's file system, where
  // the copy is written (tmp/), has less room than the database takes.
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) {
    return new IoError(`database ${quoteName(file)}: ${doing} failed: ${code === 'SQLITE_FULL' ? 'no space left on device' : why}`, {
      cause: err,
      hint:
        code === 'SQLITE_FULL'
          ? "free some space and run the snapshot again: the consistent copy is made in the repository's tmp/ and needs as much room as the database; nothing was stored"
          : "a disk is failing or full (the database's, or the repository's, where the copy is made in tmp/): check free space (df) and the system log; nothing was stored",
    });
  }
  if (code) return new DatabaseError(`database ${quoteName(file)}: ${doing} failed: ${why}`, { cause: err, hint: 'nothing was stored' });
  return err instanceof Error ? err : new Error(String(err));
}

export interface CopyOptions {
  /** How long to wait for another connection's lock before giving up (default 30 s). */
  busyTimeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
}

const PAGES_PER_STEP = 4096;
const ALL_PAGES = 0x7fffffff;
const BUSY_RETRIES = 3;

/**
 * Copies the database at `source` to the new file `dest` with SQLite's online
 * backup API: the copy is one committed state of the database even while
 * other processes write it (rollback journal or WAL). The copy proceeds in
 * steps that let writers in between; when a write restarts it, the rest is
 * copied in one step under one read lock so a busy database still finishes.
 */
export async function copyDatabase(source: string, dest: string, options: CopyOptions = {}): Promise<void> {
  // Read-only first: cairn never writes a database it only backs up. A crashed
  // writer's hot journal (or a WAL needing recovery) can only be rolled back by
  // a writable connection — exactly what the application does on its next
  // open — so then the copy is retried read-write.
  let readonly = true;
  for (let attempt = 1; ; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(source, { readonly, fileMustExist: true, timeout: options.busyTimeoutMs ?? 30_000 });
      let last = Infinity;
      let rate = PAGES_PER_STEP;
      await db.backup(dest, {
        progress: ({ totalPages, remainingPages }) => {
          if (remainingPages > last) rate = ALL_PAGES; // restarted by a writer: take the rest in one go
          last = remainingPages;
          options.onProgress?.(totalPages - remainingPages, totalPages);
          return rate;
        },
      });
      return;
    } catch (err) {
      await removeDatabaseFiles(dest);
      const code = sqliteCode(err);
      if (readonly && code.startsWith('SQLITE_READONLY')) {
        readonly = false;
        continue;
      }
      if ((code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) && attempt < BUSY_RETRIES) continue;
      throw databaseError(err, source, 'the consistent copy');
    } finally {
      db?.close();
    }
  }
}

export interface CheckResult {
  check: SqliteCheck;
  pageSize: number;
  pageCount: number;
  journal: 'wal' | 'rollback';
}

/**
 * Opens the database file `file` read-only and runs `PRAGMA integrity_check`
 * (or quick_check). Not SQLite: SourceError; any problem found: DatabaseError
 * naming the first few. The file's bytes are not changed.
 */
export function checkDatabase(file: string, check: SqliteCheck, label = file): CheckResult {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma(`${check}(20)`) as Array<Record<string, string>>;
    const problems = rows.map((r) => Object.values(r)[0] ?? '').filter((v) => v !== 'ok');
    if (problems.length > 0 || rows.length === 0) {
      throw new DatabaseError(`database ${label} failed ${check}: ${problems.slice(0, 3).join('; ') || 'no result'}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`, {
        hint: 'nothing was stored as good; restore the database from an earlier snapshot, or repair it with the sqlite3 .recover command',
        details: { database: label, check, problems },
      });
    }
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    const journal = (db.pragma('journal_mode', { simple: true }) as string).toLowerCase() === 'wal' ? 'wal' : 'rollback';
    return { check, pageSize, pageCount, journal };
  } catch (err) {
    if (err instanceof DatabaseError) throw err;
    throw databaseError(err, label, check);
  } finally {
    db?.close();
  }
}

/** Removes a database file and its sidecars (temp copies only). */
export async function removeDatabaseFiles(file: string): Promise<void> {
  await Promise.all(['', ...SIDECAR_SUFFIXES].map((s) => fsp.rm(file + s, { force: true })));
}

/**
 * Runs `fn` with a temp database file that is removed however `fn` ends —
 * also when the process exits early (Ctrl-C ends cairn with process.exit,
 * which runs 'exit' listeners but no finally blocks).
 */
export async function withTempDatabase<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const onExit = () => {
    for (const s of ['', ...SIDECAR_SUFFIXES]) fs.rmSync(file + s, { force: true });
  };
  process.on('exit', onExit);
  try {
    return await fn();
  } finally {
    process.off('exit', onExit);
    await removeDatabaseFiles(file);
  }
}

const TEMP_COPY = /^sqlite-(\d+)-[0-9a-f]+\.db(?:-wal|-shm|-journal)?$/;


/** The name of a temp copy in `tmpDir` (its pid lets a later run tell a dead process's leftovers). */
export function tempCopyName(tmpDir: string): string {
  return path.join(tmpDir, `sqlite-${process.pid}-${randomBytes(6).toString('hex')}.db`);
}

/**
 * Removes temp copies left in `tmpDir` by cairn processes that died (killed
 * mid-copy). Only copies whose process is gone are touched; `olderThanMs`
 * guards against a process on another host sharing the repository.
 */
export async function removeStaleCopies(tmpDir: string, olderThanMs = 60 * 60 * 1000): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fsp.readdir(tmpDir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_COPY.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    const p = path.join(tmpDir, name);
    try {
      const st = await fsp.stat(p);
      if (Date.now() - st.mtimeMs < olderThanMs) continue;
      await fsp.rm(p, { force: true });
      removed.push(p);
    } catch {
      /* gone meanwhile */
    }
  }
  return removed;
}

/**
 * Fixed chunk size for a database: the configured size rounded up to a whole
 * number of pages, so every chunk is a run of whole pages and an unchanged
 * page range always gives the same chunk.
 */
export function databaseChunkSize(configured: number, pageSize: number): number {
  if (configured <= pageSize) return pageSize;
  return Math.ceil(configured / pageSize) * pageSize;
}

/** The chunker for a database file: the repository's dbChunker, fixed sizes aligned to `pageSize`. */
export function databaseChunker(configured: ChunkerParams, pageSize: number): ChunkerParams {
  return configured.kind === 'fixed' ? { kind: 'fixed', size: databaseChunkSize(configured.size, pageSize) } : configured;
}

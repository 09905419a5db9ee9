/**
 * Restore of a SQLite snapshot to its database path (or another file).
 *
 * Order, each step only after the one before succeeded:
 * 1. refuse when another process has the database (or its -wal/-shm/-journal)
 *    open or locked: "database is in use by another process";
 * 2. replacing an existing database is high risk: ask for approval;
 * 3. restore point: a consistent copy of the current database, stored as a
 *    snapshot of type `restore-point` (raw files when the database is damaged);
 * 4. write the snapshot's database into a temp file beside the target, open it
 *    and run `PRAGMA quick_check`, and re-read it against the snapshot's hashes;
 * 5. check again that no one uses the database, remove its stale sidecars
 *    (a left-over -wal would be replayed into the restored file), and rename
 *    the temp file over the target: readers see the old database or the whole
 *    new one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { BusyError, CairnError, DatabaseError, IntegrityError, NotFoundError, RefusedError, UsageError, isErrno } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import type { TreeEntry } from '../model/tree.js';
import { fileChunkSync } from '../model/fileContent.js';
import type { RepoContext } from '../repoContext.js';
import { snapshotDatabase, snapshotRawDatabase } from '../snapshot/sqliteSnapshot.js';
import { checkDatabase, databaseError, parseSqliteHeader, SIDECAR_SUFFIXES, sqliteCode, withTempDatabase } from '../snapshot/sqliteSource.js';
import type { ObjectId } from '../store/objectId.js';
import { fsyncDir } from '../util/durableFs.js';
import { writeAll } from '../util/writeAll.js';
import { sha256Hex } from '../util/hash.js';
import { processesHolding } from '../util/openFiles.js';
import type { RestoreKind, RestoreOptions, RestoreSummary } from './restore.js';
import { setTargetHead } from './restoreInPlace.js';
import type { NameStatus } from './restorePlan.js';
import { quoteName } from '../util/quoteName.js';

/**
 * The options of a database restore are those of any restore: `target` is the
 * database file (default: the path it was snapshotted from); `restorePoint:
 * false` skips the restore point; `dryRun` reports and changes nothing;
 * `paths` does not apply; `force` is not needed (replacing a database always
 * asks for approval); the result is always verified.
 */
export type DatabaseRestoreOptions = RestoreOptions;

export interface DatabaseRestoreSummary extends RestoreSummary {
  database: {
    /** An existing database was (or, with dryRun, would be) replaced. */
    replaced: boolean;
    /** Stale sidecar files removed before the swap. */
    removed: string[];
    /** The check the restored file passed before it replaced anything. */
    check: 'quick_check';
  };
}

export const IN_USE = 'database is in use by another process';

function inUse(file: string, who?: string): BusyError {
  return new BusyError(`${IN_USE}: ${quoteName(file)}${who ? ` (${who})` : ''}`, {
    hint: 'stop the application using it (or wait for it to finish), then run the restore again',
    details: { database: file },
  });
}

/** The file entry holding the database in a sqlite snapshot. */
export async function databaseEntry(ctx: RepoContext, id: ObjectId, manifest: Manifest): Promise<TreeEntry> {
  const entries = (await ctx.loadTree(manifest.tree)).filter((e) => e.type === 'file');
  const base = path.basename(manifest.source);
  const entry = entries.find((e) => e.name === base) ?? (entries.length === 1 ? entries[0] : undefined);
  if (!entry) throw new IntegrityError(`snapshot ${id.slice(0, 8)} is of kind sqlite but holds no database file`, { details: { snapshot: id } });
  return entry;
}

type TargetState = { kind: 'absent' } | { kind: 'empty'; stat: Stats } | { kind: 'database'; stat: Stats };

function inspectTarget(target: string): TargetState {
  let st: Stats;
  try {
    st = fs.lstatSync(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { kind: 'absent' };
    throw err;
  }
  if (st.isSymbolicLink()) throw new RefusedError(`restore target ${quoteName(target)} is a symlink; cairn never restores through one`, { hint: 'name the real database file with --target' });
  if (st.isDirectory()) throw new UsageError(`restore target ${quoteName(target)} is a directory`, { hint: 'a database snapshot restores to a file: give --target FILE' });
  if (!st.isFile()) throw new UsageError(`restore target ${quoteName(target)} is not a regular file`);
  if (st.size === 0) return { kind: 'empty', stat: st };
  const fd = fs.openSync(target, 'r');
  const head = Buffer.alloc(100);
  try {
    fs.readSync(fd, head, 0, 100, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (!head.subarray(0, 15).equals(Buffer.from('SQLite format 3', 'latin1'))) {
    throw new RefusedError(`restore target ${quoteName(target)} exists and is not a SQLite database; refusing to replace it`, {
      hint: 'check --target; move the file away first if it really is to be replaced',
    });
  }
  return { kind: 'database', stat: st };
}

/** Refuses when another process has the database or a sidecar open. */
function assertNoHolders(file: string): void {
  const holders = processesHolding([file, ...SIDECAR_SUFFIXES.map((s) => file + s)]);
  const h = holders?.[0];
  if (h) throw inUse(file, `${h.command || 'process'} pid ${h.pid} has ${path.basename(h.file)} open`);
}

/**
 * Opens the database without waiting for locks, replays a hot journal,
 * checkpoints and truncates a WAL, and takes then drops an exclusive lock;
 * any lock held elsewhere: "in use". Returns 'damaged' when SQLite cannot read
 * the file (a restore point then keeps its raw bytes).
 */
export function quiesceDatabase(file: string): 'ok' | 'damaged' {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    const wal = String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
    if (wal) {
      const r = (db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0];
      if (r && r.busy !== 0) throw inUse(file, 'a connection is reading or writing it');
    }
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
    return 'ok';
  } catch (err) {
    if (err instanceof CairnError) throw err;
    const code = sqliteCode(err);
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) throw inUse(file, 'it is locked');
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return 'damaged';
    throw databaseError(err, file, 'checking that no other process uses it');
  } finally {
    db?.close();
  }
}

/** Writes the entry's chunks (each verified as read) into the new file `file`; returns each chunk's length. */
async function writeEntry(ctx: RepoContext, entry: TreeEntry, file: string): Promise<number[]> {
  const lengths: number[] = [];
  const fh = await fsp.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    // Chunks read and verified on this thread (no thread-pool round trip per 8 KiB page), written ~1 MiB at a time.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const writeBatch = async () => {
      if (batch.length > 0) await writeAll(fh.fd, batch);
      batch = [];
      batchBytes = 0;
    };
    for (const id of entry.chunks ?? []) {
      const data = fileChunkSync(ctx.store, entry, id);
      batch.push(data);
      batchBytes += data.length;
      lengths.push(data.length);
      if (batchBytes >= 1024 * 1024) await writeBatch();
    }
    await writeBatch();
    await fh.sync();
  } finally {
    await fh.close();
  }
  const size = lengths.reduce((a, b) => a + b, 0);
  if (entry.size !== undefined && size !== entry.size) throw new IntegrityError(`the database's chunks hold ${size} bytes, the snapshot says ${entry.size}`);
  return lengths;
}

/** Re-reads `file` and compares it chunk by chunk with the entry's hashes (reading ~1 MiB at a time: a database has thousands of small chunks). */
export async function verifyAgainst(entry: TreeEntry, lengths: readonly number[], file: string, label: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    const chunks = entry.chunks ?? [];
    let buf = Buffer.allocUnsafe(1024 * 1024);
    for (let i = 0; i < chunks.length; ) {
      let j = i;
      let total = 0;
      while (j < chunks.length && (j === i || total + lengths[j]! <= buf.length)) total += lengths[j++]!;
      if (total > buf.length) buf = Buffer.allocUnsafe(total);
      let got = 0;
      while (got < total) {
        const { bytesRead } = await fh.read(buf, got, total - got, null);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      for (let off = 0; i < j; off += lengths[i++]!) {
        if (off + lengths[i]! > got || sha256Hex(buf.subarray(off, off + lengths[i]!)) !== chunks[i]) {
          throw new IntegrityError(`verify: the restored ${label} differs from the snapshot`, { details: { object: chunks[i] } });
        }
      }
    }
    if ((await fh.read(Buffer.alloc(1), 0, 1, null)).bytesRead !== 0) throw new IntegrityError(`verify: the restored ${label} is longer than in the snapshot`);
  } finally {
    await fh.close();
  }
}

async function takeRestorePoint(ctx: RepoContext, file: string, state: 'ok' | 'damaged', restoring: ObjectId): Promise<ObjectId> {
  const message = `restore point before restoring ${restoring.slice(0, 12)}`;
  if (state === 'ok') {
    try {
      return (await snapshotDatabase(ctx, { path: file, type: 'restore-point', quickCheck: true, message })).id;
    } catch (err) {
      if (!(err instanceof DatabaseError)) throw err;
      state = 'damaged';
      ctx.warn(`the current database fails its check (${err.message}); the restore point keeps its raw files`);
    }
  } else {
    ctx.warn(`SQLite cannot read the current database ${quoteName(file)}; the restore point keeps its raw files`);
  }
  return (await snapshotRawDatabase(ctx, file, 'SQLite could not copy or check the database', { message })).id;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export async function restoreDatabase(ctx: RepoContext, id: ObjectId, manifest: Manifest, options: DatabaseRestoreOptions = {}): Promise<DatabaseRestoreSummary> {
  if (manifest.kind !== 'sqlite') throw new UsageError(`snapshot ${id.slice(0, 8)} is not a database snapshot`);
  if ((options.paths ?? []).length > 0) throw new UsageError('--path does not apply to a database snapshot', { hint: 'a database is restored whole; take one file out with `cairn cat`' });
  const entry = await databaseEntry(ctx, id, manifest);
  const given = path.resolve(options.target ?? manifest.source);
  const dir = path.dirname(given);
  if (!fs.existsSync(dir)) throw new NotFoundError(`the directory of restore target ${given} does not exist`, { hint: 'create it first' });
  const target = path.join(fs.realpathSync(dir), path.basename(given));
  if (target === ctx.dir || target.startsWith(`${ctx.dir}${path.sep}`)) throw new UsageError(`cannot restore into the repository ${quoteName(ctx.dir)}`, { hint: 'choose a target outside the repository' });
  const state = inspectTarget(target);
  const short = id.slice(0, 8);
  const kind: RestoreKind = target === manifest.source ? 'in-place' : state.kind === 'database' ? 'force' : 'new';
  const name = path.basename(target);
  const change: NameStatus = { status: state.kind === 'absent' ? 'A' : 'M', path: name, type: 'file' };
  const summary = (bytes: number, restorePoint: ObjectId | null, removed: string[], dryRun: boolean): DatabaseRestoreSummary => ({
    snapshot: id,
    target,
    kind,
    dryRun,
    files: dryRun ? 0 : 1,
    dirs: 0,
    symlinks: 0,
    bytes,
    links: 0,
    verified: !dryRun,
    restorePoint,
    head: !dryRun,
    counts: { created: change.status === 'A' ? 1 : 0, replaced: change.status === 'M' ? 1 : 0, deleted: 0, metadata: 0 },
    changes: [change],
    warnings: [],
    database: { replaced: state.kind !== 'absent', removed, check: 'quick_check' },
  });

  // 1. nobody may be using it
  assertNoHolders(target);
  const health = state.kind === 'database' ? quiesceDatabase(target) : 'ok';

  if (options.dryRun) return summary(0, null, [], true);

  // 2-3. approval, then a restore point of what is there now
  let restorePoint: ObjectId | null = null;
  if (state.kind === 'database') {
    const keep = options.restorePoint ?? true;
    await ctx.requestApproval({
      operation: kind === 'in-place' ? 'restore in place' : 'restore --force',
      risk: 'high',
      summary: `this will replace the database ${quoteName(target)} with the copy in snapshot ${short} (${manifest.time}); ${keep ? 'a restore point of the current database is taken first' : 'NO restore point is taken'}`,
      details: { snapshot: id, target, restorePoint: keep },
    });
    if (keep) {
      restorePoint = await takeRestorePoint(ctx, target, health, id);
      options.onRestorePoint?.(restorePoint);
    }
  }

  // 4. stage beside the target, validate, verify
  const staged = path.join(path.dirname(target), `.${path.basename(target)}.cairn-restore-${randomBytes(4).toString('hex')}`);
  const removed: string[] = [];
  let bytes = 0;
  // the temp file goes however this ends (after the rename there is nothing left to remove)
  await withTempDatabase(staged, async () => {
    const lengths = await writeEntry(ctx, entry, staged);
    bytes = lengths.reduce((a, b) => a + b, 0);
    const owner = state.kind === 'absent' ? { mode: entry.mode, uid: entry.uid, gid: entry.gid } : { mode: state.stat.mode & 0o7777, uid: state.stat.uid, gid: state.stat.gid };
    await fsp.chmod(staged, owner.mode & 0o7777);
    if (isRoot() && owner.uid !== undefined && owner.gid !== undefined) await fsp.chown(staged, owner.uid, owner.gid);
    try {
      checkDatabase(staged, 'quick_check', `restored from snapshot ${short}`);
    } catch (err) {
      if (err instanceof CairnError) {
        throw new DatabaseError(`snapshot ${short} does not hold a valid SQLite database: ${err.message}; nothing was replaced`, {
          cause: err,
          hint: manifest.extra?.raw ? 'this restore point holds raw files of a damaged database; take them out with `cairn cat`' : 'run `cairn verify`; restore an older snapshot',
        });
      }
      throw err;
    }
    for (const s of SIDECAR_SUFFIXES) await fsp.rm(staged + s, { force: true });
    await verifyAgainst(entry, lengths, staged, path.basename(target));

    // 5. check again, clear stale sidecars, swap
    assertNoHolders(target);
    if (state.kind === 'database' && health === 'ok') quiesceDatabase(target);
    for (const s of SIDECAR_SUFFIXES) {
      try {
        await fsp.rm(target + s);
        removed.push(target + s);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    await fsp.rename(staged, target);
    await fsyncDir(path.dirname(target));
  });
  // the database now matches the snapshot: its next snapshot has this one as parent
  setTargetHead(ctx, target, id);
  return summary(bytes, restorePoint, removed, false);
}

/** For tests and callers that want to know before they try: null when free, else why not. */
export function databaseInUse(file: string): string | null {
  try {
    assertNoHolders(file);
    if (fs.existsSync(file) && parseSqliteHeader(readHead(file))) quiesceDatabase(file);
    return null;
  } catch (err) {
    if (err instanceof BusyError) return err.message;
    throw err;
  }
}

function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(100);
    const n = fs.readSync(fd, b, 0, 100, 0);
    return b.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

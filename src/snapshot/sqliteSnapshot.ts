/**
 * Snapshots of SQLite databases. A database snapshot is a manifest of kind
 * `sqlite` whose source is the database's absolute real path (so each
 * database has its own HEAD and history) and whose tree holds one file entry
 * named after the database file (`cairn ls`, `cairn cat <ref>:app.db`).
 *
 * The bytes stored are a consistent copy made with SQLite's backup API into
 * the repository's tmp/ (removed afterwards, also on failure), checked with
 * `PRAGMA integrity_check` (or quick_check), then stored in fixed chunks of
 * whole pages: pages never move in a database file, so a later snapshot
 * stores only the chunks whose pages changed.
 */
import type { BigIntStats } from 'node:fs';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DatabaseError, SourceError, UsageError } from '../errors.js';
import { nameFields } from '../model/entryName.js';
import type { SnapshotProblem, SnapshotType } from '../model/manifest.js';
import { encodeTree, type TreeEntry } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import type { Compression } from '../store/objectCodec.js';
import { changeCompressionOf } from '../repositoryConfig.js';
import { maxChunk, type ChunkerParams } from '../chunk/chunkerParams.js';
import { storeBuffer, storeStream, type ContentResult } from './contentWriter.js';
import { commitSnapshot, fileSystemNow, parseSnapshotTime, validateSnapshotChoices, type SnapshotSummary } from './snapshotter.js';
import { checkDatabase, copyDatabase, databaseChunker, parseSqliteHeader, readSqliteHeader, removeStaleCopies, tempCopyName, withTempDatabase, type SqliteCheck } from './sqliteSource.js';
import { quoteName } from '../util/quoteName.js';

export interface SqliteSnapshotOptions {
  /** The database file. */
  path: string;
  message?: string;
  type?: SnapshotType;
  /** Record this time instead of now (ISO-8601). */
  time?: string;
  /** Check the copy with `PRAGMA quick_check` instead of the slower, thorough integrity_check. */
  quickCheck?: boolean;
  /** How long to wait for a writer's lock (default 30 s). */
  busyTimeoutMs?: number;
  onProgress?: (p: DatabaseProgress) => void;
}

export interface DatabaseProgress {
  database: string;
  phase: 'copy' | 'check' | 'store';
  done: number;
  total: number;
}

/** What manifest.extra holds for a sqlite snapshot. */
export interface SqliteSnapshotExtra {
  database: string;
  pageSize: number;
  pageCount: number;
  journal: 'wal' | 'rollback';
  /** The check the copy passed; 'none' for a raw restore point of a damaged database (its header fields are then as read, 0 when unreadable). */
  check: SqliteCheck | 'none';
  /** Fixed chunk size used (whole pages); the largest chunk for a content-defined dbChunker. */
  chunkSize: number;
  chunks: number;
  /** Set on a restore point that holds the raw files because the database could not be copied. */
  raw?: boolean;
}

async function readHead(file: string): Promise<Buffer> {
  const fh = await fsp.open(file, 'r').catch(() => undefined);
  if (!fh) return Buffer.alloc(0);
  try {
    const b = Buffer.alloc(100);
    const { bytesRead } = await fh.read(b, 0, 100, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Resolves a --sqlite argument to the database's absolute real path. */
export function resolveDatabasePath(p: string): string {
  if (p.trim() === '') throw new UsageError('--sqlite needs a database file path');
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs; // readSqliteHeader reports what is wrong with it
  }
}

/** Reads a file into the store in fixed chunks. */
async function storeFile(ctx: RepoContext, file: string, chunker: ChunkerParams, compression?: Compression, onBytes?: (n: number) => void): Promise<ContentResult> {
  const fh = await fsp.open(file, 'r');
  let done = 0;
  try {
    return await storeStream(ctx.store, async (buf, offset, length) => {
      const { bytesRead } = await fh.read(buf, offset, length, null);
      done += bytesRead;
      onBytes?.(done);
      return bytesRead;
    }, chunker, compression ? { compression } : {});
  } finally {
    await fh.close();
  }
}

function fileEntry(name: string, st: BigIntStats, content: ContentResult): TreeEntry {
  return {
    ...nameFields(Buffer.from(name, 'utf8')),
    type: 'file',
    mode: Number(st.mode & 0o7777n),
    mtime: st.mtimeNs.toString(),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: content.size,
    chunks: content.chunks,
  };
}

interface Stored {
  tree: ObjectId;
  size: number;
  newObjects: number;
  newBytes: number;
  files: number;
}

async function storeTree(ctx: RepoContext, entries: TreeEntry[], contents: ContentResult[]): Promise<Stored> {
  const tree = await storeBuffer(ctx.store, encodeTree(entries));
  return {
    tree: tree.chunks[0]!,
    size: contents.reduce((a, c) => a + c.size, 0),
    newObjects: tree.newObjects + contents.reduce((a, c) => a + c.newObjects, 0),
    newBytes: tree.newBytes + contents.reduce((a, c) => a + c.newBytes, 0),
    files: entries.length,
  };
}

async function commitDatabase(
  ctx: RepoContext,
  source: string,
  stored: Stored,
  options: { type: SnapshotType; message: string; time: Date; started: number; warnings: SnapshotProblem[]; extra: SqliteSnapshotExtra },
): Promise<SnapshotSummary> {
  return commitSnapshot(ctx, {
    kind: 'sqlite',
    source,
    tree: stored.tree,
    mode: 'full',
    base: null,
    type: options.type,
    message: options.message,
    time: options.time,
    scanStart: await fileSystemNow(ctx.tmpDir),
    counts: {
      files: stored.files,
      dirs: 0,
      symlinks: 0,
      bytes: stored.size,
      bytesRead: stored.size,
      filesRead: stored.files,
      newObjects: stored.newObjects,
      newBytes: stored.newBytes,
    },
    started: options.started,
    errors: [],
    warnings: options.warnings,
    extra: { ...options.extra },
  });
}

/**
 * Snapshots one database; the caller holds a repository lock. Nothing is
 * committed unless the copy passed its check.
 */
export async function snapshotDatabase(ctx: RepoContext, options: SqliteSnapshotOptions): Promise<SnapshotSummary> {
  validateSnapshotChoices(undefined, options.type);
  const started = Date.now();
  const time = parseSnapshotTime(options.time);
  const source = resolveDatabasePath(options.path);
  const { stat } = await readSqliteHeader(source);
  const check: SqliteCheck = options.quickCheck ? 'quick_check' : 'integrity_check';
  const progress = (phase: DatabaseProgress['phase'], done: number, total: number) => options.onProgress?.({ database: source, phase, done, total });
  await removeStaleCopies(ctx.tmpDir);
  const copy = tempCopyName(ctx.tmpDir);
  return withTempDatabase(copy, async () => {
    await copyDatabase(source, copy, {
      ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
      onProgress: (d, t) => progress('copy', d, t),
    });
    progress('check', 0, 1);
    const checked = checkDatabase(copy, check, source);
    const copySize = (await fsp.stat(copy)).size;
    if (copySize !== checked.pageSize * checked.pageCount) {
      throw new DatabaseError(`the copy of ${quoteName(source)} is ${copySize} bytes, not ${checked.pageCount} pages of ${checked.pageSize}`, { hint: 'nothing was stored; run the snapshot again' });
    }
    const chunker = databaseChunker(ctx.config.dbChunker, checked.pageSize);
    let content: ContentResult;
    try {
      // A database snapshotted before is a changed file: its new page chunks get the change codec.
      const compression = ctx.index.latest(source) ? changeCompressionOf(ctx.config) : undefined;
      content = await storeFile(ctx, copy, chunker, compression, (n) => progress('store', n, copySize));
      // The copy's own bytes are what was checked: the entry keeps the live file's mode, owner and mtime.
      const stored = await storeTree(ctx, [fileEntry(path.basename(source), stat, content)], [content]);
      return await commitDatabase(ctx, source, stored, {
        type: options.type ?? 'manual',
        message: options.message ?? '',
        time,
        started,
        warnings: [],
        extra: {
          database: source,
          pageSize: checked.pageSize,
          pageCount: checked.pageCount,
          journal: checked.journal,
          check,
          chunkSize: maxChunk(chunker),
          chunks: content.chunks.length,
        },
      });
    } catch (err) {
      await ctx.store.abort();
      throw err;
    }
  });
}

/** Snapshots one database under a shared repository lock. */
export async function takeSqliteSnapshot(ctx: RepoContext, options: SqliteSnapshotOptions): Promise<SnapshotSummary> {
  return ctx.withLock('snapshot', false, () => snapshotDatabase(ctx, options));
}

/**
 * A restore point of a database that cannot be copied through SQLite (it is
 * damaged): its raw files — the database and any -wal or -journal beside it —
 * stored as they are. Only called when no other process has the database open,
 * so the bytes are not changing.
 */
export async function snapshotRawDatabase(ctx: RepoContext, file: string, reason: string, options: { message: string; time?: string }): Promise<SnapshotSummary> {
  const started = Date.now();
  const time = parseSnapshotTime(options.time);
  const source = resolveDatabasePath(file);
  const header = parseSqliteHeader(await readHead(source));
  const chunker = databaseChunker(ctx.config.dbChunker, header?.pageSize ?? 4096);
  const entries: TreeEntry[] = [];
  const contents: ContentResult[] = [];
  try {
    for (const suffix of ['', '-wal', '-journal']) {
      const p = source + suffix;
      let st: BigIntStats;
      try {
        st = await fsp.stat(p, { bigint: true });
      } catch {
        if (suffix === '') throw new SourceError(`database ${quoteName(source)} does not exist`);
        continue;
      }
      if (!st.isFile()) continue;
      const content = await storeFile(ctx, p, chunker);
      contents.push(content);
      entries.push(fileEntry(path.basename(p), st, content));
    }
    const stored = await storeTree(ctx, entries, contents);
    return await commitDatabase(ctx, source, stored, {
      type: 'restore-point',
      message: options.message,
      time,
      started,
      warnings: [{ path: path.basename(source), message: `stored raw: ${reason}` }],
      extra: {
        database: source,
        pageSize: header?.pageSize ?? 0,
        pageCount: header?.pageCount ?? 0,
        journal: header?.journal ?? 'rollback',
        check: 'none',
        chunkSize: maxChunk(chunker),
        chunks: contents[0]?.chunks.length ?? 0,
        raw: true,
      },
    });
  } catch (err) {
    await ctx.store.abort();
    throw err;
  }
}

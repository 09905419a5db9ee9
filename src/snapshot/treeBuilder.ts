/**
 * Walks a source directory and stores it as trees and file chunks.
 *
 * Change detection: against a base tree, an entry whose lstat matches the base
 * entry (size, mtime and ctime to the microsecond, inode, mode, owner) is
 * taken over unchanged — a file keeps its chunk list unread, a symlink its
 * target — unless a file's mtime or ctime is at or after the base scan's start
 * (a "racily clean" file, changed within the same tick the base saw it). A
 * directory whose entries all match its base keeps the base tree id without
 * re-encoding, so an unchanged tree costs one lstat per entry.
 *
 * Small files are read, hashed and stored synchronously: for them the cost of
 * a promise per system call exceeds the work. Large files stream through the
 * chunker asynchronously, hashing and compressing on the thread pool.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { ChunkerParams } from '../chunk/chunkerParams.js';
import { chunkingBufferBytes } from '../chunk/chunkStream.js';
import { pageAlignedChunker, SQLITE_HEADER_BYTES, sqlitePageSize } from '../chunk/databaseChunking.js';
import { CairnError, describeError, isErrno, SourceError } from '../errors.js';
import { nameFields } from '../model/entryName.js';
import { encodeTree, inlineFields, isInline, type TreeEntry } from '../model/tree.js';
import type { SnapshotProblem } from '../model/manifest.js';
import type { Compression } from '../store/objectCodec.js';
import type { ObjectId } from '../store/objectId.js';
import type { SyncObjectWriter } from '../store/objectStore.js';
import { sha256Hex } from '../util/hash.js';
import { Limiter } from '../util/limiter.js';
import { PARALLEL_MIN_BYTES, storeStream } from './contentWriter.js';
import { type CachedDir, CODE_FILE, CODE_SYMLINK, nsToStatMs, StatCache, StatCacheMismatch, StatCacheWriter } from './statCache.js';
import type { ExcludeMatcher } from './excludes.js';
import { quoteName } from '../util/quoteName.js';

export interface WalkProgress {
  files: number;
  bytes: number;
  bytesRead: number;
  path: string;
}

export interface TreeBuilderOptions {
  store: SyncObjectWriter;
  chunker: ChunkerParams;
  /**
   * Chunker for database files (recognised by their header; SQLite for now),
   * aligned to their page size. Every builder of trees that are compared with
   * each other must pass the same (the repository's dbChunker), or equal files
   * get different chunk lists.
   */
  dbChunker: ChunkerParams;
  /**
   * Codec for the new objects of a file that the base tree has too (a changed
   * file), and for the new tree of a directory the base has too, instead of
   * the store's own; see RepositoryConfig.changeCompression.
   */
  changeCompression?: Compression;
  /**
   * Files up to this many bytes are held in their tree instead of as objects
   * (0: none); see inlineLimit for how a large directory shares the budget.
   */
  inlineMax?: number;
  excludes: ExcludeMatcher;
  /** Absolute paths never to enter (the repository itself). */
  skipPaths: ReadonlySet<string>;
  /** Loads a base tree's entries (cached by the caller); synchronous, as the walk checks unchanged trees in one go. */
  loadTree: (id: ObjectId) => readonly TreeEntry[];
  /** Called with every tree written, so the caller can cache it. */
  onTree?: (id: ObjectId, entries: readonly TreeEntry[]) => void;
  /**
   * Called with every directory whose tree is written (new, or changed from the base's): its path from the root
   * ('' for the root; names as UTF-8 text joined by '/', as the tree diff joins them), the tree's entries, and the
   * entries of the base's tree at that path (null when the base has no directory there). A snapshot stages its
   * index rows from here instead of diffing the trees after the walk (WalkStagedRows).
   */
  onDirTree?: (rel: string, entries: readonly TreeEntry[], base: readonly TreeEntry[] | null) => void;
  /** Reuse unchanged files' chunks from the base (incremental/differential). */
  reuse: boolean;
  /** ns: the base scan's start; entries modified at or after it are re-read. */
  baseScanStart: bigint | null;
  onWarning?: (p: SnapshotProblem) => void;
  onError?: (p: SnapshotProblem) => void;
  onProgress?: (p: WalkProgress) => void;
  /**
   * The stat cache of the base tree (used only with `reuse`), and a writer
   * for the tree being built; see statCache.ts.
   */
  statCache?: { base: StatCache | null; writer: StatCacheWriter | null };
}

/**
 * A directory's tree id and its record in the stat cache being written (-1:
 * none), or `old`: the record of the base stat cache that describes it
 * unchanged (its rows are copied only if an ancestor changed).
 */
interface DirResult {
  id: ObjectId;
  rec: number;
  old: number;
}

/**
 * Thrown when the stat cache names an entry its tree lacks, or when a record it must copy cannot be read (defined in
 * statCache.ts); it cannot happen unless the cache is wrong, and the caller then walks again without it.
 */
export { StatCacheMismatch };

export interface WalkCounts {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  bytesRead: number;
  filesRead: number;
  newObjects: number;
  newBytes: number;
}

const SLASH = Buffer.from('/');
const MAX_READ_ATTEMPTS = 3;
const MAX_ACTIVE_DIRS = 8;

/** A buffer readWholeSync reads into, grown as needed and reused from file to file. */
export interface ReadScratch {
  buf: Buffer;
}

/**
 * The most a ReadScratch grows to: the largest small file (smallFileLimit, 1 MiB at most) and its extra byte,
 * rounded up. A file found larger (one that grew while read, read again at its new size) gets a buffer of its own,
 * so that the scratch kept for the walk stays small.
 */
export const READ_SCRATCH_MAX = 1024 * 1024 + 64 * 1024;

/**
 * The whole content of an open file that held `expected` bytes when it was stat'ed, without the fstat that
 * readFileSync makes first (a system call per file, ~0.1 s of a 36k-file first snapshot): reads of up to
 * expected + 1 bytes, where the extra byte shows a file that grew, whose rest is then read as readFileSync would.
 * A read that stops short exactly at `expected` bytes is taken as the end, without the read of 0 that would
 * confirm it (another system call per file): a regular file reads short only at its end, and a file that grows
 * after that read is one the caller's fstat afterwards finds larger than what was read (smallFileSync then
 * reads it again). A read short of `expected` is read on until 0 (a file that shrank, or a file system that
 * reads short).
 * With `scratch`, the result is a view of its buffer (grown to the next 64 KiB when too small, up to
 * READ_SCRATCH_MAX), valid until the next read into it: for a caller that is done with the content first.
 */
export function readWholeSync(fd: number, expected: number, scratch?: ReadScratch): Buffer {
  let buf: Buffer;
  if (scratch && expected + 1 <= READ_SCRATCH_MAX) {
    if (scratch.buf.length < expected + 1) scratch.buf = Buffer.allocUnsafeSlow(Math.min(READ_SCRATCH_MAX, Math.ceil((expected + 1) / 65536) * 65536));
    buf = scratch.buf.subarray(0, expected + 1);
  } else buf = Buffer.allocUnsafe(expected + 1);
  let n = 0;
  while (n < buf.length) {
    const want = buf.length - n;
    const r = fs.readSync(fd, buf, n, want, null);
    if (r === 0) return buf.subarray(0, n);
    n += r;
    if (n === expected && r < want) return buf.subarray(0, n);
  }
  return Buffer.concat([buf, fs.readFileSync(fd)]); // it grew: the rest, from where the reads stopped
}

/** Files up to this size are stored as one blob: the chunker's average size, at most 1 MiB. */
export function smallFileLimit(p: ChunkerParams): number {
  return Math.min(p.kind === 'cdc' ? p.avg : p.size, 1024 * 1024);
}

export { nsToStatMs };

/** Inline content one tree may hold at most: what a directory's files share (see inlineLimit). */
export const TREE_INLINE_BUDGET = 32 * 1024;

/**
 * The size up to which a directory's files are inline: `inlineMax`, shared
 * out so that the tree holds at most TREE_INLINE_BUDGET of content (a
 * directory of 100 files inlines those up to 327 bytes). It depends only on
 * the number of names listed, so equal directories get equal trees, and a
 * tree's memory is bounded however many files it has. The budget is small
 * because a change to one file rewrites its tree, siblings' content and all:
 * 32 KiB keeps that within ~2x of the tree's own entries (docs/performance.md).
 */
export function inlineLimit(inlineMax: number, listed: number): number {
  return inlineMax <= 0 ? 0 : Math.min(inlineMax, Math.floor(TREE_INLINE_BUDGET / Math.max(1, listed)));
}

/** Whether a base file entry is stored as the limit says (inline iff non-empty and within it); one that is not is read again. */
export function inlineFormFits(e: TreeEntry, limit: number): boolean {
  const size = e.size ?? 0;
  return isInline(e) === (size > 0 && size <= limit);
}

/** Whether an lstat matches an entry's recorded stat (times compared to the microsecond). */
export function sameStat(st: fs.Stats, e: TreeEntry): boolean {
  return (
    e.ino === st.ino &&
    e.mode === (st.mode & 0o7777) &&
    e.uid === st.uid &&
    e.gid === st.gid &&
    (e.size ?? 0) === (st.isDirectory() ? 0 : st.size) &&
    e.ctime !== undefined &&
    nsToStatMs(e.mtime) === st.mtimeMs &&
    nsToStatMs(e.ctime) === st.ctimeMs
  );
}

/**
 * May a file reuse its base entry's chunks unread? Only when its stat matches
 * and neither time reaches the base scan's start (racy clean: a same-tick
 * change could hide behind equal stats).
 */
export function canReuseEntry(st: fs.Stats, base: TreeEntry | undefined, baseScanStart: bigint | null): boolean {
  if (!base || base.type !== 'file' || baseScanStart === null || !sameStat(st, base)) return false;
  const start = nsToStatMs(baseScanStart);
  return st.mtimeMs < start && st.ctimeMs < start;
}

/** A device number a tree can hold exactly (a JSON number); a larger one (none seen on Linux) leaves links unrecorded. */
const MAX_SAFE_DEV = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A new entry with the exact (ns) stat fields of a path. Built as one object
 * literal per type, never by spreading: V8 gave every spread-built entry its
 * own hidden class (a 37k-file snapshot held ~10 MB of them, and property
 * reads on such objects are slow).
 */
function fileEntry(name: EntryName, st: fs.BigIntStats, size: number, chunks: ObjectId[], ctime = st.ctimeNs.toString()): TreeEntry {
  const n = fieldsOf(name);
  const e: TreeEntry = { name: n.name, type: 'file', size, chunks, mode: Number(st.mode & 0o7777n), mtime: st.mtimeNs.toString(), ctime, ino: Number(st.ino), uid: Number(st.uid), gid: Number(st.gid) };
  if (n.rawName !== undefined) e.rawName = n.rawName;
  // A file with other names (hard links): what a restore needs to make them one file again (Materializer). Adding
  // or removing a name changes the file's ctime, so a base entry reused unread has the count that is still true.
  if (st.nlink > 1n && st.dev <= MAX_SAFE_DEV) {
    e.links = Number(st.nlink);
    e.dev = Number(st.dev);
  }
  return e;
}

function dirEntry(name: EntryName, st: fs.BigIntStats, tree: ObjectId): TreeEntry {
  const n = fieldsOf(name);
  const e: TreeEntry = { name: n.name, type: 'dir', tree, mode: Number(st.mode & 0o7777n), mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: Number(st.ino), uid: Number(st.uid), gid: Number(st.gid) };
  if (n.rawName !== undefined) e.rawName = n.rawName;
  return e;
}

function symlinkEntry(name: EntryName, st: fs.BigIntStats, target: Buffer): TreeEntry {
  const n = fieldsOf(name);
  const t = nameFields(target);
  const e: TreeEntry = { name: n.name, type: 'symlink', size: target.length, target: t.name, mode: Number(st.mode & 0o7777n), mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: Number(st.ino), uid: Number(st.uid), gid: Number(st.gid) };
  if (n.rawName !== undefined) e.rawName = n.rawName;
  if (t.rawName !== undefined) e.rawTarget = t.rawName;
  return e;
}

/**
 * A directory entry's name as the walk holds it: a string when its bytes are
 * valid UTF-8 (nearly always; strings are much cheaper to read and join),
 * else the raw bytes.
 */
type EntryName = string | Buffer;
/** A path as the walk holds it: a string while every component is valid UTF-8, else bytes. */
type WalkPath = string | Buffer;

function fieldsOf(name: EntryName): { name: string; rawName?: string } {
  return typeof name === 'string' ? { name } : nameFields(name);
}

/** The key of a name in a base tree map: its UTF-8 text, or for other bytes their base64 (as `rawName` holds). */
function nameKeyOf(name: EntryName): string {
  return typeof name === 'string' ? name : `\0${name.toString('base64')}`;
}

function textOf(name: EntryName): string {
  return typeof name === 'string' ? name : name.toString('utf8');
}

function joinPath(dir: WalkPath, name: EntryName): WalkPath {
  if (typeof dir === 'string' && typeof name === 'string') return `${dir}/${name}`;
  return Buffer.concat([typeof dir === 'string' ? Buffer.from(dir) : dir, SLASH, typeof name === 'string' ? Buffer.from(name) : name]);
}

/**
 * The names in a directory: strings, except names whose bytes are not valid
 * UTF-8, which stay bytes (readdir decodes those to U+FFFD, so a directory
 * showing one is read again as bytes).
 */
function readNames(dir: WalkPath): EntryName[] {
  const names = fs.readdirSync(dir);
  if (!names.some((n) => n.includes('\uFFFD'))) return names;
  return (fs.readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).map((b) => {
    const text = b.toString('utf8');
    return Buffer.from(text, 'utf8').equals(b) ? text : b;
  });
}

function joinRel(rel: string, name: EntryName): string {
  return rel === '' ? textOf(name) : `${rel}/${textOf(name)}`;
}

function nameKeyOfEntry(e: TreeEntry): string {
  return e.rawName !== undefined ? `\0${e.rawName}` : e.name;
}

export class TreeBuilder {
  readonly counts: WalkCounts = { files: 0, dirs: 0, symlinks: 0, bytes: 0, bytesRead: 0, filesRead: 0, newObjects: 0, newBytes: 0 };
  /** Large files hold a chunking buffer and chunks in flight: few at once bounds memory. */
  private readonly bigReads = new Limiter(2);
  /**
   * Chunking buffers lent to large files below PARALLEL_MIN_BYTES cut with the repository's chunker, one per
   * file being read (bigReads: two at most), kept for the walk. A buffer of its own per file (8 MiB with the
   * default chunker, touched up to the file's size) outlived the file until V8's next full collection, which a
   * walk seldom runs: 30-40 MiB of them at the end of the tree's first snapshot (its 16 files of 1-9 MiB).
   */
  private readonly chunkBuffers: Buffer[] = [];
  /**
   * What small files are read into (smallFileSync), reused from file to file, instead of a buffer of their own each
   * (past 4 KiB, fresh memory to fault in). Grows to the largest small file (smallFileLimit, at most 1 MiB). In the
   * 36k-file tree's first snapshot the main thread's read() went from 1.27 to 0.36 s of samples, though some of it
   * moved to snappy, which now touches the content first; the wall gained ~1-7% (docs/performance.md).
   */
  private readonly readScratch: ReadScratch = { buf: Buffer.allocUnsafeSlow(64 * 1024) };
  private readonly smallFile: number;
  private readonly skipNames: Set<string>;
  private activeDirs = 0;
  private rootRec = -1;

  constructor(private readonly o: TreeBuilderOptions) {
    this.smallFile = smallFileLimit(o.chunker);
    this.skipNames = new Set([...o.skipPaths].map((p) => p.slice(p.lastIndexOf('/') + 1)));
  }

  /** Stores the directory `root` and returns its tree id. */
  async build(root: string, baseTree: ObjectId | null): Promise<ObjectId> {
    const cache = this.o.reuse ? (this.o.statCache?.base ?? null) : null;
    const r = await this.dir(root, '', baseTree, cache ? cache.root : -1, true);
    this.rootRec = r.rec; // -1 when unchanged: the base's cache stays as it is
    return r.id;
  }

  /**
   * Completes the stat cache of the tree just built (after build()) in its writer's file; false when none was
   * asked for, when the base's cache already describes the tree exactly, or when the file could not be written.
   */
  finishStatCache(rootTree: ObjectId): boolean {
    const w = this.o.statCache?.writer;
    return w !== undefined && w !== null && this.rootRec >= 0 && w.finish(this.rootRec, rootTree);
  }

  /**
   * The first failure that is not about the source (an object that cannot be written to the repository, a
   * stat cache that disagrees with its tree): it ends the walk, once the work already started has settled,
   * instead of leaving a file or folder out of a "partial" snapshot as an unreadable source file is.
   */
  private fatal: unknown;

  private isFatal(err: unknown): boolean {
    return err instanceof CairnError || err instanceof StatCacheMismatch;
  }

  /** A file that could not be read: gone meanwhile is a warning; anything else an error (a partial snapshot). */
  private unreadable(path: string, err: unknown): void {
    if (this.isFatal(err)) this.fatal ??= err;
    else if (isErrno(err, 'ENOENT')) this.problem('warning', path, new Error('vanished while being read; not stored'));
    else this.problem('error', path, err);
  }

  private problem(kind: 'warning' | 'error', path: string, err: unknown): void {
    const p = { path, message: describeError(err) };
    if (kind === 'error') this.o.onError?.(p);
    else this.o.onWarning?.(p);
  }

  private async dir(abs: WalkPath, rel: string, baseTree: ObjectId | null, baseRec: number, isRoot = false): Promise<DirResult> {
    let names: EntryName[];
    try {
      names = readNames(abs);
    } catch (err) {
      if (isRoot) throw new SourceError(`cannot read source directory ${quoteName(abs.toString())}: ${describeError(err)}`, { cause: err });
      throw err;
    }
    // With a stat cache record for this very tree and listing, unchanged entries are
    // recognised from the cache ("lazy"), and the base tree is loaded only if some entry is not.
    const cache = this.o.reuse ? (this.o.statCache?.base ?? null) : null;
    const cdir = cache !== null && baseTree !== null && baseRec >= 0 ? cache.open(baseRec, baseTree, names) : null;
    const cached = cdir !== null;
    let base: Map<string, TreeEntry> | null = null;
    const baseOf = (key: string): TreeEntry | undefined => {
      if (baseTree === null) return undefined;
      if (base === null) {
        base = new Map();
        for (const e of this.o.loadTree(baseTree)) base.set(nameKeyOfEntry(e), e);
      }
      return base.get(key);
    };

    const entries: Array<TreeEntry | undefined> = new Array(names.length);
    const lazy = cached ? new Uint8Array(names.length) : null;
    const childRecs = new Int32Array(names.length).fill(-1);
    const childOld = cached ? new Int32Array(names.length).fill(-1) : null;
    let lazyCount = 0;
    let same = baseTree !== null;
    const work: Array<Promise<void>> = [];
    const startMs = this.o.baseScanStart === null ? Number.NaN : nsToStatMs(this.o.baseScanStart);
    const inline = inlineLimit(this.o.inlineMax ?? 0, names.length);
    for (let i = 0; i < names.length && this.fatal === undefined; i++) {
      const name = names[i]!;
      const childAbs = joinPath(abs, name);
      if (this.skipNames.has(textOf(name)) && this.o.skipPaths.has(childAbs.toString())) {
        continue;
      }
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(childAbs);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) this.problem('warning', joinRel(rel, name), new Error('vanished while being read; not stored'));
        else this.problem('error', joinRel(rel, name), err);
        same = false;
        continue;
      }
      if (this.o.excludes.active && this.o.excludes.excludes(joinRel(rel, name), st.isDirectory())) continue;
      const key = nameKeyOf(name);
      const code = cached ? cdir.code(i) : Number.NaN;
      if (st.isFile()) {
        if (code === CODE_FILE && cdir!.statMatches(i, st) && st.mtimeMs < startMs && st.ctimeMs < startMs) {
          lazy![i] = 1;
          lazyCount++;
          this.counts.files++;
          this.counts.bytes += st.size;
          this.progress(rel);
          continue;
        }
        const b = baseOf(key);
        if (this.o.reuse && canReuseEntry(st, b, this.o.baseScanStart) && inlineFormFits(b!, inline)) {
          entries[i] = b;
          this.counts.files++;
          this.counts.bytes += st.size;
          this.progress(rel);
          continue;
        }
        same = false;
        // A file the base has too is a changed one: its new objects get the change codec.
        const codec = b?.type === 'file' ? this.o.changeCompression : undefined;
        if (st.size <= this.smallFile) {
          try {
            entries[i] = this.smallFileSync(childAbs, name, joinRel(rel, name), st, codec, inline);
          } catch (err) {
            this.unreadable(joinRel(rel, name), err);
          }
        } else {
          work.push(
            this.bigReads.run(() => this.bigFile(childAbs, name, joinRel(rel, name), st!, codec)).then(
              (e) => {
                entries[i] = e;
              },
              (err: unknown) => this.unreadable(joinRel(rel, name), err),
            ),
          );
        }
      } else if (st.isDirectory()) {
        const childRec = code >= 0 && cache!.isRecord(code) ? code : -1;
        const b = childRec >= 0 ? undefined : baseOf(key);
        const childBase = childRec >= 0 ? (cache!.treeOf(childRec) as ObjectId) : b?.type === 'dir' ? (b.tree ?? null) : null;
        const task = async (): Promise<void> => {
          try {
            const r = await this.dir(childAbs, joinRel(rel, name), childBase, childRec);
            childRecs[i] = r.rec;
            if (childOld) childOld[i] = r.old;
            this.counts.dirs++;
            if (childRec >= 0 && r.id === childBase && cdir!.statMatches(i, st!)) {
              lazy![i] = 1;
              lazyCount++;
              return;
            }
            const bb = childRec >= 0 ? baseOf(key) : b;
            if (bb?.type === 'dir' && bb.tree === r.id && sameStat(st!, bb)) {
              entries[i] = bb;
            } else {
              same = false;
              entries[i] = dirEntry(name, fs.lstatSync(childAbs, { bigint: true }), r.id);
            }
          } catch (err) {
            same = false;
            if (this.isFatal(err)) this.fatal ??= err;
            else this.problem('error', joinRel(rel, name), err);
          }
        };
        // Walk a few directories concurrently; beyond that, inline (never waits on a permit, so never deadlocks).
        if (this.activeDirs < MAX_ACTIVE_DIRS) {
          this.activeDirs++;
          work.push(task().finally(() => this.activeDirs--));
        } else {
          await task();
        }
      } else if (st.isSymbolicLink()) {
        this.counts.symlinks++;
        if (code === CODE_SYMLINK && cdir!.statMatches(i, st)) {
          lazy![i] = 1;
          lazyCount++;
          continue;
        }
        const b = baseOf(key);
        if (b?.type === 'symlink' && sameStat(st, b)) {
          entries[i] = b; // a symlink cannot change in place: equal inode and times mean equal target
          continue;
        }
        same = false;
        try {
          const target = fs.readlinkSync(childAbs, { encoding: 'buffer' });
          entries[i] = symlinkEntry(name, fs.lstatSync(childAbs, { bigint: true }), target);
        } catch (err) {
          this.problem('error', joinRel(rel, name), err);
        }
      } else {
        this.problem('warning', joinRel(rel, name), new Error('is a socket, FIFO or device; skipped'));
      }
    }
    await Promise.all(work);
    if (this.fatal !== undefined) throw this.fatal;
    if (this.o.store.needsFlush) await this.o.store.flush({ wait: false });
    let keptCount = lazyCount;
    for (const e of entries) if (e !== undefined) keptCount++;
    if (base === null && !cached && baseTree !== null) baseOf(''); // nothing asked for it (an empty or all-excluded directory)
    const baseSize = base !== null ? (base as Map<string, TreeEntry>).size : cached ? cdir.kept : -1;
    let id: ObjectId;
    if (same && baseTree !== null && keptCount === baseSize) {
      id = baseTree;
    } else {
      if (lazyCount > 0) {
        for (let i = 0; i < names.length; i++) {
          if (!lazy![i]) continue;
          const e = baseOf(nameKeyOf(names[i]!));
          if (e === undefined) throw new StatCacheMismatch(`the stat cache names ${joinRel(rel, names[i]!)}, which its tree lacks`);
          entries[i] = e;
        }
      }
      const kept = entries.filter((e): e is TreeEntry => e !== undefined);
      const tree = encodeTree(kept);
      id = sha256Hex(tree) as ObjectId;
      // A directory the base has too gets the change codec, as a changed file's objects do: its new tree is kept
      // by every later snapshot, and with small files inline it is most of what a change step stores.
      const put = this.o.store.putSync(tree, id, baseTree !== null ? this.o.changeCompression : undefined);
      if (put.written) {
        this.counts.newObjects++;
        this.counts.newBytes += put.storedBytes;
      }
      this.o.onTree?.(id, kept);
      if (this.o.onDirTree) {
        if (baseTree !== null && base === null) baseOf(''); // loads it (all of it may have been new)
        this.o.onDirTree(rel, kept, base === null ? null : [...(base as Map<string, TreeEntry>).values()]);
      }
    }
    // Unchanged down to the last row (every entry of the tree recognised from the cache, every
    // subdirectory likewise): the base cache's record stands for it, and nothing is copied yet.
    if (cached && id === baseTree && lazyCount === cdir.kept && this.o.statCache?.writer) {
      let subtreesOld = true;
      for (let i = 0; i < names.length && subtreesOld; i++) if (lazy![i] && cdir.code(i) >= 0 && childOld![i]! < 0) subtreesOld = false;
      if (subtreesOld) return { id, rec: -1, old: baseRec };
    }
    return { id, rec: this.recordDir(id, names, entries, lazy, childRecs, childOld, cache, cdir, keptCount), old: -1 };
  }

  /** Adds this directory to the stat cache being written; returns its record (-1 without a writer). */
  private recordDir(
    id: ObjectId,
    names: readonly EntryName[],
    entries: ReadonlyArray<TreeEntry | undefined>,
    lazy: Uint8Array | null,
    childRecs: Int32Array,
    childOld: Int32Array | null,
    cache: StatCache | null,
    cdir: CachedDir | null,
    kept: number,
  ): number {
    const w = this.o.statCache?.writer;
    if (!w) return -1;
    // Subdirectories that were unchanged get their base records copied first (rows of one record stay contiguous).
    if (childOld) for (let i = 0; i < names.length; i++) if (childOld[i]! >= 0) childRecs[i] = cache!.copyRecord(childOld[i]!, w);
    if (names.some((n) => typeof n !== 'string')) return w.endDir(id, -1);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const e = entries[i];
      if (lazy?.[i]) {
        const code = cdir!.code(i);
        cdir!.copyRow(i, code >= 0 ? childRecs[i]! : code, w);
      } else if (e === undefined) {
        w.absentRow(name);
      } else {
        w.entryRow(name, e.type === 'file' ? CODE_FILE : e.type === 'symlink' ? CODE_SYMLINK : childRecs[i]!, e);
      }
    }
    return w.endDir(id, kept);
  }

  /** Reads, hashes and stores a small file in one go (in its tree when within `inline` bytes); re-reads it if it changed meanwhile. */
  private smallFileSync(abs: WalkPath, name: EntryName, rel: string, st: fs.Stats, compression: Compression | undefined, inline: number): TreeEntry {
    let before = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
    for (let attempt = 1; ; attempt++) {
      const fd = fs.openSync(abs, 'r');
      let data: Buffer;
      let after: fs.BigIntStats;
      try {
        // A view of readScratch: hashed, stored (putSync writes it, or copies it for the flush worker, before it
        // returns) or made a string (inlineFields) before the next file is read.
        data = readWholeSync(fd, before.size, this.readScratch);
        after = fs.fstatSync(fd, { bigint: true });
      } finally {
        fs.closeSync(fd);
      }
      this.counts.bytesRead += data.length;
      const now = { size: Number(after.size), mtimeMs: nsToStatMs(after.mtimeNs), ctimeMs: nsToStatMs(after.ctimeNs) };
      const changed = now.size !== before.size || now.mtimeMs !== before.mtimeMs || now.ctimeMs !== before.ctimeMs || data.length !== now.size;
      if (!changed || attempt >= MAX_READ_ATTEMPTS) {
        // Array literals, not [] + push: a push onto an empty array reserves 17 slots (~150 B), and every entry keeps its list.
        let chunks: ObjectId[] = [];
        if (data.length > 0 && data.length <= inline) {
          const e = this.readEntry(name, rel, after, data.length, [sha256Hex(data) as ObjectId], changed, attempt);
          const f = inlineFields(data);
          if ('inline' in f) e.inline = f.inline;
          else e.rawInline = f.rawInline;
          return e;
        }
        if (data.length > 0) {
          const id = sha256Hex(data) as ObjectId;
          const put = this.o.store.putSync(data, id, compression);
          if (put.written) {
            this.counts.newObjects++;
            this.counts.newBytes += put.storedBytes;
          }
          chunks = [id];
        }
        return this.readEntry(name, rel, after, data.length, chunks, changed, attempt);
      }
      before = now;
    }
  }

  /** Streams a large file through the chunker; re-reads it if it changed meanwhile. */
  private async bigFile(abs: WalkPath, name: EntryName, rel: string, st: fs.Stats, compression: Compression | undefined): Promise<TreeEntry> {
    let before = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
    for (let attempt = 1; ; attempt++) {
      const fh = await fsp.open(abs, 'r');
      let r;
      let after: fs.BigIntStats;
      try {
        const read = async (buf: Buffer, off: number, len: number) => (await fh.read(buf, off, len, null)).bytesRead;
        const params = await this.chunkerFor(fh);
        const parallel = st.size >= PARALLEL_MIN_BYTES;
        const lend = !parallel && params === this.o.chunker;
        const buffer = lend ? (this.chunkBuffers.pop() ?? Buffer.allocUnsafe(chunkingBufferBytes(params))) : undefined;
        try {
          r = await storeStream(this.o.store, read, params, { parallel, ...(buffer ? { buffer } : {}), ...(compression ? { compression } : {}) });
        } finally {
          if (buffer) this.chunkBuffers.push(buffer);
        }
        after = await fh.stat({ bigint: true });
      } finally {
        await fh.close();
      }
      this.counts.bytesRead += r.size;
      this.counts.newObjects += r.newObjects;
      this.counts.newBytes += r.newBytes;
      const now = { size: Number(after.size), mtimeMs: nsToStatMs(after.mtimeNs), ctimeMs: nsToStatMs(after.ctimeNs) };
      const changed = now.size !== before.size || now.mtimeMs !== before.mtimeMs || now.ctimeMs !== before.ctimeMs || r.size !== now.size;
      if (!changed || attempt >= MAX_READ_ATTEMPTS) return this.readEntry(name, rel, after, r.size, r.chunks, changed, attempt);
      before = now;
    }
  }

  /** The database chunker for a SQLite file, else the default one. Reads the header at offset 0 (the stream position is unmoved). */
  private async chunkerFor(fh: fsp.FileHandle): Promise<ChunkerParams> {
    const header = Buffer.alloc(SQLITE_HEADER_BYTES);
    const { bytesRead } = await fh.read(header, 0, header.length, 0);
    const pageSize = sqlitePageSize(header.subarray(0, bytesRead));
    return pageSize === null ? this.o.chunker : pageAlignedChunker(this.o.dbChunker, pageSize);
  }

  private readEntry(name: EntryName, rel: string, after: fs.BigIntStats, size: number, chunks: ObjectId[], changed: boolean, attempts: number): TreeEntry {
    if (changed) this.problem('warning', rel, new Error(`changed while being read (${attempts} attempts); the stored copy may be inconsistent`));
    this.counts.files++;
    this.counts.filesRead++;
    this.counts.bytes += size;
    this.progress(rel);
    // A file that kept changing gets a ctime that never matches, so the next snapshot reads it again.
    return changed ? fileEntry(name, after, size, chunks, '0') : fileEntry(name, after, size, chunks);
  }

  /** Reports progress every 64 files (a progress line is redrawn a few times a second at most). */
  private progress(rel: string): void {
    if ((this.counts.files & 63) === 0 && this.o.onProgress) {
      this.o.onProgress({ files: this.counts.files, bytes: this.counts.bytes, bytesRead: this.counts.bytesRead, path: rel });
    }
  }
}

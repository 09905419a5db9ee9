/**
 * Writes a stored tree into a fresh directory (the restore staging area).
 * Every chunk is verified against its id as it is read; names are checked
 * again here so a hostile tree can never write outside `dest`; files are
 * created with O_EXCL and never through an existing symlink.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { IntegrityError, CairnError, IoError, describeError } from '../errors.js';
import { assertSafeName, nameBytes } from '../model/entryName.js';
import type { WalkBudget } from '../model/treeBudget.js';
import { fileChunkSync } from '../model/fileContent.js';
import { isInline, targetBytes, type TreeEntry } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import type { ObjectGroupReader } from '../store/objectStore.js';
import { Limiter } from '../util/limiter.js';
import { faultPointSync } from '../util/faults.js';
import { writeSparse } from '../util/sparseWrite.js';
import { writeAll, writeAllSync } from '../util/writeAll.js';
import { collectYoungGarbage } from '../util/youngGarbage.js';
import { startFileSystemSync } from '../util/durableFs.js';
import { quoteName } from '../util/quoteName.js';
import { setOpenFileMetaSync, setPathMetaSync } from './entryMeta.js';
import { RestoreWriter } from './restoreWriter.js';
import { CREATE_FLAGS } from './writeBatch.js';

const SLASH = Buffer.from('/');
/**
 * Files up to this size are written synchronously, metadata through the open
 * descriptor: for small files a promise round trip per system call (open,
 * read the blob, write, close, chmod, utimes) costs more than the work.
 */
const SYNC_FILE = 256 * 1024;
/** Bytes gathered before one write of a large file. */
const WRITE_BATCH = 1024 * 1024;
/**
 * A large file being written is synced (fdatasync on the thread pool, not awaited) after every this many
 * bytes, so the disk works while the restore goes on: the kernel starts writing back on its own only when a
 * tenth or so of the machine's memory is dirty, and the restore's final sync would otherwise wait for all of it.
 */
const WRITEBACK_EVERY = 16 * 1024 * 1024;
/**
 * Files of at least this size, with chunks of at most SHARED_READ_MAX_CHUNK on average, are read on two threads
 * (see writeFileShared). Below this size the worker's start (~30 ms and ~20 MiB) costs more than a second thread
 * saves: the benchmark tree's restore, whose largest files are 6 and 9 MiB, peaked at 169-181 MiB RSS with a 4 MiB
 * threshold, 157-160 MiB with this one and 150-160 MiB before the worker (3 interleaved rounds).
 */
export const SHARED_READ_MIN = 16 * 1024 * 1024;
/**
 * See SHARED_READ_MIN. Where a chunk is small (a database's 8 KiB pages), opening, reading and decoding its object
 * costs more than writing it, and a second reading thread pays. For large chunks it bought less than it cost in
 * memory: the 1 GiB big-edit file (~1.2 MiB chunks) restored in 2.7-3.3 s with it against 3.0-4.4 s without
 * (restic 4.5-5.1 s), but at 157-181 MiB peak RSS against 106-110 MiB.
 */
export const SHARED_READ_MAX_CHUNK = 64 * 1024;
/**
 * Groups (of about 1 MiB each) read ahead of the write cursor at most: bounds the memory of writeFileShared. The
 * db restore peaked at 152-157 MiB RSS with 8 (and 8 MiB of pooled buffers on the worker), 137 MiB with 4 (and
 * 4 MiB), in the same time (4 interleaved pairs).
 */
const GROUPS_AHEAD = 4;
/**
 * A minor garbage collection after this many bytes of small files written (or queued for the writing thread):
 * their decoded contents are garbage once written, and mostly outside V8's heap (see collectYoungGarbage). The
 * tree's restore peaked at 139-143 MiB RSS with 8 MiB and 130-135 MiB with 2 MiB, in the same time (4
 * interleaved pairs, 2026-12-01).
 */
const SMALL_COLLECT_BYTES = 2 * 1024 * 1024;
/** A minor garbage collection after this many groups read on this thread (see collectYoungGarbage). */
const COLLECT_EVERY = 8;
/** A buffer for a group read on this thread: a group is about WRITE_BATCH bytes, and grows its buffer past it when needed. */
const HERE_GROUP_BYTES = WRITE_BATCH + WRITE_BATCH / 4;
/** Groups the reading worker holds at once: one it reads, one queued so it never waits for the main thread. */
const WORKER_GROUPS = 2;

export interface MaterializeCounts {
  /** Files written, names made as hard links (`links`) included. */
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** Of `files`, the names made as hard links of a file written under another name (MaterializeOptions.hardLinks). */
  links: number;
}

export interface MaterializeOptions {
  onProgress?: (c: MaterializeCounts, path: string) => void;
  /** Restore owners (default: when running as root). */
  chown?: boolean;
  /**
   * A path on the file system being written: a `sync -f` of it is started (not awaited) after every
   * EARLY_SYNC_EVERY bytes written, so the caller's final sync finds less to write.
   */
  earlySync?: string;
  /**
   * The owner every file and directory created gets anyway (the process's, where the destination's directory
   * has no set-group-id bit): entries owned by it need no chown (a system call per entry, as root).
   */
  createdOwner?: { uid: number; gid: number };
  /**
   * What the snapshot's manifest accounts for (model/treeBudget.ts): tree entries loaded and file bytes written
   * beyond it mean a crafted or damaged tree (a subtree named over and over, a chunk listed over and over), and
   * the walk stops with an IntegrityError instead of writing until the disk is full.
   */
  budget?: WalkBudget;
  /**
   * Create small files and set directories' metadata on a second thread (restoreWriter.ts) while this one reads
   * and verifies what comes next; writeTree's caller must then call finish() before anything reads what was
   * written, and close() in every case. For a whole tree written into a fresh directory: the writes are queued,
   * so the order of writes within one directory is not the walk's.
   */
  writerThread?: boolean;
  /**
   * Leave the zero blocks of large files (those written by writeFile) as holes (util/sparseWrite.ts); small files
   * are written whole.
   */
  sparse?: boolean;
  /**
   * Make the names of a file that had several (hard links: file entries with the same `dev` and `ino`, the same
   * content and the same metadata) links of one file again, as they were: the first name is written, the others
   * linked to it (writeTree, writeEntryOrLink). Only where every name written is this restore's own: a fresh
   * directory, or an in-place restore's staging area (whose entries are then renamed into place, links and all).
   */
  hardLinks?: boolean;
}

/** Whether two entries of one inode (same `dev:ino`) describe the same file: content and metadata alike. */
export function sameLinkedFile(a: TreeEntry, b: TreeEntry): boolean {
  if (a.size !== b.size || a.mode !== b.mode || a.mtime !== b.mtime || a.uid !== b.uid || a.gid !== b.gid) return false;
  const ca = a.chunks ?? [];
  const cb = b.chunks ?? [];
  return ca.length === cb.length && ca.every((id, i) => id === cb[i]);
}

/** A file entry's `dev:ino` key when it was recorded with other names (see TreeEntry.links), else undefined. */
export function linkKey(e: TreeEntry): string | undefined {
  return e.type === 'file' && e.links !== undefined && e.links > 1 && e.dev !== undefined && e.ino !== undefined ? `${e.dev}:${e.ino}` : undefined;
}

/** Why link(2) may refuse where a copy still works: the file system has no hard links, or the file has too many. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV']);

/** See MaterializeOptions.earlySync. */
const EARLY_SYNC_EVERY = 64 * 1024 * 1024;
/** Bytes written between the walk's turns of the event loop (see dueForTurn). */
const YIELD_EVERY = 16 * 1024 * 1024;
/** Entries written between the walk's turns of the event loop (see dueForTurn). */
const TURN_EVERY = 2048;

const turnOfEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Seconds for utimes(), which takes a double: microsecond precision is what a
 * double keeps at today's epoch. Half a microsecond is added so the kernel's
 * truncation of the double lands inside the right microsecond, never just below.
 */
export function nsToSeconds(ns: string): number {
  return (Number(BigInt(ns) / 1000n) + 0.5) / 1e6;
}

/** A chunk that cannot be read, as the error of the file it belongs to (a cairn error; anything else as it is). */
function chunkError(err: unknown, rel: string, id: ObjectId): unknown {
  if (!(err instanceof CairnError)) return err;
  return new IntegrityError(`cannot restore ${quoteName(rel)}: ${err.message}`, { cause: err, hint: err.hint, details: { path: rel, object: id } });
}

/**
 * Object files of a large file's chunks being read at once (see Materializer.readsAhead). Read one at a time, the
 * 1 GiB big-edit file (~900 objects of ~1.2 MB) restored from a cold page cache in 4.1-4.9 s against restic's
 * 3.3-3.8 s; four at a time, ~3 s (docs/performance.md).
 */
const READ_AHEAD = 4;
/** Average chunk size from which a file's chunks are read ahead: below it a round trip per object costs more than a read. */
const READ_AHEAD_MIN_CHUNK = 256 * 1024;
/**
 * Files from this size are read ahead: with the benchmark tree's files of 1-9 MiB read ahead too (by an earlier
 * version, each read into one of four reused 2 MiB buffers), its restore from a cold page cache gained nothing (it is
 * bound by its 36k small files) and peaked ~10 MiB higher.
 */
const READ_AHEAD_MIN_FILE = 16 * 1024 * 1024;

/** The verified contents of `ids`, in order, with up to `inFlight` of them being read at once. */
export class ChunksAhead {
  private readonly pending: Array<Promise<Buffer>> = [];
  private started = 0;

  constructor(
    private readonly ids: readonly ObjectId[],
    private readonly inFlight: number,
    private readonly read: (id: ObjectId) => Promise<Buffer>,
  ) {}

  /** The next chunk's content; rejects with its read's error. */
  next(): Promise<Buffer> {
    while (this.pending.length < this.inFlight && this.started < this.ids.length) {
      const p = this.read(this.ids[this.started++]!);
      p.catch(() => undefined); // awaited when due; a read after a failed one is never awaited but settles
      this.pending.push(p);
    }
    const head = this.pending.shift();
    if (!head) return Promise.reject(new RangeError('ChunksAhead: no chunk left'));
    return head;
  }

  /** Waits for the reads still in flight (after a failure: none is left running on a file being closed). */
  async settle(): Promise<void> {
    await Promise.all(this.pending.map((p) => p.catch(() => undefined)));
  }
}

/** The metadata setMeta applies. */
export type EntryMeta = Pick<TreeEntry, 'type' | 'mode' | 'mtime' | 'uid' | 'gid'>;

let writebacks = 0;

/**
 * Stops a file whose chunks hold more than its tree's size says as soon as they do, not after writing them all
 * (a crafted tree can list one chunk a million times under a small size).
 */
function checkNotLonger(e: TreeEntry, written: number, rel: string): void {
  if (e.size !== undefined && written > e.size) {
    throw new IntegrityError(`cannot restore ${quoteName(rel)}: its chunks hold more than the ${e.size} bytes the tree says`, { details: { path: rel } });
  }
}

/** A file whose chunks, all read, hold other than the size its tree says. */
function checkLength(e: TreeEntry, length: number, rel: string): void {
  if (e.size !== undefined && length !== e.size) {
    throw new IntegrityError(`cannot restore ${quoteName(rel)}: its chunks hold ${length} bytes, the tree says ${e.size}`, { details: { path: rel } });
  }
}

/** Starts the writeback of a file being written every WRITEBACK_EVERY bytes, one sync in flight. */
class Writeback {
  private since = 0;
  private syncing: Promise<void> | undefined;
  private failed: unknown;

  constructor(private readonly fd: number) {}

  wrote(bytes: number): void {
    this.since += bytes;
    if (this.since < WRITEBACK_EVERY || this.syncing) return;
    this.since = 0;
    try {
      faultPointSync('restore-writeback', ++writebacks);
    } catch (err) {
      this.failed ??= err;
      return;
    }
    this.syncing = new Promise<void>((resolve) =>
      fs.fdatasync(this.fd, (err) => {
        if (err) this.failed ??= err;
        this.syncing = undefined;
        resolve();
      }),
    );
  }

  /** Waits for the sync in flight (never throws: see check()). */
  async settle(): Promise<void> {
    await this.syncing;
  }

  /** Throws what any sync failed with (the disk could not keep the data); call after settle(). */
  check(): void {
    if (this.failed) throw this.failed;
  }
}

export class Materializer {
  readonly counts: MaterializeCounts = { files: 0, dirs: 0, symlinks: 0, bytes: 0, links: 0 };
  private readonly writes = new Limiter(8);
  private readonly chown: boolean;
  /** counts.bytes when the last early sync started (see MaterializeOptions.earlySync), and whether it runs. */
  private syncedAt = 0;
  private earlySyncing = false;

  constructor(
    private readonly ctx: RepoContext,
    private readonly options: MaterializeOptions = {},
  ) {
    this.chown = options.chown ?? (typeof process.getuid === 'function' && process.getuid() === 0);
    // Read, not set: process.umask() without an argument (DEP0139 is documentation-only; it is racy only with
    // code that sets the umask meanwhile, which cairn never does).
    this.umask = process.umask();
    this.writer = options.writerThread ? RestoreWriter.start() : undefined;
  }

  /** The second thread writing small files, when MaterializeOptions.writerThread asked for one and this build has it. */
  private readonly writer: RestoreWriter | undefined;

  /** Waits until everything queued for the writing thread is written; throws what it failed with. */
  async finish(): Promise<void> {
    await this.writer?.finish();
  }

  /** Stops the writing thread, if any (whatever it has not written stays unwritten). */
  async close(): Promise<void> {
    await this.writer?.close();
  }

  /** The process's umask when this restore began: what file creation takes away from the modes given. */
  private readonly umask: number;

  /** Writes the entries of tree `tree` into the existing empty directory `dest`. */
  async writeTree(tree: ObjectId, dest: Buffer, rel = ''): Promise<void> {
    // Trees, directories and their metadata on this thread: a thread-pool round trip per call (several per
    // directory) left the restore of a 3,700-directory tree idle for ~2 s.
    const entries = this.ctx.loadTreeSync(tree, { keep: false });
    this.options.budget?.spendEntries(entries.length);
    const pending: Array<Promise<void>> = [];
    const dirs: Array<{ e: TreeEntry; path: Buffer; rel: string }> = [];
    let key: string | undefined;
    for (const e of entries) {
      const name = nameBytes(e);
      assertSafeName(name, `tree ${tree}`);
      const p = Buffer.concat([dest, SLASH, name]);
      const r = rel === '' ? name.toString('utf8') : `${rel}/${name.toString('utf8')}`;
      if (e.type === 'dir') {
        if (this.writer) this.writer.mkdir(p, r);
        else fs.mkdirSync(p, { mode: 0o700 });
        await this.writeTree(e.tree!, p, r);
        if (this.dueForTurn()) await turnOfEventLoop();
        dirs.push({ e, path: p, rel: r });
        this.counts.dirs++;
      } else if ((key = this.options.hardLinks ? linkKey(e) : undefined) !== undefined) {
        // On this thread, the first name and the links alike: a link needs its first name written, and the
        // directories are made here if the writing thread has not made them yet.
        if (this.writer) this.ensureDirHere(dest);
        const task = this.writeLinked(e, key, p, r);
        task.catch(() => undefined);
        pending.push(task);
      } else if (e.type === 'file' && (e.size ?? 0) <= SYNC_FILE) {
        if (this.writer) {
          this.queueSmallFile(this.writer, e, p, r);
          if (this.writer.full) await this.writer.room();
        } else this.writeSmallFileSync(e, p, r);
        if (this.dueForTurn()) await turnOfEventLoop();
      } else {
        // Written on this thread: its directory may be queued for the writing thread still.
        if (this.writer) this.ensureDirHere(dest);
        const task = this.writes.run(() => this.writeEntry(e, p, r));
        // Handled now, awaited below: a write failing while a subdirectory is being written must not be an unhandled rejection (exit 1).
        task.catch(() => undefined);
        pending.push(task);
      }
    }
    await Promise.all(pending);
    // Directory metadata last: writing children changes a directory's mtime.
    for (const d of dirs) {
      if (this.writer) this.writer.dirMeta(d.path, d.rel, d.e.mode & 0o7777, this.ownerToSet(d.e), nsToSeconds(d.e.mtime));
      else this.setMetaSync(d.e, d.path);
    }
    if (this.writer?.full) await this.writer.room();
  }

  /** The last directory ensureDirHere made sure of. */
  private ensuredDir: Buffer | undefined;

  /**
   * Makes sure that directory `dir` (and the directories above it in the restore) exists now, for an entry this
   * thread writes (a large file, a symlink) while the writing thread may not yet have created it: created here
   * with the mode the writing thread gives (0700), which finds it made and goes on (restoreWriterThread.ts makeDir).
   */
  private ensureDirHere(dir: Buffer): void {
    if (this.ensuredDir?.equals(dir)) return;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.ensuredDir = dir;
  }

  /** link(2) calls made or tried (the `restore-link` fault point's count). */
  private linkAttempts = 0;

  /**
   * The first name written of each file with several (see MaterializeOptions.hardLinks), by `dev:ino`, and how
   * many more names its entry counts: dropped when the last has been linked, so that the map holds only files
   * whose names the restore has not all met yet.
   */
  private readonly firstNames = new Map<string, { e: TreeEntry; path: Buffer; written: Promise<void>; left: number }>();

  /**
   * Writes a name of a file that had several: the first as any file, the next ones as links to it once it is
   * written. A name whose entry differs from the first's (the file changed between the reads of its names) is
   * written as a file of its own, and so is one link(2) refuses where a copy works (no hard links there, or too many).
   */
  private async writeLinked(e: TreeEntry, key: string, p: Buffer, rel: string): Promise<void> {
    const first = this.firstNames.get(key);
    if (first === undefined || !sameLinkedFile(first.e, e)) {
      const written = this.writes.run(() => this.writeEntry(e, p, rel));
      if (first === undefined) this.firstNames.set(key, { e, path: p, written, left: (e.links ?? 2) - 1 });
      return written;
    }
    if (--first.left <= 0) this.firstNames.delete(key);
    await first.written;
    try {
      faultPointSync('restore-link', ++this.linkAttempts);
      fs.linkSync(first.path, p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && LINK_UNSUPPORTED.has(code)) return this.writes.run(() => this.writeEntry(e, p, rel));
      throw new IoError(`cannot write ${quoteName(rel)} (a hard link): ${describeError(err)}`, { cause: err, details: { path: rel } });
    }
    this.counts.files++;
    this.counts.links++;
    this.options.onProgress?.(this.counts, rel);
  }

  /** writeEntry, or with MaterializeOptions.hardLinks a link to a name of the same file written before (writeLinked). */
  async writeEntryOrLink(e: TreeEntry, p: Buffer, rel: string): Promise<void> {
    const key = this.options.hardLinks ? linkKey(e) : undefined;
    return key === undefined ? this.writeEntry(e, p, rel) : this.writeLinked(e, key, p, rel);
  }

  /** Writes one file or symlink entry at `p` (which must not exist). */
  async writeEntry(e: TreeEntry, p: Buffer, rel: string): Promise<void> {
    if (e.type === 'symlink') {
      await fsp.symlink(targetBytes(e), p);
      this.counts.symlinks++;
      await this.setMeta(e, p);
      return;
    }
    await this.writeFile(e, p, rel);
    await this.setMeta(e, p);
    this.counts.files++;
    this.options.onProgress?.(this.counts, rel);
  }

  /**
   * Writes a large file: each chunk is read, decompressed and verified on
   * this thread (getSync) while the previous batch of ~1 MiB is written on the
   * thread pool, so reading and writing overlap and small chunks (a
   * database's page-aligned ones) cost no round trip each. Memory: one batch
   * being written, one being gathered (plus one chunk).
   */
  async writeFile(e: TreeEntry, p: Buffer, rel: string): Promise<void> {
    let written = 0;
    try {
      const fd = fs.openSync(p, CREATE_FLAGS, 0o600);
      try {
        const size = e.size ?? 0;
        const shared = !isInline(e) && size >= SHARED_READ_MIN && size <= SHARED_READ_MAX_CHUNK * (e.chunks?.length ?? 0);
        const reader = shared ? this.ctx.store.groupReader() : undefined;
        written = reader ? await this.writeFileShared(e, fd, reader, rel) : await this.writeFileAlone(e, fd, rel);
        // Its length, holes at the end included (sparse: the zero blocks were not written).
        if (this.options.sparse) fs.ftruncateSync(fd, written);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if (err instanceof CairnError) throw err;
      throw new IoError(`cannot write ${quoteName(rel)}: ${describeError(err)}`, { cause: err, details: { path: rel } });
    }
    checkLength(e, written, rel);
    this.counts.bytes += written;
    this.maybeSyncEarly();
  }

  /** Starts an early sync when EARLY_SYNC_EVERY more bytes are written and none runs (see MaterializeOptions.earlySync). */
  private maybeSyncEarly(): void {
    const at = this.options.earlySync;
    if (at === undefined || this.earlySyncing || this.counts.bytes - this.syncedAt < EARLY_SYNC_EVERY) return;
    const child = startFileSystemSync(at);
    if (!child) return;
    this.syncedAt = this.counts.bytes;
    this.earlySyncing = true;
    child.once('exit', () => (this.earlySyncing = false));
    child.once('error', () => (this.earlySyncing = false));
  }

  /**
   * Writes `bufs`, a large file's content from offset `position` on: at the descriptor's position, which is
   * `position` (the writes are in order), or with MaterializeOptions.sparse at `position`, its zero blocks left out.
   */
  private writeContent(fd: number, bufs: Buffer[], position: number): Promise<void> {
    return this.options.sparse ? writeSparse(fd, bufs, position) : writeAll(fd, bufs);
  }

  /** writeFile's chunks read on this thread only; returns the bytes written. */
  private async writeFileAlone(e: TreeEntry, fd: number, rel: string): Promise<number> {
    let written = 0;
    let writing: Promise<void> | undefined;
    const writeback = new Writeback(fd);
    const ahead = this.readsAhead(e, rel);
    try {
      if (!ahead && !isInline(e) && !this.options.sparse) {
        // Each chunk written from the store's read buffer or the snappy decoder's memory as it is read, on this
        // thread: a buffer of its own per chunk of ~1 MiB, to write on the thread pool, meant fresh pages to fault
        // in for every one, which cost this thread more than the writes (docs/performance.md).
        let turnAt = YIELD_EVERY;
        for (const id of e.chunks ?? []) {
          written += this.useChunkSync(e, id, rel, written, (data) => {
            writeAllSync(fd, data);
            writeback.wrote(data.length);
            return data.length;
          });
          // A turn of the event loop now and then, as the walk gives one (see dueForTurn), however large the file.
          if (written >= turnAt) {
            turnAt = written + YIELD_EVERY;
            await turnOfEventLoop();
          }
        }
      } else {
        let batch: Buffer[] = [];
        let batchBytes = 0;
        for (const id of e.chunks ?? []) {
          const data = ahead ? await ahead.next() : this.chunk(e, id, rel);
          batch.push(data);
          batchBytes += data.length;
          written += data.length;
          checkNotLonger(e, written, rel);
          if (batchBytes >= WRITE_BATCH) {
            if (writing) await writing;
            writeback.wrote(batchBytes);
            writing = this.writeContent(fd, batch, written - batchBytes);
            batch = [];
            batchBytes = 0;
          }
        }
        if (writing) await writing;
        writing = undefined;
        if (batch.length > 0) await this.writeContent(fd, batch, written - batchBytes);
      }
    } finally {
      // A failed chunk read leaves no write (or sync) behind on a closed descriptor.
      if (writing) await writing.catch(() => undefined);
      await writeback.settle();
      await ahead?.settle();
    }
    writeback.check();
    return written;
  }

  /**
   * writeFile's chunks read on two threads: the chunks are cut into groups of about WRITE_BATCH bytes (by the
   * file's average chunk size), the reading worker is kept WORKER_GROUPS groups busy (the file's last ones first),
   * and this thread reads the next group itself (into a reused buffer) whenever the group due for writing is still
   * on the worker. Groups are written in order, one write in flight, at most GROUPS_AHEAD groups held. A
   * group the worker could not read is read here, so every error is the one reading alone gives. Returns the
   * bytes written.
   */
  private async writeFileShared(e: TreeEntry, fd: number, reader: ObjectGroupReader, rel: string): Promise<number> {
    const ids = e.chunks ?? [];
    const perGroup = Math.max(1, Math.min(4096, Math.round(WRITE_BATCH / Math.max(1, (e.size ?? 0) / Math.max(1, ids.length)))));
    const groupCount = Math.ceil(ids.length / perGroup);
    const groupIds = (g: number): ObjectId[] => ids.slice(g * perGroup, (g + 1) * perGroup);
    /** Buffers of groups read here, each reused once its group is written (at most GROUPS_AHEAD + 1 in use). */
    const spare: Buffer[] = [];
    /** A group read here, as written, to the buffer it lies in. */
    const fromHere = new Map<Buffer, Buffer>();
    const readHere = (g: number): Buffer[] => {
      const group = { buf: spare.pop() ?? Buffer.allocUnsafeSlow(HERE_GROUP_BYTES), length: 0 };
      for (const id of groupIds(g)) this.appendChunk(e, id, rel, group);
      const content = group.buf.subarray(0, group.length);
      fromHere.set(content, group.buf);
      return [content];
    };
    /** Per group: its content once read (a worker's group as one buffer), else the promise of it. */
    const groups: Array<Buffer[] | Promise<Buffer[]> | undefined> = [];
    let onWorker = 0;
    /** The reader's buffers, handed back once written (see ObjectGroupReader.release). */
    const fromReader = new Set<Buffer>();
    const onTheWorker = (g: number): Promise<Buffer[]> => {
      onWorker++;
      const task = reader.read(groupIds(g)).then((content) => {
        onWorker--;
        if (content) fromReader.add(content);
        const out = content ? [content] : readHere(g);
        groups[g] = out;
        return out;
      });
      task.catch(() => undefined); // awaited when due; a failure then is this file's error
      return task;
    };
    let readHereCount = 0;
    // The worker's first groups are the file's last ones: it loads (~50-100 ms) while this thread reads from the
    // front. Handed the first groups instead, it made this thread wait ~120 ms at the start of the db dataset's
    // restore, GROUPS_AHEAD groups read and the group due still on a worker not yet running.
    let end = groupCount; // groups from here on were handed to the worker at the start
    if (groupCount > WORKER_GROUPS) for (let i = 0; i < WORKER_GROUPS; i++) groups[--end] = onTheWorker(end);
    let next = 0; // the next group to hand out
    let due = 0; // the next group to write
    let written = 0;
    let writing: Promise<void> | undefined;
    let writeDone = true;
    const writeback = new Writeback(fd);
    try {
      while (due < groupCount) {
        while (onWorker < WORKER_GROUPS && next < end) groups[next] = onTheWorker(next++);
        const head = groups[due];
        if (Array.isArray(head) && writeDone) {
          groups[due++] = undefined;
          if (writing) await writing; // settled already: only to throw its error
          let bytes = 0;
          for (const b of head) bytes += b.length;
          written += bytes;
          checkNotLonger(e, written, rel);
          if (head.length === 1 && fromReader.has(head[0]!)) this.options.budget?.spendBytes(bytes); // read on the worker
          writeback.wrote(bytes);
          writeDone = false;
          writing = this.writeContent(fd, head, written - bytes).finally(() => {
            writeDone = true;
            for (const b of head) {
              if (fromReader.delete(b)) reader.release?.(b);
              const buf = fromHere.get(b);
              if (buf) {
                fromHere.delete(b);
                spare.push(buf);
              }
            }
          });
        } else if (next < end && next - due < GROUPS_AHEAD) {
          // The group due is still on the worker, or the last write is still running: read one more here.
          groups[next] = readHere(next);
          next++;
          // The decoded chunks just read are garbage once written: collected every few groups, not after tens of MiB.
          if (++readHereCount % COLLECT_EVERY === 0) collectYoungGarbage();
          // Let the worker's answers and the write's completion in, so the worker is given its next group in time.
          await new Promise<void>((resolve) => setImmediate(resolve));
        } else {
          // Nothing to do here until the write finishes (when the group due is read) or that group arrives.
          await (Array.isArray(head) ? writing : writeDone ? head : Promise.race([head, writing]));
        }
      }
      if (writing) await writing;
      writing = undefined;
    } finally {
      if (writing) await writing.catch(() => undefined);
      // Groups still on the worker settle before the descriptor closes (nothing of theirs is written).
      await Promise.all(groups.filter((g): g is Promise<Buffer[]> => g instanceof Promise).map((g) => g.catch(() => undefined)));
      await writeback.settle();
    }
    writeback.check();
    return written;
  }

  /**
   * Appends chunk `id`'s verified bytes to `group` (moved to a bigger buffer when they do not fit), copied straight
   * from the store's read buffer or the snappy decoder's memory: no buffer of its own per chunk. Errors as chunk().
   */
  private appendChunk(e: TreeEntry, id: ObjectId, rel: string, group: { buf: Buffer; length: number }): void {
    let n: number;
    try {
      n = this.ctx.store.useSync(id, (data) => {
        if (group.length + data.length > group.buf.length) {
          const bigger = Buffer.allocUnsafeSlow(Math.max(group.buf.length * 2, group.length + data.length));
          group.buf.copy(bigger, 0, 0, group.length);
          group.buf = bigger;
        }
        group.length += data.copy(group.buf, group.length);
        return data.length;
      });
    } catch (err) {
      throw chunkError(err, rel, id);
    }
    this.options.budget?.spendBytes(n);
  }

  /**
   * Calls `use` with chunk `id` of file `e` (`before` bytes of which came before it) as the store's transient view
   * (FsObjectStore.useSync: valid only during the call), after chunk()'s budget and writeFile's length checks, and
   * returns what it returns. Errors as chunk() for the read; the checks' and `use`'s as they are.
   */
  private useChunkSync<T>(e: TreeEntry, id: ObjectId, rel: string, before: number, use: (data: Buffer) => T): T {
    let read = false;
    try {
      return this.ctx.store.useSync(id, (data) => {
        read = true;
        this.options.budget?.spendBytes(data.length);
        checkNotLonger(e, before + data.length, rel);
        return use(data);
      });
    } catch (err) {
      throw read ? err : chunkError(err, rel, id);
    }
  }

  /**
   * For writeFileAlone: a file of large chunks (READ_AHEAD_MIN_CHUNK on average) has its next chunks' object files
   * read READ_AHEAD at once on the thread pool (FsObjectStore.getAhead), in order; undefined for any other file,
   * whose chunks are read one at a time on this thread (chunk()).
   */
  private readsAhead(e: TreeEntry, rel: string): ChunksAhead | undefined {
    const ids = e.chunks ?? [];
    const size = e.size ?? 0;
    if (isInline(e) || size < READ_AHEAD_MIN_FILE || ids.length < 2 || size / ids.length < READ_AHEAD_MIN_CHUNK) return undefined;
    return new ChunksAhead(ids, READ_AHEAD, (id) =>
      this.ctx.store.getAhead(id).then(
        (data) => {
          this.options.budget?.spendBytes(data.length);
          return data;
        },
        (err: unknown) => {
          throw chunkError(err, rel, id);
        },
      ),
    );
  }

  /** A chunk's verified bytes; a missing or damaged one is an IntegrityError naming the file. */
  private chunk(e: TreeEntry, id: ObjectId, rel: string): Buffer {
    let data: Buffer;
    try {
      data = fileChunkSync(this.ctx.store, e, id);
    } catch (err) {
      throw chunkError(err, rel, id);
    }
    this.options.budget?.spendBytes(data.length);
    return data;
  }

  /**
   * Calls `use` with a small file's verified chunks and their total length, after writeFile's checks, and returns
   * what it returns. A file of one stored chunk (nearly every small file) is handed over as the store's transient
   * view (FsObjectStore.useSync): valid only during the call, which writes or copies it at once, and no buffer of
   * its own per file (~0.1 s of allocating and copying in the tree's restore, plus the garbage).
   */
  private withSmallFile<T>(e: TreeEntry, rel: string, use: (parts: readonly Buffer[], length: number) => T): T {
    const ids = e.chunks ?? [];
    if (isInline(e) || ids.length !== 1) return use(...this.smallFileParts(e, ids, rel));
    return this.useChunkSync(e, ids[0]!, rel, 0, (data) => {
      checkLength(e, data.length, rel);
      return use([data], data.length);
    });
  }

  /** A small file's verified chunks (`ids`, read one by one, each a buffer of its own) and their total length, with writeFile's checks. */
  private smallFileParts(e: TreeEntry, ids: readonly ObjectId[], rel: string): [Buffer[], number] {
    const parts: Buffer[] = [];
    let length = 0;
    for (const id of ids) {
      const data = this.chunk(e, id, rel);
      length += data.length;
      checkNotLonger(e, length, rel);
      parts.push(data);
    }
    checkLength(e, length, rel);
    return [parts, length];
  }

  /** Writes a small file and its metadata synchronously (see SYNC_FILE); same checks and errors as writeFile. */
  writeSmallFileSync(e: TreeEntry, p: Buffer, rel: string): void {
    const length = this.withSmallFile(e, rel, (parts, length) => {
      this.createSmallFileSync(e, p, rel, parts);
      return length;
    });
    this.smallFileDone(length, rel);
  }

  /** writeSmallFileSync's writes: file `p` created with content `parts` and `e`'s metadata. */
  private createSmallFileSync(e: TreeEntry, p: Buffer, rel: string, parts: readonly Buffer[]): void {
    // Created with its own permission bits (never the set-id and sticky bits), so that where the umask leaves them
    // whole no fchmod is needed (a system call per file). Never more open than the file ends up: the bits given
    // are the file's, and the umask only takes some away.
    const mode = e.mode & 0o7777;
    let fd: number;
    try {
      fd = fs.openSync(p, CREATE_FLAGS, mode & 0o777);
    } catch (err) {
      throw new IoError(`cannot write ${quoteName(rel)}: ${describeError(err)}`, { cause: err, details: { path: rel } });
    }
    try {
      for (const data of parts) writeAllSync(fd, data);
      // Metadata as setMeta sets it, through the descriptor (no path lookups).
      setOpenFileMetaSync(fd, mode, this.umaskTookBits(mode), this.ownerToSet(e), nsToSeconds(e.mtime));
    } catch (err) {
      throw new IoError(`cannot write ${quoteName(rel)}: ${describeError(err)}`, { cause: err, details: { path: rel } });
    } finally {
      fs.closeSync(fd);
    }
  }

  /** writeSmallFileSync's work with the system calls queued for the writing thread (see MaterializeOptions.writerThread). */
  private queueSmallFile(writer: RestoreWriter, e: TreeEntry, p: Buffer, rel: string): void {
    const mode = e.mode & 0o7777;
    // writer.file copies the content into its batch before it returns.
    const length = this.withSmallFile(e, rel, (parts, length) => {
      writer.file(p, rel, mode, this.umaskTookBits(mode), this.ownerToSet(e), nsToSeconds(e.mtime), parts, length);
      return length;
    });
    this.smallFileDone(length, rel);
  }

  /** Whether a file created with permission bits `mode & 0o777` lacks some of `mode` (the umask, or set-id and sticky bits). */
  private umaskTookBits(mode: number): boolean {
    return mode !== (mode & 0o777 & ~this.umask);
  }

  /** Counts a small file written (or queued) and does what is due after it. */
  private smallFileDone(length: number, rel: string): void {
    this.counts.bytes += length;
    this.counts.files++;
    this.smallSinceCollect += length;
    if (this.smallSinceCollect >= SMALL_COLLECT_BYTES) {
      this.smallSinceCollect = 0;
      collectYoungGarbage();
    }
    this.maybeSyncEarly();
    this.options.onProgress?.(this.counts, rel);
  }

  /** counts.bytes at the walk's last turn of the event loop. */
  private yieldedAt = 0;
  /** Entries written since the walk's last turn of the event loop. */
  private entriesSinceTurn = 0;

  /**
   * Whether the walk should give the event loop a turn now: it is otherwise synchronous, and an early sync's end
   * (see maybeSyncEarly), a large file's write, and a signal (Ctrl-C, SIGTERM) are seen only there. After every
   * YIELD_EVERY bytes or TURN_EVERY entries: by bytes alone, a restore of many small files (a million empty ones)
   * did not stop on SIGTERM until it was done.
   */
  private dueForTurn(): boolean {
    if (++this.entriesSinceTurn < TURN_EVERY && this.counts.bytes - this.yieldedAt < YIELD_EVERY) return false;
    this.entriesSinceTurn = 0;
    this.yieldedAt = this.counts.bytes;
    return true;
  }

  /** Bytes of small files written since the last minor collection. */
  private smallSinceCollect = 0;

  /** Whether entry `e` needs its owner set (restoring owners, and not the owner it was created with). */
  private needsChown(e: EntryMeta): e is EntryMeta & { uid: number; gid: number } {
    if (!this.chown || e.uid === undefined || e.gid === undefined) return false;
    const created = this.options.createdOwner;
    return created === undefined || e.uid !== created.uid || e.gid !== created.gid;
  }

  /** The owner to give entry `e`, or undefined (see needsChown). */
  private ownerToSet(e: EntryMeta): { uid: number; gid: number } | undefined {
    return this.needsChown(e) ? { uid: e.uid, gid: e.gid } : undefined;
  }

  /**
   * Sets an entry's owner (restoring owners; one that cannot be set is not an error), mode and times, on this
   * thread: a call each costs less than a thread-pool round trip.
   */
  setMetaSync(e: EntryMeta, p: Buffer | string): void {
    const t = nsToSeconds(e.mtime);
    if (e.type !== 'symlink') {
      setPathMetaSync(p, e.mode & 0o7777, this.ownerToSet(e), t);
      return;
    }
    if (this.needsChown(e)) {
      try {
        fs.lchownSync(p, e.uid, e.gid);
      } catch {
        /* an owner we cannot set is not an error */
      }
    }
    try {
      fs.lutimesSync(p, t, t);
    } catch {
      /* times of a symlink are not kept on every system */
    }
  }

  /** An entry's owner (restoring owners), mode and times: see setMetaSync. */
  async setMeta(e: EntryMeta, p: Buffer | string): Promise<void> {
    this.setMetaSync(e, p);
  }

}

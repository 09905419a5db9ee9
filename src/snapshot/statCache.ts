/**
 * The stat cache: per source, the lstat fields of every entry of its last
 * snapshot's tree, in the order readdir returned them, so the next incremental
 * snapshot can tell that a directory is unchanged without loading and decoding
 * its tree object (git's index plays the same part).
 *
 * It is only ever a shortcut. Each directory record names the tree id it
 * describes and is used only when the walk's base tree for that directory has
 * the same id and readdir returns the same names in the same order; each row
 * holds exactly the numbers `sameStat` compares, derived from that tree's own
 * entries. A missing, stale, torn or foreign file is ignored (the walk then
 * loads trees as usual), so the cache is written without fsync.
 *
 * It is written as the walk finishes each directory (children before parents) and read one directory record at a
 * time, so that neither the cache being written nor the one being read is held in memory whole: a change step of
 * 200k small files had held both, ~36 MB of the ~190 MiB it peaked at (rows, names as strings, name blocks).
 *
 * File layout (all little-endian):
 *   "CAIRNSC2"
 *   per directory record, in record order: its rows, Float64 × 8 per entry: code, ino, size, mtimeMs, ctimeMs,
 *          mode, uid, gid (code: -1 not in the tree, -2 file, -3 symlink, ≥ 0 a directory's record index),
 *          then its names, UTF-8, joined by "/"
 *   table: Int32 × 3 per directory: rows, entries in its tree (-1: unusable), bytes of its names
 *   trees: 64 hex per directory (its tree id)
 *   footer JSON {v, dirs, entries, root, rootTree, sha256}, u32 footer length, "CAIRNSC2"
 * `sha256` covers everything between the leading magic and the footer.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';
import type { TreeEntry } from '../model/tree.js';
import type { ObjectId } from '../store/objectId.js';
import { writeAllSync } from '../util/durableFs.js';

const MAGIC = Buffer.from('CAIRNSC2');
const VERSION = 2;
const W = 8; // numbers per row
const ROW_BYTES = W * 8;
/** Bytes of the table and trees per directory record. */
const TABLE_BYTES = 3 * 4 + 64;
/** The footer is a small JSON object: anything longer is not a stat cache. */
const MAX_FOOTER = 4096;
/** Bytes read at a time to check the file's hash. */
const CHECK_BYTES = 256 * 1024;

export const CODE_ABSENT = -1;
export const CODE_FILE = -2;
export const CODE_SYMLINK = -3;

interface Footer {
  v: number;
  dirs: number;
  entries: number;
  root: number;
  rootTree: string;
  sha256: string;
}

/**
 * The millisecond double that lstat reports for a time of `ns` nanoseconds,
 * computed exactly as Node computes it (sec * 1e3 + nsec / 1e6), so a stored
 * ns time and a fresh lstat compare bit for bit. (Number-form lstat is about
 * four times cheaper than bigint-form; its double resolves ~0.25 µs.)
 */
export function nsToStatMs(ns: string | bigint | undefined): number {
  if (ns === undefined) return Number.NaN;
  if (typeof ns === 'string' && ns.length > 9 && ns.length < 20 && ns.charCodeAt(0) !== 45 /* - */) {
    // Same integers as the BigInt path below, without making BigInts (a stat cache is built from every entry).
    return Number(ns.slice(0, -9)) * 1000 + Number(ns.slice(-9)) / 1e6;
  }
  const n = typeof ns === 'bigint' ? ns : BigInt(ns);
  return Number(n / 1_000_000_000n) * 1000 + Number(n % 1_000_000_000n) / 1e6;
}

/** A stat cache that disagrees with its tree (or a record that cannot be read): the walk begins again without it. */
export class StatCacheMismatch extends Error {}

/** Reads exactly `buf.length` bytes at `position`; false at the end of the file first. */
function readAt(fd: number, buf: Buffer, position: number): boolean {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}

/** One directory record of a loaded stat cache: its rows and names, read when its directory is walked. */
export class CachedDir {
  constructor(
    private readonly rows: Float64Array,
    readonly names: readonly string[],
    /** How many entries the directory's tree has. */
    readonly kept: number,
  ) {}

  /** Row `i`'s code: CODE_ABSENT, CODE_FILE, CODE_SYMLINK or the subdirectory's record. */
  code(i: number): number {
    return this.rows[i * W]!;
  }

  /** Whether an lstat matches row `i` (what `sameStat` checks against a tree entry). */
  statMatches(i: number, st: Stats): boolean {
    const r = this.rows;
    const o = i * W;
    return (
      r[o + 1] === st.ino &&
      r[o + 2] === (st.isDirectory() ? 0 : st.size) &&
      r[o + 3] === st.mtimeMs &&
      r[o + 4] === st.ctimeMs &&
      r[o + 5] === (st.mode & 0o7777) &&
      r[o + 6] === st.uid &&
      r[o + 7] === st.gid
    );
  }

  /** Copies row `i` into a writer, with `code` in place of the stored one. */
  copyRow(i: number, code: number, into: StatCacheWriter): void {
    into.rawRow(this.names[i]!, code, this.rows, i * W);
  }
}

/**
 * A loaded stat cache (read-only): the table of its directory records in memory (~100 bytes per directory), their
 * rows and names read from the open file as the walk asks for them. The file is never changed in place (a new cache
 * is renamed over it), so what was checked at load is what is read. Call close() when done.
 */
export class StatCache {
  private constructor(
    private fd: number,
    /** Per record: rows, entries in its tree (-1: unusable), bytes of its names. */
    private readonly table: Int32Array,
    /** Per record: where its rows begin in the file. */
    private readonly offsets: Float64Array,
    private readonly trees: string,
    readonly root: number,
  ) {}

  /**
   * Opens the cache at `file` if it describes `rootTree` and its bytes are whole; null when it is missing, for
   * another tree, damaged or of another version.
   */
  static load(file: string, rootTree: ObjectId): StatCache | null {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return null;
    }
    let cache: StatCache | null = null;
    try {
      cache = StatCache.read(fd, rootTree);
    } catch {
      cache = null;
    }
    if (cache === null) fs.closeSync(fd);
    return cache;
  }

  private static read(fd: number, rootTree: ObjectId): StatCache | null {
    const size = fs.fstatSync(fd).size;
    if (size < 2 * MAGIC.length + 4) return null;
    const head = Buffer.alloc(MAGIC.length);
    const tail = Buffer.alloc(4 + MAGIC.length);
    if (!readAt(fd, head, 0) || !head.equals(MAGIC) || !readAt(fd, tail, size - tail.length) || !tail.subarray(4).equals(MAGIC)) return null;
    const footerLength = tail.readUInt32LE(0);
    const footerAt = size - tail.length - footerLength;
    if (footerLength > MAX_FOOTER || footerAt < MAGIC.length) return null;
    const footerBytes = Buffer.alloc(footerLength);
    if (!readAt(fd, footerBytes, footerAt)) return null;
    const f = JSON.parse(footerBytes.toString('utf8')) as Footer;
    if (f.v !== VERSION || f.rootTree !== rootTree || typeof f.sha256 !== 'string') return null;
    if (![f.dirs, f.entries, f.root].every((n) => Number.isSafeInteger(n) && n >= 0) || f.root >= f.dirs) return null;
    const tableAt = footerAt - f.dirs * TABLE_BYTES;
    if (tableAt < MAGIC.length) return null;
    // The whole body checked against its hash, a piece at a time.
    const hash = createHash('sha256');
    const piece = Buffer.allocUnsafe(Math.min(CHECK_BYTES, footerAt - MAGIC.length));
    for (let at = MAGIC.length; at < footerAt; ) {
      const n = Math.min(piece.length, footerAt - at);
      if (!readAt(fd, piece.subarray(0, n), at)) return null;
      hash.update(piece.subarray(0, n));
      at += n;
    }
    if (hash.digest('hex') !== f.sha256) return null;
    const tableBytes = Buffer.alloc(f.dirs * TABLE_BYTES);
    if (!readAt(fd, tableBytes, tableAt)) return null;
    const table = new Int32Array(f.dirs * 3);
    Buffer.from(table.buffer).set(tableBytes.subarray(0, f.dirs * 12)); // a copy: the file's bytes need not be aligned
    const offsets = new Float64Array(f.dirs);
    let at = MAGIC.length;
    let rows = 0;
    for (let rec = 0; rec < f.dirs; rec++) {
      const count = table[rec * 3]!;
      const nameBytes = table[rec * 3 + 2]!;
      if (count < 0 || nameBytes < 0 || (count === 0) !== (nameBytes === 0)) return null;
      offsets[rec] = at;
      at += count * ROW_BYTES + nameBytes;
      rows += count;
    }
    if (at !== tableAt || rows !== f.entries) return null;
    const trees = tableBytes.toString('latin1', f.dirs * 12);
    if (!/^[0-9a-f]*$/.test(trees)) return null;
    return new StatCache(fd, table, offsets, trees, f.root);
  }

  /** Closes the file (the cache cannot be used afterwards). */
  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Whether `rec` (a row's code, say) names a record of this cache. */
  isRecord(rec: number): boolean {
    return Number.isInteger(rec) && rec >= 0 && rec * 3 < this.table.length;
  }

  treeOf(rec: number): string {
    return this.trees.slice(rec * 64, rec * 64 + 64);
  }

  /**
   * Record `rec`, read, when it describes `tree` as a directory now listing exactly `names`, in this order; else
   * null (a record that cannot be read is only not used).
   */
  open(rec: number, tree: ObjectId, names: ReadonlyArray<string | Buffer>): CachedDir | null {
    const t = this.table;
    if (!this.isRecord(rec) || t[rec * 3 + 1]! < 0 || t[rec * 3]! !== names.length || this.treeOf(rec) !== tree) return null;
    let dir: CachedDir;
    try {
      dir = this.record(rec);
    } catch {
      return null;
    }
    for (let i = 0; i < names.length; i++) if (names[i] !== dir.names[i]) return null;
    return dir;
  }

  /** Record `rec` read from the file; throws StatCacheMismatch when it cannot be. */
  private record(rec: number): CachedDir {
    const t = this.table;
    if (!this.isRecord(rec)) throw new StatCacheMismatch(`the stat cache names record ${rec}, which it lacks`);
    const count = t[rec * 3]!;
    const rowBytes = count * ROW_BYTES;
    // A buffer of its own, at offset 0 of its memory: the rows are viewed as Float64 where they lie.
    const buf = Buffer.allocUnsafeSlow(rowBytes + t[rec * 3 + 2]!);
    if (this.fd < 0 || !readAt(this.fd, buf, this.offsets[rec]!)) throw new StatCacheMismatch(`stat cache record ${rec} cannot be read`);
    const names = count === 0 ? [] : buf.toString('utf8', rowBytes).split('/');
    if (names.length !== count) throw new StatCacheMismatch(`stat cache record ${rec} has ${names.length} names for ${count} rows`);
    return new CachedDir(new Float64Array(buf.buffer, 0, count * W), names, t[rec * 3 + 1]!);
  }

  /** Copies record `rec` and everything below it into a writer; returns its index there. Throws StatCacheMismatch when a record cannot be read. */
  copyRecord(rec: number, into: StatCacheWriter): number {
    const dir = this.record(rec);
    const count = dir.names.length;
    const codes = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const code = dir.code(i);
      // A subdirectory's record is written before its parent's: any other is a loop or a crafted file.
      if (code >= rec) throw new StatCacheMismatch(`stat cache record ${rec} names record ${code} as a subdirectory, which is not written before it`);
      codes[i] = code >= 0 ? this.copyRecord(code, into) : code;
    }
    for (let i = 0; i < count; i++) dir.copyRow(i, codes[i]!, into);
    return into.endDir(this.treeOf(rec) as ObjectId, dir.kept);
  }
}

/** Bytes gathered before a write of the cache being built. */
const OUT_BYTES = 256 * 1024;

/**
 * Writes a stat cache to `file` as the walk finishes each directory (children before parents): a directory's rows
 * and names are gathered (in buffers reused for the next one), then written after the records before it, ~256 KiB
 * at a time. The file is created at the first write. A failed write is never the snapshot's failure: the writer
 * drops the file and ignores the rest (finish() then says so). Call finish() or discard() in the end.
 */
export class StatCacheWriter {
  private fd = -1;
  private readonly hash = createHash('sha256');
  private out: Buffer | undefined = Buffer.allocUnsafe(OUT_BYTES);
  private outUsed = 0;
  /** The rows of the directory being recorded. */
  private rows = new Float64Array(W * 64);
  private nRows = 0;
  /** Its names, UTF-8 with "/" between them. */
  private names = Buffer.allocUnsafe(4096);
  private namesUsed = 0;
  /** The table of the records written (3 Int32 each) and their tree ids (64 bytes each). */
  private table = new Int32Array(3 * 256);
  private trees = Buffer.allocUnsafe(64 * 256);
  private nDirs = 0;
  private entries = 0;
  private done = false;
  /** Why the file could not be written (it is then gone). */
  failure: unknown;

  constructor(readonly file: string) {}

  /** The next row of the directory being recorded, named `name`: its offset in `rows` (the row is counted). */
  private nextRow(name: string): number {
    if ((this.nRows + 1) * W > this.rows.length) {
      const bigger = new Float64Array(this.rows.length * 2);
      bigger.set(this.rows);
      this.rows = bigger;
    }
    const text = this.nRows === 0 ? name : '/' + name;
    // A name is at most 3 bytes per UTF-16 unit.
    if (this.namesUsed + text.length * 3 > this.names.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.names.length * 2, this.namesUsed + text.length * 3));
      this.names.copy(bigger, 0, 0, this.namesUsed);
      this.names = bigger;
    }
    this.namesUsed += this.names.write(text, this.namesUsed, 'utf8');
    return this.nRows++ * W;
  }

  /** Adds a row for an entry of the tree (`code`: CODE_FILE, CODE_SYMLINK or the child directory's record). */
  entryRow(name: string, code: number, e: TreeEntry): void {
    const o = this.nextRow(name);
    const r = this.rows;
    r[o] = code;
    r[o + 1] = e.ino ?? Number.NaN;
    r[o + 2] = e.type === 'dir' ? 0 : (e.size ?? 0);
    r[o + 3] = nsToStatMs(e.mtime);
    r[o + 4] = nsToStatMs(e.ctime);
    r[o + 5] = e.mode;
    r[o + 6] = e.uid ?? Number.NaN;
    r[o + 7] = e.gid ?? Number.NaN;
  }

  /** Adds a row for a name the tree does not hold (excluded, vanished, unreadable, a FIFO). */
  absentRow(name: string): void {
    const o = this.nextRow(name);
    this.rows.fill(0, o, o + W);
    this.rows[o] = CODE_ABSENT;
  }

  rawRow(name: string, code: number, from: Float64Array, offset: number): void {
    const o = this.nextRow(name);
    this.rows.set(from.subarray(offset, offset + W), o);
    this.rows[o] = code;
  }

  /**
   * Closes the directory whose rows were just added and writes its record; returns its index. `kept` is the number
   * of entries in its tree, or -1 when the record must never match (a directory with names that are not valid UTF-8).
   */
  endDir(tree: ObjectId, kept: number): number {
    if (this.nDirs * 3 + 3 > this.table.length) {
      const table = new Int32Array(this.table.length * 2);
      table.set(this.table);
      this.table = table;
      const trees = Buffer.allocUnsafe(this.trees.length * 2);
      this.trees.copy(trees, 0, 0, this.nDirs * 64);
      this.trees = trees;
    }
    this.emit(new Uint8Array(this.rows.buffer, 0, this.nRows * ROW_BYTES));
    this.emit(this.names.subarray(0, this.namesUsed));
    this.table[this.nDirs * 3] = this.nRows;
    this.table[this.nDirs * 3 + 1] = kept;
    this.table[this.nDirs * 3 + 2] = this.namesUsed;
    this.trees.write(tree, this.nDirs * 64, 64, 'latin1');
    this.entries += this.nRows;
    this.nRows = 0;
    this.namesUsed = 0;
    return this.nDirs++;
  }

  /** Adds `bytes` to what is written next (copied: the caller reuses them). */
  private emit(bytes: Uint8Array): void {
    if (this.out === undefined) return; // failed or finished
    if (this.outUsed + bytes.length > this.out.length) this.writeOut();
    if (bytes.length > this.out.length) this.write([bytes], true);
    else {
      this.out.set(bytes, this.outUsed);
      this.outUsed += bytes.length;
    }
  }

  private writeOut(): void {
    if (this.out === undefined || this.outUsed === 0) return;
    const bytes = this.out.subarray(0, this.outUsed);
    this.outUsed = 0;
    this.write([bytes], true);
  }

  /** Writes `parts` (hashed when `hashed`), creating the file first; on failure drops the file. */
  private write(parts: Uint8Array[], hashed: boolean): void {
    if (this.out === undefined && !this.done) return;
    try {
      if (this.fd < 0) {
        this.fd = fs.openSync(this.file, 'w');
        writeAllSync(this.fd, [MAGIC]);
      }
      if (hashed) for (const p of parts) this.hash.update(p);
      writeAllSync(this.fd, parts);
    } catch (err) {
      this.failure ??= err;
      this.discard();
    }
  }

  /**
   * Writes the table, the trees and the footer, with `root` the record of the source directory, and closes the
   * file; true when `file` then holds the whole cache.
   */
  finish(root: number, rootTree: ObjectId): boolean {
    if (this.out === undefined) return false;
    this.writeOut();
    this.write([new Uint8Array(this.table.buffer, 0, this.nDirs * 12), this.trees.subarray(0, this.nDirs * 64)], true);
    if (this.out === undefined) return false;
    this.done = true;
    this.out = undefined;
    const footer: Footer = { v: VERSION, dirs: this.nDirs, entries: this.entries, root, rootTree, sha256: this.hash.digest('hex') };
    const f = Buffer.from(JSON.stringify(footer), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(f.length);
    this.write([f, len, MAGIC], false);
    if (this.failure !== undefined) return false;
    try {
      fs.closeSync(this.fd);
    } catch (err) {
      this.failure = err;
      this.discard();
      return false;
    } finally {
      this.fd = -1;
    }
    return true;
  }

  /** Closes and removes the file, if any (a walk that failed, changed nothing or begins again); idempotent. */
  discard(): void {
    this.out = undefined;
    this.done = false;
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // closed anyway
      }
      this.fd = -1;
      fs.rmSync(this.file, { force: true });
    }
  }
}

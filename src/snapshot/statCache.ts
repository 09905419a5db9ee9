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
 * File layout (all little-endian):
 *   "CAIRNSC1"  u32 header length  header JSON {v, dirs, entries, root, rootTree, sha256}
 *   rows:  Float64 × 8 per entry: code, ino, size, mtimeMs, ctimeMs, mode, uid, gid
 *          (code: -1 not in the tree, -2 file, -3 symlink, ≥ 0 a directory's record index)
 *   dirs:  Int32 × 3 per directory: first row, row count, entries in its tree (-1: unusable)
 *   text:  UTF-8: 64 hex per directory (its tree id), then every row's name joined by "/"
 * `sha256` covers everything after the header.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';
import type { TreeEntry } from '../model/tree.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';

const MAGIC = Buffer.from('CAIRNSC1');
const VERSION = 1;
const W = 8; // numbers per row

export const CODE_ABSENT = -1;
export const CODE_FILE = -2;
export const CODE_SYMLINK = -3;

interface Header {
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

/** A loaded stat cache (read-only). */
export class StatCache {
  private constructor(
    private readonly rows: Float64Array,
    private readonly dirs: Int32Array,
    private readonly trees: string,
    private readonly names: string[],
    readonly root: number,
  ) {}

  /**
   * Reads the cache at `file` if it describes `rootTree`; null when it is
   * missing, for another tree, damaged or of another version.
   */
  static load(file: string, rootTree: ObjectId): StatCache | null {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch {
      return null;
    }
    try {
      if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) return null;
      const hlen = buf.readUInt32LE(8);
      const h = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as Header;
      if (h.v !== VERSION || h.rootTree !== rootTree) return null;
      if (![h.dirs, h.entries, h.root].every((n) => Number.isSafeInteger(n) && n >= 0) || typeof h.sha256 !== 'string') return null;
      const body = buf.subarray(12 + hlen);
      if (sha256Hex(body) !== h.sha256) return null;
      const rowBytes = h.entries * W * 8;
      const dirBytes = h.dirs * 3 * 4;
      if (body.length < rowBytes + dirBytes + h.dirs * 64) return null;
      // Copies: the file's bytes need not be aligned for typed-array views.
      const rows = new Float64Array(h.entries * W);
      Buffer.from(rows.buffer).set(body.subarray(0, rowBytes));
      const dirs = new Int32Array(h.dirs * 3);
      Buffer.from(dirs.buffer).set(body.subarray(rowBytes, rowBytes + dirBytes));
      const text = body.toString('utf8', rowBytes + dirBytes);
      const trees = text.slice(0, h.dirs * 64);
      const names = h.entries === 0 ? [] : text.slice(h.dirs * 64).split('/');
      if (names.length !== h.entries || h.root < 0 || h.root >= h.dirs) return null;
      return new StatCache(rows, dirs, trees, names, h.root);
    } catch {
      return null;
    }
  }

  treeOf(rec: number): string {
    return this.trees.slice(rec * 64, rec * 64 + 64);
  }

  /** Whether record `rec` describes `tree` as a directory now listing exactly `names`, in this order. */
  matches(rec: number, tree: ObjectId, names: ReadonlyArray<string | Buffer>): boolean {
    const d = this.dirs;
    const count = d[rec * 3 + 1]!;
    if (d[rec * 3 + 2]! < 0 || count !== names.length || this.treeOf(rec) !== tree) return false;
    const first = d[rec * 3]!;
    for (let i = 0; i < count; i++) if (names[i] !== this.names[first + i]) return false;
    return true;
  }

  first(rec: number): number {
    return this.dirs[rec * 3]!;
  }

  /** How many entries the directory's tree has. */
  kept(rec: number): number {
    return this.dirs[rec * 3 + 2]!;
  }

  code(row: number): number {
    return this.rows[row * W]!;
  }

  /** Whether an lstat matches a row (what `sameStat` checks against a tree entry). */
  statMatches(row: number, st: Stats): boolean {
    const r = this.rows;
    const o = row * W;
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

  /** Copies record `rec` and everything below it into a writer; returns its index there. */
  copyRecord(rec: number, into: StatCacheWriter): number {
    const d = this.dirs;
    const first = d[rec * 3]!;
    const count = d[rec * 3 + 1]!;
    const codes = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const code = this.code(first + i);
      codes[i] = code >= 0 ? this.copyRecord(code, into) : code;
    }
    for (let i = 0; i < count; i++) into.rawRow(this.names[first + i]!, codes[i]!, this.rows, (first + i) * W);
    return into.endDir(this.treeOf(rec) as ObjectId, d[rec * 3 + 2]!);
  }

  /** Copies row `row` into a writer, with `code` in place of the stored one. */
  copyRow(row: number, name: string, code: number, into: StatCacheWriter): void {
    into.rawRow(name, code, this.rows, row * W);
  }
}

/** Rows per block of a StatCacheWriter (512 KiB). */
const ROWS_PER_BLOCK = 8192;
/** Bytes per block of a StatCacheWriter's encoded names. */
const NAME_BLOCK = 256 * 1024;

/**
 * Builds a stat cache as the walk finishes each directory (children before parents). Its rows and its names (UTF-8,
 * "/" between them) are kept in fixed blocks that become parts of the file as they are: a walk of 200k entries had
 * held them as one doubling array (16 MB, 24 MB while it grew) and 200k strings (8 MB), then joined them.
 */
export class StatCacheWriter {
  private readonly rowBlocks: Float64Array[] = [];
  private nRows = 0;
  private dirs = new Int32Array(3 * 512);
  private nDirs = 0;
  private readonly nameBlocks: Buffer[] = [];
  /** Bytes used in the last name block. */
  private nameUsed = 0;
  private readonly trees: string[] = [];
  private pendingFirst = -1;

  /** The next row, zeroed: its block and its offset there (the row is counted). */
  private nextRow(name: string): [Float64Array, number] {
    if (this.pendingFirst < 0) this.pendingFirst = this.nRows;
    const at = this.nRows % ROWS_PER_BLOCK;
    if (at === 0) this.rowBlocks.push(new Float64Array(ROWS_PER_BLOCK * W));
    this.addName(name);
    this.nRows++;
    return [this.rowBlocks[this.rowBlocks.length - 1]!, at * W];
  }

  private addName(name: string): void {
    const text = this.nRows === 0 ? name : '/' + name;
    let block = this.nameBlocks[this.nameBlocks.length - 1];
    // A name is at most 3 bytes per UTF-16 unit (names are shorter than a block: a file name is at most 255 bytes).
    const most = text.length * 3;
    if (block === undefined || this.nameUsed + most > block.length) {
      if (block !== undefined) this.nameBlocks[this.nameBlocks.length - 1] = block.subarray(0, this.nameUsed);
      block = Buffer.allocUnsafe(Math.max(NAME_BLOCK, most));
      this.nameBlocks.push(block);
      this.nameUsed = 0;
    }
    this.nameUsed += block.write(text, this.nameUsed, 'utf8');
  }

  /** Adds a row for an entry of the tree (`code`: CODE_FILE, CODE_SYMLINK or the child directory's record). */
  entryRow(name: string, code: number, e: TreeEntry): void {
    const [r, o] = this.nextRow(name);
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
    const [r, o] = this.nextRow(name);
    r[o] = CODE_ABSENT; // the rest stays 0
  }

  rawRow(name: string, code: number, from: Float64Array, offset: number): void {
    const [r, o] = this.nextRow(name);
    r.set(from.subarray(offset, offset + W), o);
    r[o] = code;
  }

  /**
   * Closes the directory whose rows were just added; returns its record index.
   * `kept` is the number of entries in its tree, or -1 when the record must
   * never match (a directory with names that are not valid UTF-8).
   */
  endDir(tree: ObjectId, kept: number): number {
    const first = this.pendingFirst < 0 ? this.nRows : this.pendingFirst;
    this.pendingFirst = -1;
    if ((this.nDirs + 1) * 3 > this.dirs.length) {
      const next = new Int32Array(this.dirs.length * 2);
      next.set(this.dirs);
      this.dirs = next;
    }
    this.dirs[this.nDirs * 3] = first;
    this.dirs[this.nDirs * 3 + 1] = this.nRows - first;
    this.dirs[this.nDirs * 3 + 2] = kept;
    this.trees.push(tree);
    return this.nDirs++;
  }

  /** The file's bytes, in parts to write one after another (its blocks as they are), with `root` the record of the source directory. */
  finish(root: number, rootTree: ObjectId): Buffer[] {
    const rows = this.rowBlocks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    const lastRows = this.nRows % ROWS_PER_BLOCK;
    if (lastRows > 0) rows[rows.length - 1] = rows[rows.length - 1]!.subarray(0, lastRows * W * 8);
    const names = this.nameBlocks.slice();
    if (names.length > 0) names[names.length - 1] = names[names.length - 1]!.subarray(0, this.nameUsed);
    const body: Buffer[] = [...rows, Buffer.from(this.dirs.buffer, 0, this.nDirs * 3 * 4), Buffer.from(this.trees.join(''), 'utf8'), ...names];
    const hash = createHash('sha256');
    for (const part of body) hash.update(part);
    const header: Header = { v: VERSION, dirs: this.nDirs, entries: this.nRows, root, rootTree, sha256: hash.digest('hex') };
    const h = Buffer.from(JSON.stringify(header), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(h.length);
    return [MAGIC, len, h, ...body];
  }
}

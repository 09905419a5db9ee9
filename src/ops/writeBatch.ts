/**
 * What a restore hands its writing worker (restoreWriter.ts): small files to
 * create, with their verified content and metadata, and directories whose
 * metadata is to be set once everything in them is written. Records are packed
 * into a slot of a SharedArrayBuffer that both threads see (nothing is
 * copied or transferred).
 *
 * A record, little-endian: u8 kind (1 file, 2 directory metadata, 3 a directory
 * to create, with mode 0700 until its metadata record sets it), u8 flags
 * (1 set the owner, 2 set the mode through the descriptor: the umask took
 * bits away at creation), u16 the content's padding (0-7), u32 mode
 * (permission, set-id and sticky bits), f64 mtime in seconds (as utimes takes
 * it), i32 uid, i32 gid, u32 path length, u32 content length (0 for a
 * directory), then the padding's bytes, the content's and the path's. Records
 * start at multiples of 8.
 *
 * The padding puts the content's largest part at the same offset modulo 8 in
 * the batch as in the buffer it is copied from: V8 copies into shared memory
 * word by word only between addresses aligned alike, else byte by byte (12 KB
 * took 4.4 µs misaligned, 0.9-1.2 µs aligned, 0.4-0.6 µs into memory not shared).
 */
import * as fs from 'node:fs';

/** How a restored file is created: never over an existing entry, never through a symlink. */
export const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

export const RECORD_FILE = 1;
export const RECORD_DIR = 2;
export const RECORD_MKDIR = 3;
export const FLAG_CHOWN = 1;
export const FLAG_CHMOD = 2;
const HEADER = 32;

export interface WriteRecord {
  kind: typeof RECORD_FILE | typeof RECORD_DIR | typeof RECORD_MKDIR;
  flags: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  /** A view into the batch. */
  path: Buffer;
  /** A view into the batch (empty for a directory). */
  content: Buffer;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Bytes a record of this path and content takes in a batch at most (with the most padding). */
export function recordBytes(pathLength: number, contentLength: number): number {
  return align8(HEADER + 7 + pathLength + contentLength);
}

/**
 * The padding before content `parts` starting at batch offset `at`: what puts the largest part at its own buffer's
 * offset modulo 8 (buffers' memory starts at multiples of 8, the batch's too).
 */
export function contentPadding(at: number, parts: readonly Buffer[]): number {
  let largest: Buffer | undefined;
  let largestAt = 0;
  let before = 0;
  for (const p of parts) {
    if (!largest || p.length > largest.length) {
      largest = p;
      largestAt = before;
    }
    before += p.length;
  }
  return largest ? (largest.byteOffset - at - largestAt) & 7 : 0;
}

/** Packs records into one buffer (`view`), from its start. */
export class BatchBuilder {
  private end = 0;
  count = 0;

  constructor(readonly view: Buffer) {}

  /** Starts packing anew (what was packed is no longer needed). */
  reset(): void {
    this.end = 0;
    this.count = 0;
  }

  get bytes(): number {
    return this.end;
  }

  /** Whether a record of these lengths fits what is left. */
  fits(pathLength: number, contentLength: number): boolean {
    return this.end + recordBytes(pathLength, contentLength) <= this.view.length;
  }

  /** Appends a record whose content is `parts` concatenated (`contentLength` bytes); the caller checked fits(). */
  add(kind: WriteRecord['kind'], flags: number, mode: number, mtime: number, uid: number, gid: number, path: Buffer, parts: readonly Buffer[], contentLength: number): void {
    const v = this.view;
    const at = this.end;
    const pad = contentPadding(at + HEADER, parts);
    v.writeUInt8(kind, at);
    v.writeUInt8(flags, at + 1);
    v.writeUInt16LE(pad, at + 2);
    v.writeUInt32LE(mode >>> 0, at + 4);
    v.writeDoubleLE(mtime, at + 8);
    v.writeInt32LE(uid | 0, at + 16);
    v.writeInt32LE(gid | 0, at + 20);
    v.writeUInt32LE(path.length, at + 24);
    v.writeUInt32LE(contentLength, at + 28);
    const contentStart = at + HEADER + pad;
    let off = contentStart;
    for (const p of parts) {
      v.set(p, off);
      off += p.length;
    }
    if (off !== contentStart + contentLength) throw new Error(`write batch: content of ${off - contentStart} bytes, ${contentLength} announced`);
    v.set(path, off);
    this.end = align8(off + path.length);
    this.count++;
  }
}

/** The records packed into the first `bytes` of `v`, in order; their views are valid while `v` is unchanged. */
export function* readBatch(v: Buffer, bytes: number): Generator<WriteRecord> {
  if (bytes > v.length) throw new Error(`write batch: ${bytes} bytes announced in a buffer of ${v.length}`);
  let at = 0;
  while (at < bytes) {
    if (at + HEADER > bytes) throw new Error(`write batch: a record header cut short at byte ${at}`);
    const kind = v.readUInt8(at);
    if (kind !== RECORD_FILE && kind !== RECORD_DIR && kind !== RECORD_MKDIR) throw new Error(`write batch: record kind ${kind} at byte ${at}`);
    const pad = v.readUInt16LE(at + 2);
    if (pad > 7) throw new Error(`write batch: padding of ${pad} bytes at byte ${at}`);
    const pathLength = v.readUInt32LE(at + 24);
    const contentLength = v.readUInt32LE(at + 28);
    const contentStart = at + HEADER + pad;
    const pathStart = contentStart + contentLength;
    if (pathStart + pathLength > bytes) throw new Error(`write batch: a record at byte ${at} runs past the batch`);
    yield {
      kind,
      flags: v.readUInt8(at + 1),
      mode: v.readUInt32LE(at + 4),
      mtime: v.readDoubleLE(at + 8),
      uid: v.readInt32LE(at + 16),
      gid: v.readInt32LE(at + 20),
      path: v.subarray(pathStart, pathStart + pathLength),
      content: v.subarray(contentStart, pathStart),
    };
    at = align8(pathStart + pathLength);
  }
}

/**
 * Writing a file's content with its zero blocks left as holes (`restore --sparse`): a virtual machine's disk
 * image or a preallocated database file restored dense takes its whole size on disk, holes included.
 *
 * Only whole blocks of zeros, aligned in the file, are skipped: a hole takes whole file-system blocks, so a
 * shorter run of zeros would save nothing. The caller writes into a new file and sets its length at the end
 * (ftruncate), which makes a hole of a zero tail too. Reading a hole gives zeros, so the content is the same.
 */
import { writeAll } from './writeAll.js';

/** The block a hole is made of: the usual file-system block (ext4, XFS, btrfs, APFS). */
export const HOLE_BLOCK = 4096;

/** Bytes of data to write at a position of the file: the parts of the caller's buffers between holes. */
export interface DataRun {
  position: number;
  parts: Buffer[];
}

let zeros = Buffer.alloc(0);

/** Whether `buf[start, end)` is all zero bytes. */
function isZero(buf: Buffer, start: number, end: number): boolean {
  if (buf[start] !== 0 || buf[end - 1] !== 0) return false; // data, most of the time: no compare needed
  const n = end - start;
  if (zeros.length < n) zeros = Buffer.alloc(Math.max(n, HOLE_BLOCK));
  return buf.compare(zeros, 0, n, start, end) === 0;
}

/**
 * The runs of `bufs` (consecutive content starting at file offset `position`) to write, leaving out every whole
 * block of `block` bytes, aligned in the file, that is all zeros. Pure: the runs and the holes between them
 * cover `bufs` exactly once, in order.
 */
export function dataRuns(bufs: readonly Buffer[], position: number, block = HOLE_BLOCK): DataRun[] {
  const runs: DataRun[] = [];
  let run: DataRun | undefined;
  let at = position; // the file offset of the byte being looked at
  for (const buf of bufs) {
    let from = 0; // start of the part of `buf` not yet given to a run or a hole
    let i = 0;
    while (i < buf.length) {
      // The block of the file holding offset `at`, and where it ends in this buffer.
      const blockStart = at - (at % block);
      const blockEnd = blockStart + block;
      const end = Math.min(buf.length, i + (blockEnd - at));
      // A hole only for a whole block within this buffer (a block split across two buffers is written).
      if (at === blockStart && end - i === block && isZero(buf, i, end)) {
        if (i > from) (run ??= { position: at - (i - from), parts: [] }).parts.push(buf.subarray(from, i));
        if (run) runs.push(run);
        run = undefined;
        from = end;
      }
      at += end - i;
      i = end;
    }
    if (buf.length > from) (run ??= { position: at - (buf.length - from), parts: [] }).parts.push(buf.subarray(from));
  }
  if (run) runs.push(run);
  return runs;
}

/**
 * Writes `bufs`, the file's content from offset `position` on, leaving its zero blocks unwritten (see dataRuns).
 * The file's length is the caller's to set once everything is written.
 */
export async function writeSparse(fd: number, bufs: readonly Buffer[], position: number): Promise<void> {
  for (const r of dataRuns(bufs, position)) await writeAll(fd, r.parts, r.position);
}

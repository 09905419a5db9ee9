/**
 * Reads whole object files on the calling thread into one reused buffer:
 * restoring a database reads tens of thousands of ~5 KB page objects, and a
 * fresh buffer for each was garbage for the collector. A result is a view of
 * that buffer, valid only until the next read: the caller decodes or copies
 * it at once (holds() tells whether it must copy).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';

export class ObjectFileReader {
  private scratch: Buffer;

  /**
   * @param size the reused buffer's size
   * @param keepUpTo a buffer grown for a larger object, up to this size, becomes the reused one; an object larger
   *   still gets a buffer of its own. Each buffer of its own is an allocation that is garbage after one read: on
   *   the main thread of a restore, whose small files' objects run up to 256 KiB, those kept glibc's heap 5-10 MiB
   *   larger at the peak (docs/performance.md).
   */
  constructor(
    size: number,
    private readonly keepUpTo: number,
  ) {
    this.scratch = Buffer.allocUnsafeSlow(size);
  }

  /**
   * The whole file at `p`. No fstat first: most objects fit, and a read that fills the buffer is followed by one
   * into a bigger buffer. No read to see 0 either (unless `untilZero`): a local regular file reads short only at
   * its end, and objects are never written in place; a caller whose result then fails its hash reads again
   * until 0 before it calls the object damaged.
   */
  read(p: string, untilZero = false): Buffer {
    const fd = fs.openSync(p, 'r');
    try {
      let buf = this.scratch;
      let n = 0;
      for (;;) {
        const want = buf.length - n;
        const got = fs.readSync(fd, buf, n, want, null);
        n += got;
        if (got === 0 || (got < want && !untilZero)) break;
        if (n === buf.length) {
          // Room for the whole file and a read of 0 after it, doubling; but not past keepUpTo for a file that fits
          // under it (or a file just under it would get a buffer of its own). A file longer than fstat says (never
          // an object) still gets the buffer doubled.
          const room = fs.fstatSync(fd).size + 1;
          const fits = room > buf.length && room <= this.keepUpTo;
          const bigger = Buffer.allocUnsafeSlow(fits ? Math.max(room, Math.min(buf.length * 2, this.keepUpTo)) : Math.max(buf.length * 2, room));
          buf.copy(bigger, 0, 0, n);
          buf = bigger;
          if (bigger.length <= this.keepUpTo) this.scratch = bigger;
        }
      }
      return buf.subarray(0, n);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** True when `b` is (a view of) the reused buffer, which the next read overwrites. */
  holds(b: Buffer): boolean {
    return b.buffer === this.scratch.buffer;
  }
}

/**
 * The whole file at `p`, read on the thread pool into a buffer of its own of the size fstat gives (grown if the file
 * turns out longer): for a caller that keeps several reads in flight (a large file's restore, whose reads one at a
 * time leave the disk idle between them when the repository is not in the page cache). A buffer of its own per
 * object, as ObjectFileReader.read gives an object larger than its reused buffer: an object stored raw is its
 * content, handed on without a copy.
 */
export async function readObjectFileAsync(p: string, untilZero = false): Promise<Buffer> {
  const fh = await fsp.open(p, 'r');
  try {
    let buf = Buffer.allocUnsafeSlow((await fh.stat()).size);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        // At the size fstat gave. As read() above, no read to see 0 unless `untilZero`: then one confirms the end, and a
        // file longer than fstat said (never an object) grows the buffer.
        if (!untilZero) break;
        const probe = Buffer.allocUnsafe(1);
        const { bytesRead } = await fh.read(probe, 0, 1, null);
        if (bytesRead === 0) break;
        const bigger = Buffer.allocUnsafeSlow(buf.length * 2 + 1);
        buf.copy(bigger, 0, 0, n);
        bigger[n++] = probe[0]!;
        buf = bigger;
        continue;
      }
      const want = buf.length - n;
      const { bytesRead: got } = await fh.read(buf, n, want, null);
      n += got;
      if (got === 0 || (got < want && !untilZero)) break;
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

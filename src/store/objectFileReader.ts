/**
 * Reads whole object files on the calling thread into one reused buffer:
 * restoring a database reads tens of thousands of ~5 KB page objects, and a
 * fresh buffer for each was garbage for the collector. A result is a view of
 * that buffer, valid only until the next read: the caller decodes or copies
 * it at once (holds() tells whether it must copy).
 */
import * as fs from 'node:fs';

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

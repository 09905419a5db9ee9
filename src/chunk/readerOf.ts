/** A ReadInto over a Node Readable (standard input, a command's standard output). */
import type { Readable } from 'node:stream';
import type { ReadInto } from './chunkStream.js';

/** A ReadInto over a Readable: holds at most one of its chunks. */
export function readerOf(stream: Readable): ReadInto {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let pending: Buffer = Buffer.alloc(0);
  let done = false;
  return async (buf, offset, length) => {
    while (pending.length === 0) {
      if (done) return 0;
      const r = await it.next();
      if (r.done) {
        done = true;
        return 0;
      }
      pending = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
    const n = Math.min(length, pending.length);
    pending.copy(buf, offset, 0, n);
    pending = pending.subarray(n);
    return n;
  };
}

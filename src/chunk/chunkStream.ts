/**
 * Splits a byte source into chunks in bounded memory: one buffer of about
 * twice the largest chunk, reused. A chunk handed to `onChunk` is a view of
 * that buffer, valid until the promise `onChunk` returns settles: a callee
 * that keeps it longer copies it (a store that writes a chunk synchronously
 * needs no copy, which spares an allocation per 8 KiB database page), or
 * passes `beforeReuse`, which holds the buffer until its chunks are done.
 */
import { cutPoint } from './cutPoint.js';
import { maxChunk, type ChunkerParams } from './chunkerParams.js';

/** Reads up to `length` bytes into `buf` at `offset`; returns 0 at the end. */
export type ReadInto = (buf: Buffer, offset: number, length: number) => Promise<number>;

export interface ChunkStreamOptions {
  /** The buffer to cut in (at least twice the largest chunk), instead of one allocated here. */
  buffer?: Buffer;
  /**
   * Awaited before bytes [from, to) of the buffer, some of which were handed out, are overwritten: for a
   * caller whose chunks are still being read elsewhere (another thread, through a shared buffer). With it, a
   * buffer of at least four largest chunks is used as two halves, as a ring: data read into the first half
   * runs on into the second, and only the unread tail at the end of the second is moved to the start of the
   * first; each half is waited for just before it is reused, while the chunks of the other may still be in use.
   */
  beforeReuse?: (from: number, to: number) => Promise<void>;
}

/** The size of the buffer chunkStream cuts in when given none: twice the largest chunk, at least 1 MiB. */
export function chunkingBufferBytes(params: ChunkerParams): number {
  return Math.max(maxChunk(params) * 2, 1 << 20);
}

export async function chunkStream(read: ReadInto, params: ChunkerParams, onChunk: (chunk: Buffer) => Promise<void>, options: ChunkStreamOptions = {}): Promise<number> {
  const max = maxChunk(params);
  const buf = options.buffer ?? Buffer.allocUnsafe(chunkingBufferBytes(params));
  if (buf.length < max * 2) throw new RangeError(`chunking buffer of ${buf.length} bytes is smaller than twice the largest chunk`);
  const reuse = options.beforeReuse;
  const half = reuse && buf.length >= max * 4 ? buf.length >>> 1 : 0;
  let start = 0;
  let end = 0;
  let eof = false;
  let total = 0;
  for (;;) {
    if (!eof && end - start < max) {
      if (half > 0 && end === half) {
        await reuse!(half, buf.length); // running on into the second half: its earlier chunks must be done
      } else if (start > 0 && (half === 0 || end === buf.length)) {
        await reuse?.(0, half || buf.length);
        buf.copy(buf, 0, start, end);
        end -= start;
        start = 0;
      }
      // Fill up to the end of the current half (or of the buffer).
      const limit = half > 0 && end < half ? half : buf.length;
      while (!eof && end < limit) {
        const n = await read(buf, end, limit - end);
        if (n === 0) eof = true;
        end += n;
        total += n;
      }
    }
    if (end - start === 0) break;
    const n = cutPoint(buf, start, end, params);
    await onChunk(buf.subarray(start, start + n));
    start += n;
  }
  return total;
}

/** Chunks a whole in-memory buffer (tests and small inputs). */
export function chunkBuffer(data: Uint8Array, params: ChunkerParams): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  while (start < data.length) {
    const n = cutPoint(data, start, data.length, params);
    out.push(data.subarray(start, start + n));
    start += n;
  }
  return out;
}

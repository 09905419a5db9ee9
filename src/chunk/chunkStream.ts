/**
 * Splits a byte source into chunks in bounded memory: one buffer of about
 * twice the largest chunk, reused. A chunk handed to `onChunk` is a view of
 * that buffer, valid until the promise `onChunk` returns settles: a callee
 * that keeps it longer copies it (a store that writes a chunk synchronously
 * needs no copy, which spares an allocation per 8 KiB database page).
 */
import { cutPoint } from './cutPoint.js';
import { maxChunk, type ChunkerParams } from './chunkerParams.js';

/** Reads up to `length` bytes into `buf` at `offset`; returns 0 at the end. */
export type ReadInto = (buf: Buffer, offset: number, length: number) => Promise<number>;

export async function chunkStream(read: ReadInto, params: ChunkerParams, onChunk: (chunk: Buffer) => Promise<void>): Promise<number> {
  const max = maxChunk(params);
  const buf = Buffer.allocUnsafe(Math.max(max * 2, 1 << 20));
  let start = 0;
  let end = 0;
  let eof = false;
  let total = 0;
  for (;;) {
    if (!eof && end - start < max) {
      if (start > 0) {
        buf.copy(buf, 0, start, end);
        end -= start;
        start = 0;
      }
      while (!eof && end < buf.length) {
        const n = await read(buf, end, buf.length - end);
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

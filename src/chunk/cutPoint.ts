/**
 * FastCDC cut-point search (gear hash with normalized chunking).
 *
 * cutPoint(buf, start, end, params) returns the length of the chunk that
 * starts at `start`, looking at no byte at or past `end`. The caller passes
 * at least `max` bytes unless the data ends sooner. Boundaries depend only on
 * the bytes near them, so an insert shifts at most the chunks around it and
 * the boundaries after it resynchronise.
 */
import { gearScan } from './gearScan.js';
import type { ChunkerParams } from './chunkerParams.js';

interface Masks {
  small: number;
  large: number;
}

const maskCache = new Map<number, Masks>();

/** Masks using the high bits of the hash, which depend on the most bytes. */
function masksFor(avg: number): Masks {
  let m = maskCache.get(avg);
  if (!m) {
    const bits = Math.round(Math.log2(avg));
    const top = (n: number) => (n >= 32 ? -1 : ~((1 << (32 - n)) - 1) | 0);
    m = { small: top(bits + 2), large: top(bits - 2) };
    maskCache.set(avg, m);
  }
  return m;
}

export function cutPoint(buf: Uint8Array, start: number, end: number, params: ChunkerParams): number {
  const available = end - start;
  if (params.kind === 'fixed') return Math.min(available, params.size);
  const { min, avg, max } = params;
  if (available <= min) return available;
  const limit = Math.min(available, max);
  const normal = Math.min(limit, avg);
  const { small, large } = masksFor(avg);
  // Normalized chunking: the stricter mask up to the average size, the looser one after it.
  const scan = gearScan();
  const early = scan(buf, start + min, start + normal, small);
  if (early >= 0) return early - start;
  const late = scan(buf, start + normal, start + limit, large);
  return late >= 0 ? late - start : limit;
}

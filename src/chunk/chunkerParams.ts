/** Chunker parameters, stored in the repository config so defaults can change without breaking old repositories. */
import { UsageError } from '../errors.js';

export interface CdcParams {
  kind: 'cdc';
  /** Smallest chunk (except a file's last); also the size below which a file is one blob. */
  min: number;
  /** Target average chunk size; a power of two. */
  avg: number;
  /** Largest chunk. */
  max: number;
}

/** Fixed-size chunks: right for page-structured files (databases) whose pages never shift. */
export interface FixedParams {
  kind: 'fixed';
  size: number;
}

export type ChunkerParams = CdcParams | FixedParams;

export const DEFAULT_CDC: CdcParams = { kind: 'cdc', min: 256 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 };

/** Largest chunk the params can cut. */
export function maxChunk(p: ChunkerParams): number {
  return p.kind === 'cdc' ? p.max : p.size;
}

export function validateChunkerParams(p: ChunkerParams): ChunkerParams {
  if (p.kind === 'fixed') {
    if (!Number.isInteger(p.size) || p.size < 512 || p.size > 64 * 1024 * 1024) throw new UsageError(`fixed chunk size ${p.size} is out of range`);
    return p;
  }
  const { min, avg, max } = p;
  const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!pow2(avg) || !(min >= 64 && min < avg && avg < max && max <= 64 * 1024 * 1024)) {
    throw new UsageError(`chunker parameters min=${min} avg=${avg} max=${max} are invalid (need 64 <= min < avg < max <= 64 MiB, avg a power of two)`);
  }
  return p;
}

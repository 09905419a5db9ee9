/**
 * The gear table of the content-defined chunker: 256 pseudo-random 32-bit
 * values derived from SHA-256 of a fixed seed. It is part of the on-disk
 * format: changing it changes every chunk boundary and so breaks dedup with
 * existing repositories.
 */
import { createHash } from 'node:crypto';

export const GEAR_SEED = 'cairn-gear-v1';

function makeGear(): Int32Array {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    table[i] = createHash('sha256').update(`${GEAR_SEED}:${i}`).digest().readInt32LE(0);
  }
  return table;
}

export const GEAR: Int32Array = makeGear();

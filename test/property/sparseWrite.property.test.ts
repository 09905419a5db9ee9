/**
 * dataRuns (src/util/sparseWrite.ts): what `restore --sparse` writes and what it leaves as holes. For any content
 * split into any buffers at any file offset: the runs and the holes cover the content exactly once, in order;
 * every hole is a whole aligned block of zeros; and every such block that lies within one buffer is a hole.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dataRuns } from '../../src/util/sparseWrite.js';

const BLOCK = 16; // small blocks, so that short inputs have many of them

/** Content with long zero stretches: segments of zeros or of random bytes. */
const content = fc
  .array(fc.oneof(fc.integer({ min: 1, max: 70 }).map((n) => Buffer.alloc(n)), fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a))), { maxLength: 12 })
  .map((parts) => Buffer.concat(parts));

/** `data` cut at the given points into consecutive buffers. */
function split(data: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, data.length]) {
    if (c > from) out.push(data.subarray(from, c));
    from = Math.max(from, c);
  }
  return out;
}

describe('dataRuns', () => {
  it('writes everything that is not a whole aligned block of zeros, and only that', () => {
    fc.assert(
      fc.property(content, fc.array(fc.nat(), { maxLength: 6 }), fc.nat({ max: 100 }), (data, cuts, position) => {
        const bufs = split(data, cuts);
        const runs = dataRuns(bufs, position, BLOCK);
        // The file as written: zeros where nothing was written (a hole reads as zeros).
        const file = Buffer.alloc(data.length, 0xff);
        const written = new Uint8Array(data.length);
        let last = position;
        for (const r of runs) {
          expect(r.position).toBeGreaterThanOrEqual(last); // in order, never overlapping
          let at = r.position - position;
          for (const p of r.parts) {
            p.copy(file, at);
            written.fill(1, at, at + p.length);
            at += p.length;
          }
          last = r.position + r.parts.reduce((n, p) => n + p.length, 0);
        }
        for (let i = 0; i < data.length; i++) {
          if (written[i]) continue;
          file[i] = 0;
          // A byte left out lies in a whole block of zeros aligned in the file.
          const blockStart = position + i - ((position + i) % BLOCK) - position;
          expect(blockStart).toBeGreaterThanOrEqual(0);
          expect(blockStart + BLOCK).toBeLessThanOrEqual(data.length);
          expect(data.subarray(blockStart, blockStart + BLOCK).every((b) => b === 0)).toBe(true);
        }
        expect(file.equals(data)).toBe(true);
        // Every whole aligned zero block inside one buffer is a hole.
        let offset = position;
        for (const b of bufs) {
          for (let s = offset + ((BLOCK - (offset % BLOCK)) % BLOCK); s + BLOCK <= offset + b.length; s += BLOCK) {
            const i = s - position;
            if (data.subarray(i, i + BLOCK).every((x) => x === 0)) expect(written.subarray(i, i + BLOCK).some((x) => x === 1)).toBe(false);
          }
          offset += b.length;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('gives data without zero blocks as one run, its buffers untouched', () => {
    const a = Buffer.from('abc');
    const b = Buffer.alloc(40, 7);
    expect(dataRuns([a, b], 5, BLOCK)).toEqual([{ position: 5, parts: [a, b] }]);
  });

  it('leaves out an all-zero buffer of whole blocks', () => {
    expect(dataRuns([Buffer.alloc(64)], 32, BLOCK)).toEqual([]);
    // Not aligned: the partial blocks at both ends are written.
    const runs = dataRuns([Buffer.alloc(64)], 8, BLOCK);
    expect(runs.map((r) => [r.position, r.parts.reduce((n, p) => n + p.length, 0)])).toEqual([
      [8, 8],
      [64, 8],
    ]);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkBuffer } from '../../../src/chunk/chunkStream.js';
import { chunkStream } from '../../../src/chunk/chunkStream.js';
import { DEFAULT_CDC, type CdcParams } from '../../../src/chunk/chunkerParams.js';
import { cutPoint } from '../../../src/chunk/cutPoint.js';
import { GEAR } from '../../../src/chunk/gearTable.js';

const P: CdcParams = { kind: 'cdc', min: 2048, avg: 8192, max: 32768 };

function seeded(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function boundaries(chunks: Uint8Array[]): number[] {
  const out: number[] = [];
  let pos = 0;
  for (const c of chunks) out.push((pos += c.length));
  return out;
}

describe('content-defined chunking', () => {
  it('chunks join back to the input and respect min/max', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300_000 }), fc.integer(), (n, seed) => {
        const data = seeded(n, seed);
        const chunks = chunkBuffer(data, P);
        expect(Buffer.concat(chunks).equals(data)).toBe(true);
        chunks.forEach((c, i) => {
          expect(c.length).toBeLessThanOrEqual(P.max);
          if (i < chunks.length - 1) expect(c.length).toBeGreaterThanOrEqual(P.min);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('boundaries resynchronise after an insert: once a boundary coincides, every later one does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100_000, max: 300_000 }), fc.integer(), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 0.5, noNaN: true }), (n, seed, insLen, where) => {
        const data = seeded(n, seed);
        const at = Math.floor(where * n);
        const edited = Buffer.concat([data.subarray(0, at), seeded(insLen, seed ^ 0x5a5a), data.subarray(at)]);
        const before = boundaries(chunkBuffer(data, P));
        const after = new Set(boundaries(chunkBuffer(edited, P)).map((b) => b - insLen));
        // boundaries before the insert are untouched
        for (const b of before.filter((x) => x <= at)) expect(after.has(b - insLen)).toBe(true);
        const past = before.filter((b) => b > at);
        const first = past.findIndex((b) => after.has(b));
        expect(first).toBeGreaterThanOrEqual(0); // they meet again before the end
        for (const b of past.slice(first)) expect(after.has(b)).toBe(true);
        // and they meet within a few chunks of the insert
        expect(past[first]! - at).toBeLessThan(P.max * 8);
      }),
      { numRuns: 60 },
    );
  });

  it('the streaming chunker cuts exactly where the whole-buffer chunker does', async () => {
    const data = seeded(500_000, 7);
    let pos = 0;
    const streamed: Buffer[] = [];
    await chunkStream(
      async (buf, off, len) => {
        const n = Math.min(len, 7777, data.length - pos);
        data.copy(buf, off, pos, pos + n);
        pos += n;
        return n;
      },
      P,
      async (c) => {
        streamed.push(Buffer.from(c)); // a view of the chunker's buffer: kept, so copied
      },
    );
    const whole = chunkBuffer(data, P);
    expect(streamed.map((c) => c.length)).toEqual(whole.map((c) => c.length));
    streamed.forEach((c, i) => expect(c.equals(whole[i]!)).toBe(true));
  });

  it('average chunk size is near the target', () => {
    const chunks = chunkBuffer(seeded(4_000_000, 3), P);
    const avg = 4_000_000 / chunks.length;
    expect(avg).toBeGreaterThan(P.avg * 0.5);
    expect(avg).toBeLessThan(P.avg * 2);
  });

  it('fixed chunking cuts at exact multiples', () => {
    const chunks = chunkBuffer(seeded(100_000, 9), { kind: 'fixed', size: 16384 });
    expect(chunks.slice(0, -1).every((c) => c.length === 16384)).toBe(true);
  });

  // Chunk boundaries are part of the on-disk format (dedup with existing repositories depends on them): these pin
  // them. The digests were computed with the plain one-byte-at-a-time scan before it was unrolled.
  it('cuts exactly where the format says, for the default and a small parameter set (golden digests)', () => {
    const digest = (p: CdcParams, n: number) => {
      const lengths = chunkBuffer(seeded(n, 11), p).map((c) => c.length);
      return `${lengths.length} ${createHash('sha256').update(lengths.join(',')).digest('hex')}`;
    };
    expect(digest(P, 3_000_000)).toBe('315 83151e266d1c97c28464397e3bf015f2313f6290238838237e41f45ca072a691');
    expect(digest(DEFAULT_CDC, 24_000_000)).toBe('20 f419cfea956057ccca30f63bebd21425055bb9fe22e0e1dd0e6ca515a236bffe');
  });

  it('the optimised scan agrees with the plain definition for any parameters, start and end', () => {
    // The definition: warm the gear hash over the 64 bytes before min, then cut at the first position where the
    // hash has the small-mask bits clear (before avg) or the large-mask bits clear (before max).
    const reference = (buf: Uint8Array, start: number, end: number, p: CdcParams): number => {
      const available = end - start;
      if (available <= p.min) return available;
      const limit = Math.min(available, p.max);
      const bits = Math.round(Math.log2(p.avg));
      const top = (n: number) => (n >= 32 ? -1 : ~((1 << (32 - n)) - 1) | 0);
      let h = 0;
      for (let i = Math.max(start, start + p.min - 64); i < start + limit; i++) {
        h = ((h << 1) + GEAR[buf[i]!]!) | 0;
        if (i < start + p.min) continue;
        const mask = i < start + Math.min(limit, p.avg) ? top(bits + 2) : top(bits - 2);
        if ((h & mask) === 0) return i + 1 - start;
      }
      return limit;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 6, max: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 70_000 }),
        (avgBits, spread, seed, start, length) => {
          const avg = 2 ** avgBits;
          const p: CdcParams = { kind: 'cdc', min: Math.max(64, avg >> spread), avg, max: avg << spread };
          const data = seeded(start + length, seed);
          for (let s = start, guard = 0; s < data.length && guard < 200; guard++) {
            const got = cutPoint(data, s, data.length, p);
            expect(got).toBe(reference(data, s, data.length, p));
            s += got;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

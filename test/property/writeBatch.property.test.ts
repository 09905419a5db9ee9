/**
 * The records a restore sends its writing worker (src/ops/writeBatch.ts): whatever is packed is read back the
 * same, in order, with nothing else; a file's content lies at the offset modulo 8 its largest part had in its own
 * buffer (so V8 copies it into shared memory word by word); a batch cut short or naming more bytes than its buffer
 * is refused, never read past.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchBuilder, RECORD_DIR, RECORD_FILE, RECORD_MKDIR, readBatch, recordBytes } from '../../src/ops/writeBatch.js';

const recordArb = fc.record({
  kind: fc.constantFrom(RECORD_FILE, RECORD_DIR, RECORD_MKDIR),
  flags: fc.integer({ min: 0, max: 3 }),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  mtime: fc.double({ min: -1e10, max: 1e10, noNaN: true }),
  uid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  gid: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  path: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
  // A file's content in one or more parts (its chunks), each at any offset in a buffer of its own; a directory's
  // records have none.
  parts: fc.array(
    fc.tuple(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 15 })).map(([a, at]) => {
      const b = Buffer.alloc(at + a.length);
      b.set(a, at);
      return b.subarray(at);
    }),
    { maxLength: 4 },
  ),
});

/** The part of `parts` that is copied aligned: the largest, the first of equals. */
function largestPart(parts: readonly Buffer[]): { part: Buffer; at: number } | undefined {
  let best: { part: Buffer; at: number } | undefined;
  let at = 0;
  for (const part of parts) {
    if (!best || part.length > best.part.length) best = { part, at };
    at += part.length;
  }
  return best;
}

describe('write batches', () => {
  it('read back exactly what was packed, in order', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 40 }), (records) => {
        const size = records.reduce((n, r) => n + recordBytes(r.path.length, r.kind !== RECORD_FILE ? 0 : Buffer.concat(r.parts).length), 0);
        // Shared memory, as the restore's batches are.
        const b = new BatchBuilder(Buffer.from(new SharedArrayBuffer(size)));
        for (const r of records) {
          const parts = r.kind !== RECORD_FILE ? [] : r.parts;
          const length = parts.reduce((n, p) => n + p.length, 0);
          expect(b.fits(r.path.length, length)).toBe(true);
          b.add(r.kind, r.flags, r.mode, r.mtime, r.uid, r.gid, r.path, parts, length);
        }
        expect(b.count).toBe(records.length);
        expect(b.bytes).toBeLessThanOrEqual(size);
        expect(b.bytes % 8).toBe(0);
        const read = [...readBatch(b.view, b.bytes)];
        read.forEach((r, i) => {
          const largest = largestPart(records[i]!.kind !== RECORD_FILE ? [] : records[i]!.parts);
          if (largest) expect((r.content.byteOffset + largest.at) % 8).toBe(largest.part.byteOffset % 8);
        });
        const back = read.map((r) => ({ ...r, path: Buffer.from(r.path), content: Buffer.from(r.content) }));
        expect(back).toEqual(
          records.map((r) => ({
            kind: r.kind,
            flags: r.flags,
            mode: r.mode,
            mtime: r.mtime,
            uid: r.uid,
            gid: r.gid,
            path: r.path,
            content: r.kind !== RECORD_FILE ? Buffer.alloc(0) : Buffer.concat(r.parts),
          })),
        );
      }),
    );
  });

  it('refuses a batch cut short, or longer than its buffer', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), (r, cutAt) => {
        const length = r.parts.reduce((n, p) => n + p.length, 0);
        const b = new BatchBuilder(Buffer.alloc(recordBytes(r.path.length, length)));
        b.add(RECORD_FILE, r.flags, r.mode, r.mtime, r.uid, r.gid, r.path, r.parts, length);
        const end = b.bytes; // the record's end, its padding at the end included
        const cut = 1 + (cutAt % (end - 8));
        expect(() => [...readBatch(b.view, cut)]).toThrow(/write batch/);
        expect(() => [...readBatch(b.view, b.view.length + 8)]).toThrow(/write batch/);
      }),
    );
  });

  it('refuses content that does not add up to the length announced', () => {
    const b = new BatchBuilder(Buffer.alloc(256));
    expect(() => b.add(RECORD_FILE, 0, 0o644, 0, -1, -1, Buffer.from('/x'), [Buffer.from('abc')], 4)).toThrow(/write batch/);
  });
});

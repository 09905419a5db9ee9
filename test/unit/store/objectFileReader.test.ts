/**
 * ObjectFileReader (src/store/objectFileReader.ts): whole files read into one reused buffer, grown for larger
 * files up to `keepUpTo`; a larger file gets a buffer of its own. A result held in the reused buffer is valid only
 * until the next read, and holds() says so (the store copies such a result when it must keep it).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ObjectFileReader } from '../../../src/store/objectFileReader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-reader-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ObjectFileReader', () => {
  it('reads every file whole, keeps a grown buffer up to keepUpTo and gives larger files a buffer of their own', () => {
    const reader = new ObjectFileReader(1024, 64 * 1024);
    let n = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 * 1024 }), (size) => {
        const data = randomBytes(size);
        const p = path.join(dir, `f${n++}`);
        fs.writeFileSync(p, data);
        const got = reader.read(p);
        expect(got.equals(data)).toBe(true);
        // Up to keepUpTo the result is a view of the reused buffer (the next read overwrites it); past it, its own.
        if (size < 64 * 1024) expect(reader.holds(got)).toBe(true);
        if (size > 64 * 1024) expect(reader.holds(got)).toBe(false);
        const copy = Buffer.from(got);
        reader.read(p);
        expect(copy.equals(data)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('does not double past keepUpTo for a file under it (a file just under it stays in the reused buffer)', () => {
    const reader = new ObjectFileReader(1024, 64 * 1024);
    for (const size of [33_000, 40_000, 64 * 1024 - 1, 100, 64 * 1024 + 1, 50_000]) {
      const data = randomBytes(size);
      const p = path.join(dir, `seq-${size}`);
      fs.writeFileSync(p, data);
      const got = reader.read(p);
      expect(got.equals(data)).toBe(true);
      // 40,000 bytes after a buffer grown to 33,001: doubling would give 66,002, past keepUpTo.
      expect(reader.holds(got)).toBe(size < 64 * 1024);
    }
  });
});

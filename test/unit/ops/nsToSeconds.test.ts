import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { nsToSeconds } from '../../../src/ops/materialize.js';
import { tempDir } from '../../helpers.js';

const dir = tempDir('cairn-utimes-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('restoring mtimes', () => {
  it('keeps the microsecond of every nanosecond timestamp through utimes', () => {
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, '');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 4_000_000_000n * 1_000_000_000n }), (ns) => {
        const t = nsToSeconds(ns.toString());
        fs.utimesSync(f, t, t);
        const got = fs.statSync(f, { bigint: true }).mtimeNs;
        expect(got / 1000n).toBe(ns / 1000n);
      }),
      { numRuns: 500 },
    );
  });
});

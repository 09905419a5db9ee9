import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readWholeSync } from '../../../src/snapshot/treeBuilder.js';
import { tempDir } from '../../helpers.js';

const dir = tempDir('cairn-readwhole-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function readWith(content: Uint8Array, expected: number): Buffer {
  const p = path.join(dir, 'f');
  fs.writeFileSync(p, content);
  const fd = fs.openSync(p, 'r');
  try {
    return readWholeSync(fd, expected);
  } finally {
    fs.closeSync(fd);
  }
}

describe('readWholeSync', () => {
  it('reads the whole file whatever size the stat said (same, smaller: it grew, larger: it shrank)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.nat({ max: 140_000 }), (content, expected) => {
        expect(readWith(content, expected).equals(Buffer.from(content))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('reads empty files, and a file that grew from empty', () => {
    expect(readWith(new Uint8Array(0), 0).length).toBe(0);
    expect(readWith(new Uint8Array(0), 10).length).toBe(0);
    expect(readWith(Buffer.from('grew'), 0).toString()).toBe('grew');
    expect(readWith(Buffer.from('exactly'), 7).toString()).toBe('exactly');
    expect(readWith(Buffer.from('grew by one'), 10).toString()).toBe('grew by one');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TreeEntry } from '../../../src/model/tree.js';
import { inlineFormFits, inlineLimit, TREE_INLINE_BUDGET } from '../../../src/snapshot/treeBuilder.js';

describe('inlineLimit', () => {
  it('never lets a tree hold more than the budget, never exceeds inlineMax, and shrinks as a directory grows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65536 }), fc.integer({ min: 0, max: 2_000_000 }), fc.integer({ min: 0, max: 1000 }), (max, listed, more) => {
        const limit = inlineLimit(max, listed);
        expect(limit).toBeGreaterThanOrEqual(0);
        expect(limit).toBeLessThanOrEqual(max);
        expect(limit * Math.max(1, listed)).toBeLessThanOrEqual(TREE_INLINE_BUDGET);
        expect(inlineLimit(max, listed + more)).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 2000 },
    );
    expect(inlineLimit(4096, 1)).toBe(4096);
    expect(inlineLimit(4096, 8)).toBe(4096);
    expect(inlineLimit(4096, 9)).toBe(3640);
    expect(inlineLimit(4096, 100)).toBe(327);
    expect(inlineLimit(0, 1)).toBe(0);
  });

  it('inlineFormFits: a base entry is reused only when stored as the limit says', () => {
    const file = (size: number, inline: boolean): TreeEntry => ({ name: 'f', type: 'file', mode: 0o644, mtime: '1', size, chunks: size ? ['a'.repeat(64)] : [], ...(inline ? { inline: 'x'.repeat(size) } : {}) });
    expect(inlineFormFits(file(100, true), 4096)).toBe(true);
    expect(inlineFormFits(file(100, false), 4096)).toBe(false);
    expect(inlineFormFits(file(5000, false), 4096)).toBe(true);
    expect(inlineFormFits(file(100, true), 0)).toBe(false);
    expect(inlineFormFits(file(0, false), 4096)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import { WalkBudget, budgetedLoader, byteBudget, entryBudget } from '../../../src/model/treeBudget.js';

describe('walk budgets', () => {
  it('entryBudget and byteBudget are twice the manifests plus slack', () => {
    expect(entryBudget({ files: 3, dirs: 1, symlinks: 0 })).toBe(2 * 4 + 1024);
    expect(entryBudget({ files: 3, dirs: 1, symlinks: 0 }, undefined, { files: 1, dirs: 0, symlinks: 1 })).toBe(2 * 6 + 1024);
    expect(byteBudget({ bytes: 100 })).toBe(200 + 64 * 1024 * 1024);
  });

  it('WalkBudget throws an IntegrityError naming the walk once entries or bytes pass their limits, not at them', () => {
    const b = new WalkBudget('snapshot abc', 10, 100);
    b.spendEntries(10);
    b.spendBytes(100);
    expect(() => b.spendEntries(1)).toThrow(IntegrityError);
    expect(() => b.spendEntries(1)).toThrow(/^snapshot abc: its trees name more than 10 entries/);
    const c = new WalkBudget('snapshot abc', 10, 100);
    expect(() => c.spendBytes(101)).toThrow(/more than 100 bytes of file content/);
    expect(WalkBudget.forSnapshot('s', { files: 1, dirs: 0, symlinks: 0, bytes: 1 })).toMatchObject({ maxEntries: 1026, maxBytes: 2 + 64 * 1024 * 1024 });
  });

  it('budgetedLoader counts every load, repeated ids included', async () => {
    const load = budgetedLoader(async () => [{ name: 'x', type: 'file', mode: 0o644, mtime: '0', chunks: [] }], 2, 'w');
    await load('a' as never);
    await load('a' as never);
    await expect(load('a' as never)).rejects.toThrow(/more than 2 entries/);
  });
});

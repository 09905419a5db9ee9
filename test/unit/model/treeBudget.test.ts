import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import { SHARING_FACTOR, SHARING_FLOOR, WalkBudget, budgetedLoader, byteBudget, entryBudget, historyLoader } from '../../../src/model/treeBudget.js';

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

describe('historyLoader', () => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `e${i}`, type: 'file' as const, mode: 0o644, mtime: '0', chunks: [] }));
  const tree = entries(1000);

  it('stops a walk loading the same trees over and over past the floor, whatever the budget', async () => {
    const load = historyLoader(async () => tree, Number.MAX_SAFE_INTEGER, 'snapshot s');
    let loads = 0;
    await expect(
      (async () => {
        for (;;) {
          await load('same' as never);
          loads++;
        }
      })(),
    ).rejects.toThrow(/snapshot s: its trees name \d+ entries from 1 distinct trees of 1000 entries/);
    // The load that passed the floor is the one that threw.
    expect((loads + 1) * 1000).toBeGreaterThan(SHARING_FLOOR);
    expect(loads * 1000).toBeLessThanOrEqual(SHARING_FLOOR);
  });

  it('lets a walk share subtrees up to the factor, and any walk of distinct trees, past the floor', async () => {
    const shared = historyLoader(async () => tree, Number.MAX_SAFE_INTEGER, 's');
    const distinctTrees = Math.ceil((SHARING_FLOOR * 2) / 1000 / (SHARING_FACTOR - 1));
    for (let i = 0; i < distinctTrees; i++) for (let k = 0; k < SHARING_FACTOR - 1; k++) await shared(`t${i}` as never);
    const plain = historyLoader(async () => tree, Number.MAX_SAFE_INTEGER, 's');
    for (let i = 0; i < (SHARING_FLOOR * 2) / 1000; i++) await plain(`t${i}` as never);
  });
});

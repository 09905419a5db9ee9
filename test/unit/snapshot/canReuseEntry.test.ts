import type { BigIntStats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TreeEntry } from '../../../src/model/tree.js';
import { canReuseEntry } from '../../../src/snapshot/treeBuilder.js';

const st = (over: Partial<Record<'size' | 'mtimeNs' | 'ctimeNs' | 'ino' | 'mode', bigint>> = {}) =>
  ({ size: 10n, mtimeNs: 1000n, ctimeNs: 1000n, ino: 7n, mode: 0o100644n, ...over }) as unknown as BigIntStats;
const base: TreeEntry = { name: 'f', type: 'file', mode: 0o644, mtime: '1000', ctime: '1000', ino: 7, size: 10, chunks: [] };

describe('change detection', () => {
  it('reuses a file whose size, mtime, ctime, inode and mode match and that is older than the base scan', () => {
    expect(canReuseEntry(st(), base, 5000n)).toBe(true);
  });
  it('re-reads when any stat field differs', () => {
    expect(canReuseEntry(st({ size: 11n }), base, 5000n)).toBe(false);
    expect(canReuseEntry(st({ mtimeNs: 999n }), base, 5000n)).toBe(false);
    expect(canReuseEntry(st({ ctimeNs: 1001n }), base, 5000n)).toBe(false);
    expect(canReuseEntry(st({ ino: 8n }), base, 5000n)).toBe(false);
    expect(canReuseEntry(st({ mode: 0o100755n }), base, 5000n)).toBe(false);
    expect(canReuseEntry(st(), { ...base, type: 'symlink' }, 5000n)).toBe(false);
    expect(canReuseEntry(st(), undefined, 5000n)).toBe(false);
  });
  it('never trusts a racily clean entry (modified in or after the tick the base scan started)', () => {
    expect(canReuseEntry(st(), base, 1000n)).toBe(false);
    expect(canReuseEntry(st({ mtimeNs: 900n }), { ...base, mtime: '900' }, 1000n)).toBe(false); // ctime 1000 >= start
    expect(canReuseEntry(st(), base, 1001n)).toBe(true);
  });
});

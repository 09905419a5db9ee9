import type { Stats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TreeEntry } from '../../../src/model/tree.js';
import { canReuseEntry } from '../../../src/snapshot/treeBuilder.js';

// times: base entry at 1_700_000_000.123456 s; lstat gives ms as a double
const NS = '1700000000123456789';
const MS = Number(1_700_000_000n) * 1000 + 123456789 / 1e6;
const st = (over: Partial<{ size: number; mtimeMs: number; ctimeMs: number; ino: number; mode: number; uid: number }> = {}) =>
  ({ size: 10, mtimeMs: MS, ctimeMs: MS, ino: 7, mode: 0o100644, uid: 1, gid: 1, isDirectory: () => false, ...over }) as unknown as Stats;
const base: TreeEntry = { name: 'f', type: 'file', mode: 0o644, mtime: NS, ctime: NS, ino: 7, uid: 1, gid: 1, size: 10, chunks: [] };
const LATER = 1_700_000_001_000_000_000n;

describe('change detection', () => {
  it('reuses a file whose size, mtime, ctime, inode, mode and owner match and that is older than the base scan', () => {
    expect(canReuseEntry(st(), base, LATER)).toBe(true);
  });
  it('re-reads when any stat field differs', () => {
    expect(canReuseEntry(st({ size: 11 }), base, LATER)).toBe(false);
    expect(canReuseEntry(st({ mtimeMs: MS - 0.001 }), base, LATER)).toBe(false);
    expect(canReuseEntry(st({ ctimeMs: MS + 0.001 }), base, LATER)).toBe(false);
    expect(canReuseEntry(st({ ino: 8 }), base, LATER)).toBe(false);
    expect(canReuseEntry(st({ mode: 0o100755 }), base, LATER)).toBe(false);
    expect(canReuseEntry(st({ uid: 2 }), base, LATER)).toBe(false);
    expect(canReuseEntry(st(), { ...base, ctime: '0' }, LATER)).toBe(false);
    expect(canReuseEntry(st(), { ...base, type: 'symlink' }, LATER)).toBe(false);
    expect(canReuseEntry(st(), undefined, LATER)).toBe(false);
    expect(canReuseEntry(st(), base, null)).toBe(false);
  });
  it('never trusts a racily clean entry (modified in or after the tick the base scan started)', () => {
    expect(canReuseEntry(st(), base, 1_700_000_000_123_456_789n)).toBe(false); // same instant
    expect(canReuseEntry(st(), base, 1_700_000_000_123_456_000n)).toBe(false);
    expect(canReuseEntry(st(), base, 1_700_000_000_123_458_000n)).toBe(true);
  });
});

describe('nsToStatMs', () => {
  it('reproduces the double lstat reports for the same file', async () => {
    const fs = await import('node:fs');
    const { nsToStatMs } = await import('../../../src/snapshot/treeBuilder.js');
    const { tempDir } = await import('../../helpers.js');
    const d = tempDir();
    try {
      for (let i = 0; i < 200; i++) {
        const f = `${d}/f${i}`;
        fs.writeFileSync(f, String(i));
        const big = fs.lstatSync(f, { bigint: true });
        const num = fs.lstatSync(f);
        expect(nsToStatMs(big.mtimeNs)).toBe(num.mtimeMs);
        expect(nsToStatMs(big.ctimeNs.toString())).toBe(num.ctimeMs);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

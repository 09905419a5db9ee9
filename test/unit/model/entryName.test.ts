import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSafeName, isSafeRelativePath } from '../../../src/model/entryName.js';
import { hostilePath, safePath } from '../../property/pathArb.js';


describe('entry names and relative paths', () => {
  it('a safe name is one component that is not "." or ".."', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a\0b', '/']) expect(isSafeName(Buffer.from(bad))).toBe(false);
    for (const good of ['a', '...', '.a', 'a..', ' ', '\u00e9']) expect(isSafeName(Buffer.from(good))).toBe(true);
    expect(isSafeName(Buffer.from([0xff, 0xfe]))).toBe(true);
  });

  it('rejects empty, absolute, "..", "." and NUL in relative paths', () => {
    for (const bad of ['', '/', '/etc/passwd', '../x', 'a/../../x', 'a/..', './a', 'a/./b', 'a//b', 'a/', 'a\0/b']) {
      expect(isSafeRelativePath(Buffer.from(bad)), bad).toBe(false);
    }
    for (const good of ['a', 'a/b', '.hidden/..x/x..', 'a b/c']) expect(isSafeRelativePath(Buffer.from(good)), good).toBe(true);
  });

  it('property: paths of safe components are accepted, a path with one hostile component is rejected', () => {
    fc.assert(fc.property(safePath, (p) => isSafeRelativePath(p)));
    fc.assert(fc.property(hostilePath, (p) => !isSafeRelativePath(p)));
  });
});

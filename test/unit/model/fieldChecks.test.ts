import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeValue, isCount, isInodeNumber, isNsTime, isOwnerId, isPermissionMode } from '../../../src/model/fieldChecks.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

describe('field checks', () => {
  it('isNsTime takes exactly the decimal strings of a signed 64-bit integer', () => {
    for (const good of ['0', '1', '-1', '1764000000000000000', I64_MAX.toString(), I64_MIN.toString(), '-0', '0001']) expect(isNsTime(good)).toBe(true);
    const bad = ['', '-', 'abc', '1.5', '1e9', ' 1', '1 ', '+1', '0x10', '１', (I64_MAX + 1n).toString(), (I64_MIN - 1n).toString(), '99999999999999999999999999999', '00000000000000000001'];
    for (const b of bad) expect(isNsTime(b), b).toBe(false);
    for (const b of [1, 0, null, undefined, {}, [], 1n]) expect(isNsTime(b)).toBe(false);
    // The same answer as BigInt parsing with a range check, for any integer near and beyond the bounds.
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (n) => {
        expect(isNsTime(n.toString())).toBe(n >= I64_MIN && n <= I64_MAX);
      }),
      { numRuns: 2000 },
    );
  });

  it('mode, owner, inode and count checks take whole numbers in range and nothing else', () => {
    expect([0, 0o644, 0o4755, 0o7777].every(isPermissionMode)).toBe(true);
    expect([-1, 0o10000, 420.5, '420', null, NaN, Infinity, 0o100644].some(isPermissionMode)).toBe(false);
    expect([0, 1000, 2 ** 32 - 1].every(isOwnerId)).toBe(true);
    expect([-1, 2 ** 32, 1.5, 'root', null, NaN].some(isOwnerId)).toBe(false);
    expect([0, 5, 2 ** 53, 2 ** 64].every(isInodeNumber)).toBe(true);
    expect([-1, 1.5, '5', null, Infinity].some(isInodeNumber)).toBe(false);
    expect([0, 5, Number.MAX_SAFE_INTEGER].every(isCount)).toBe(true);
    expect([-1, 1.5, 2 ** 53, 1e18, 'lots', null, Infinity].some(isCount)).toBe(false);
  });

  it('describeValue keeps a crafted value short', () => {
    expect(describeValue('x'.repeat(1000)).length).toBeLessThanOrEqual(40);
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue(undefined)).toBe('undefined');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isObjectId } from '../../../src/store/objectId.js';
import { HEX64 } from '../../../src/util/hash.js';

describe('isObjectId', () => {
  it('takes exactly 64 lower-case hex digits, whatever the characters around them', () => {
    const hex = '0123456789abcdef';
    // Characters whose low byte is a hex digit's (the table is indexed by it) must still be refused.
    const near = ['A', 'F', 'g', '/', ':', '`', '\u0130', '\u0161', '\u0230', '\uff10', '\u{1F600}'];
    const id = fc.stringMatching(/^[0-9a-f]{64}$/);
    fc.assert(
      fc.property(id, fc.nat(63), fc.constantFrom(...near, ...hex), (s, at, c) => {
        expect(isObjectId(s)).toBe(true);
        const t = s.slice(0, at) + c + s.slice(at + 1);
        expect(isObjectId(t)).toBe(HEX64.test(t));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (s) => {
        expect(isObjectId(s)).toBe(HEX64.test(s));
      }),
    );
    for (const v of [undefined, null, 5, ['a'.repeat(64)], { length: 64 }]) expect(isObjectId(v)).toBe(false);
  });
});

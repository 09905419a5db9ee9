import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TAG_NAME_BYTES, tagNameProblem } from '../../../src/model/tagName.js';
import { tagFileName } from '../../../src/refs.js';

describe('tag names', () => {
  it.each(['v1.0', 'release-2026-01', 'v1.0-rc1', 'release/1.0', 'a/b/c', 'before_upgrade', 'ünïcode', 'x', 'v', 'g123', '100%', 'deadbeefz', '1.0', `v${'1'.repeat(MAX_TAG_NAME_BYTES - 1)}`])(
    'accepts %s',
    (name) => {
      expect(tagNameProblem(name)).toBeNull();
    },
  );

  it.each([
    ['', /empty/],
    ['has space', /whitespace/],
    ['tab\there', /whitespace/],
    ['new\nline', /whitespace/],
    ['bell\x07', /control/],
    ['-v1', /starts with '-'/],
    ['v1..2', /'\.\.'/],
    ['v1~1', /'~'/],
    ['v1:x', /':'/],
    ['v1^', /'\^'/],
    ['what?', /'\?'/],
    ['v*', /'\*'/],
    ['v[1]', /'\['/],
    ['back\\slash', /'\\'/],
    ['at@{1}', /'@\{'/],
    ['latest', /reserved/],
    ['abcd', /hex/],
    ['DEADBEEF', /hex/],
    ['2024', /hex/],
    ['a'.repeat(64), /hex/],
    ['/lead', /component/],
    ['trail/', /component/],
    ['a//b', /component/],
    ['.hidden', /starts with '\.'/],
    ['a/.b', /starts with '\.'/],
    ['v1.lock', /\.lock/],
    ['v1.', /ends with '\.'/],
    [`v${'1'.repeat(MAX_TAG_NAME_BYTES)}`, /longer/],
    ['é'.repeat(MAX_TAG_NAME_BYTES / 2 + 1), /longer/],
  ])('rejects %j', (name, why) => {
    expect(tagNameProblem(name)).toMatch(why);
  });

  it('never accepts a name that a ref would read as something else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (name) => {
        if (tagNameProblem(name) !== null) return;
        expect(name).not.toBe('latest');
        expect(name).not.toMatch(/^[0-9a-f]+$/i);
        expect(name).not.toMatch(/[~:\s]/);
        expect(name.startsWith('-')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('maps every valid name to one flat, distinct ref file name', () => {
    const names = ['release/1.0', 'release%2F1.0', 'release%252F1.0', 'a/b/c', 'a%2Fb/c'];
    const files = names.map(tagFileName);
    expect(new Set(files).size).toBe(names.length);
    for (const f of files) {
      expect(f).not.toContain('/');
      expect(f.endsWith('.json')).toBe(true);
      expect(Buffer.byteLength(f)).toBeLessThan(255);
    }
    expect(tagFileName('release/1.0')).toBe('release%2F1.0.json');
    expect(tagFileName('v1.0')).toBe('v1.0.json');
    // the longest valid name, all slashes it may hold, still fits a file name
    const longest = Array.from({ length: MAX_TAG_NAME_BYTES / 2 }, () => 'a').join('/');
    expect(tagNameProblem(longest)).toBeNull();
    expect(Buffer.byteLength(tagFileName(longest))).toBeLessThan(255);
  });
});

/**
 * quoteName / escapeControls: what a human view prints for an untrusted name or text. Nothing that reaches the
 * terminal holds a control character (C0, DEL, C1, a line or paragraph separator, a bidi override) or a lone
 * surrogate; a quoted name unquotes to exactly the name; an ordinary name is printed as it is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeControls, quoteName, unquoteName } from '../../../src/util/quoteName.js';

/** Any UTF-16 code unit below 0x20, DEL, C1, the separators and bidi controls, or a lone surrogate. */
function unsafeChars(s: string): string[] {
  return [...s].filter((ch) => /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/.test(ch) || /^[\ud800-\udfff]$/.test(ch));
}

// Strings weighted towards the characters that matter: controls, quotes, backslashes, separators, surrogates.
const nasty = fc.constantFrom('\x1b', '\x07', '\n', '\t', '\r', '\0', '\x7f', '\u0085', '\u009b', '"', '\\', '\u2028', '\u202e', '\ud800', '\udfff', 'é', '日', '😀', ' ', 'a', '0', '7', 'u');
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: nasty, maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

describe('quoteName', () => {
  it('prints ordinary names unchanged', () => {
    for (const name of ['a.txt', 'with spaces', 'café', '日本/語.md', 'emoji 😀', "it's", 'x=1;y', '']) expect(quoteName(name)).toBe(name);
  });

  it('quotes names with controls, quotes and backslashes C-style, as git does', () => {
    expect(quoteName('a\nb')).toBe('"a\\nb"');
    expect(quoteName('evil\x1b]0;pwned\x07\x1b[2J')).toBe('"evil\\033]0;pwned\\a\\033[2J"');
    expect(quoteName('tab\there')).toBe('"tab\\there"');
    expect(quoteName('a"b')).toBe('"a\\"b"');
    expect(quoteName('a\\b')).toBe('"a\\\\b"');
    expect(quoteName('del\x7f')).toBe('"del\\177"');
    expect(quoteName('c1\u009b2J')).toBe('"c1\\302\\2332J"'); // C1 CSI: the octal of its UTF-8 bytes
    expect(quoteName('gpj.\u202eexe')).toBe('"gpj.\\342\\200\\256exe"'); // a bidi override
    expect(quoteName('lone\ud800')).toBe('"lone\\uD800"');
    expect(quoteName('é\n')).toBe('"é\\n"'); // printable non-ASCII stays as it is inside quotes
  });

  it('for any string: no unsafe character in the quoted form, and unquoting gives the original back', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const q = quoteName(s);
        expect(unsafeChars(q)).toEqual([]);
        expect(unquoteName(q)).toBe(s);
        // Unchanged exactly when there is nothing to quote.
        const ordinary = unsafeChars(s).length === 0 && !s.includes('"') && !s.includes('\\');
        expect(q === s).toBe(ordinary);
        // A quoted name is one token: it starts and ends with '"' and holds no other unescaped '"'.
        if (!ordinary) expect(q).toMatch(/^"([^"\\]|\\.)*"$/su);
      }),
      { numRuns: 2000 },
    );
  });

  it('unquoteName refuses malformed input', () => {
    for (const bad of ['"abc', '"a"b"', '"a\\"', '"\\q"', '"\\377"']) expect(() => unquoteName(bad)).toThrow(SyntaxError);
  });
});

describe('escapeControls', () => {
  it('escapes control characters only, with no quotes around', () => {
    expect(escapeControls('before "refactor" of C:\\x')).toBe('before "refactor" of C:\\x');
    expect(escapeControls('line 1\nline 2\x1b[2J')).toBe('line 1\\nline 2\\033[2J');
  });

  it('for any string: no unsafe character, and text without any is unchanged', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const e = escapeControls(s);
        expect(unsafeChars(e)).toEqual([]);
        if (unsafeChars(s).length === 0) expect(e).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * quoteName / escapeControls: what a human view prints for an untrusted name or text. Nothing that reaches the
 * terminal holds a control character (C0, DEL, C1, a line or paragraph separator, a bidi override) or a lone
 * surrogate; a quoted name unquotes to exactly the name; an ordinary name is printed as it is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { escapeControls, quoteName, shellWord, unquoteName } from '../../../src/util/quoteName.js';

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

describe('shellWord', () => {
  /** What bash makes of each word: one bash process prints every word, NUL-terminated. */
  function throughBash(words: string[]): string[] {
    const script = words.map((w) => `printf '%s\\0' ${shellWord(w)}`).join('\n');
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\0').slice(0, -1);
  }

  it('leaves plain words alone and quotes what a shell would expand, split or glob', () => {
    expect(shellWord('src/app.ts')).toBe('src/app.ts');
    expect(shellWord('a b')).toBe("'a b'");
    expect(shellWord('$HOME`id`"!*')).toBe(`'$HOME\`id\`"!*'`);
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
    expect(shellWord('')).toBe("''");
    expect(shellWord('a\nb\x1b[2J')).toBe("$'a\\nb\\033[2J'");
  });

  it('bash reads back every word exactly, and no quoted word holds a raw control character', () => {
    // Arguments cannot hold NUL; lone surrogates have no UTF-8 form (a name read from disk never has one).
    const piece = fc.oneof(fc.constantFrom("'", '"', '\\', '$', '`', '!', ' ', '\n', '\t', '\x1b', '\x7f', '\u009b', '\u202e', '*', '~', '-', 'é', '日'), fc.string({ unit: 'grapheme', maxLength: 2 }));
    const word = fc.array(piece, { maxLength: 8 }).map((p) => p.join('')).filter((w) => !w.includes('\0'));
    const words = fc.sample(word, 300);
    expect(throughBash(words)).toEqual(words);
    for (const w of words) expect(shellWord(w)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e]/u);
  });
});

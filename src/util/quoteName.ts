/**
 * Printing untrusted strings for people. File names, tag names, snapshot
 * messages and sources come from the user's file system or from a repository
 * that may have been crafted; printed raw, a name holding escape sequences
 * retitles or clears the terminal, and one holding a newline reads as two
 * lines. Every human (non-JSON) view passes them through one of two functions:
 *
 * - `quoteName(name)` for names (paths, sources, link targets): as git's
 *   core.quotePath. A name with a character that needs escaping (below), a
 *   '"' or a '\' is printed in double quotes, C style: `"a\nb"`,
 *   `"evil\033]0;x\007"`. Any other name (spaces, é, 日本) is printed as it is.
 *   `unquoteName` is the exact inverse.
 * - `escapeControls(text)` for free text (messages, error lines): the same
 *   escapes, no surrounding quotes, '"' and '\' left as they are.
 *
 * Escaped: C0 controls and DEL (\a \b \t \n \v \f \r by name, the rest as
 * `\ooo` octal), C1 controls U+0080–U+009F and the characters that reorder or
 * break the line (U+061C, U+200E, U+200F, U+2028–U+202E, U+2066–U+2069) as the
 * `\ooo` octal of their UTF-8 bytes, as git does, and a lone UTF-16 surrogate
 * (no UTF-8 form; a name read from disk never has one) as `\uXXXX`.
 */

const NAMED: Readonly<Record<string, string>> = { '\x07': 'a', '\b': 'b', '\t': 't', '\n': 'n', '\v': 'v', '\f': 'f', '\r': 'r' };

// One class, used for the fast "anything to do?" test and, per character, for escaping.
// With the u flag the surrogate range matches only a lone surrogate, never half of a pair.
const SPECIAL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/u;

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return `\\${named}`;
  const code = ch.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return `\\u${code.toString(16).toUpperCase()}`; // a lone surrogate: `for of` paired the rest
  let out = '';
  for (const b of Buffer.from(ch, 'utf8')) out += `\\${b.toString(8).padStart(3, '0')}`;
  return out;
}

/**
 * A name as people should see it: unchanged when it is ordinary, else in double quotes with C escapes.
 * @example quoteName('a b.txt') // 'a b.txt'
 * @example quoteName('a\nb') // '"a\\nb"'
 */
export function quoteName(name: string): string {
  if (!SPECIAL.test(name) && !name.includes('"') && !name.includes('\\')) return name;
  let out = '"';
  for (const ch of name) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else out += SPECIAL.test(ch) ? escapeChar(ch) : ch;
  }
  return `${out}"`;
}

/**
 * Free text (a message, an error line) with its control characters escaped; nothing else changes.
 * @example escapeControls('line 1\nline 2') // 'line 1\\nline 2'
 */
export function escapeControls(text: string): string {
  if (!SPECIAL.test(text)) return text;
  let out = '';
  for (const ch of text) out += SPECIAL.test(ch) ? escapeChar(ch) : ch;
  return out;
}

const UNNAMED: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(NAMED).map(([c, n]) => [n, c]));

/**
 * The inverse of quoteName: a string that does not start with '"' is returned as it is.
 * Throws a SyntaxError on a malformed quoted name.
 * @example unquoteName('"a\\nb"') // 'a\nb'
 */
export function unquoteName(shown: string): string {
  if (!shown.startsWith('"')) return shown;
  if (shown.length < 2 || !shown.endsWith('"')) throw new SyntaxError(`unterminated quoted name ${shown}`);
  const body = shown.slice(1, -1);
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    try {
      out += new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      throw new SyntaxError(`octal escapes that are not UTF-8 in quoted name ${shown}`);
    }
    bytes = [];
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '"') throw new SyntaxError(`unescaped '"' in quoted name ${shown}`);
    if (ch !== '\\') {
      flush();
      out += ch;
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) throw new SyntaxError(`trailing '\\' in quoted name ${shown}`);
    const octal = /^[0-3][0-7]{2}/.exec(body.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += 3;
      continue;
    }
    flush();
    if (next === 'u' && /^[0-9A-Fa-f]{4}$/.test(body.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(body.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (next === '"' || next === '\\') {
      out += next;
      i += 1;
    } else if (UNNAMED[next] !== undefined) {
      out += UNNAMED[next];
      i += 1;
    } else {
      throw new SyntaxError(`unknown escape \\${next} in quoted name ${shown}`);
    }
  }
  flush();
  return out;
}

/** A word the shell takes as it is: nothing in it a POSIX shell treats specially. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * `word` as one shell word, for the commands cairn prints for people to copy (an undo command, a hint): as it is
 * when nothing in it is special to a shell; else in single quotes (a `'` inside as `'\''`), where `$`, backticks,
 * `!` and `"` are literal, which JSON.stringify's double quotes are not; and, when it holds a character
 * escapeControls escapes (a name with a newline or an escape sequence), in bash's `$'…'` quoting with the same
 * escapes, so that nothing raw reaches the terminal and bash, zsh and ksh read back the exact word.
 * @example shellWord('src/app.ts') // 'src/app.ts'
 * @example shellWord('a $b') // "'a $b'"
 * @example shellWord('a\nb') // "$'a\\nb'"
 */
export function shellWord(word: string): string {
  if (PLAIN_WORD.test(word)) return word;
  if (!SPECIAL.test(word)) return `'${word.replace(/'/g, `'\\''`)}'`;
  let out = "$'";
  for (const ch of word) {
    if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else out += SPECIAL.test(ch) ? escapeChar(ch) : ch;
  }
  return `${out}'`;
}

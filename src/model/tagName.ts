/**
 * Tag names. A tag is a unique, human-chosen name for one snapshot, usable
 * wherever a ref is (`restore v1.0`, `cat v1.0:src/app.ts`), so a name must
 * never be mistaken for another kind of ref: not `latest`, not all hex digits
 * (an id prefix), no `~` (`ref~N`) and no `:` (`ref:path`). The rest follows
 * git's check-ref-format: no whitespace or control characters, no `..`, no
 * leading `-`, none of `^ ? * [ \`, and '/'-separated components that are
 * non-empty, do not start with '.' and do not end with '.lock'; no trailing '.'.
 */

/** Longest tag name, in UTF-8 bytes (its ref file name stays under 255 bytes). */
export const MAX_TAG_NAME_BYTES = 100;

/** Why `name` is not a valid tag name, or null when it is. */
export function tagNameProblem(name: string): string | null {
  if (name.length === 0) return 'it is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_TAG_NAME_BYTES) return `it is longer than ${MAX_TAG_NAME_BYTES} bytes`;
  if (/[\s\p{Cc}]/u.test(name)) return 'it contains whitespace or a control character';
  if (name.startsWith('-')) return "it starts with '-'";
  if (name.includes('..')) return "it contains '..'";
  const bad = /[~^:?*[\\]/.exec(name);
  if (bad) return `it contains '${bad[0]}'`;
  if (name.includes('@{')) return "it contains '@{'";
  if (name.endsWith('.')) return "it ends with '.'";
  if (name === 'latest') return "'latest' is reserved (it names the newest snapshot)";
  if (/^[0-9a-f]+$/i.test(name)) return 'it is all hex digits, so it could be taken for a snapshot id prefix';
  for (const part of name.split('/')) {
    if (part === '') return "it has an empty '/'-separated component (leading, trailing or doubled '/')";
    if (part.startsWith('.')) return "a component starts with '.'";
    if (part.endsWith('.lock')) return "a component ends with '.lock'";
  }
  return null;
}

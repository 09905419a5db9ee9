/**
 * JSON text that holds no character a terminal may act on. JSON.stringify escapes C0 controls in strings but
 * leaves DEL, the C1 controls (U+0080–U+009F, CSI among them), the line and paragraph separators and the bidi
 * controls raw. Outside strings JSON text holds none of them, so escaping them as `\uXXXX` is exact: the text
 * parses back to the same value. Used for `--json` output and for the log lines on stderr.
 */
const JSON_UNSAFE = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** `text` (JSON text) with the characters above escaped. */
export function escapeJsonUnsafe(text: string): string {
  return text.replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value as JSON text that parses back to exactly the value and holds no control character raw. */
export function jsonText(data: unknown, indent?: number): string {
  return escapeJsonUnsafe(JSON.stringify(data, null, indent));
}

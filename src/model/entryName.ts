/**
 * Linux file names are bytes. A tree entry keeps the name as a UTF-8 string
 * when the bytes are valid UTF-8, and adds `rawName` (base64 of the bytes)
 * when they are not, so every name round-trips exactly.
 */
import { UnsafePathError } from '../errors.js';

export interface NamedEntry {
  name: string;
  rawName?: string;
}

/** The exact bytes of an entry's name. */
export function nameBytes(entry: NamedEntry): Buffer {
  return entry.rawName !== undefined ? Buffer.from(entry.rawName, 'base64') : Buffer.from(entry.name, 'utf8');
}

/** Splits raw name bytes into the stored fields. */
export function nameFields(bytes: Buffer): NamedEntry {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return { name: bytes.toString('latin1') };
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes)) return { name: text };
  return { name: text, rawName: bytes.toString('base64') };
}

/** Whether `bytes` is a single safe path component: not empty, not "." or "..", no "/" and no NUL. */
export function isSafeName(bytes: Buffer): boolean {
  return !(
    bytes.length === 0 ||
    bytes.includes(0x2f) || // '/'
    bytes.includes(0x00) ||
    (bytes.length === 1 && bytes[0] === 0x2e) ||
    (bytes.length === 2 && bytes[0] === 0x2e && bytes[1] === 0x2e)
  );
}

/** Throws unless `bytes` is a single safe path component. */
export function assertSafeName(bytes: Buffer, context: string): void {
  if (!isSafeName(bytes)) {
    throw new UnsafePathError(`unsafe entry name ${JSON.stringify(bytes.toString('utf8'))} in ${context}`, {
      hint: 'the snapshot was crafted or damaged; it is refused',
    });
  }
}

/**
 * Whether `bytes` is a safe relative path: '/'-separated safe components
 * (so not empty, not absolute, no empty, "." or ".." component, no NUL).
 */
export function isSafeRelativePath(bytes: Buffer): boolean {
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x2f, start);
    if (!isSafeName(bytes.subarray(start, end === -1 ? bytes.length : end))) return false;
    if (end === -1) return true;
    start = end + 1;
  }
}

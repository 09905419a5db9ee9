/**
 * Cheap checks of the values trees and manifests hold, run by decodeTree for
 * every entry of every tree read (tens of thousands per command): typeof
 * tests, integer arithmetic and character loops, never a regex or an
 * allocation.
 * - ns time: nanoseconds since the epoch as a decimal string (an optional
 *   '-', then digits) within a signed 64-bit integer, so 1677-09-21 to
 *   2262-04-11; what restore (futimes), ls (a Date) and the stat comparisons
 *   (BigInt) all take.
 */

const NS_MAX = '9223372036854775807'; // 2^63 - 1
const NS_MIN_ABS = '9223372036854775808'; // -(2^63)

/** A decimal integer string within a signed 64-bit nanosecond count. */
export function isNsTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const neg = value.charCodeAt(0) === 45; // '-'
  const start = neg ? 1 : 0;
  const digits = value.length - start;
  if (digits < 1 || digits > 19) return false;
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  // Same length, digits only: string order is numeric order.
  return digits < 19 || (neg ? value.slice(1) <= NS_MIN_ABS : value <= NS_MAX);
}

/** A whole number from 0 to 2^53 - 1 (a size or a count). */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Permission bits: a whole number from 0 to 0o7777 (what every writer stores: `st.mode & 0o7777`). */
export function isPermissionMode(value: unknown): value is number {
  return typeof value === 'number' && (value & 0o7777) === value;
}

/** A uid or gid: a whole number from 0 to 2^32 - 1. */
export function isOwnerId(value: unknown): value is number {
  return typeof value === 'number' && value >>> 0 === value;
}

/** An inode number: a whole number ≥ 0 (stored as Number(ino), so above 2^53 it may be rounded, but stays whole). */
export function isInodeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A bad value as a short text for an error message (never a whole crafted string). */
export function describeValue(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'an array' : 'an object') : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

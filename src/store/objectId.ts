/** Object ids: the lower-case hex SHA-256 of an object's uncompressed content. */
import { HEX64 } from '../util/hash.js';

declare const objectIdBrand: unique symbol;
/** A 64-hex SHA-256 naming one stored object. */
export type ObjectId = string & { readonly [objectIdBrand]: true };

export function isObjectId(value: unknown): value is ObjectId {
  if (typeof value !== 'string' || value.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false; // 0-9, a-f
  }
  return true;
}

export function asObjectId(value: string): ObjectId {
  if (!HEX64.test(value)) throw new TypeError(`not an object id: ${value}`);
  return value as ObjectId;
}

/** The short form shown to people (never stored). */
export function shortId(id: string, length = 8): string {
  return id.slice(0, length);
}

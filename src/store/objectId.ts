/** Object ids: the lower-case hex SHA-256 of an object's uncompressed content. */
import { HEX64 } from '../util/hash.js';

declare const objectIdBrand: unique symbol;
/** A 64-hex SHA-256 naming one stored object. */
export type ObjectId = string & { readonly [objectIdBrand]: true };

export function isObjectId(value: unknown): value is ObjectId {
  return typeof value === 'string' && HEX64.test(value);
}

export function asObjectId(value: string): ObjectId {
  if (!HEX64.test(value)) throw new TypeError(`not an object id: ${value}`);
  return value as ObjectId;
}

/** The short form shown to people (never stored). */
export function shortId(id: string, length = 8): string {
  return id.slice(0, length);
}

/**
 * A file entry's content, chunk by chunk: an inline file's from its tree
 * (checked against its one chunk id, as an object is checked against its
 * name), any other file's from the object store.
 */
import { IntegrityError } from '../errors.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';
import { inlineBytes, isInline, type TreeEntry } from './tree.js';
import { quoteName } from '../util/quoteName.js';

/** An inline file's content, checked against its chunk id; undefined for a file whose chunks are objects. */
export function verifiedInline(e: TreeEntry): Buffer | undefined {
  const data = inlineBytes(e);
  if (data === undefined) return undefined;
  const id = e.chunks?.[0];
  if (e.chunks?.length !== 1 || sha256Hex(data) !== id) {
    throw new IntegrityError(`the inline content of ${quoteName(e.name)} does not match its chunk id ${String(id)}`, { details: { object: id } });
  }
  return data;
}

/** One chunk of file `e` (one of e.chunks), on the calling thread. */
export function fileChunkSync(store: { getSync(id: ObjectId): Buffer }, e: TreeEntry, id: ObjectId): Buffer {
  return isInline(e) ? verifiedInline(e)! : store.getSync(id);
}

/** One chunk of file `e` (one of e.chunks). */
export async function fileChunk(store: { get(id: ObjectId): Promise<Buffer> }, e: TreeEntry, id: ObjectId): Promise<Buffer> {
  return isInline(e) ? verifiedInline(e)! : store.get(id);
}

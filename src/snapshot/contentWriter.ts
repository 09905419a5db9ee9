/**
 * Stores one file's content: chunk it, hash and compress the chunks (on the
 * thread pool, several in flight), put them in the store. Bounded memory:
 * one chunking buffer plus at most `inflight` chunks.
 */
import { chunkStream, type ReadInto } from '../chunk/chunkStream.js';
import type { ChunkerParams } from '../chunk/chunkerParams.js';
import type { ObjectId } from '../store/objectId.js';
import type { ObjectWriter } from '../store/objectStore.js';
import { sha256HexAsync } from '../util/hashAsync.js';

export interface ContentResult {
  chunks: ObjectId[];
  size: number;
  newObjects: number;
  newBytes: number;
}

export async function storeBuffer(store: ObjectWriter, data: Buffer): Promise<ContentResult> {
  if (data.length === 0) return { chunks: [], size: 0, newObjects: 0, newBytes: 0 };
  const id = (await sha256HexAsync(data)) as ObjectId;
  const r = await store.put(data, id);
  return { chunks: [id], size: data.length, newObjects: r.written ? 1 : 0, newBytes: r.storedBytes };
}

export async function storeStream(store: ObjectWriter, read: ReadInto, params: ChunkerParams, inflight = 4): Promise<ContentResult> {
  const chunks: ObjectId[] = [];
  const pending: Array<Promise<void>> = [];
  let newObjects = 0;
  let newBytes = 0;
  let failure: unknown;
  const size = await chunkStream(read, params, async (chunk) => {
    if (failure) throw failure;
    const index = chunks.length;
    chunks.push('' as ObjectId);
    const p = (async () => {
      const id = (await sha256HexAsync(chunk)) as ObjectId;
      const r = await store.put(chunk, id);
      chunks[index] = id;
      if (r.written) {
        newObjects++;
        newBytes += r.storedBytes;
      }
    })().catch((err: unknown) => {
      failure ??= err;
    });
    pending.push(p);
    if (pending.length >= inflight) await pending.shift();
  });
  await Promise.all(pending);
  if (failure) throw failure;
  return { chunks, size, newObjects, newBytes };
}

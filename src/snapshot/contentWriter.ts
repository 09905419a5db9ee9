/**
 * Stores one file's content: chunk it, hash each chunk on this thread, and
 * put it in the store: small chunks synchronously, large ones with their
 * write (and deflate) on the thread pool, several in flight. Bounded memory:
 * one chunking buffer plus at most `inflight` chunks.
 */
import { chunkStream, type ReadInto } from '../chunk/chunkStream.js';
import type { ChunkerParams } from '../chunk/chunkerParams.js';
import type { Compression } from '../store/objectCodec.js';
import type { ObjectId } from '../store/objectId.js';
import type { ObjectWriter, SyncObjectWriter } from '../store/objectStore.js';
import { sha256Hex } from '../util/hash.js';
import { sha256HexAsync } from '../util/hashAsync.js';

/**
 * Chunks up to this size are hashed and stored synchronously when the store
 * can (putSync): for small chunks (a database's page-aligned ones) a
 * thread-pool round trip per hash and per system call costs more than the work.
 */
const SYNC_CHUNK = 64 * 1024;

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

export interface StoreStreamOptions {
  /** Codec for the new objects, instead of the store's (a changed file's: the repository's changeCompression). */
  compression?: Compression;
  /** Large chunks being stored at once (each is compressed and written while the next ones are cut). */
  inflight?: number;
}

export async function storeStream(store: ObjectWriter | SyncObjectWriter, read: ReadInto, params: ChunkerParams, options: StoreStreamOptions = {}): Promise<ContentResult> {
  const inflight = options.inflight ?? 4;
  const compression = options.compression;
  const chunks: ObjectId[] = [];
  const pending: Array<Promise<void>> = [];
  let newObjects = 0;
  let newBytes = 0;
  let failure: unknown;
  const sync = 'putSync' in store ? store : undefined;
  const track = (p: Promise<void>) => {
    pending.push(
      p.catch((err: unknown) => {
        failure ??= err;
      }),
    );
    return pending.length >= inflight ? pending.shift() : undefined;
  };
  const size = await chunkStream(read, params, async (view) => {
    if (failure) throw failure;
    if (sync && view.length <= SYNC_CHUNK) {
      // Stored before this returns: the view into the chunker's buffer is all it needs.
      const id = sha256Hex(view) as ObjectId;
      const r = sync.putSync(view, id, compression);
      chunks.push(id);
      if (r.written) {
        newObjects++;
        newBytes += r.storedBytes;
      }
      if (sync.needsFlush) await sync.flush({ wait: false });
      return;
    }
    // Stored after this returns, while the next chunks are cut: a copy of its own. Hashed here: WebCrypto's
    // digest on the thread pool copies its input and cost the main thread more than hashing (docs/performance.md).
    const chunk = Buffer.from(view);
    const id = sha256Hex(chunk) as ObjectId;
    chunks.push(id);
    await track(
      (async () => {
        const r = await store.put(chunk, id, compression);
        if (r.written) {
          newObjects++;
          newBytes += r.storedBytes;
        }
      })(),
    );
  });
  await Promise.all(pending);
  if (failure) throw failure;
  // A trimmed copy: the list grew by push (spare capacity), and the entry keeps it for as long as its tree is cached.
  return { chunks: chunks.slice(), size, newObjects, newBytes };
}

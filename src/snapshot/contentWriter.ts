/**
 * Stores one file's content: chunk it, hash each chunk on this thread, and
 * put it in the store: small chunks synchronously, large ones too unless
 * they are deflated (then copied, and deflated and written on the thread
 * pool, several in flight). Bounded memory: one chunking buffer (the
 * caller's, when it lends one) plus at most `inflight` chunks. A large file's large
 * chunks (options.parallel) are hashed here in a shared chunking buffer, and
 * the new ones compressed and written by the store's staging worker straight
 * from it while this thread cuts and hashes the next ones.
 */
import { chunkStream, type ReadInto } from '../chunk/chunkStream.js';
import { maxChunk, type ChunkerParams } from '../chunk/chunkerParams.js';
import { sharedScanBuffer } from '../chunk/gearScan.js';
import type { Compression } from '../store/objectCodec.js';
import type { ObjectId } from '../store/objectId.js';
import type { ObjectWriter, PutResult, SharedChunkSink, SyncObjectWriter } from '../store/objectStore.js';
import { sha256Hex } from '../util/hash.js';
import { sha256HexAsync } from '../util/hashAsync.js';

/**
 * Chunks up to this size are hashed and stored synchronously when the store
 * can (putSync): for small chunks (a database's page-aligned ones) a
 * thread-pool round trip per hash and per system call costs more than the work.
 */
const SYNC_CHUNK = 64 * 1024;
/**
 * Chunks of a big file are hashed by the staging worker while it has fewer than this many queued, else here (see
 * storeStream). The main thread cuts (~0.9 s per GiB) and hashes (~1.1 s), the worker compresses (~1.2 s) and
 * writes (~0.5 s): sharing the hashing evens the two out (docs/performance.md: 2 and 3 measured, 3 kept).
 */
const STAGER_HASHES_BELOW = 3;

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
  /**
   * Large enough to be worth a second thread (the caller knows the size): new large chunks are compressed and
   * written by the store's staging worker while this thread reads, cuts and hashes the next ones, when the
   * store has one (SyncObjectWriter.sharedSink).
   */
  parallel?: boolean;
  /**
   * A chunking buffer lent by the caller (at least twice the largest chunk; a smaller one is not used), to cut in
   * instead of one allocated per call, when no shared buffer is used (not `parallel`). No chunk of it outlives
   * `onChunk`: chunks are stored synchronously (putSync) or copied first, so the caller may lend it again as soon
   * as this settles.
   */
  buffer?: Buffer;
}

/** Files from this size are stored with the staging worker (its start costs ~30 ms; a 16 MiB file takes ~100 ms). */
export const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

/**
 * The chunks of a shared chunking buffer handed to the staging worker and not yet done, by their place in that
 * buffer: chunkStream's beforeReuse names the part it is about to overwrite in the buffer's positions, and a chunk
 * is a view whose byteOffset counts from the start of its memory, which the buffer need not begin
 * (gearScan.ts sharedScanBuffer).
 */
export class StagedChunks {
  private staged: Array<{ offset: number; end: number; done: Promise<void> }> = [];

  constructor(private readonly buffer: Buffer) {}

  /** Chunk `view` (of the buffer) is in use until `done` settles. */
  add(view: Buffer, done: Promise<void>): void {
    if (view.buffer !== this.buffer.buffer) throw new Error('storeStream: a chunk outside the shared chunking buffer');
    const offset = view.byteOffset - this.buffer.byteOffset;
    this.staged.push({ offset, end: offset + view.length, done });
  }

  /** Waits for every chunk with a byte in [from, to) of the buffer, including one that runs into it from before. */
  async drain(from: number, to: number): Promise<void> {
    const overlaps = (s: { offset: number; end: number }) => s.offset < to && s.end > from;
    await Promise.all(this.staged.filter(overlaps).map((s) => s.done));
    this.staged = this.staged.filter((s) => !overlaps(s));
  }

  /** Waits for every chunk added (settled, not necessarily fulfilled: the caller keeps the failures). */
  async settled(): Promise<void> {
    await Promise.all(this.staged.map((s) => s.done));
  }
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
  const count = (r: PutResult) => {
    if (r.written) {
      newObjects++;
      newBytes += r.storedBytes;
    }
  };
  // A shared buffer for the staging worker, of four of the largest chunks: chunkStream cuts in one half while
  // the worker may still be reading chunks of the other, and waits (drain) only for those before reusing it.
  let shared: Buffer | undefined;
  let sink: SharedChunkSink | undefined;
  // Only for chunkers that cut large chunks: a database's page chunks are stored synchronously anyway, and a
  // buffer of four 8 KiB pages would mean a read per 16 KiB.
  if (options.parallel && sync?.sharedSink && maxChunk(params) > SYNC_CHUNK) {
    const buffer = sharedScanBuffer(maxChunk(params) * 4);
    sink = sync.sharedSink(buffer.buffer as SharedArrayBuffer);
    if (sink) shared = buffer;
  }
  // Large chunks are stored synchronously too when no worker takes them, unless they are deflated: deflate runs
  // on the thread pool (~100 ms for 9 MiB at level 1), overlapping the cutting, and needs a copy of its own then.
  const codec = compression ?? sync?.defaultCompression;
  const largeSync = sync !== undefined && !sink && (codec === 'snappy' || codec === 'none');
  const staged = new StagedChunks(shared ?? Buffer.alloc(0));
  /** Chunks on the staging worker (see sink below). */
  let onStager = 0;
  const hashedHere = (view: Buffer): Promise<PutResult> => {
    const id = sha256Hex(view) as ObjectId;
    chunks.push(id);
    return sink!.put(view.byteOffset, view.length, id, compression);
  };
  const hashedThere = async (view: Buffer): Promise<PutResult> => {
    const slot = chunks.push('' as ObjectId) - 1;
    const r = await sink!.putUnhashed(view.byteOffset, view.length, compression);
    chunks[slot] = r.id;
    return r;
  };
  const drain = async (from: number, to: number) => {
    // Every chunk with a byte in [from, to), including one that began in the other half and runs into this one.
    await staged.drain(from, to);
    if (failure) throw failure;
  };
  try {
    const size = await chunkStream(
      read,
      params,
      async (view) => {
        if (failure) throw failure;
        if (sync?.needsFlush) await sync.flush({ wait: false });
        if (sync && (view.length <= SYNC_CHUNK || largeSync)) {
          // Stored before this returns: the view into the chunker's buffer is all it needs. Large chunks too
          // (largeSync): a copy of each, written on the thread pool while the next were cut, left ~10 MiB more
          // garbage (buffers outside V8's heap) in the tree's first snapshot, for no speed.
          const id = sha256Hex(view) as ObjectId;
          count(sync.putSync(view, id, compression));
          chunks.push(id);
          return;
        }
        if (sink) {
          // Compressed and written by the worker from the shared buffer; chunkStream waits (drain) for it before
          // it reuses that part of the buffer. Hashed here while the worker has chunks queued, else by the worker
          // (this thread cuts and hashes, the worker compresses and writes: whichever falls behind, the other
          // takes the hashing), its id filled in when it answers.
          const done = (onStager >= STAGER_HASHES_BELOW ? hashedHere(view) : hashedThere(view)).then(
            (r) => {
              onStager--;
              count(r);
            },
            (err: unknown) => {
              onStager--;
              failure ??= err;
            },
          );
          onStager++;
          staged.add(view, done);
          return;
        }
        // Stored after this returns, while the next chunks are cut: a copy of its own. Hashed here: WebCrypto's
        // digest on the thread pool copies its input and cost the main thread more than hashing (docs/performance.md).
        const chunk = Buffer.from(view);
        const id = sha256Hex(chunk) as ObjectId;
        chunks.push(id);
        await track(store.put(chunk, id, compression).then(count));
      },
      shared ? { buffer: shared, beforeReuse: drain } : options.buffer && options.buffer.length >= maxChunk(params) * 2 ? { buffer: options.buffer } : {},
    );
    await Promise.all([...pending, staged.settled()]);
    if (failure) throw failure;
    // A trimmed copy: the list grew by push (spare capacity), and the entry keeps it for as long as its tree is cached.
    return { chunks: chunks.slice(), size, newObjects, newBytes };
  } finally {
    // Every chunk handed over has settled (or chunkStream failed before handing over more): the worker may forget the buffer.
    if (sink) {
      await staged.settled();
      sink.release();
    }
  }
}

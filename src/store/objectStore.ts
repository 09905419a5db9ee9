/**
 * Object store glossary
 * - object: an immutable blob named by the SHA-256 of its uncompressed content.
 * - stored form: codec byte + payload (see objectCodec.ts).
 * - batch: objects written since the last flush. They sit as temp files in
 *   tmp/ until flush() makes them durable with one file-system sync, renames
 *   them into objects/ab/cd/<id>, and syncs again. A crash before a flush
 *   leaves only temp files, never a half-written object under its final name.
 */
import type { Compression } from './objectCodec.js';
import type { ObjectId } from './objectId.js';

export interface PutResult {
  id: ObjectId;
  /** false when the object already existed (nothing written). */
  written: boolean;
  /** bytes of the stored form written (0 when not written). */
  storedBytes: number;
}

export interface ObjectReader {
  /** Reads, decodes and verifies an object; IntegrityError when missing or damaged. */
  get(id: ObjectId): Promise<Buffer>;
  has(id: ObjectId): Promise<boolean>;
  /** Size of the stored form, or undefined when missing. */
  storedSize(id: ObjectId): Promise<number | undefined>;
  /** Every object id in the store. */
  list(): AsyncIterable<ObjectId>;
}

export interface ObjectWriter extends ObjectReader {
  /**
   * Stores `content` unless it is already there. `compression` overrides the
   * store's codec for this object (a changed file's objects: see the
   * repository config's changeCompression); the id never depends on it.
   */
  put(content: Buffer, knownId?: ObjectId, compression?: Compression): Promise<PutResult>;
  /**
   * Makes every object put so far durable under its final name. With
   * `wait: false` the pending batch is only handed over (to be made durable
   * while the caller goes on, after the batches handed over before it); a
   * later flush() still waits for all.
   */
  flush(options?: { wait?: boolean }): Promise<void>;
  delete(id: ObjectId): Promise<void>;
}

/**
 * Reads groups of objects on another thread (see ParallelReader): the contents of `ids`, read, decoded and
 * verified, concatenated in order; undefined when that thread could not, and the caller must read them itself.
 */
export interface ObjectGroupReader {
  read(ids: readonly ObjectId[]): Promise<Buffer | undefined>;
  /** Gives a buffer read() returned back for reuse, once the caller no longer needs it (it may be emptied). */
  release?(content: Buffer): void;
}

/** A writer that can also store small objects synchronously (the snapshot walk's hot path). */
export interface SyncObjectWriter extends ObjectWriter {
  putSync(content: Buffer, id: ObjectId, compression?: Compression): PutResult;
  /** True when the pending batch is full and flush() should run at the next await point. */
  readonly needsFlush: boolean;
  /** The codec of objects put without one (when known). */
  readonly defaultCompression?: Compression;
  /**
   * Stores chunks of `shared` with another thread compressing and writing them, or undefined when this
   * writer cannot. Release the sink when done with the buffer.
   */
  sharedSink?(shared: SharedArrayBuffer): SharedChunkSink | undefined;
}

/** Chunks of one shared buffer, compressed and written by another thread: see SyncObjectWriter.sharedSink. */
export interface SharedChunkSink {
  /**
   * Stores bytes [offset, offset + length) of the buffer, whose SHA-256 is `id`, unless the object is stored
   * (or being stored) already; the bytes must not change until this settles.
   */
  put(offset: number, length: number, id: ObjectId, compression?: Compression): Promise<PutResult>;
  /**
   * Stores bytes [offset, offset + length) of the buffer unless the object is stored already, hashed by the
   * other thread (so that hashing, too, is shared between the threads); resolves with its id. The bytes must
   * not change until this settles.
   */
  putUnhashed(offset: number, length: number, compression?: Compression): Promise<PutResult>;
  release(): void;
}

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { describeError, IntegrityError, IoError, isErrno } from '../errors.js';
import { fsyncPathSync, tempName } from '../util/durableFs.js';
import { faultPointSync } from '../util/faults.js';
import { sha256Hex } from '../util/hash.js';
import { sha256HexAsync } from '../util/hashAsync.js';
import { collectYoungGarbage } from '../util/youngGarbage.js';
import { checkOldGenerationSlack } from '../util/oldGenerationSlack.js';
import { limitYoungGeneration } from '../util/youngGenerationLimit.js';
import { removeEmptyShardDirs, renameIntoShard, shardDirsToSync } from './batchDurable.js';
import { BatchFlusher, batchFlusherScript } from './batchFlusher.js';
import { CODEC_BYTES, decodeObject, decodeObjectTransient, encodeObject, encodeObjectParts, type Compression } from './objectCodec.js';
import { SnappyDecoder } from './snappyDecoder.js';
import { isObjectId, type ObjectId } from './objectId.js';
import { ObjectFileReader, readObjectFileAsync } from './objectFileReader.js';
import { objectPath, objectShardDir } from './objectPath.js';
import type { ObjectGroupReader, PutResult, SharedChunkSink, SyncObjectWriter } from './objectStore.js';
import { ParallelReader, parallelReaderScript } from './parallelReader.js';
import { ParallelStager, parallelStagerScript, type Staged } from './parallelStager.js';
import { writeStagedFileSync } from './stagedFile.js';

export interface FsObjectStoreOptions {
  /** Directory for temp files: must be on the same file system as objectsRoot. */
  tempDir: string;
  /** What new objects are compressed with. */
  compression: Compression;
  /** Flush automatically when this many bytes are pending (bounds tmp usage). */
  flushBytes?: number;
  /** Flush automatically when this many objects are pending (default FLUSH_COUNT). */
  flushCount?: number;
  /** The staging worker's entry file for sharedSink(), or false for none; found beside the code when absent. */
  stagerScript?: string | false;
  /** The reading worker's entry file for groupReader(), or false for none; found beside the code when absent. */
  readerScript?: string | false;
  /**
   * The flush worker's entry file, or false for none (batches made durable on this thread, temp files written
   * here); found beside the code when absent.
   */
  flusherScript?: string | false;
}

function readError(id: ObjectId, err: unknown): Error {
  if (isErrno(err, 'ENOENT')) {
    return new IntegrityError(`object ${id} is missing from the store`, {
      hint: 'run `cairn verify` to see which snapshots are affected',
      details: { object: id },
    });
  }
  return new IoError(`cannot read object ${id}: ${(err as Error).message}`, { cause: err, details: { object: id } });
}

/** A failed object write (`id` undefined: a chunk the worker failed to hash); a full disk says what to do. */
function writeError(id: ObjectId | undefined, err: unknown): IoError {
  const full = isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT');
  return new IoError(`cannot write ${id ? `object ${id}` : 'a new object'}: ${describeError(err)}`, {
    cause: err,
    details: id ? { object: id } : {},
    ...(full ? { hint: 'the repository\'s disk is full: free some space and run the command again; no snapshot was saved' } : {}),
  });
}

function verifyContent(id: ObjectId, actual: string): void {
  if (actual !== id) {
    throw new IntegrityError(`object ${id} is corrupted (its content hashes to ${actual.slice(0, 12)}…)`, {
      hint: 'run `cairn verify` to see which snapshots are affected',
      details: { object: id, actual },
    });
  }
}

/**
 * putSync runs a minor garbage collection after this many bytes of content stored. The first snapshot of the
 * 538 MB benchmark database (65,750 objects of 8 KiB) peaked at 197-237 MiB RSS without it and 137-157 MiB with it
 * (and snappy's output copied: objectCodec.ts), 5 interleaved pairs; a 36k-file tree at 222-231 vs 241-263 MiB.
 * It also stops the young generation growing past its limit (youngGenerationLimit.ts) and collects the old
 * generation when it has grown by its slack (oldGenerationSlack.ts).
 */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Object files read on the calling thread (getSync): into one reused buffer, grown for objects up to 1 MiB (a small
 * file's objects, trees, most chunks of large files).
 */
const files = new ObjectFileReader(16 * 1024, 1024 * 1024);

/** `content` as a buffer of its own when it is a view into the reused read buffer (a raw object's payload, up to 1 MiB). */
function ownedContent(content: Buffer): Buffer {
  return files.holds(content) || SnappyDecoder.get()?.holds(content) ? Buffer.from(content) : content;
}

/** The content of `stored`, decoded and checked against `id`: possibly a view that the next decode on this thread overwrites. */
function verifiedContent(id: ObjectId, stored: Buffer): Buffer {
  const content = decodeObjectTransient(stored, `object ${id}`);
  verifyContent(id, sha256Hex(content));
  return content;
}

/** Bits of FsObjectStore.putBits: one per value of an id's first 22 bits (its first 5.5 hex digits). */
const PUT_BITS = 1 << 22;

/** The first 22 bits of an id, as a number. */
function putKey(id: ObjectId): number {
  return Number.parseInt(id.slice(0, 6), 16) >>> 2;
}

/**
 * Objects per batch, by default: a batch's records (`{ tmp, id }`, ~190 bytes each) are held on this thread and on
 * the flush worker until it is in place, and two batches may be in flight. 8,192 since the twentieth session
 * instead of 16,384: first snapshots of 200k small files peaked at 134-140 MiB RSS instead of 151-155 (6
 * interleaved rounds), of 100k at 133-134 instead of 131-150, of the db at 137-142 instead of 145-147; the wall
 * time within the noise (the walk's waits for a batch's turn longer, the last batch's `sync -f` shorter), the tree's
 * first snapshot (21k objects) unchanged (docs/performance.md).
 */
const FLUSH_COUNT = 8_192;

/** Batches of up to this many objects are made durable with an fsync per file instead of syncfs. */
const SMALL_BATCH = 32;
/** Large batches sent to the flush worker and not yet answered, at most (see flushBatch). */
const BATCHES_IN_FLIGHT = 2;
/**
 * After this many small objects written by putSync, the next ones' temp files are created and written by the
 * flush worker (deferWrite), sent in groups of SEND_TEMPS_COUNT objects or SEND_TEMPS_BYTES of stored forms: in a
 * first snapshot of many small files, creating a temp file cost the main thread ~20 µs, ~0.45 s for the 36k-file
 * tree. Below it (a small change), the worker is not started for them. (Their compression on the worker too gave
 * no wall time on the 2-core benchmark machine and +8 MiB of peak RSS: docs/performance.md.)
 */
const DEFER_AFTER = 256;
const SEND_TEMPS_COUNT = 128;
const SEND_TEMPS_BYTES = 512 * 1024;
/** Shared buffers for deferred temp files at most: what can be in flight to the worker (see deferWrite). */
const SEND_BUFFERS = 8;

/** Stored objects up to this size are read with synchronous calls (trees, small files' blobs). */
const SYNC_READ = 256 * 1024;

/**
 * Reads a whole object file. Small ones synchronously: open, fstat, read and
 * close each cost less than one promise round trip through the thread pool,
 * and loading the base trees of a no-change snapshot or restoring many small
 * files is made of little else. Bigger ones read on the thread pool.
 * Objects are immutable; a file shorter than fstat said is returned short
 * and fails verification.
 */
async function readStored(p: string): Promise<Buffer> {
  const fd = fs.openSync(p, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const got =
        size <= SYNC_READ
          ? fs.readSync(fd, buf, n, size - n, null)
          : await new Promise<number>((resolve, reject) => fs.read(fd, buf, n, size - n, null, (err, r) => (err ? reject(err) : resolve(r))));
      if (got === 0) break;
      n += got;
    }
    return n === size ? buf : buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

interface Pending {
  tmp: string;
  id: ObjectId;
}

/** A group of deferred temp files sent to the flush worker (see FsObjectStore.sentGroups). */
interface SentGroup {
  shared: SharedArrayBuffer;
  tmps: string[];
  /** Set to 1 by the worker when every temp file of the group is written. */
  written: Int32Array;
}

/** The object store on a local file system, sharded as objects/ab/cd/<id>. */
export class FsObjectStore implements SyncObjectWriter {
  private pending: Pending[] = [];
  /** id → temp file, for objects put but not yet flushed. */
  private pendingIds = new Map<string, string>();
  private pendingBytes = 0;
  /** Shard directories whose names flushSmallBatch has made durable (see shardDirsToSync). */
  private readonly syncedDirs = new Set<string>();
  private flushing: Promise<void> | undefined;
  /** The batch being made durable on the flush worker, if any. */
  private inflight: Promise<void> | undefined;
  private flusher: BatchFlusher | undefined;
  /** The worker that writes chunks of shared buffers; null when there is no worker entry to start. */
  private stager: ParallelStager | null | undefined;
  /** Objects the staging worker is writing (not yet pending: their temp files are not complete). */
  private readonly staging = new Set<string>();
  /** The worker that reads groups of objects; null when there is no worker entry to start. */
  private reader: ParallelReader | null | undefined;
  /**
   * Small objects put with putSync whose temp files the flush worker has not written yet (see deferWrite): their
   * stored forms (views of a shared buffer) by temp file, read from here until written; those not yet sent, and
   * the sends in flight.
   */
  private readonly unwritten = new Map<string, { id: ObjectId; codec: number; payload: Buffer }>();
  private unsent: string[] = [];
  /** The shared buffer the unsent payloads are copied into (the worker reads them from it), and its fill. */
  private sendBuffer: Buffer | undefined;
  /** Shared buffers free for reuse, and how many were made (at most SEND_BUFFERS). */
  private readonly sendPool: SharedArrayBuffer[] = [];
  private sendBuffers = 0;
  /**
   * Groups sent and not yet taken back. The worker sets a group's `written` flag once all its temp files are
   * written, so that its buffer can be reused at once: its reply is seen only at a turn of the event loop, which a
   * synchronous walk of many small files takes seldom (the buffers then ran out and most temp files were again
   * created on this thread).
   */
  private readonly sentGroups = new Set<SentGroup>();
  private unsentBytes = 0;
  private readonly writing = new Set<Promise<void>>();
  /** The first failure of a deferred write, thrown by the next flush. */
  private writeFailure: Error | undefined;

  constructor(
    readonly root: string,
    private readonly options: FsObjectStoreOptions,
  ) {}

  pathOf(id: ObjectId): string {
    return objectPath(this.root, id);
  }

  /**
   * Reads an object from its temp file while it is pending, else from its
   * final path; a temp file the flush worker has just renamed is read at its
   * final path.
   */
  private readPending<T extends Buffer | Promise<Buffer>>(id: ObjectId, read: (p: string) => T): T {
    const tmp = this.pendingIds.get(id);
    if (tmp === undefined) return read(objectPath(this.root, id));
    const again = (err: unknown): T => {
      if (isErrno(err, 'ENOENT')) return read(objectPath(this.root, id));
      throw err;
    };
    try {
      const r = read(tmp);
      return (r instanceof Promise ? r.catch(again) : r) as T;
    } catch (err) {
      return again(err);
    }
  }

  async has(id: ObjectId): Promise<boolean> {
    if (this.pendingIds.has(id) || this.staging.has(id)) return true;
    try {
      await fsp.access(objectPath(this.root, id));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw new IoError(`cannot check object ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  async storedSize(id: ObjectId): Promise<number | undefined> {
    try {
      return (await fsp.stat(objectPath(this.root, id))).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async get(id: ObjectId): Promise<Buffer> {
    let stored: Buffer;
    try {
      stored = this.unwrittenForm(id) ?? (await this.readPending(id, readStored));
    } catch (err) {
      throw readError(id, err);
    }
    const content = await decodeObject(stored, `object ${id}`);
    verifyContent(id, await sha256HexAsync(content));
    return content;
  }

  /**
   * get() on the calling thread: for small objects (a small file's blob when
   * restoring), where thread-pool round trips cost more than the work.
   * Verifies like get().
   */
  getSync(id: ObjectId): Buffer {
    return this.useSync(id, ownedContent);
  }

  /**
   * getSync() for a caller that copies the content elsewhere at once: `use` gets the verified content, which may be
   * a view of a buffer the next read on this thread overwrites (the reused read buffer, the snappy decoder's
   * memory), and its result is returned. A database's restore copies tens of thousands of page objects into
   * ~1 MiB groups: a buffer of their own for each was an allocation and a copy more (docs/performance.md).
   */
  useSync<T>(id: ObjectId, use: (content: Buffer) => T): T {
    let content: Buffer;
    try {
      content = this.readVerifiedSync(id, false);
    } catch (err) {
      // A read that came back short without being at the end (a network file system) looks damaged: read it
      // again to the end before saying so.
      if (!(err instanceof IntegrityError) || !fs.existsSync(objectPath(this.root, id))) throw err;
      content = this.readVerifiedSync(id, true);
    }
    return use(content);
  }

  /**
   * getSync() with the object's file read on the thread pool (readObjectFileAsync), then decoded and verified on this
   * thread: for a caller that keeps several reads in flight (a large file's restore, see Materializer.readsAhead).
   * The content is a buffer of its own.
   */
  async getAhead(id: ObjectId): Promise<Buffer> {
    const verified = async (untilZero: boolean): Promise<Buffer> => {
      let stored: Buffer;
      try {
        stored = this.unwrittenForm(id) ?? (await this.readPending(id, (p) => readObjectFileAsync(p, untilZero)));
      } catch (err) {
        throw readError(id, err);
      }
      return ownedContent(verifiedContent(id, stored));
    };
    try {
      return await verified(false);
    } catch (err) {
      // As useSync: a short read not at the end (a network file system) is read again to the end before it is damage.
      if (!(err instanceof IntegrityError) || !fs.existsSync(objectPath(this.root, id))) throw err;
      return verified(true);
    }
  }

  /** The verified content, possibly a view the next read or decode on this thread overwrites (see useSync). */
  private readVerifiedSync(id: ObjectId, untilZero: boolean): Buffer {
    let stored: Buffer;
    try {
      stored = this.unwrittenForm(id) ?? this.readPending(id, (p) => files.read(p, untilZero));
    } catch (err) {
      throw readError(id, err);
    }
    return verifiedContent(id, stored);
  }

  async put(content: Buffer, knownId?: ObjectId, compression?: Compression): Promise<PutResult> {
    const id = knownId ?? ((await sha256HexAsync(content)) as ObjectId);
    if (await this.has(id)) return { id, written: false, storedBytes: 0 };
    const stored = await encodeObject(content, compression ?? this.options.compression);
    // Checked again: another put of the same content may have finished meanwhile.
    if (this.pendingIds.has(id)) return { id, written: false, storedBytes: 0 };
    const tmp = tempName(this.options.tempDir, 'obj');
    this.touch(id);
    this.pendingIds.set(id, tmp);
    try {
      await fsp.writeFile(tmp, stored, { flag: 'wx' });
    } catch (err) {
      this.pendingIds.delete(id);
      await fsp.rm(tmp, { force: true });
      throw writeError(id, err);
    }
    this.pending.push({ tmp, id });
    this.pendingBytes += stored.length;
    if (
      this.pendingBytes >= (this.options.flushBytes ?? 512 * 1024 * 1024) ||
      this.pending.length >= (this.options.flushCount ?? FLUSH_COUNT)
    ) {
      await this.flush();
    }
    return { id, written: true, storedBytes: stored.length };
  }

  /**
   * Synchronous put of a small object (a small file, a tree): same staging and
   * durability as put(), without a thread-pool round trip per system call.
   */
  putSync(content: Buffer, id: ObjectId, compression?: Compression): PutResult {
    if (this.hasSync(id)) return { id, written: false, storedBytes: 0 };
    // The compressed forms of small objects are garbage once written: collected every few MiB (see youngGarbage.ts).
    this.sinceCollect += content.length;
    if (this.sinceCollect >= COLLECT_EVERY_BYTES) {
      this.sinceCollect = 0;
      collectYoungGarbage();
      limitYoungGeneration();
      checkOldGenerationSlack();
    }
    const { codec, payload } = encodeObjectParts(content, compression ?? this.options.compression);
    const tmp = tempName(this.options.tempDir, 'obj');
    try {
      if (this.syncWrites >= DEFER_AFTER && this.deferWrite(id, tmp, codec, payload, () => faultPointSync('object-write', ++this.syncWrites))) {
        this.tempWrites.deferred++;
      } else {
        writeStagedFileSync(tmp, codec, payload, () => faultPointSync('object-write', ++this.syncWrites));
        this.tempWrites.here++;
      }
    } catch (err) {
      throw writeError(id, err);
    }
    this.addPending(id, tmp, 1 + payload.length);
    return { id, written: true, storedBytes: 1 + payload.length };
  }

  /** The flush worker's client (made on first use). */
  private batchFlusher(): BatchFlusher {
    this.flusher ??= new BatchFlusher(this.options.flusherScript === false ? undefined : (this.options.flusherScript ?? batchFlusherScript()));
    return this.flusher;
  }

  /**
   * Leaves a small object's temp file to the flush worker: its stored form is kept here (and read from here) until
   * it is written, sent in groups of SEND_TEMPS_BYTES. The worker handles messages in order, so a batch flushed
   * after a group is sent finds its temp files written. False when there is no worker, no shared buffer free, or
   * the object is too large: the caller writes it.
   */
  private deferWrite(id: ObjectId, tmp: string, codec: number, payload: Buffer, beforeWrite: () => void): boolean {
    if (1 + payload.length > SEND_TEMPS_BYTES) return false; // a large tree: written here
    if (!this.batchFlusher().hasWorker) return false;
    if (this.sendBuffer && this.unsentBytes + 1 + payload.length > this.sendBuffer.length) this.sendTemps();
    if (!this.sendBuffer) {
      // One of a few shared buffers, reused: the worker frees one it has seen only when its heap is collected,
      // which is seldom. None free (the worker is busy with a batch): written here.
      if (this.sendPool.length === 0) this.takeBackWritten();
      let shared = this.sendPool.pop();
      if (!shared && this.sendBuffers < SEND_BUFFERS) {
        shared = new SharedArrayBuffer(SEND_TEMPS_BYTES);
        this.sendBuffers++;
      }
      if (!shared) return false;
      this.sendBuffer = Buffer.from(shared);
    }
    beforeWrite();
    // Copied into the shared buffer after its codec byte (a payload may be a view of a buffer the next put
    // reuses), where the worker writes it from; read from there, too, until the worker has written it.
    this.sendBuffer[this.unsentBytes] = codec;
    const copy = this.sendBuffer.subarray(this.unsentBytes + 1, this.unsentBytes + 1 + payload.length);
    payload.copy(copy);
    this.unwritten.set(tmp, { id, codec, payload: copy });
    this.unsent.push(tmp);
    this.unsentBytes += 1 + payload.length;
    if (this.unsent.length >= SEND_TEMPS_COUNT || this.unsentBytes >= SEND_TEMPS_BYTES) this.sendTemps();
    return true;
  }

  /** Sends the unsent temp files to the flush worker to write. */
  private sendTemps(): void {
    if (this.unsent.length === 0) return;
    const tmps = this.unsent;
    const shared = this.sendBuffer!.buffer as SharedArrayBuffer;
    this.unsent = [];
    this.sendBuffer = undefined;
    this.unsentBytes = 0;
    const temps = tmps.map((tmp) => {
      const u = this.unwritten.get(tmp)!;
      return { tmp, offset: u.payload.byteOffset - 1, length: 1 + u.payload.length, id: u.id };
    });
    const group: SentGroup = { shared, tmps, written: new Int32Array(new SharedArrayBuffer(4)) };
    this.sentGroups.add(group);
    const sent = this.batchFlusher().writeTemps(temps, this.root, shared, group.written).then(
      () => this.takeBack(group),
      (err: unknown) => {
        // Those before the failed one were written; it and those after it were not (their reads still come from
        // here, so the buffer is not reused, and abort() removes whatever exists).
        const index = (err as { index?: number }).index ?? 0;
        for (const tmp of tmps.slice(0, index)) this.unwritten.delete(tmp);
        this.writeFailure ??= writeError(this.unwritten.get(tmps[index]!)?.id, err);
      },
    );
    this.writing.add(sent);
    void sent.finally(() => this.writing.delete(sent));
  }

  /** A group whose temp files are all written: nothing reads its buffer any more (once only: flag, then reply). */
  private takeBack(group: SentGroup): void {
    if (!this.sentGroups.delete(group)) return;
    for (const tmp of group.tmps) this.unwritten.delete(tmp);
    this.sendPool.push(group.shared);
  }

  /** Takes back the groups the worker has flagged written, without waiting for its replies. */
  private takeBackWritten(): void {
    for (const group of this.sentGroups) if (Atomics.load(group.written, 0) === 1) this.takeBack(group);
  }

  /** Every deferred temp file written (sent first, if need be); throws the first write failure (or a flush does). */
  private async writeTemps(): Promise<void> {
    this.sendTemps();
    while (this.writing.size > 0) await Promise.all(this.writing);
    if (this.writeFailure) throw this.writeFailure;
  }

  /** An object's stored form while its temp file is not yet written, else undefined. */
  private unwrittenForm(id: ObjectId): Buffer | undefined {
    const tmp = this.pendingIds.get(id);
    const u = tmp === undefined ? undefined : this.unwritten.get(tmp);
    return u ? Buffer.concat([CODEC_BYTES[u.codec]!, u.payload]) : undefined;
  }

  /** Small objects' temp files putSync wrote on this thread, and those it left to the flush worker (deferWrite). */
  readonly tempWrites = { here: 0, deferred: 0 };

  /** Set by putSync when the batch is full; the writer calls flush() at its next await point. */
  needsFlush = false;
  /** The codec of objects put without one. */
  get defaultCompression(): Compression {
    return this.options.compression;
  }
  /** Objects putSync has written (the `object-write` fault point's count). */
  private syncWrites = 0;
  /** Content bytes putSync has stored since its last minor collection. */
  private sinceCollect = 0;

  private addPending(id: ObjectId, tmp: string, storedBytes: number): void {
    this.touch(id);
    this.pendingIds.set(id, tmp);
    this.pending.push({ tmp, id });
    this.pendingBytes += storedBytes;
    if (this.pending.length >= (this.options.flushCount ?? FLUSH_COUNT) || this.pendingBytes >= (this.options.flushBytes ?? 512 * 1024 * 1024)) {
      this.needsFlush = true;
    }
  }

  /**
   * Reads groups of objects on a worker thread (restoring a large file), or undefined when this build has no
   * worker entry. An object pending in this process's batch is not at its final path: the worker fails that
   * group and the caller reads it with getSync(), which finds it.
   */
  groupReader(): ObjectGroupReader | undefined {
    if (this.reader === undefined) {
      const script = this.options.readerScript ?? parallelReaderScript();
      this.reader = script ? new ParallelReader(script, this.root) : null;
    }
    return this.reader ?? undefined;
  }

  sharedSink(shared: SharedArrayBuffer): SharedChunkSink | undefined {
    if (this.stager === undefined) {
      const script = this.options.stagerScript ?? parallelStagerScript();
      this.stager = script ? new ParallelStager(script, this.root) : null;
    }
    const stager = this.stager;
    if (!stager) return undefined;
    const handle = stager.register(shared);
    return {
      put: async (offset, length, id, compression) => {
        // Checked and claimed before the first await, so a second chunk with the same id is not written twice.
        if (this.hasSync(id)) return { id, written: false, storedBytes: 0 };
        const tmp = tempName(this.options.tempDir, 'obj');
        this.staging.add(id);
        let storedBytes: number;
        try {
          storedBytes = (await stager.stage(handle, offset, length, compression ?? this.options.compression, tmp)).storedBytes;
        } catch (err) {
          throw writeError(id, err);
        } finally {
          this.staging.delete(id);
        }
        this.addPending(id, tmp, storedBytes);
        return { id, written: true, storedBytes };
      },
      putUnhashed: async (offset, length, compression) => {
        const tmp = tempName(this.options.tempDir, 'obj');
        let staged: Staged;
        try {
          staged = await stager.stage(handle, offset, length, compression ?? this.options.compression, tmp, true);
        } catch (err) {
          throw writeError((err as { objectId?: ObjectId }).objectId, err);
        }
        const id = staged.id as ObjectId;
        if (staged.exists) return { id, written: false, storedBytes: 0 };
        // Stored (or being stored) by this process meanwhile, under another chunk of the same bytes: this copy goes.
        if (this.hasSync(id)) {
          fs.rmSync(tmp, { force: true });
          return { id, written: false, storedBytes: 0 };
        }
        this.addPending(id, tmp, staged.storedBytes);
        return { id, written: true, storedBytes: staged.storedBytes };
      },
      release: () => stager.release(handle),
    };
  }

  async flush(options: { wait?: boolean } = {}): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length > 0) {
      this.flushing = this.flushBatch();
      try {
        await this.flushing;
      } finally {
        this.flushing = undefined;
      }
    }
    if (options.wait !== false) await this.inflight;
  }

  private async flushBatch(): Promise<void> {
    // Objects are durable in the order they were put. A large batch is sent at once, even while the previous one
    // is being made durable: the worker takes them in order and fails a batch sent after one that failed. (The
    // main thread had waited for the previous batch: at the end of the tree's first snapshot, ~0.5 s idle.) The
    // temp files the worker is to write are sent before the batch, so it writes them first.
    this.sendTemps();
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.needsFlush = false;
    if (batch.length <= SMALL_BATCH) {
      try {
        await this.inflight; // the batches before it first
        await this.writeTemps(); // synced here, by path: they must exist
        this.flushSmallBatch(batch);
      } catch (err) {
        this.failedBatch.push(...batch); // kept for abort(), which removes their temp files
        throw err;
      }
      return;
    }
    // At most BATCHES_IN_FLIGHT on the worker: a batch's records (paths, ids) stay on both threads until the worker
    // answers, and a synchronous walk reads no answer until it awaits. Unbounded, a first snapshot of 200k small
    // files still held 116k such records (~35 MB of strings) at the end of its walk.
    while (this.batches.size >= BATCHES_IN_FLIGHT) await Promise.race([...this.batches].map((b) => b.catch(() => undefined)));
    // The pending records themselves ({ tmp, id }): kept here until the batch settles anyway.
    const done = this.batchFlusher().flush(batch, this.options.tempDir, this.root).then(
      () => {
        for (const p of batch) if (this.pendingIds.get(p.id) === p.tmp) this.pendingIds.delete(p.id);
      },
      (err: unknown) => {
        // The batch stays pending (its temp files are removed by abort() or the next writer). A temp file the
        // worker failed to write (reported before the batch) is the cause to name.
        this.failedBatch.push(...batch);
        throw this.writeFailure ?? new IoError(`cannot store objects: ${describeError(err)}`, { cause: err });
      },
    );
    // Settles when this batch and every one before it are durable; rejects with the first failure.
    const previous = this.inflight;
    const all = previous ? Promise.all([previous, done]).then(() => undefined) : done;
    this.inflight = all;
    all.then(
      () => {
        if (this.inflight === all) this.inflight = undefined;
      },
      () => undefined, // reported to whoever awaits it
    );
    this.batches.add(done);
    done.then(
      () => this.batches.delete(done),
      () => this.batches.delete(done), // reported through `all`
    );
  }

  /** Large batches sent to the worker and not yet settled (abort() waits for every one). */
  private readonly batches = new Set<Promise<void>>();

  /** Batches whose move into place failed on the worker (kept for abort()). */
  private failedBatch: Pending[] = [];

  /**
   * A few objects (a manifest, the trees of a small change): an fsync per file
   * and per directory touched costs far less than starting `sync -f` twice
   * (a process each), which dominated a no-change snapshot.
   */
  private flushSmallBatch(batch: readonly Pending[]): void {
    for (const p of batch) fsyncPathSync(p.tmp);
    const dirs = new Set<string>();
    for (const p of batch) {
      const dir = objectShardDir(this.root, p.id);
      if (!this.syncedDirs.has(dir)) fs.mkdirSync(dir, { recursive: true });
      dirs.add(dir);
      if (renameIntoShard(p.tmp, objectPath(this.root, p.id), dir)) this.syncedDirs.delete(dir);
      this.pendingIds.delete(p.id);
    }
    // A directory that already existed may still be new and not durable: the flush worker makes the shard
    // directories of deferred objects early (their small batch can come here) and syncs nothing itself.
    for (const d of shardDirsToSync(this.root, dirs, this.syncedDirs)) fsyncPathSync(d);
    for (const d of dirs) this.syncedDirs.add(d);
  }

  /** Removes pending temp files (after a failure). */
  async abort(): Promise<void> {
    await this.inflight?.catch(() => undefined);
    await Promise.allSettled([...this.batches]); // a batch after a failed one fails too: its files are removed below
    this.inflight = undefined; // settled: the store can be used again
    this.flusher?.reset();
    // Temp files still being written are waited for, then removed with the rest; those never sent are not made.
    this.unsent = [];
    this.unsentBytes = 0;
    await Promise.all(this.writing);
    this.unwritten.clear();
    // Groups whose writes failed were never taken back: nothing reads their buffers now, so they are free again.
    for (const group of this.sentGroups) this.takeBack(group);
    this.writeFailure = undefined;
    const batch = [...this.pending, ...this.failedBatch];
    this.failedBatch = [];
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingIds.clear();
    await Promise.all(batch.map((p) => fsp.rm(p.tmp, { force: true })));
    // Their shard directories may have been made for them (the flush worker makes a group's at once, before its
    // batch): those left empty go too. A first snapshot that failed on a full disk left 2,887 empty directories
    // (a block each: 3 MB on a 1 KiB-block ext4) and the next one more.
    removeEmptyShardDirs(new Set(batch.map((p) => objectShardDir(this.root, p.id))));
  }

  async delete(id: ObjectId): Promise<void> {
    // unlink, not rm: one system call per object matters when prune deletes millions.
    try {
      await fsp.unlink(objectPath(this.root, id));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  /**
   * Shard directories that list() found empty: left by a write that failed before cairn removed them (abort), or
   * by a crash. Prune, which lists the store under the exclusive lock, removes them.
   */
  readonly emptyShardDirs = new Set<string>();

  async *list(): AsyncIterable<ObjectId> {
    let level1: string[];
    try {
      level1 = await fsp.readdir(this.root);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const a of level1.sort()) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      const level2 = await fsp.readdir(path.join(this.root, a)).catch(() => [] as string[]);
      for (const b of level2.sort()) {
        if (!/^[0-9a-f]{2}$/.test(b)) continue;
        const dir = path.join(this.root, a, b);
        const names = await fsp.readdir(dir).catch(() => undefined);
        if (names?.length === 0) this.emptyShardDirs.add(dir);
        for (const name of (names ?? []).sort()) if (isObjectId(name) && name.startsWith(a + b)) yield name;
      }
    }
  }

  /**
   * Synchronous existence check, for the write paths' hot loops that must not yield. An object under a first-level
   * shard directory (objects/<2 hex>) that did not exist when this store first looked is known absent without a
   * system call unless this store has put an object whose id begins with the same 22 bits (putBits): in a first
   * snapshot into a new repository that spares nearly every existence check. By second-level directory (`ab/cd`),
   * as before, ~15% of the tree's were still made (`existsSync` 104 ms of its first snapshot's main thread).
   * An object another process stores there meanwhile is then stored again, the same bytes under the same name.
   */
  hasSync(id: ObjectId): boolean {
    if (this.pendingIds.has(id) || this.staging.has(id)) return true;
    if (this.knownAbsent(id)) return false;
    return fs.existsSync(objectPath(this.root, id));
  }

  /** First-level shard directories missing when this store first looked (see hasSync); undefined until then. */
  private absentTop: Set<string> | undefined;
  /**
   * One bit per 22-bit id prefix of the objects this store has put under those directories (512 KiB, made on the
   * first such put). A set bit only sends the check to the file system: with 200k objects put, ~5% of new ids.
   */
  private putBits: Uint8Array | undefined;

  /** An object put by this store: ids sharing its prefix are no longer known absent (see hasSync). */
  private touch(id: ObjectId): void {
    if (!this.missingTop().has(id.slice(0, 2))) return;
    const key = putKey(id);
    this.putBits ??= new Uint8Array(PUT_BITS / 8);
    this.putBits[key >>> 3]! |= 1 << (key & 7);
  }

  private knownAbsent(id: ObjectId): boolean {
    if (!this.missingTop().has(id.slice(0, 2))) return false;
    const key = putKey(id);
    return this.putBits === undefined || (this.putBits[key >>> 3]! & (1 << (key & 7))) === 0;
  }

  /** absentTop, read on first use (before this store's first put, so none of its own directories is missed). */
  private missingTop(): Set<string> {
    if (this.absentTop === undefined) {
      this.absentTop = new Set();
      let present: Set<string>;
      try {
        present = new Set(fs.readdirSync(this.root));
      } catch {
        return this.absentTop; // no answer: nothing is known absent, every check goes to the file system
      }
      for (let i = 0; i < 256; i++) {
        const top = i.toString(16).padStart(2, '0');
        if (!present.has(top)) this.absentTop.add(top);
      }
    }
    return this.absentTop;
  }
}

/**
 * Makes batches of staged objects durable and moves them into place on a worker thread (flushThread.ts), so that
 * the syscall-heavy part of storing many small objects (a syncfs, a shard directory and a rename per object, a
 * second syncfs: batchDurable.ts) runs on the other core while the main thread walks, reads and hashes the next
 * batch. In a snapshot of many small files the worker also creates and writes their temp files (writeTemps), from
 * the stored forms the main thread copied into shared buffers: creating a file cost the main thread ~20 µs each.
 *
 * Batches may be sent while earlier ones are in flight: the worker takes them in order and fails a batch sent
 * after one that failed. A batch's promise resolves only when all its objects are in place and durable.
 *
 * The worker is a file of its own: dist/bin/cairn-flusher.cjs beside the CLI's bundle, or
 * dist/src/store/flushThread.js beside this module. When neither exists (the sources run by a test runner),
 * batches are made durable on the calling thread, one after the other, and temp files are not left to a worker
 * (hasWorker is false).
 */
import type { Worker } from 'node:worker_threads';
import { oldGenerationSlackEnabled } from '../util/oldGenerationSlack.js';
import { startWorker } from '../util/workerExecArgv.js';
import { workerScript } from '../util/workerScript.js';
import { makeBatchDurable, type FlushItem } from './batchDurable.js';
import type { ObjectId } from './objectId.js';
import { ShardDirSet } from './shardDirSet.js';

export type { FlushItem } from './batchDurable.js';

/** A small object's temp file for writeTemps(): its stored form (codec byte, then payload) is bytes [offset, offset + length) of the shared buffer. */
export interface TempWrite {
  tmp: string;
  offset: number;
  length: number;
  /**
   * The object's id: the worker makes its shard directory once the group is written, so that the batch that moves
   * the object finds it made (best effort: a directory it cannot make is made, or its failure reported, by the
   * batch).
   */
  id: ObjectId;
}

export type FlusherRequest =
  | { type: 'batch'; seq: number; tempDir: string; root: string; items: readonly FlushItem[]; after?: number | undefined }
  | { type: 'temps'; seq: number; root: string; shared: SharedArrayBuffer; written: Int32Array; temps: readonly TempWrite[] };

export interface FlusherReply {
  seq: number;
  /** `index`: for writeTemps, the temp file that failed (those after it were not written). */
  error?: { message: string; code?: string; path?: string; index?: number };
}

/** See BatchFlusher.start. */
const YOUNG_GENERATION_MB = 4;

/**
 * What the worker's old generation may grow by between two full collections (checkOldGenerationSlack, after each
 * request), when the main thread's is checked too. The records of each batch are promoted while it waits its turn
 * and are garbage once it is done, and V8 left them until the worker's heap held twice what was live: the db
 * dataset's first snapshot peaked at 155-157 MiB RSS without the check and 148-150 MiB with it (3 interleaved
 * rounds; 4 MiB did no better).
 */
const FLUSHER_OLD_GENERATION_SLACK = 8 * 1024 * 1024;

/** The worker's workerData. */
export interface FlusherData {
  /** Bytes of slack for checkOldGenerationSlack in the worker; undefined: no check. */
  oldGenerationSlack: number | undefined;
}

/** Where the worker entry is, or undefined when this build has none (see the module comment). */
export function batchFlusherScript(): string | undefined {
  return workerScript('cairn-flusher.cjs', 'flushThread.js', import.meta.url as string | undefined);
}

export class BatchFlusher {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (r: FlusherReply) => void; reject: (err: Error) => void }>();
  /** The last batch sent (see flush). */
  private lastBatch: number | undefined;
  /** Without a worker: the batches made durable here, in order, and the shard directories made. */
  private chain: Promise<void> = Promise.resolve();
  private readonly made = new ShardDirSet();

  /** `script`: the worker entry; undefined to make batches durable on this thread. */
  constructor(private readonly script: string | undefined = batchFlusherScript()) {}

  /** Whether temp files can be left to the worker (writeTemps). */
  get hasWorker(): boolean {
    return this.script !== undefined;
  }

  private start(script: string): Worker {
    // The worker's young generation capped: it allocates a little per temp file it writes (a database's 65k pages
    // in a first snapshot), and left to grow its heap reached 52 MiB for 20 MiB of live objects; the db dataset's
    // first snapshot peaked at 209-218 MiB RSS without the cap and 182-196 MiB with it (3 interleaved rounds).
    // Its old generation checked as the main thread's is (when the program turned that on): see FLUSHER_OLD_GENERATION_SLACK.
    const workerData: FlusherData = { oldGenerationSlack: oldGenerationSlackEnabled() ? FLUSHER_OLD_GENERATION_SLACK : undefined };
    const w = startWorker(script, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB }, workerData });
    w.on('message', (r: FlusherReply) => {
      const p = this.waiting.get(r.seq);
      if (!p) return;
      this.waiting.delete(r.seq);
      if (this.waiting.size === 0) w.unref();
      if (r.error) p.reject(Object.assign(new Error(r.error.message), { code: r.error.code, path: r.error.path, index: r.error.index }));
      else p.resolve(r);
    });
    w.on('error', (err) => this.failAll(err));
    w.on('exit', (code) => {
      this.worker = undefined;
      this.failAll(new Error(`the object flush worker exited (code ${code})`));
    });
    w.unref(); // after the listeners, which would ref the port again
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }

  private send(request: FlusherRequest): Promise<FlusherReply> {
    this.worker ??= this.start(this.script!);
    const w = this.worker;
    w.ref(); // work in flight keeps the process alive until it is done
    return new Promise<FlusherReply>((resolve, reject) => {
      this.waiting.set(request.seq, { resolve, reject });
      w.postMessage(request);
    });
  }

  /**
   * Makes `items` durable in place; resolves when every one is under its final name and that is durable. May be
   * called while earlier batches are in flight: they are taken in order, and this one fails if one before it
   * failed (so objects are in place only after every object put before them), until reset().
   */
  flush(items: readonly FlushItem[], tempDir: string, root: string): Promise<void> {
    if (!this.script) return this.flushHere(items, tempDir, root);
    const seq = ++this.seq;
    const after = this.lastBatch;
    this.lastBatch = seq;
    // No closure made here may name `items`: V8 keeps a function's closed-over variables in one context shared by
    // all its closures, so the `.then` below would hold every record (paths of ~150 bytes each, FsObjectStore's
    // FLUSH_COUNT per batch) until the worker answers, although the worker has its own copy. It did, through the
    // closure of the branch above, now flushHere: ~25 MB of the main heap at the end of a 100k-file first snapshot.
    return this.send({ type: 'batch', seq, tempDir, root, items, after }).then(() => undefined);
  }

  /** flush() without a worker: the batches made durable on this thread, in order. */
  private flushHere(items: readonly FlushItem[], tempDir: string, root: string): Promise<void> {
    const done = this.chain.then(() => makeBatchDurable(items, tempDir, root, this.made));
    this.chain = done;
    return done;
  }

  /** After a failed batch, once every batch has settled: later batches no longer fail because of it. */
  reset(): void {
    this.lastBatch = undefined;
    this.chain = Promise.resolve();
  }

  /**
   * Writes small objects' temp files on the worker (hasWorker must be true), from `shared`, which must not change
   * until this settles or `written[0]` is 1 (set as soon as all of them are written, before the reply arrives). A
   * batch sent after this is handled after it, so its temp files exist. Rejects with the error of the first temp
   * file that failed (its `index` set); none after it was written.
   */
  writeTemps(temps: readonly TempWrite[], root: string, shared: SharedArrayBuffer, written: Int32Array): Promise<void> {
    // Not an async function: its suspended frame would hold `temps` until the reply, which a synchronous walk reads
    // only when it next awaits (hundreds of groups, ~9 MB at the end of a 100k-file first snapshot).
    return this.send({ type: 'temps', seq: ++this.seq, root, shared, written, temps }).then(() => undefined);
  }

  /** Stops the worker (after its batches are done). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

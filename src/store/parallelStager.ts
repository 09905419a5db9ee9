/**
 * Compresses and writes large chunks on a worker thread, so that one big file
 * uses both cores: the main thread reads, cuts and hashes chunks in a shared
 * buffer (SharedArrayBuffer: nothing is copied to the worker) and checks
 * which are new, while the worker compresses each new one and writes it to
 * its temp file (stagerThread.ts). When the worker has little queued, the
 * main thread sends chunks unhashed: the worker hashes them, and writes only
 * those the store does not have. A chunk's region of the shared buffer must
 * not change until its promise settles.
 *
 * The worker is a file of its own: dist/bin/cairn-stager.cjs beside the CLI's
 * bundle, or dist/src/store/stagerThread.js beside this module. When neither
 * exists (the sources run by a test runner), parallelStagerScript() returns
 * undefined and callers store chunks on the main thread as before.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/workerExecArgv.js';
import { workerScript } from '../util/workerScript.js';
import type { Compression } from './objectCodec.js';

export type StagerRequest =
  | { type: 'buffer'; buffer: number; shared: SharedArrayBuffer }
  | { type: 'release'; buffer: number }
  | { type: 'stage'; seq: number; buffer: number; offset: number; length: number; compression: Compression; tmp: string; hash?: boolean };

/**
 * A staged chunk: the bytes written to its temp file; for a chunk sent unhashed, also its id, and `exists` (nothing
 * written) when the store has that object already.
 */
export interface Staged {
  storedBytes: number;
  id?: string;
  exists?: boolean;
}

/** A failure: the error's message and code, and the chunk's id when the worker had hashed it. */
export type StagerReply = ({ seq: number; error?: undefined } & Staged) | { seq: number; error: { message: string; code?: string | undefined; objectId?: string } };

/** Where the worker entry is, or undefined when this build has none (see the module comment). */
export function parallelStagerScript(): string | undefined {
  return workerScript('cairn-stager.cjs', 'stagerThread.js', import.meta.url as string | undefined);
}

export class ParallelStager {
  private worker: Worker | undefined;
  private seq = 0;
  private nextBuffer = 0;
  private readonly waiting = new Map<number, { resolve: (staged: Staged) => void; reject: (err: Error) => void }>();

  /** `objectsRoot`: the store's objects directory, where the worker looks for a chunk it hashed. */
  constructor(
    private readonly script: string,
    private readonly objectsRoot: string,
  ) {}

  private start(): Worker {
    const w = startWorker(this.script, { workerData: { objectsRoot: this.objectsRoot } });
    w.on('message', (r: StagerReply) => {
      const p = this.waiting.get(r.seq);
      if (!p) return;
      this.waiting.delete(r.seq);
      if (this.waiting.size === 0) w.unref();
      if (r.error) p.reject(Object.assign(new Error(r.error.message), { code: r.error.code, ...(r.error.objectId ? { objectId: r.error.objectId } : {}) }));
      else p.resolve({ storedBytes: r.storedBytes, ...(r.id !== undefined ? { id: r.id } : {}), ...(r.exists ? { exists: true } : {}) });
    });
    w.on('error', (err) => this.failAll(err));
    w.on('exit', (code) => {
      this.worker = undefined;
      this.failAll(new Error(`the object staging worker exited (code ${code})`));
    });
    // After the listeners: adding a 'message' listener refs the worker's port again, and a worker that is
    // started but never given a chunk (a file whose chunks were all stored before) would keep the process alive.
    w.unref();
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }

  /** Buffers registered and not yet sent to the worker (sent with their first chunk). */
  private readonly unsent = new Map<number, SharedArrayBuffer>();

  /**
   * Registers `shared`; returns its handle for stage() and release(). The worker starts (~30 ms) only when a
   * chunk is first staged: a big file whose chunks are all stored already never needs it.
   */
  register(shared: SharedArrayBuffer): number {
    const buffer = ++this.nextBuffer;
    this.unsent.set(buffer, shared);
    return buffer;
  }

  release(buffer: number): void {
    if (!this.unsent.delete(buffer)) this.worker?.postMessage({ type: 'release', buffer } satisfies StagerRequest);
  }

  /**
   * Encodes bytes [offset, offset + length) of a registered buffer with `compression` and writes the stored
   * form to `tmp` (created; it must not exist). Resolves with the bytes written. With `hash`, the worker
   * hashes the bytes first and answers their id, and writes nothing when the store has that object already.
   */
  stage(buffer: number, offset: number, length: number, compression: Compression, tmp: string, hash = false): Promise<Staged> {
    const w = (this.worker ??= this.start());
    const shared = this.unsent.get(buffer);
    if (shared) {
      w.postMessage({ type: 'buffer', buffer, shared } satisfies StagerRequest);
      this.unsent.delete(buffer);
    }
    const seq = ++this.seq;
    w.ref(); // a chunk in flight keeps the process alive until it is written
    return new Promise<Staged>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      w.postMessage({ type: 'stage', seq, buffer, offset, length, compression, tmp, ...(hash ? { hash } : {}) } satisfies StagerRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

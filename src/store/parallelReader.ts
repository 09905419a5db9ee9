/**
 * Reads groups of objects on a worker thread, so that restoring a large file
 * uses both cores: while the main thread reads, decodes and verifies one group
 * of a file's chunks, the worker does the same for another (readerThread.ts)
 * and hands back the group's content as one transferred buffer, nothing copied
 * between threads.
 *
 * The worker only speeds reading up; it never decides an error. A group it
 * cannot read (a missing or damaged object, an object still pending in this
 * process's batch, a worker that failed to start or died) comes back as
 * undefined, and the caller reads that group on its own thread, where the
 * store's getSync() says precisely what is wrong.
 *
 * The worker is dist/bin/cairn-reader.cjs beside the CLI's bundle, or
 * dist/src/store/readerThread.js beside this module (see workerScript).
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/workerExecArgv.js';
import { workerScript } from '../util/workerScript.js';
import type { ObjectId } from './objectId.js';

export interface ReaderRequest {
  seq: number;
  /** The objects to read. */
  ids: readonly string[];
  /** Output buffers of earlier groups, written and handed back (transferred) for the worker to reuse. */
  recycle?: ArrayBuffer[];
}

/** The group's content (every object read, decoded and verified, in order), or `failed` for any problem. */
export type ReaderReply = { seq: number; content: ArrayBuffer; length: number } | { seq: number; failed: string };

/** Buffers kept for handing back at most: about what is in flight at once (see Materializer). */
const MAX_RELEASED = 12;

/** Where the worker entry is, or undefined when this build has none. */
export function parallelReaderScript(): string | undefined {
  return workerScript('cairn-reader.cjs', 'readerThread.js', import.meta.url as string | undefined);
}

export class ParallelReader {
  private worker: Worker | undefined;
  /** Set when the worker could not start or died: every later read is left to the caller. */
  private broken = false;
  private seq = 0;
  private readonly waiting = new Map<number, (content: Buffer | undefined) => void>();
  /** Buffers released since the last request, handed back with the next one. */
  private released: ArrayBuffer[] = [];

  constructor(
    private readonly script: string,
    private readonly objectsRoot: string,
  ) {}

  private start(): Worker {
    const w = startWorker(this.script, { workerData: { objectsRoot: this.objectsRoot } });
    w.on('message', (r: ReaderReply) => {
      const done = this.waiting.get(r.seq);
      if (!done) return;
      this.waiting.delete(r.seq);
      if (this.waiting.size === 0) w.unref();
      done('content' in r ? Buffer.from(r.content, 0, r.length) : undefined);
    });
    const fail = (): void => {
      this.broken = true;
      this.worker = undefined;
      for (const done of this.waiting.values()) done(undefined);
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', fail);
    // After the listeners, which ref the port again (see ParallelStager.start).
    w.unref();
    return w;
  }

  /**
   * The content of `ids` read, decoded and verified on the worker, concatenated in order; undefined when the
   * worker could not (the caller then reads them itself).
   */
  read(ids: readonly ObjectId[]): Promise<Buffer | undefined> {
    if (this.broken) return Promise.resolve(undefined);
    const w = (this.worker ??= this.start());
    const seq = ++this.seq;
    w.ref(); // a group in flight keeps the process alive until it is answered
    const recycle = this.released;
    this.released = [];
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve);
      w.postMessage({ seq, ids, recycle } satisfies ReaderRequest, recycle);
    });
  }

  /**
   * Hands a group's buffer (from read()) back for the worker to reuse, with the next request: its memory is
   * then never garbage waiting for a collection on this thread. The caller must be done with it: it is
   * detached (empty) once sent.
   */
  release(content: Buffer): void {
    if (this.worker && this.released.length < MAX_RELEASED) this.released.push(content.buffer as ArrayBuffer);
  }
}

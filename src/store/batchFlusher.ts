/**
 * Makes a batch of staged objects durable and moves them into place on a
 * worker thread, so that the syscall-heavy part of storing many small objects
 * (a syncfs, a shard directory and a rename per object, a second syncfs) runs
 * on the other core while the main thread walks, reads, hashes and compresses
 * the next batch. In a snapshot of many small files the worker also creates
 * and writes their temp files (writeTemps), from the payloads the main thread
 * compressed: creating a file cost the main thread ~20 µs each.
 *
 * Order within a batch is the same as on the main thread: contents durable
 * (syncfs of the temp directory's file system, or an fsync per file where
 * `sync -f` is unavailable), then each renamed to its final path, then the
 * names durable. A batch's promise resolves only after all of that.
 *
 * The worker is started from source text (no file to locate next to a bundled
 * binary) and never keeps the process alive.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/workerExecArgv.js';

export interface FlushItem {
  tmp: string;
  dest: string;
  /** The shard directory of dest. */
  dir: string;
}

const WORKER_SOURCE = `
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { parentPort } = require('node:worker_threads');
let syncfsWorks;
function syncfs(p) {
  if (syncfsWorks === false) return false;
  syncfsWorks = spawnSync('sync', ['-f', p], { stdio: 'ignore' }).status === 0;
  return syncfsWorks;
}
function fsyncPath(p) {
  const fd = fs.openSync(p, 'r');
  try { fs.fsyncSync(fd); }
  catch (err) { if (!['EINVAL', 'EISDIR', 'EPERM'].includes(err.code)) throw err; }
  finally { fs.closeSync(fd); }
}
const made = new Set();
// Temp files of small objects, written here in the order they come (before any batch sent after them): the codec
// byte and the payload, as writeStagedFileSync writes them (a copy of a few KiB each, so that writeFileSync
// deals with short writes); a file that fails is removed.
function writeTemps(seq, temps, shared) {
  const bytes = Buffer.from(shared);
  for (let i = 0; i < temps.length; i++) {
    const { tmp, codec, offset, length } = temps[i];
    try {
      fs.writeFileSync(tmp, Buffer.concat([Buffer.of(codec), bytes.subarray(offset, offset + length)]), { flag: 'wx' });
    } catch (err) {
      if (err.code !== 'EEXIST') fs.rmSync(tmp, { force: true });
      parentPort.postMessage({ seq, error: { message: err.message, code: err.code, path: err.path, index: i } });
      return;
    }
  }
  parentPort.postMessage({ seq });
}
parentPort.on('message', ({ seq, tempDir, root, items, temps, shared }) => {
  if (temps) return writeTemps(seq, temps, shared);
  try {
    if (!syncfs(tempDir)) for (const it of items) fsyncPath(it.tmp);
    const dirs = new Set();
    for (const it of items) {
      if (!made.has(it.dir)) {
        try { fs.mkdirSync(it.dir); }
        catch (err) {
          if (err.code === 'ENOENT') fs.mkdirSync(it.dir, { recursive: true });
          else if (err.code !== 'EEXIST') throw err;
        }
        made.add(it.dir);
      }
      dirs.add(it.dir);
      fs.renameSync(it.tmp, it.dest);
    }
    if (!syncfs(root)) { for (const d of dirs) { fsyncPath(d); fsyncPath(path.dirname(d)); } }
    parentPort.postMessage({ seq });
  } catch (err) {
    parentPort.postMessage({ seq, error: { message: err.message, code: err.code, path: err.path } });
  }
});
`;

interface Reply {
  seq: number;
  /** `index`: for writeTemps, the temp file that failed (those after it were not written). */
  error?: { message: string; code?: string; path?: string; index?: number };
}

/** A small object's temp file for writeTemps(): its codec byte, then bytes [offset, offset + length) of the shared buffer. */
export interface TempWrite {
  tmp: string;
  codec: number;
  offset: number;
  length: number;
}

export class BatchFlusher {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  private start(): Worker {
    const w = startWorker(WORKER_SOURCE, { eval: true });
    w.on('message', (r: Reply) => {
      const p = this.waiting.get(r.seq);
      if (!p) return;
      this.waiting.delete(r.seq);
      if (this.waiting.size === 0) w.unref();
      if (r.error) p.reject(Object.assign(new Error(r.error.message), { code: r.error.code, path: r.error.path, index: r.error.index }));
      else p.resolve();
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

  /** Makes `items` durable in place; resolves when every one is under its final name and that is durable. */
  flush(items: readonly FlushItem[], tempDir: string, root: string): Promise<void> {
    this.worker ??= this.start();
    const w = this.worker;
    const seq = ++this.seq;
    w.ref(); // a batch in flight keeps the process alive until it is durable
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      w.postMessage({ seq, tempDir, root, items });
    });
  }

  /**
   * Writes small objects' temp files on the worker, from `shared` (which must not change until this settles). A
   * batch sent after this is handled after it, so its temp files exist. Rejects with the error of the first temp
   * file that failed (its `index` set); none after it was written.
   */
  writeTemps(temps: readonly TempWrite[], shared: SharedArrayBuffer): Promise<void> {
    this.worker ??= this.start();
    const w = this.worker;
    const seq = ++this.seq;
    w.ref(); // temp files being written keep the process alive until they are
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      w.postMessage({ seq, temps, shared });
    });
  }

  /** Stops the worker (after its batches are done). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

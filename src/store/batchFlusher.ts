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
const { spawn } = require('node:child_process');
const { parentPort } = require('node:worker_threads');
let syncfsWorks;
// sync -f as a child process, awaited: meanwhile temp files sent to this worker are written (see below).
function syncfs(p) {
  if (syncfsWorks === false) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('sync', ['-f', p], { stdio: 'ignore' });
    child.once('error', () => resolve((syncfsWorks = false)));
    child.once('exit', (code) => resolve((syncfsWorks = code === 0)));
  });
}
function fsyncPath(p) {
  const fd = fs.openSync(p, 'r');
  try { fs.fsyncSync(fd); }
  catch (err) { if (!['EINVAL', 'EISDIR', 'EPERM'].includes(err.code)) throw err; }
  finally { fs.closeSync(fd); }
}
const made = new Set();
// Temp files of small objects, written here as soon as they come, even while a batch is being made durable: a
// batch's own temp files were all sent before it, so they are written before it starts. Each is its stored form
// (codec byte and payload) as one slice of the shared buffer, written by writeFileSync (which deals with short
// writes); a file that fails is removed.
function writeTemps(seq, temps, shared, written) {
  const bytes = Buffer.from(shared);
  for (let i = 0; i < temps.length; i++) {
    const { tmp, offset, length } = temps[i];
    try {
      fs.writeFileSync(tmp, bytes.subarray(offset, offset + length), { flag: 'wx' });
    } catch (err) {
      if (err.code !== 'EEXIST') fs.rmSync(tmp, { force: true });
      parentPort.postMessage({ seq, error: { message: err.message, code: err.code, path: err.path, index: i } });
      return;
    }
  }
  if (written) Atomics.store(written, 0, 1); // the buffer is free: seen before the reply (see FsObjectStore.sentGroups)
  parentPort.postMessage({ seq });
}
// Renames between two turns of the event loop, where temp files sent meanwhile are written.
const RENAMES_PER_TURN = 256;
const turn = () => new Promise((resolve) => setImmediate(resolve));
// Batches that failed: a batch sent after one of them (before its reply was seen) fails too, so that no object
// is ever in place before those put before it (a tree before its files).
const failed = new Set();
async function flushBatch({ seq, tempDir, root, items, after }) {
  if (after !== undefined && failed.has(after)) {
    failed.add(seq);
    parentPort.postMessage({ seq, error: { message: 'an earlier batch of objects could not be stored' } });
    return;
  }
  try {
    if (!(await syncfs(tempDir))) for (const it of items) fsyncPath(it.tmp);
    const dirs = new Set();
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
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
      if (i % RENAMES_PER_TURN === RENAMES_PER_TURN - 1) await turn();
    }
    if (!(await syncfs(root))) { for (const d of dirs) { fsyncPath(d); fsyncPath(path.dirname(d)); } }
    parentPort.postMessage({ seq });
  } catch (err) {
    failed.add(seq);
    parentPort.postMessage({ seq, error: { message: err.message, code: err.code, path: err.path } });
  }
}
// Batches one at a time, in the order they come.
const batches = [];
let flushing = false;
async function flushBatches() {
  flushing = true;
  while (batches.length > 0) await flushBatch(batches.shift());
  flushing = false;
}
parentPort.on('message', (m) => {
  if (m.temps) return writeTemps(m.seq, m.temps, m.shared, m.written);
  batches.push(m);
  if (!flushing) void flushBatches();
});
`;

interface Reply {
  seq: number;
  /** `index`: for writeTemps, the temp file that failed (those after it were not written). */
  error?: { message: string; code?: string; path?: string; index?: number };
}

/** A small object's temp file for writeTemps(): its stored form (codec byte, then payload) is bytes [offset, offset + length) of the shared buffer. */
export interface TempWrite {
  tmp: string;
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

  /**
   * Makes `items` durable in place; resolves when every one is under its final name and that is durable. May be
   * called while earlier batches are in flight: the worker takes them in order, and fails this one if the batch
   * sent before it failed (so objects are in place only after every object put before them).
   */
  flush(items: readonly FlushItem[], tempDir: string, root: string): Promise<void> {
    this.worker ??= this.start();
    const w = this.worker;
    const seq = ++this.seq;
    const after = this.lastBatch;
    this.lastBatch = seq;
    w.ref(); // a batch in flight keeps the process alive until it is durable
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      w.postMessage({ seq, tempDir, root, items, after });
    });
  }

  /** The last batch sent (see flush). */
  private lastBatch: number | undefined;

  /**
   * Writes small objects' temp files on the worker, from `shared` (which must not change until this settles). A
   * batch sent after this is handled after it, so its temp files exist. Rejects with the error of the first temp
   * file that failed (its `index` set); none after it was written. `written[0]`, when given, is set to 1 as soon
   * as all of them are written, before the reply arrives.
   */
  writeTemps(temps: readonly TempWrite[], shared: SharedArrayBuffer, written?: Int32Array): Promise<void> {
    this.worker ??= this.start();
    const w = this.worker;
    const seq = ++this.seq;
    w.ref(); // temp files being written keep the process alive until they are
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      w.postMessage({ seq, temps, shared, written });
    });
  }

  /** Stops the worker (after its batches are done). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/**
 * Small files of a restore created on a second thread. Writing a small file
 * is system calls (open with O_CREAT|O_EXCL, write, futimes, close), and in a
 * restore of a source tree they were half of the main thread's time, which
 * also reads, decodes and verifies every object and tree. Here the main
 * thread does all of that, then packs the file's verified content and
 * metadata into a batch (writeBatch.ts) that the worker
 * (restoreWriterThread.ts) writes while the main thread goes on. Directories
 * are created through the same queue, before their entries (mkdir was ~50 µs
 * each on the benchmark's ext4), and their metadata set through it after
 * their entries, so a directory's mtime and mode are set after its files are
 * written, as before.
 *
 * Batches are packed into slots of shared memory (SharedArrayBuffers of
 * BATCH_BYTES, each sent to the worker once, with its first batch) and only
 * the slot's number and length are posted. Memory: MAX_IN_FLIGHT batches with
 * the worker and one being packed, as a rule; a burst of directory records
 * (a directory of thousands of subdirectories) takes more slots, kept for
 * reuse, and a record larger than a slot gets a slot of its own used once. A failure on the
 * worker stops it writing; the main thread throws it, as the IoError writing
 * on its own would have given, at its next record, room() or finish().
 *
 * The worker is a file of its own: dist/bin/cairn-writer.cjs beside the CLI's
 * bundle, or dist/src/ops/restoreWriterThread.js beside this module. Without
 * either (the sources run by a test runner) RestoreWriter.start() answers
 * undefined and the caller writes on its own thread.
 */
import type { Worker } from 'node:worker_threads';
import { IoError, describeError } from '../errors.js';
import type { Owner } from './entryMeta.js';
import { quoteName } from '../util/quoteName.js';
import { startWorker } from '../util/workerExecArgv.js';
import { workerScript } from '../util/workerScript.js';
import type { WriterReply, WriterRequest } from './restoreWriterThread.js';
import { BatchBuilder, FLAG_CHMOD, FLAG_CHOWN, RECORD_DIR, RECORD_FILE, RECORD_MKDIR, recordBytes } from './writeBatch.js';

/** Bytes of one batch: a few hundred small files, few enough that the worker starts early. */
const BATCH_BYTES = 1024 * 1024;
/** Records per batch at most, so that a run of empty files still reaches the worker in good time. */
const BATCH_RECORDS = 512;
/** Batches sent and not yet written at most. */
const MAX_IN_FLIGHT = 4;

interface Slot {
  n: number;
  shared: SharedArrayBuffer;
  sent: boolean;
  once: boolean;
  batch: BatchBuilder;
}

export class RestoreWriter {
  private readonly worker: Worker;
  /** The slot being packed: its number, whether the worker has it yet, and once: a slot for one large record. */
  private slot: Slot;
  /** The restore-relative path of each record of the batch being packed (for error messages). */
  private rels: string[] = [];
  /** Batches with the worker: their slot and their records' paths. */
  private readonly inFlight = new Map<number, { slot: Slot; rels: string[] }>();
  private readonly free: Slot[] = [];
  private slots = 0;
  private seq = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private exited = false;
  private closing = false;

  /** A writer with its worker started, or undefined when this build has no worker entry (see the module comment). */
  static start(): RestoreWriter | undefined {
    const script = workerScript('cairn-writer.cjs', 'restoreWriterThread.js', import.meta.url as string | undefined);
    return script ? new RestoreWriter(script) : undefined;
  }

  private constructor(script: string) {
    this.slot = this.newSlot(BATCH_BYTES, false);
    // Its heap holds a batch's decoded records at most: a small young generation keeps its memory small.
    const w = startWorker(script, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    w.on('message', (r: WriterReply) => this.answered(r));
    w.on('error', (err) => this.fail(new IoError(`the restore's writing thread failed: ${describeError(err)}`, { cause: err })));
    w.on('exit', (code) => {
      this.exited = true;
      if (!this.closing) this.fail(new IoError(`the restore's writing thread exited (code ${code}) before the restore was written`));
    });
    this.worker = w;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  private newSlot(bytes: number, once: boolean): Slot {
    const shared = new SharedArrayBuffer(bytes);
    return { n: ++this.slots, shared, sent: false, once, batch: new BatchBuilder(Buffer.from(shared)) };
  }

  private answered(r: WriterReply): void {
    const done = this.inFlight.get(r.seq);
    this.inFlight.delete(r.seq);
    if (done && !done.slot.once) {
      done.slot.batch.reset();
      this.free.push(done.slot);
    }
    if (r.error && !this.failure) {
      const cause = Object.assign(new Error(r.error.message), r.error.code !== undefined ? { code: r.error.code } : {});
      const rel = done?.rels[r.error.index] ?? '?';
      this.failure = new IoError(`cannot write ${quoteName(rel)}: ${describeError(cause)}`, { cause, details: { path: rel } });
    }
    this.wake?.();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** Whether the caller should wait for room() before its next record. */
  get full(): boolean {
    return this.inFlight.size >= MAX_IN_FLIGHT || this.failure !== undefined;
  }

  /** Sends the batch being packed, if it holds anything, and takes a free slot for the next. */
  private send(): void {
    const s = this.slot;
    if (s.batch.count === 0) return;
    const seq = ++this.seq;
    this.inFlight.set(seq, { slot: s, rels: this.rels });
    const req: WriterRequest = { seq, slot: s.n, bytes: s.batch.bytes, ...(s.sent ? {} : { shared: s.shared }), ...(s.once ? { once: true } : {}) };
    s.sent = true;
    this.worker.postMessage(req);
    this.slot = this.free.pop() ?? this.newSlot(BATCH_BYTES, false);
    this.rels = [];
  }

  private add(kind: typeof RECORD_FILE | typeof RECORD_DIR | typeof RECORD_MKDIR, rel: string, path: Buffer, mode: number, chmod: boolean, owner: Owner, mtime: number, parts: readonly Buffer[], length: number): void {
    this.check();
    if (!this.slot.batch.fits(path.length, length)) {
      this.send();
      // A record larger than a whole slot (a 256 KiB file with a long path) gets a slot of its own size, used once.
      const need = recordBytes(path.length, length);
      if (need > BATCH_BYTES) {
        this.free.push(this.slot);
        this.slot = this.newSlot(need, true);
      }
    }
    const flags = (owner ? FLAG_CHOWN : 0) | (chmod ? FLAG_CHMOD : 0);
    this.slot.batch.add(kind, flags, mode, mtime, owner?.uid ?? -1, owner?.gid ?? -1, path, parts, length);
    this.rels.push(rel);
    if (this.slot.batch.count >= BATCH_RECORDS || this.slot.once) this.send();
  }

  /**
   * Queues file `path` (which must not exist) with content `parts` (`length` bytes, verified), permission bits
   * `mode` (fchmod'ed when `chmod`: creation took bits away), owner and mtime (seconds).
   */
  file(path: Buffer, rel: string, mode: number, chmod: boolean, owner: Owner, mtime: number, parts: readonly Buffer[], length: number): void {
    this.add(RECORD_FILE, rel, path, mode, chmod, owner, mtime, parts, length);
  }

  /** Queues creating directory `path` (mode 0700, as the main thread made them: dirMeta sets its own later). */
  mkdir(path: Buffer, rel: string): void {
    this.add(RECORD_MKDIR, rel, path, 0o700, false, undefined, 0, [], 0);
  }

  /** Queues setting directory `path`'s owner, mode and mtime, after everything queued before. */
  dirMeta(path: Buffer, rel: string, mode: number, owner: Owner, mtime: number): void {
    this.add(RECORD_DIR, rel, path, mode, true, owner, mtime, [], 0);
  }

  /** Resolves when fewer than MAX_IN_FLIGHT batches are with the worker; throws the worker's failure. */
  async room(): Promise<void> {
    while (this.inFlight.size >= MAX_IN_FLIGHT && !this.failure && !this.exited) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    this.check();
  }

  /** Sends what is packed and waits until everything queued is written; throws the worker's failure. */
  async finish(): Promise<void> {
    this.check();
    this.send();
    while (this.inFlight.size > 0 && !this.failure && !this.exited) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    this.check();
  }

  /** Stops the worker (at once: whatever it has not written is not written). */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.exited) await this.worker.terminate();
  }
}

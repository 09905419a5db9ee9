/**
 * The worker side of RestoreWriter (restoreWriter.ts): creates the
 * directories and small files of a restore and sets directories' metadata, in
 * the order the main thread sent them (writeBatch.ts), with the same system
 * calls as Materializer.writeSmallFileSync and setMetaSync. After a failure it writes
 * nothing more: the restore is failing, and its staging directory is removed.
 *
 * Runs as a worker_threads entry: dist/src/ops/restoreWriterThread.js for the
 * library, dist/bin/cairn-writer.cjs in the CLI's bundle.
 */
import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { faultPointSync } from '../util/faults.js';
import { writeAllSync } from '../util/writeAll.js';
import { setOpenFileMetaSync, setPathMetaSync, type Owner } from './entryMeta.js';
import { CREATE_FLAGS, FLAG_CHMOD, FLAG_CHOWN, RECORD_FILE, RECORD_MKDIR, readBatch, type WriteRecord } from './writeBatch.js';

/**
 * A batch: the first `bytes` of slot `slot`, a shared buffer sent with the slot's first batch (`shared`); a slot
 * used `once` is forgotten after it.
 */
export interface WriterRequest {
  seq: number;
  slot: number;
  bytes: number;
  shared?: SharedArrayBuffer;
  once?: boolean;
}

/** A batch done (its slot free again), or failed at record `index` (nothing after it written). */
export interface WriterReply {
  seq: number;
  error?: { index: number; message: string; code?: string | undefined };
  /** Not written: an earlier batch failed. */
  skipped?: boolean;
}

const port = parentPort;
if (!port) throw new Error('restoreWriterThread.js is a worker thread entry');

let files = 0;
let failed = false;
/**
 * Whether fault rules are set (CAIRN_TEST_FAULTS; a worker's environment is a copy made when it started): read
 * once, not per file (reading process.env costs a microsecond or two, 40-60 ms of 36k files).
 */
const faults = (process.env.CAIRN_TEST_FAULTS ?? '') !== '';
/** Views of the main thread's shared buffers, by slot. */
const slots = new Map<number, Buffer>();

function writeFile(r: WriteRecord): void {
  files++;
  if (faults) faultPointSync('restore-write-worker', files);
  const fd = fs.openSync(r.path, CREATE_FLAGS, r.mode & 0o777);
  try {
    writeAllSync(fd, r.content);
    setOpenFileMetaSync(fd, r.mode, (r.flags & FLAG_CHMOD) !== 0, ownerOf(r), r.mtime);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates a directory (mode 0700 until its metadata record). One the main thread made already, to write a large
 * file or a symlink in it (Materializer.ensureDirHere), is found as a directory and left as it is: the restore
 * writes into a staging directory of its own, where nothing else makes entries.
 */
function makeDir(r: WriteRecord): void {
  try {
    fs.mkdirSync(r.path, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(r.path).isDirectory()) throw err;
  }
}

/** The owner a record asks for, if any. */
function ownerOf(r: WriteRecord): Owner {
  return r.flags & FLAG_CHOWN ? { uid: r.uid, gid: r.gid } : undefined;
}

port.on('message', (req: WriterRequest) => {
  if (req.shared) slots.set(req.slot, Buffer.from(req.shared));
  const view = slots.get(req.slot);
  if (req.once) slots.delete(req.slot);
  const reply: WriterReply = { seq: req.seq };
  if (failed) reply.skipped = true;
  else {
    let index = 0;
    try {
      if (!view) throw new Error(`write batch: slot ${req.slot} is not known`);
      for (const r of readBatch(view, req.bytes)) {
        if (r.kind === RECORD_FILE) writeFile(r);
        else if (r.kind === RECORD_MKDIR) makeDir(r);
        else setPathMetaSync(r.path, r.mode, ownerOf(r), r.mtime);
        index++;
      }
    } catch (err) {
      failed = true;
      const e = err as NodeJS.ErrnoException;
      reply.error = { index, message: e.message, code: e.code };
    }
  }
  port.postMessage(reply);
});

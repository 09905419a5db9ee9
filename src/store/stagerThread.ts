/**
 * The worker side of ParallelStager (parallelStager.ts): encodes a chunk that
 * the main thread cut (and hashed, or left for this thread to hash) in a
 * shared buffer, and writes its stored form to the temp file the main thread
 * named. The main thread then adopts the
 * temp file into the store's pending batch, which makes it durable and renames
 * it into place like any other object; until then it is only a temp file,
 * removed by abort() or, after a crash, by the next writer's sweep of dead
 * processes' temp files (the name carries this process's pid).
 *
 * Runs as a worker_threads entry: dist/src/store/stagerThread.js for the
 * library, dist/bin/cairn-stager.cjs in the CLI's bundle.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { faultPointSync } from '../util/faults.js';
import { sha256Hex } from '../util/hash.js';
import { collectYoungGarbage } from '../util/youngGarbage.js';
import { encodeObjectParts } from './objectCodec.js';
import type { ObjectId } from './objectId.js';
import { objectPath } from './objectPath.js';
import type { StagerReply, StagerRequest } from './parallelStager.js';
import { writeStagedFileSync } from './stagedFile.js';

const port = parentPort;
if (!port) throw new Error('stagerThread.js is a worker thread entry');
const objectsRoot = (workerData as { objectsRoot: string }).objectsRoot;

/** Views of the shared buffers, by the handle the main thread gave them. */
const buffers = new Map<number, Buffer>();
let written = 0;
/**
 * Stored bytes after which a minor collection runs (see collectYoungGarbage). Each stored form is a buffer of its
 * own (snappy's output copied out, objectCodec.ts), garbage once written, whose memory lies outside this thread's
 * small heap: V8 collected them only when tens of MiB had piled up, and the first snapshot of the 1 GiB big-edit
 * file climbed from ~105 to ~150 MiB RSS. Every 16 MiB: 120-123 MiB peak, no slower (10 interleaved pairs). Every
 * 8 MiB looked ~0.4 s slower (each collection lets glibc give the freed pages back, to be faulted in again).
 */
const COLLECT_EVERY_BYTES = 16 * 1024 * 1024;
let sinceCollect = 0;

function stage(req: Extract<StagerRequest, { type: 'stage' }>): StagerReply {
  const view = buffers.get(req.buffer);
  if (!view) throw new Error(`shared buffer ${req.buffer} is not registered`);
  const content = view.subarray(req.offset, req.offset + req.length);
  let id: string | undefined;
  if (req.hash) {
    id = sha256Hex(content);
    // Stored before this snapshot: nothing to write (one this process is still writing is the main thread's to
    // find: it drops this temp file then).
    if (fs.existsSync(objectPath(objectsRoot, id as ObjectId))) return { seq: req.seq, storedBytes: 0, id, exists: true };
  }
  try {
    const { codec, payload } = encodeObjectParts(content, req.compression);
    writeStagedFileSync(req.tmp, codec, payload, () => faultPointSync('object-stage', ++written));
    sinceCollect += payload.length;
    if (sinceCollect >= COLLECT_EVERY_BYTES) {
      sinceCollect = 0;
      collectYoungGarbage();
    }
    return { seq: req.seq, storedBytes: 1 + payload.length, ...(id !== undefined ? { id } : {}) };
  } catch (err) {
    if (id !== undefined) Object.assign(err as object, { objectId: id }); // for the error's message
    throw err;
  }
}

port.on('message', (req: StagerRequest) => {
  if (req.type === 'buffer') {
    buffers.set(req.buffer, Buffer.from(req.shared));
    return;
  }
  if (req.type === 'release') {
    buffers.delete(req.buffer);
    return;
  }
  let reply: StagerReply;
  try {
    reply = stage(req);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { objectId?: string };
    reply = { seq: req.seq, error: { message: e.message, code: e.code, ...(e.objectId ? { objectId: e.objectId } : {}) } };
  }
  port.postMessage(reply);
});

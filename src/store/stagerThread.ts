/**
 * The worker side of ParallelStager (parallelStager.ts): encodes a chunk that
 * the main thread cut (and hashed) in a shared buffer, and writes its stored
 * form to the temp file the main thread named. The main thread then adopts the
 * temp file into the store's pending batch, which makes it durable and renames
 * it into place like any other object; until then it is only a temp file,
 * removed by abort() or, after a crash, by the next writer's sweep of dead
 * processes' temp files (the name carries this process's pid).
 *
 * Runs as a worker_threads entry: dist/src/store/stagerThread.js for the
 * library, dist/bin/cairn-stager.cjs in the CLI's bundle.
 */
import { parentPort } from 'node:worker_threads';
import { faultPointSync } from '../util/faults.js';
import { encodeObjectParts } from './objectCodec.js';
import type { StagerReply, StagerRequest } from './parallelStager.js';
import { writeStagedFileSync } from './stagedFile.js';

const port = parentPort;
if (!port) throw new Error('stagerThread.js is a worker thread entry');

/** Views of the shared buffers, by the handle the main thread gave them. */
const buffers = new Map<number, Buffer>();
let written = 0;

function stage(req: Extract<StagerRequest, { type: 'stage' }>): StagerReply {
  const view = buffers.get(req.buffer);
  if (!view) throw new Error(`shared buffer ${req.buffer} is not registered`);
  const { codec, payload } = encodeObjectParts(view.subarray(req.offset, req.offset + req.length), req.compression);
  writeStagedFileSync(req.tmp, codec, payload, () => faultPointSync('object-stage', ++written));
  return { seq: req.seq, storedBytes: 1 + payload.length };
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
    const e = err as NodeJS.ErrnoException;
    reply = { seq: req.seq, error: { message: e.message, code: e.code } };
  }
  port.postMessage(reply);
});

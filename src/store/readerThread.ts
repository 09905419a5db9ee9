/**
 * The worker side of ParallelReader (parallelReader.ts): reads a group of
 * objects from their final paths, decodes and verifies each against its id,
 * and sends the contents back concatenated in one transferred buffer. Any
 * problem fails the whole group without detail: the main thread reads it
 * again and reports what is wrong (see parallelReader.ts).
 *
 * Runs as a worker_threads entry: dist/src/store/readerThread.js for the
 * library, dist/bin/cairn-reader.cjs in the CLI's bundle.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { faultPointSync } from '../util/faults.js';
import { sha256Hex } from '../util/hash.js';
import { decodeObjectSync } from './objectCodec.js';
import type { ObjectId } from './objectId.js';
import { objectPath } from './objectPath.js';
import type { ReaderReply, ReaderRequest } from './parallelReader.js';

const port = parentPort;
if (!port) throw new Error('readerThread.js is a worker thread entry');
const objectsRoot = (workerData as { objectsRoot: string }).objectsRoot;

/** Read buffer reused for objects that fit (a database's pages); larger ones get their own. */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
let groups = 0;

function readStored(p: string): Buffer {
  const fd = fs.openSync(p, 'r');
  try {
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, scratch, n, scratch.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === scratch.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, fs.fstatSync(fd).size + 1));
        scratch.copy(bigger, 0, 0, n);
        scratch = bigger;
      }
    }
    return scratch.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

function readGroup(req: ReaderRequest): ReaderReply {
  faultPointSync('object-read-worker', ++groups);
  const parts: Buffer[] = [];
  let length = 0;
  for (const id of req.ids) {
    // Decoded at once: a raw object's content is a view of the scratch buffer until the next read.
    const content = decodeObjectSync(readStored(objectPath(objectsRoot, id as ObjectId)), `object ${id}`);
    if (sha256Hex(content) !== id) return { seq: req.seq, failed: `object ${id} does not match its id` };
    parts.push(content.buffer === scratch.buffer ? Buffer.from(content) : content);
    length += content.length;
  }
  const out = Buffer.allocUnsafeSlow(Math.max(1, length));
  let at = 0;
  for (const p of parts) at += p.copy(out, at);
  return { seq: req.seq, content: out.buffer as ArrayBuffer, length };
}

port.on('message', (req: ReaderRequest) => {
  let reply: ReaderReply;
  try {
    reply = readGroup(req);
  } catch (err) {
    reply = { seq: req.seq, failed: (err as Error).message };
  }
  if ('content' in reply) port.postMessage(reply, [reply.content]);
  else port.postMessage(reply);
});

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
import { parentPort, workerData } from 'node:worker_threads';
import { faultPointSync } from '../util/faults.js';
import { collectYoungGarbage } from '../util/youngGarbage.js';
import { sha256Hex } from '../util/hash.js';
import { decodeObjectTransient } from './objectCodec.js';
import { ObjectFileReader } from './objectFileReader.js';
import type { ObjectId } from './objectId.js';
import { objectPath } from './objectPath.js';
import type { ReaderReply, ReaderRequest } from './parallelReader.js';

const port = parentPort;
if (!port) throw new Error('readerThread.js is a worker thread entry');
const objectsRoot = (workerData as { objectsRoot: string }).objectsRoot;

/** Object files read into one reused buffer, grown to the largest object read. */
const files = new ObjectFileReader(64 * 1024, Infinity);
let groups = 0;
/** Output buffers the main thread has written and handed back (transferred), reused for later groups. */
const pool: ArrayBuffer[] = [];
/** A new output buffer's least size: a group is about 1 MiB (~128 page chunks of 8 KiB). */
const OUTPUT_MIN = 1024 * 1024;
/** A minor collection after this many groups (see collectYoungGarbage). */
const COLLECT_EVERY = 8;

/** Bytes of buffers kept for reuse at most (about what is in flight for a database: see Materializer). */
const POOL_BYTES = 4 * 1024 * 1024;
let pooled = 0;

/** Keeps a buffer for reuse, within POOL_BYTES (dropped, for the collector, beyond). */
function keep(b: ArrayBuffer): void {
  if (pooled + b.byteLength > POOL_BYTES) return;
  pool.push(b);
  pooled += b.byteLength;
}

/**
 * An output buffer of at least `min` bytes: a pooled one if one is big enough, else a new one of the next power
 * of two (so that a few sizes serve every group, and the pool does not fill with ever slightly larger buffers).
 */
function output(min: number): Buffer {
  const i = pool.findIndex((b) => b.byteLength >= min);
  if (i >= 0) {
    const b = pool.splice(i, 1)[0]!;
    pooled -= b.byteLength;
    return Buffer.from(b);
  }
  return Buffer.allocUnsafeSlow(Math.max(OUTPUT_MIN, 2 ** Math.ceil(Math.log2(min))));
}

function readGroup(req: ReaderRequest): ReaderReply {
  faultPointSync('object-read-worker', ++groups);
  if (groups % COLLECT_EVERY === 0) collectYoungGarbage();
  let out = output(OUTPUT_MIN);
  let length = 0;
  for (const id of req.ids) {
    // Copied out at once: a raw object's content is a view of the reused buffer until the next read, a small
    // snappy object's a view of the decoder's memory until the next decode. A local regular file reads short only
    // at its end; were it otherwise, the hash check fails the group and the main thread reads it again (see
    // parallelReader.ts).
    const content = decodeObjectTransient(files.read(objectPath(objectsRoot, id as ObjectId)), `object ${id}`);
    if (sha256Hex(content) !== id) return { seq: req.seq, failed: `object ${id} does not match its id` };
    if (length + content.length > out.length) {
      const bigger = output(Math.max(out.length * 2, length + content.length));
      out.copy(bigger, 0, 0, length);
      keep(out.buffer as ArrayBuffer);
      out = bigger;
    }
    length += content.copy(out, length);
  }
  return { seq: req.seq, content: out.buffer as ArrayBuffer, length };
}

port.on('message', (req: ReaderRequest) => {
  for (const b of req.recycle ?? []) keep(b);
  let reply: ReaderReply;
  try {
    reply = readGroup(req);
  } catch (err) {
    reply = { seq: req.seq, failed: (err as Error).message };
  }
  if ('content' in reply) port.postMessage(reply, [reply.content]);
  else port.postMessage(reply);
});

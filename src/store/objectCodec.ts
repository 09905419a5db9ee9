/**
 * The stored form of an object: one codec byte, then the payload.
 *   0x00  raw: the payload is the content
 *   0x01  deflate: the payload is raw DEFLATE (RFC 1951) of the content
 *   0x02  snappy: the payload is the content in Snappy's raw block format
 *         (a varint of the content length, then literals and copies)
 * An object is compressed only when that makes it smaller. Every codec is
 * always readable; the repository's `compression` setting picks the one new
 * objects are written with.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import * as snappy from 'snappy';
import { IntegrityError } from '../errors.js';
import { SnappyDecoder, WASM_SNAPPY_MAX, snappyPayloadLimit } from './snappyDecoder.js';

export const CODEC_RAW = 0;
export const CODEC_DEFLATE = 1;
export const CODEC_SNAPPY = 2;

/** What new objects are compressed with (the repository config's `compression`). */
export type Compression = 'snappy' | 'deflate' | 'none';
export const COMPRESSIONS: readonly Compression[] = ['snappy', 'deflate', 'none'];

/**
 * No object's content is larger: a chunk is at most 64 MiB (validateChunkerParams), and a tree or manifest is JSON
 * that must fit in one V8 string to be parsed (buffer.constants.MAX_STRING_LENGTH, 2^29 - 24 characters on 64-bit
 * Node 20). A snappy payload claiming more, or a deflate payload inflating to more, is damaged or crafted (a
 * "bomb": 1.5 MiB of deflate can hold 1.5 GiB of zeros) and is refused before more than this is allocated.
 */
export const MAX_OBJECT_CONTENT = 512 * 1024 * 1024;

const deflateRawAsync = promisify(zlib.deflateRaw);
const inflateRawAsync = promisify(zlib.inflateRaw);
const DEFLATE_OPTS: zlib.ZlibOptions = { level: 1, memLevel: 9 };
/** Inflation stops with ERR_BUFFER_TOO_LARGE past the largest object (zlib's own cap, sync and async alike). */
const INFLATE_OPTS: zlib.ZlibOptions = { maxOutputLength: MAX_OBJECT_CONTENT };

/**
 * Objects up to one file-system block are stored raw: compressing them costs a
 * zlib set-up per object and saves no disk space (a file takes a whole block).
 */
const MIN_COMPRESS = 4096;
/** Above this size, compress on the libuv thread pool (both cores). */
const ASYNC_THRESHOLD = 64 * 1024;
/** A sample of this many bytes predicts whether the whole compresses. */
const SAMPLE = 8 * 1024;

function frame(codec: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = codec;
  out.set(payload, 1);
  return out;
}

/** Whether a sample of `content` says it is worth compressing (media, archives and random data are not). */
function worthCompressing(content: Buffer, compression: Compression): boolean {
  if (content.length <= SAMPLE * 4) return true;
  const sample = content.subarray(0, SAMPLE);
  const packed = compression === 'snappy' ? snappy.compressSync(sample) : zlib.deflateRawSync(sample, DEFLATE_OPTS);
  return packed.length <= SAMPLE * 0.95;
}

function framed(content: Buffer, codec: number, packed: Buffer): Buffer {
  return packed.length < content.length ? frame(codec, packed) : frame(CODEC_RAW, content);
}

/** Encodes content to its stored form, compressing only when it saves space. */
export async function encodeObject(content: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === 'none' || content.length <= MIN_COMPRESS || !worthCompressing(content, compression)) return frame(CODEC_RAW, content);
  if (content.length < ASYNC_THRESHOLD) return encodeObjectSync(content, compression);
  // Snappy runs on this thread even for large chunks (~3 ms per MiB): the package's asynchronous form returns
  // buffers the garbage collector does not account for, and a 1 GiB file's first snapshot peaked at 464 MiB RSS
  // with it against 144 MiB without (docs/performance.md).
  if (compression === 'snappy') return encodeObjectSync(content, compression);
  return framed(content, CODEC_DEFLATE, await deflateRawAsync(content, DEFLATE_OPTS));
}

/** Synchronous encodeObject, for small objects where a thread-pool round trip costs more than the work. */
export function encodeObjectSync(content: Buffer, compression: Compression): Buffer {
  const { codec, payload } = encodeObjectParts(content, compression);
  return frame(codec, payload);
}

/** A stored form as its codec byte and its payload, to be written together (writev) without a framed copy. */
export interface EncodedParts {
  codec: number;
  /** `content` itself when stored raw. */
  payload: Buffer;
}

/**
 * Outputs copied into a buffer of Node's: snappy's own are external memory that V8 does not count, freed only by
 * a finalizer after a garbage collection that their size never triggers. On the staging worker, whose heap barely
 * grows, a 1 GiB file's first snapshot peaked at 290 MiB RSS with them and 140-150 MiB with the copy. Small ones
 * too since 2026-11-30: with putSync's collections (fsObjectStore.ts), the db's first snapshot peaked at 151-168
 * MiB without the copy of its 8 KiB pages' outputs and 146-157 MiB with it.
 */
const COPY_OUT = { copyOutputData: true };
/**
 * Decompressed contents always copied, for the same reason: restoring a 512 MiB database (65k small objects,
 * split between the main thread and the reading worker) peaked at 219-252 MiB RSS without the copy and
 * 176-181 MiB with it, in the same time (4 interleaved pairs).
 */
const DECODE_OPTS = { asBuffer: true, copyOutputData: true };

/** encodeObjectSync without the framing copy: a large chunk's stored form is written as two buffers. */
export function encodeObjectParts(content: Buffer, compression: Compression): EncodedParts {
  if (compression === 'none' || content.length <= MIN_COMPRESS || !worthCompressing(content, compression)) return { codec: CODEC_RAW, payload: content };
  const packed = compression === 'snappy' ? snappy.compressSync(content, COPY_OUT) : zlib.deflateRawSync(content, DEFLATE_OPTS);
  return packed.length < content.length ? { codec: compression === 'snappy' ? CODEC_SNAPPY : CODEC_DEFLATE, payload: packed } : { codec: CODEC_RAW, payload: content };
}

/** The codec bytes as one-byte buffers, for writev. */
export const CODEC_BYTES: readonly Buffer[] = [Buffer.of(CODEC_RAW), Buffer.of(CODEC_DEFLATE), Buffer.of(CODEC_SNAPPY)];

/** The content length a snappy payload declares (its leading varint), checked before anything is allocated. */
function snappyLength(payload: Buffer, what: string): { length: number; header: number } {
  let n = 0;
  for (let i = 0, shift = 0; i < 5 && i < payload.length; i++, shift += 7) {
    const b = payload[i]!;
    n += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) {
      if (n > MAX_OBJECT_CONTENT) break;
      return { length: n, header: i + 1 };
    }
  }
  throw new IntegrityError(`${what} cannot be decompressed (corrupted snappy header)`, { details: { object: what } });
}

function snappyCorrupted(what: string, cause?: unknown): IntegrityError {
  return new IntegrityError(`${what} cannot be decompressed (corrupted)`, { cause, details: { object: what } });
}

/**
 * A snappy payload's content, decoded in WebAssembly up to WASM_SNAPPY_MAX bytes (snappyDecoder.ts): then a view of
 * the decoder's memory, valid until the next decode on this thread.
 */
function unsnappyTransient(payload: Buffer, what: string): Buffer {
  const { length, header } = snappyLength(payload, what);
  // The payload's size is bounded too: a damaged or crafted one declaring few bytes but holding many would
  // otherwise grow the decoder's memory, which never shrinks, to its size. No compressor writes more than
  // 32 + n + n/6 bytes for n; the package decides such payloads, as it decides everything else past the bounds.
  const wasm = length <= WASM_SNAPPY_MAX && payload.length <= snappyPayloadLimit(length) ? SnappyDecoder.get() : null;
  if (!wasm) return unsnappyNative(payload, what);
  const content = wasm.decode(payload.subarray(header), length);
  if (!content) throw snappyCorrupted(what);
  return content;
}

/** unsnappyTransient, the content a buffer of its own (for decodeObject, whose callers keep it). */
function unsnappySync(payload: Buffer, what: string): Buffer {
  const content = unsnappyTransient(payload, what);
  return SnappyDecoder.get()?.holds(content) ? Buffer.from(content) : content;
}

function unsnappyNative(payload: Buffer, what: string): Buffer {
  try {
    return snappy.uncompressSync(payload, DECODE_OPTS) as Buffer;
  } catch (err) {
    throw snappyCorrupted(what, err);
  }
}

async function unsnappy(payload: Buffer, what: string): Promise<Buffer> {
  snappyLength(payload, what);
  try {
    return (await snappy.uncompress(payload, DECODE_OPTS)) as Buffer;
  } catch (err) {
    throw snappyCorrupted(what, err);
  }
}

/** The integrity error of a deflate payload that is corrupted or inflates past MAX_OBJECT_CONTENT. */
function inflateError(err: unknown, what: string): IntegrityError {
  if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
    return new IntegrityError(`${what} inflates to more than ${MAX_OBJECT_CONTENT / 1024 / 1024} MiB, more than any object holds (damaged or crafted)`, {
      cause: err,
      details: { object: what },
    });
  }
  return new IntegrityError(`${what} cannot be decompressed (corrupted)`, { cause: err, details: { object: what } });
}

/**
 * Synchronous decodeObject, for small objects, and for a caller that is done with the content before it decodes
 * again on this thread (hashes it and copies it elsewhere): a raw object's content is a view of `stored`, a small
 * snappy object's a view of the WebAssembly decoder's memory (SnappyDecoder.holds), which the next decode
 * overwrites. The store's getSync() copies such a view for callers that keep the content.
 */
export function decodeObjectTransient(stored: Buffer, what: string): Buffer {
  if (stored.length === 0) throw new IntegrityError(`${what} is empty (truncated)`, { details: { object: what } });
  const codec = stored[0];
  const payload = stored.subarray(1);
  if (codec === CODEC_RAW) return payload;
  if (codec === CODEC_SNAPPY) return unsnappyTransient(payload, what);
  if (codec === CODEC_DEFLATE) {
    try {
      return zlib.inflateRawSync(payload, INFLATE_OPTS);
    } catch (err) {
      throw inflateError(err, what);
    }
  }
  throw new IntegrityError(`${what} has unknown codec byte ${codec} (corrupted, or written by a newer cairn)`, {
    details: { object: what },
  });
}

/** Decodes a stored object; throws IntegrityError on an unknown codec or bad payload. */
export async function decodeObject(stored: Buffer, what: string): Promise<Buffer> {
  if (stored.length === 0) throw new IntegrityError(`${what} is empty (truncated)`, { details: { object: what } });
  const codec = stored[0];
  const payload = stored.subarray(1);
  if (codec === CODEC_RAW) return payload;
  if (codec === CODEC_SNAPPY) return payload.length >= ASYNC_THRESHOLD ? unsnappy(payload, what) : unsnappySync(payload, what);
  if (codec === CODEC_DEFLATE) {
    try {
      return payload.length >= ASYNC_THRESHOLD ? await inflateRawAsync(payload, INFLATE_OPTS) : zlib.inflateRawSync(payload, INFLATE_OPTS);
    } catch (err) {
      throw inflateError(err, what);
    }
  }
  throw new IntegrityError(`${what} has unknown codec byte ${codec} (corrupted, or written by a newer cairn)`, {
    details: { object: what },
  });
}

/**
 * The stored form of an object: one codec byte, then the payload.
 *   0x00  raw: the payload is the content
 *   0x01  deflate: the payload is raw DEFLATE (RFC 1951) of the content
 * An object is compressed only when that makes it smaller.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { IntegrityError } from '../errors.js';

export const CODEC_RAW = 0;
export const CODEC_DEFLATE = 1;

const deflateRawAsync = promisify(zlib.deflateRaw);
const inflateRawAsync = promisify(zlib.inflateRaw);
const DEFLATE_OPTS: zlib.ZlibOptions = { level: 1, memLevel: 9 };

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

/** Encodes content to its stored form, compressing only when it saves space. */
export async function encodeObject(content: Buffer, compress: boolean): Promise<Buffer> {
  if (!compress || content.length <= MIN_COMPRESS) return frame(CODEC_RAW, content);
  if (content.length > SAMPLE * 4) {
    // Incompressible data (media, archives, random) is detected on a sample, so it costs little.
    const sample = zlib.deflateRawSync(content.subarray(0, SAMPLE), DEFLATE_OPTS);
    if (sample.length > SAMPLE * 0.95) return frame(CODEC_RAW, content);
  }
  const packed =
    content.length >= ASYNC_THRESHOLD ? await deflateRawAsync(content, DEFLATE_OPTS) : zlib.deflateRawSync(content, DEFLATE_OPTS);
  return packed.length < content.length ? frame(CODEC_DEFLATE, packed) : frame(CODEC_RAW, content);
}

/** Synchronous encodeObject, for small objects where a thread-pool round trip costs more than the work. */
export function encodeObjectSync(content: Buffer, compress: boolean): Buffer {
  if (!compress || content.length <= MIN_COMPRESS) return frame(CODEC_RAW, content);
  if (content.length > SAMPLE * 4) {
    const sample = zlib.deflateRawSync(content.subarray(0, SAMPLE), DEFLATE_OPTS);
    if (sample.length > SAMPLE * 0.95) return frame(CODEC_RAW, content);
  }
  const packed = zlib.deflateRawSync(content, DEFLATE_OPTS);
  return packed.length < content.length ? frame(CODEC_DEFLATE, packed) : frame(CODEC_RAW, content);
}

/** Synchronous decodeObject, for small objects. */
export function decodeObjectSync(stored: Buffer, what: string): Buffer {
  if (stored.length === 0) throw new IntegrityError(`${what} is empty (truncated)`, { details: { object: what } });
  const codec = stored[0];
  const payload = stored.subarray(1);
  if (codec === CODEC_RAW) return payload;
  if (codec === CODEC_DEFLATE) {
    try {
      return zlib.inflateRawSync(payload);
    } catch (err) {
      throw new IntegrityError(`${what} cannot be decompressed (corrupted)`, { cause: err, details: { object: what } });
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
  if (codec === CODEC_DEFLATE) {
    try {
      return payload.length >= ASYNC_THRESHOLD ? await inflateRawAsync(payload) : zlib.inflateRawSync(payload);
    } catch (err) {
      throw new IntegrityError(`${what} cannot be decompressed (corrupted)`, { cause: err, details: { object: what } });
    }
  }
  throw new IntegrityError(`${what} has unknown codec byte ${codec} (corrupted, or written by a newer cairn)`, {
    details: { object: what },
  });
}

/**
 * storeStream hands stores views of the chunker's reused buffer. A store that
 * finishes with a chunk later (the asynchronous path of large chunks) must
 * get a copy of its own, or the next chunks overwrite it before it is written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChunkerParams } from '../../../src/chunk/chunkerParams.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import type { ObjectWriter, PutResult, SyncObjectWriter } from '../../../src/store/objectStore.js';
import { storeStream } from '../../../src/snapshot/contentWriter.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A store that looks at what it was given only after a few event-loop turns, as a thread-pool write does. */
function slowStore(seen: Map<string, Buffer>, sync: boolean): ObjectWriter | SyncObjectWriter {
  const put = async (content: Buffer, id?: ObjectId): Promise<PutResult> => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    seen.set(id!, content);
    return { id: id!, written: true, storedBytes: content.length };
  };
  const base = {
    put,
    get: async () => Buffer.alloc(0),
    has: async () => false,
    storedSize: async () => undefined,
    list: async function* () {},
    flush: async () => undefined,
    delete: async () => undefined,
  };
  if (!sync) return base;
  return {
    ...base,
    needsFlush: false,
    putSync(content: Buffer, id: ObjectId): PutResult {
      // Synchronous: whatever it keeps it copies now, as FsObjectStore encodes and writes before returning.
      seen.set(id, Buffer.from(content));
      return { id, written: true, storedBytes: content.length };
    },
  };
}

function reader(data: Buffer, step: number) {
  let pos = 0;
  return async (buf: Buffer, off: number, len: number) => {
    const n = Math.min(len, step, data.length - pos);
    data.copy(buf, off, pos, pos + n);
    pos += n;
    return n;
  };
}

describe('storeStream', () => {
  it.each([
    ['large content-defined chunks, stored asynchronously', { kind: 'cdc', min: 64 * 1024, avg: 128 * 1024, max: 256 * 1024 } as ChunkerParams, false],
    ['large chunks through a store that also has putSync', { kind: 'cdc', min: 64 * 1024, avg: 128 * 1024, max: 256 * 1024 } as ChunkerParams, true],
    ['8 KiB fixed chunks stored synchronously', { kind: 'fixed', size: 8192 } as ChunkerParams, true],
  ] as const)('gives the store the exact bytes of every chunk: %s', async (_what, params, sync) => {
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    const seen = new Map<string, Buffer>();
    const r = await storeStream(slowStore(seen, sync), reader(data, 100_000), params);
    expect(r.size).toBe(data.length);
    expect(Buffer.concat(r.chunks.map((id) => seen.get(id)!)).equals(data)).toBe(true);
    for (const [id, content] of seen) expect(sha(content)).toBe(id);
  });
});

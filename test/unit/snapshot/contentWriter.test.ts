/**
 * storeStream hands stores views of the chunker's reused buffer. A store that
 * finishes with a chunk later (the asynchronous path of large chunks) must
 * get a copy of its own, or the next chunks overwrite it before it is written.
 */
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChunkerParams } from '../../../src/chunk/chunkerParams.js';
import type { Compression } from '../../../src/store/objectCodec.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import type { ObjectWriter, PutResult, SharedChunkSink, SyncObjectWriter } from '../../../src/store/objectStore.js';
import { StagedChunks, storeStream } from '../../../src/snapshot/contentWriter.js';
import { sharedScanBuffer } from '../../../src/chunk/gearScan.js';
import { content } from '../../property/treeArb.js';

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

/**
 * A store with a shared sink that reads a chunk's bytes from the shared buffer only after a random number of
 * event-loop turns, as the staging worker does: chunkStream must not move the buffer's tail over a region whose
 * chunks are not done, or the bytes written would differ from the bytes hashed.
 */
function sharedStore(seen: Map<string, Buffer>, turns: () => number, used = { hashed: 0, unhashed: 0 }): SyncObjectWriter {
  const store = slowStore(seen, true) as SyncObjectWriter;
  return {
    ...store,
    sharedSink(shared: SharedArrayBuffer): SharedChunkSink {
      const view = Buffer.from(shared);
      return {
        async put(offset, length, id) {
          used.hashed++;
          for (let i = turns(); i > 0; i--) await new Promise((r) => setImmediate(r));
          const bytes = Buffer.from(view.subarray(offset, offset + length));
          expect(sha(bytes)).toBe(id);
          seen.set(id, bytes);
          return { id, written: true, storedBytes: length };
        },
        // As the staging worker does: the bytes hashed (and stored) only when it comes to them.
        async putUnhashed(offset, length) {
          used.unhashed++;
          for (let i = turns(); i > 0; i--) await new Promise((r) => setImmediate(r));
          const bytes = Buffer.from(view.subarray(offset, offset + length));
          const id = sha(bytes) as ObjectId;
          seen.set(id, bytes);
          return { id, written: true, storedBytes: length };
        },
        release() {},
      };
    },
  };
}

describe('storeStream through a shared sink', () => {
  // Chunks over 64 KiB go to the sink (smaller ones are stored synchronously); the shared buffer is 1 MiB.
  const params = { kind: 'cdc', min: 72 * 1024, avg: 128 * 1024, max: 256 * 1024 } as ChunkerParams;

  it('hands over every large chunk with the bytes that were hashed, whatever the sink and the reads take', async () => {
    const used = { hashed: 0, unhashed: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3_000_000 }), fc.integer({ min: 1, max: 700_000 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (size, step, seed) => {
        const data = randomBytes(size);
        let x = seed || 1;
        const turns = () => {
          x = (x * 1103515245 + 12345) & 0x7fffffff;
          return x % 12;
        };
        const seen = new Map<string, Buffer>();
        const r = await storeStream(sharedStore(seen, turns, used), reader(data, step), params, { parallel: true });
        expect(r.size).toBe(size);
        expect(Buffer.concat(r.chunks.map((id) => seen.get(id)!)).equals(data)).toBe(true);
      }),
      { numRuns: 40 },
    );
    // Both ways were taken: chunks hashed here (the sink had several queued) and chunks the sink hashed.
    expect(used.hashed).toBeGreaterThan(0);
    expect(used.unhashed).toBeGreaterThan(0);
  });

  it('is not used for a chunker whose chunks are all stored synchronously (a database\'s pages)', async () => {
    const data = randomBytes(3_000_000);
    let asked = 0;
    const base = sharedStore(new Map(), () => 0);
    const store: SyncObjectWriter = { ...base, sharedSink: (sab) => (asked++, base.sharedSink!(sab)) };
    let reads = 0;
    const read = reader(data, 1 << 20);
    const r = await storeStream(store, (buf, off, len) => (reads++, read(buf, off, len)), { kind: 'fixed', size: 8192 }, { parallel: true });
    expect(r.chunks).toHaveLength(Math.ceil(data.length / 8192));
    expect(asked).toBe(0);
    expect(reads).toBeLessThan(10); // read ~1 MiB at a time, not a few pages at a time
  });

  it('cuts the same chunks as without one', async () => {
    const data = randomBytes(2_000_000);
    const plain = await storeStream(slowStore(new Map(), true), reader(data, 65_536), params);
    const viaSink = await storeStream(sharedStore(new Map(), () => 3), reader(data, 65_536), params, { parallel: true });
    expect(viaSink.chunks).toEqual(plain.chunks);
  });

  it('fails with the sink failure, after every chunk handed over has settled', async () => {
    const data = randomBytes(2_000_000);
    let settled = 0;
    let handed = 0;
    const base = slowStore(new Map(), true) as SyncObjectWriter;
    const store: SyncObjectWriter = {
      ...base,
      sharedSink: (shared) => {
        const stage = async (id: ObjectId) => {
          const n = ++handed;
          for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
          settled++;
          if (n === 3) throw new Error('ENOSPC: injected');
          return { id, written: true, storedBytes: 1 };
        };
        return {
          put: (_offset, _length, id) => stage(id),
          putUnhashed: (offset, length) => stage(sha(Buffer.from(shared, offset, length)) as ObjectId),
          release() {},
        };
      },
    };
    await expect(storeStream(store, reader(data, 65_536), params, { parallel: true })).rejects.toThrow(/ENOSPC/);
    expect(handed).toBeGreaterThanOrEqual(3);
    expect(settled).toBe(handed);
  });
});

describe('StagedChunks', () => {
  it('waits, before a part of the buffer is reused, for the chunks in it, in the buffer\'s positions though it does not start its memory', async () => {
    const buffer = sharedScanBuffer(1024 * 1024);
    // The chunking buffer lies after the scanner's gear table: a chunk's byteOffset is not its place in the buffer.
    expect(buffer.byteOffset).toBeGreaterThan(0);
    const half = buffer.length / 2;
    const staged = new StagedChunks(buffer);
    const later = () => {
      let settle!: () => void;
      const done = new Promise<void>((resolve) => (settle = resolve));
      return { done, settle };
    };
    // A chunk that starts just before the middle and runs into the second half, one at the very end, one at the start.
    const across = later();
    const atEnd = later();
    const atStart = later();
    staged.add(buffer.subarray(half - 100, half + 100), across.done);
    staged.add(buffer.subarray(buffer.length - 10), atEnd.done);
    staged.add(buffer.subarray(0, 64), atStart.done);
    const drained = (p: Promise<void>) => {
      const state = { done: false };
      void p.then(() => (state.done = true));
      return state;
    };
    const turns = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    // After the chunk across the middle: nothing of the rest of the second half is in use but the last chunk.
    const tail = drained(staged.drain(half + 100, buffer.length - 10));
    await turns();
    expect(tail.done).toBe(true);
    const first = drained(staged.drain(0, half));
    await turns();
    expect(first.done).toBe(false);
    atStart.settle();
    await turns();
    expect(first.done).toBe(false); // still the chunk that runs over the middle
    across.settle();
    await turns();
    expect(first.done).toBe(true);
    const second = drained(staged.drain(half, buffer.length));
    await turns();
    expect(second.done).toBe(false);
    atEnd.settle();
    await turns();
    expect(second.done).toBe(true);
    expect(() => staged.add(Buffer.alloc(10), Promise.resolve())).toThrow(/outside the shared chunking buffer/);
  });
});

describe('storeStream with a chunking buffer lent by the caller', () => {
  const params = { kind: 'cdc', min: 72 * 1024, avg: 128 * 1024, max: 256 * 1024 } as ChunkerParams;

  /** A reader that also notes which memory it was asked to read into. */
  function noting(data: Buffer, into: Set<ArrayBufferLike>) {
    const read = reader(data, 100_000);
    return (buf: Buffer, off: number, len: number) => (into.add(buf.buffer), read(buf, off, len));
  }

  it.each([
    ['a store without putSync (large chunks written later)', false],
    ['a store with putSync', true],
  ] as const)('cuts in it, and nothing the store keeps is a view of it once settled: %s', async (_what, sync) => {
    const lent = Buffer.alloc(1 << 20);
    const seen = new Map<string, Buffer>();
    const store = slowStore(seen, sync);
    const files = [content(2_500_000, 7), randomBytes(1_700_000), content(900_000, 8)];
    const results = [];
    for (const data of files) {
      const used = new Set<ArrayBufferLike>();
      results.push(await storeStream(store, noting(data, used), params, { buffer: lent }));
      expect([...used]).toEqual([lent.buffer]);
      // The caller lends it to the next file at once: whatever the store kept must not change with it.
      lent.fill(0xee);
    }
    results.forEach((r, i) => expect(Buffer.concat(r.chunks.map((id) => seen.get(id)!)).equals(files[i]!)).toBe(true));
    for (const [id, kept] of seen) expect(sha(kept)).toBe(id);
  });

  it('is not used when smaller than twice the largest chunk', async () => {
    const lent = Buffer.alloc(2 * 256 * 1024 - 1);
    const used = new Set<ArrayBufferLike>();
    const data = randomBytes(1_000_000);
    const r = await storeStream(slowStore(new Map(), true), noting(data, used), params, { buffer: lent });
    expect(r.size).toBe(data.length);
    expect(used.has(lent.buffer)).toBe(false);
  });

  /** A store with putSync whose objects are compressed with `codec` unless a put names one, counting its calls. */
  function countingStore(seen: Map<string, Buffer>, codec: Compression | undefined) {
    const calls = { sync: 0, async: 0, largeSync: 0 };
    const base = slowStore(seen, true) as SyncObjectWriter;
    const store: SyncObjectWriter = {
      ...base,
      ...(codec ? { defaultCompression: codec } : {}),
      put: (c, id, comp) => (calls.async++, base.put(c, id, comp)),
      putSync: (c, id, comp) => {
        calls.sync++;
        if (c.length > 64 * 1024) calls.largeSync++;
        return base.putSync(c, id, comp);
      },
    };
    return { store, calls };
  }

  it.each([
    ['snappy by default: synchronously, without a copy each', 'snappy', undefined, true],
    ['none by default: synchronously', 'none', undefined, true],
    ['snappy named by the caller: synchronously', 'deflate', 'snappy', true],
    ['deflate by default: the asynchronous put, a copy each', 'deflate', undefined, false],
    ['deflate named by the caller (a changed file): the asynchronous put', 'snappy', 'deflate', false],
    ['a store that does not say its codec: the asynchronous put', undefined, undefined, false],
  ] as const)('stores large chunks through a store with putSync and no shared sink, %s', async (_what, codec, named, synchronously) => {
    const seen = new Map<string, Buffer>();
    const { store, calls } = countingStore(seen, codec);
    const data = randomBytes(3_000_000);
    const r = await storeStream(store, reader(data, 100_000), params, named ? { compression: named } : {});
    if (synchronously) {
      expect(calls.async).toBe(0);
      expect(calls.largeSync).toBeGreaterThan(0);
    } else {
      expect(calls.largeSync).toBe(0);
      expect(calls.async).toBeGreaterThan(0);
    }
    expect(calls.sync + calls.async).toBe(r.chunks.length);
    expect(Buffer.concat(r.chunks.map((id) => seen.get(id)!)).equals(data)).toBe(true);
  });
});

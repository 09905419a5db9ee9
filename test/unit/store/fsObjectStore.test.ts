import * as buffer from 'node:buffer';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import fsModule from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import { shardDirsToSync } from '../../../src/store/batchDurable.js';
import { FsObjectStore } from '../../../src/store/fsObjectStore.js';
import { decodeObject, decodeObjectTransient, encodeObject, encodeObjectSync, CODEC_DEFLATE, CODEC_RAW, CODEC_SNAPPY, COMPRESSIONS, MAX_OBJECT_CONTENT, type Compression } from '../../../src/store/objectCodec.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { sha256Hex } from '../../../src/util/hash.js';
import { tempDir } from '../../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The built flush worker (`npm test` builds first): the TypeScript sources have no worker entry of their own. */
const FLUSHER = fileURLToPath(new URL('../../../dist/src/store/flushThread.js', import.meta.url));

function newStore(compression: Compression = 'snappy', flusherScript: string | false = FLUSHER): FsObjectStore {
  const d = tempDir('cairn-store-');
  dirs.push(d);
  fs.mkdirSync(path.join(d, 'tmp'));
  return new FsObjectStore(path.join(d, 'objects'), { tempDir: path.join(d, 'tmp'), compression, flusherScript });
}

describe('object codec', () => {
  it('round-trips and compresses only when it saves space', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 70000 }), fc.string({ maxLength: 30000 }).map((t) => new TextEncoder().encode(t.repeat(3)))),
        fc.constantFrom(...COMPRESSIONS),
        async (data, compression) => {
          const buf = Buffer.from(data);
          const stored = await encodeObject(buf, compression);
          expect(stored.length).toBeLessThanOrEqual(buf.length + 1);
          expect(encodeObjectSync(buf, compression).equals(stored)).toBe(true);
          expect((await decodeObject(stored, 'x')).equals(buf)).toBe(true);
          expect(decodeObjectTransient(stored, 'x').equals(buf)).toBe(true);
        },
      ),
      { numRuns: 90 },
    );
    const text = Buffer.from('abc'.repeat(30000));
    expect((await encodeObject(text, 'deflate'))[0]).toBe(CODEC_DEFLATE);
    expect((await encodeObject(text, 'snappy'))[0]).toBe(CODEC_SNAPPY);
    expect(encodeObjectSync(text.subarray(0, 9000), 'snappy')[0]).toBe(CODEC_SNAPPY);
    expect((await encodeObject(text, 'none'))[0]).toBe(CODEC_RAW);
    expect((await encodeObject(randomBytes(100000), 'snappy'))[0]).toBe(CODEC_RAW);
  });

  it('refuses a damaged snappy payload, and one claiming a huge length, as corrupted', async () => {
    const text = Buffer.from('compressible text '.repeat(5000));
    for (const size of [9000, text.length]) {
      const stored = await encodeObject(text.subarray(0, size), 'snappy');
      expect(stored[0]).toBe(CODEC_SNAPPY);
      const cut = stored.subarray(0, stored.length - 20);
      await expect(decodeObject(cut, 'x')).rejects.toBeInstanceOf(IntegrityError);
      expect(() => decodeObjectTransient(cut, 'x')).toThrow(IntegrityError);
    }
    // A varint header of 2^35-1 bytes: refused before anything is allocated.
    const huge = Buffer.from([CODEC_SNAPPY, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0]);
    await expect(decodeObject(huge, 'x')).rejects.toThrow(/corrupted snappy header/);
    expect(() => decodeObjectTransient(huge, 'x')).toThrow(/corrupted snappy header/);
  });

  it('refuses a deflate payload that inflates past the largest object (a "bomb"), sync and async, as damage naming the object', async () => {
    // MAX_OBJECT_CONTENT + 1 zero bytes in about half a MiB of DEFLATE, made as a stream (never held whole here).
    const zeros = Buffer.alloc(1024 * 1024);
    const deflater = zlib.createDeflateRaw({ level: 9 });
    const parts: Buffer[] = [Buffer.of(CODEC_DEFLATE)];
    deflater.on('data', (c: Buffer) => parts.push(c));
    const ended = new Promise((resolve) => deflater.on('end', resolve));
    for (let left = MAX_OBJECT_CONTENT + 1; left > 0; left -= zeros.length) deflater.write(zeros.subarray(0, Math.min(left, zeros.length)));
    deflater.end();
    await ended;
    const bomb = Buffer.concat(parts);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const what = `object ${'c'.repeat(64)}`;
    const sync = (() => {
      try {
        decodeObjectTransient(bomb, what);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(sync).toBeInstanceOf(IntegrityError);
    expect((sync as Error).message).toBe(`${what} inflates to more than 512 MiB, more than any object holds (damaged or crafted)`);
    expect((sync as IntegrityError).details).toEqual({ object: what });
    await expect(decodeObject(bomb, what)).rejects.toThrow(`${what} inflates to more than 512 MiB`);
    // The largest chunk a repository can be configured to cut (64 MiB) stays well inside the limit.
    const big = Buffer.alloc(64 * 1024 * 1024, 0x61);
    const stored = await encodeObject(big, 'deflate');
    expect(stored[0]).toBe(CODEC_DEFLATE);
    expect((await decodeObject(stored, 'x')).equals(big)).toBe(true);
    expect(MAX_OBJECT_CONTENT).toBeGreaterThanOrEqual(buffer.constants.MAX_STRING_LENGTH); // every tree JSON can parse
  }, 60_000);

  it('rejects an unknown codec byte and an empty object', async () => {
    await expect(decodeObject(Buffer.from([7, 1, 2]), 'x')).rejects.toBeInstanceOf(IntegrityError);
    await expect(decodeObject(Buffer.alloc(0), 'x')).rejects.toBeInstanceOf(IntegrityError);
  });
});

describe('FsObjectStore', () => {
  it('puts and gets by SHA-256 of the content, at objects/ab/cd/<id>', async () => {
    const s = newStore();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), async (data) => {
        const buf = Buffer.from(data);
        const r = await s.put(buf);
        expect(r.id).toBe(sha256Hex(buf));
        await s.flush();
        expect(fs.existsSync(path.join(s.root, r.id.slice(0, 2), r.id.slice(2, 4), r.id))).toBe(true);
        expect((await s.get(r.id)).equals(buf)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('stores the same content once', async () => {
    const s = newStore();
    const data = Buffer.from('same content');
    const [a, b] = await Promise.all([s.put(data), s.put(data)]);
    expect(a.id).toBe(b.id);
    expect([a.written, b.written].filter(Boolean)).toHaveLength(1);
    await s.flush();
    expect((await s.put(data)).written).toBe(false);
    const all: string[] = [];
    for await (const id of s.list()) all.push(id);
    expect(all).toEqual([a.id]);
  });

  it('keeps unflushed objects out of objects/ (a crash leaves only temp files)', async () => {
    const s = newStore();
    const r = await s.put(Buffer.from('pending'));
    expect(fs.existsSync(s.pathOf(r.id))).toBe(false);
    expect((await s.get(r.id)).toString()).toBe('pending');
    await s.flush();
    expect(fs.existsSync(s.pathOf(r.id))).toBe(true);
  });

  it('detects a flipped bit, truncation and a missing object on read', async () => {
    const s = newStore(false);
    const r = await s.put(Buffer.from('precious data '.repeat(100)));
    await s.flush();
    const file = s.pathOf(r.id);
    const orig = fs.readFileSync(file);
    const flipped = Buffer.from(orig);
    flipped[50]! ^= 0x01;
    fs.writeFileSync(file, flipped);
    await expect(s.get(r.id)).rejects.toThrow(/corrupted/);
    fs.writeFileSync(file, orig.subarray(0, 10));
    await expect(s.get(r.id)).rejects.toBeInstanceOf(IntegrityError);
    fs.rmSync(file);
    await expect(s.get(r.id)).rejects.toThrow(/missing/);
    await expect(s.get('0'.repeat(64) as ObjectId)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('reads objects of every size, on both sides of the synchronous-read limit, pending or flushed', async () => {
    const s = newStore();
    for (const size of [0, 1, 4096, 256 * 1024 - 1, 256 * 1024 + 7, 3 * 1024 * 1024]) {
      const buf = randomBytes(size);
      const r = await s.put(buf);
      expect((await s.get(r.id)).equals(buf)).toBe(true); // from its temp file
      await s.flush();
      expect((await s.get(r.id)).equals(buf)).toBe(true);
      if (size > 0) {
        const file = path.join(s.root, r.id.slice(0, 2), r.id.slice(2, 4), r.id);
        fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
        await expect(s.get(r.id)).rejects.toBeInstanceOf(IntegrityError);
      }
    }
  });

  it('flushes a small batch (fsync per file) and a large one (syncfs) into place, leaving no temp files', async () => {
    for (const count of [1, 5, 32, 33, 200]) {
      const s = newStore();
      const tmp = path.join(path.dirname(s.root), 'tmp');
      const ids: ObjectId[] = [];
      for (let i = 0; i < count; i++) ids.push((await s.put(Buffer.from(`object ${count}/${i}`))).id);
      expect(fs.readdirSync(tmp)).toHaveLength(count);
      await s.flush();
      expect(fs.readdirSync(tmp)).toHaveLength(0);
      for (const id of ids) expect(fs.existsSync(path.join(s.root, id.slice(0, 2), id.slice(2, 4), id))).toBe(true);
      // A second batch lands in directories that may already exist.
      const more = await s.put(Buffer.from(`more ${count}`));
      await s.flush();
      expect((await s.get(more.id)).toString()).toBe(`more ${count}`);
    }
  });

  it('getSync returns what get returns and verifies the same way', async () => {
    const s = newStore();
    const text = Buffer.from('compressible '.repeat(2000));
    for (const buf of [Buffer.alloc(0), randomBytes(100), text]) {
      const r = await s.put(buf);
      expect(s.getSync(r.id).equals(buf)).toBe(true); // pending
      await s.flush();
      expect(s.getSync(r.id).equals(await s.get(r.id))).toBe(true);
    }
    const r = await s.put(text.subarray(1));
    await s.flush();
    const file = path.join(s.root, r.id.slice(0, 2), r.id.slice(2, 4), r.id);
    const stored = fs.readFileSync(file);
    stored[stored.length - 3] ^= 0x40;
    fs.writeFileSync(file, stored);
    expect(() => s.getSync(r.id)).toThrow(IntegrityError);
    fs.rmSync(file);
    expect(() => s.getSync(r.id)).toThrow(/missing/);
  });

  it('getSync reads stored objects of every size around its first read (16 KiB) whole', async () => {
    const s = newStore('none');
    const got: Array<[Buffer, Buffer]> = [];
    // Stored size = 1 codec byte + content: below, at, just above and far above the first read.
    for (const stored of [1, 2, 100, 16383, 16384, 16385, 32768, 32769, 3 * 1024 * 1024 + 5, 200]) {
      const buf = randomBytes(stored - 1);
      const r = await s.put(buf);
      await s.flush();
      expect(fs.statSync(path.join(s.root, r.id.slice(0, 2), r.id.slice(2, 4), r.id)).size).toBe(stored);
      const content = s.getSync(r.id);
      expect(content.equals(buf)).toBe(true);
      got.push([content, buf]);
    }
    // The reads share a scratch buffer: what each returned is still its own, after all the others.
    for (const [content, buf] of got) expect(content.equals(buf)).toBe(true);
  });

  it('reads objects of a batch being moved into place in the background, and reports a failed batch', async () => {
    const s = newStore();
    const bufs = Array.from({ length: 200 }, (_, i) => Buffer.from(`object ${i} `.repeat(i % 7 === 0 ? 600 : 3)));
    const ids = bufs.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id);
    await s.flush({ wait: false }); // handed over; not awaited
    for (let i = 0; i < bufs.length; i++) expect(s.getSync(ids[i]!).equals(bufs[i]!)).toBe(true);
    for (let i = 0; i < bufs.length; i += 17) expect((await s.get(ids[i]!)).equals(bufs[i]!)).toBe(true);
    await s.flush();
    for (const id of ids) expect(fs.existsSync(path.join(s.root, id.slice(0, 2), id.slice(2, 4), id))).toBe(true);
    const tmp = path.join(path.dirname(s.root), 'tmp');
    expect(fs.readdirSync(tmp)).toEqual([]);

    // A batch whose temp files vanish cannot be moved into place: flush() fails with an I/O error, abort() cleans up.
    const more = Array.from({ length: 60 }, (_, i) => Buffer.from(`more ${i}`));
    for (const b of more) s.putSync(b, sha256Hex(b) as ObjectId);
    fs.rmSync(path.join(tmp, fs.readdirSync(tmp)[5]!));
    await expect(s.flush()).rejects.toThrow(/cannot store objects/);
    await s.abort();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('sends a batch while the one before is in flight; a batch after a failed one fails too, with nothing of it in place', async () => {
    const s = newStore();
    const tmp = path.join(path.dirname(s.root), 'tmp');
    const first = Array.from({ length: 60 }, (_, i) => Buffer.from(`first batch ${i}`));
    for (const b of first) s.putSync(b, sha256Hex(b) as ObjectId);
    fs.rmSync(path.join(tmp, fs.readdirSync(tmp).sort()[7]!)); // the first batch cannot be moved into place
    await s.flush({ wait: false }); // sent, not awaited
    const second = Array.from({ length: 60 }, (_, i) => Buffer.from(`second batch ${i}`));
    const ids = second.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id);
    await s.flush({ wait: false }); // sent at once, behind the first
    const few = Array.from({ length: 5 }, (_, i) => Buffer.from(`a small batch after them ${i}`));
    for (const b of few) s.putSync(b, sha256Hex(b) as ObjectId); // a small batch, made durable here after them
    await expect(s.flush()).rejects.toThrow(/cannot store objects/);
    // Nothing of the second batch is in place: objects are never there before those put before them.
    for (const id of ids) expect(fs.existsSync(path.join(s.root, id.slice(0, 2), id.slice(2, 4), id))).toBe(false);
    await s.abort();
    expect(fs.readdirSync(tmp)).toEqual([]);
    // The store works again after abort().
    const again = Buffer.from('after the abort');
    const id = s.putSync(again, sha256Hex(again) as ObjectId).id;
    await s.flush();
    expect(s.getSync(id).equals(again)).toBe(true);
  });

  it('holds at most two large batches in flight: sending a third waits until the first is in place', async () => {
    const s = newStore();
    const batches = Array.from({ length: 5 }, (_, k) => Array.from({ length: 60 }, (_, i) => Buffer.from(`batch ${k} object ${i}`)));
    const ids: ObjectId[][] = [];
    const inPlace = (id: ObjectId) => fs.existsSync(path.join(s.root, id.slice(0, 2), id.slice(2, 4), id));
    for (const [k, batch] of batches.entries()) {
      ids.push(batch.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id));
      await s.flush({ wait: false });
      // Once the third is sent, the first is done (the worker takes batches in order), the fourth the second, ...
      if (k >= 2) for (const id of ids[k - 2]!) expect(inPlace(id)).toBe(true);
    }
    await s.flush();
    for (const [k, batch] of batches.entries()) for (const [i, b] of batch.entries()) expect(s.getSync(ids[k]![i]!).equals(b)).toBe(true);
  });

  it('after a few hundred small objects, their temp files are written by the flush worker: read from memory until then, flushed into place', async () => {
    const s = newStore();
    const bufs = Array.from({ length: 700 }, (_, i) => Buffer.from(`small object ${i} `.repeat(1 + (i % 50))));
    const ids = bufs.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id);
    const tmp = path.join(path.dirname(s.root), 'tmp');
    // The last ones are not even sent to the worker yet (fewer than a group): only in memory, and read from there.
    expect(fs.readdirSync(tmp).length).toBeLessThan(bufs.length);
    for (let i = 0; i < bufs.length; i++) expect(s.getSync(ids[i]!).equals(bufs[i]!)).toBe(true);
    for (let i = 0; i < bufs.length; i += 37) expect((await s.get(ids[i]!)).equals(bufs[i]!)).toBe(true);
    expect(s.putSync(bufs[650]!, ids[650]!).written).toBe(false); // pending, though unwritten: stored once
    await s.flush();
    for (let i = 0; i < bufs.length; i++) {
      expect(fs.existsSync(path.join(s.root, ids[i]!.slice(0, 2), ids[i]!.slice(2, 4), ids[i]!))).toBe(true);
      expect(s.getSync(ids[i]!).equals(bufs[i]!)).toBe(true);
    }
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('writes deferred small objects with the codec asked for, and reports the bytes it stores', async () => {
    const s = newStore('snappy');
    const bufs = Array.from({ length: 600 }, (_, i) => Buffer.from(`compressible object ${i} `.repeat(300 + (i % 40))));
    let reported = 0;
    const ids = bufs.map((b, i) => {
      const r = s.putSync(b, sha256Hex(b) as ObjectId, i % 2 === 0 ? 'deflate' : undefined); // a changed file's codec on half
      reported += r.storedBytes;
      return r.id;
    });
    expect(s.tempWrites.deferred).toBe(600 - 256);
    for (let i = 0; i < bufs.length; i += 7) expect(s.getSync(ids[i]!).equals(bufs[i]!)).toBe(true); // before and after their writes
    await s.flush();
    let onDisk = 0;
    for (let i = 0; i < bufs.length; i++) {
      const stored = fs.readFileSync(path.join(s.root, ids[i]!.slice(0, 2), ids[i]!.slice(2, 4), ids[i]!));
      onDisk += stored.length;
      expect(stored[0]).toBe(i % 2 === 0 ? CODEC_DEFLATE : CODEC_SNAPPY); // compressed, with the codec asked for
      expect(s.getSync(ids[i]!).equals(bufs[i]!)).toBe(true);
    }
    expect(reported).toBe(onDisk);
  });

  it('without a flush worker entry, makes batches durable on this thread and writes every temp file here', async () => {
    const s = newStore('snappy', false);
    const bufs = Array.from({ length: 400 }, (_, i) => Buffer.from(`object ${i} without a worker `.repeat(1 + (i % 30))));
    const ids = bufs.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id);
    await s.flush({ wait: false });
    const more = Array.from({ length: 100 }, (_, i) => Buffer.from(`second batch ${i}`));
    const moreIds = more.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id);
    await s.flush();
    expect(s.tempWrites).toEqual({ here: 500, deferred: 0 });
    for (const [i, id] of [...ids, ...moreIds].entries()) {
      expect(fs.existsSync(path.join(s.root, id.slice(0, 2), id.slice(2, 4), id))).toBe(true);
      expect(s.getSync(id).equals([...bufs, ...more][i]!)).toBe(true);
    }
    expect(fs.readdirSync(path.join(path.dirname(s.root), 'tmp'))).toEqual([]);
  });

  it('knows objects absent under shard directories that did not exist, without missing its own or earlier ones', async () => {
    const s = newStore();
    const early = Buffer.from('stored before this store first looked');
    const earlyId = sha256Hex(early) as ObjectId;
    const other = new FsObjectStore(s.root, { tempDir: path.join(path.dirname(s.root), 'tmp'), compression: 'snappy', flusherScript: FLUSHER }); // "another process", earlier
    other.putSync(early, earlyId);
    await other.flush();
    const a = Buffer.from('put, flushed, put again');
    const aId = sha256Hex(a) as ObjectId;
    expect(s.putSync(early, earlyId).written).toBe(false); // under a directory that existed: looked up
    expect(s.putSync(a, aId).written).toBe(true);
    await s.flush();
    expect(s.putSync(a, aId).written).toBe(false); // its own, after the flush: looked up
    // Many objects in a fresh store, each put twice across flushes: stored once each.
    const many = Array.from({ length: 300 }, (_, i) => Buffer.from(`shard check ${i}`));
    for (const b of many) expect(s.putSync(b, sha256Hex(b) as ObjectId).written).toBe(true);
    await s.flush();
    for (const b of many) expect(s.putSync(b, sha256Hex(b) as ObjectId).written).toBe(false);
  });


  it('under shard directories that did not exist, asks the file system only for ids sharing a prefix with its own, and answers exactly', async () => {
    // Ids from a few 22-bit prefixes: 0a1b2c and 0a1b2d share one, 0a1b20 and 0a1b9f only their directory (0a/1b)
    // with them, so that some probes share a prefix with an object put and some only its directory.
    const idArb = fc
      .tuple(fc.constantFrom('0a1b2c', '0a1b2d', '0a1b20', '0a1b9f', 'ffee00'), fc.bigInt({ min: 0n, max: (1n << 232n) - 1n }))
      .map(([p, r]) => (p + r.toString(16).padStart(58, '0')) as ObjectId);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(idArb, { minLength: 1, maxLength: 12 }), fc.uniqueArray(idArb, { maxLength: 12 }), async (put, probe) => {
        const s = newStore('snappy', false);
        fs.mkdirSync(s.root); // as init makes it: a store whose root cannot be listed knows nothing absent
        const mine = new Set<string>();
        for (const [i, id] of put.entries()) {
          s.putSync(Buffer.from(`object ${i}`), id);
          mine.add(id);
          if (i % 3 === 2) await s.flush();
        }
        await s.flush();
        const existsSync = fsModule.existsSync;
        const asked: string[] = [];
        fsModule.existsSync = (p: fs.PathLike): boolean => {
          asked.push(String(p));
          return existsSync(p);
        };
        syncBuiltinESMExports();
        try {
          for (const id of [...put, ...probe]) expect(s.hasSync(id)).toBe(mine.has(id));
        } finally {
          fsModule.existsSync = existsSync;
          syncBuiltinESMExports();
        }
        const prefixes = new Set([...mine].map((id) => Number.parseInt(id.slice(0, 6), 16) >>> 2));
        for (const p of asked) expect(prefixes.has(Number.parseInt(path.basename(p).slice(0, 6), 16) >>> 2)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
  it('the flush worker makes the shard directories of the temp files it writes before their batch; listing skips them while empty', async () => {
    // A batch made every one of its shard directories (nearly one per object in a first snapshot of a few tens of
    // thousands), and the snapshot waits for its last batch; the worker makes them with the temp files instead.
    const s = newStore();
    const bufs = Array.from({ length: 256 + 2 * 128 }, (_, i) => Buffer.from(`object ${i} whose shard directory comes early `.repeat(1 + (i % 20))));
    const ids = bufs.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id);
    const deferred = ids.slice(256); // two full groups, sent to the worker; nothing flushed yet
    const shardDir = (id: string): string => path.join(s.root, id.slice(0, 2), id.slice(2, 4));
    for (let waited = 0; waited < 10_000 && !deferred.every((id) => fs.existsSync(shardDir(id))); waited += 5) await new Promise((r) => setTimeout(r, 5));
    for (const id of deferred) {
      expect(fs.existsSync(shardDir(id))).toBe(true);
      expect(fs.existsSync(path.join(shardDir(id), id))).toBe(false); // only the directory: the object is not in place before its batch
    }
    const listed: string[] = [];
    for await (const id of s.list()) listed.push(id);
    expect(listed).toEqual([]); // what a crash now would leave: empty directories, which no reader takes for objects
    await s.flush();
    for (const [i, id] of ids.entries()) expect(s.getSync(id).equals(bufs[i]!)).toBe(true);
    const after: string[] = [];
    for await (const id of s.list()) after.push(id);
    expect(after.sort()).toEqual([...ids].sort());
  });

  it('a small batch of deferred objects syncs the parents of their shard directories, though the flush worker made them already', async () => {
    // The worker makes a deferred object's shard directory early and syncs nothing; the batch that renames the
    // object into it may be a small one, made durable here file by file. mkdir then finds the directory there, and
    // its name in its parent (and a new first-level directory's in the root) must still be synced, or a crash
    // could lose objects the manifest names.
    const s = newStore();
    for (let i = 0; i < 256; i++) {
      const b = Buffer.from(`first ${i}`);
      s.putSync(b, sha256Hex(b) as ObjectId);
    }
    await s.flush(); // the first 256, written here
    const bufs = Array.from({ length: 20 }, (_, i) => Buffer.from(`deferred into a small batch ${i} `.repeat(3)));
    const ids = bufs.map((b) => s.putSync(b, sha256Hex(b) as ObjectId).id); // deferred: their directories made by the worker
    expect(s.tempWrites.deferred).toBe(20);
    const shard = (id: string): string => path.join(s.root, id.slice(0, 2), id.slice(2, 4));
    const fresh = ids.filter((id) => !fs.existsSync(shard(id)));
    expect(fresh.length).toBeGreaterThan(10); // 20 random ids, 256 objects so far: nearly all new shard directories
    const synced: string[] = [];
    const fsyncSync = fsModule.fsyncSync;
    fsModule.fsyncSync = (fd: number): void => {
      synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      fsyncSync(fd);
    };
    syncBuiltinESMExports();
    try {
      await s.flush();
    } finally {
      fsModule.fsyncSync = fsyncSync;
      syncBuiltinESMExports();
    }
    for (const id of fresh) {
      expect(synced).toContain(shard(id));
      expect(synced).toContain(path.dirname(shard(id)));
    }
    expect(synced).toContain(s.root);
    for (const [i, id] of ids.entries()) expect(s.getSync(id).equals(bufs[i]!)).toBe(true);
  });

  it('shardDirsToSync: every shard directory, and the parent and root of each not known durable', () => {
    const root = '/r/objects';
    const dir = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 })).map(([a, b]) => `${root}/0${a}/0${b}`);
    fc.assert(
      fc.property(fc.array(dir, { maxLength: 20 }), fc.array(dir, { maxLength: 20 }), (dirs, known) => {
        const synced = new Set(known);
        const out = shardDirsToSync(root, dirs, synced);
        for (const d of dirs) {
          expect(out.has(d)).toBe(true);
          if (!synced.has(d)) {
            expect(out.has(path.dirname(d))).toBe(true);
            expect(out.has(root)).toBe(true);
          }
        }
        // Nothing else: no parent or root when every directory is known durable.
        for (const o of out) expect(dirs.includes(o) || dirs.some((d) => !synced.has(d) && (o === path.dirname(d) || o === root))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('reuses the shared buffers of temp files the worker has written without a turn of the event loop', async () => {
    // A snapshot's walk of many small files runs synchronously for long stretches. The worker's replies arrive
    // only at a turn of the event loop, so the buffers once ran out after 8 groups and the main thread went back
    // to creating the temp files itself (86% of them in the benchmark tree's first snapshot).
    const s = newStore();
    const tmp = path.join(path.dirname(s.root), 'tmp');
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const b = Buffer.from(`object ${i} written without a turn of the event loop `.repeat(1 + (i % 20)));
      s.putSync(b, sha256Hex(b) as ObjectId);
      if (i % 128 === 127) {
        // Synchronously, until the worker has written what it was sent (bounded: a slow machine only fails this).
        for (let waited = 0; waited < 10_000 && fs.readdirSync(tmp).length < i + 1 - 128; waited += 2) Atomics.wait(pause, 0, 0, 2);
      }
    }
    expect(s.tempWrites.here).toBe(256); // the first ones, before the worker takes over
    expect(s.tempWrites.deferred).toBe(n - 256);
    await s.flush();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('gives the shared buffer of a group that failed back on abort(), so failures do not use up the worker\'s buffers', async () => {
    const s = newStore();
    const tmp = path.join(path.dirname(s.root), 'tmp');
    const put = (text: string): boolean => {
      const b = Buffer.from(text);
      return s.putSync(b, sha256Hex(b) as ObjectId).written;
    };
    for (let i = 0; i < 300; i++) put(`past the first few hundred ${i}`);
    await s.flush();
    // More failed groups than there are shared buffers (8): each round's group fails (its temp directory is gone).
    for (let round = 0; round < 10; round++) {
      fs.rmSync(tmp, { recursive: true });
      for (let i = 0; i < 10; i++) put(`round ${round} object ${i}`); // left to the worker: no error here
      await expect(s.flush()).rejects.toThrow(/ENOENT/);
      await s.abort();
      fs.mkdirSync(tmp);
    }
    const before = s.tempWrites.deferred;
    for (let i = 0; i < 50; i++) put(`after the failures ${i}`);
    expect(s.tempWrites.deferred - before).toBe(50);
    await s.flush();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('a temp file the flush worker cannot write fails the flush, naming the object; abort() then finishes', async () => {
    const s = newStore();
    const bufs = Array.from({ length: 300 }, (_, i) => Buffer.from(`object ${i} of a failing batch`));
    const ids: ObjectId[] = [];
    bufs.forEach((b, i) => {
      // Written here up to a few hundred; the temp directory gone before the worker writes the rest.
      if (i === 290) fs.rmSync(path.join(path.dirname(s.root), 'tmp'), { recursive: true });
      ids.push(s.putSync(b, sha256Hex(b) as ObjectId).id);
    });
    const err = await s.flush().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^cannot write object [0-9a-f]{64}: .*ENOENT/);
    expect(ids).toContain(err!.message.slice('cannot write object '.length, 'cannot write object '.length + 64));
    await s.abort();
  });
});


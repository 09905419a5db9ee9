import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import * as snappy from 'snappy';
import { describe, expect, it } from 'vitest';
import { CODEC_SNAPPY, decodeObject, decodeObjectTransient, encodeObjectSync } from '../../../src/store/objectCodec.js';
import { FsObjectStore } from '../../../src/store/fsObjectStore.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { objectPath } from '../../../src/store/objectPath.js';
import { sha256Hex } from '../../../src/util/hash.js';
import { SnappyDecoder, WASM_SNAPPY_MAX } from '../../../src/store/snappyDecoder.js';
import { SNAPPY_DECODE_WASM } from '../../../src/store/snappyDecodeWasm.js';
import { IntegrityError } from '../../../src/errors.js';
import { CLI } from '../../helpers.js';
import { content as seeded } from '../../property/treeArb.js';

/** A snappy block's length varint. */
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** The varint's byte count at the start of a block. */
function headerLength(block: Buffer): number {
  let i = 0;
  while (block[i]! & 0x80) i++;
  return i + 1;
}

/** The WebAssembly decoder's result for a whole block (with its varint). */
function wasmDecode(block: Buffer): Buffer | null {
  const h = headerLength(block);
  let length = 0;
  for (let i = h - 1; i >= 0; i--) length = length * 128 + (block[i]! & 0x7f);
  const out = SnappyDecoder.get()!.decode(block.subarray(h), length);
  return out && Buffer.from(out);
}

/** The snappy package's result, or null where it refuses the block. */
function nativeDecode(block: Buffer): Buffer | null {
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch {
    return null;
  }
}

/** Content snappy compresses with every kind of element: runs, short and long repeats at many distances, literals. */
const compressible = fc
  .array(
    fc.oneof(
      fc.record({ kind: fc.constant('run' as const), byte: fc.integer({ min: 0, max: 255 }), n: fc.integer({ min: 1, max: 300 }) }),
      fc.record({ kind: fc.constant('literal' as const), seed: fc.integer({ min: 0, max: 2 ** 31 }), n: fc.integer({ min: 1, max: 5000 }) }),
      fc.record({ kind: fc.constant('repeat' as const), back: fc.integer({ min: 1, max: 70_000 }), n: fc.integer({ min: 1, max: 200 }) }),
      fc.record({ kind: fc.constant('pattern' as const), period: fc.integer({ min: 1, max: 20 }), seed: fc.integer({ min: 0, max: 255 }), n: fc.integer({ min: 1, max: 400 }) }),
    ),
    { maxLength: 60 },
  )
  .map((parts) => {
    const out: number[] = [];
    for (const p of parts) {
      if (p.kind === 'run') for (let i = 0; i < p.n; i++) out.push(p.byte);
      else if (p.kind === 'literal') out.push(...seeded(p.n, p.seed));
      else if (p.kind === 'pattern') for (let i = 0; i < p.n; i++) out.push((p.seed + (i % p.period) * 37) & 255);
      else if (out.length > 0) {
        const from = Math.max(0, out.length - p.back);
        for (let i = 0; i < p.n; i++) out.push(out[from + i]!);
      }
    }
    return Buffer.from(out);
  });

describe('snappy decoder (WebAssembly)', () => {
  it('is available here (the package decodes only where WebAssembly is not)', () => {
    expect(SnappyDecoder.get()).not.toBeNull();
  });

  it('the embedded module is the one snappyDecode.wat assembles to', async () => {
    // @ts-expect-error: a plain .mjs script, without types
    const { assembleSnappyDecode } = await import('../../../scripts/build-wasm.mjs');
    expect(((await assembleSnappyDecode()) as Buffer).toString('base64')).toBe(SNAPPY_DECODE_WASM);
  });

  it('decodes what the snappy package compresses, byte for byte', () => {
    fc.assert(
      fc.property(compressible, (content) => {
        const block = snappy.compressSync(content);
        // Buffer.equals, not toEqual: hundreds of KiB compared element by element took ~30 s over the runs.
        const got = wasmDecode(block);
        expect(got?.length).toBe(content.length);
        expect(got!.equals(content)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('every element form: literals with 1-4 length bytes, copies with 1, 2 and 4 offset bytes, overlapping copies of every short period', () => {
    const lit = (bytes: Buffer): Buffer => {
      const n = bytes.length - 1;
      if (n < 60) return Buffer.concat([Buffer.of(n << 2), bytes]);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(n);
      const k = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
      return Buffer.concat([Buffer.of((59 + k) << 2), len.subarray(0, k), bytes]);
    };
    const copy1 = (len: number, off: number) => Buffer.of(1 | ((len - 4) << 2) | ((off >> 8) << 5), off & 255);
    const copy2 = (len: number, off: number) => Buffer.of(2 | ((len - 1) << 2), off & 255, off >> 8);
    const copy4 = (len: number, off: number) => {
      const b = Buffer.alloc(5);
      b[0] = 3 | ((len - 1) << 2);
      b.writeUInt32LE(off, 1);
      return b;
    };
    const abc = seeded(70_000, 3);
    const cases: Array<[Buffer[], Buffer]> = [];
    for (const n of [1, 16, 17, 60, 61, 255, 256, 257, 65_536, 65_537, 70_000]) cases.push([[lit(abc.subarray(0, n))], abc.subarray(0, n)]);
    for (let period = 1; period <= 20; period++) {
      for (const len of [4, 7, 8, 11, 16, 17, 33, 64]) {
        const head = abc.subarray(0, period);
        const want = Buffer.alloc(period + len);
        head.copy(want);
        for (let i = period; i < want.length; i++) want[i] = want[i - period]!;
        cases.push([[lit(head), copy2(len, period)], want]);
        if (len <= 11) cases.push([[lit(head), copy1(len, period)], want]);
        cases.push([[lit(head), copy4(len, period)], want]);
      }
    }
    // A copy from far back (over 2 KiB: 2- and 4-byte offsets only), after a long literal.
    const far = Buffer.concat([abc.subarray(0, 5000), abc.subarray(1000, 1064)]);
    cases.push([[lit(abc.subarray(0, 5000)), copy2(64, 4000)], far]);
    cases.push([[lit(abc.subarray(0, 5000)), copy4(64, 4000)], far]);
    for (const [elements, want] of cases) {
      const block = Buffer.concat([varint(want.length), ...elements]);
      expect(wasmDecode(block)).toEqual(want);
      expect(nativeDecode(block)).toEqual(want); // the cases are valid snappy, as the package reads it
    }
  });

  it('refuses what the snappy package refuses, and decodes the same bytes where it does not, for any input', () => {
    const mutated = fc
      .tuple(compressible, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), fc.integer({ min: -3, max: 3 }))
      .map(([content, flips, cut, lengthDelta]) => {
        const block = Buffer.from(snappy.compressSync(content));
        const h = headerLength(block);
        for (const [at, byte] of flips) if (block.length > h) block[h + (at % (block.length - h))] = byte;
        const elements = block.subarray(h, h + (cut % (block.length - h + 1) || block.length));
        return Buffer.concat([varint(Math.max(0, content.length + lengthDelta)), elements]);
      });
    const anyBytes = fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.uint8Array({ maxLength: 200 })).map(([n, b]) => Buffer.concat([varint(n), Buffer.from(b)]));
    fc.assert(
      fc.property(fc.oneof(mutated, anyBytes), (block) => {
        expect(wasmDecode(block)).toEqual(nativeDecode(block));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses offsets of 0 or before the start, literals and trailers past the end, and output short of or past its length', () => {
    const bad = [
      Buffer.concat([varint(8), Buffer.of(0 << 2, 0x61), Buffer.of(2 | (6 << 2), 0, 0)]), // offset 0
      Buffer.concat([varint(8), Buffer.of(0 << 2, 0x61), Buffer.of(2 | (6 << 2), 2, 0)]), // 2 back from byte 1
      Buffer.concat([varint(5), Buffer.of(4 << 2, 1, 2, 3)]), // a literal of 5 with 3 bytes left
      Buffer.concat([varint(300), Buffer.of(61 << 2, 0x2b)]), // a 2-byte length with 1 byte left
      Buffer.concat([varint(4), Buffer.of(2 << 2, 1, 2, 3)]), // 3 bytes for a block of 4
      Buffer.concat([varint(2), Buffer.of(2 << 2, 1, 2, 3)]), // 3 bytes for a block of 2
      Buffer.concat([varint(70), Buffer.of(0 << 2, 0x61), Buffer.of(3 | (63 << 2), 1, 0, 0)]), // a 4-byte offset cut short
      Buffer.concat([varint(10), Buffer.of(63 << 2, 0xff, 0xff, 0xff, 0xff)]), // a literal of 2^32 bytes
    ];
    for (const block of bad) {
      expect(wasmDecode(block)).toBeNull();
      expect(nativeDecode(block)).toBeNull();
    }
  });

  it('grows its memory for a larger block, and a smaller one after it still decodes', () => {
    const big = Buffer.concat([seeded(WASM_SNAPPY_MAX / 2, 1), Buffer.alloc(WASM_SNAPPY_MAX / 2, 7)]);
    const small = Buffer.from('a small object a small object a small object');
    expect(wasmDecode(snappy.compressSync(small))).toEqual(small);
    expect(wasmDecode(snappy.compressSync(big))).toEqual(big);
    expect(wasmDecode(snappy.compressSync(small))).toEqual(small);
  });

  it('decodes objects up to the largest chunk (WASM_SNAPPY_MAX) in its memory, byte for byte as the package, and larger ones through the package', () => {
    // Text-like, repetitive and random stretches, as a source tree's or a big file's chunks hold.
    const chunkOf = (n: number, seed: number) =>
      Buffer.concat([Buffer.from('const x = require("y");\n'.repeat(Math.ceil(n / 48))), seeded(Math.ceil(n / 4), seed), Buffer.alloc(n, seed)]).subarray(0, n);
    for (const [n, seed] of [
      [300 * 1024, 1],
      [1024 * 1024 + 7, 2],
      [WASM_SNAPPY_MAX, 3],
    ] as const) {
      const content = chunkOf(n, seed);
      const stored = encodeObjectSync(content, 'snappy');
      expect(stored[0]).toBe(CODEC_SNAPPY);
      const view = decodeObjectTransient(stored, `chunk ${n}`);
      expect(SnappyDecoder.get()!.holds(view), `${n} bytes decoded in WebAssembly`).toBe(true);
      expect(view.equals(content)).toBe(true);
      expect(view.equals(nativeDecode(stored.subarray(1))!)).toBe(true);
    }
    const larger = chunkOf(WASM_SNAPPY_MAX + 1, 4);
    const decoded = decodeObjectTransient(encodeObjectSync(larger, 'snappy'), 'larger');
    expect(SnappyDecoder.get()!.holds(decoded)).toBe(false);
    expect(decoded.equals(larger)).toBe(true);
  });

  it('objects: decodeObjectTransient gives a view the next decode overwrites; decodeObject and the store\'s getSync give buffers of their own', async () => {
    const a = Buffer.concat([Buffer.alloc(5000, 1), seeded(3000, 2)]);
    const b = Buffer.concat([Buffer.alloc(5000, 9), seeded(3000, 4)]);
    const [sa, sb] = [encodeObjectSync(a, 'snappy'), encodeObjectSync(b, 'snappy')];
    expect(sa[0]).toBe(CODEC_SNAPPY);
    const owned = await decodeObject(sa, 'a');
    const view = decodeObjectTransient(sa, 'a');
    expect(owned).toEqual(a);
    expect(view).toEqual(a);
    expect(SnappyDecoder.get()!.holds(view)).toBe(true);
    expect(SnappyDecoder.get()!.holds(owned)).toBe(false);
    const next = decodeObjectTransient(sb, 'b');
    expect(next).toEqual(b);
    expect(next.buffer).toBe(view.buffer); // the same memory, decoded into again
    expect(owned).toEqual(a);
    // The store: what getSync returns stays the object's content after the next read.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-snappy-store-'));
    try {
      const store = new FsObjectStore(path.join(dir, 'objects'), { tempDir: path.join(dir, 'tmp'), compression: 'snappy', flusherScript: false });
      const ids = [a, b].map((content, i) => {
        const id = sha256Hex(content) as ObjectId;
        const p = objectPath(store.root, id);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, [sa, sb][i]!);
        return id;
      });
      const first = store.getSync(ids[0]!);
      expect(store.getSync(ids[1]!)).toEqual(b);
      expect(first).toEqual(a);
      expect(SnappyDecoder.get()!.holds(first)).toBe(false);
      expect(store.useSync(ids[0]!, (c) => SnappyDecoder.get()!.holds(c) && c.equals(a))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // Past WASM_SNAPPY_MAX the package decodes: a buffer of its own either way.
    const large = Buffer.concat([Buffer.alloc(WASM_SNAPPY_MAX, 3), seeded(10_000, 5)]);
    const stored = encodeObjectSync(large, 'snappy');
    expect(stored[0]).toBe(CODEC_SNAPPY);
    const decoded = decodeObjectTransient(stored, 'large');
    expect(decoded).toEqual(large);
    expect(SnappyDecoder.get()!.holds(decoded)).toBe(false);
  });

  it('a payload larger than any compressor writes for its declared length goes to the package: the same answer, and the memory does not grow', async () => {
    const before = SnappyDecoder.get()!.memoryBytes;
    // 2 MiB of one-byte literals (2 bytes each) declaring 300 bytes of content: damaged.
    const literals = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < literals.length; i += 2) literals[i + 1] = i & 255; // tag 0: a literal of 1 byte
    const damaged = Buffer.concat([Buffer.of(CODEC_SNAPPY), varint(300), literals]);
    expect(() => decodeObjectTransient(damaged, 'object abc')).toThrow(/object abc cannot be decompressed \(corrupted\)/);
    // Valid: 100 KiB of one-byte literals, more than 32 + n + n/6 bytes for its n.
    const n = 100 * 1024;
    const wasteful = Buffer.concat([Buffer.of(CODEC_SNAPPY), varint(n), literals.subarray(0, 2 * n)]);
    const want = Buffer.from(Array.from({ length: n }, (_, i) => (2 * i) & 255));
    expect(decodeObjectTransient(wasteful, 'w')).toEqual(want);
    expect(await decodeObject(wasteful, 'w')).toEqual(want);
    expect(SnappyDecoder.get()!.memoryBytes).toBe(before);
  });

  it('a damaged snappy object is an IntegrityError naming it, whichever decoder reads it', async () => {
    const small = encodeObjectSync(Buffer.alloc(10_000, 1), 'snappy');
    const large = encodeObjectSync(Buffer.concat([Buffer.alloc(WASM_SNAPPY_MAX, 3), seeded(10_000, 5)]), 'snappy');
    for (const stored of [small, large]) {
      const cut = stored.subarray(0, stored.length - 3);
      expect(() => decodeObjectTransient(cut, 'object abc')).toThrow(IntegrityError);
      expect(() => decodeObjectTransient(cut, 'object abc')).toThrow(/object abc cannot be decompressed \(corrupted\)/);
      await expect(decodeObject(cut, 'object abc')).rejects.toThrow(/object abc cannot be decompressed \(corrupted\)/);
    }
  });

  it('without WebAssembly (node --jitless) the built library decodes snappy objects with the package, the same contents', () => {
    const lib = path.resolve(path.dirname(CLI), '../src/store');
    const content = Buffer.concat([Buffer.alloc(6000, 1), seeded(2000, 8)]);
    const stored = encodeObjectSync(content, 'snappy');
    const child = spawnSync(
      process.execPath,
      [
        '--jitless',
        '--input-type=module',
        '-e',
        `import { decodeObjectTransient } from ${JSON.stringify(`${lib}/objectCodec.js`)};
         import { SnappyDecoder } from ${JSON.stringify(`${lib}/snappyDecoder.js`)};
         const chunks = [];
         process.stdin.on('data', (c) => chunks.push(c));
         process.stdin.on('end', () => {
           const out = decodeObjectTransient(Buffer.concat(chunks), 'x');
           console.log(JSON.stringify({ wasm: SnappyDecoder.get() !== null, content: out.toString('base64') }));
         });`,
      ],
      { input: stored, encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    expect(child.status).toBe(0);
    const out = JSON.parse(child.stdout) as { wasm: boolean; content: string };
    expect(out.wasm).toBe(false);
    expect(Buffer.from(out.content, 'base64')).toEqual(content);
  });
});

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GEAR_SCAN_SHARED_WASM, GEAR_SCAN_WASM } from '../../../src/chunk/gearScanWasm.js';
import { WASM_WINDOW, gearScan, gearScanJs, sharedScanBuffer } from '../../../src/chunk/gearScan.js';
import { CLI } from '../../helpers.js';
import { chunkBuffer } from '../../../src/chunk/chunkStream.js';
import { DEFAULT_CDC } from '../../../src/chunk/chunkerParams.js';
import { content as seeded } from '../../property/treeArb.js';

const top = (bits: number) => (bits >= 32 ? -1 : ~((1 << (32 - bits)) - 1) | 0);

describe('gear scan', () => {
  it('uses WebAssembly here (the fallback is only for runtimes without it)', () => {
    expect(gearScan()).not.toBe(gearScanJs);
  });

  it('the WebAssembly scan finds exactly the cuts the JavaScript one does, for any mask, start and end', () => {
    const wasm = gearScan();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 32, max: 3000 }),
        fc.integer({ min: 0, max: 40_000 }),
        (seed, bits, from, length) => {
          const data = seeded(from + length + 17, seed);
          const mask = top(bits);
          expect(wasm(data, from, from + length, mask)).toBe(gearScanJs(data, from, from + length, mask));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('across window boundaries: a cut on either side of one, or none, in a scan longer than several windows', () => {
    const wasm = gearScan();
    const data = seeded(WASM_WINDOW * 3 + 1000, 99);
    // Every bit of the mask: it cuts only where the hash is 0, practically never, so the whole span is scanned
    // through four window copies.
    expect(wasm(data, 100, data.length, -1)).toBe(gearScanJs(data, 100, data.length, -1));
    // Every position where a 12-bit mask cuts, found by starting the scan just before it, so that the cut falls at
    // every offset relative to the windows, including their first and last bytes.
    const mask = top(12);
    for (let from = 32; from < data.length; ) {
      const expected = gearScanJs(data, from, data.length, mask);
      expect(wasm(data, from, data.length, mask)).toBe(expected);
      if (expected < 0) break;
      from = expected;
    }
    for (const edge of [WASM_WINDOW - 1, WASM_WINDOW, WASM_WINDOW + 1, 2 * WASM_WINDOW - 1, 2 * WASM_WINDOW]) {
      for (const from of [32, 1000, edge - 40]) {
        for (const end of [edge, edge + 1, edge + 33]) {
          if (end <= from) continue;
          for (const bits of [1, 8, 16, 30]) expect(wasm(data, from, end, top(bits))).toBe(gearScanJs(data, from, end, top(bits)));
        }
      }
    }
  });

  it('the embedded modules are the ones gearScan.wat assembles to', async () => {
    // @ts-expect-error: a plain .mjs script, without types
    const { assembleGearScan } = await import('../../../scripts/build-wasm.mjs');
    const { own, shared } = (await assembleGearScan()) as { own: Buffer; shared: Buffer };
    expect(own.toString('base64')).toBe(GEAR_SCAN_WASM);
    expect(shared.toString('base64')).toBe(GEAR_SCAN_SHARED_WASM);
  });

  it('a shared scan buffer is scanned in place, with the cuts of the JavaScript scan, through views at any offset', () => {
    const shared = sharedScanBuffer(3 * WASM_WINDOW + 5000);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    // In a WebAssembly memory, after the gear table: not at the start of its SharedArrayBuffer.
    expect(shared.byteOffset).toBeGreaterThan(0);
    expect(shared.every((b) => b === 0)).toBe(true);
    const wasm = gearScan();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 0, max: 4000 }),
        fc.integer({ min: 32, max: 3000 }),
        fc.integer({ min: 0, max: 2 * WASM_WINDOW }),
        (seed, bits, viewAt, from, length) => {
          const data = seeded(shared.length, seed);
          data.copy(shared);
          const view = shared.subarray(viewAt);
          const end = Math.min(view.length, from + length);
          const mask = top(bits);
          expect(wasm(view, from, end, mask)).toBe(gearScanJs(data.subarray(viewAt), from, end, mask));
        },
      ),
      { numRuns: 150 },
    );
    // Two buffers, two memories: each scanned in its own.
    const other = sharedScanBuffer(64 * 1024);
    seeded(other.length, 7).copy(other);
    expect(other.buffer).not.toBe(shared.buffer);
    expect(wasm(other, 32, other.length, top(10))).toBe(gearScanJs(Buffer.from(other), 32, other.length, top(10)));
  });

  it('without WebAssembly (node --jitless) the built library falls back to the JavaScript scan and cuts the same chunks', () => {
    const lib = path.resolve(path.dirname(CLI), '../src/chunk');
    const data = seeded(12_000_000, 5);
    const child = spawnSync(
      process.execPath,
      [
        '--jitless',
        '--input-type=module',
        '-e',
        `import { chunkBuffer } from ${JSON.stringify(`${lib}/chunkStream.js`)};
         import { gearScan, gearScanJs } from ${JSON.stringify(`${lib}/gearScan.js`)};
         import { DEFAULT_CDC } from ${JSON.stringify(`${lib}/chunkerParams.js`)};
         const chunks = [];
         process.stdin.on('data', (c) => chunks.push(c));
         process.stdin.on('end', () => {
           const data = Buffer.concat(chunks);
           console.log(JSON.stringify({ js: gearScan() === gearScanJs, lengths: chunkBuffer(data, DEFAULT_CDC).map((c) => c.length) }));
         });`,
      ],
      { input: data, encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    expect(child.status).toBe(0);
    const out = JSON.parse(child.stdout) as { js: boolean; lengths: number[] };
    expect(out.js).toBe(true);
    expect(out.lengths.length).toBeGreaterThan(3);
    expect(out.lengths).toEqual(chunkBuffer(data, DEFAULT_CDC).map((c) => c.length));
  });
});

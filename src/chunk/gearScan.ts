/**
 * The inner loop of the content-defined chunker: scanning bytes with the gear
 * hash for the first position whose hash has every bit of a mask clear.
 *
 * Two implementations with the same results: a WebAssembly one (gearScan.wat,
 * ~2.5x faster: no bounds checks on the table and the bytes, a tighter loop),
 * used whenever WebAssembly is available, and the JavaScript one, which is the
 * fallback and the reference the tests hold the other to.
 */
import { GEAR } from './gearTable.js';
import { GEAR_SCAN_SHARED_WASM, GEAR_SCAN_WASM } from './gearScanWasm.js';

/**
 * The index just past the first byte in buf[from, end) at which the gear hash
 * has every `mask` bit clear, or -1. The hash at a position depends only on
 * the 32 bytes ending there (each step shifts one bit out of 32), so it is
 * warmed over the 32 bytes before `from`: callers keep from ≥ 32.
 */
export type GearScan = (buf: Uint8Array, from: number, end: number, mask: number) => number;

export const gearScanJs: GearScan = (buf, from, end, mask) => {
  const gear = GEAR;
  let h = 0;
  for (let j = from - 32; j < from; j++) h = ((h << 1) + gear[buf[j]!]!) | 0;
  let i = from;
  // Unrolled four bytes at a time: the same cuts, ~30% more bytes per second (635 → 843 MB/s on random data here).
  for (; i + 4 <= end; i += 4) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
    h = ((h << 1) + gear[buf[i + 1]!]!) | 0;
    if ((h & mask) === 0) return i + 2;
    h = ((h << 1) + gear[buf[i + 2]!]!) | 0;
    if ((h & mask) === 0) return i + 3;
    h = ((h << 1) + gear[buf[i + 3]!]!) | 0;
    if ((h & mask) === 0) return i + 4;
  }
  for (; i < end; i++) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  return -1;
};

/** Where the module keeps the gear table, and the window data is copied into (gearScan.wat). */
const GEAR_AT = 0;
const WINDOW_AT = 1024;
/** Bytes scanned per copy into the module's memory: at most this much is copied past a cut. */
export const WASM_WINDOW = 256 * 1024;

type WasmScan = (from: number, end: number, mask: number, gear: number) => number;

/** The gear table where the module reads it, little-endian whatever the host's order (its i32.load always is). */
function writeGearTable(memory: ArrayBufferLike): void {
  const table = new DataView(memory, GEAR_AT, 256 * 4);
  GEAR.forEach((g, i) => table.setInt32(i * 4, g, true));
}

function instantiate(): GearScan | null {
  // No WebAssembly (node --jitless), or it cannot be compiled here: the JavaScript loop, with the same cuts.
  if (typeof WebAssembly !== 'object') return null;
  let exports: WebAssembly.Exports;
  try {
    exports = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(GEAR_SCAN_WASM, 'base64')), {}).exports;
  } catch {
    return null;
  }
  const memory = exports.memory as WebAssembly.Memory;
  const scan = exports.scan as WasmScan;
  // The memory never grows, so these views stay valid.
  const bytes = new Uint8Array(memory.buffer);
  writeGearTable(memory.buffer);
  const data = WINDOW_AT + 32;
  return (buf, from, end, mask) => {
    // Window by window: each copied with the 32 bytes before it, which warm the hash exactly as the bytes
    // scanned before would have.
    for (let at = from; at < end; at += WASM_WINDOW) {
      const stop = Math.min(end, at + WASM_WINDOW);
      bytes.set(buf.subarray(at - 32, stop), WINDOW_AT);
      const cut = scan(data, data + (stop - at), mask, GEAR_AT);
      if (cut >= 0) return at + (cut - data);
    }
    return -1;
  };
}

let chosen: GearScan | undefined;

/**
 * Scanners of the buffers sharedScanBuffer made, by their SharedArrayBuffer (a WebAssembly memory's): they scan
 * in place, with positions in the memory.
 */
const inPlace = new WeakMap<ArrayBufferLike, WasmScan>();

/** The scan cutPoint uses: the WebAssembly one, instantiated on first use (343 bytes, well under a millisecond), else JavaScript's. */
export function gearScan(): GearScan {
  if (chosen) return chosen;
  const copying = instantiate();
  if (!copying) return (chosen = gearScanJs);
  chosen = (buf, from, end, mask) => {
    const scan = inPlace.get(buf.buffer);
    if (scan === undefined) return copying(buf, from, end, mask);
    const at = buf.byteOffset;
    const cut = scan(at + from, at + end, mask, GEAR_AT);
    return cut < 0 ? -1 : cut - at;
  };
  return chosen;
}

/** Where a shared scan buffer starts in its memory: after the gear table, on a 64-byte line. */
const SHARED_DATA_AT = 1024;
const PAGE = 64 * 1024;
let sharedModule: WebAssembly.Module | null | undefined;

/**
 * A zeroed buffer of `bytes` on a SharedArrayBuffer (to hand to another thread) that gearScan() scans in place: it
 * lies in a WebAssembly memory of its own, after the module's gear table, so a large file's chunks are cut without
 * copying each window into the module (~0.6 s of the main thread per GiB when the source is shared memory, which
 * V8 copies with atomic loads: docs/performance.md). Its byteOffset is not 0. Where WebAssembly or its shared memory
 * is unavailable, a plain SharedArrayBuffer, scanned as any other buffer.
 */
export function sharedScanBuffer(bytes: number): Buffer {
  if (sharedModule === undefined) {
    try {
      sharedModule = typeof WebAssembly === 'object' ? new WebAssembly.Module(Buffer.from(GEAR_SCAN_SHARED_WASM, 'base64')) : null;
    } catch {
      sharedModule = null;
    }
  }
  if (sharedModule && gearScan() !== gearScanJs) {
    const pages = Math.ceil((SHARED_DATA_AT + bytes) / PAGE);
    try {
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      const scan = new WebAssembly.Instance(sharedModule, { env: { memory } }).exports.scan as WasmScan;
      writeGearTable(memory.buffer);
      inPlace.set(memory.buffer, scan);
      return Buffer.from(memory.buffer, SHARED_DATA_AT, bytes);
    } catch {
      /* no shared WebAssembly memory here: a plain shared buffer */
    }
  }
  return Buffer.from(new SharedArrayBuffer(bytes));
}

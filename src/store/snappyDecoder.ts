/**
 * Snappy blocks decoded in WebAssembly (snappyDecode.wat), for the small
 * objects a restore reads by the tens of thousands: a database's 8 KiB pages
 * decode ~20% faster than through the snappy package's native call, which
 * also allocates its output twice per call (docs/performance.md). Blocks
 * past the largest chunk (WASM_SNAPPY_MAX) are left to the package
 * (objectCodec.ts), which keeps this module's memory, which never shrinks,
 * bounded.
 *
 * One instance per thread, made on first use; none without WebAssembly
 * (node --jitless), and the package decodes everything.
 */
import { SNAPPY_DECODE_WASM } from './snappyDecodeWasm.js';

/**
 * Contents up to this size are decoded here (the default chunker's largest chunk), from payloads no larger than any
 * compressor writes for them (snappyPayloadLimit): the memory then stays under ~9 MiB, and holds only as many
 * pages as the largest block decoded touched. Up to 2026-12-02 the limit was 256 KiB and larger contents went to the
 * package, whose output buffer, fresh for every chunk, cost more in page faults than the decoding (the 36k-file
 * tree's restore: ~0.3 s of the main thread for 80 MB of ~1 MiB chunks; docs/performance.md).
 */
export const WASM_SNAPPY_MAX = 4 * 1024 * 1024;

/** The most any snappy compressor writes for `n` bytes (32 + n + n/6), with the length varint. */
export function snappyPayloadLimit(n: number): number {
  return 32 + n + Math.ceil(n / 6) + 5;
}

/** The tag table (256 little-endian i16) and the trailer masks (5 i32) where the module reads them. */
const TABLE_AT = 0;
const MASKS_AT = 512;
/** Where a block's elements are copied in; the output follows them. */
const INPUT_AT = 1024;
/** Bytes past the input and past the output that the module's wide reads and writes may touch. */
const SLACK = 16;
const PAGE = 64 * 1024;

type Decode = (ip: number, inEnd: number, op0: number, outEnd: number) => number;

/** A tag's entry: its length (or 1 for a literal with trailing length bytes), high offset bits and trailing byte count. */
export function snappyTagEntry(tag: number): number {
  const len = tag >>> 2;
  switch (tag & 3) {
    case 0:
      return len < 60 ? len + 1 : 1 | ((len - 59) << 11);
    case 1:
      return (4 + (len & 7)) | ((tag >>> 5) << 8) | (1 << 11);
    case 2:
      return (len + 1) | (2 << 11);
    default:
      return (len + 1) | (4 << 11);
  }
}

export class SnappyDecoder {
  private bytes: Uint8Array;
  /** The memory's current ArrayBuffer (a new one after each grow), kept: Memory.buffer is a call into V8 each time. */
  private arena: ArrayBuffer;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly run: Decode,
  ) {
    this.arena = memory.buffer;
    this.bytes = new Uint8Array(this.arena);
    const tables = new DataView(memory.buffer);
    for (let tag = 0; tag < 256; tag++) tables.setUint16(TABLE_AT + tag * 2, snappyTagEntry(tag), true);
    [0, 0xff, 0xffff, 0xffffff, 0xffffffff].forEach((mask, i) => tables.setUint32(MASKS_AT + i * 4, mask, true));
  }

  /** This thread's decoder, or null where WebAssembly is unavailable. */
  static get(): SnappyDecoder | null {
    if (instance === undefined) {
      try {
        const exports = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SNAPPY_DECODE_WASM, 'base64')), {}).exports;
        instance = new SnappyDecoder(exports.memory as WebAssembly.Memory, exports.decode as Decode);
      } catch {
        instance = null; // no WebAssembly (node --jitless), or no SIMD: the package decodes
      }
    }
    return instance;
  }

  /**
   * The content of the snappy block `elements` (what follows its length varint) that declares `length` bytes: a
   * view of this module's memory, valid until the next decode on this thread; null when the block is damaged.
   */
  decode(elements: Uint8Array, length: number): Buffer | null {
    const outAt = (INPUT_AT + elements.length + SLACK + 15) & ~15;
    const need = outAt + length + SLACK;
    if (need > this.arena.byteLength) {
      this.memory.grow(Math.ceil((need - this.arena.byteLength) / PAGE));
      this.arena = this.memory.buffer;
      this.bytes = new Uint8Array(this.arena);
    }
    this.bytes.set(elements, INPUT_AT);
    if (this.run(INPUT_AT, INPUT_AT + elements.length, outAt, outAt + length) < 0) return null;
    return Buffer.from(this.arena, outAt, length);
  }

  /** Bytes of this decoder's memory (it grows for larger blocks and never shrinks). */
  get memoryBytes(): number {
    return this.arena.byteLength;
  }

  /** True when `b` is a view of this decoder's memory (which the next decode overwrites). */
  holds(b: Uint8Array): boolean {
    return b.buffer === this.arena;
  }
}

let instance: SnappyDecoder | null | undefined;

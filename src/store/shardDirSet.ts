/**
 * The shard directories (objects/ab/cd) a thread knows exist, one bit each per objects root. The flush worker
 * keeps them for its whole life so that it makes each directory once; as a Set of full paths, the 65,536 of a
 * 512 MiB database's first snapshot would hold ~6 MB of its heap by estimate (a ~60-byte string and a Set entry
 * each), live through every collection (docs/performance.md). A path that does not end in two 2-hex-digit names is kept as a string.
 */
import * as path from 'node:path';

/** What makeShardDir needs of the set of directories already made (a Set<string> will do). */
export interface ShardDirs {
  has(dir: string): boolean;
  add(dir: string): void;
}

const SHARDS = 256 * 256;

/** The value of the lowercase hex digit at `i` of `s`, or -1. */
function hexDigit(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** The shard number (0-65535) of `dir` when it ends in `<sep>ab<sep>cd` (lowercase hex), else -1. */
export function shardNumber(dir: string, sep: string = path.sep): number {
  const n = dir.length;
  if (n < 6 || dir[n - 3] !== sep || dir[n - 6] !== sep) return -1;
  const d = [hexDigit(dir, n - 5), hexDigit(dir, n - 4), hexDigit(dir, n - 2), hexDigit(dir, n - 1)];
  if (d.some((x) => x < 0)) return -1;
  return (d[0]! << 12) | (d[1]! << 8) | (d[2]! << 4) | d[3]!;
}

export class ShardDirSet implements ShardDirs {
  /** Per objects root (the path before `<sep>ab<sep>cd`), a bit per shard. */
  private readonly bits = new Map<string, Uint8Array>();
  private readonly others = new Set<string>();

  constructor(private readonly sep: string = path.sep) {}

  has(dir: string): boolean {
    const n = shardNumber(dir, this.sep);
    if (n < 0) return this.others.has(dir);
    const b = this.bits.get(dir.slice(0, -6));
    return b !== undefined && (b[n >>> 3]! & (1 << (n & 7))) !== 0;
  }

  add(dir: string): void {
    const n = shardNumber(dir, this.sep);
    if (n < 0) {
      this.others.add(dir);
      return;
    }
    const root = dir.slice(0, -6);
    let b = this.bits.get(root);
    if (b === undefined) this.bits.set(root, (b = new Uint8Array(SHARDS / 8)));
    b[n >>> 3] = b[n >>> 3]! | (1 << (n & 7));
  }
}

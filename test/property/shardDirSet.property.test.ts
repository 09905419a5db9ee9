/**
 * ShardDirSet (src/store/shardDirSet.ts), the flush worker's record of the shard directories it made: a bit per
 * objects/ab/cd under each root instead of its full path. Whatever the paths and the order of the calls, it
 * answers `has` as a Set of the paths added would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardDirSet, shardNumber } from '../../src/store/shardDirSet.js';

/** Two lowercase hex digits, mostly from a few values so that the same shard comes up under several roots. */
const hex2 = fc.oneof(fc.constantFrom('00', '0a', 'a0', 'ff'), fc.integer({ min: 0, max: 255 }).map((n) => n.toString(16).padStart(2, '0')));
const root = fc.constantFrom('/r/objects', '/r/objects2', '/other/repo/objects', 'rel/objects', '');
/** Shard directories under a few roots, and paths that only look like them (upper case, wrong lengths, no separator). */
const dir = fc.oneof(
  fc.tuple(root, hex2, hex2).map(([r, a, b]) => `${r}/${a}/${b}`),
  fc.tuple(root, hex2, hex2).map(([r, a, b]) => `${r}/${a.toUpperCase()}/${b}`),
  fc.tuple(root, hex2, hex2).map(([r, a, b]) => `${r}/${a}${b}`),
  fc.tuple(root, hex2, fc.string({ maxLength: 3 })).map(([r, a, b]) => `${r}/${a}/${b}`),
  fc.string({ maxLength: 8 }),
);

describe('ShardDirSet', () => {
  it('answers has() as a Set of the paths added', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), dir), { maxLength: 200, size: 'max' }), (ops) => {
        const set = new ShardDirSet('/');
        const model = new Set<string>();
        for (const [add, d] of ops) {
          if (add) {
            set.add(d);
            model.add(d);
          }
          expect(set.has(d)).toBe(model.has(d));
        }
        for (const [, d] of ops) expect(set.has(d)).toBe(model.has(d));
      }),
      { numRuns: 300 },
    );
  });

  it('numbers the 65,536 shards of a root apart, and only lowercase two-digit names', () => {
    const seen = new Set<number>();
    for (let n = 0; n < 65536; n++) {
      const name = n.toString(16).padStart(4, '0');
      seen.add(shardNumber(`/o/${name.slice(0, 2)}/${name.slice(2)}`, '/'));
    }
    expect(seen.size).toBe(65536);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(65535);
    for (const d of ['/o/AB/cd', '/o/ab/cG', '/o/abc/d', '/o/ab\\cd', 'ab/cd', '/o/ab/c']) expect(shardNumber(d, '/')).toBe(-1);
    expect(shardNumber('C:\\o\\ab\\cd', '\\')).toBe(0xabcd);
  });
});

/** fast-check generators for random file trees with byte names, odd sizes, symlinks, empty dirs and modes. */
import * as fs from 'node:fs';
import fc from 'fast-check';

export type GenNode =
  | { kind: 'file'; name: Buffer; size: number; seed: number; mode: number }
  | { kind: 'symlink'; name: Buffer; target: Buffer }
  | { kind: 'dir'; name: Buffer; mode: number; children: GenNode[] };

const SIZES = [0, 1, 2, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193];

const safeBytes = (b: Buffer) =>
  b.length > 0 && b.length <= 200 && !b.includes(0x2f) && !b.includes(0) && !(b.length === 1 && b[0] === 0x2e) && !(b.length === 2 && b[0] === 0x2e && b[1] === 0x2e);

export const nameArb: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).map((s) => Buffer.from(s, 'utf8')),
    fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/).map((s) => Buffer.from(s)),
    fc.uint8Array({ minLength: 1, maxLength: 10 }).map((a) => Buffer.from(a)),
    // A real U+FFFD (valid UTF-8) beside invalid bytes: the walk reads names as text and must tell the two apart.
    fc.constantFrom(Buffer.from('x\uFFFDy', 'utf8'), Buffer.from([0x78, 0xff, 0x79]), Buffer.from([0x78, 0xef, 0xbf])),
  )
  .filter(safeBytes);

const fileArb = fc.record({
  kind: fc.constant('file' as const),
  name: nameArb,
  size: fc.oneof(fc.constantFrom(...SIZES), fc.integer({ min: 0, max: 30000 })),
  seed: fc.integer(),
  // 0o664 and 0o666 have bits a 022 umask takes away at creation; 0o4755 a set-user-id bit.
  mode: fc.constantFrom(0o644, 0o755, 0o600, 0o400, 0o664, 0o666, 0o4755),
});

const symlinkArb = fc.record({
  kind: fc.constant('symlink' as const),
  name: nameArb,
  target: fc.oneof(nameArb, fc.constant(Buffer.from('../elsewhere/x')), fc.constant(Buffer.from('/etc/hostname'))),
});

export const treeArb: fc.Arbitrary<GenNode[]> = fc.letrec<{ dir: GenNode; nodes: GenNode[] }>((tie) => ({
  dir: fc.record({
    kind: fc.constant('dir' as const),
    name: nameArb,
    mode: fc.constantFrom(0o755, 0o700, 0o750),
    children: tie('nodes') as fc.Arbitrary<GenNode[]>,
  }),
  nodes: fc
    .array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, fileArb, fileArb, symlinkArb, tie('dir')), { maxLength: 6 })
    .map((nodes) => {
      const seen = new Set<string>();
      return nodes.filter((n) => {
        const k = n.name.toString('hex');
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    }),
})).nodes;

export function content(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    // half the files compressible, half not
    b[i] = seed & 1 ? x & 0xff : 97 + ((x >>> 8) % 4);
  }
  return b;
}

/** Creates the generated nodes under `dir` (a Buffer path). Dir modes are set after their children. */
export function materialize(dir: Buffer, nodes: GenNode[]): void {
  for (const n of nodes) {
    const p = Buffer.concat([dir, Buffer.from('/'), n.name]);
    if (n.kind === 'file') {
      fs.writeFileSync(p, content(n.size, n.seed));
      fs.chmodSync(p, n.mode);
    } else if (n.kind === 'symlink') {
      fs.symlinkSync(n.target, p);
    } else {
      fs.mkdirSync(p);
      materialize(p, n.children);
      fs.chmodSync(p, n.mode);
    }
  }
}

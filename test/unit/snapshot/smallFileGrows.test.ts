// A small file that grows right after its content is read: readWholeSync takes a read that stops at the stated
// size as the end (no read of 0 after it), so the walk's fstat after the read is what must see the growth and
// read the file again. node:fs is wrapped so that the growth lands between that read and the fstat.
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const grow = vi.hoisted(() => ({ fd: -1, extra: Buffer.alloc(0), times: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const readSync = ((fd: number, ...rest: unknown[]) => {
    const n = (real.readSync as (...a: unknown[]) => number)(fd, ...rest);
    if (fd === grow.fd && grow.times > 0 && n > 0) {
      grow.times--;
      real.appendFileSync(real.readlinkSync(`/proc/self/fd/${fd}`), grow.extra);
    }
    return n;
  }) as typeof real.readSync;
  const openSync = ((p: string, ...rest: unknown[]) => {
    const fd = (real.openSync as (...a: unknown[]) => number)(p, ...rest);
    if (typeof p === 'string' && p.endsWith('/grows.txt')) grow.fd = fd;
    return fd;
  }) as typeof real.openSync;
  return { ...real, default: { ...real, readSync, openSync }, readSync, openSync };
});

const fs = await import('node:fs');
const { DEFAULT_CDC } = await import('../../../src/chunk/chunkerParams.js');
const { FsObjectStore } = await import('../../../src/store/fsObjectStore.js');
const { TreeBuilder } = await import('../../../src/snapshot/treeBuilder.js');
const { tempDir } = await import('../../helpers.js');
type TreeEntry = import('../../../src/model/tree.js').TreeEntry;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('a small file that grows after it is read', () => {
  it.each([
    ['stored as an object', 0],
    ['inline in its tree', 4096],
  ])('is read again at its new size (%s)', async (_what, inlineMax) => {
    const dir = tempDir('cairn-grows-');
    dirs.push(dir);
    const source = path.join(dir, 'src');
    fs.mkdirSync(source);
    fs.mkdirSync(path.join(dir, 'objects'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    const first = Buffer.from('x'.repeat(3000));
    fs.writeFileSync(path.join(source, 'grows.txt'), first);
    grow.extra = Buffer.from('-and more');
    grow.times = 1;
    const store = new FsObjectStore(path.join(dir, 'objects'), { tempDir: path.join(dir, 'tmp'), compression: 'snappy' });
    const trees = new Map<string, readonly TreeEntry[]>();
    const warnings: string[] = [];
    const builder = new TreeBuilder({
      store,
      chunker: DEFAULT_CDC,
      dbChunker: DEFAULT_CDC,
      inlineMax,
      excludes: { active: false, excludes: () => false },
      skipPaths: new Set(),
      loadTree: (id) => trees.get(id) ?? [],
      onTree: (id, entries) => trees.set(id, entries),
      onWarning: (p) => warnings.push(p.message),
      reuse: false,
      baseScanStart: null,
    });
    const root = await builder.build(source, null);
    await store.flush();
    expect(grow.times).toBe(0); // it did grow, right after the first read
    const e = trees.get(root)!.find((x) => x.name === 'grows.txt')!;
    const want = Buffer.concat([first, grow.extra]);
    expect(e.size).toBe(want.length);
    const got = e.inline !== undefined ? Buffer.from(e.inline) : await store.get(e.chunks![0]!);
    expect(got.equals(want)).toBe(true);
    expect(warnings).toEqual([]); // read again once and found unchanged: nothing torn, nothing to warn about
    expect(builder.counts.bytesRead).toBe(first.length + want.length);
  });
});

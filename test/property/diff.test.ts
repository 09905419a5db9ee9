/** Property: for random tree pairs, applying the diff's changes to A's file list gives B's. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, type ObjectId, type TreeChange } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const root = tempDir('cairn-diffprop-');
let repo: Repository;
beforeAll(async () => {
  repo = await Repository.init({ repo: path.join(root, 'repo') });
});
afterAll(() => {
  repo.close();
  fs.rmSync(root, { recursive: true, force: true });
});

type Node = { kind: 'file'; content: string; mode: number } | { kind: 'symlink'; target: string } | { kind: 'dir'; children: Record<string, Node> };

// Few names and contents, so that the two trees overlap: same paths, equal subtrees, names that sort around '/'.
const NAMES = ['a', 'b', 'a.b', 'a-b', 'a0', 'c'];
const leaf: fc.Arbitrary<Node> = fc.oneof(
  fc.record({ kind: fc.constant('file' as const), content: fc.constantFrom('', '1', '2\n', 'three\nlines\n'), mode: fc.constantFrom(0o644, 0o755) }),
  fc.record({ kind: fc.constant('symlink' as const), target: fc.constantFrom('a', 'b', '../x') }),
);
const tree = fc.letrec<{ node: Node; dir: Node }>((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, leaf, tie('dir')),
  dir: fc.dictionary(fc.constantFrom(...NAMES), tie('node'), { maxKeys: 4 }).map((children) => ({ kind: 'dir' as const, children })),
})).dir;

function write(dir: string, node: Node): void {
  if (node.kind !== 'dir') throw new Error('root must be a dir');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, n] of Object.entries(node.children)) {
    const p = path.join(dir, name);
    if (n.kind === 'dir') write(p, n);
    else if (n.kind === 'symlink') fs.symlinkSync(n.target, p);
    else {
      fs.writeFileSync(p, n.content);
      fs.chmodSync(p, n.mode);
    }
  }
}

type FileList = Map<string, string>;

/** Non-directory entries of a snapshot: path → type, content id (or target) and, optionally, mode. */
async function fileList(id: ObjectId, withMode: boolean): Promise<FileList> {
  const { entries } = await repo.ls(id, '', { recursive: true });
  return new Map(entries.filter((e) => e.type !== 'dir').map((e) => [e.path, `${e.type} ${e.id}${withMode ? ` ${e.mode.toString(8)}` : ''}`]));
}

function apply(list: FileList, changes: readonly TreeChange[], withMode: boolean): FileList {
  const out = new Map(list);
  for (const c of changes) {
    if (c.status === 'D') {
      expect(out.has(c.path)).toBe(true);
      out.delete(c.path);
    } else {
      if (c.status === 'A') expect(out.has(c.path)).toBe(false);
      else expect(out.has(c.path)).toBe(true);
      out.set(c.path, `${c.new!.type} ${c.new!.id}${withMode ? ` ${c.new!.mode.toString(8)}` : ''}`);
    }
  }
  return out;
}

let run = 0;

describe('diff', () => {
  it('applying the changes from A to B to the files of A gives the files of B (also against B on disk)', async () => {
    await fc.assert(
      fc.asyncProperty(tree, tree, fc.boolean(), async (ta, tb, includeMode) => {
        const n = run++;
        const da = path.join(root, `a${n}`);
        const db = path.join(root, `b${n}`);
        write(da, ta);
        write(db, tb);
        const a = await repo.snapshot({ path: da });
        const b = await repo.snapshot({ path: db });
        const result = await repo.diff(a.id, b.id, { includeMode });
        const paths = result.changes.map((c) => c.path);
        expect(new Set(paths).size).toBe(paths.length);
        const ka = await fileList(a.id, includeMode);
        const kb = await fileList(b.id, includeMode);
        expect(Object.fromEntries(apply(ka, result.changes, includeMode))).toEqual(Object.fromEntries(kb));
        // The one-ref form against B's directory gives the same changes.
        const onDisk = await repo.diff(a.id, null, { includeMode, dir: db });
        const strip = (cs: readonly TreeChange[]) => cs.map((c) => [c.status, c.path, c.old?.id, c.new?.id, c.modeOnly === true]);
        expect(strip(onDisk.changes)).toEqual(strip(result.changes));
        fs.rmSync(da, { recursive: true });
        fs.rmSync(db, { recursive: true });
      }),
      { numRuns: 40 },
    );
  });
});

/**
 * Property: for two random trees A and B written to the same directory in
 * turn (overlapping names, so files become directories, symlinks become
 * files, modes and times differ), restoring A's snapshot in place over B gives
 * exactly A, and restoring the restore point then gives exactly B.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository.js';
import { describeTree, tempDir } from '../helpers.js';

type Node = { kind: 'file'; content: string; mode: number; mtime: number } | { kind: 'link'; target: string } | { kind: 'dir'; children: Record<string, Node>; mtime: number };

const names = fc.constantFrom('a', 'b', 'c', 'd.txt', 'é');
const mtime = fc.integer({ min: 1_500_000_000, max: 1_700_000_000 }).map((s) => s + 0.25);
const { node } = fc.letrec<{ node: Node; dir: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('file' as const), content: fc.string({ maxLength: 40 }), mode: fc.constantFrom(0o644, 0o600, 0o755), mtime }),
    fc.record({ kind: fc.constant('link' as const), target: fc.constantFrom('a', '../x', '/nonexistent') }),
    tie('dir'),
  ),
  dir: fc.record({ kind: fc.constant('dir' as const), children: fc.dictionary(names, tie('node'), { maxKeys: 4 }), mtime }),
}));
const rootTree = fc.dictionary(names, node, { maxKeys: 5 });

function write(dir: string, children: Record<string, Node>): void {
  for (const [name, n] of Object.entries(children)) {
    const p = path.join(dir, name);
    if (n.kind === 'file') {
      fs.writeFileSync(p, n.content);
      fs.chmodSync(p, n.mode);
      fs.utimesSync(p, n.mtime, n.mtime);
    } else if (n.kind === 'link') {
      fs.symlinkSync(n.target, p);
    } else {
      fs.mkdirSync(p);
      write(p, n.children);
      fs.utimesSync(p, n.mtime, n.mtime);
    }
  }
}

function clear(dir: string): void {
  for (const n of fs.readdirSync(dir)) if (n !== '.cairn') fs.rmSync(path.join(dir, n), { recursive: true });
}

describe('in-place restore (property)', () => {
  it('restores A over B exactly, and the restore point gives B back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(rootTree, rootTree, async (a, b) => {
        const ws = tempDir('cairn-prop-restore-');
        const repo = await Repository.init({ cwd: ws, approve: () => true });
        try {
          write(ws, a);
          const snapA = await repo.snapshot();
          const stateA = describeTree(ws, { skip: ['.cairn'], mtimes: true });
          clear(ws);
          write(ws, b);
          const stateB = describeTree(ws, { skip: ['.cairn'], mtimes: true });
          const r = await repo.restore(snapA.id);
          expect(describeTree(ws, { skip: ['.cairn'], mtimes: true })).toEqual(stateA);
          if (r.restorePoint) {
            await repo.restore(r.restorePoint);
            expect(describeTree(ws, { skip: ['.cairn'], mtimes: true })).toEqual(stateB);
          } else {
            expect(stateB).toEqual(stateA); // nothing to change, so no restore point
          }
        } finally {
          repo.close();
          fs.rmSync(ws, { recursive: true, force: true });
        }
      }),
      { numRuns: 20 },
    );
  });
});

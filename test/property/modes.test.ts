import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { SnapshotMode } from '../../src/index.js';
import { describeTree, tempDir } from '../helpers.js';
import { smallChunkRepo } from './repoHelpers.js';
import { content } from './treeArb.js';
import { recordedEntries } from '../../src/model/treeBudget.js';

const root = tempDir('cairn-modes-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const NAMES = ['a', 'b', 'd/c', 'd/e', 'd/f/g', 'h'];

type Edit =
  | { op: 'write'; file: string; size: number; seed: number }
  | { op: 'append'; file: string; size: number; seed: number }
  | { op: 'truncate'; file: string; size: number }
  | { op: 'delete'; file: string }
  | { op: 'rename'; file: string; to: string }
  | { op: 'chmod'; file: string; mode: number }
  | { op: 'touchOld'; file: string }
  | { op: 'sameSizeRewrite'; file: string; seed: number }
  | { op: 'fileToDir'; file: string }
  | { op: 'snapshot'; mode: SnapshotMode };

const file = fc.constantFrom(...NAMES);
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), file, size: fc.integer({ min: 0, max: 9000 }), seed: fc.integer() }),
  fc.record({ op: fc.constant('append' as const), file, size: fc.integer({ min: 1, max: 3000 }), seed: fc.integer() }),
  fc.record({ op: fc.constant('truncate' as const), file, size: fc.integer({ min: 0, max: 2000 }) }),
  fc.record({ op: fc.constant('delete' as const), file }),
  fc.record({ op: fc.constant('rename' as const), file, to: file }),
  fc.record({ op: fc.constant('chmod' as const), file, mode: fc.constantFrom(0o600, 0o644, 0o755) }),
  fc.record({ op: fc.constant('touchOld' as const), file }),
  fc.record({ op: fc.constant('sameSizeRewrite' as const), file, seed: fc.integer() }),
  fc.record({ op: fc.constant('fileToDir' as const), file }),
  fc.record({ op: fc.constant('snapshot' as const), mode: fc.constantFrom<SnapshotMode>('full', 'incremental', 'differential') }),
);

function isFile(p: string): boolean {
  try {
    return fs.lstatSync(p).isFile();
  } catch {
    return false;
  }
}

/** Applies an edit; edits that do not apply to the current tree are no-ops. */
function apply(src: string, e: Edit): void {
  if (e.op === 'snapshot') return;
  const p = path.join(src, e.file);
  const ensureParent = () => {
    const dir = path.dirname(p);
    // a file standing where a parent directory should be is replaced
    for (let d = dir; d !== src; d = path.dirname(d)) if (isFile(d)) fs.rmSync(d);
    fs.mkdirSync(dir, { recursive: true });
  };
  switch (e.op) {
    case 'write':
      ensureParent();
      if (fs.existsSync(p) && !isFile(p)) fs.rmSync(p, { recursive: true });
      fs.writeFileSync(p, content(e.size, e.seed));
      break;
    case 'append':
      if (isFile(p)) fs.appendFileSync(p, content(e.size, e.seed));
      break;
    case 'truncate':
      if (isFile(p)) fs.truncateSync(p, e.size);
      break;
    case 'delete':
      fs.rmSync(p, { recursive: true, force: true });
      break;
    case 'rename': {
      const to = path.join(src, e.to);
      if (isFile(p) && e.to !== e.file && !e.to.startsWith(`${e.file}/`) && !e.file.startsWith(`${e.to}/`)) {
        const data = fs.readFileSync(p);
        fs.rmSync(p);
        for (let d = path.dirname(to); d !== src; d = path.dirname(d)) if (isFile(d)) fs.rmSync(d);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        if (fs.existsSync(to)) fs.rmSync(to, { recursive: true });
        fs.writeFileSync(to, data);
      }
      break;
    }
    case 'chmod':
      if (isFile(p)) fs.chmodSync(p, e.mode);
      break;
    case 'touchOld':
      if (isFile(p)) fs.utimesSync(p, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
      break;
    case 'sameSizeRewrite':
      // same size, new bytes, immediately: the racy-clean case when it lands in the base snapshot's tick
      if (isFile(p)) fs.writeFileSync(p, content(fs.statSync(p).size, e.seed));
      break;
    case 'fileToDir':
      if (isFile(p)) {
        fs.rmSync(p);
        fs.mkdirSync(p);
        fs.writeFileSync(path.join(p, 'inner'), 'x');
      }
      break;
  }
}

let n = 0;

describe('snapshot modes', () => {
  it('every snapshot, in every mode, restores to exactly the tree on disk when it was taken, and its manifest counts its entries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(editArb, { minLength: 1, maxLength: 25 }), async (edits) => {
        const dir = path.join(root, String(n++));
        const src = path.join(dir, 'src');
        fs.mkdirSync(src, { recursive: true });
        const repo = await smallChunkRepo(path.join(dir, 'repo'));
        const expected: Array<{ id: string; tree: ReturnType<typeof describeTree> }> = [];
        try {
          for (const e of [...edits, { op: 'snapshot', mode: 'incremental' } as Edit]) {
            apply(src, e);
            if (e.op === 'snapshot') {
              const s = await repo.snapshot({ path: src, mode: e.mode });
              const tree = describeTree(src);
              // The manifest's counts are exact: the walk budget (treeBudget.ts) is derived from them.
              expect(recordedEntries(s.manifest.stats)).toBe(Object.keys(tree).length);
              expected.push({ id: s.id, tree });
            }
          }
          // The per-file history each snapshot's walk or commit staged is the one rebuild-index diffs from the store
          // (a walk stages it when it compares with the HEAD: WalkStagedRows).
          const history = () => {
            const db = new Database(path.join(dir, 'repo', 'index.db'), { readonly: true });
            try {
              return db.prepare('SELECT snapshot, path, status, type, content, size FROM file_versions ORDER BY snapshot, path').all();
            } finally {
              db.close();
            }
          };
          const staged = history();
          await repo.rebuildIndex();
          expect(staged).toEqual(history());
          for (const [i, x] of expected.entries()) {
            const out = path.join(dir, `out${i}`);
            await repo.restore(x.id, { target: out });
            expect(describeTree(out)).toEqual(x.tree);
          }
        } finally {
          repo.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});

/**
 * A source's first snapshot stages its index rows during its walk (snapshot/snapshotter.ts WalkStagedRows) instead
 * of diffing the new tree against nothing afterwards. The rows must be the ones that diff gives, which is what
 * `rebuild-index` computes from the store: for any tree (byte names, symlinks, empty files and directories, small
 * files inline and larger ones chunked). A name that is not valid UTF-8 makes the walk give up staging and the
 * commit diff instead; both ways are taken here. A first snapshot that fails leaves nothing staged behind for the
 * next commit of the same repository object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/index.js';
import { tempDir, writeTree } from '../helpers.js';
import { materialize, treeArb, type GenNode } from './treeArb.js';

const root = tempDir('cairn-first-rows-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface Row {
  path: string;
  status: string;
  type: string | null;
  content: string | null;
  size: number | null;
}

function rowsOf(repoDir: string, snapshot: string): Row[] {
  const db = new Database(path.join(repoDir, 'index.db'), { readonly: true });
  try {
    return db.prepare('SELECT path, status, type, content, size FROM file_versions WHERE snapshot = ? ORDER BY path').all(snapshot) as Row[];
  } finally {
    db.close();
  }
}

function hasRawName(nodes: GenNode[]): boolean {
  return nodes.some((n) => Buffer.from(n.name.toString('utf8'), 'utf8').compare(n.name) !== 0 || (n.kind === 'dir' && hasRawName(n.children)));
}

function countFiles(nodes: GenNode[]): number {
  return nodes.reduce((n, x) => n + (x.kind === 'file' ? 1 : x.kind === 'dir' ? countFiles(x.children) : 0), 0);
}

let run = 0;

describe("a first snapshot's index rows", () => {
  it('are the rows rebuild-index computes from the store (the diff against nothing), for any tree', async () => {
    const ways = { staged: 0, diffed: 0 };
    await fc.assert(
      fc.asyncProperty(treeArb, async (nodes) => {
        const dir = path.join(root, `t${run++}`);
        const src = path.join(dir, 'src');
        fs.mkdirSync(src, { recursive: true });
        materialize(Buffer.from(src), nodes);
        const repoDir = path.join(dir, 'repo');
        const repo = await Repository.init({ repo: repoDir });
        try {
          const snap = await repo.snapshot({ path: src });
          const walked = rowsOf(repoDir, snap.id);
          // Every file counts as added (two names that differ only in bytes that are not UTF-8 share one row).
          expect(snap.manifest.stats.added).toBe(countFiles(nodes));
          await repo.rebuildIndex();
          expect(walked).toEqual(rowsOf(repoDir, snap.id));
          ways[hasRawName(nodes) ? 'diffed' : 'staged']++;
        } finally {
          repo.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
    // Both ways were taken.
    expect(ways.staged).toBeGreaterThan(5);
    expect(ways.diffed).toBeGreaterThan(5);
  });

  it('a first snapshot that fails mid-walk leaves no staged rows for the next commit', async () => {
    const dir = path.join(root, 'failed');
    const one = path.join(dir, 'one');
    const two = path.join(dir, 'two');
    // 600 small files (inline: no objects of their own) in one folder: when its tree is written, their rows are
    // staged, more than the walk holds; the root's tree then fails. The store counts its writes from its first:
    // `two`'s snapshot writes 1 (its root's tree, its files inline), so these are the 2nd and 3rd.
    const many: Record<string, string> = {};
    for (let i = 0; i < 600; i++) many[`f${i}`] = `${i}\n`;
    writeTree(one, { many });
    writeTree(two, { keep: 'k\n', edit: 'v1\n' });
    const repoDir = path.join(dir, 'repo');
    const repo = await Repository.init({ repo: repoDir });
    try {
      await repo.snapshot({ path: two });
      const saved = process.env.CAIRN_TEST_FAULTS;
      process.env.CAIRN_TEST_FAULTS = 'object-write:ENOSPC:3';
      try {
        await expect(repo.snapshot({ path: one })).rejects.toMatchObject({ code: 'IO' });
      } finally {
        if (saved === undefined) delete process.env.CAIRN_TEST_FAULTS;
        else process.env.CAIRN_TEST_FAULTS = saved;
      }
      fs.writeFileSync(path.join(two, 'edit'), 'v2, longer\n');
      const changed = await repo.snapshot({ path: two });
      expect(rowsOf(repoDir, changed.id).map((r) => [r.path, r.status])).toEqual([['edit', 'M']]);
    } finally {
      repo.close();
    }
  });
});

/**
 * A source's first snapshot, and an incremental one, stage their index rows during their walk
 * (snapshot/snapshotter.ts WalkStagedRows) instead of diffing the new tree against the HEAD's (or nothing)
 * afterwards. The rows must be the ones that diff gives, which is what `rebuild-index` computes from the store: for
 * any tree (byte names, symlinks, empty files and directories, small files inline and larger ones chunked), and for
 * any change to it (files edited, touched, deleted, added; directories deleted whole or added; a file becoming a
 * directory, a symlink or the other way round). A name that is not valid UTF-8 makes the walk give up staging and
 * the commit diff instead; both ways are taken here. A first snapshot that fails leaves nothing staged behind for the
 * next commit of the same repository object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/index.js';
import { tempDir, writeTree } from '../helpers.js';
import { content, materialize, treeArb, type GenNode } from './treeArb.js';
import type { TreeChange } from '../../src/index.js';

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

/** Runs `body` on a new repository and a source made of `nodes`; removes both afterwards. */
async function withSource(nodes: GenNode[], body: (repo: Repository, repoDir: string, src: string) => Promise<void>): Promise<void> {
  const dir = path.join(root, `t${run++}`);
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  materialize(Buffer.from(src), nodes);
  const repoDir = path.join(dir, 'repo');
  const repo = await Repository.init({ repo: repoDir });
  try {
    await body(repo, repoDir, src);
  } finally {
    repo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("a first snapshot's index rows", () => {
  it('are the rows rebuild-index computes from the store (the diff against nothing), for any tree', async () => {
    const ways = { staged: 0, diffed: 0 };
    await fc.assert(
      fc.asyncProperty(treeArb, async (nodes) =>
        withSource(nodes, async (repo, repoDir, src) => {
          const snap = await repo.snapshot({ path: src });
          const walked = rowsOf(repoDir, snap.id);
          // Every file counts as added (two names that differ only in bytes that are not UTF-8 share one row).
          expect(snap.manifest.stats.added).toBe(countFiles(nodes));
          await repo.rebuildIndex();
          expect(walked).toEqual(rowsOf(repoDir, snap.id));
          ways[hasRawName(nodes) ? 'diffed' : 'staged']++;
        }),
      ),
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

/**
 * Changes `nodes`, as materialized under `dir`, in place: one die per node decides (deleted, rewritten, touched,
 * turned into another kind, or kept), and each directory may get one of `extra` added. Returns the new nodes.
 */
function mutate(dir: Buffer, nodes: GenNode[], dice: number[], extra: GenNode[]): GenNode[] {
  const roll = () => (dice.length ? dice.shift()! : 9) % 12;
  const at = (n: { name: Buffer }) => Buffer.concat([dir, Buffer.from('/'), n.name]);
  const out: GenNode[] = [];
  for (const n of nodes) {
    const p = at(n);
    const d = roll();
    if (d === 0) {
      fs.rmSync(p, { recursive: true, force: true });
      continue;
    }
    if (d === 1 && n.kind !== 'dir') {
      fs.rmSync(p, { force: true });
      if (n.kind === 'file') {
        const next = { ...n, seed: n.seed + 1, size: n.size === 0 ? 3 : n.size };
        fs.writeFileSync(p, content(next.size, next.seed));
        out.push(next);
      } else {
        const next = { ...n, target: Buffer.concat([n.target, Buffer.from('2')]) };
        fs.symlinkSync(next.target, p);
        out.push(next);
      }
      continue;
    }
    if (d === 2) {
      // Another kind under the same name: a file becomes a directory, anything else a file.
      fs.rmSync(p, { recursive: true, force: true });
      if (n.kind === 'file') {
        const next: GenNode = { kind: 'dir', name: n.name, mode: 0o755, children: [{ kind: 'file', name: Buffer.from('inner'), size: 5, seed: 7, mode: 0o644 }] };
        materialize(dir, [next]);
        out.push(next);
      } else {
        const next: GenNode = { kind: 'file', name: n.name, size: 10, seed: 3, mode: 0o644 };
        materialize(dir, [next]);
        out.push(next);
      }
      continue;
    }
    if (d === 3 && n.kind === 'file') {
      // Touched: new times, same content (no row), or a mode change alone (no row either).
      fs.utimesSync(p, new Date(), new Date(Date.now() - 5000));
      if (dice.length % 2) fs.chmodSync(p, n.mode ^ 0o100);
      out.push(n);
      continue;
    }
    if (n.kind === 'dir') out.push({ ...n, children: mutate(p, n.children, dice, extra) });
    else out.push(n);
  }
  if (roll() === 4 && extra.length) {
    const add = extra.shift()!;
    if (!out.some((n) => n.name.equals(add.name))) {
      materialize(dir, [add]);
      out.push(add);
    }
  }
  return out;
}

function changeCounts(changes: readonly TreeChange[]): { added: number; modified: number; deleted: number } {
  const c = { added: 0, modified: 0, deleted: 0 };
  for (const x of changes) {
    if (x.old?.type !== 'file' && x.new?.type !== 'file') continue;
    if (x.status === 'A') c.added++;
    else if (x.status === 'D') c.deleted++;
    else c.modified++;
  }
  return c;
}

describe("an incremental snapshot's index rows", () => {
  it('are the rows rebuild-index computes from the store (the diff against the HEAD), for any change to any tree', async () => {
    const ways = { staged: 0, diffed: 0 };
    await fc.assert(
      fc.asyncProperty(treeArb, fc.array(fc.nat(), { maxLength: 60 }), treeArb, async (nodes, dice, extra) =>
        withSource(nodes, async (repo, repoDir, src) => {
          const first = await repo.snapshot({ path: src });
          const after = mutate(Buffer.from(src), nodes, [...dice], [...extra]);
          const snap = await repo.snapshot({ path: src });
          const walked = rowsOf(repoDir, snap.id);
          const { added, modified, deleted } = snap.manifest.stats;
          expect({ added, modified, deleted }).toEqual(changeCounts((await repo.diff(first.id, snap.id)).changes));
          await repo.rebuildIndex();
          expect(walked).toEqual(rowsOf(repoDir, snap.id));
          ways[hasRawName(nodes) || hasRawName(after) ? 'diffed' : 'staged']++;
        }),
      ),
      { numRuns: 80 },
    );
    expect(ways.staged).toBeGreaterThan(5);
    expect(ways.diffed).toBeGreaterThan(5);
  });
});

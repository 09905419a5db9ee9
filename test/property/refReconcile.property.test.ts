/**
 * Property: whatever mix of ref writes and index updates a run of tag and HEAD changes got through before it
 * was cut (each change's two halves in either order, either half lost), the open-time catch-up leaves the
 * index saying what refs/ says: every tag and HEAD whose ref names a snapshot that is there, nothing else, and
 * the last known row of a name whose ref file is damaged. A second catch-up changes nothing, and verify finds
 * no tag or HEAD mismatch.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, type ObjectId } from '../../src/index.js';
import { reconcileIndex } from '../../src/ops/rebuildIndex.js';
import { removeHead, removeTag, tagFile, writeHead, writeTag, type TagRef } from '../../src/refs.js';
import { tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-refprop-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const DANGLING = 'f'.repeat(64) as ObjectId;
const NAMES = ['v1', 'v2', 'release/1.0', '100%'];
const SOURCES = ['/elsewhere', '/with space', '/a/b'];

type Op =
  | { kind: 'tag'; name: string; snap: number; message: string; time: number }
  | { kind: 'untag'; name: string }
  | { kind: 'head'; source: string; snap: number }
  | { kind: 'unhead'; source: string }
  | { kind: 'damage'; name: string };

/** One change and how far it got: its ref half and its index half, in either order, each done or lost. */
interface Step {
  op: Op;
  indexFirst: boolean;
  ref: boolean;
  index: boolean;
}

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('tag' as const), name: fc.constantFrom(...NAMES), snap: fc.nat(2), message: fc.constantFrom('', 'm'), time: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('untag' as const), name: fc.constantFrom(...NAMES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('head' as const), source: fc.constantFrom(...SOURCES), snap: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unhead' as const), source: fc.constantFrom(...SOURCES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('damage' as const), name: fc.constantFrom(...NAMES) }) },
);

const arbSteps: fc.Arbitrary<Step[]> = fc.array(
  fc.record({
    op: arbOp,
    indexFirst: fc.boolean(),
    // mostly whole changes; a cut loses one half
    ref: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
    index: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
  }),
  { maxLength: 12 },
);

describe('open-time catch-up of refs (property)', () => {
  let repoDir: string;
  let repo: Repository;
  let snaps: ObjectId[];

  beforeAll(async () => {
    repoDir = path.join(root, 'repo');
    const src = path.join(root, 'src');
    writeTree(src, { 'a.txt': '1' });
    repo = await Repository.init({ repo: repoDir });
    const a = (await repo.snapshot({ path: src })).id;
    writeTree(src, { 'a.txt': '2' });
    const b = (await repo.snapshot({ path: src })).id;
    snaps = [a, b, DANGLING];
  });
  afterAll(() => repo.close());

  /** Empties refs/ and the index's tags and HEADs (consistent, and nothing named). */
  function reset(): void {
    for (const kind of ['tags', 'heads']) {
      const dir = path.join(repoDir, 'refs', kind);
      for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n));
    }
    repo.index.db.exec('DELETE FROM tags; UPDATE sources SET head = NULL');
  }

  function apply(op: Op, half: 'ref' | 'index'): void {
    const tag = (o: Extract<Op, { kind: 'tag' }>): TagRef => ({ name: o.name, snapshot: snaps[o.snap]!, time: `2026-01-0${o.time + 1}T00:00:00.000Z`, message: o.message });
    switch (op.kind) {
      case 'tag':
        return half === 'ref' ? writeTag(repoDir, tag(op)) : repo.index.setTag(tag(op));
      case 'untag':
        return half === 'ref' ? removeTag(repoDir, op.name) : repo.index.deleteTag(op.name);
      case 'head':
        return half === 'ref' ? writeHead(repoDir, { source: op.source, snapshot: snaps[op.snap]! }) : repo.index.setHead(op.source, snaps[op.snap]!);
      case 'unhead':
        return half === 'ref' ? removeHead(repoDir, op.source) : repo.index.setHead(op.source, null);
      case 'damage':
        // a ref file that is not a tag ref (the index half does nothing)
        if (half === 'ref') fs.writeFileSync(tagFile(repoDir, op.name), '{"name":');
    }
  }

  it('converges: index == refs for every cut of every interleaving, and a second pass is a no-op', async () => {
    await fc.assert(
      fc.asyncProperty(arbSteps, async (steps) => {
        reset();
        // What refs/ ends up saying, and the names whose ref file ends up damaged.
        const refTags = new Map<string, TagRef>();
        const refHeads = new Map<string, ObjectId>();
        const damaged = new Set<string>();
        for (const s of steps) {
          for (const half of s.indexFirst ? (['index', 'ref'] as const) : (['ref', 'index'] as const)) {
            if (!s[half]) continue;
            apply(s.op, half);
            if (half !== 'ref') continue;
            const o = s.op;
            if (o.kind === 'tag') {
              refTags.set(o.name, { name: o.name, snapshot: snaps[o.snap]!, time: `2026-01-0${o.time + 1}T00:00:00.000Z`, message: o.message });
              damaged.delete(o.name);
            } else if (o.kind === 'untag') {
              refTags.delete(o.name);
              damaged.delete(o.name);
            } else if (o.kind === 'damage') {
              refTags.delete(o.name);
              damaged.add(o.name);
            } else if (o.kind === 'head') refHeads.set(o.source, snaps[o.snap]!);
            else refHeads.delete(o.source);
          }
        }
        const before = new Map(repo.index.tags().map((t) => [t.name, t]));
        const first = await reconcileIndex(repo);
        expect(first).toMatchObject({ added: 0, dropped: 0 });

        const expectedTags = [...refTags.values()].filter((t) => t.snapshot !== DANGLING);
        for (const name of damaged) if (before.has(name)) expectedTags.push(before.get(name)!);
        expect(repo.index.tags()).toEqual(expectedTags.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)));
        const expectedHeads = [...refHeads].filter(([, id]) => id !== DANGLING).map(([source, head]) => ({ source, head }));
        const bySource = (x: { source: string }, y: { source: string }) => (x.source < y.source ? -1 : 1);
        expect(repo.index.heads().sort(bySource)).toEqual(expectedHeads.sort(bySource));

        expect(await reconcileIndex(repo)).toEqual({ added: 0, dropped: 0, tags: 0, heads: 0 });
        const problems = (await repo.verify()).indexProblems.map((p) => p.problem);
        expect(problems.filter((p) => p === 'tag-mismatch' || p === 'head-mismatch')).toEqual([]);
      }),
      { numRuns: 80 },
    );
  });
});

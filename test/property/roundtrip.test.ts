import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { materialize, treeArb } from './treeArb.js';
import { snapshotRestoreRoundTrip } from './repoHelpers.js';

const root = tempDir('cairn-prop-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;

describe('snapshot then restore', () => {
  it('gives back the same tree byte for byte (names, sizes, symlinks, empty dirs, modes, mtimes)', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, async (nodes) => {
        const case_ = path.join(root, String(n++));
        const src = path.join(case_, 'src');
        fs.mkdirSync(src, { recursive: true });
        materialize(Buffer.from(src), nodes);
        await snapshotRestoreRoundTrip(case_, src, async (repo, s) => {
          // the same content twice makes one object: a second snapshot stores no new file data
          const again = await repo.snapshot({ path: src, mode: 'full' });
          expect(again.manifest.stats.newObjects).toBe(0);
          expect(again.manifest.tree).toBe(s.manifest.tree);
        });
      }),
      { numRuns: 30 },
    );
  });
});

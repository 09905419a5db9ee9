import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { materialize, treeArb } from './treeArb.js';
import { snapshotRestoreRoundTrip } from './repoHelpers.js';

const root = tempDir('cairn-prop-links-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every regular file's and directory's path under `dir` (Buffer paths: generated names are arbitrary bytes). */
function walk(dir: Buffer): { files: Buffer[]; dirs: Buffer[] } {
  const files: Buffer[] = [];
  const dirs: Buffer[] = [dir];
  for (let i = 0; i < dirs.length; i++) {
    for (const name of fs.readdirSync(dirs[i]!, { encoding: 'buffer' })) {
      const p = Buffer.concat([dirs[i]!, Buffer.from('/'), name]);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) dirs.push(p);
      else if (st.isFile()) files.push(p);
    }
  }
  return { files, dirs };
}

/** The names of each file with more than one, relative to `dir`, grouped and sorted (in hex: names are bytes). */
function linkGroups(dir: string): string[][] {
  const byInode = new Map<number, string[]>();
  const base = Buffer.from(dir).length + 1;
  for (const f of walk(Buffer.from(dir)).files) {
    const ino = fs.lstatSync(f).ino;
    byInode.set(ino, [...(byInode.get(ino) ?? []), f.subarray(base).toString('hex')]);
  }
  return [...byInode.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort((a, b) => a[0]!.localeCompare(b[0]!));
}

let n = 0;

describe('snapshot then restore with hard links', () => {
  it('gives back the same names of the same files (links), contents, modes and times', async () => {
    const links = fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(treeArb, links, async (nodes, picks) => {
        const case_ = path.join(root, String(n++));
        const src = path.join(case_, 'src');
        fs.mkdirSync(src, { recursive: true });
        materialize(Buffer.from(src), nodes);
        const { files, dirs } = walk(Buffer.from(src));
        if (files.length === 0) {
          // No file generated: one to link (13 characters: longer than any name treeArb makes of this form).
          files.push(Buffer.from(path.join(src, 'hard-link-src')));
          fs.writeFileSync(files[0]!, 'the only file');
        }
        // Extra names for random files in random directories (a name taken already is skipped).
        picks.forEach(([f, d], i) => {
          const name = Buffer.concat([dirs[d % dirs.length]!, Buffer.from(`/hard-link-${i}`)]);
          if (!fs.existsSync(name)) fs.linkSync(files[f % files.length]!, name);
        });
        await snapshotRestoreRoundTrip(case_, src, (_repo, _s, out) => {
          expect(linkGroups(out)).toEqual(linkGroups(src));
        });
      }),
      { numRuns: 25 },
    );
  });
});

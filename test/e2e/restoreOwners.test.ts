// Owners restored as root: chown is skipped only for entries that already have the owner they were created with.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairnOk, tempDir } from '../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function owners(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      out[r] = `${st.uid}:${st.gid}`;
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

describe.runIf(isRoot)('restore of owners (as root)', () => {
  function source(): { dir: string; src: string; R: string[] } {
    const dir = tempDir('cairn-owners-');
    dirs.push(dir);
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(src, 'root-owned.txt'), 'mine');
    fs.writeFileSync(path.join(src, 'other.txt'), 'theirs');
    fs.writeFileSync(path.join(src, 'sub', 'group-only.txt'), 'group');
    fs.writeFileSync(path.join(src, 'sub', 'deeper', 'big.bin'), Buffer.alloc(512 * 1024, 7)); // the large-file path
    fs.symlinkSync('other.txt', path.join(src, 'link'));
    fs.chownSync(path.join(src, 'other.txt'), 1234, 5678);
    fs.chownSync(path.join(src, 'sub', 'group-only.txt'), 0, 4321);
    fs.chownSync(path.join(src, 'sub', 'deeper'), 2345, 2345);
    fs.chownSync(path.join(src, 'sub', 'deeper', 'big.bin'), 3456, 0);
    fs.lchownSync(path.join(src, 'link'), 1234, 1234);
    const R = ['--repo', path.join(dir, 'repo')];
    cairnOk([...R, 'init']);
    cairnOk([...R, 'snapshot', src]);
    return { dir, src, R };
  }

  it('gives every entry its recorded owner, whether or not it is the one it was created with', () => {
    const { dir, src, R } = source();
    const out = path.join(dir, 'out');
    cairnOk([...R, 'restore', 'latest', '--target', out]);
    expect(owners(out)).toEqual(owners(src));
  });

  it('under a set-group-id directory (whose group new entries inherit) too', () => {
    const { dir, src, R } = source();
    const parent = path.join(dir, 'sgid');
    fs.mkdirSync(parent);
    fs.chownSync(parent, 0, 4242);
    fs.chmodSync(parent, 0o2775);
    const out = path.join(parent, 'out');
    cairnOk([...R, 'restore', 'latest', '--target', out]);
    expect(owners(out)).toEqual(owners(src));
    expect(fs.statSync(path.join(out, 'root-owned.txt')).gid).toBe(0);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir } from '../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

interface Snap {
  id: string;
  stats: { newObjects: number; filesRead: number };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const objectPath = (repo: string, id: string) => path.join(repo, 'objects', id.slice(0, 2), id.slice(2, 4), id);

function setup(prefix: string): { dir: string; src: string; repo: string; R: string[] } {
  const dir = tempDir(prefix);
  dirs.push(dir);
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const repo = path.join(dir, 'repo');
  return { dir, src, repo, R: ['--repo', repo] };
}

/** `count` distinct text files of `size` bytes, named f000.txt... */
function textFiles(dir: string, count: number, size: number, from = 0): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = from; i < from + count; i++) {
    const line = `line of file ${i}: the quick brown fox\n`;
    fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}.txt`), line.repeat(Math.ceil(size / line.length)).slice(0, size));
  }
}

describe('small files held in their tree (inlineMax)', () => {
  it('are not objects of their own, and restore, cat, diff and verify as any file', () => {
    const { dir, src, repo, R } = setup('cairn-inline-');
    const files: Record<string, Buffer> = {
      'text.txt': Buffer.from('héllo ✓ "quoted" \\ back\nslash\u0001\n'),
      'binary.bin': Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), randomBytes(96)]),
      'at-limit.txt': Buffer.alloc(4096, 'a'),
      'over-limit.txt': Buffer.alloc(4097, 'b'),
      'big.bin': randomBytes(100_000),
      'empty': Buffer.alloc(0),
    };
    for (const [n, b] of Object.entries(files)) fs.writeFileSync(path.join(src, n), b);
    fs.chmodSync(path.join(src, 'text.txt'), 0o640);
    expect(parseJson<{ inlineMax: number }>(cairnOk([...R, '--json', 'init'])).inlineMax).toBe(4096);
    cairnOk([...R, 'snapshot', src]);
    for (const n of ['text.txt', 'binary.bin', 'at-limit.txt']) expect(fs.existsSync(objectPath(repo, sha(files[n]!))), n).toBe(false);
    expect(fs.existsSync(objectPath(repo, sha(files['over-limit.txt']!)))).toBe(true);

    const out = path.join(dir, 'out');
    cairnOk([...R, 'restore', 'latest', '--target', out, '--verify']);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
    for (const [n, b] of Object.entries(files)) expect(fs.readFileSync(path.join(out, n)).equals(b), n).toBe(true);
    expect(cairnOk([...R, 'cat', 'latest:text.txt']).stdout).toBe(files['text.txt']!.toString('utf8'));
    expect(cairnOk([...R, 'verify', '--read-data']).code).toBe(0);

    fs.writeFileSync(path.join(src, 'text.txt'), 'changed\n');
    cairnOk([...R, 'snapshot', src]);
    const patch = cairnOk([...R, 'diff', '-p', 'latest~1', 'latest']).stdout;
    expect(patch).toContain('+changed');
    expect(patch).toContain('-slash');
    // The same content under another name: one content id, whether held inline or not.
    const ls = parseJson<{ entries: Array<{ path: string; id: string }> }>(cairnOk([...R, 'ls', 'latest', '--json']));
    expect(ls.entries.find((e) => e.path === 'binary.bin')!.id).toBe(sha(files['binary.bin']!));
  });

  it('in a large directory share a 32 KiB budget; equal directories give equal trees', () => {
    const { dir, src, R } = setup('cairn-inline-budget-');
    const many = path.join(src, 'many');
    textFiles(many, 8, 3000); // 32 KiB / 8 names = 4,096 bytes each: all inline
    cairnOk([...R, 'init']);
    const treeOfMany = () => parseJson<{ entries: Array<{ path: string; id: string }> }>(cairnOk([...R, 'ls', 'latest', '--json'])).entries.find((e) => e.path === 'many')!.id;
    const s1 = parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json']));
    expect(s1.stats.newObjects).toBe(2); // the two trees
    const tree1 = treeOfMany();
    const before = describeTree(src);

    textFiles(many, 4, 3000, 8); // 12 names: 2,730 bytes each, so none of them fits
    const s2 = parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json']));
    expect(s2.stats.filesRead).toBe(12); // the 8 unchanged files too, to store them as objects
    expect(s2.stats.newObjects).toBe(14);
    const s3 = parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json']));
    expect(s3.stats).toMatchObject({ filesRead: 0, newObjects: 0 });
    const after = describeTree(src);

    for (let i = 8; i < 12; i++) fs.rmSync(path.join(many, `f${String(i).padStart(3, '0')}.txt`));
    const s4 = parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json']));
    expect(s4.stats.filesRead).toBe(8);
    expect(treeOfMany()).toBe(tree1);

    for (const [s, want] of [
      [s1, before],
      [s2, after],
      [s4, before],
    ] as const) {
      const out = path.join(dir, `out-${s.id.slice(0, 8)}`);
      cairnOk([...R, 'restore', s.id, '--target', out]);
      expect(describeTree(out)).toEqual(want);
    }
    cairnOk([...R, '--yes', 'forget', s2.id, s3.id]);
    cairnOk([...R, '--yes', 'prune']);
    cairnOk([...R, 'verify', '--read-data']);
    const out = path.join(dir, 'out-after-prune');
    cairnOk([...R, 'restore', s1.id, '--target', out]);
    expect(describeTree(out)).toEqual(before);
  });

  it('are off with init --inline-max 0 and in configs that predate the key; `config inlineMax` turns them on', () => {
    const { src, repo, R } = setup('cairn-inline-off-');
    textFiles(src, 3, 100);
    cairnOk([...R, 'init', '--inline-max', '0']);
    expect(parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json'])).stats.newObjects).toBe(4);

    const cfgFile = path.join(repo, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    delete cfg.inlineMax;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    fs.appendFileSync(path.join(src, 'f000.txt'), 'more');
    expect(parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json'])).stats.newObjects).toBe(2);

    expect(parseJson<{ previous: number; value: number }>(cairnOk([...R, '--json', 'config', 'inlineMax', '4096']))).toMatchObject({ previous: 0, value: 4096 });
    fs.appendFileSync(path.join(src, 'f001.txt'), 'more');
    const s = parseJson<Snap>(cairnOk([...R, 'snapshot', src, '--json']));
    expect(s.stats.filesRead).toBe(3); // every file is read again, to be held inline
    expect(s.stats.newObjects).toBe(1);
  });

  it('refuses a bad --inline-max or inlineMax with one line and exit 2, writing nothing', () => {
    const { dir, R } = setup('cairn-inline-bad-');
    for (const bad of ['abc', '-1', '70000', '1.5']) {
      const r = cairn([...R, 'init', '--inline-max', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/inline.max/i);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(fs.existsSync(path.join(dir, 'repo', 'config.json'))).toBe(false);
    }
    cairnOk([...R, 'init']);
    const r = cairn([...R, 'config', 'inlineMax', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/inlineMax "lots" is not a whole number/);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, type ObjectId } from '../../../src/index.js';
import { tempDir, writeTree, type TreeSpec } from '../../helpers.js';

const root = tempDir('cairn-diff-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every file under `dir`, recursively (for "nothing was written" checks). */
function filesUnder(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort() : [];
}

/**
 * Waits (by writing probe files, not by the wall clock) until the file-system
 * clock has passed every time stamp under `dir`, so a snapshot taken next sees
 * no "racily clean" file and may trust stat for all of them.
 */
function settle(dir: string): void {
  let newest = 0n;
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const st = fs.lstatSync(path.join(d, name), { bigint: true });
      newest = [newest, st.mtimeNs, st.ctimeNs].reduce((a, b) => (a > b ? a : b));
      if (st.isDirectory()) walk(path.join(d, name));
    }
  };
  walk(dir);
  const probe = path.join(path.dirname(dir), '.clock-probe');
  for (;;) {
    fs.writeFileSync(probe, '');
    const now = fs.statSync(probe, { bigint: true }).mtimeNs;
    fs.rmSync(probe);
    if (now > newest) return;
  }
}

async function repoAt(name: string): Promise<Repository> {
  return Repository.init({ repo: path.join(root, name) });
}

describe('diff between two snapshots', () => {
  it('touches only the trees on the changed path', async () => {
    const src = path.join(root, 'wide');
    const spec: TreeSpec = {};
    for (let i = 0; i < 12; i++) {
      const d: TreeSpec = {};
      for (let j = 0; j < 6; j++) {
        const s: TreeSpec = {};
        for (let k = 0; k < 4; k++) s[`f${k}.txt`] = `file ${i}/${j}/${k}\n`;
        d[`s${j}`] = s;
      }
      spec[`d${i}`] = d;
    }
    writeTree(src, spec);
    const repo = await repoAt('wide-repo');
    const a = await repo.snapshot({ path: src });
    fs.writeFileSync(path.join(src, 'd7/s3/f2.txt'), 'changed\n');
    const b = await repo.snapshot({ path: src });
    repo.close();

    const fresh = await Repository.open({ repo: path.join(root, 'wide-repo') }); // empty tree cache
    const gets: ObjectId[] = [];
    const get = fresh.store.get.bind(fresh.store);
    fresh.store.get = async (id: ObjectId) => {
      gets.push(id);
      return get(id);
    };
    const r = await fresh.diff(a.id, b.id);
    expect(r.changes.map((c) => [c.status, c.path])).toEqual([['M', 'd7/s3/f2.txt']]);
    // 2 manifests + (root, d7, d7/s3) on each side; none of the other 82 trees
    expect(gets).toHaveLength(8);
    fresh.close();
  });

  it('reports A, D, M and T sorted as git sorts them; mode-only changes only with includeMode', async () => {
    const src = path.join(root, 'kinds');
    writeTree(src, {
      'a.txt': 'one\n',
      'a-b': 'x\n',
      a: { 'in.txt': 'in\n' },
      gone: { deep: { 'x.txt': 'x\n' } },
      'to-link': 'file\n',
      'to-dir': 'file\n',
      'mode.sh': '#!/bin/sh\n',
    });
    const repo = await repoAt('kinds-repo');
    const a = await repo.snapshot({ path: src });
    fs.writeFileSync(path.join(src, 'a.txt'), 'two\n');
    fs.rmSync(path.join(src, 'gone'), { recursive: true });
    fs.rmSync(path.join(src, 'to-link'));
    fs.symlinkSync('a.txt', path.join(src, 'to-link'));
    fs.rmSync(path.join(src, 'to-dir'));
    writeTree(path.join(src, 'to-dir'), { 'f.txt': 'f\n' });
    fs.writeFileSync(path.join(src, 'a', 'new.txt'), 'new\n');
    fs.chmodSync(path.join(src, 'mode.sh'), 0o755);
    const b = await repo.snapshot({ path: src });
    const r = await repo.diff(a.id, b.id);
    expect(r.changes.map((c) => `${c.status} ${c.path}`)).toEqual(['M a.txt', 'A a/new.txt', 'D gone/deep/x.txt', 'D to-dir', 'A to-dir/f.txt', 'T to-link']);
    const withMode = await repo.diff(a.id, b.id, { includeMode: true });
    const mode = withMode.changes.find((c) => c.path === 'mode.sh');
    expect(mode).toMatchObject({ status: 'M', modeOnly: true, old: { mode: 0o644 }, new: { mode: 0o755 } });
    expect((await repo.diff(a.id, b.id, { paths: ['a', 'to-dir/'] })).changes.map((c) => c.path)).toEqual(['a/new.txt', 'to-dir', 'to-dir/f.txt']);
    repo.close();
  });
});

describe('diff with the directory on disk', () => {
  let repo: Repository;
  const src = path.join(root, 'disk');
  let base: ObjectId;

  beforeAll(async () => {
    writeTree(src, {
      'keep.txt': 'keep\n',
      'edit.txt': 'before\n',
      'drop.txt': 'drop\n',
      'link-me': 'file\n',
      sub: { 'x.txt': 'x\n', 'y.txt': 'y\n' },
      '.cairnignore': 'ignored.log\n',
    });
    repo = await repoAt('disk-repo');
    settle(src);
    base = (await repo.snapshot({ path: src })).id;
  });
  afterAll(() => repo.close());

  it('finds no change and reads no file when nothing changed', async () => {
    const r = await repo.diff(base);
    expect(r.changes).toEqual([]);
    expect(r.read).toEqual({ files: 0, bytes: 0 });
    expect(r.to).toMatchObject({ kind: 'dir', dir: fs.realpathSync(src) });
  });

  it('matches a snapshot of the same state, reads only changed files and writes nothing to the repository', async () => {
    fs.writeFileSync(path.join(src, 'edit.txt'), 'after\n');
    fs.rmSync(path.join(src, 'drop.txt'));
    fs.writeFileSync(path.join(src, 'new.txt'), 'new\n');
    fs.writeFileSync(path.join(src, 'ignored.log'), 'excluded by .cairnignore\n');
    fs.rmSync(path.join(src, 'link-me'));
    fs.symlinkSync('keep.txt', path.join(src, 'link-me'));
    fs.writeFileSync(path.join(src, 'sub', 'y.txt'), 'y2\n');

    const repoDir = path.join(root, 'disk-repo');
    const before = { objects: filesUnder(path.join(repoDir, 'objects')), snapshots: repo.log().length };
    const onDisk = await repo.diff(base);
    expect(filesUnder(path.join(repoDir, 'objects'))).toEqual(before.objects);
    expect(filesUnder(path.join(repoDir, 'tmp'))).toEqual([]);
    expect(repo.log()).toHaveLength(before.snapshots);
    expect(onDisk.read.files).toBe(3); // edit.txt, new.txt, sub/y.txt

    const now = await repo.snapshot({ path: src });
    const between = await repo.diff(base, now.id);
    const strip = (r: typeof between) => r.changes.map((c) => ({ path: c.path, status: c.status, old: c.old?.id, new: c.new?.id }));
    expect(strip(onDisk)).toEqual(strip(between));
    expect(onDisk.changes.map((c) => `${c.status} ${c.path}`)).toEqual(['D drop.txt', 'M edit.txt', 'T link-me', 'A new.txt', 'M sub/y.txt']);

    const inSub = await repo.diff(base, null, { paths: ['sub'] });
    expect(inSub.changes.map((c) => c.path)).toEqual(['sub/y.txt']);
    expect(inSub.read.files).toBe(1); // the walk itself is limited to the paths

    const p = await repo.diffFile(base, null, 'edit.txt');
    expect(p?.text).toContain('-before\n+after');
    expect(await repo.diffFile(base, null, 'keep.txt')).toBeNull();
  });

  it('refuses a source directory that is gone, and accepts --dir instead', async () => {
    const other = path.join(root, 'disk-copy');
    fs.cpSync(src, other, { recursive: true, verbatimSymlinks: true });
    const r = await repo.diff(base, null, { dir: other });
    expect(r.changes.length).toBeGreaterThan(0);
    const lone = await repoAt('gone-repo');
    const gone = path.join(root, 'gone-src');
    writeTree(gone, { f: 'f\n' });
    const s = await lone.snapshot({ path: gone });
    fs.rmSync(gone, { recursive: true });
    await expect(lone.diff(s.id)).rejects.toMatchObject({ code: 'SOURCE_INVALID' });
    lone.close();
  });
});

describe('patches', () => {
  it('gives unified text diffs, binary and large summaries, mode-only and type changes', async () => {
    const src = path.join(root, 'patch');
    writeTree(src, {
      't.txt': 'a\nb\nc\nd\ne\nf\ng\nh\n',
      'bin.dat': Buffer.from([1, 0, 2, 3]),
      'big.txt': 'x'.repeat(5000),
      'run.sh': 'echo\n',
      'link': 'was a file\n',
      'gone.txt': 'last line without newline',
    });
    const repo = await repoAt('patch-repo');
    const a = await repo.snapshot({ path: src });
    fs.writeFileSync(path.join(src, 't.txt'), 'a\nb\nc\nD\ne\nf\ng\nh\ni\n');
    fs.writeFileSync(path.join(src, 'bin.dat'), Buffer.from([1, 0, 2, 4]));
    fs.writeFileSync(path.join(src, 'big.txt'), 'y'.repeat(5001));
    fs.chmodSync(path.join(src, 'run.sh'), 0o755);
    fs.rmSync(path.join(src, 'link'));
    fs.symlinkSync('t.txt', path.join(src, 'link'));
    fs.rmSync(path.join(src, 'gone.txt'));
    const b = await repo.snapshot({ path: src });
    const r = await repo.diff(a.id, b.id, { includeMode: true });
    const patch = async (p: string) => repo.patch(r, r.changes.find((c) => c.path === p)!, { sizeLimit: 4096 });

    const t = await patch('t.txt');
    expect(t).toMatchObject({ kind: 'text', added: 2, removed: 1 });
    expect(t.text).toBe(
      ['diff --git a/t.txt b/t.txt', '--- a/t.txt', '+++ b/t.txt', '@@ -1,8 +1,9 @@', ' a', ' b', ' c', '-d', '+D', ' e', ' f', ' g', ' h', '+i', ''].join('\n'),
    );
    expect(await patch('bin.dat')).toMatchObject({ kind: 'binary', added: 0, removed: 0, oldSize: 4, newSize: 4 });
    expect((await patch('bin.dat')).text).toContain('Binary files a/bin.dat and b/bin.dat differ');

    // Over the limit: summarised without reading either side (its objects may even be gone).
    const bigOld = r.changes.find((c) => c.path === 'big.txt')!.old!.entry.chunks!;
    for (const id of bigOld) fs.rmSync(repo.store.pathOf(id));
    const big = await patch('big.txt');
    expect(big).toMatchObject({ kind: 'large', oldSize: 5000, newSize: 5001 });
    expect(big.text).toContain('Large files a/big.txt and b/big.txt differ');

    const mode = await patch('run.sh');
    expect(mode).toMatchObject({ kind: 'mode' });
    expect(mode.text).toBe('diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n');

    const link = await patch('link');
    expect(link.status).toBe('T');
    expect(link.text).toContain('deleted file mode 100644\n--- a/link\n+++ /dev/null\n@@ -1 +0,0 @@\n-was a file\n');
    expect(link.text).toContain('new file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+t.txt\n\\ No newline at end of file\n');

    const gone = await patch('gone.txt');
    expect(gone.text).toBe(
      ['diff --git a/gone.txt b/gone.txt', 'deleted file mode 100644', '--- a/gone.txt', '+++ /dev/null', '@@ -1 +0,0 @@', '-last line without newline', '\\ No newline at end of file', ''].join('\n'),
    );
    repo.close();
  });

  it('falls back to a whole replacement past the edit budget, still a correct patch', async () => {
    const src = path.join(root, 'budget');
    const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join('\n') + '\n';
    writeTree(src, { 'f.txt': lines(50, 'a') });
    const repo = await repoAt('budget-repo');
    const a = await repo.snapshot({ path: src });
    fs.writeFileSync(path.join(src, 'f.txt'), lines(40, 'b'));
    const b = await repo.snapshot({ path: src });
    const r = await repo.diff(a.id, b.id);
    const p = await repo.patch(r, r.changes[0]!, { maxEdits: 5 });
    expect(p).toMatchObject({ kind: 'text', added: 40, removed: 50 });
    expect(p.text).toContain('@@ -1,50 +1,40 @@\n-a0\n');
    repo.close();
  });
});

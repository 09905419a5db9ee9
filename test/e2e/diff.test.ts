/**
 * `cairn diff` against git: the same two trees snapshotted by cairn and
 * committed to a throwaway git repository must give the same --name-status
 * lines, the same --numstat counts, and a -p patch that `git apply` turns
 * tree A into tree B with.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-e2e-diff-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const ws = path.join(root, 'ws');
const repo = path.join(root, 'repo');
const gitDir = path.join(root, 'git');

function git(args: string[], cwd = ws): string {
  const r = spawnSync(
    'git',
    [`--git-dir=${gitDir}`, `--work-tree=${ws}`, '-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'core.quotePath=false', '-c', 'core.fileMode=true', '-c', 'core.symlinks=true', ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root } },
  );
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const c = (args: string[], expected = 0) => cairnOk(['--repo', repo, ...args], { cwd: root }, expected);

/** Edits that turn tree A into tree B: every kind of change git distinguishes. */
function editToB(): void {
  const p = (rel: string) => path.join(ws, rel);
  fs.appendFileSync(p('src/app.ts'), 'export const y = 2;\n');
  fs.rmSync(p('src/util/str.ts'));
  writeTree(p('src/util/new'), { 'deep.ts': 'deep\n' }); // new nested folder
  fs.appendFileSync(p('docs/guide/deep/more.md'), 'm3\n');
  fs.writeFileSync(p('a/x.txt'), 'x2\n');
  fs.rmSync(p('a-b.txt'));
  fs.rmSync(p('to-link'));
  fs.symlinkSync('README.md', p('to-link')); // file → symlink
  fs.rmSync(p('link-to-file'));
  fs.writeFileSync(p('link-to-file'), 'now a file\n'); // symlink → file
  fs.rmSync(p('to-dir'));
  writeTree(p('to-dir'), { 't.txt': 't\n' }); // file → folder
  fs.rmSync(p('dir-to-file'), { recursive: true });
  fs.writeFileSync(p('dir-to-file'), 'file\n'); // folder → file
  fs.rmSync(p('link-retarget'));
  fs.symlinkSync('README.md', p('link-retarget')); // new target
  fs.writeFileSync(p('with space.txt'), 'sp2\n');
  fs.rmSync(p('ünï.txt'));
  fs.writeFileSync(p('bin.dat'), Buffer.from([0x62, 0, 0x63]));
  fs.rmSync(p('removed-dir'), { recursive: true }); // whole folder deleted
  fs.writeFileSync(p('empty-file'), 'full\n');
  fs.writeFileSync(p('new top.txt'), 'new\n');
  fs.appendFileSync(p('exec.sh'), 'echo more\n'); // content change, mode kept
  fs.writeFileSync(p('no-newline.txt'), 'one\ntwo'); // loses its final newline
  fs.mkdirSync(p('empty-dir')); // neither git nor cairn diff lists an empty folder
}

describe('cairn diff matches git', () => {
  let gitNameStatus: string;

  beforeAll(() => {
    writeTree(ws, {
      'README.md': '# readme\n',
      src: { 'app.ts': 'export const x = 1;\n', util: { 'math.ts': 'm\n', 'str.ts': 's\n' } },
      docs: { guide: { 'intro.md': 'i\n', deep: { 'more.md': 'm1\nm2\n' } } },
      'a.txt': 'a\n',
      'a-b.txt': 'ab\n',
      a: { 'x.txt': 'x\n' },
      'to-link': 'f\n',
      'link-to-file': { symlink: 'README.md' },
      'to-dir': 'd\n',
      'dir-to-file': { 'q.txt': 'q\n', sub: { 'r.txt': 'r\n' } },
      'link-retarget': { symlink: 'a.txt' },
      'with space.txt': 'sp\n',
      'ünï.txt': 'u\n',
      'bin.dat': Buffer.from([0x62, 0, 0x62]),
      'exec.sh': '#!/bin/sh\necho hi\n',
      'removed-dir': { 'one.txt': '1\n', sub: { 'two.txt': '2\n' } },
      'empty-file': '',
      'no-newline.txt': 'one\ntwo\n',
    });
    fs.chmodSync(path.join(ws, 'exec.sh'), 0o755);
    git(['init', '-q']);
    git(['add', '-A']);
    git(['commit', '-q', '-m', 'A']);
    c(['init']);
    c(['snapshot', ws, '--tag', 'tree-a']);
    editToB();
    git(['add', '-A']);
    git(['commit', '-q', '-m', 'B']);
    gitNameStatus = git(['diff', '--name-status', '--no-renames', 'HEAD~1', 'HEAD']);
  });

  it('name-status of the working tree against A (one ref) equals git diff A B', () => {
    // Before snapshotting B: the one-ref form compares A with the directory on disk.
    expect(gitNameStatus.split('\n').length).toBeGreaterThan(20);
    expect(c(['diff', 'tree-a']).stdout).toBe(gitNameStatus);
  });

  it('name-status of two snapshots equals git diff --name-status --no-renames', () => {
    c(['snapshot', ws, '--tag', 'tree-b']);
    expect(c(['diff', 'tree-a', 'tree-b']).stdout).toBe(gitNameStatus);
    // Paths after -- restrict both the same way.
    const gitSome = git(['diff', '--name-status', '--no-renames', 'HEAD~1', 'HEAD', '--', 'src', 'to-dir']);
    expect(c(['diff', 'tree-a', 'tree-b', '--', 'src', 'to-dir']).stdout).toBe(gitSome);
    expect(gitSome).toContain('src/util/new/deep.ts');
  });

  it('--stat counts equal git --numstat, and the summary line equals git --stat', () => {
    const numstat = new Map(
      git(['diff', '--numstat', '--no-renames', 'HEAD~1', 'HEAD'])
        .trim()
        .split('\n')
        .map((l) => {
          const [add, del, p] = l.split('\t');
          return [p!, `${add}/${del}`];
        }),
    );
    const ours = parseJson<Array<{ path: string; kind: string; added: number; removed: number }>>(c(['diff', 'tree-a', 'tree-b', '--stat', '--json']));
    expect(new Map(ours.map((o) => [o.path, o.kind === 'binary' ? '-/-' : `${o.added}/${o.removed}`]))).toEqual(numstat);
    const gitSummary = git(['diff', '--stat', '--no-renames', 'HEAD~1', 'HEAD']).trimEnd().split('\n').pop();
    const text = c(['diff', 'tree-a', 'tree-b', '--stat']).stdout.trimEnd().split('\n');
    expect(text.pop()).toBe(gitSummary);
    expect(text.find((l) => l.includes('bin.dat'))).toMatch(/\| Bin 3 -> 3 bytes$/);
  });

  it('-p output applied with git apply turns tree A into tree B (text files)', () => {
    const target = path.join(root, 'applied');
    c(['restore', 'tree-a', '--target', target]);
    const everythingButBinary = [...new Set([...fs.readdirSync(target), ...fs.readdirSync(ws)])].filter((n) => n !== 'bin.dat');
    const patch = c(['diff', 'tree-a', 'tree-b', '-p', '--', ...everythingButBinary]).stdout;
    expect(patch).toContain('diff --git a/src/app.ts b/src/app.ts');
    const r = spawnSync('git', ['apply', '--whitespace=nowarn', '-'], { cwd: target, input: patch, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const files = (dir: string) => Object.fromEntries(Object.entries(describeTree(dir, { skip: ['bin.dat'] })).filter(([, v]) => v.type !== 'dir'));
    expect(files(target)).toEqual(files(ws));
  });

  it('--json gives path, status, old and new {size, mode, id}', () => {
    const items = parseJson<Array<{ path: string; status: string; old: { size: number; mode: number; id: string } | null; new: { size: number; mode: number; id: string } | null }>>(
      c(['diff', 'tree-a', 'tree-b', '--json']),
    );
    expect(items.map((i) => `${i.status}\t${i.path}\n`).join('')).toBe(gitNameStatus);
    const app = items.find((i) => i.path === 'src/app.ts')!;
    expect(app.old).toMatchObject({ size: 20, mode: 0o644 });
    expect(app.new!.size).toBe(40);
    const ls = parseJson<{ entries: Array<{ path: string; id: string }> }>(c(['ls', 'tree-b', 'src/app.ts', '--json']));
    expect(app.new!.id).toBe(ls.entries[0]!.id);
    expect(items.find((i) => i.path === 'new top.txt')).toMatchObject({ status: 'A', old: null });
    expect(items.find((i) => i.path === 'to-link')).toMatchObject({ status: 'T', old: { id: expect.stringMatching(/^[0-9a-f]{64}$/) }, new: { id: 'README.md' } });
  });

  it('shows mode-only changes only with --include-mode', () => {
    fs.chmodSync(path.join(ws, 'README.md'), 0o600);
    expect(c(['diff', 'tree-b']).stdout).toBe('');
    expect(c(['diff', 'tree-b', '--include-mode']).stdout).toBe('M\tREADME.md\n');
    expect(c(['diff', 'tree-b', '--include-mode', '-p']).stdout).toBe('diff --git a/README.md b/README.md\nold mode 100644\nnew mode 100600\n');
    fs.chmodSync(path.join(ws, 'README.md'), 0o644);
  });

  it('summarises files over the size limit and binary files in -p', () => {
    fs.writeFileSync(path.join(ws, 'src/app.ts'), 'x'.repeat(300));
    const out = c(['diff', 'tree-b', '-p', '--size-limit', '100']).stdout;
    expect(out).toContain('Large files a/src/app.ts and b/src/app.ts differ (40 -> 300 bytes');
    const bin = c(['diff', 'tree-a', 'tree-b', '-p', '--', 'bin.dat']).stdout;
    expect(bin).toBe('diff --git a/bin.dat b/bin.dat\nBinary files a/bin.dat and b/bin.dat differ\n');
  });

  it('fails cleanly on bad arguments', () => {
    expect(cairn(['--repo', repo, 'diff', 'tree-a', 'tree-b', 'tree-a']).code).toBe(2);
    const nf = cairn(['--repo', repo, 'diff', 'no-such-ref', 'tree-b']);
    expect(nf.code).toBe(5);
    expect(nf.stderr).toMatch(/no snapshot or tag matches "no-such-ref"/);
    expect(nf.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(cairn(['--repo', repo, 'diff', '--', 'src']).code).toBe(2);
    expect(cairn(['--repo', repo, 'diff', 'tree-a', 'tree-b', '--', '../x']).code).toBe(2);
    const json = cairn(['--repo', repo, 'diff', 'nope', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: 'NOT_FOUND' });
  });
});

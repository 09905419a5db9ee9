import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir, writeTree, ROOT } from '../helpers.js';

const root = tempDir('cairn-e2e-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface SnapJson {
  id: string;
  parents: string[];
  mode: string;
  type: string;
  base: string | null;
  source: string;
  tags: string[];
  stats: Record<string, number>;
}

describe('workspace repository (.cairn/)', () => {
  const ws = path.join(root, 'ws');
  let first: SnapJson;
  let second: SnapJson;

  beforeAll(() => {
    writeTree(ws, {
      'README.md': '# hi\n',
      src: { 'app.ts': 'export const x = 1;\n', deep: { 'y.ts': 'y\n' } },
      empty: {},
      link: { symlink: 'src/app.ts' },
      'big.bin': Buffer.alloc(3 * 1024 * 1024 + 17, 7),
    });
    fs.chmodSync(path.join(ws, 'src/app.ts'), 0o755);
    cairnOk(['init'], { cwd: ws });
  });

  it('snapshots, logs, lists, cats, shows and restores byte for byte', () => {
    first = parseJson<SnapJson>(cairnOk(['snapshot', '-m', 'first', '--json'], { cwd: ws }));
    expect(first.id).toMatch(/^[0-9a-f]{64}$/);
    expect(first.mode).toBe('full');
    expect(first.parents).toEqual([]);
    expect(first.source).toBe(fs.realpathSync(ws));
    expect(first.stats.files).toBe(4);
    expect(first.stats.added).toBe(4);
    fs.appendFileSync(path.join(ws, 'README.md'), 'more\n');
    fs.rmSync(path.join(ws, 'src/deep/y.ts'));
    fs.writeFileSync(path.join(ws, 'src/new.ts'), 'new\n');
    second = parseJson<SnapJson>(cairnOk(['snapshot', '-m', 'second', '--json'], { cwd: path.join(ws, 'src') }));
    expect(second.mode).toBe('incremental');
    expect(second.base).toBe(first.id);
    expect(second.parents).toEqual([first.id]);
    expect(second.stats).toMatchObject({ added: 1, modified: 1, deleted: 1, unchanged: 2, filesRead: 2 });

    const log = parseJson<SnapJson[]>(cairnOk(['log', '--json'], { cwd: ws }));
    expect(log.map((l) => l.id)).toEqual([second.id, first.id]);
    const text = cairnOk(['log'], { cwd: ws }).stdout;
    expect(text).toContain(second.id.slice(0, 8));
    expect(text).toMatch(/incremental/);

    const ls = parseJson<{ entries: Array<{ path: string; type: string }> }>(cairnOk(['ls', 'latest', '-r', '--json'], { cwd: ws }));
    expect(ls.entries.map((e) => e.path)).toContain('src/new.ts');
    expect(ls.entries.find((e) => e.path === 'link')?.type).toBe('symlink');
    expect(ls.entries.find((e) => e.path === 'empty')?.type).toBe('dir');

    expect(cairnOk(['cat', 'latest~1:README.md'], { cwd: ws }).stdout).toBe('# hi\n');
    expect(cairnOk(['cat', `${first.id.slice(0, 6)}:src/deep/y.ts`], { cwd: ws }).stdout).toBe('y\n');

    const show = parseJson<{ id: string; manifest: { tree: string; stats: { files: number } } }>(cairnOk(['show', first.id, '--json'], { cwd: ws }));
    expect(show.id).toBe(first.id);
    expect(show.manifest.stats.files).toBe(4);

    const out = path.join(root, 'restored-first');
    cairnOk(['restore', first.id.slice(0, 10), '--target', out, '--verify'], { cwd: ws });
    const now = describeTree(out, { mtimes: true });
    expect(now['README.md']?.size).toBe(5);
    expect(now['src/deep/y.ts']).toBeDefined();
    expect(now['src/app.ts']?.mode).toBe(0o755);
    expect(now['.cairn']).toBeUndefined();
    const out2 = path.join(root, 'restored-second');
    cairnOk(['restore', 'latest', '--target', out2], { cwd: ws });
    expect(describeTree(out2, { mtimes: true })).toEqual(describeTree(ws, { mtimes: true, skip: ['.cairn'] }));
  });

  it('a no-change snapshot reads nothing and stores no file data', () => {
    const s = parseJson<SnapJson>(cairnOk(['snapshot', '--json'], { cwd: ws }));
    expect(s.stats.bytesRead).toBe(0);
    expect(s.stats.filesRead).toBe(0);
    expect(s.stats.newObjects).toBe(0);
    expect(s.stats.unchanged).toBe(s.stats.files);
  });

  it('rebuilds a deleted or damaged index from the object store', () => {
    const before = parseJson<SnapJson[]>(cairnOk(['log', '--json'], { cwd: ws }));
    fs.rmSync(path.join(ws, '.cairn/index.db'));
    for (const s of ['-wal', '-shm']) fs.rmSync(path.join(ws, `.cairn/index.db${s}`), { force: true });
    const after = parseJson<SnapJson[]>(cairnOk(['log', '--json'], { cwd: ws }));
    expect(after.map((s) => s.id)).toEqual(before.map((s) => s.id));
    expect(after[0]!.parents).toEqual(before[0]!.parents);
    fs.writeFileSync(path.join(ws, '.cairn/index.db'), 'garbage that is not sqlite at all'.repeat(200));
    for (const s of ['-wal', '-shm']) fs.rmSync(path.join(ws, `.cairn/index.db${s}`), { force: true });
    const damaged = cairn(['log'], { cwd: ws });
    expect(damaged.code).toBe(4);
    expect(damaged.stderr).toMatch(/rebuild-index/);
    cairnOk(['rebuild-index'], { cwd: ws });
    const rebuilt = parseJson<SnapJson[]>(cairnOk(['log', '--json'], { cwd: ws }));
    expect(rebuilt.map((s) => s.id)).toEqual(before.map((s) => s.id));
    // the next snapshot's parent is still the source's HEAD
    const next = parseJson<SnapJson>(cairnOk(['snapshot', '--json'], { cwd: ws }));
    expect(next.parents).toEqual([before[0]!.id]);
  });

  it('honours --exclude and .cairnignore, and never stores the repository itself', () => {
    fs.writeFileSync(path.join(ws, '.cairnignore'), '*.log\nbuild/\n');
    writeTree(ws, { 'x.log': 'log', build: { 'out.js': 'b' }, keep: { 'a.tmp': 't', 'b.txt': 'b' } });
    cairnOk(['snapshot', '--exclude', '*.tmp'], { cwd: ws });
    const paths = parseJson<{ entries: Array<{ path: string }> }>(cairnOk(['ls', 'latest', '-r', '--json'], { cwd: ws })).entries.map((e) => e.path);
    expect(paths).toContain('keep/b.txt');
    expect(paths).toContain('.cairnignore');
    for (const p of ['x.log', 'build', 'keep/a.tmp', '.cairn']) expect(paths).not.toContain(p);
  });
});

describe('standalone repository, refs and errors', () => {
  const repo = path.join(root, 'repo');
  const src = path.join(root, 'src');
  const env = { CAIRN_REPO: repo };

  beforeAll(() => {
    writeTree(src, { a: 'a', b: { c: 'c' } });
    cairnOk(['init', '--repo', repo]);
  });

  it('finds the repository through CAIRN_REPO and needs PATH', () => {
    const r = cairn(['snapshot'], { env, cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs the PATH/);
    cairnOk(['snapshot', src], { env, cwd: root });
    expect(cairnOk(['log'], { env, cwd: root }).stdout).toMatch(/full/);
  });

  it('gives one clear line and a documented exit code for bad input', () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['snapshot', path.join(root, 'nope')], 2, /does not exist/],
      [['snapshot', path.join(src, 'a')], 2, /not a directory/],
      [['ls', 'ffffff'], 5, /no snapshot or tag/],
      [['ls', 'abc'], 2, /too short/],
      [['ls', 'latest~9'], 5, /only/],
      [['cat', 'latest:missing.txt'], 5, /does not exist/],
      [['cat', 'latest:b'], 2, /is a directory/],
      [['cat', 'nocolon'], 2, /REF:PATH/],
      [['restore', 'latest', '--target', path.join(root, 'ws')], 12, /not empty/],
      [['snapshot', src, '--mode', 'sideways'], 2, /unknown mode/],
      [['snapshot', src, '--type', 'sometimes'], 2, /unknown snapshot type/],
      [['snapshot', src, '--time', 'yesterday-ish'], 2, /ISO-8601/],
      [['init'], 2, /already exists/],
    ];
    for (const [args, code, msg] of cases) {
      const r = cairn(args, { env, cwd: root });
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    const none = cairn(['log'], { cwd: root });
    expect(none.code).toBe(10);
    expect(none.stderr).toMatch(/no cairn repository/);
    const json = cairn(['ls', 'ffffff', '--json'], { env, cwd: root });
    expect(JSON.parse(json.stdout)).toMatchObject({ error: 'NOT_FOUND' });
  });

  it('refuses a repository of a newer format version', () => {
    const other = path.join(root, 'newer');
    cairnOk(['init', '--repo', other]);
    const cfg = JSON.parse(fs.readFileSync(path.join(other, 'config.json'), 'utf8'));
    cfg.format = 99;
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify(cfg));
    const r = cairn(['log', '--repo', other]);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/format 99/);
  });

  it('keeps separate histories per source and dedups across them', () => {
    const src2 = path.join(root, 'src2');
    const shared = 'q'.repeat(5000); // over the 4 KiB inline limit: an object of its own
    writeTree(src2, { a: 'a', z: 'zz', shared });
    const s2 = parseJson<SnapJson>(cairnOk(['snapshot', src2, '--json'], { env }));
    expect(s2.parents).toEqual([]);
    expect(s2.mode).toBe('full');
    expect(s2.stats.newObjects).toBe(2); // 'shared' and the tree, which holds 'a' and 'zz' inline
    const src3 = path.join(root, 'src3');
    writeTree(src3, { copy: shared });
    const s3 = parseJson<SnapJson>(cairnOk(['snapshot', src3, '--json'], { env }));
    expect(s3.stats.newObjects).toBe(1); // the tree: the content is already stored, by the other source
    const only = parseJson<SnapJson[]>(cairnOk(['log', '--json', '--source', src2], { env }));
    expect(only.map((s) => s.id)).toEqual([s2.id]);
    const again = parseJson<SnapJson>(cairnOk(['snapshot', src, '--json'], { env }));
    expect(again.parents).toHaveLength(1);
    expect(again.parents[0]).not.toBe(s2.id);
  });

  it('takes differential snapshots against the latest full one and filters log by type', () => {
    const full = parseJson<SnapJson>(cairnOk(['snapshot', src, '--mode', 'full', '--type', 'weekly', '--json'], { env }));
    fs.writeFileSync(path.join(src, 'a'), 'changed');
    cairnOk(['snapshot', src, '--type', 'daily'], { env });
    fs.writeFileSync(path.join(src, 'new'), 'n');
    const diff = parseJson<SnapJson>(cairnOk(['snapshot', src, '--mode', 'differential', '--type', 'daily', '--json'], { env }));
    expect(diff.base).toBe(full.id);
    expect(diff.stats).toMatchObject({ added: 1, modified: 1 }); // both changes since the full one
    const daily = parseJson<SnapJson[]>(cairnOk(['log', '--type', 'daily', '--json'], { env }));
    expect(daily).toHaveLength(2);
    expect(daily.every((s) => s.type === 'daily')).toBe(true);
  });
});

describe('a real directory', () => {
  it('snapshots and restores node_modules (thousands of files) byte for byte', () => {
    // a copy, since test runners write caches under node_modules while this runs
    const src = path.join(root, 'node_modules');
    fs.cpSync(path.join(ROOT, 'node_modules'), src, {
      recursive: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
      filter: (p) => !p.includes(`${path.sep}.vite`) && !p.includes(`${path.sep}.cache`),
    });
    const repo = path.join(root, 'nm-repo');
    cairnOk(['init', '--repo', repo]);
    const s = parseJson<SnapJson>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(s.stats.files).toBeGreaterThan(1000);
    const out = path.join(root, 'nm-out');
    cairnOk(['restore', s.id, '--repo', repo, '--target', out]);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
    const again = parseJson<SnapJson>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(again.stats.filesRead).toBe(0);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-e2e-tags-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const ws = path.join(root, 'ws');
const run = (args: string[]) => cairn(args, { cwd: ws });
const ok = (args: string[], expected = 0) => cairnOk(args, { cwd: ws }, expected);

interface TagJson {
  name: string;
  snapshot: string;
  time: string;
  message: string;
  snapshotTime: string | null;
}

describe('cairn tag / tags', () => {
  let first: string;
  let second: string;

  beforeAll(() => {
    writeTree(ws, { 'app.ts': 'one\n', lib: { 'x.ts': 'x\n' } });
    ok(['init']);
    first = parseJson<{ id: string; tags: string[] }>(ok(['snapshot', '-m', 'one', '--tag', 'v1.0', '--tag', 'first', '--json'])).id;
    fs.writeFileSync(path.join(ws, 'app.ts'), 'two\n');
    const s = parseJson<{ id: string; tags: string[] }>(ok(['snapshot', '-m', 'two', '--json']));
    second = s.id;
    expect(s.tags).toEqual([]);
  });

  it('tags latest by default and lists tags with short id, time and message', () => {
    expect(ok(['tag', 'v1.1', '-m', 'second release']).stdout).toBe(`tagged ${second.slice(0, 8)} as v1.1\n`);
    const tags = parseJson<TagJson[]>(ok(['tags', '--json']));
    expect(tags.map((t) => [t.name, t.snapshot, t.message])).toEqual([
      ['first', first, ''],
      ['v1.0', first, ''],
      ['v1.1', second, 'second release'],
    ]);
    const text = ok(['tags']).stdout.trimEnd().split('\n');
    expect(text[2]).toMatch(new RegExp(`^v1\\.1\\s+${second.slice(0, 8)}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+second release$`));
    expect(parseJson<Array<{ id: string; tags: string[] }>>(ok(['log', '--json'])).map((l) => l.tags)).toEqual([['v1.1'], ['first', 'v1.0']]);
  });

  it('rejects invalid names with a clear message (exit 2)', () => {
    for (const bad of ['has space', '-x', 'a..b', 'v1~1', 'v:1', 'latest', 'cafe', '1234', 'deadbeef', 'trail/']) {
      const r = run(['tag', '--', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/is not a valid tag name/);
      expect(r.stderr).toMatch(/hint:/);
    }
    expect(run(['snapshot', '--tag', 'abcdef']).code).toBe(2);
    expect(parseJson<unknown[]>(ok(['log', '--json']))).toHaveLength(2); // no snapshot was taken
  });

  it('refuses an existing name; --force moves it only when approved, and the move is audited', () => {
    const dup = run(['tag', 'v1.0', 'latest']);
    expect(dup.code).toBe(12);
    expect(dup.stderr).toMatch(/tag v1\.0 already exists \(on [0-9a-f]{8}\)/);
    expect(dup.stderr).toMatch(/--force/);
    const refused = run(['tag', 'v1.0', 'latest', '--force']);
    expect(refused.code).toBe(12);
    expect(refused.stderr).toMatch(/not approved/);
    expect(parseJson<TagJson[]>(ok(['tags', '--json'])).find((t) => t.name === 'v1.0')?.snapshot).toBe(first);
    const moved = parseJson<{ action: string; previous: string; snapshot: string }>(ok(['--yes', 'tag', 'v1.0', 'latest', '--force', '--json']));
    expect(moved).toMatchObject({ action: 'moved', previous: first, snapshot: second });
    const audit = fs
      .readdirSync(path.join(ws, '.cairn', 'audit'))
      .flatMap((f) => fs.readFileSync(path.join(ws, '.cairn', 'audit', f), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l) as { op: string; outcome: string; snapshots: string[]; approved?: boolean; risk?: string });
    expect(audit.filter((a) => a.op === 'approval').map((a) => [a.risk, a.approved])).toEqual([
      ['high', false],
      ['high', true],
    ]);
    expect(audit.find((a) => a.op === 'tag' && a.outcome === 'ok' && a.snapshots.includes(first) && a.snapshots.includes(second))).toBeDefined();
    ok(['--yes', 'tag', 'v1.0', first.slice(0, 12), '--force']); // move it back
  });

  it('works wherever a ref does: cat, ls, show, diff, restore, ~N', () => {
    expect(ok(['cat', 'v1.0:app.ts']).stdout).toBe('one\n');
    expect(ok(['cat', 'v1.1:app.ts']).stdout).toBe('two\n');
    expect(ok(['cat', 'v1.1~1:app.ts']).stdout).toBe('one\n');
    expect(ok(['diff', 'v1.0', 'v1.1']).stdout).toBe('M\tapp.ts\n');
    expect(parseJson<{ id: string }>(ok(['show', 'first', '--json'])).id).toBe(first);
    expect(parseJson<{ snapshot: string }>(ok(['ls', 'v1.0', '--json'])).snapshot).toBe(first);
    const target = path.join(root, 'restored');
    ok(['restore', 'v1.0', '--target', target]);
    expect(fs.readFileSync(path.join(target, 'app.ts'), 'utf8')).toBe('one\n');
    expect(Object.keys(describeTree(target))).toEqual(['app.ts', 'lib', 'lib/x.ts']);
  });

  it("allows '/' in names, stored as one flat ref file", () => {
    ok(['tag', 'release/2026-01', 'v1.1']);
    expect(fs.readdirSync(path.join(ws, '.cairn', 'refs', 'tags')).sort()).toEqual(['first.json', 'release%2F2026-01.json', 'v1.0.json', 'v1.1.json']);
    expect(ok(['cat', 'release/2026-01:app.ts']).stdout).toBe('two\n');
  });

  it('rebuild-index (and a lost index.db) recovers every tag from the refs', () => {
    const before = parseJson<TagJson[]>(ok(['tags', '--json']));
    expect(parseJson<{ tags: number }>(ok(['rebuild-index', '--json'])).tags).toBe(before.length);
    expect(parseJson<TagJson[]>(ok(['tags', '--json']))).toEqual(before);
    fs.rmSync(path.join(ws, '.cairn', 'index.db'));
    expect(parseJson<TagJson[]>(ok(['tags', '--json']))).toEqual(before);
    expect(ok(['cat', 'release/2026-01:app.ts']).stdout).toBe('two\n');
  });

  it('--delete needs approval, keeps the snapshot, and the name stops resolving', () => {
    expect(run(['tag', '--delete', 'first']).code).toBe(12);
    expect(ok(['--yes', 'tag', '--delete', 'first']).stdout).toBe(`deleted tag first (was ${first.slice(0, 8)})\n`);
    expect(run(['tag', '--delete', 'first']).code).toBe(5);
    expect(run(['cat', 'first:app.ts']).code).toBe(5);
    expect(fs.existsSync(path.join(ws, '.cairn', 'refs', 'tags', 'first.json'))).toBe(false);
    expect(ok(['cat', `${first.slice(0, 8)}:app.ts`]).stdout).toBe('one\n');
    expect(run(['tag', '--delete', 'v1.0', 'latest']).code).toBe(2);
    ok(['rebuild-index']);
    expect(parseJson<TagJson[]>(ok(['tags', '--json'])).map((t) => t.name)).toEqual(['release/2026-01', 'v1.0', 'v1.1']);
  });

  it('says so when there are no tags', () => {
    const empty = path.join(root, 'empty');
    writeTree(empty, { f: 'f\n' });
    cairnOk(['init'], { cwd: empty });
    expect(cairnOk(['tags'], { cwd: empty }).stdout).toBe('no tags\n');
    expect(cairnOk(['tags', '--json'], { cwd: empty }).stdout.trim()).toBe('[]');
    expect(cairn(['tag', 'v1'], { cwd: empty }).code).toBe(5); // nothing to tag yet
  });
});

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/index.js';
import { cairn, cairnOk, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-e2e-history-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const ws = path.join(root, 'ws');
const ok = (args: string[]) => cairnOk(args, { cwd: ws });
const snap = (time: string, ...extra: string[]) => parseJson<{ id: string; parents: string[] }>(ok(['snapshot', '--time', time, '--json', ...extra]));

interface VersionJson {
  snapshot: string;
  status: string;
  type: string | null;
  size: number | null;
  id: string | null;
  tags: string[];
}

describe('cairn log -- PATH and log --graph', () => {
  const ids: string[] = [];

  beforeAll(() => {
    writeTree(ws, { 'app.ts': 'v1\n', 'other.txt': 'o\n', src: { 'a.ts': 'a\n' } });
    ok(['init']);
    ids.push(snap('2026-01-01T00:00:01Z', '-m', 'one').id);
    fs.writeFileSync(path.join(ws, 'other.txt'), 'o2\n');
    ids.push(snap('2026-01-01T00:00:02Z', '-m', 'two').id);
    fs.writeFileSync(path.join(ws, 'app.ts'), 'version 3\n');
    fs.writeFileSync(path.join(ws, 'src', 'b.ts'), 'b\n');
    ids.push(snap('2026-01-01T00:00:03Z', '-m', 'three', '--tag', 'v3').id);
  });

  it('log -- PATH lists the snapshots where the file changed, newest first, with size and content id', () => {
    const versions = parseJson<VersionJson[]>(ok(['log', '--json', '--', 'app.ts']));
    expect(versions.map((v) => [v.snapshot, v.status, v.size, v.tags])).toEqual([
      [ids[2], 'M', 10, ['v3']],
      [ids[0], 'A', 3, []],
    ]);
    const ls = parseJson<{ entries: Array<{ id: string }> }>(ok(['ls', ids[0]!, 'app.ts', '--json']));
    expect(versions[1]!.id).toBe(ls.entries[0]!.id);
    // every version can be read back and compared
    expect(ok(['cat', `${versions[1]!.snapshot.slice(0, 8)}:app.ts`]).stdout).toBe('v1\n');
    expect(ok(['diff', versions[1]!.snapshot, versions[0]!.snapshot, '--', 'app.ts']).stdout).toBe('M\tapp.ts\n');
    const text = ok(['log', '--', 'app.ts']).stdout.trimEnd().split('\n');
    expect(text).toHaveLength(2);
    expect(text[0]).toMatch(new RegExp(`^${ids[2]!.slice(0, 8)}  .*  M  file .*10 B  ${versions[0]!.id!.slice(0, 12)}  three \\(v3\\)$`));
    // a folder: the snapshots where anything under it changed
    expect(parseJson<VersionJson[]>(ok(['log', '--json', 'src'])).map((v) => [v.snapshot, v.status, v.type])).toEqual([
      [ids[2], 'M', 'dir'],
      [ids[0], 'A', 'dir'],
    ]);
    expect(ok(['log', '--', 'nothing/here']).stdout).toBe('no snapshot changed nothing/here\n');
    expect(cairn(['log', '--', 'a', 'b'], { cwd: ws }).code).toBe(2);
    expect(cairn(['log', '--graph', '--', 'a'], { cwd: ws }).code).toBe(2);
  });

  it('log --graph draws the branch made by snapshotting from an older HEAD, tags beside snapshots', async () => {
    // Restoring snapshot one into the source would make it the HEAD; set the HEAD directly: its ref file (the
    // truth, which the next open brings the index in line with) and the index.
    const repo = await Repository.open({ cwd: ws });
    const source = fs.realpathSync(ws);
    const headFile = path.join(repo.dir, 'refs', 'heads', `${createHash('sha256').update(source).digest('hex').slice(0, 32)}.json`);
    fs.writeFileSync(headFile, JSON.stringify({ source, snapshot: ids[0] }));
    repo.index.setHead(source, ids[0] as never);
    repo.close();
    fs.writeFileSync(path.join(ws, 'app.ts'), 'branch\n');
    const branch = snap('2026-01-01T00:00:04Z', '-m', 'branch');
    expect(branch.parents).toEqual([ids[0]]);
    ids.push(branch.id);

    const s = (i: number) => ids[i]!.slice(0, 8);
    const lines = ok(['log', '--graph']).stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^\\* ${s(3)} 2026-\\S+ \\S+ manual branch$`)),
      expect.stringMatching(new RegExp(`^\\| \\* ${s(2)} \\(tag: v3\\) .* three$`)),
      expect.stringMatching(new RegExp(`^\\| \\* ${s(1)} .* two$`)),
      '|/',
      expect.stringMatching(new RegExp(`^\\* ${s(0)} .* one$`)),
    ]);

    const json = parseJson<Array<{ id: string; parents: string[]; graph: string; edges: string[]; tags: string[] }>>(ok(['log', '--graph', '--json']));
    expect(json.map((j) => [j.id, j.parents, j.graph, j.edges])).toEqual([
      [ids[3], [ids[0]], '*', []],
      [ids[2], [ids[1]], '| *', []],
      [ids[1], [ids[0]], '| *', ['|/']],
      [ids[0], [], '*', []],
    ]);
    // log -- PATH follows each snapshot's own parent: the branch changed app.ts against snapshot one
    expect(parseJson<VersionJson[]>(ok(['log', '--json', '--', 'app.ts'])).map((v) => [v.snapshot, v.status])).toEqual([
      [ids[3], 'M'],
      [ids[2], 'M'],
      [ids[0], 'A'],
    ]);
    // the other options still apply
    expect(ok(['log', '--graph', '-n', '2']).stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(ok(['log']).stdout.trimEnd().split('\n')).toHaveLength(4);
  });
});

/**
 * `cairn ls` prints entries as the snapshot's trees are read (src/ops/browse.ts openListing): a recursive listing
 * is never held whole, so a listing of millions of entries starts at once in bounded memory. Its text and JSON
 * output are what they were when the listing was gathered first; a damaged subtree met on the way stops it with
 * exit 4 and one line, after what came before it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, cairn, cairnOk, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-ls-stream-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const src = path.join(root, 'src');
const repo = path.join(root, 'repo');
let snapshot = '';

interface Entry {
  path: string;
  type: string;
  id: string;
  target?: string;
}

beforeAll(() => {
  writeTree(src, {
    'a.txt': 'a\n',
    b: { 'c.txt': 'c\n', d: { 'e.txt': 'e\n', 'f.txt': 'ff\n' }, link: { symlink: '../a.txt' } },
    'g.bin': Buffer.alloc(5000, 1),
    z: { 'last.txt': 'z\n', y: { 'deep.txt': 'deep\n' } },
  });
  cairnOk(['init', '--repo', repo]);
  snapshot = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
});

describe('cairn ls, streamed', () => {
  it('lists depth first in tree order, and --json is the same document, byte for byte, as jsonText would write it whole', () => {
    const r = cairnOk(['ls', '-r', snapshot, '--repo', repo, '--json']);
    const doc = parseJson<{ snapshot: string; entries: Entry[] }>(r);
    expect(doc.snapshot).toBe(snapshot);
    expect(doc.entries.map((e) => e.path)).toEqual(['a.txt', 'b', 'b/c.txt', 'b/d', 'b/d/e.txt', 'b/d/f.txt', 'b/link', 'g.bin', 'z', 'z/last.txt', 'z/y', 'z/y/deep.txt']);
    expect(r.stdout).toBe(`${JSON.stringify(doc, null, 2)}\n`);
    // A folder, not recursive; and one file.
    const top = cairnOk(['ls', snapshot, 'b', '--repo', repo, '--json']);
    expect(parseJson<{ entries: Entry[] }>(top).entries.map((e) => e.path)).toEqual(['b/c.txt', 'b/d', 'b/link']);
    expect(top.stdout).toBe(`${JSON.stringify(JSON.parse(top.stdout), null, 2)}\n`);
    const one = cairnOk(['ls', snapshot, 'b/d/e.txt', '--repo', repo, '--json']);
    expect(parseJson<{ entries: Entry[] }>(one).entries.map((e) => e.path)).toEqual(['b/d/e.txt']);
    // An empty folder's listing: "entries": [].
    fs.mkdirSync(path.join(src, 'empty'));
    const withEmpty = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
    const empty = cairnOk(['ls', withEmpty, 'empty', '--repo', repo, '--json']);
    expect(empty.stdout).toBe(`${JSON.stringify({ snapshot: withEmpty, entries: [] }, null, 2)}\n`);
    fs.rmdirSync(path.join(src, 'empty'));
  });

  it('text lines: one per entry, folders with a slash, symlinks with their target', () => {
    const lines = cairnOk(['ls', '-r', snapshot, '--repo', repo]).stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[1]).toMatch(/^d\S+ +\d+ \S+ \S+  b\/$/);
    expect(lines[6]).toMatch(/  b\/link -> \.\.\/a\.txt$/);
    expect(lines[11]).toMatch(/  z\/y\/deep\.txt$/);
  });

  it('prints what it read before a damaged subtree, then fails with exit 4 and one line', () => {
    const damaged = path.join(root, 'repo-damaged');
    fs.cpSync(repo, damaged, { recursive: true });
    const entries = parseJson<{ entries: Entry[] }>(cairnOk(['ls', snapshot, '--repo', damaged, '--json'])).entries;
    const z = entries.find((e) => e.path === 'z')!.id;
    fs.rmSync(path.join(damaged, 'objects', z.slice(0, 2), z.slice(2, 4), z));
    const r = cairn(['ls', '-r', snapshot, '--repo', damaged]);
    expect(r.code).toBe(4);
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^cairn: .*${z}`));
    // Everything before z/ was printed as it was read.
    expect(r.stdout.trimEnd().split('\n').map((l) => l.split('  ').pop())).toEqual(['a.txt', 'b/', 'b/c.txt', 'b/d/', 'b/d/e.txt', 'b/d/f.txt', 'b/link -> ../a.txt', 'g.bin', 'z/']);
  });

  it('the library: lsStream yields the entries ls gathers', async () => {
    const { Repository } = (await import(path.join(ROOT, 'dist', 'src', 'index.js'))) as typeof import('../../src/index.js');
    const r = await Repository.open({ repo });
    try {
      const { snapshot: id, entries } = await r.lsStream(snapshot, '', { recursive: true });
      const streamed: unknown[] = [];
      for await (const e of entries) streamed.push(e);
      expect(id).toBe(snapshot);
      expect(streamed).toEqual((await r.ls(snapshot, '', { recursive: true })).entries);
    } finally {
      r.close();
    }
  });
});

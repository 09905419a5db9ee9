/**
 * Hard links: a file with several names is snapshotted with its link count and device (trees, docs/format.md), and
 * a restore into a new directory makes its names one file again, as restic, borg and tar do, instead of as many
 * copies. A crafted or inconsistent snapshot (two names of one inode with different contents) gets the contents
 * its entries name, never one in place of the other.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir } from '../helpers.js';
import { goodRepo, putRaw, putSnapshot } from './craftedRepo.js';

const root = tempDir('cairn-hardlinks-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Each file's names grouped by inode, as sorted lists of relative paths (names of one file together). */
function linkGroups(dir: string): string[][] {
  const byInode = new Map<number, string[]>();
  const walk = (abs: string, rel: string) => {
    for (const name of fs.readdirSync(abs).sort()) {
      const a = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(a);
      if (st.isDirectory()) walk(a, r);
      else if (st.isFile()) byInode.set(st.ino, [...(byInode.get(st.ino) ?? []), r]);
    }
  };
  walk(dir, '');
  return [...byInode.values()].map((g) => g.sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

interface RestoreJson {
  files: number;
  links: number;
}

describe('hard links', () => {
  it('are restored as links of one file into a new directory, with the writing thread too; contents, modes and times as they were', () => {
    const src = path.join(root, 'src1');
    const repo = path.join(root, 'repo1');
    // 1,100 small files, so that the restore writes small files on its second thread (1,000 or more).
    for (let d = 0; d < 11; d++) {
      fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
    }
    // Names of one small file in three directories, one inline-sized file twice in one directory, a large file
    // (chunked, written on the main thread) twice, and an empty file twice.
    fs.linkSync(path.join(src, 'd0/f1'), path.join(src, 'd5/also-f1'));
    fs.linkSync(path.join(src, 'd0/f1'), path.join(src, 'd10/again-f1'));
    fs.linkSync(path.join(src, 'd3/f7'), path.join(src, 'd3/f7-twin'));
    fs.writeFileSync(path.join(src, 'big.bin'), randomBytes(3 * 1024 * 1024));
    fs.linkSync(path.join(src, 'big.bin'), path.join(src, 'd7/big-link.bin'));
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.linkSync(path.join(src, 'empty'), path.join(src, 'd2/empty-link'));
    fs.chmodSync(path.join(src, 'd3/f7'), 0o600);
    const groups = linkGroups(src);
    expect(groups.filter((g) => g.length > 1)).toEqual([
      ['big.bin', 'd7/big-link.bin'],
      ['d0/f1', 'd10/again-f1', 'd5/also-f1'],
      ['d2/empty-link', 'empty'],
      ['d3/f7', 'd3/f7-twin'],
    ]);

    cairnOk(['init', '--repo', repo]);
    cairnOk(['snapshot', src, '--repo', repo]);
    const out = path.join(root, 'out1');
    const r = cairnOk(['restore', 'latest', '--target', out, '--verify', '--repo', repo]);
    expect(r.stdout).toContain('wrote 1107 files (5 of them hard links)');
    expect(linkGroups(out)).toEqual(groups);
    expect(fs.statSync(path.join(out, 'd0/f1')).nlink).toBe(3);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));

    // A new name: the file's ctime changes, so the next snapshot reads its names again and records four.
    fs.linkSync(path.join(src, 'd0/f1'), path.join(src, 'd9/fourth'));
    const snap = parseJson<{ id: string; stats: { filesRead: number } }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(snap.stats.filesRead).toBeGreaterThanOrEqual(4); // its four names (and any file the racy-clean rule reads again)
    expect(snap.stats.filesRead).toBeLessThan(100);
    const out2 = path.join(root, 'out2');
    const r2 = parseJson<RestoreJson>(cairnOk(['restore', snap.id, '--target', out2, '--json', '--repo', repo]));
    expect(r2.links).toBe(6);
    expect(linkGroups(out2)).toEqual(linkGroups(src));

    // A restore of part of the snapshot links the names it restores.
    const out3 = path.join(root, 'out3');
    cairnOk(['restore', snap.id, '--target', out3, '--path', 'd5', '--path', 'd9', '--repo', repo]);
    expect(fs.statSync(path.join(out3, 'd5/also-f1')).ino).toBe(fs.statSync(path.join(out3, 'd9/fourth')).ino);
    expect(fs.readFileSync(path.join(out3, 'd9/fourth'), 'utf8')).toBe('file 0/1\n');

    // In place, over the source: names restored together are staged as links of one file and renamed into place
    // as such; a name left in place (unchanged) keeps its own inode, so the one restored beside it is a copy.
    fs.rmSync(path.join(src, 'd5/also-f1'));
    fs.rmSync(path.join(src, 'd9/fourth'));
    fs.rmSync(path.join(src, 'd7/big-link.bin'));
    fs.rmSync(path.join(src, 'big.bin'));
    const r4 = parseJson<RestoreJson>(cairnOk(['restore', snap.id, '--verify', '--json', '--yes', '--repo', repo]));
    expect(r4.links).toBe(2);
    expect(fs.statSync(path.join(src, 'd5/also-f1')).ino).toBe(fs.statSync(path.join(src, 'd9/fourth')).ino);
    expect(fs.statSync(path.join(src, 'big.bin')).ino).toBe(fs.statSync(path.join(src, 'd7/big-link.bin')).ino);
    expect(fs.statSync(path.join(src, 'd0/f1')).ino).not.toBe(fs.statSync(path.join(src, 'd9/fourth')).ino);
    expect(describeTree(src)).toEqual(describeTree(out2));
  });

  it('two names of one inode whose entries differ (a crafted tree, or a file changed between its reads) get their own contents', () => {
    const { repo, good, manifest } = goodRepo(root, 'crafted');
    const a = putRaw(repo, Buffer.from('content A'));
    const b = putRaw(repo, Buffer.from('content B'));
    const entry = (name: string, chunk: string) => ({ chunks: [chunk], dev: 2049, ino: 42, links: 3, mode: 0o644, mtime: '1700000000000000000', name, size: 9, type: 'file' });
    const tree = putRaw(repo, Buffer.from(JSON.stringify({ entries: [entry('one', a), entry('three', a), entry('two', b)], v: 1 })));
    const stats = manifest.stats as Record<string, unknown>;
    const id = putSnapshot(repo, { ...manifest, tree, parents: [good], message: 'links', time: new Date(Date.parse(String(manifest.time)) + 1000).toISOString(), stats: { ...stats, files: 3, dirs: 0, bytes: 27 } });
    const out = path.join(root, 'crafted-out');
    const r = parseJson<RestoreJson>(cairnOk(['restore', id, '--target', out, '--verify', '--json', '--repo', repo]));
    expect(r.links).toBe(1);
    expect(fs.readFileSync(path.join(out, 'one'), 'utf8')).toBe('content A');
    expect(fs.readFileSync(path.join(out, 'two'), 'utf8')).toBe('content B');
    expect(fs.readFileSync(path.join(out, 'three'), 'utf8')).toBe('content A');
    expect(fs.statSync(path.join(out, 'one')).ino).toBe(fs.statSync(path.join(out, 'three')).ino);
    expect(fs.statSync(path.join(out, 'two')).nlink).toBe(1);
  });

  it('a link the file system refuses is written as a copy; any other failure to link stops the restore with one line and leaves nothing', () => {
    const src = path.join(root, 'src-faults');
    const repo = path.join(root, 'repo-faults');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a'), 'shared content\n');
    fs.linkSync(path.join(src, 'a'), path.join(src, 'sub/b'));
    fs.linkSync(path.join(src, 'a'), path.join(src, 'sub/c'));
    cairnOk(['init', '--repo', repo]);
    cairnOk(['snapshot', src, '--repo', repo]);

    // EPERM (a file system without hard links, as vfat answers) on the first link: that name is a copy.
    const out = path.join(root, 'out-eperm');
    const r = parseJson<RestoreJson>(cairnOk(['restore', 'latest', '--target', out, '--verify', '--json', '--repo', repo], { env: { CAIRN_TEST_FAULTS: 'restore-link:EPERM:1' } }));
    expect(r.links).toBe(1);
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
    expect(linkGroups(out).filter((g) => g.length > 1)).toHaveLength(1);
    expect(fs.statSync(path.join(out, 'a')).nlink).toBe(2);

    // EIO is not "no links here": the restore fails, says which name, and the target is not created.
    const bad = path.join(root, 'out-eio');
    const f = cairn(['restore', 'latest', '--target', bad, '--repo', repo], { env: { CAIRN_TEST_FAULTS: 'restore-link:EIO:2' } });
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/^cairn: cannot write sub\/c \(a hard link\): .*EIO/);
    expect(f.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(f.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(bad)).toBe(false);
    expect(fs.readdirSync(root).filter((n) => n.startsWith('.out-eio'))).toEqual([]);
  });
});

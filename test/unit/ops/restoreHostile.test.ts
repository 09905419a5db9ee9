/**
 * Hostile snapshots: manifests and trees crafted by hand (straight into the
 * object store) that try to make a restore write outside its target.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Repository } from '../../../src/repository.js';
import { encodeManifest, type Manifest } from '../../../src/model/manifest.js';
import { snapshotMarker } from '../../../src/refs.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { canonicalJson } from '../../../src/util/canonicalJson.js';
import { sha256Hex } from '../../../src/util/hash.js';
import { describeTree, tempDir, writeTree } from '../../helpers.js';

let root: string;
let repo: Repository;
let good: { id: ObjectId; manifest: Manifest };
let outside: string;

beforeEach(async () => {
  root = tempDir('cairn-hostile-');
  writeTree(path.join(root, 'src'), { 'a.txt': 'a\n', d: { 'b.txt': 'b\n' } });
  outside = path.join(root, 'outside');
  writeTree(outside, { 'canary.txt': 'untouched\n' });
  repo = await Repository.init({ repo: path.join(root, 'repo'), approve: () => true });
  good = await repo.snapshot({ path: path.join(root, 'src') });
});

afterEach(() => {
  repo.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Stores raw tree bytes (no validation on the way in). */
async function putTree(entries: unknown[]): Promise<ObjectId> {
  const put = await repo.store.put(Buffer.from(canonicalJson({ entries, v: 1 })));
  await repo.store.flush();
  return put.id;
}

/** Registers a crafted manifest as a snapshot. */
async function craft(changes: Partial<Manifest>): Promise<ObjectId> {
  const m: Manifest = { ...good.manifest, ...changes, time: new Date(Date.parse(good.manifest.time) + 1000).toISOString() };
  const put = await repo.store.put(encodeManifest(m));
  await repo.store.flush();
  fs.writeFileSync(snapshotMarker(repo.dir, put.id), '');
  repo.index.addSnapshot(put.id, m);
  return put.id;
}

const file = (name: string, content: string) => ({ name, type: 'file', mode: 0o644, mtime: '0', size: content.length, chunks: [sha256Hex(content)] });

function untouched(): void {
  expect(describeTree(outside)).toEqual({ 'canary.txt': expect.objectContaining({ type: 'file', size: 10 }) });
  expect(fs.readFileSync(path.join(outside, 'canary.txt'), 'utf8')).toBe('untouched\n');
}

describe('restore rejects hostile manifests', () => {
  it('a tree naming ".." (at the root or deeper) is refused, in place and into a new target', async () => {
    await repo.store.put(Buffer.from('pwned\n'));
    const dotdot = await putTree([file('..', 'pwned\n')]);
    const deep = await putTree([{ name: 'd', type: 'dir', mode: 0o755, mtime: '0', tree: dotdot }]);
    for (const tree of [dotdot, deep]) {
      const id = await craft({ tree });
      const fresh = path.join(root, `fresh-${tree.slice(0, 6)}`);
      await expect(repo.restore(id, { target: fresh })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
      expect(fs.existsSync(fresh)).toBe(false);
      const before = describeTree(path.join(root, 'src'), { mtimes: true });
      await expect(repo.restore(id)).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
      expect(describeTree(path.join(root, 'src'), { mtimes: true })).toEqual(before);
    }
    expect(fs.readdirSync(root).sort()).toEqual(['outside', 'repo', 'src']);
    untouched();
  });

  it('a name with a slash, or a symlink and a directory under one name, is refused', async () => {
    const slash = await putTree([file('outside/canary.txt', 'x')]);
    const symlinkThenDir = await putTree([
      { name: 'evil', type: 'symlink', mode: 0o777, mtime: '0', target: outside },
      { name: 'evil', type: 'dir', mode: 0o755, mtime: '0', tree: good.manifest.tree },
    ]);
    for (const tree of [slash, symlinkThenDir]) {
      const id = await craft({ tree });
      const target = path.join(root, 'over');
      writeTree(target, { 'keep.txt': 'k\n' });
      await expect(repo.restore(id, { target, force: true })).rejects.toMatchObject({ code: expect.stringMatching(/UNSAFE_PATH|INTEGRITY/) });
      expect(fs.readdirSync(target)).toEqual(['keep.txt']);
      fs.rmSync(target, { recursive: true });
    }
    untouched();
  });

  it('a manifest whose source is not an absolute path cannot be restored in place', async () => {
    const id = await craft({ source: '../outside' });
    // Refused when the manifest is read (it breaks the format), before restore's own check of the source.
    await expect(repo.restore(id)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(/bad source "\.\.\/outside" \(not an absolute path\)/) });
    untouched();
  });

  it('a restore into the repository itself is refused', async () => {
    await expect(repo.restore(good.id, { target: path.join(repo.dir, 'objects'), force: true })).rejects.toMatchObject({ code: 'USAGE' });
  });
});

/**
 * Writing hostile or damaged objects straight into a repository's store, with correct ids (the SHA-256 of their
 * content), as an attacker with write access to a repository (or a damaged copy of one) could.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cairnOk, parseJson, writeTree } from '../helpers.js';

/** Writes `content` under its id with codec byte `codec` (the payload as given); returns the id. */
export function putRaw(repo: string, content: Buffer, codec = 0, payload = content): string {
  const id = createHash('sha256').update(content).digest('hex');
  const dir = path.join(repo, 'objects', id.slice(0, 2), id.slice(2, 4));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, id), Buffer.concat([Buffer.of(codec), payload]));
  return id;
}

/** A live snapshot of `manifest` (a marker for it), as a crafted repository holds one. */
export function putSnapshot(repo: string, manifest: Record<string, unknown>): string {
  const id = putRaw(repo, Buffer.from(JSON.stringify(manifest)));
  fs.writeFileSync(path.join(repo, 'snapshots', id), '');
  return id;
}

/** A repository under `root` with one sound snapshot of a small tree; its id and manifest. */
export function goodRepo(root: string, name: string): { repo: string; good: string; manifest: Record<string, unknown> } {
  const repo = path.join(root, name);
  const src = path.join(root, `${name}-src`);
  writeTree(src, { 'a.txt': 'alpha', sub: { 'b.txt': 'beta' } });
  cairnOk(['init', '--repo', repo]);
  const good = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
  const manifest = parseJson<{ manifest: Record<string, unknown> }>(cairnOk(['show', good, '--repo', repo, '--json'])).manifest;
  return { repo, good, manifest };
}

/** A tree bomb: 41 small trees, each naming the next twice, 2^40 paths to one 1-byte file; the root tree's id. */
export function putTreeBomb(repo: string, levels = 40): string {
  const chunk = putRaw(repo, Buffer.from('x'));
  let tree = putRaw(repo, Buffer.from(JSON.stringify({ entries: [{ chunks: [chunk], mode: 0o644, mtime: '0', name: 'f', size: 1, type: 'file' }], v: 1 })));
  const dir = (name: string, t: string) => ({ mode: 0o755, mtime: '0', name, tree: t, type: 'dir' });
  for (let i = 0; i < levels; i++) tree = putRaw(repo, Buffer.from(JSON.stringify({ entries: [dir('a', tree), dir('b', tree)], v: 1 })));
  return tree;
}

/**
 * Refs: small files that name snapshots and are the source of truth the index
 * is rebuilt from. refs/heads/<hash of source>.json holds a source's HEAD (the
 * snapshot it last matched); refs/tags/<name>.json a tag.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from './errors.js';
import type { ObjectId } from './store/objectId.js';
import { writeFileAtomicSync } from './util/durableFs.js';
import { sha256Hex } from './util/hash.js';

export interface HeadRef {
  source: string;
  snapshot: ObjectId;
}

export interface TagRef {
  name: string;
  snapshot: ObjectId;
  time: string;
  message: string;
}

function headFile(repoDir: string, source: string): string {
  return path.join(repoDir, 'refs', 'heads', `${sha256Hex(source).slice(0, 32)}.json`);
}

export function writeHead(repoDir: string, ref: HeadRef): void {
  const file = headFile(repoDir, ref.source);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, JSON.stringify(ref));
}

/** Removes a source's HEAD ref (when its last snapshot is forgotten). */
export function removeHead(repoDir: string, source: string): void {
  fs.rmSync(headFile(repoDir, source), { force: true });
}

function readJsonDir<T>(dir: string): T[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  const out: T[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as T);
    } catch {
      /* a damaged ref is skipped; verify reports it */
    }
  }
  return out;
}

export function readHeads(repoDir: string): HeadRef[] {
  return readJsonDir<HeadRef>(path.join(repoDir, 'refs', 'heads'));
}

export function tagFile(repoDir: string, name: string): string {
  return path.join(repoDir, 'refs', 'tags', `${name}.json`);
}

export function writeTag(repoDir: string, tag: TagRef): void {
  const file = tagFile(repoDir, tag.name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, JSON.stringify(tag));
}

export function removeTag(repoDir: string, name: string): void {
  fs.rmSync(tagFile(repoDir, name), { force: true });
}

export function readTags(repoDir: string): TagRef[] {
  return readJsonDir<TagRef>(path.join(repoDir, 'refs', 'tags'));
}

/** The marker that says a snapshot exists (written after its manifest is durable). */
export function snapshotMarker(repoDir: string, id: ObjectId): string {
  return path.join(repoDir, 'snapshots', id);
}

export function listSnapshotMarkers(repoDir: string): ObjectId[] {
  try {
    return fs.readdirSync(path.join(repoDir, 'snapshots')).filter((n) => /^[0-9a-f]{64}$/.test(n)) as ObjectId[];
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

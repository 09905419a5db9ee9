/**
 * Refs: small files that name snapshots and are the source of truth the index
 * is rebuilt from. refs/heads/<hash of source>.json holds a source's HEAD (the
 * snapshot it last matched); refs/tags/<name>.json a tag.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from './errors.js';
import { isObjectId, type ObjectId } from './store/objectId.js';
import { tempName, writeFileAtomicSync } from './util/durableFs.js';
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

/**
 * A tag's file name: the name with '%' and '/' percent-encoded, so a tag such
 * as `release/1.0` is one flat file (refs/tags/release%2F1.0.json) and never a
 * path that could leave refs/tags. The JSON inside holds the real name.
 */
export function tagFileName(name: string): string {
  return `${name.replace(/%/g, '%25').replace(/\//g, '%2F')}.json`;
}

export function tagFile(repoDir: string, name: string): string {
  return path.join(repoDir, 'refs', 'tags', tagFileName(name));
}

/** What is at a tag's ref file: nothing, a tag, or a file that is not a tag ref (damaged). */
export type TagFileState = { state: 'none' } | { state: 'ok'; tag: TagRef } | { state: 'damaged'; file: string; why: string };

function isTagRef(t: unknown, name: string): t is TagRef {
  const r = t as Partial<TagRef> | null;
  return typeof r === 'object' && r !== null && r.name === name && isObjectId(r.snapshot) && typeof r.time === 'string' && typeof r.message === 'string';
}

/** The state of tag `name`'s ref file (see TagFileState). */
export function inspectTag(repoDir: string, name: string): TagFileState {
  const file = tagFile(repoDir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { state: 'none' };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { state: 'damaged', file, why: 'it is not JSON' };
  }
  return isTagRef(parsed, name) ? { state: 'ok', tag: parsed } : { state: 'damaged', file, why: 'it is not a tag ref of that name' };
}

/** The tag ref named `name`, or undefined when there is none (or it is damaged: see inspectTag). */
export function readTag(repoDir: string, name: string): TagRef | undefined {
  const s = inspectTag(repoDir, name);
  return s.state === 'ok' ? s.tag : undefined;
}

export function writeTag(repoDir: string, tag: TagRef): void {
  const file = tagFile(repoDir, tag.name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, JSON.stringify(tag));
}

/**
 * Creates a tag's ref file only if no tag of that name exists: the content is
 * written and synced under a temp name, then hard-linked to the final name,
 * which fails if another writer got there first. Returns false in that case.
 */
export function createTagExclusive(repoDir: string, tag: TagRef): boolean {
  const file = tagFile(repoDir, tag.name);
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempName(dir, '.tmp');
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fs.writeFileSync(fd, JSON.stringify(tag));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let dfd: number | undefined;
  try {
    dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
  } catch {
    /* fsync of a directory not supported on this file system */
  } finally {
    if (dfd !== undefined) fs.closeSync(dfd);
  }
  return true;
}

/** Removes a tag's ref file and syncs its directory, so the removal survives a crash. */
export function removeTag(repoDir: string, name: string): void {
  const file = tagFile(repoDir, name);
  fs.rmSync(file, { force: true });
  let dfd: number | undefined;
  try {
    dfd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dfd);
  } catch {
    /* no directory, or fsync not supported on this file system */
  } finally {
    if (dfd !== undefined) fs.closeSync(dfd);
  }
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

/**
 * Refs: small files that name snapshots and are the source of truth the index
 * is rebuilt from. refs/heads/<hash of source>.json holds a source's HEAD (the
 * snapshot it last matched); refs/tags/<name>.json a tag.
 *
 * Every change to a ref is made here, durably, before the index is told
 * (ref first, index second); a crash in between leaves the index behind the
 * refs, and reconcileIndex (ops/rebuildIndex.ts) catches it up on the next open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeError, IntegrityError, isErrno } from './errors.js';
import { isObjectId, type ObjectId } from './store/objectId.js';
import { tempName, writeFileAtomicSync } from './util/durableFs.js';
import { faultPointSync } from './util/faults.js';
import { sha256Hex } from './util/hash.js';
import { shellWord } from './util/quoteName.js';
import { tagNameProblem } from './model/tagName.js';

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

let refChanges = 0;

/**
 * Called after each ref file is durably written or removed, before the caller updates the index: the test
 * fault point `ref-written` (util/faults.ts), so a test can kill the process in exactly that window.
 */
function refChanged(): void {
  faultPointSync('ref-written', ++refChanges);
}

/** fsync a directory, so that a creation, rename or removal in it survives a crash (where the file system allows). */
function syncDirSync(dir: string): void {
  let dfd: number | undefined;
  try {
    dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
  } catch {
    /* no directory, or fsync of a directory not supported on this file system */
  } finally {
    if (dfd !== undefined) fs.closeSync(dfd);
  }
}

/** A HEAD ref's file name: a hash of the source path (any path, any length, one flat file). */
export function headFileName(source: string): string {
  return `${sha256Hex(source).slice(0, 32)}.json`;
}

function headFile(repoDir: string, source: string): string {
  return path.join(repoDir, 'refs', 'heads', headFileName(source));
}

export function writeHead(repoDir: string, ref: HeadRef): void {
  const file = headFile(repoDir, ref.source);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, JSON.stringify(ref));
  refChanged();
}

/** Removes a source's HEAD ref (when its last snapshot is forgotten) and syncs its directory. */
export function removeHead(repoDir: string, source: string): void {
  const file = headFile(repoDir, source);
  fs.rmSync(file, { force: true });
  syncDirSync(path.dirname(file));
  refChanged();
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

function isHeadRef(h: unknown): h is HeadRef {
  const r = h as Partial<HeadRef> | null;
  return typeof r === 'object' && r !== null && typeof r.source === 'string' && isObjectId(r.snapshot);
}

/** What one ref file holds, as readRefFile decides it. */
type RefFileState<T> = { state: 'none' } | { state: 'ok'; ref: T } | { state: 'damaged'; why: string; error?: unknown };

/**
 * Reads and checks the ref file `name` in refs/<kind>/: the one place that decides what a ref file means. A file
 * that is gone is `none`; one that cannot be read (any error but ENOENT), is not JSON, or is not a ref of the
 * name it is filed under (a tag's name, a HEAD's source hash; its snapshot a full 64-hex id) is `damaged`.
 */
function readRefFile(kind: 'heads' | 'tags', file: string, name: string): RefFileState<HeadRef | TagRef> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { state: 'none' };
    return { state: 'damaged', why: describeError(err), error: err };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { state: 'damaged', why: 'it is not JSON' };
  }
  if (kind === 'tags') {
    const tagName = (parsed as { name?: unknown } | null)?.name;
    return typeof tagName === 'string' && tagFileName(tagName) === name && isTagRef(parsed, tagName)
      ? { state: 'ok', ref: parsed }
      : { state: 'damaged', why: 'it is not a tag ref of that name' };
  }
  return isHeadRef(parsed) && headFileName(parsed.source) === name ? { state: 'ok', ref: parsed } : { state: 'damaged', why: 'it is not a HEAD ref of that source' };
}

/** The state of tag `name`'s ref file (see TagFileState and readRefFile). */
export function inspectTag(repoDir: string, name: string): TagFileState {
  const file = tagFile(repoDir, name);
  const s = readRefFile('tags', file, tagFileName(name));
  if (s.state === 'none') return s;
  if (s.state === 'damaged' && s.error !== undefined) throw s.error; // a permission or disk error stays one
  return s.state === 'ok' ? { state: 'ok', tag: s.ref as TagRef } : { state: 'damaged', file, why: s.why };
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
  refChanged();
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
  syncDirSync(dir);
  refChanged();
  return true;
}

/** Removes a tag's ref file and syncs its directory, so the removal survives a crash. */
export function removeTag(repoDir: string, name: string): void {
  const file = tagFile(repoDir, name);
  fs.rmSync(file, { force: true });
  syncDirSync(path.dirname(file));
  refChanged();
}

/** A ref file that cannot be used: not readable, not JSON, or not a ref of the name it is filed under. */
export interface DamagedRef {
  kind: 'heads' | 'tags';
  /** The file's name in refs/<kind>/. */
  name: string;
  file: string;
  why: string;
}

/** Every ref file, read and checked: what reconcileIndex and verify compare the index with. */
export interface RefScan {
  /** Tag refs by tag name. */
  tags: Map<string, TagRef>;
  /** HEAD refs by source. */
  heads: Map<string, HeadRef>;
  damaged: DamagedRef[];
  /** Temp files a ref write left behind (`.tmp-<pid>-...`), with the pid of their writer. */
  leftovers: Array<{ file: string; pid: number }>;
}

/**
 * Reads refs/heads and refs/tags: one listing of each directory and one small read per ref. A file whose
 * content is not a ref of the name it is filed under (a tag's name, a HEAD's source hash) is damaged, not a ref.
 */
export function scanRefs(repoDir: string): RefScan {
  const out: RefScan = { tags: new Map(), heads: new Map(), damaged: [], leftovers: [] };
  for (const kind of ['heads', 'tags'] as const) {
    const dir = path.join(repoDir, 'refs', kind);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    for (const name of names.sort()) {
      const file = path.join(dir, name);
      const tmp = /^\.tmp-(\d+)-/.exec(name);
      if (tmp) out.leftovers.push({ file, pid: Number(tmp[1]) });
      if (!name.endsWith('.json')) continue;
      const r = readRefFile(kind, file, name);
      if (r.state === 'none') continue; // removed since the listing
      if (r.state === 'damaged') out.damaged.push({ kind, name, file, why: r.why });
      else if (kind === 'tags') out.tags.set((r.ref as TagRef).name, r.ref as TagRef);
      else out.heads.set((r.ref as HeadRef).source, r.ref as HeadRef);
    }
  }
  return out;
}

/**
 * scanRefs for an operation that decides from the refs what to keep (prune, forget). A ref file that cannot be
 * used might name the only thing that protects a snapshot, and what it names is unknown: so rather than treat it
 * as absent, this throws an IntegrityError naming the file, with `stopped` (what did not happen) in front. Temp
 * files a killed ref write left are not refs (that write never happened) and change nothing.
 */
export function soundRefs(repoDir: string, stopped: string): RefScan {
  const scan = scanRefs(repoDir);
  const d = scan.damaged[0];
  if (d === undefined) return scan;
  const more = scan.damaged.length - 1;
  const also = more > 0 ? ` (and ${more} more damaged ref file${more === 1 ? '' : 's'})` : '';
  throw new IntegrityError(`${stopped}: ref file ${d.file} cannot be read (${d.why}), so what it protects is unknown${also}`, {
    hint: damagedRefHint(d),
    details: { damaged: scan.damaged.map((x) => x.file) },
  });
}

/** What to do about a damaged ref file. */
export function damagedRefHint(d: DamagedRef): string {
  const name = d.kind === 'tags' ? tagNameOfFile(d.name) : undefined;
  if (name !== undefined) return `delete it with \`cairn tag -d ${shellWord(name)}\` or replace it with \`cairn tag ${shellWord(name)} <snapshot> --force\` (\`cairn verify\` lists every damaged ref)`;
  const what = d.kind === 'heads' ? "a HEAD only names its source's last snapshot, and the next snapshot of that source writes it again" : 'its name is not one of a tag';
  return `repair or remove that file: ${what} (\`cairn verify\` lists every damaged ref)`;
}

/** The tag name a file in refs/tags is filed under, or undefined when the file name is not one tagFileName makes. */
function tagNameOfFile(fileName: string): string | undefined {
  if (!fileName.endsWith('.json')) return undefined;
  const name = fileName.slice(0, -'.json'.length).replace(/%2F/g, '/').replace(/%25/g, '%');
  return tagFileName(name) === fileName && tagNameProblem(name) === null ? name : undefined;
}

/** The marker that says a snapshot exists (written after its manifest is durable). */
export function snapshotMarker(repoDir: string, id: ObjectId): string {
  return path.join(repoDir, 'snapshots', id);
}

/**
 * Creates a snapshot's marker durably. It is empty, so it is created in place: a crash leaves it there or not,
 * never torn, and no temp file, rename and second fsync are needed (on ext4 the file's fsync commits its
 * directory entry too, and the directory's fsync then finds nothing to do: one journal commit, not two).
 */
export function writeSnapshotMarker(repoDir: string, id: ObjectId): void {
  const file = snapshotMarker(repoDir, id);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Never through a symlink planted at its name (the old temp-and-rename replaced one; an open would follow it).
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o644);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  syncDirSync(path.dirname(file));
}

export function listSnapshotMarkers(repoDir: string): ObjectId[] {
  try {
    return fs.readdirSync(path.join(repoDir, 'snapshots')).filter((n) => /^[0-9a-f]{64}$/.test(n)) as ObjectId[];
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

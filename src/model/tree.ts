/**
 * Trees glossary
 * - tree: one directory, stored as an object of canonical JSON
 *   `{"entries":[...],"v":1}` with entries sorted by name bytes.
 * - entry: a file (its chunk ids), a dir (its subtree id) or a symlink (its
 *   target), with mode bits, mtime and, for change detection, the inode and
 *   ctime seen when it was read.
 * - inline file: a small file whose content the tree holds itself (`inline`
 *   as text when its bytes are valid UTF-8, else `rawInline` as base64), with
 *   its one chunk id kept as the content's name; its chunk is not an object.
 *   Trees with an inline file are version 2, so a cairn that predates them
 *   refuses them instead of looking for objects that are not there.
 * Equal directories encode to equal bytes and so to equal ids.
 */
import { isUtf8 } from 'node:buffer';
import { IntegrityError } from '../errors.js';
import { isObjectId, type ObjectId } from '../store/objectId.js';
import { assertSafeName, nameBytes, type NamedEntry } from './entryName.js';
import { describeValue, isCount, isInodeNumber, isNsTime, isOwnerId, isPermissionMode } from './fieldChecks.js';
import { quoteName } from '../util/quoteName.js';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface TreeEntry extends NamedEntry {
  type: EntryType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Modification time, nanoseconds since the epoch, as a decimal string. */
  mtime: string;
  /** Status-change time in ns (change detection only; not restored). */
  ctime?: string;
  ino?: number;
  /**
   * Files with more than one name (hard links): the link count and the device seen when read, both or neither. A
   * restore makes the names it writes with the same `dev` and `ino` (and the same content and metadata) links of
   * one file again (ops/materialize.ts, MaterializeOptions.hardLinks).
   */
  links?: number;
  dev?: number;
  uid?: number;
  gid?: number;
  /** Files: content length. Symlinks: target length. */
  size?: number;
  /** Files: content chunk ids in order (empty for an empty file). */
  chunks?: ObjectId[];
  /** Inline files: the content as text (valid UTF-8), its one chunk id in `chunks`. */
  inline?: string;
  /** Inline files whose content is not valid UTF-8: the content as base64. */
  rawInline?: string;
  /** Dirs: subtree id. */
  tree?: ObjectId;
  /** Symlinks: target as UTF-8, with rawTarget (base64) when not valid UTF-8. */
  target?: string;
  rawTarget?: string;
}

export interface Tree {
  entries: TreeEntry[];
}

export const TREE_VERSION = 1;
/** The version of a tree that holds an inline file. */
export const TREE_VERSION_INLINE = 2;

export function compareEntries(a: NamedEntry, b: NamedEntry): number {
  return Buffer.compare(nameBytes(a), nameBytes(b));
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Name-byte order of two entries. Names held as text without surrogate pairs
 * compare as strings (UTF-16 code-unit order is then UTF-8 byte order), so a
 * tree is checked without making a Buffer per name.
 */
export function compareNames(a: NamedEntry, b: NamedEntry): number {
  if (a.rawName === undefined && b.rawName === undefined && !SURROGATE.test(a.name) && !SURROGATE.test(b.name)) {
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  }
  return Buffer.compare(nameBytes(a), nameBytes(b));
}

/** A text name that is plainly one safe component (what assertSafeName checks, without making bytes). */
function isPlainSafeName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && !name.includes('\uFFFD');
}

/** Entries sorted by name bytes (each name converted once). */
export function sortEntries(entries: readonly TreeEntry[]): TreeEntry[] {
  const keyed = entries.map((e) => ({ e, k: nameBytes(e) }));
  keyed.sort((a, b) => Buffer.compare(a.k, b.k));
  for (let i = 1; i < keyed.length; i++) {
    if (keyed[i - 1]!.k.equals(keyed[i]!.k)) throw new TypeError(`duplicate entry name ${quoteName(keyed[i]!.e.name)}`);
  }
  return keyed.map((x) => x.e);
}

/**
 * Canonical bytes of a tree; sorts entries and rejects duplicates. Each entry
 * is rebuilt with its keys in sorted order, so JSON.stringify emits exactly the
 * canonical form (src/util/canonicalJson.ts) at native speed; a unit test
 * holds the two equal.
 */
export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const v = entries.some(isInline) ? TREE_VERSION_INLINE : TREE_VERSION;
  return Buffer.from(JSON.stringify({ entries: sortEntries(entries).map(cleanEntry), v }), 'utf8');
}

/** Whether a file entry holds its content in its tree. */
export function isInline(e: TreeEntry): boolean {
  return e.inline !== undefined || e.rawInline !== undefined;
}

/** An inline file's content, else undefined (its chunks are objects in the store). */
export function inlineBytes(e: TreeEntry): Buffer | undefined {
  if (e.inline !== undefined) return Buffer.from(e.inline, 'utf8');
  if (e.rawInline !== undefined) return Buffer.from(e.rawInline, 'base64');
  return undefined;
}

/** The inline fields for `data`: text when it is valid UTF-8 (JSON holds it and compression sees it as it is), else base64. */
export function inlineFields(data: Buffer): { inline: string } | { rawInline: string } {
  return isUtf8(data) ? { inline: data.toString('utf8') } : { rawInline: data.toString('base64') };
}

/** The canonical, key-sorted form of an entry. Key order here is alphabetical and must stay so. */
function cleanEntry(e: TreeEntry): TreeEntry {
  const file = e.type === 'file';
  const symlink = e.type === 'symlink';
  const out: Record<string, unknown> = {};
  if (file) out.chunks = e.chunks ?? [];
  if (e.ctime !== undefined) out.ctime = e.ctime;
  if (file && e.dev !== undefined) out.dev = e.dev;
  if (e.gid !== undefined) out.gid = e.gid;
  if (file && e.inline !== undefined) out.inline = e.inline;
  if (e.ino !== undefined) out.ino = e.ino;
  if (file && e.links !== undefined) out.links = e.links;
  out.mode = e.mode;
  out.mtime = e.mtime;
  out.name = e.name;
  if (file && e.rawInline !== undefined) out.rawInline = e.rawInline;
  if (e.rawName !== undefined) out.rawName = e.rawName;
  if (symlink && e.rawTarget !== undefined) out.rawTarget = e.rawTarget;
  if (e.size !== undefined) out.size = e.size;
  if (symlink) out.target = e.target;
  if (e.type === 'dir') out.tree = e.tree;
  out.type = e.type;
  if (e.uid !== undefined) out.uid = e.uid;
  return out as unknown as TreeEntry;
}

/**
 * What is wrong with an entry's metadata, or null: mode, mtime, ctime, owner,
 * inode and size, each checked by type and range (model/fieldChecks.ts) so
 * that restore, ls and the stat comparisons never meet a value they cannot
 * take. Optional fields are checked when present.
 */
function metadataProblem(e: TreeEntry): string | null {
  if (!isPermissionMode(e.mode)) return `mode ${describeValue(e.mode)} (not permission bits 0 to 0o7777)`;
  if (!isNsTime(e.mtime)) return `mtime ${describeValue(e.mtime)} (not a decimal ns time within a signed 64-bit count)`;
  if (e.ctime !== undefined && !isNsTime(e.ctime)) return `ctime ${describeValue(e.ctime)} (not a decimal ns time within a signed 64-bit count)`;
  if (e.uid !== undefined && !isOwnerId(e.uid)) return `uid ${describeValue(e.uid)} (not a whole number from 0 to 2^32-1)`;
  if (e.gid !== undefined && !isOwnerId(e.gid)) return `gid ${describeValue(e.gid)} (not a whole number from 0 to 2^32-1)`;
  if (e.ino !== undefined && !isInodeNumber(e.ino)) return `inode ${describeValue(e.ino)} (not a whole number)`;
  if (e.size !== undefined && !isCount(e.size)) return `size ${describeValue(e.size)} (not a whole number from 0 to 2^53-1)`;
  if (e.links !== undefined && !(isCount(e.links) && e.links >= 2)) return `link count ${describeValue(e.links)} (not a whole number of at least 2)`;
  if (e.dev !== undefined && !isCount(e.dev)) return `device ${describeValue(e.dev)} (not a whole number from 0 to 2^53-1)`;
  if ((e.links === undefined) !== (e.dev === undefined)) return 'a link count without a device, or a device without a link count';
  return null;
}

/** A symlink target as text: non-empty, without NUL (what symlink(2) takes). */
function isLinkTarget(t: unknown): t is string {
  return typeof t === 'string' && t.length > 0 && !t.includes('\0');
}

function isLinkTargetBytes(b: Buffer): boolean {
  return b.length > 0 && !b.includes(0);
}

/**
 * Parses and validates a tree: unsafe names, bad ids, unknown types, and metadata of the wrong type or out of
 * range (metadataProblem; the rules are in docs/format.md) are integrity errors naming the tree.
 */
export function decodeTree(bytes: Buffer, id: string): Tree {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new IntegrityError(`tree ${id} is not valid JSON`, { cause: err, details: { object: id } });
  }
  const fail = (why: string): never => {
    throw new IntegrityError(`tree ${id} is malformed: ${why}`, { details: { object: id } });
  };
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as Tree).entries)) fail('no entries');
  const t = parsed as { entries: unknown[]; v?: unknown };
  if (t.v !== TREE_VERSION && t.v !== TREE_VERSION_INLINE) fail(`unsupported tree version ${String(t.v)}`);
  let inlines = 0;
  const entries = t.entries as TreeEntry[];
  let prev: NamedEntry | undefined;
  for (const e of entries) {
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string') fail('entry without a name');
    if (e.rawName !== undefined && typeof e.rawName !== 'string') fail(`entry ${quoteName(e.name)} has a bad rawName`);
    if (e.rawName !== undefined || !isPlainSafeName(e.name)) assertSafeName(nameBytes(e), `tree ${id}`);
    if (prev && compareNames(prev, e) >= 0) fail('entries not sorted or duplicated');
    prev = e;
    if (e.type !== 'file' && (e.inline !== undefined || e.rawInline !== undefined)) fail(`${e.type} ${quoteName(e.name)} has inline content`);
    if (e.type !== 'file' && (e.links !== undefined || e.dev !== undefined)) fail(`${e.type} ${quoteName(e.name)} has a link count (files only)`);
    const problem = metadataProblem(e);
    if (problem !== null) fail(`entry ${quoteName(e.name)} has ${problem}`);
    if (e.type === 'file') {
      if (!Array.isArray(e.chunks) || !e.chunks.every(isObjectId)) fail(`file ${quoteName(e.name)} has bad chunk ids`);
      if (e.inline !== undefined || e.rawInline !== undefined) {
        inlines++;
        const text = e.inline !== undefined;
        if ((text && e.rawInline !== undefined) || typeof (text ? e.inline : e.rawInline) !== 'string') fail(`file ${quoteName(e.name)} has bad inline content`);
        const length = text ? Buffer.byteLength(e.inline!, 'utf8') : Buffer.byteLength(e.rawInline!, 'base64');
        if (e.chunks!.length !== 1 || length !== e.size || length === 0) fail(`file ${quoteName(e.name)} has inline content that does not match its size or chunks`);
      }
    } else if (e.type === 'dir') {
      if (!isObjectId(e.tree)) fail(`dir ${quoteName(e.name)} has a bad subtree id`);
    } else if (e.type === 'symlink') {
      if (!isLinkTarget(e.target)) fail(`symlink ${quoteName(e.name)} has no target, an empty one or one holding NUL`);
      if (e.rawTarget !== undefined && (typeof e.rawTarget !== 'string' || !isLinkTargetBytes(Buffer.from(e.rawTarget, 'base64')))) {
        fail(`symlink ${quoteName(e.name)} has a bad rawTarget (not a string, or empty or holding NUL)`);
      }
    } else {
      fail(`entry ${quoteName(e.name)} has unknown type`);
    }
  }
  if ((inlines > 0) !== (t.v === TREE_VERSION_INLINE)) fail(`version ${String(t.v)} with ${inlines} inline files`);
  return { entries };
}

/** Bytes of a symlink target. */
export function targetBytes(e: TreeEntry): Buffer {
  return e.rawTarget !== undefined ? Buffer.from(e.rawTarget, 'base64') : Buffer.from(e.target ?? '', 'utf8');
}

/**
 * The content id of a file: its single chunk's id, or for several chunks the
 * SHA-256 of their ids joined by newlines (a stable name for the content).
 */
export function fileContentId(chunks: readonly ObjectId[], hash: (s: string) => string): string {
  if (chunks.length === 1) return chunks[0]!;
  return hash(`chunks\n${chunks.join('\n')}`);
}

/**
 * The tree diff: compares two trees by walking them in step and skipping
 * every pair of subtrees whose ids are equal, so unchanged parts of a large
 * tree cost nothing. Paths come out sorted by their bytes, as git sorts them
 * (a directory sorts as its name followed by '/').
 */
import type { ObjectId } from '../store/objectId.js';
import { nameBytes } from './entryName.js';
import { fileContentId, targetBytes, type EntryType, type TreeEntry } from './tree.js';

export type ChangeStatus = 'A' | 'D' | 'M' | 'T';

export interface EntrySide {
  type: EntryType;
  size: number;
  mode: number;
  /** Content id of a file, or the target of a symlink. */
  id: string;
  entry: TreeEntry;
}

export interface TreeChange {
  /** Path relative to the root, '/'-separated. */
  path: string;
  status: ChangeStatus;
  old?: EntrySide;
  new?: EntrySide;
  /** True when only the mode bits changed. */
  modeOnly?: boolean;
}

export type TreeLoader = (id: ObjectId) => Promise<readonly TreeEntry[]>;

export interface TreeDiffOptions {
  /** Receive each change as found instead of collecting them (bounded memory on huge diffs); the result is then empty. */
  onChange?: (change: TreeChange) => void;
  /** Report mode-only changes (off by default, as git ignores most of them). */
  includeMode?: boolean;
  /** Restrict to these paths (and what is under them). */
  paths?: readonly string[];
}

const SLASH = Buffer.from('/');

function sortKey(e: TreeEntry): Buffer {
  const n = nameBytes(e);
  return e.type === 'dir' ? Buffer.concat([n, SLASH]) : n;
}

/** Entries with their git sort keys, sorted (each key computed once). */
function keyed(entries: readonly TreeEntry[]): Array<{ e: TreeEntry; k: Buffer }> {
  const out = entries.map((e) => ({ e, k: sortKey(e) }));
  out.sort((a, b) => Buffer.compare(a.k, b.k));
  return out;
}

function side(e: TreeEntry, hash: (s: string) => string): EntrySide {
  const id = e.type === 'file' ? fileContentId(e.chunks ?? [], hash) : e.type === 'symlink' ? targetBytes(e).toString('utf8') : (e.tree ?? '');
  return { type: e.type, size: e.size ?? 0, mode: e.mode, id, entry: e };
}

function joinPath(prefix: string, e: TreeEntry): string {
  return prefix === '' ? nameBytes(e).toString('utf8') : `${prefix}/${nameBytes(e).toString('utf8')}`;
}

/**
 * The change a file or symlink `e` in directory `prefix` is when the tree it is in is compared with nothing (a
 * first snapshot): what diffTrees(null, tree) reports for it.
 */
export function addedChange(prefix: string, e: TreeEntry, hash: (s: string) => string): TreeChange {
  return { path: joinPath(prefix, e), status: 'A', new: side(e, hash) };
}

/** The change a file or symlink `e` in directory `prefix` is when the tree it was in no longer has it. */
export function deletedChange(prefix: string, e: TreeEntry, hash: (s: string) => string): TreeChange {
  return { path: joinPath(prefix, e), status: 'D', old: side(e, hash) };
}

/**
 * The change between two files or symlinks of the same name in directory `prefix` (`x` before, `y` after), as
 * diffTrees reports it: a change of type (T), of content or target (M), of the mode bits alone (M with
 * `modeOnly`, when asked for), or none.
 */
export function entryChange(prefix: string, x: TreeEntry, y: TreeEntry, hash: (s: string) => string, includeMode = false): TreeChange | null {
  const sa = side(x, hash);
  const sb = side(y, hash);
  const p = joinPath(prefix, x);
  if (sa.type !== sb.type) return { path: p, status: 'T', old: sa, new: sb };
  if (sa.id !== sb.id) return { path: p, status: 'M', old: sa, new: sb };
  if (includeMode && sa.mode !== sb.mode) return { path: p, status: 'M', old: sa, new: sb, modeOnly: true };
  return null;
}

/** Decides whether a path (or a directory on the way to one) passes the filter. */
function pathFilter(paths: readonly string[] | undefined): { wants(p: string): boolean; descends(dir: string): boolean } {
  if (!paths || paths.length === 0) return { wants: () => true, descends: () => true };
  const clean = paths.map((p) => p.replace(/^\.?\/+/, '').replace(/\/+$/, '')).map((p) => (p === '.' ? '' : p));
  if (clean.includes('')) return { wants: () => true, descends: () => true };
  return {
    wants: (p) => clean.some((f) => p === f || p.startsWith(`${f}/`)),
    descends: (d) => clean.some((f) => d === f || d.startsWith(`${f}/`) || f.startsWith(`${d}/`)),
  };
}

/** Computes the changes from tree `a` to tree `b` (either may be null: empty). */
export async function diffTrees(
  a: ObjectId | null,
  b: ObjectId | null,
  load: TreeLoader,
  hash: (s: string) => string,
  options: TreeDiffOptions = {},
): Promise<TreeChange[]> {
  const collected: TreeChange[] = [];
  const out = { push: options.onChange ?? ((c: TreeChange) => void collected.push(c)) };
  const filter = pathFilter(options.paths);
  const emitAll = async (entries: readonly TreeEntry[], prefix: string, status: 'A' | 'D'): Promise<void> => {
    for (const { e } of keyed(entries)) {
      const p = joinPath(prefix, e);
      if (e.type === 'dir') {
        if (filter.descends(p)) await emitAll(await load(e.tree!), p, status);
      } else if (filter.wants(p)) {
        out.push(status === 'A' ? { path: p, status, new: side(e, hash) } : { path: p, status, old: side(e, hash) });
      }
    }
  };
  const walk = async (ta: ObjectId | null, tb: ObjectId | null, prefix: string): Promise<void> => {
    if (ta === tb) return;
    const ea = ta ? keyed(await load(ta)) : [];
    const eb = tb ? keyed(await load(tb)) : [];
    let i = 0;
    let j = 0;
    while (i < ea.length || j < eb.length) {
      const x = ea[i]?.e;
      const y = eb[j]?.e;
      const c = x && y ? Buffer.compare(ea[i]!.k, eb[j]!.k) : x ? -1 : 1;
      if (c < 0) {
        await emitAll([x!], prefix, 'D');
        i++;
      } else if (c > 0) {
        await emitAll([y!], prefix, 'A');
        j++;
      } else {
        i++;
        j++;
        const p = joinPath(prefix, x!);
        if (x!.type === 'dir') {
          if (x!.tree !== y!.tree && filter.descends(p)) await walk(x!.tree!, y!.tree!, p);
          continue;
        }
        if (!filter.wants(p)) continue;
        const change = entryChange(prefix, x!, y!, hash, options.includeMode);
        if (change) out.push(change);
      }
    }
  };
  await walk(a, b, '');
  return collected;
}

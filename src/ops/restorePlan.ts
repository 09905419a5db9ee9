/**
 * The restore plan: what must happen to a target whose current state is tree
 * `current` for it to match tree `wanted`. A pure function of the two trees
 * (read through a loader), the --path filter and the set of paths to leave
 * alone; no file-system access.
 *
 * Glossary
 * - action: one step the executor performs, in order:
 *   - put: place `entry` at `rel` (a file, a symlink, or a whole directory
 *     subtree; `shallow` for an empty directory whose children follow as
 *     their own actions), moving whatever is there (`old`) aside;
 *   - delete: move the entry at `rel` (a file, symlink or whole subtree) aside;
 *   - meta: set mode, times (and owner) of an entry whose content is right.
 *   Directories get their metadata after their children (renames inside a
 *   directory change its mtime).
 * - keep: existing paths the restore never touches (excluded by the
 *   snapshot's rules, the repository itself). A directory holding one is
 *   emptied entry by entry instead of being moved aside as a whole.
 * - name-status: the change as files: A created, M replaced, T type changed,
 *   D deleted (the same letters as `cairn diff`); directory subtrees are
 *   listed file by file, through the tree diff.
 */
import { NotFoundError, RefusedError, UsageError } from '../errors.js';
import { assertSafeName, nameBytes } from '../model/entryName.js';
import { fileContentId, targetBytes, type EntryType, type TreeEntry } from '../model/tree.js';
import { diffTrees, type TreeLoader } from '../model/treeDiff.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';
import { quoteName } from '../util/quoteName.js';

/** What the executor expects to find at a path (and restores on rollback). */
export interface EntryState {
  type: EntryType;
  mode: number;
  mtime: string;
  uid?: number;
  gid?: number;
  /** Directories: the subtree id (to list what a delete removes). */
  tree?: ObjectId;
}

interface ActionBase {
  /** Path relative to the target root, as bytes (names need not be UTF-8). */
  rel: Buffer;
  /** The same path as text, for people. */
  path: string;
}

export type RestoreAction =
  | (ActionBase & { op: 'put'; entry: TreeEntry; old: EntryState | null; shallow?: boolean })
  | (ActionBase & { op: 'delete'; old: EntryState })
  | (ActionBase & { op: 'meta'; type: EntryType; from: EntryState | null; to: EntryState });

export type NameStatusCode = 'A' | 'M' | 'T' | 'D';

export interface NameStatus {
  status: NameStatusCode;
  path: string;
  type: EntryType;
  /** Only mode, times or owner change. */
  metadataOnly?: boolean;
}

export interface PlanCounts {
  created: number;
  replaced: number;
  deleted: number;
  metadata: number;
}

export interface RestorePlan {
  actions: RestoreAction[];
  /** Notes for the user (paths left alone although the snapshot has them). */
  warnings: string[];
}

export interface PlanOptions {
  /** Restore only these paths (files or folders, '/'-separated, relative to the root). */
  paths?: readonly string[];
  /** Existing paths never to touch. */
  keep?: ReadonlySet<string>;
  /** Compare owners too (when restoring as root). */
  chown?: boolean;
}

const SLASH = Buffer.from('/');

export function stateOf(e: TreeEntry): EntryState {
  const s: EntryState = { type: e.type, mode: e.mode, mtime: e.mtime };
  if (e.uid !== undefined) s.uid = e.uid;
  if (e.gid !== undefined) s.gid = e.gid;
  if (e.type === 'dir' && e.tree) s.tree = e.tree;
  return s;
}

/** Times are restored with microsecond precision; compare at that precision. */
export function sameTime(a: string, b: string): boolean {
  return BigInt(a) / 1000n === BigInt(b) / 1000n;
}

function sameMeta(a: EntryState, b: EntryState, chown: boolean): boolean {
  if (a.type !== 'symlink' && a.mode !== b.mode) return false;
  if (!sameTime(a.mtime, b.mtime)) return false;
  if (chown && (a.uid !== b.uid || a.gid !== b.gid)) return false;
  return true;
}

function sameContent(a: TreeEntry, b: TreeEntry): boolean {
  if (a.type === 'file') return fileContentId(a.chunks ?? [], sha256Hex) === fileContentId(b.chunks ?? [], sha256Hex) && (a.size ?? 0) === (b.size ?? 0);
  if (a.type === 'symlink') return targetBytes(a).equals(targetBytes(b));
  return a.tree === b.tree;
}

/** Cleans a --path argument: relative, '/'-separated, no '.' or '..' parts; '' is the whole tree. */
export function normalizeRestorePath(p: string): string {
  if (p.startsWith('/')) throw new UsageError(`--path ${quoteName(p)} must be relative to the restore target`, { hint: 'e.g. --path src/app.ts' });
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new UsageError(`--path ${quoteName(p)} must not contain ".."`, { hint: 'name a path inside the snapshot' });
  return parts.join('/');
}

function filterFor(paths: readonly string[] | undefined): { all: boolean; wants(p: string): boolean; descends(p: string): boolean } {
  const clean = (paths ?? []).map(normalizeRestorePath);
  if (clean.length === 0 || clean.includes('')) return { all: true, wants: () => true, descends: () => true };
  return {
    all: false,
    wants: (p) => clean.some((f) => p === f || p.startsWith(`${f}/`)),
    descends: (d) => clean.some((f) => f.startsWith(`${d}/`)),
  };
}

function ancestorsOf(paths: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return out;
}

/** Computes the actions that turn tree `current` (null: an empty target) into tree `wanted`. */
export async function planRestore(load: TreeLoader, current: ObjectId | null, wanted: ObjectId, options: PlanOptions = {}): Promise<RestorePlan> {
  const filter = filterFor(options.paths);
  const keep = options.keep ?? new Set<string>();
  const holdsKept = ancestorsOf(keep);
  const chown = options.chown ?? false;
  const actions: RestoreAction[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();

  const entriesOf = async (tree: ObjectId | null | undefined, where: string): Promise<readonly TreeEntry[]> => {
    if (!tree) return [];
    const entries = await load(tree);
    for (const e of entries) assertSafeName(nameBytes(e), `tree ${where}`);
    return entries;
  };

  // Returns the number of actions emitted below `prefix`.
  const walk = async (cTree: ObjectId | null, sTree: ObjectId | null, prefix: Buffer, scoped: boolean): Promise<number> => {
    if (scoped && cTree === sTree) return 0;
    const before = actions.length;
    const ce = await entriesOf(cTree, cTree ?? '');
    const se = await entriesOf(sTree, sTree ?? '');
    const byName = new Map<string, { c?: TreeEntry; s?: TreeEntry; name: Buffer }>();
    for (const e of ce) byName.set(nameBytes(e).toString('latin1'), { c: e, name: nameBytes(e) });
    for (const e of se) {
      const k = nameBytes(e).toString('latin1');
      const slot = byName.get(k) ?? { name: nameBytes(e) };
      slot.s = e;
      byName.set(k, slot);
    }
    const names = [...byName.values()].sort((x, y) => Buffer.compare(x.name, y.name));
    for (const { c, s, name } of names) {
      const rel = prefix.length === 0 ? name : Buffer.concat([prefix, SLASH, name]);
      const path = rel.toString('utf8');
      const inScope = scoped || filter.wants(path);
      if (keep.has(path)) {
        if (s && inScope) warnings.push(`${quoteName(path)} is left alone (excluded or the repository), although the snapshot has it`);
        if (inScope) seen.add(path);
        continue;
      }
      if (!inScope) {
        if (!filter.descends(path)) continue;
        seen.add(path);
        // An ancestor of a restored path: make sure it is a directory, keep its metadata.
        if (s?.type === 'dir') {
          if (c?.type === 'dir') {
            const inner = await walk(c.tree!, s.tree!, rel, false);
            if (inner > 0) actions.push({ op: 'meta', rel, path, type: 'dir', from: stateOf(c), to: stateOf(c) });
          } else {
            if (c && holdsKept.has(path)) throw cannotReplace(path);
            actions.push({ op: 'put', rel, path, entry: s, old: c ? stateOf(c) : null, shallow: true });
            await walk(null, s.tree!, rel, false);
            actions.push({ op: 'meta', rel, path, type: 'dir', from: null, to: stateOf(s) });
          }
        } else if (c?.type === 'dir') {
          // The snapshot has no directory here, so nothing below it exists there: delete what the filter names.
          const inner = await walk(c.tree!, null, rel, false);
          if (inner > 0) actions.push({ op: 'meta', rel, path, type: 'dir', from: stateOf(c), to: stateOf(c) });
        }
        continue;
      }
      seen.add(path);
      if (!c && s) {
        actions.push({ op: 'put', rel, path, entry: s, old: null });
      } else if (c && !s) {
        if (c.type === 'dir' && holdsKept.has(path)) {
          const inner = await walk(c.tree!, null, rel, true);
          if (inner > 0) actions.push({ op: 'meta', rel, path, type: 'dir', from: stateOf(c), to: stateOf(c) });
        } else {
          actions.push({ op: 'delete', rel, path, old: stateOf(c) });
        }
      } else if (c && s) {
        if (c.type !== s.type) {
          if (c.type === 'dir' && holdsKept.has(path)) throw cannotReplace(path);
          actions.push({ op: 'put', rel, path, entry: s, old: stateOf(c) });
        } else if (s.type === 'dir') {
          const inner = await walk(c.tree!, s.tree!, rel, true);
          if (inner > 0 || !sameMeta(stateOf(c), stateOf(s), chown)) actions.push({ op: 'meta', rel, path, type: 'dir', from: stateOf(c), to: stateOf(s) });
        } else if (!sameContent(c, s)) {
          actions.push({ op: 'put', rel, path, entry: s, old: stateOf(c) });
        } else if (!sameMeta(stateOf(c), stateOf(s), chown)) {
          actions.push({ op: 'meta', rel, path, type: s.type, from: stateOf(c), to: stateOf(s) });
        }
      }
    }
    return actions.length - before;
  };

  await walk(current, wanted, Buffer.alloc(0), filter.all);
  if (!filter.all) {
    for (const p of (options.paths ?? []).map(normalizeRestorePath)) {
      if (!seen.has(p)) throw new NotFoundError(`${quoteName(p)} is neither in the snapshot nor in the target`, { hint: 'check the --path argument (relative to the target root)' });
    }
  }
  return { actions, warnings };
}

function cannotReplace(path: string): Error {
  return new RefusedError(`cannot replace the directory ${quoteName(path)}: it holds paths the restore leaves alone (excluded, or the repository)`, {
    hint: 'move those paths away first, or restore into a new directory with --target',
  });
}

/** The plan as a name-status list (subtrees file by file), in the order of the actions. */
export async function describePlan(plan: RestorePlan, loadCurrent: TreeLoader, loadWanted: TreeLoader): Promise<NameStatus[]> {
  const out: NameStatus[] = [];
  const subtree = async (load: TreeLoader, tree: ObjectId, prefix: string, status: 'A' | 'D'): Promise<void> => {
    const changes = status === 'A' ? await diffTrees(null, tree, load, sha256Hex) : await diffTrees(tree, null, load, sha256Hex);
    if (changes.length === 0) out.push({ status, path: `${prefix}/`, type: 'dir' });
    for (const ch of changes) out.push({ status, path: `${prefix}/${ch.path}`, type: (ch.new ?? ch.old)!.type });
  };
  for (const a of plan.actions) {
    if (a.op === 'meta') {
      if (a.type !== 'dir' && a.from) out.push({ status: 'M', path: a.path, type: a.type, metadataOnly: true });
      continue;
    }
    if (a.op === 'delete') {
      if (a.old.type === 'dir') await subtree(loadCurrent, a.old.tree!, a.path, 'D');
      else out.push({ status: 'D', path: a.path, type: a.old.type });
      continue;
    }
    const e = a.entry;
    if (a.old && (a.old.type === 'dir') !== (e.type === 'dir')) {
      // A directory replaced by a file or the other way round: the old side goes, the new side comes.
      if (a.old.type === 'dir') await subtree(loadCurrent, a.old.tree!, a.path, 'D');
      else out.push({ status: 'D', path: a.path, type: a.old.type });
      if (e.type === 'dir' && !a.shallow) await subtree(loadWanted, e.tree!, a.path, 'A');
      else if (e.type !== 'dir') out.push({ status: 'A', path: a.path, type: e.type });
      continue;
    }
    if (a.shallow) continue; // its contents follow as their own actions
    if (e.type === 'dir') await subtree(loadWanted, e.tree!, a.path, 'A');
    else out.push({ status: a.old ? (a.old.type === e.type ? 'M' : 'T') : 'A', path: a.path, type: e.type });
  }
  return out;
}

export function countChanges(changes: readonly NameStatus[]): PlanCounts {
  const c: PlanCounts = { created: 0, replaced: 0, deleted: 0, metadata: 0 };
  for (const ch of changes) {
    if (ch.metadataOnly) c.metadata++;
    else if (ch.status === 'A') c.created++;
    else if (ch.status === 'D') c.deleted++;
    else c.replaced++;
  }
  return c;
}

/**
 * The --path arguments of the command that undoes a partial restore by
 * restoring its restore point: the restore's own paths and the top-most
 * entries its actions put or delete, none below another. A --path restore can
 * replace a parent of its path (a symlink, or a file, where the snapshot has a
 * directory), and undoing only the path would leave that parent replaced.
 * Empty for a whole-tree restore.
 */
export function undoPaths(actions: readonly RestoreAction[], paths: readonly string[]): string[] {
  const clean = paths.map(normalizeRestorePath);
  if (clean.length === 0 || clean.includes('')) return [];
  const all = new Set([...clean, ...actions.filter((a) => a.op !== 'meta').map((a) => a.path)]);
  const below = (p: string): boolean => {
    for (let at = p.indexOf('/'); at !== -1; at = p.indexOf('/', at + 1)) if (all.has(p.slice(0, at))) return true;
    return false;
  };
  return [...all].filter((p) => !below(p)); // the restore's own paths first, in their order
}

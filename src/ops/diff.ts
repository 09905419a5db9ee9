/**
 * Diff two versions: two snapshots, or one snapshot and the directory it was
 * taken from as that directory is on disk now.
 *
 * Glossary
 * - endpoint: one side of a diff, a snapshot or a directory on disk, with
 *   the id of its root tree.
 * - change: one path that differs (treeDiff.ts): A added, D deleted, M
 *   modified content (or, with includeMode, mode bits only), T type changed.
 *
 * Snapshot against snapshot compares trees by id and skips every equal
 * subtree. Snapshot against disk builds the directory's tree with the
 * snapshot engine's TreeBuilder into a scratch writer that keeps only trees
 * in memory: nothing is written to the repository, files whose size, times,
 * inode and mode match the snapshot reuse its chunk lists without being read,
 * and the others are hashed as a snapshot would hash them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeError, isErrno, SourceError, UsageError } from '../errors.js';
import type { SnapshotProblem, SnapshotStats } from '../model/manifest.js';
import { decodeTree, type TreeEntry } from '../model/tree.js';
import { diffTrees, type ChangeStatus, type TreeChange } from '../model/treeDiff.js';
import { budgetedLoader, entryBudget } from '../model/treeBudget.js';
import type { RepoContext } from '../repoContext.js';
import { loadExcludes, type ExcludeMatcher } from '../snapshot/excludes.js';
import { TreeBuilder } from '../snapshot/treeBuilder.js';
import type { ObjectId } from '../store/objectId.js';
import { ScratchObjectWriter } from '../store/scratchObjectWriter.js';
import { sha256Hex } from '../util/hash.js';
import { quoteName } from '../util/quoteName.js';

export interface DiffOptions {
  /** Report changes of mode bits alone (as status M with modeOnly); off by default, as in restic. */
  includeMode?: boolean;
  /** Restrict the diff to these paths (relative to the source root) and what is under them. */
  paths?: readonly string[];
  /** One-ref form: the directory to compare with (default: the snapshot's source directory). */
  dir?: string;
  /** One-ref form: exclude globs besides the directory's .cairnignore, as given to `snapshot --exclude`. */
  exclude?: readonly string[];
}

export type DiffEndpoint =
  | { kind: 'snapshot'; snapshot: ObjectId; tree: ObjectId }
  | { kind: 'dir'; dir: string; tree: ObjectId };

export interface DiffResult {
  from: DiffEndpoint;
  to: DiffEndpoint;
  /** Sorted by path bytes, a directory as its name followed by '/' (git's order). */
  changes: TreeChange[];
  /** Files on disk that could not be read (one-ref form); they show as deleted. */
  warnings: SnapshotProblem[];
  /** One-ref form: files and bytes read from disk (stat-unchanged files are not read); 0 otherwise. */
  read: { files: number; bytes: number };
}

/** One side of a change, as printed by `diff --json`. */
export interface ChangeSideJson {
  type: string;
  size: number;
  mode: number;
  /** File content id, or a symlink's target. */
  id: string;
}

export interface ChangeJson {
  path: string;
  status: ChangeStatus;
  old: ChangeSideJson | null;
  new: ChangeSideJson | null;
  modeOnly?: true;
}

/** The JSON form of a change (without the raw tree entries). */
export function changeJson(c: TreeChange): ChangeJson {
  const side = (s: TreeChange['old']): ChangeSideJson | null => (s ? { type: s.type, size: s.size, mode: s.mode, id: s.id } : null);
  return { path: c.path, status: c.status, old: side(c.old), new: side(c.new), ...(c.modeOnly ? { modeOnly: true as const } : {}) };
}

/** Normalises user paths to '/'-separated paths relative to the source root ('' for the root). */
export function normalizeDiffPaths(paths: readonly string[] | undefined): string[] | undefined {
  if (!paths || paths.length === 0) return undefined;
  return paths.map((p) => {
    const parts = p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
    if (parts.includes('..')) throw new UsageError(`path "${p}" leaves the source root`, { hint: 'give paths relative to the source root, as `cairn diff` prints them' });
    return parts.join('/');
  });
}

/** An exclude matcher that also leaves out everything not on the way to, or under, one of `paths`. */
function restrictTo(base: ExcludeMatcher, paths: readonly string[] | undefined): ExcludeMatcher {
  if (!paths || paths.includes('')) return base;
  const wanted = (rel: string, isDir: boolean): boolean =>
    paths.some((f) => rel === f || rel.startsWith(`${f}/`) || (isDir && f.startsWith(`${rel}/`)));
  return { active: true, excludes: (rel, isDir) => base.excludes(rel, isDir) || !wanted(rel, isDir) };
}

/** The endpoint, and the manifest's counts that bound a walk of its tree (treeBudget.ts). */
async function snapshotSide(ctx: RepoContext, ref: string): Promise<{ endpoint: DiffEndpoint & { kind: 'snapshot' }; stats: SnapshotStats }> {
  const snapshot = await ctx.resolveRef(ref);
  const m = await ctx.readManifest(snapshot);
  return { endpoint: { kind: 'snapshot', snapshot, tree: m.tree }, stats: m.stats };
}

async function snapshotEndpoint(ctx: RepoContext, ref: string): Promise<DiffEndpoint & { kind: 'snapshot' }> {
  return (await snapshotSide(ctx, ref)).endpoint;
}

/** Changes from snapshot `a` to snapshot `b`. */
export async function diffSnapshots(ctx: RepoContext, a: string, b: string, options: DiffOptions = {}): Promise<DiffResult> {
  const { endpoint: from, stats: fromStats } = await snapshotSide(ctx, a);
  const { endpoint: to, stats: toStats } = await snapshotSide(ctx, b);
  const paths = normalizeDiffPaths(options.paths);
  const what = `the diff of ${from.snapshot.slice(0, 12)} and ${to.snapshot.slice(0, 12)}`;
  const changes = await diffTrees(from.tree, to.tree, budgetedLoader((id) => ctx.loadTree(id), entryBudget(fromStats, toStats), what), sha256Hex, {
    includeMode: options.includeMode ?? false,
    ...(paths ? { paths } : {}),
  });
  return { from, to, changes, warnings: [], read: { files: 0, bytes: 0 } };
}

/** Trees start with this (canonical JSON sorts `entries` first); file chunks are hashed, not kept. */
const TREE_PREFIX = Buffer.from('{"entries":[');

/** Changes from snapshot `a` to its source directory (or `options.dir`) as it is on disk now. */
export async function diffWithDisk(ctx: RepoContext, a: string, options: DiffOptions = {}): Promise<DiffResult> {
  const from = await snapshotEndpoint(ctx, a);
  const manifest = await ctx.readManifest(from.snapshot);
  if (manifest.kind !== 'dir' && options.dir === undefined) {
    throw new UsageError(`snapshot ${from.snapshot.slice(0, 8)} holds a ${manifest.kind} source, not a directory`, {
      hint: 'compare two snapshots: cairn diff A B',
    });
  }
  const dir = path.resolve(options.dir ?? manifest.source);
  try {
    if (!fs.statSync(dir).isDirectory()) throw new SourceError(`${quoteName(dir)} is not a directory`, { hint: 'compare two snapshots, or pass --dir DIR' });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new SourceError(`the source directory ${quoteName(dir)} does not exist`, { hint: 'compare two snapshots, or pass --dir DIR' });
    if (err instanceof SourceError) throw err;
    throw new SourceError(`cannot read ${quoteName(dir)}: ${describeError(err)}`, { cause: err });
  }
  const paths = normalizeDiffPaths(options.paths);
  const scratch = new ScratchObjectWriter((content) => content.subarray(0, TREE_PREFIX.length).equals(TREE_PREFIX));
  const warnings: SnapshotProblem[] = [];
  const skip = new Set([ctx.dir]);
  try {
    skip.add(fs.realpathSync(ctx.dir));
  } catch {
    /* the repository path is what it is */
  }
  const builder = new TreeBuilder({
    store: scratch,
    chunker: ctx.config.chunker,
    dbChunker: ctx.config.dbChunker,
    inlineMax: ctx.config.inlineMax ?? 0, // as a snapshot would store them: unchanged files keep their form and are not read
    excludes: restrictTo(loadExcludes(dir, options.exclude ?? []), paths),
    skipPaths: skip,
    loadTree: (id) => ctx.loadTreeSync(id),
    reuse: true,
    baseScanStart: BigInt(manifest.scanStart),
    onWarning: (p) => warnings.push(p),
    onError: (p) => warnings.push(p),
  });
  const tree = await builder.build(dir, manifest.kind === 'dir' ? manifest.tree : null);
  const load = async (id: ObjectId): Promise<readonly TreeEntry[]> => {
    const bytes = scratch.peek(id);
    return bytes ? decodeTree(bytes, id).entries : ctx.loadTree(id);
  };
  const changes = await diffTrees(from.tree, tree, load, sha256Hex, {
    includeMode: options.includeMode ?? false,
    ...(paths ? { paths } : {}),
  });
  return { from, to: { kind: 'dir', dir, tree }, changes, warnings, read: { files: builder.counts.filesRead, bytes: builder.counts.bytesRead } };
}

/** `diff a b` between two snapshots, or `diff a` against the directory on disk when `b` is absent. */
export function diff(ctx: RepoContext, a: string, b: string | null | undefined, options: DiffOptions = {}): Promise<DiffResult> {
  return b === null || b === undefined ? diffWithDisk(ctx, a, options) : diffSnapshots(ctx, a, b, options);
}

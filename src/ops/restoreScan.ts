/**
 * Reads a restore target's current state as a tree, without writing to the
 * repository: the same walk as a snapshot (same exclude rules, the same stat
 * reuse against the target's last snapshot), into a scratch store that keeps
 * the tree objects in memory and throws file content away. The restore plan
 * (and --dry-run) is the difference between this tree and the snapshot's.
 */
import * as path from 'node:path';
import type { TreeEntry } from '../model/tree.js';
import type { SnapshotProblem, SnapshotStats } from '../model/manifest.js';
import type { TreeLoader } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { ScratchObjectWriter } from '../store/scratchObjectWriter.js';
import { compileExcludes, type ExcludeRules } from '../snapshot/excludes.js';
import { TreeBuilder } from '../snapshot/treeBuilder.js';

export interface TargetScan {
  /** The target's current state as a tree (its objects in memory). */
  tree: ObjectId;
  /** Loads trees of this scan from memory, any other tree through `repository` (a bounded loader: see restoreInPlace). */
  loadVia(repository: TreeLoader): TreeLoader;
  /** The counts of the base snapshot's manifest, whose trees the scan names where the target is unchanged. */
  baseStats: SnapshotStats | undefined;
  /** Paths that exist in the target but are left alone: excluded by the rules, and the repository itself. */
  keep: Set<string>;
  /** Entries that could not be read. */
  errors: SnapshotProblem[];
}

/** '/'-separated path of `inner` relative to `root`, or null when it is not inside. */
export function relativeInside(root: string, inner: string): string | null {
  const rel = path.relative(root, inner);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

/** Scans `target` with `rules`, comparing stats with snapshot `base` (its HEAD) to skip reading unchanged files. */
export async function scanTarget(ctx: RepoContext, target: string, rules: ExcludeRules, base: ObjectId | null): Promise<TargetScan> {
  // Nothing is written: file content is only hashed; the scan's trees are kept in memory as they are built.
  const scratch = new ScratchObjectWriter(() => false, ctx.store);
  const trees = new Map<string, readonly TreeEntry[]>();
  const keep = new Set<string>();
  const repoRel = relativeInside(target, ctx.dir);
  if (repoRel !== null) keep.add(repoRel);
  const matcher = compileExcludes(rules);
  const errors: SnapshotProblem[] = [];
  const baseManifest = base ? await ctx.readManifest(base).catch(() => null) : null;
  const builder = new TreeBuilder({
    store: scratch,
    chunker: ctx.config.chunker,
    dbChunker: ctx.config.dbChunker,
    inlineMax: ctx.config.inlineMax ?? 0, // as a snapshot would store them: unchanged files keep their form and are not read
    excludes: {
      active: matcher.active,
      excludes(rel, isDir) {
        const out = matcher.excludes(rel, isDir);
        if (out) keep.add(rel);
        return out;
      },
    },
    skipPaths: new Set([ctx.dir]),
    loadTree: (id) => ctx.loadTreeSync(id),
    onTree: (id, entries) => trees.set(id, entries),
    reuse: baseManifest !== null,
    baseScanStart: baseManifest ? BigInt(baseManifest.scanStart) : null,
    onError: (p) => errors.push(p),
  });
  const tree = await builder.build(target, baseManifest?.tree ?? null);
  return { tree, loadVia: (repository) => async (id) => trees.get(id) ?? repository(id), baseStats: baseManifest?.stats, keep, errors };
}


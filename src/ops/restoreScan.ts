/**
 * Reads a restore target's current state as a tree, without writing to the
 * repository: the same walk as a snapshot (same exclude rules, the same stat
 * reuse against the target's last snapshot), into a scratch store that keeps
 * the tree objects in memory and throws file content away. The restore plan
 * (and --dry-run) is the difference between this tree and the snapshot's.
 */
import * as path from 'node:path';
import { decodeTree } from '../model/tree.js';
import type { SnapshotProblem } from '../model/manifest.js';
import type { TreeLoader } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import type { ObjectWriter, PutResult } from '../store/objectStore.js';
import { compileExcludes, type ExcludeRules } from '../snapshot/excludes.js';
import { TreeBuilder } from '../snapshot/treeBuilder.js';
import { sha256HexAsync } from '../util/hashAsync.js';

const TREE_PREFIX = Buffer.from('{"entries":[');

/**
 * An ObjectWriter that stores nothing on disk: objects that look like trees
 * are kept in memory (so the scanned tree can be walked), everything else is
 * only hashed. Reads fall through to the repository's store.
 */
export class ScratchStore implements ObjectWriter {
  private readonly trees = new Map<string, Buffer>();

  constructor(private readonly backing: ObjectWriter) {}

  async put(content: Buffer, knownId?: ObjectId): Promise<PutResult> {
    const id = knownId ?? ((await sha256HexAsync(content)) as ObjectId);
    if (content.subarray(0, TREE_PREFIX.length).equals(TREE_PREFIX)) this.trees.set(id, content);
    return { id, written: false, storedBytes: 0 };
  }

  async get(id: ObjectId): Promise<Buffer> {
    return this.trees.get(id) ?? this.backing.get(id);
  }

  async has(id: ObjectId): Promise<boolean> {
    return this.trees.has(id) || this.backing.has(id);
  }

  async storedSize(id: ObjectId): Promise<number | undefined> {
    return this.trees.has(id) ? 0 : this.backing.storedSize(id);
  }

  list(): AsyncIterable<ObjectId> {
    return this.backing.list();
  }

  async flush(): Promise<void> {}

  async delete(): Promise<void> {}

  /** Loads a tree kept here, or one from the repository. */
  loader(ctx: RepoContext): TreeLoader {
    return async (id) => {
      const mine = this.trees.get(id);
      return mine ? decodeTree(mine, id).entries : ctx.loadTree(id);
    };
  }
}

export interface TargetScan {
  /** The target's current state as a tree (its objects in memory). */
  tree: ObjectId;
  /** Loads trees of this scan and of the repository. */
  load: TreeLoader;
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
  const scratch = new ScratchStore(ctx.store);
  const keep = new Set<string>();
  const repoRel = relativeInside(target, ctx.dir);
  if (repoRel !== null) keep.add(repoRel);
  const matcher = compileExcludes(rules);
  const errors: SnapshotProblem[] = [];
  const baseManifest = base ? await ctx.readManifest(base).catch(() => null) : null;
  const builder = new TreeBuilder({
    store: scratch,
    chunker: ctx.config.chunker,
    excludes: {
      excludes(rel, isDir) {
        const out = matcher.excludes(rel, isDir);
        if (out) keep.add(rel);
        return out;
      },
    },
    skipPaths: new Set([ctx.dir]),
    loadTree: (id) => ctx.loadTree(id),
    reuse: baseManifest !== null,
    baseScanStart: baseManifest ? BigInt(baseManifest.scanStart) : null,
    onError: (p) => errors.push(p),
  });
  const tree = await builder.build(target, baseManifest?.tree ?? null);
  return { tree, load: scratch.loader(ctx), keep, errors };
}


/**
 * Garbage collection by mark and sweep.
 *
 * Mark: every object reachable from a remaining snapshot (its manifest, its
 * trees, their file chunks) goes into an ObjectSet, a scratch SQLite table on
 * disk, so memory stays bounded whatever the size of the store. Roots are the
 * snapshot markers (snapshots/<id>) plus, to be safe, whatever a HEAD or tag
 * ref or an interrupted restore's journal names; a journal or a ref file that
 * cannot be read or fails validation stops prune before it deletes anything
 * (what it names, and so what it protects, is unknown). A shared subtree is walked once. If any remaining snapshot's
 * manifest or tree cannot be read, prune stops before deleting anything: with
 * part of a snapshot unknown, nothing can be proved unreachable.
 *
 * Sweep: every object in the store that is not marked is deleted. Nothing
 * reachable is ever deleted, so a prune killed at any moment leaves every
 * remaining snapshot restorable; the next prune finishes the job.
 *
 * Concurrency: the caller holds the exclusive repository lock, which every
 * writer (snapshot, restore, rebuild-index) excludes with its shared lock; so
 * no object can be written while prune runs, and no grace period is needed.
 * Under that lock temp files in tmp/ left by dead processes are removed too.
 */
import { IntegrityError } from '../errors.js';
import { ObjectSet } from '../index/objectSet.js';
import { decodeTree, isInline, type TreeEntry } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import { listSnapshotMarkers, soundRefs } from '../refs.js';
import type { ObjectId } from '../store/objectId.js';
import { removeEmptyShardDirs } from '../store/batchDurable.js';
import { pendingRestores } from './restoreInPlace.js';
import { humanBytes } from '../util/humanBytes.js';
import { mapLimit } from '../util/limiter.js';

/** Unlinks in flight at once: deleting is I/O latency, not CPU. */
const DELETE_CONCURRENCY = 8;

export interface PruneProgress {
  phase: 'mark' | 'sweep' | 'tmp';
  /** Snapshots marked so far, of `snapshotsTotal`. */
  snapshots: number;
  snapshotsTotal: number;
  marked: number;
  /** Objects looked at by the sweep so far. */
  scanned: number;
  /** Objects deleted (or, in a dry run, found deletable) so far. */
  deleted: number;
}

export interface PruneOptions {
  /** Count what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Snapshots to treat as already forgotten (forget --dry-run --prune). */
  assumeForgotten?: ReadonlySet<string>;
  onProgress?: (p: PruneProgress) => void;
  /** Called with the count of deletable objects before deleting any; throws to refuse. */
  approve?: (found: { objects: number; bytes: number }) => Promise<void>;
}

export interface PruneSummary {
  dryRun: boolean;
  /** Snapshots whose objects were kept. */
  snapshots: number;
  /** Objects in the store before the sweep. */
  scannedObjects: number;
  /** Objects reachable from the remaining snapshots. */
  reachableObjects: number;
  /** Objects deleted (in a dry run: that would be). */
  deletedObjects: number;
  /** Stored bytes of those objects. */
  deletedBytes: number;
  /** Stale temp files of dead processes removed from tmp/. */
  tmpFilesRemoved: number;
  /** Index rows of snapshots whose marker was gone (an interrupted forget), removed. */
  indexRowsRemoved: number;
}

/** The approval prune asks for once it knows what it would delete. */
export function approvePrune(ctx: RepoContext): (found: { objects: number; bytes: number }) => Promise<void> {
  return (found) =>
    ctx.requestApproval({
      operation: 'prune',
      risk: 'critical',
      summary: `this will delete ${found.objects} objects (${humanBytes(found.bytes)}) that no remaining snapshot uses`,
      details: found,
    });
}

/** The snapshots prune keeps: markers, plus what refs and interrupted restores name (if their manifest exists). */
async function roots(ctx: RepoContext, forgotten: ReadonlySet<string>): Promise<ObjectId[]> {
  const ids = new Set<ObjectId>(listSnapshotMarkers(ctx.dir).filter((id) => !forgotten.has(id)));
  // A journal that cannot be read may name the only snapshots an interrupted restore can be undone with: stop.
  const restores = pendingRestores(ctx, 'prune stopped before deleting anything (what an interrupted restore needs is unknown)').flatMap((r) => (r.restorePoint ? [r.snapshot, r.restorePoint] : [r.snapshot]));
  // A ref file that cannot be read may name a snapshot only it protects: stop, as for a journal.
  const refs = soundRefs(ctx.dir, 'prune stopped before deleting anything');
  for (const ref of [...[...refs.heads.values()].map((h) => h.snapshot), ...[...refs.tags.values()].map((t) => t.snapshot), ...restores]) {
    if (ids.has(ref) || forgotten.has(ref)) continue;
    if (await ctx.store.has(ref)) {
      ids.add(ref);
      ctx.warn(`snapshot ${ref.slice(0, 12)} is named by a ref or a restore journal but has no marker; its data is kept (run \`cairn verify\`)`);
    }
  }
  return [...ids].sort();
}

/**
 * Reads a tree straight from the store, bypassing the context's tree cache:
 * a walk over every tree of the repository would otherwise fill that cache
 * with thousands of decoded trees (its bound is a count of trees, not bytes).
 */
export async function readTreeUncached(ctx: RepoContext, id: ObjectId): Promise<readonly TreeEntry[]> {
  return decodeTree(await ctx.store.get(id), id).entries;
}

/** Marks everything reachable from `roots` into `marked`; throws IntegrityError on any unreadable manifest or tree. */
export async function markReachable(ctx: RepoContext, rootIds: readonly ObjectId[], marked: ObjectSet, progress?: (done: number) => void): Promise<void> {
  const walk = async (tree: ObjectId, snapshot: ObjectId): Promise<void> => {
    if (!marked.add(tree)) return;
    let entries;
    try {
      entries = await readTreeUncached(ctx, tree);
    } catch (err) {
      throw stop(`tree ${tree.slice(0, 12)} of snapshot ${snapshot.slice(0, 12)} cannot be read: ${(err as Error).message}`, err);
    }
    for (const e of entries) {
      if (e.type === 'file' && !isInline(e)) for (const c of e.chunks ?? []) marked.add(c); // an inline file's chunk is in its tree
      else if (e.type === 'dir') await walk(e.tree!, snapshot);
    }
  };
  let done = 0;
  for (const id of rootIds) {
    let tree: ObjectId;
    try {
      tree = (await ctx.readManifest(id)).tree;
    } catch (err) {
      throw stop(`snapshot ${id.slice(0, 12)} cannot be read: ${(err as Error).message}`, err);
    }
    marked.add(id);
    await walk(tree, id);
    progress?.(++done);
  }
}

function stop(why: string, cause: unknown): IntegrityError {
  return new IntegrityError(`prune stopped before deleting anything: ${why}`, {
    cause,
    hint: 'run `cairn verify` to see the damage; forget the damaged snapshots (`cairn forget <id>`), then prune again',
  });
}

/** Mark and sweep. The caller holds the exclusive lock (and has approval, or passes `approve`). */
export async function pruneUnlocked(ctx: RepoContext, options: PruneOptions = {}): Promise<PruneSummary> {
  const dryRun = options.dryRun ?? false;
  const marked = ObjectSet.create(ctx.tmpDir, 'prune.mark');
  const garbage = ObjectSet.create(ctx.tmpDir, 'prune.garbage');
  const p: PruneProgress = { phase: 'mark', snapshots: 0, snapshotsTotal: 0, marked: 0, scanned: 0, deleted: 0 };
  const report = () => options.onProgress?.({ ...p, marked: marked.size });
  try {
    const rootIds = await roots(ctx, options.assumeForgotten ?? new Set());
    p.snapshotsTotal = rootIds.length;
    report();
    await markReachable(ctx, rootIds, marked, (done) => {
      p.snapshots = done;
      report();
    });

    // Sweep in two steps: find the garbage (ids and sizes, into a second scratch set), then, once
    // approved, delete it. Under the exclusive lock the store cannot change in between.
    p.phase = 'sweep';
    let scanned = 0;
    let garbageBytes = 0;
    for await (const id of ctx.store.list()) {
      p.scanned = ++scanned;
      if (marked.has(id)) continue;
      const size = (await ctx.store.storedSize(id)) ?? 0;
      if (garbage.add(id, size)) garbageBytes += size;
      if (scanned % 10_000 === 0) report();
    }
    report();
    if (!dryRun && garbage.size > 0 && options.approve) await options.approve({ objects: garbage.size, bytes: garbageBytes });

    let deleted = 0;
    let deletedBytes = 0;
    if (dryRun) {
      deleted = garbage.size;
      deletedBytes = garbageBytes;
    } else {
      for (const batch of garbage.entries()) {
        await mapLimit(batch, DELETE_CONCURRENCY, async ({ id, value }) => {
          await ctx.store.delete(id as ObjectId);
          deletedBytes += value;
          p.deleted = ++deleted;
          report();
        });
      }
    }

    // Empty shard directories (a failed write's, or a crash's) take a block each: gone too, under this lock.
    if (!dryRun) removeEmptyShardDirs(ctx.store.emptyShardDirs);
    p.phase = 'tmp';
    report();
    // Temp files of dead processes (a killed snapshot's unflushed objects, a killed prune's scratch sets).
    const tmpFilesRemoved = dryRun ? 0 : ctx.cleanStaleTemp();
    let indexRowsRemoved = 0;
    const markers = new Set<string>(listSnapshotMarkers(ctx.dir));
    const stale = ctx.index.allIds().filter((id) => !markers.has(id));
    if (!dryRun && stale.length > 0) ctx.index.transaction(() => stale.forEach((id) => ctx.index.removeSnapshot(id)));
    indexRowsRemoved = stale.length;
    return {
      dryRun,
      snapshots: rootIds.length,
      scannedObjects: scanned,
      reachableObjects: scanned - garbage.size,
      deletedObjects: deleted,
      deletedBytes,
      tmpFilesRemoved,
      indexRowsRemoved,
    };
  } finally {
    marked.dispose();
    garbage.dispose();
  }
}

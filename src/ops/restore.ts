/**
 * Restore, routed by what the target holds:
 * - a new or empty directory: everything is written into a staging directory
 *   beside the target (restoreStaging.ts), made durable, and renamed into
 *   place only when complete, so a failure never leaves a half-restored tree
 *   that looks whole; what a killed one leaves there, the next restore into
 *   the same target removes (once its owner process is gone);
 * - an existing directory (the snapshot's own source by default, or any other
 *   with --force): the in-place engine (restoreInPlace.ts) with a restore
 *   point, approval, staging, a journal and rollback.
 * A whole-tree restore sets the target's HEAD to the restored snapshot, so
 * the next snapshot of it has that one as its parent.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { CairnError, NotFoundError, RefusedError, UnsafePathError, UsageError, describeError, isErrno } from '../errors.js';
import { WalkBudget, budgetedLoader, entryBudget } from '../model/treeBudget.js';
import type { TreeLoader } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { fsyncDir, fsyncTree, syncFileSystem } from '../util/durableFs.js';
import { faultPoint } from '../util/faults.js';
import { Materializer, type MaterializeCounts } from './materialize.js';
import { restoreInPlace, setTargetHead } from './restoreInPlace.js';
import { countChanges, describePlan, normalizeRestorePath, planRestore, type NameStatus, type PlanCounts } from './restorePlan.js';
import { relativeInside } from './restoreScan.js';
import { checkRestoreRoom } from './restoreRoom.js';
import { createTargetStaging, removeStaleTargetStaging, removeTargetStaging } from './restoreStaging.js';
import { verifyRestoredTree } from './verifyRestored.js';
import { quoteName } from '../util/quoteName.js';

export interface RestoreOptions {
  /** Directory to restore into; default: the snapshot's source directory (in place). */
  target?: string;
  /** Restore over a non-empty directory other than the snapshot's source (after approval). */
  force?: boolean;
  /** Report what would be created, replaced and deleted; change nothing. */
  dryRun?: boolean;
  /** Restore only these files or folders (relative to the target root). */
  paths?: string[];
  /** Re-read what was written and compare content ids. */
  verify?: boolean;
  /** Take a restore point before changing a non-empty target (default true). */
  restorePoint?: boolean;
  /**
   * Refuse a restore into a new or empty directory that cannot fit into its file system, before writing anything
   * (default true; restoreRoom.ts).
   */
  spaceCheck?: boolean;
  /**
   * Leave the zero blocks of large files unwritten, as holes (util/sparseWrite.ts): a sparse disk image or a
   * preallocated file takes only its data's blocks. The space check then counts entries only.
   */
  sparse?: boolean;
  onProgress?: (c: MaterializeCounts, path: string) => void;
  /** Called as soon as the restore point is taken, before the target changes, with the --path arguments that undo the restore from it (none: the whole target). */
  onRestorePoint?: (id: ObjectId, undoPaths?: string[]) => void;
}

/** new: into a new or empty directory; in-place: into the snapshot's source; force: over another non-empty directory. */
export type RestoreKind = 'new' | 'in-place' | 'force';

export interface RestoreSummary {
  snapshot: ObjectId;
  target: string;
  kind: RestoreKind;
  dryRun: boolean;
  /** What was written (staged). */
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** Of `files`, the names made as hard links of another name written by the restore (see TreeEntry.links). */
  links: number;
  verified: boolean;
  restorePoint: ObjectId | null;
  /** True when the target's HEAD now names this snapshot. */
  head: boolean;
  counts: PlanCounts;
  /** Name-status of the change (with dryRun: of the change that would be made). */
  changes: NameStatus[];
  warnings: string[];
  /**
   * The --path arguments that undo the restore by restoring its restore point: the restore's paths and any parent
   * it replaced (a symlink where the snapshot has a directory); empty for a whole-tree restore.
   */
  undoPaths?: string[];
}

/** What a restore target holds now. */
export function targetState(target: string): 'absent' | 'empty' | 'nonempty' {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'absent';
    throw err;
  }
  if (st.isSymbolicLink()) throw new RefusedError(`restore target ${quoteName(target)} is a symlink; cairn never restores through one`, { hint: 'name the real directory' });
  if (!st.isDirectory()) throw new UsageError(`restore target ${quoteName(target)} exists and is not a directory`, { hint: 'choose a new or empty directory' });
  return fs.readdirSync(target).length > 0 ? 'nonempty' : 'empty';
}

/** Checks the target is absent or an empty real directory. */
export function checkFreshTarget(target: string): 'absent' | 'empty' {
  const state = targetState(target);
  if (state === 'nonempty') {
    throw new CairnError('TARGET_NOT_EMPTY', `restore target ${quoteName(target)} is not empty`, {
      hint: 'restore into a new or empty directory, or pass --force (restores over it after approval)',
    });
  }
  return state;
}

/** Restores snapshot `id` as `options` say (see the module comment). */
export async function restoreSnapshot(ctx: RepoContext, id: ObjectId, options: RestoreOptions = {}): Promise<RestoreSummary> {
  const manifest = await ctx.readManifest(id);
  const inPlace = options.target === undefined;
  if (inPlace) {
    if (manifest.kind !== 'dir') {
      throw new UsageError(`snapshot ${id.slice(0, 12)} holds a ${manifest.kind} source; restoring it in place is not supported`, { hint: 'restore it with --target DIR' });
    }
    if (typeof manifest.source !== 'string' || !path.isAbsolute(manifest.source)) {
      throw new UnsafePathError(`snapshot ${id.slice(0, 12)} names no absolute source directory`, { hint: 'restore it with --target DIR' });
    }
  }
  const target = path.resolve(options.target ?? manifest.source);
  if (target === ctx.dir || relativeInside(ctx.dir, target) !== null) {
    throw new UsageError(`cannot restore into the repository ${quoteName(ctx.dir)}`, { hint: 'choose a target outside the repository' });
  }
  const state = targetState(target);
  const real = state === 'absent' ? target : fs.realpathSync(target);
  const kind: RestoreKind = real === manifest.source ? 'in-place' : state === 'nonempty' ? 'force' : 'new';
  // What an earlier restore into this --target left beside it when it was killed.
  if (options.target !== undefined && !options.dryRun) await removeStaleTargetStaging(ctx, target);
  const paths = (options.paths ?? []).map(normalizeRestorePath).filter((p) => p !== '');
  const base: RestoreSummary = {
    snapshot: id,
    target: real,
    kind,
    dryRun: options.dryRun ?? false,
    files: 0,
    dirs: 0,
    symlinks: 0,
    bytes: 0,
    links: 0,
    verified: false,
    restorePoint: null,
    head: false,
    counts: { created: 0, replaced: 0, deleted: 0, metadata: 0 },
    changes: [],
    warnings: [],
    undoPaths: [],
  };

  if (state === 'nonempty') {
    if (kind === 'force' && !options.force) {
      throw new CairnError('TARGET_NOT_EMPTY', `restore target ${quoteName(real)} is not empty`, {
        hint: 'restore into a new or empty directory, or pass --force (restores over it after approval)',
      });
    }
    const r = await restoreInPlace(ctx, id, manifest, real, {
      paths,
      verify: options.verify ?? false,
      dryRun: options.dryRun ?? false,
      restorePoint: options.restorePoint ?? true,
      sparse: options.sparse ?? false,
      approval: { operation: kind === 'force' ? 'restore --force' : 'restore in place', risk: 'high' },
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.onRestorePoint ? { onRestorePoint: options.onRestorePoint } : {}),
    });
    return { ...base, ...r.written, verified: r.verified, restorePoint: r.restorePoint, head: r.head, counts: r.counts, changes: r.changes, warnings: r.warnings, undoPaths: r.undoPaths };
  }

  // A new or empty target: nothing there to lose, so no restore point and no approval.
  const what = `snapshot ${id.slice(0, 12)}`;
  const load = (): TreeLoader => budgetedLoader((t) => ctx.loadTree(t), entryBudget(manifest.stats), what);
  if (options.dryRun) {
    const changes = await describePlan(await planRestore(load(), null, manifest.tree, { paths }), load(), load());
    return { ...base, counts: countChanges(changes), changes };
  }
  if (paths.length > 0) {
    const created = state === 'absent';
    if (created) await fsp.mkdir(target, { mode: 0o755 });
    try {
      const r = await restoreInPlace(ctx, id, manifest, fs.realpathSync(target), {
        paths,
        verify: options.verify ?? false,
        sparse: options.sparse ?? false,
        restorePoint: false,
        approval: null,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      return { ...base, target: fs.realpathSync(target), ...r.written, verified: r.verified, head: r.head, counts: r.counts, changes: r.changes, warnings: r.warnings };
    } catch (err) {
      if (created) await fsp.rm(target, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }
  if (options.spaceCheck !== false) checkRestoreRoom(path.dirname(target), target, what, manifest.stats, { sparse: options.sparse ?? false });
  const written = await writeNewTarget(ctx, manifest.tree, WalkBudget.forSnapshot(what, manifest.stats), target, state, options, manifest.stats.files >= WRITER_THREAD_FILES);
  const final = fs.realpathSync(target);
  setTargetHead(ctx, final, id);
  return { ...base, target: final, ...written, verified: options.verify ?? false, head: true, counts: { created: written.files + written.symlinks, replaced: 0, deleted: 0, metadata: 0 } };
}

/** Restores snapshot `id` into a new or empty directory only (TARGET_NOT_EMPTY otherwise). */
export async function restoreToNewTarget(ctx: RepoContext, id: ObjectId, options: RestoreOptions & { target: string }): Promise<RestoreSummary> {
  checkFreshTarget(path.resolve(options.target));
  return restoreSnapshot(ctx, id, { ...options, force: false });
}

/**
 * The owner of what is created under `dir` (a new directory of this process): the process's, unless `dir` has the
 * set-group-id bit (its group is then inherited) or its owner is not the process (a file system that maps owners).
 */
function createdOwner(dir: string): { createdOwner?: { uid: number; gid: number } } {
  if (typeof process.geteuid !== 'function' || typeof process.getegid !== 'function') return {};
  // Never throws (the caller has not yet set up the staging directory's removal): unknown means chown all.
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return {};
  }
  const uid = process.geteuid();
  const gid = process.getegid();
  // 0o2000: S_ISGID (not among Node's fs.constants).
  if ((st.mode & 0o2000) !== 0 || st.uid !== uid || st.gid !== gid) return {};
  return { createdOwner: { uid, gid } };
}

/**
 * Files in a snapshot from which a restore into a new directory creates its small files on a second thread
 * (MaterializeOptions.writerThread): below it, starting the thread (~20-30 ms) costs more than it saves.
 */
const WRITER_THREAD_FILES = 1000;

/**
 * Writes tree `tree` into a staging directory beside `target` (restoreStaging.ts) and renames it into place;
 * `writerThread`: see MaterializeOptions.
 */
async function writeNewTarget(
  ctx: RepoContext,
  tree: ObjectId,
  budget: WalkBudget,
  target: string,
  state: 'absent' | 'empty',
  options: RestoreOptions,
  writerThread: boolean,
): Promise<MaterializeCounts> {
  const parent = path.dirname(target);
  if (!fs.existsSync(parent)) throw new NotFoundError(`the parent of restore target ${quoteName(target)} does not exist`, { hint: 'create it first' });
  const staging = await createTargetStaging(target);
  const m = new Materializer(ctx, {
    budget,
    earlySync: staging.tree,
    writerThread,
    hardLinks: true,
    sparse: options.sparse ?? false,
    ...createdOwner(staging.tree),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  try {
    try {
      await m.writeTree(tree, Buffer.from(staging.tree));
      await m.finish();
    } finally {
      // Before the staging directory is removed on a failure: nothing may still be writing into it.
      await m.close();
    }
    if (options.verify) await verifyRestoredTree(ctx, tree, staging.tree);
    // Every file and directory made durable before the rename publishes them.
    if (!syncFileSystem(staging.tree)) await fsyncTree(staging.tree);
    await faultPoint('restore-new', 1);
    await fsp.chmod(staging.tree, 0o755);
    if (state === 'empty') await fsp.rmdir(target);
    await fsp.rename(staging.tree, target);
    await fsyncDir(parent);
  } catch (err) {
    await removeTargetStaging(staging.dir).catch(() => undefined);
    throw err;
  }
  await faultPoint('restore-new', 2);
  // Left: the staging directory with only its owner record (the next restore into the target removes it if this fails).
  await removeTargetStaging(staging.dir).catch((err: unknown) => ctx.warn(`restored, but could not remove ${quoteName(staging.dir)}: ${describeError(err)}`));
  return m.counts;
}

/**
 * Restore into a new or empty directory: everything is written into a staging
 * directory beside the target, made durable, and renamed into place only when
 * complete, so a failure never leaves a half-restored tree that looks whole.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { CairnError, NotFoundError, RefusedError, UsageError, isErrno } from '../errors.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { fsyncDir, syncFileSystem } from '../util/durableFs.js';
import { Materializer, type MaterializeCounts } from './materialize.js';
import { verifyRestoredTree } from './verifyRestored.js';

export interface RestoreOptions {
  target: string;
  /** Re-read what was written and compare content ids. */
  verify?: boolean;
  onProgress?: (c: MaterializeCounts, path: string) => void;
}

export interface RestoreSummary {
  snapshot: ObjectId;
  target: string;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  verified: boolean;
}

/** Checks the target is absent or an empty real directory. */
export function checkFreshTarget(target: string): 'absent' | 'empty' {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'absent';
    throw err;
  }
  if (st.isSymbolicLink()) throw new RefusedError(`restore target ${target} is a symlink; cairn never restores through one`, { hint: 'name the real directory' });
  if (!st.isDirectory()) throw new UsageError(`restore target ${target} exists and is not a directory`, { hint: 'choose a new or empty directory' });
  if (fs.readdirSync(target).length > 0) {
    throw new CairnError('TARGET_NOT_EMPTY', `restore target ${target} is not empty`, {
      hint: 'restore into a new or empty directory, or pass --force (restores over it after approval)',
    });
  }
  return 'empty';
}

export async function restoreToNewTarget(ctx: RepoContext, id: ObjectId, options: RestoreOptions): Promise<RestoreSummary> {
  const manifest = await ctx.readManifest(id);
  const target = path.resolve(options.target);
  const state = checkFreshTarget(target);
  const parent = path.dirname(target);
  if (!fs.existsSync(parent)) throw new NotFoundError(`the parent of restore target ${target} does not exist`, { hint: 'create it first' });
  const staging = path.join(parent, `.${path.basename(target)}.cairn-restore-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(staging, { mode: 0o700 });
  const m = new Materializer(ctx, options.onProgress ? { onProgress: options.onProgress } : {});
  try {
    await m.writeTree(manifest.tree, Buffer.from(staging));
    if (options.verify) await verifyRestoredTree(ctx, manifest.tree, staging);
    if (!syncFileSystem(staging)) await fsyncDir(staging);
    await fsp.chmod(staging, 0o755);
    if (state === 'empty') await fsp.rmdir(target);
    await fsp.rename(staging, target);
    await fsyncDir(parent);
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  return { snapshot: id, target, ...m.counts, verified: options.verify ?? false };
}

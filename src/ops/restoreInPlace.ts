/**
 * Restore over an existing directory (in place, or --force into another
 * one), so that it matches the snapshot exactly, without ever making things
 * worse:
 *
 * 1. scan the target's current state (restoreScan.ts) and plan the change
 *    (restorePlan.ts); --dry-run stops here;
 * 2. ask for approval, stating the consequence;
 * 3. take a restore point: a snapshot of the target as it is (type
 *    restore-point), the one-command undo;
 * 4. stage: write every new entry into a staging directory inside the target
 *    (same file system, so renames are atomic), each chunk verified against
 *    its id as it is read, --verify re-reading the files; make it durable;
 * 5. apply: for each action, move the old entry aside into the staging
 *    directory and the new one into place (renames only), checking first that
 *    the target still holds what the plan expects and that no parent
 *    directory has become a symlink;
 * 6. finish: make the renames durable, mark the journal applied, move old/
 *    away (from then on the restore is kept), set HEAD, delete the staging
 *    directory (with the displaced entries) and, last, the journal.
 *
 * The journal (restoreJournal.ts) is written before step 4 and at each phase
 * change. A failure in step 4 leaves the target untouched; a failure in step
 * 5 is rolled back at once (every displaced entry moved back); a killed
 * process leaves the journal, and `cairn restore --rollback` (or `--resume`,
 * or any later restore into the same target) completes the recovery. A kill
 * between any two steps of finish or of a rollback leaves a journal whose
 * phase says which way it was going (applied, rolled-back), so the next
 * command finishes that way and never moves an entry twice.
 */
import { realpathSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ApprovalRequest } from '../approval.js';
import { BusyError, CairnError, IntegrityError, IoError, NotFoundError, RefusedError, SourceError, UnsafePathError, UsageError, describeError, isErrno } from '../errors.js';
import type { Manifest, SnapshotProblem } from '../model/manifest.js';
import type { EntryType } from '../model/tree.js';
import { fileChunk } from '../model/fileContent.js';
import { WalkBudget, budgetedLoader, entryBudget } from '../model/treeBudget.js';
import type { TreeLoader } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import { writeHead } from '../refs.js';
import { IGNORE_FILE, type ExcludeRules } from '../snapshot/excludes.js';
import { takeSnapshot } from '../snapshot/snapshotter.js';
import type { ObjectId } from '../store/objectId.js';
import { fsyncDir, fsyncTree, syncFileSystem } from '../util/durableFs.js';
import { faultPoint } from '../util/faults.js';
import { Materializer, type MaterializeCounts } from './materialize.js';
import { damagedJournalError, journalFile, journalOwnerAlive, listJournals, newStagingDir, readJournal, removeJournal, writeJournal, type RestoreJournal } from './restoreJournal.js';
import { countChanges, describePlan, normalizeRestorePath, planRestore, undoPaths, type NameStatus, type PlanCounts, type RestorePlan } from './restorePlan.js';
import { scanTarget } from './restoreScan.js';
import { removeTree } from './restoreStaging.js';
import { verifyRestoredEntry, verifyRestoredTree } from './verifyRestored.js';
import { quoteName, shellWord } from '../util/quoteName.js';

export interface InPlaceOptions {
  /** Restore only these paths (relative to the target root). */
  paths?: readonly string[];
  /** Re-read staged files and compare them with the snapshot before anything is replaced. */
  verify?: boolean;
  /** Plan and report, change nothing. */
  dryRun?: boolean;
  /** Take a restore point first (default true). */
  restorePoint?: boolean;
  /** Leave the zero blocks of large files as holes (RestoreOptions.sparse). */
  sparse?: boolean;
  /** The approval to ask for before changing anything (null: none needed, e.g. an empty target). */
  approval?: Pick<ApprovalRequest, 'operation' | 'risk'> | null;
  onProgress?: (c: MaterializeCounts, path: string) => void;
  /**
   * Called once the restore point is taken, before the target changes, with the --path arguments that undo the
   * restore from it (undoPaths: empty for a whole-tree restore).
   */
  onRestorePoint?: (id: ObjectId, undoPaths: string[]) => void;
}

export interface InPlaceResult {
  /** The change as name-status (what was, or with dryRun would be, created, replaced, deleted). */
  changes: NameStatus[];
  counts: PlanCounts;
  restorePoint: ObjectId | null;
  written: MaterializeCounts;
  verified: boolean;
  /** True when the target's HEAD now names the restored snapshot. */
  head: boolean;
  warnings: string[];
  /** The --path arguments that undo this restore from its restore point (empty: the whole target; see undoPaths). */
  undoPaths: string[];
}

const SLASH = Buffer.from('/');

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// ---------------------------------------------------------------- helpers

async function lstatOrNull(p: Buffer | string): Promise<Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

function typeOf(st: Stats): EntryType | 'other' {
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
}

function absPath(target: string, rel: Buffer): Buffer {
  return Buffer.concat([Buffer.from(target), SLASH, rel]);
}

function newPath(j: RestoreJournal, i: number): string {
  return path.join(j.staging, 'new', String(i));
}

function oldPath(j: RestoreJournal, i: number): string {
  return path.join(j.staging, 'old', String(i));
}

/** Where finish moves staging/old in one rename before deleting anything: from then on the restore is kept. */
const DISCARD = 'discard';

/**
 * True when the restore of an `applied` journal is complete and kept: finish
 * has moved old/ away (or begun deleting the staging directory), so the
 * displaced entries a rollback needs are no longer all there. While every one
 * is still in old/ the restore can be rolled back exactly.
 */
async function committed(j: RestoreJournal): Promise<boolean> {
  if (j.phase !== 'applied') return false;
  if (!(await lstatOrNull(path.join(j.staging, 'old')))) return true;
  for (let i = 0; i < j.actions.length; i++) {
    const a = j.actions[i]!;
    if ((a.op === 'delete' || (a.op === 'put' && a.old)) && !(await lstatOrNull(oldPath(j, i)))) return true;
  }
  return false;
}

function changedError(rel: string, expected: string, found: Stats | null): IoError {
  const what = found ? `a ${typeOf(found)}` : 'nothing';
  return new IoError(`${quoteName(rel)} changed while restoring: expected ${expected}, found ${what}`, {
    hint: 'do not write into the target while cairn restores it; run the restore again',
    details: { path: rel },
  });
}

function expectType(found: Stats | null, type: EntryType, rel: string): void {
  if (!found || typeOf(found) !== type) throw changedError(rel, `a ${type}`, found);
}

/**
 * Moving a directory to another parent needs write permission on it (its
 * ".." changes): give a read-only one u+w first (chmod leaves its mtime
 * alone). Its mode is set back where it lands (apply or rollback).
 */
async function makeMovable(p: Buffer | string, st: Stats | null): Promise<void> {
  if (st?.isDirectory() && (st.mode & 0o200) === 0 && !isRoot()) await fsp.chmod(p, (st.mode & 0o7777) | 0o200);
}

/** Checks every parent directory of `rel` is a real directory (never a symlink), once per directory. */
async function checkParents(target: string, rel: Buffer, checked: Set<string>): Promise<void> {
  let at = rel.indexOf(0x2f);
  while (at !== -1) {
    const parent = rel.subarray(0, at);
    const key = parent.toString('latin1');
    if (!checked.has(key)) {
      const st = await lstatOrNull(absPath(target, parent));
      if (!st || !st.isDirectory()) {
        throw new UnsafePathError(`${quoteName(parent.toString('utf8'))} in ${quoteName(target)} is ${st ? `a ${typeOf(st)}` : 'missing'}, not a directory; restore never writes through a symlink`, {
          hint: 'the target changed while restoring; run the restore again',
        });
      }
      checked.add(key);
    }
    at = rel.indexOf(0x2f, at + 1);
  }
}

/** Sets the mode of `p` if it is a real directory (never through a symlink put in its place). */
async function setDirMode(p: Buffer | string, mode: number): Promise<void> {
  if ((await lstatOrNull(p))?.isDirectory()) await fsp.chmod(p, mode);
}

/**
 * Before a rollback, resume or cleanup acts on a journal: the target must be
 * a real directory at its own real path (no parent turned into a symlink),
 * and the staging directory, when there, a real directory whose new/ and
 * old/ (when there) are real directories. Returns whether the staging
 * directory exists (false also when the target is gone).
 */
async function checkRecoveryPaths(ctx: RepoContext, j: RestoreJournal): Promise<boolean> {
  const notDir = (what: string, st: Stats): UnsafePathError => refuse(`${what} is a ${typeOf(st)}, not a directory`);
  const refuse = (what: string): UnsafePathError =>
    new UnsafePathError(`${what}; cairn never follows a symlink to roll back, resume or finish a restore, and stopped before moving anything`, {
      hint: `check ${quoteName(j.target)} by hand${j.restorePoint ? ` (the restore point ${j.restorePoint.slice(0, 12)} holds it as it was before)` : ''}; once it is known good, delete ${journalFile(ctx.dir, j.target)}`,
      details: { target: j.target, staging: j.staging },
    });
  const t = await lstatOrNull(j.target);
  if (!t) return false; // the target is gone, and its staging directory with it
  if (!t.isDirectory()) throw notDir(`the restore target ${j.target}`, t);
  let real: string;
  try {
    real = realpathSync(j.target);
  } catch (err) {
    throw asCairnError(err, `cannot resolve ${quoteName(j.target)}`);
  }
  if (real !== j.target) throw refuse(`the restore target ${j.target} now resolves to ${real} (a parent directory was replaced by a symlink)`);
  const st = await lstatOrNull(j.staging);
  if (!st) return false;
  if (!st.isDirectory()) throw notDir(`the staging directory ${j.staging}`, st);
  for (const sub of ['new', 'old', DISCARD]) {
    const p = path.join(j.staging, sub);
    const found = await lstatOrNull(p);
    if (found && !found.isDirectory()) throw notDir(p, found);
  }
  return true;
}

/** Runs `fn` over `items`, at most `limit` at once; after a failure starts no more, waits for those running, throws the first error. */
async function runPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

function asCairnError(err: unknown, what: string): CairnError {
  if (err instanceof CairnError) return err;
  return new IoError(`${what}: ${describeError(err)}`, { cause: err });
}

/** The exclude rules of a snapshot: recorded in its manifest, else its own .cairnignore. */
export async function restoreRulesOf(ctx: RepoContext, m: Manifest): Promise<ExcludeRules> {
  const r = m.extra?.excludeRules as Partial<ExcludeRules> | undefined;
  if (r && (r.ignoreFile === null || typeof r.ignoreFile === 'string') && Array.isArray(r.patterns) && r.patterns.every((p) => typeof p === 'string')) {
    return { ignoreFile: r.ignoreFile, patterns: r.patterns };
  }
  const e = (await ctx.loadTree(m.tree)).find((x) => x.name === IGNORE_FILE && x.rawName === undefined && x.type === 'file');
  if (!e) return { ignoreFile: null, patterns: [] };
  const parts: Buffer[] = [];
  for (const c of e.chunks ?? []) parts.push(await fileChunk(ctx.store, e, c));
  return { ignoreFile: Buffer.concat(parts).toString('utf8'), patterns: [] };
}

function unreadable(target: string, errors: readonly SnapshotProblem[]): SourceError {
  const first = errors[0]!;
  return new SourceError(`cannot read ${errors.length} entr${errors.length === 1 ? 'y' : 'ies'} of ${quoteName(target)} (first: ${quoteName(first.path)}: ${first.message}); cairn will not replace what it cannot save`, {
    hint: 'fix the permissions, or restore into a new directory with --target',
    details: { errors: errors.slice(0, 20) },
  });
}

/** "this will create 2 files, replace 12 files and delete 3 files in /srv/app". */
export function describeConsequence(counts: PlanCounts, target: string): string {
  const n = (k: number) => `${k} file${k === 1 ? '' : 's'}`;
  const parts = [
    counts.created ? `create ${n(counts.created)}` : '',
    counts.replaced ? `replace ${n(counts.replaced)}` : '',
    counts.deleted ? `delete ${n(counts.deleted)}` : '',
    counts.metadata ? `reset the metadata of ${n(counts.metadata)}` : '',
  ].filter((p) => p !== '');
  const list = parts.length === 0 ? 'change only directories' : parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;
  return `this will ${list} in ${target}`;
}

export function setTargetHead(ctx: RepoContext, target: string, snapshot: ObjectId): void {
  writeHead(ctx.dir, { source: target, snapshot });
  ctx.index.setHead(target, snapshot);
}

// ---------------------------------------------------------------- the phases

/** Writes every new entry into staging/new/<i>; returns what was written. */
async function stage(ctx: RepoContext, j: RestoreJournal, onProgress?: InPlaceOptions['onProgress']): Promise<MaterializeCounts> {
  const newDir = path.join(j.staging, 'new');
  await removeTree(newDir);
  await fsp.mkdir(newDir, { mode: 0o700 });
  await fsp.mkdir(path.join(j.staging, 'old'), { mode: 0o700, recursive: true });
  // Bounded by the snapshot's counts: a crafted tree stops with an IntegrityError rather than fill the disk.
  const budget = WalkBudget.forSnapshot(`snapshot ${j.snapshot.slice(0, 12)}`, (await ctx.readManifest(j.snapshot)).stats);
  // Names of one file (hard links) staged as links of one file, so that they are renamed into place as such.
  const m = new Materializer(ctx, { chown: j.chown, budget, sparse: j.sparse === true, hardLinks: true, ...(onProgress ? { onProgress } : {}) });
  const puts = j.actions.flatMap((a, i) => (a.op === 'put' ? [{ a, i }] : []));
  let n = 0;
  await runPool(puts, 4, async ({ a, i }) => {
    try {
      await faultPoint('restore-stage', ++n);
      const p = Buffer.from(newPath(j, i));
      if (a.entry.type === 'dir') {
        await fsp.mkdir(p, { mode: 0o700 });
        if (!a.shallow) await m.writeTree(a.entry.tree!, p, a.path);
        await m.setMeta(a.entry, p);
        await makeMovable(p, await fsp.lstat(p));
        m.counts.dirs++;
      } else {
        await m.writeEntryOrLink(a.entry, p, a.path);
      }
    } catch (err) {
      throw asCairnError(err, `cannot write ${quoteName(a.path)}`);
    }
  });
  if (j.verify) {
    await runPool(puts, 4, async ({ a, i }) => {
      if (a.entry.type === 'dir') {
        if (!a.shallow) await verifyRestoredTree(ctx, a.entry.tree!, newPath(j, i), a.path);
      } else {
        await verifyRestoredEntry(ctx, a.entry, newPath(j, i), a.path);
      }
    });
  }
  if (!syncFileSystem(j.staging)) await fsyncTree(j.staging);
  return m.counts;
}

/** Performs the actions in order; safe to run again after an interruption (each checks where its entries are). */
async function apply(ctx: RepoContext, j: RestoreJournal): Promise<void> {
  const m = new Materializer(ctx, { chown: j.chown });
  const checked = new Set<string>();
  let renames = 0;
  const move = async (from: string | Buffer, to: string | Buffer): Promise<void> => {
    await fsp.rename(from, to);
    await faultPoint('restore-apply', ++renames);
  };
  for (let i = 0; i < j.actions.length; i++) {
    const a = j.actions[i]!;
    try {
      await checkParents(j.target, a.rel, checked);
      const abs = absPath(j.target, a.rel);
      if (a.op === 'put') {
        const np = newPath(j, i);
        if (!(await lstatOrNull(np))) continue; // already in place
        const found = await lstatOrNull(abs);
        if (a.old) {
          const op = oldPath(j, i);
          if (await lstatOrNull(op)) {
            if (found) throw changedError(a.path, 'nothing (its old entry was moved aside)', found);
          } else {
            expectType(found, a.old.type, a.path);
            await makeMovable(abs, found);
            await move(abs, op);
          }
        } else if (found) {
          throw changedError(a.path, 'nothing', found);
        }
        await move(np, abs);
        if (a.entry.type === 'dir' && (a.entry.mode & 0o200) === 0) await setDirMode(abs, a.entry.mode & 0o7777); // staged with u+w
      } else if (a.op === 'delete') {
        const op = oldPath(j, i);
        if (await lstatOrNull(op)) continue; // already moved aside
        const found = await lstatOrNull(abs);
        expectType(found, a.old.type, a.path);
        await makeMovable(abs, found);
        await move(abs, op);
      } else {
        expectType(await lstatOrNull(abs), a.type, a.path);
        await m.setMeta(a.to, abs);
      }
    } catch (err) {
      throw asCairnError(err, `cannot restore ${quoteName(a.path)}`);
    }
  }
}

/** Makes the target's renames durable. */
async function syncTarget(j: RestoreJournal): Promise<void> {
  if (syncFileSystem(j.target)) return;
  const dirs = new Set<string>([j.target, path.join(j.staging, 'old'), path.join(j.staging, 'new')]);
  for (const a of j.actions) dirs.add(path.dirname(absPath(j.target, a.rel).toString('utf8')));
  for (const d of dirs) await fsyncDir(d).catch(() => undefined);
}

/**
 * Completes a restore whose actions are all done. Each step can be
 * interrupted and the next command (restore, --resume, --rollback) carries
 * on: phase `applied` is written first (from here a new restore finishes it
 * rather than undoing it); old/ is moved to discard/ in one rename (the point
 * of no return: before it, --rollback still undoes the restore exactly; after
 * it, the restore is kept); HEAD is set; the staging directory is deleted;
 * the journal last, so that no staging directory is ever left without it.
 */
async function finish(ctx: RepoContext, j: RestoreJournal): Promise<void> {
  const staged = await checkRecoveryPaths(ctx, j);
  await syncTarget(j);
  if (j.phase !== 'applied') {
    j.phase = 'applied';
    await writeJournal(ctx.dir, ctx.tmpDir, j);
  }
  await faultPoint('restore-finish', 1);
  if (staged && (await lstatOrNull(path.join(j.staging, 'old')))) {
    await fsp.rename(path.join(j.staging, 'old'), path.join(j.staging, DISCARD));
    await fsyncDir(j.staging).catch(() => undefined);
  }
  await faultPoint('restore-finish', 2);
  if (j.setHead && (await lstatOrNull(j.target))) setTargetHead(ctx, j.target, j.snapshot);
  try {
    if (staged) await removeTree(j.staging);
  } catch (err) {
    // The restore is complete; only the cleanup is left, which --resume (or the next restore) retries.
    ctx.warn(`restored, but could not remove the staging directory ${quoteName(j.staging)}: ${describeError(err)}; run \`cairn restore --resume\` to clean up`);
    return;
  }
  await faultPoint('restore-finish', 3);
  removeJournal(ctx.dir, j.target);
}

/** The error for --rollback of a restore that had completed (only its cleanup was interrupted, and is now done). */
function completedError(j: RestoreJournal): NotFoundError {
  const undo = j.restorePoint ? `cairn restore ${j.restorePoint.slice(0, 12)}${undoPaths(j.actions, j.paths).map((p) => ` --path ${shellWord(p)}`).join('')}` : null;
  return new NotFoundError(`nothing to roll back: the restore of ${j.snapshot.slice(0, 12)} into ${quoteName(j.target)} had completed (it was stopped while cleaning up, which is now done)`, {
    hint: undo ? `to undo it, restore its restore point: ${undo}` : `it was made without a restore point: restore the snapshot you want into ${quoteName(j.target)}`,
    details: { target: j.target, snapshot: j.snapshot, ...(j.restorePoint ? { restorePoint: j.restorePoint, undo } : {}) },
  });
}

/**
 * Undoes whatever part of a journal's actions was done, moving every
 * displaced entry back; marks the journal rolled-back; then removes the
 * staging directory and the journal. Safe to run again after an interruption
 * at any point. A restore that had completed (an applied journal whose old/
 * finish has moved away: see committed) cannot be undone from its staging
 * directory: its cleanup is finished instead, and 'completed' returned.
 */
export async function rollbackJournal(ctx: RepoContext, j: RestoreJournal): Promise<'rolled-back' | 'completed'> {
  const staged = await checkRecoveryPaths(ctx, j);
  if (j.phase === 'rolled-back') {
    // Every action was undone; only the cleanup was left.
    if (staged) await removeTree(j.staging);
    removeJournal(ctx.dir, j.target);
    return 'rolled-back';
  }
  if (j.phase === 'applied' && (!staged || (await committed(j)))) {
    await finish(ctx, j);
    return 'completed';
  }
  if (!staged) {
    removeJournal(ctx.dir, j.target);
    if (j.phase === 'staging') return 'rolled-back';
    throw new IntegrityError(`the staging directory ${quoteName(j.staging)} of an interrupted restore is gone; cairn cannot undo that restore itself`, {
      hint: j.restorePoint ? `restore the restore point: cairn restore ${j.restorePoint.slice(0, 12)}` : 'restore the snapshot you want into the target again',
    });
  }
  if (j.phase !== 'staging') {
    const m = new Materializer(ctx, { chown: j.chown });
    const checked = new Set<string>();
    let step = 0;
    await fsp.mkdir(path.join(j.staging, 'new'), { mode: 0o700, recursive: true }); // placed entries go back there
    for (let i = j.actions.length - 1; i >= 0; i--) {
      const a = j.actions[i]!;
      if (a.op === 'meta') continue;
      await faultPoint('restore-rollback', ++step);
      try {
        await checkParents(j.target, a.rel, checked);
        const abs = absPath(j.target, a.rel);
        const op = oldPath(j, i);
        if (a.op === 'put') {
          const np = newPath(j, i);
          // Moved into place: move it back to staging (so running this again does not touch the old entry).
          const placed = (await lstatOrNull(np)) ? null : await lstatOrNull(abs);
          if (placed) {
            await makeMovable(abs, placed);
            await fsp.rename(abs, np);
          }
        }
        if (await lstatOrNull(op)) {
          await fsp.rename(op, abs);
          if (a.old?.type === 'dir' && (a.old.mode & 0o200) === 0) await setDirMode(abs, a.old.mode & 0o7777); // made movable on the way out
        }
      } catch (err) {
        throw asCairnError(err, `cannot move ${quoteName(a.path)} back`);
      }
    }
    // Metadata last, children before parents (moving entries back changed the directories' times).
    for (const a of j.actions) {
      if (a.op !== 'meta' || !a.from) continue;
      try {
        await checkParents(j.target, a.rel, checked);
        const abs = absPath(j.target, a.rel);
        const found = await lstatOrNull(abs);
        if (found && typeOf(found) === a.from.type) await m.setMeta(a.from, abs);
      } catch (err) {
        ctx.warn(`rollback: could not reset the mode and times of ${quoteName(a.path)}: ${describeError(err)}`);
      }
    }
    await syncTarget(j);
    // Before anything is deleted: run again, the loop above would take the entries now back in place for new ones.
    j.phase = 'rolled-back';
    await writeJournal(ctx.dir, ctx.tmpDir, j);
    await faultPoint('restore-rolled-back', 1);
  }
  await removeTree(j.staging);
  await faultPoint('restore-rolled-back', 2);
  removeJournal(ctx.dir, j.target);
  return 'rolled-back';
}

/** Stages (if needed), applies and finishes a journal, rolling back if applying fails. */
async function run(ctx: RepoContext, j: RestoreJournal, options: { onProgress?: InPlaceOptions['onProgress'] }): Promise<MaterializeCounts> {
  let written: MaterializeCounts = { files: 0, dirs: 0, symlinks: 0, bytes: 0, links: 0 };
  if (j.phase === 'staging') {
    try {
      written = await stage(ctx, j, options.onProgress);
      j.phase = 'applying';
      await writeJournal(ctx.dir, ctx.tmpDir, j);
    } catch (err) {
      // Nothing in the target was touched: drop the staging directory and the journal.
      await removeTree(j.staging).catch(() => undefined);
      removeJournal(ctx.dir, j.target);
      throw annotate(err, `${j.target} was not changed`, j);
    }
  }
  if (j.phase === 'applying') {
    try {
      await apply(ctx, j);
    } catch (err) {
      try {
        await rollbackJournal(ctx, j);
      } catch (rollbackErr) {
        throw annotate(err, `the automatic rollback failed too (${describeError(rollbackErr)})`, j, true);
      }
      throw annotate(err, `the restore was rolled back: ${j.target} is as it was`, j);
    }
  }
  await finish(ctx, j);
  return written;
}

function annotate(err: unknown, note: string, j: RestoreJournal, recoveryNeeded = false): CairnError {
  const e = asCairnError(err, 'restore failed');
  const rp = j.restorePoint ? j.restorePoint.slice(0, 12) : null;
  const hint = recoveryNeeded
    ? `once the cause is fixed run \`cairn restore --rollback --target ${shellWord(j.target)}\`${rp ? `, or undo with \`cairn restore ${rp}\`` : ''}`
    : (e.hint ?? (rp ? `the restore point ${rp} holds the target's state from before` : undefined));
  return new CairnError(e.code, `${e.message}; ${note}`, {
    ...(hint ? { hint } : {}),
    details: { ...e.details, target: j.target, ...(j.restorePoint ? { restorePoint: j.restorePoint } : {}), recoveryNeeded },
    cause: err,
  });
}

// ---------------------------------------------------------------- entry points

/** Deals with an interrupted restore of `target` before a new one starts: rolls it back (or refuses when busy or dry). */
async function settlePending(ctx: RepoContext, target: string, dryRun: boolean): Promise<void> {
  const j = readJournal(ctx.dir, target, `cannot restore into ${target}`);
  if (!j) return;
  if (journalOwnerAlive(j)) {
    throw new BusyError(`another restore into ${quoteName(target)} is running (pid ${j.pid} on ${j.host})`, { hint: 'wait for it to finish' });
  }
  if (dryRun) {
    throw new RefusedError(`an interrupted restore into ${quoteName(target)} is pending`, {
      hint: 'undo it with `cairn restore --rollback`, or finish it with `cairn restore --resume`',
    });
  }
  if (j.phase === 'applied') {
    // Every action was done: finish it (HEAD, cleanup), never undo it behind the user's back.
    ctx.warn(`an interrupted restore of ${j.snapshot.slice(0, 12)} into ${quoteName(target)} had done every change; finishing it first`);
    await finish(ctx, j);
    return;
  }
  if (j.phase === 'rolled-back') {
    await rollbackJournal(ctx, j); // its cleanup
    return;
  }
  ctx.warn(`an interrupted restore of ${j.snapshot.slice(0, 12)} into ${quoteName(target)} was found; rolling it back first`);
  await rollbackJournal(ctx, j);
}

/** Restores snapshot `id` over the existing directory `target` (an absolute real path). */
export async function restoreInPlace(ctx: RepoContext, id: ObjectId, manifest: Manifest, target: string, options: InPlaceOptions = {}): Promise<InPlaceResult> {
  const started = Date.now();
  await settlePending(ctx, target, options.dryRun ?? false);
  const rules = await restoreRulesOf(ctx, manifest);
  const chown = isRoot();
  const paths = (options.paths ?? []).map(normalizeRestorePath);
  const whole = paths.length === 0 || paths.includes('');
  const base = ctx.index.head(target) ?? ctx.index.latest(target)?.id ?? null;
  const scan = await scanTarget(ctx, target, rules, base);
  if (scan.errors.length > 0) throw unreadable(target, scan.errors);
  // Every walk of the snapshot's trees is bounded by its manifest's counts (a tree bomb stops with one error); the
  // target's side is what the scan saw, or, where it is unchanged, the base snapshot's trees (bounded by its counts).
  const load = (t: ObjectId) => ctx.loadTree(t);
  const what = `snapshot ${id.slice(0, 12)}`;
  const wanted = (): TreeLoader => budgetedLoader(load, entryBudget(manifest.stats), what);
  const scanned = (): TreeLoader => scan.loadVia(budgetedLoader(load, entryBudget(manifest.stats, scan.baseStats), what));
  const planOptions = { paths: whole ? [] : paths, keep: scan.keep, chown };
  let plan: RestorePlan = await planRestore(scanned(), scan.tree, manifest.tree, planOptions);
  let changes = await describePlan(plan, scanned(), wanted());
  const result: InPlaceResult = {
    changes,
    counts: countChanges(changes),
    restorePoint: null,
    written: { files: 0, dirs: 0, symlinks: 0, bytes: 0, links: 0 },
    verified: false,
    head: false,
    warnings: plan.warnings,
    undoPaths: whole ? [] : undoPaths(plan.actions, paths),
  };
  if (options.dryRun) return result;
  if (plan.actions.length === 0) {
    if (whole) setTargetHead(ctx, target, id);
    return { ...result, head: whole };
  }
  const takeRestorePoint = options.restorePoint ?? true;
  if (options.approval) {
    await ctx.requestApproval({
      ...options.approval,
      summary: `${describeConsequence(result.counts, target)}; ${takeRestorePoint ? 'a restore point of its current state will be taken first' : 'NO restore point will be taken'}`,
      details: { target, snapshot: id, ...result.counts, restorePoint: takeRestorePoint },
    });
  }
  if (takeRestorePoint) {
    const rp = await takeSnapshot(ctx, { path: target, type: 'restore-point', message: `before restoring ${id.slice(0, 12)}`, excludeRules: rules });
    ctx.record('restore-point', { target, restoring: id }, 'ok', { started, snapshots: [rp.id] });
    result.restorePoint = rp.id;
    if (rp.manifest.errors.length > 0) throw unreadable(target, rp.manifest.errors);
    // Plan again from what the restore point holds: that is what the undo brings back.
    plan = await planRestore(budgetedLoader(load, entryBudget(rp.manifest.stats, manifest.stats), what), rp.manifest.tree, manifest.tree, planOptions);
    changes = await describePlan(plan, budgetedLoader(load, entryBudget(rp.manifest.stats), `restore point ${rp.id.slice(0, 12)}`), wanted());
    result.changes = changes;
    result.counts = countChanges(changes);
    result.warnings = plan.warnings;
    result.undoPaths = whole ? [] : undoPaths(plan.actions, paths);
    options.onRestorePoint?.(rp.id, result.undoPaths);
    if (plan.actions.length === 0) {
      if (whole) setTargetHead(ctx, target, id);
      return { ...result, head: whole };
    }
  }
  const journal: RestoreJournal = {
    v: 1,
    target,
    snapshot: id,
    restorePoint: result.restorePoint,
    staging: newStagingDir(target),
    phase: 'staging',
    setHead: whole,
    paths,
    verify: options.verify ?? false,
    chown,
    ...(options.sparse ? { sparse: true } : {}),
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    actions: plan.actions,
  };
  if (readJournal(ctx.dir, target, `cannot restore into ${target}`)) {
    throw new BusyError(`another restore into ${quoteName(target)} started meanwhile`, { hint: 'wait for it to finish, then run the restore again' });
  }
  try {
    await fsp.mkdir(journal.staging, { mode: 0o700 });
  } catch (err) {
    throw new IoError(`cannot create the staging directory in ${quoteName(target)}: ${describeError(err)}; ${quoteName(target)} was not changed`, {
      cause: err,
      hint: 'cairn stages new content inside the target (same file system); check its permissions and free space',
    });
  }
  try {
    await writeJournal(ctx.dir, ctx.tmpDir, journal);
  } catch (err) {
    await removeTree(journal.staging).catch(() => undefined);
    throw asCairnError(err, 'cannot write the restore journal');
  }
  result.written = await run(ctx, journal, options.onProgress ? { onProgress: options.onProgress } : {});
  result.verified = options.verify ?? false;
  result.head = whole;
  return result;
}

export interface RecoverySummary {
  action: 'rollback' | 'resume';
  target: string;
  snapshot: ObjectId;
  restorePoint: ObjectId | null;
  /** The phase the interrupted restore had reached. */
  phase: RestoreJournal['phase'];
  actions: number;
}

/**
 * The interrupted restores in this repository (journals whose process is gone
 * or still running). A journal that cannot be used throws (exit 4): what it
 * names is unknown, so whatever relies on this list (prune's roots, forget's
 * pins) must stop rather than go on without it. `lead` says what stopped.
 */
export function pendingRestores(ctx: RepoContext, lead?: string): Array<{ target: string; snapshot: ObjectId; restorePoint: ObjectId | null; phase: string; started: string; running: boolean }> {
  const out = [];
  for (const r of listJournals(ctx.dir)) {
    if (r.damage) throw damagedJournalError(r.damage, lead);
    const j = r.journal!;
    out.push({ target: j.target, snapshot: j.snapshot, restorePoint: j.restorePoint, phase: j.phase, started: j.started, running: journalOwnerAlive(j) });
  }
  return out;
}

/** The one journal `recoverRestore` acts on: the one of `target`, or the only one in the repository. */
function journalToRecover(ctx: RepoContext, action: 'rollback' | 'resume', target?: string): RestoreJournal {
  const lead = `cannot ${action === 'rollback' ? 'roll back' : 'resume'} the interrupted restore`;
  if (target === '') throw new UsageError('the target of the interrupted restore is empty', { hint: 'name its directory, or give none when only one restore is pending' });
  if (target !== undefined) {
    const abs = path.resolve(target);
    const real = realpathOr(abs);
    const j = readJournal(ctx.dir, abs, lead) ?? (real !== abs ? readJournal(ctx.dir, real, lead) : null);
    if (!j) throw new NotFoundError(`no interrupted restore into ${quoteName(abs)}`, { hint: 'nothing to recover' });
    return j;
  }
  const all = listJournals(ctx.dir);
  if (all.length === 0) throw new NotFoundError('no interrupted restore in this repository', { hint: 'nothing to recover' });
  if (all.length > 1) {
    const names = all.map((r) => r.journal?.target ?? `${r.damage!.target ?? 'an unknown target'} (its journal ${r.file} is ${r.damage!.kind})`);
    throw new UsageError(`${all.length} interrupted restores are pending: ${names.join(', ')}`, { hint: 'name one with --target DIR' });
  }
  const only = all[0]!;
  if (only.damage) throw damagedJournalError(only.damage, lead);
  return only.journal!;
}

/** Finishes (resume) or undoes (rollback) an interrupted restore; `target` picks one when several are pending. */
export async function recoverRestore(ctx: RepoContext, action: 'rollback' | 'resume', target?: string): Promise<RecoverySummary> {
  const j = journalToRecover(ctx, action, target);
  if (journalOwnerAlive(j)) throw new BusyError(`the restore into ${quoteName(j.target)} is still running (pid ${j.pid} on ${j.host})`, { hint: 'wait for it to finish' });
  const summary: RecoverySummary = { action, target: j.target, snapshot: j.snapshot, restorePoint: j.restorePoint, phase: j.phase, actions: j.actions.length };
  if (action === 'rollback') {
    if ((await rollbackJournal(ctx, j)) === 'completed') throw completedError(j);
    return summary;
  }
  if (j.phase === 'rolled-back') {
    await rollbackJournal(ctx, j); // its cleanup
    throw new NotFoundError(`nothing to resume: the restore of ${j.snapshot.slice(0, 12)} into ${quoteName(j.target)} had been rolled back (it was stopped while cleaning up, which is now done)`, {
      hint: `${quoteName(j.target)} is as it was before that restore; run the restore again to restore ${j.snapshot.slice(0, 12)}`,
      details: { target: j.target, snapshot: j.snapshot },
    });
  }
  if (j.phase === 'applied') {
    await finish(ctx, j);
    return summary;
  }
  if (!(await checkRecoveryPaths(ctx, j))) {
    if (j.phase !== 'staging') await rollbackJournal(ctx, j); // throws: the staging directory is gone
    if (!(await lstatOrNull(j.target))) {
      removeJournal(ctx.dir, j.target);
      throw new NotFoundError(`the restore target ${quoteName(j.target)} is gone; its interrupted restore had changed nothing, and its journal was removed`, {
        hint: 'restore into a new directory with --target DIR',
      });
    }
    await fsp.mkdir(j.staging, { mode: 0o700 });
  }
  j.pid = process.pid;
  j.host = os.hostname();
  await writeJournal(ctx.dir, ctx.tmpDir, j);
  await run(ctx, j, {});
  return summary;
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

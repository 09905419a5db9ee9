/**
 * The restore journal: one JSON file per target in `restores/` of the
 * repository, written (atomically, durably) before the target is touched and
 * again at each phase change. It holds the whole plan, so whatever happens to
 * the process, `cairn restore --rollback` or `--resume` can finish the job:
 * each action's progress is read back from where its entries are (in the
 * staging directory or in the target), never from memory.
 *
 * Phases: staging (new content is being written into the staging directory;
 * the target is untouched) → applying (renames into the target under way) →
 * applied (every action done; left: HEAD, removing the staging directory).
 * A rollback ends in rolled-back (every action undone; left: removing the
 * staging directory), written before anything is deleted, so that a rollback
 * stopped while cleaning up is never run again over the restored target.
 * In phase applied, finish moves staging/old to staging/discard in one rename
 * before it deletes anything: while old/ is there the restore can still be
 * rolled back exactly; once it is gone the restore is complete and kept.
 *
 * A journal is read as untrusted input: the file may be damaged or crafted,
 * and rolling back moves and deletes what it names. It is validated whole
 * before anything acts on it (parseJournal): its target is the one its file
 * name is for, its staging directory is a cairn staging directory directly in
 * that target, every action path is a safe relative path below the target and
 * outside the staging directory. A journal that fails is never acted on: the
 * operation stops with an error naming the file (damagedJournalError).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IntegrityError, IoError, describeError, isErrno, type CairnError } from '../errors.js';
import { isSafeRelativePath, nameFields } from '../model/entryName.js';
import { decodeTree, type EntryType } from '../model/tree.js';
import { isObjectId, type ObjectId } from '../store/objectId.js';
import { writeFileAtomic } from '../util/durableFs.js';
import { sha256Hex } from '../util/hash.js';
import type { EntryState, RestoreAction } from './restorePlan.js';
import { quoteName } from '../util/quoteName.js';

export const RESTORES_DIR = 'restores';

/** The staging directory a restore makes inside its target: this prefix and 8 random hex digits. */
export const STAGING_PREFIX = '.cairn-restore-';
const STAGING_NAME = /^\.cairn-restore-[0-9a-f]{8}$/;

export type RestorePhase = 'staging' | 'applying' | 'applied' | 'rolled-back';

const PHASES: readonly RestorePhase[] = ['staging', 'applying', 'applied', 'rolled-back'];
const ENTRY_TYPES: readonly EntryType[] = ['file', 'dir', 'symlink'];

export interface RestoreJournal {
  v: 1;
  /** Absolute path of the restore target. */
  target: string;
  snapshot: ObjectId;
  restorePoint: ObjectId | null;
  /** The staging directory (inside the target): new/<i> staged entries, old/<i> displaced ones. */
  staging: string;
  phase: RestorePhase;
  /** Set the target's HEAD to `snapshot` when done (a whole-tree restore). */
  setHead: boolean;
  paths: string[];
  verify: boolean;
  chown: boolean;
  /** Large files' zero blocks left as holes (absent in journals of older cairn: written). */
  sparse?: boolean;
  pid: number;
  host: string;
  started: string;
  actions: RestoreAction[];
}

/** An action as stored: the path as text, with its bytes in base64 when they are not UTF-8. */
type StoredAction = Omit<RestoreAction, 'rel'> & { rawPath?: string };

interface StoredJournal extends Omit<RestoreJournal, 'actions'> {
  actions: StoredAction[];
}

export function journalFile(repoDir: string, target: string): string {
  return path.join(repoDir, RESTORES_DIR, `${sha256Hex(target).slice(0, 32)}.json`);
}

/** A new staging directory path for `target` (a direct child, named as parseJournal accepts). */
export function newStagingDir(target: string): string {
  return path.join(target, `${STAGING_PREFIX}${randomBytes(4).toString('hex')}`);
}

function encode(j: RestoreJournal): string {
  const stored: StoredJournal = {
    ...j,
    actions: j.actions.map((a) => {
      const { rel, ...rest } = a;
      const f = nameFields(rel);
      return f.rawName !== undefined ? { ...rest, rawPath: f.rawName } : rest;
    }),
  };
  return JSON.stringify(stored);
}

// ---------------------------------------------------------------- validation

/** Why a journal was refused (a message fragment), thrown by the checks below and caught in parseJournal. */
class Invalid extends Error {}

function invalid(why: string): never {
  throw new Invalid(why);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNs = (v: unknown): v is string => typeof v === 'string' && /^-?\d{1,30}$/.test(v);

/** True when `p` is an absolute, normalized path without NUL or control characters. */
function isCleanAbsolute(p: unknown): p is string {
  return typeof p === 'string' && path.isAbsolute(p) && path.resolve(p) === p && !/[\u0000-\u001f\u007f]/.test(p);
}

function checkState(s: unknown, where: string): EntryState {
  if (!isRecord(s)) invalid(`${where} is not an entry state`);
  if (!ENTRY_TYPES.includes(s.type as EntryType)) invalid(`${where} has an unknown type`);
  if (!isNat(s.mode) || s.mode > 0o7777) invalid(`${where} has a bad mode`);
  if (!isNs(s.mtime)) invalid(`${where} has a bad mtime`);
  if (s.uid !== undefined && !isNat(s.uid)) invalid(`${where} has a bad uid`);
  if (s.gid !== undefined && !isNat(s.gid)) invalid(`${where} has a bad gid`);
  if (s.tree !== undefined && !isObjectId(s.tree)) invalid(`${where} has a bad tree id`);
  return s as unknown as EntryState;
}

function checkEntry(e: unknown, where: string): void {
  if (!isRecord(e)) invalid(`${where} has no entry`);
  // The same rules as an entry of a stored tree (name, type, mode, ids, inline content).
  const inline = e.inline !== undefined || e.rawInline !== undefined;
  try {
    decodeTree(Buffer.from(JSON.stringify({ entries: [e], v: inline ? 2 : 1 })), 'in the journal');
  } catch (err) {
    invalid(`${where} has a bad entry (${describeError(err)})`);
  }
  if (!isNs(e.mtime) || !isNat(e.mode) || e.mode > 0o7777) invalid(`${where} has a bad entry mode or mtime`);
  if ((e.uid !== undefined && !isNat(e.uid)) || (e.gid !== undefined && !isNat(e.gid))) invalid(`${where} has a bad entry owner`);
  if (e.size !== undefined && !isNat(e.size)) invalid(`${where} has a bad entry size`);
}

function checkAction(a: unknown, i: number, stagingName: Buffer): RestoreAction {
  const where = `action ${i}`;
  if (!isRecord(a)) invalid(`${where} is not an object`);
  if (typeof a.path !== 'string') invalid(`${where} has no path`);
  let rel: Buffer;
  if (a.rawPath !== undefined) {
    if (typeof a.rawPath !== 'string') invalid(`${where} has a bad rawPath`);
    rel = Buffer.from(a.rawPath, 'base64');
    if (rel.toString('base64') !== a.rawPath || rel.toString('utf8') !== a.path) invalid(`${where} has a rawPath that does not match its path`);
  } else {
    rel = Buffer.from(a.path, 'utf8');
  }
  if (!isSafeRelativePath(rel)) invalid(`${where} has an unsafe path ${JSON.stringify(a.path)}`);
  const slash = rel.indexOf(0x2f);
  if (rel.subarray(0, slash === -1 ? rel.length : slash).equals(stagingName)) invalid(`${where}: ${JSON.stringify(a.path)} is in the staging directory`);
  const base = { rel, path: a.path };
  switch (a.op) {
    case 'put':
      checkEntry(a.entry, where);
      if (a.shallow !== undefined && (a.shallow !== true || (a.entry as { type?: unknown }).type !== 'dir')) invalid(`${where} has a bad shallow flag`);
      return { ...base, op: 'put', entry: a.entry as never, old: a.old === null ? null : checkState(a.old, `${where} old`), ...(a.shallow ? { shallow: true } : {}) };
    case 'delete':
      return { ...base, op: 'delete', old: checkState(a.old, `${where} old`) };
    case 'meta':
      if (!ENTRY_TYPES.includes(a.type as EntryType)) invalid(`${where} has an unknown type`);
      return { ...base, op: 'meta', type: a.type as EntryType, from: a.from === null ? null : checkState(a.from, `${where} from`), to: checkState(a.to, `${where} to`) };
    default:
      return invalid(`${where} has an unknown op`);
  }
}

/**
 * Parses and validates a journal read from `file` (its name must be the one
 * journalFile gives for its target). Throws Invalid with the reason.
 */
function parseStored(text: string, file: string): RestoreJournal {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (err) {
    invalid(`not valid JSON: ${describeError(err)}`);
  }
  if (!isRecord(s)) invalid('not a JSON object');
  if (s.v !== 1) invalid(`unknown journal version ${(JSON.stringify(s.v) ?? 'none').slice(0, 20)}`);
  if (!isCleanAbsolute(s.target)) invalid('its target is not a clean absolute path');
  if (path.basename(journalFile('', s.target)) !== path.basename(file)) invalid(`it names the target ${s.target}, whose journal has another file name`);
  if (!isObjectId(s.snapshot)) invalid('its snapshot is not an object id');
  if (s.restorePoint !== null && !isObjectId(s.restorePoint)) invalid('its restore point is not an object id');
  if (typeof s.staging !== 'string' || !STAGING_NAME.test(path.basename(s.staging)) || s.staging !== path.join(s.target, path.basename(s.staging))) {
    invalid(`its staging directory is not a ${STAGING_PREFIX}* directory directly in ${s.target}`);
  }
  if (!PHASES.includes(s.phase as RestorePhase)) invalid('unknown phase');
  if (typeof s.setHead !== 'boolean' || typeof s.verify !== 'boolean' || typeof s.chown !== 'boolean' || (s.sparse !== undefined && typeof s.sparse !== 'boolean')) {
    invalid('a flag is not a boolean');
  }
  if (!Array.isArray(s.paths) || !s.paths.every((p) => typeof p === 'string' && (p === '' || isSafeRelativePath(Buffer.from(p, 'utf8'))))) {
    invalid('its paths are not safe relative paths');
  }
  if (!isNat(s.pid) || s.pid === 0) invalid('bad pid');
  if (typeof s.host !== 'string' || typeof s.started !== 'string') invalid('bad host or start time');
  if (!Array.isArray(s.actions)) invalid('no actions');
  const stagingName = Buffer.from(path.basename(s.staging));
  const actions = s.actions.map((a, i) => checkAction(a, i, stagingName));
  return {
    v: 1,
    target: s.target,
    snapshot: s.snapshot,
    restorePoint: s.restorePoint as ObjectId | null,
    staging: s.staging,
    phase: s.phase as RestorePhase,
    setHead: s.setHead,
    paths: s.paths as string[],
    verify: s.verify,
    chown: s.chown,
    ...(s.sparse === true ? { sparse: true } : {}),
    pid: s.pid,
    host: s.host,
    started: s.started,
    actions,
  };
}

/** What is known about a journal that cannot be used: enough to tell the user what to do. */
export interface JournalDamage {
  file: string;
  /** damaged: unparsable or invalid; unreadable: the file could not be read (permissions, I/O). */
  kind: 'damaged' | 'unreadable';
  reason: string;
  /** The target it is for, when known (named by the caller, or a plausible one in the file). */
  target: string | null;
  /** Its restore point, when the file names a plausible one. */
  restorePoint: ObjectId | null;
}

/**
 * Validates journal text read from `file`: returns the journal, or a damage
 * report (never throws for bad content).
 */
export function parseJournal(text: string, file: string, target: string | null = null): { journal: RestoreJournal } | { damage: JournalDamage } {
  try {
    return { journal: parseStored(text, file) };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return { damage: { file, kind: 'damaged', reason: err.message, ...hints(text, file, target) } };
  }
}

/** The target and restore point a damaged journal seems to name (only values that pass their own checks). */
function hints(text: string, file: string, target: string | null): { target: string | null; restorePoint: ObjectId | null } {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch {
    return { target, restorePoint: null };
  }
  if (!isRecord(s)) return { target, restorePoint: null };
  const own = isCleanAbsolute(s.target) && path.basename(journalFile('', s.target)) === path.basename(file) ? s.target : null;
  return { target: target ?? own, restorePoint: isObjectId(s.restorePoint) ? s.restorePoint : null };
}

function readFileOf(file: string, target: string | null): { text: string } | { damage: JournalDamage } | null {
  try {
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    return { damage: { file, kind: 'unreadable', reason: describeError(err), target, restorePoint: null } };
  }
}

/** The error for a journal that cannot be used; `lead` says what stopped ("cannot restore into /srv/app"). */
export function damagedJournalError(d: JournalDamage, lead?: string): CairnError {
  const of = d.target ? ` of ${d.target}` : '';
  const message = `${lead ? `${lead}: ` : ''}the restore journal ${quoteName(d.file)}${of} is ${d.kind} (${d.reason}); cairn will not act on it`;
  const details = { journal: d.file, reason: d.reason, ...(d.target ? { target: d.target } : {}), ...(d.restorePoint ? { restorePoint: d.restorePoint } : {}) };
  if (d.kind === 'unreadable') {
    return new IoError(message, { hint: `make ${quoteName(d.file)} readable (check its permissions and the disk) and run the command again`, details });
  }
  const staging = d.target ? stagingDirsIn(d.target) : null;
  const inspect =
    staging === null
      ? `an interrupted restore may have left its target half restored: inspect the ${STAGING_PREFIX}* directory in ${d.target ?? 'that target'} if there is one (new/: staged entries, old/: the entries it moved aside)`
      : staging.length === 0
        ? `no ${STAGING_PREFIX}* directory is left in ${d.target}: check that ${d.target} is as you want it`
        : `an interrupted restore may have left ${d.target} half restored: inspect ${staging.map((n) => path.join(d.target!, n)).join(', ')} (new/: staged entries, old/: the entries it moved aside)`;
  const rp = d.restorePoint ? `; the restore point ${d.restorePoint.slice(0, 12)} holds the target as it was before the restore` : '';
  return new IntegrityError(message, { hint: `${inspect}${rp}; once ${d.target ?? 'the target'} is known good, delete ${quoteName(d.file)}`, details });
}

/** The staging directories left in `target` (null when it cannot be listed). */
function stagingDirsIn(target: string): string[] | null {
  try {
    return fs
      .readdirSync(target)
      .filter((n) => n.startsWith(STAGING_PREFIX))
      .sort();
  } catch {
    return null;
  }
}

export async function writeJournal(repoDir: string, tmpDir: string, j: RestoreJournal): Promise<void> {
  const file = journalFile(repoDir, j.target);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, encode(j), { tempDir: tmpDir });
}

/**
 * The journal of `target`, null when there is none. A journal that cannot be
 * read or fails validation throws (damagedJournalError, led by `lead`): it is
 * never acted on, and never taken for "no journal".
 */
export function readJournal(repoDir: string, target: string, lead?: string): RestoreJournal | null {
  const file = journalFile(repoDir, target);
  const read = readFileOf(file, target);
  if (read === null) return null;
  if ('damage' in read) throw damagedJournalError(read.damage, lead);
  const r = parseJournal(read.text, file, target);
  if ('damage' in r) throw damagedJournalError(r.damage, lead);
  return r.journal;
}

/** Every journal in the repository: valid ones, and what is known of those that cannot be used. */
export function listJournals(repoDir: string): Array<{ file: string; journal?: RestoreJournal; damage?: JournalDamage }> {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(repoDir, RESTORES_DIR));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw new IoError(`cannot list the restore journals in ${quoteName(path.join(repoDir, RESTORES_DIR))}: ${describeError(err)}`, {
      cause: err,
      hint: 'check the permissions of that directory and run the command again',
    });
  }
  const out: Array<{ file: string; journal?: RestoreJournal; damage?: JournalDamage }> = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const file = path.join(repoDir, RESTORES_DIR, n);
    const read = readFileOf(file, null);
    if (read === null) continue; // removed meanwhile
    if ('damage' in read) {
      out.push({ file, damage: read.damage });
      continue;
    }
    out.push({ file, ...parseJournal(read.text, file) });
  }
  return out;
}

export function removeJournal(repoDir: string, target: string): void {
  fs.rmSync(journalFile(repoDir, target), { force: true });
}

/** True while the process that wrote the journal may still run (another host's process is assumed alive). */
export function journalOwnerAlive(j: RestoreJournal): boolean {
  if (j.host !== os.hostname()) return true;
  if (j.pid === process.pid) return false;
  try {
    process.kill(j.pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

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
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isErrno } from '../errors.js';
import { nameFields } from '../model/entryName.js';
import type { ObjectId } from '../store/objectId.js';
import { writeFileAtomic } from '../util/durableFs.js';
import { sha256Hex } from '../util/hash.js';
import type { RestoreAction } from './restorePlan.js';

export const RESTORES_DIR = 'restores';

export type RestorePhase = 'staging' | 'applying' | 'applied';

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

function decode(text: string): RestoreJournal {
  const s = JSON.parse(text) as StoredJournal;
  if (s.v !== 1 || typeof s.target !== 'string' || typeof s.staging !== 'string' || !Array.isArray(s.actions)) {
    throw new Error('not a restore journal of this version');
  }
  return {
    ...s,
    actions: s.actions.map((a) => {
      const { rawPath, ...rest } = a;
      return { ...rest, rel: rawPath !== undefined ? Buffer.from(rawPath, 'base64') : Buffer.from(a.path, 'utf8') } as RestoreAction;
    }),
  };
}

export async function writeJournal(repoDir: string, tmpDir: string, j: RestoreJournal): Promise<void> {
  const file = journalFile(repoDir, j.target);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, encode(j), { tempDir: tmpDir });
}

export function readJournal(repoDir: string, target: string): RestoreJournal | null {
  let text: string;
  try {
    text = fs.readFileSync(journalFile(repoDir, target), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  return decode(text);
}

/** Every pending journal (unreadable ones are reported as errors by the caller). */
export function listJournals(repoDir: string): Array<{ file: string; journal?: RestoreJournal; error?: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(repoDir, RESTORES_DIR));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => {
      const file = path.join(repoDir, RESTORES_DIR, n);
      try {
        return { file, journal: decode(fs.readFileSync(file, 'utf8')) };
      } catch (err) {
        return { file, error: (err as Error).message };
      }
    });
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


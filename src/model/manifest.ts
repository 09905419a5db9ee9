/**
 * Snapshot manifests glossary
 * - manifest: canonical JSON stored as an object; its id is the snapshot id.
 *   It names the root tree and records where, when, how and why the snapshot
 *   was taken. Every manifest is complete on its own: restoring, diffing or
 *   deleting it never needs another snapshot.
 * - mode: how files were read (full: every file; incremental: against the
 *   source's latest snapshot; differential: against its latest full one).
 * - type: why it was taken (manual, hourly, daily, ...); retention uses it.
 */
import { IntegrityError, UsageError } from '../errors.js';
import { isObjectId, type ObjectId } from '../store/objectId.js';
import { canonicalJson } from '../util/canonicalJson.js';

export const SNAPSHOT_MODES = ['full', 'incremental', 'differential'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];

export const SNAPSHOT_TYPES = ['manual', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'restore-point'] as const;
export type SnapshotType = (typeof SNAPSHOT_TYPES)[number];

/**
 * Refuses a snapshot type that is not one of SNAPSHOT_TYPES, naming the option it came from: a typo in
 * `forget --keep-type daly` would otherwise keep nothing by that rule and forget what it was meant to keep.
 */
export function assertSnapshotType(type: string, option: string): asserts type is SnapshotType {
  if (!(SNAPSHOT_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`unknown snapshot type "${type}" given to ${option}`, { hint: `types are ${SNAPSHOT_TYPES.join(', ')}` });
  }
}

/** What the snapshot holds: a directory tree, a SQLite database copy, or a stream. */
export type SourceKind = 'dir' | 'sqlite' | 'stream';

export interface SnapshotStats {
  files: number;
  dirs: number;
  symlinks: number;
  /** Logical bytes of all files (what a restore writes). */
  bytes: number;
  added: number;
  modified: number;
  deleted: number;
  unchanged: number;
  /** Bytes read from the source. */
  bytesRead: number;
  /** Files whose content was read (the rest reused the base's chunk lists). */
  filesRead: number;
  newObjects: number;
  /** Bytes of new objects as stored (after compression). */
  newBytes: number;
  durationMs: number;
  errors: number;
}

export interface SnapshotProblem {
  path: string;
  message: string;
}

export interface Manifest {
  v: 1;
  kind: SourceKind;
  /** Root tree id. */
  tree: ObjectId;
  /** Absolute path of the source directory (or file, for kind sqlite/stream: its name). */
  source: string;
  host: string;
  user: string;
  /** ISO-8601 time the snapshot records. */
  time: string;
  /** File-system time (ns) at which the scan began: files modified at or after it are never trusted by stat (racy clean). */
  scanStart: string;
  parents: ObjectId[];
  mode: SnapshotMode;
  /** The snapshot the stat comparison used (null for full). */
  base: ObjectId | null;
  type: SnapshotType;
  message: string;
  stats: SnapshotStats;
  /** Files that could not be read (not in the tree). */
  errors: SnapshotProblem[];
  /** Files stored with a caveat (changed while read, ...). */
  warnings: SnapshotProblem[];
  /** Extra fields for special sources (database path, command, ...). */
  extra?: Record<string, unknown>;
}

export function encodeManifest(m: Manifest): Buffer {
  return Buffer.from(canonicalJson(m), 'utf8');
}

export function decodeManifest(bytes: Buffer, id: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch (err) {
    throw new IntegrityError(`snapshot ${id} is not valid JSON`, { cause: err, details: { snapshot: id } });
  }
  const fail = (why: string): never => {
    throw new IntegrityError(`snapshot ${id} is malformed: ${why}`, { details: { snapshot: id } });
  };
  if (typeof m !== 'object' || m === null) fail('not an object');
  if (m.v !== 1) fail(`unsupported manifest version ${String(m.v)}`);
  if (!isObjectId(m.tree)) fail('bad root tree id');
  if (!Array.isArray(m.parents) || !m.parents.every(isObjectId)) fail('bad parents');
  if (typeof m.time !== 'string' || Number.isNaN(Date.parse(m.time))) fail('bad time');
  if (!SNAPSHOT_MODES.includes(m.mode)) fail(`bad mode ${String(m.mode)}`);
  if (typeof m.type !== 'string') fail('bad type');
  if (typeof m.stats !== 'object' || m.stats === null) fail('no stats');
  return m;
}

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
import { describeValue, isCount, isNsTime, isRecord } from './fieldChecks.js';

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

/** Every field of SnapshotStats, each a whole number ≥ 0 (the compile-time check below keeps the list whole). */
const STAT_FIELDS = [
  'files', 'dirs', 'symlinks', 'bytes', 'added', 'modified', 'deleted', 'unchanged',
  'bytesRead', 'filesRead', 'newObjects', 'newBytes', 'durationMs', 'errors',
] as const satisfies readonly (keyof SnapshotStats)[];
const STATS_COMPLETE: Exclude<keyof SnapshotStats, (typeof STAT_FIELDS)[number]> extends never ? true : never = true;
void STATS_COMPLETE;

export const SOURCE_KINDS: readonly SourceKind[] = ['dir', 'sqlite', 'stream'];

function isProblemList(v: unknown): v is SnapshotProblem[] {
  return Array.isArray(v) && v.every((p) => isRecord(p) && typeof p.path === 'string' && typeof p.message === 'string');
}

/** What is wrong with a parsed manifest, or null. Keys a later cairn may add are ignored. */
function manifestProblem(m: Record<string, unknown>): string | null {
  if (m.v !== 1) return `unsupported manifest version ${describeValue(m.v)}`;
  if (!SOURCE_KINDS.includes(m.kind as SourceKind)) return `bad kind ${describeValue(m.kind)}`;
  if (!isObjectId(m.tree)) return `bad root tree id ${describeValue(m.tree)}`;
  const source = m.source;
  if (typeof source !== 'string' || source.includes('\0')) return 'bad source';
  if (m.kind === 'stream' ? !(source.startsWith('stream:') && source.length > 'stream:'.length) : !source.startsWith('/')) {
    return `bad source ${describeValue(source)} (${m.kind === 'stream' ? 'not stream:NAME' : 'not an absolute path'})`;
  }
  if (typeof m.host !== 'string') return 'bad host';
  if (typeof m.user !== 'string') return 'bad user';
  if (typeof m.time !== 'string' || Number.isNaN(Date.parse(m.time))) return 'bad time';
  if (!isNsTime(m.scanStart)) return `bad scanStart ${describeValue(m.scanStart)} (not a decimal ns time)`;
  if (!Array.isArray(m.parents) || !m.parents.every(isObjectId)) return 'bad parents';
  if (!SNAPSHOT_MODES.includes(m.mode as SnapshotMode)) return `bad mode ${describeValue(m.mode)}`;
  if (m.base !== null && !isObjectId(m.base)) return 'bad base';
  if (!SNAPSHOT_TYPES.includes(m.type as SnapshotType)) return `bad type ${describeValue(m.type)}`;
  if (typeof m.message !== 'string') return 'bad message';
  if (!isRecord(m.stats)) return 'no stats';
  for (const k of STAT_FIELDS) if (!isCount(m.stats[k])) return `bad stats.${k} ${describeValue(m.stats[k])} (not a whole number ≥ 0)`;
  if (!isProblemList(m.errors)) return 'bad errors (not a list of {path, message})';
  if (!isProblemList(m.warnings)) return 'bad warnings (not a list of {path, message})';
  if (m.extra !== undefined && !isRecord(m.extra)) return 'bad extra (not an object)';
  return null;
}

/** Parses and validates a manifest: every field's type and range; anything wrong is an IntegrityError naming the snapshot. */
export function decodeManifest(bytes: Buffer, id: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new IntegrityError(`snapshot ${id} is not valid JSON`, { cause: err, details: { snapshot: id } });
  }
  const problem = isRecord(m) ? manifestProblem(m) : 'not an object';
  if (problem !== null) {
    throw new IntegrityError(`snapshot ${id} is malformed: ${problem}`, {
      details: { snapshot: id },
      hint: 'its manifest was damaged or crafted; `cairn verify` reports it and `cairn forget <id>` removes it',
    });
  }
  return m as unknown as Manifest;
}

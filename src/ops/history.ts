/**
 * The history of one path (`cairn log -- PATH`): the snapshots in which the
 * content at that path changed compared with the snapshot's first parent,
 * newest first. The index's file_versions table (written with each snapshot,
 * and recomputed by rebuild-index) holds every changed path per snapshot, so
 * this never walks snapshots that did not touch the path.
 */
import { UsageError } from '../errors.js';
import { fileContentId, targetBytes, type EntryType, type TreeEntry } from '../model/tree.js';
import type { ChangeStatus } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';
import { normalizeDiffPaths } from './diff.js';

export interface HistoryOptions {
  /** Only snapshots of this source directory (absolute path). */
  source?: string;
  /** At most this many versions. */
  limit?: number;
}

export interface PathVersion {
  snapshot: ObjectId;
  time: string;
  source: string;
  message: string;
  tags: string[];
  /** The path, relative to the source root. */
  path: string;
  /** A: appeared, D: gone, M: content changed, T: type changed (e.g. file → folder). */
  status: ChangeStatus;
  /** What is at the path in this snapshot (null once deleted). */
  type: EntryType | null;
  /** File size in bytes, symlink target length; null for a folder or a deleted path. */
  size: number | null;
  /** File content id, folder tree id, or symlink target; null when deleted. */
  id: string | null;
  /** The changed paths at or under the path in this snapshot. */
  changes: Array<{ path: string; status: string }>;
}

function entryId(e: TreeEntry): string {
  if (e.type === 'file') return fileContentId(e.chunks ?? [], sha256Hex);
  if (e.type === 'dir') return e.tree!;
  return targetBytes(e).toString('utf8');
}

/** Versions of `relPath` (a file or a folder), newest first. */
export async function pathHistory(ctx: RepoContext, relPath: string, options: HistoryOptions = {}): Promise<PathVersion[]> {
  const p = normalizeDiffPaths([relPath])![0]!;
  if (p === '') throw new UsageError('log -- PATH needs a path inside the source', { hint: 'e.g. cairn log -- src/app.ts' });
  const bySnapshot = new Map<ObjectId, Array<{ path: string; status: string }>>();
  for (const row of ctx.index.fileVersions(p)) {
    let list = bySnapshot.get(row.snapshot);
    if (!list) bySnapshot.set(row.snapshot, (list = []));
    list.push({ path: row.path, status: row.status });
  }
  const out: PathVersion[] = [];
  for (const [snapshot, changes] of bySnapshot) {
    if (options.limit !== undefined && out.length >= options.limit) break;
    const row = ctx.index.get(snapshot);
    if (!row || (options.source !== undefined && row.source !== options.source)) continue;
    const now = await ctx.entryAt(row.tree, p);
    const parentRow = row.parents[0] ? ctx.index.get(row.parents[0]) : undefined;
    const before = parentRow ? await ctx.entryAt(parentRow.tree, p) : null;
    const status: ChangeStatus = !now ? 'D' : !before ? 'A' : before.type !== now.type ? 'T' : 'M';
    out.push({
      snapshot,
      time: row.time,
      source: row.source,
      message: row.message,
      tags: row.tags,
      path: p,
      status,
      type: now?.type ?? null,
      size: now && now.type !== 'dir' ? (now.size ?? 0) : null,
      id: now ? entryId(now) : null,
      changes,
    });
  }
  return out;
}

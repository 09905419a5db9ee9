/**
 * Rebuilds index.db from the object store (the source of truth): every
 * snapshot marker's manifest, the HEAD and tag refs, and per-path versions
 * recomputed by diffing each snapshot with its first parent. The new index is
 * built beside the old one and renamed over it, so a crash keeps one whole.
 */
import * as fs from 'node:fs';
import { VersionIndex } from '../index/versionIndex.js';
import { diffTrees } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import { listSnapshotMarkers, readHeads, readTags } from '../refs.js';
import type { ObjectId } from '../store/objectId.js';
import { tempName } from '../util/durableFs.js';
import { sha256Hex } from '../util/hash.js';
import { versionRows } from '../snapshot/snapshotter.js';
import type { Manifest } from '../model/manifest.js';

export interface RebuildSummary {
  snapshots: number;
  tags: number;
  heads: number;
  /** Snapshots whose manifest could not be read. */
  damaged: Array<{ id: ObjectId; message: string }>;
}

export async function rebuildIndex(ctx: RepoContext): Promise<RebuildSummary> {
  ctx.closeIndex();
  const tmp = tempName(ctx.tmpDir, 'index');
  const fresh = VersionIndex.open(tmp);
  const damaged: RebuildSummary['damaged'] = [];
  const manifests = new Map<ObjectId, Manifest>();
  try {
    for (const id of listSnapshotMarkers(ctx.dir)) {
      try {
        manifests.set(id, await ctx.readManifest(id));
      } catch (err) {
        damaged.push({ id, message: (err as Error).message });
      }
    }
    const load = (id: ObjectId) => ctx.loadTree(id);
    for (const [id, m] of manifests) {
      const parent = m.parents[0] ? manifests.get(m.parents[0]) : undefined;
      let rows: ReturnType<typeof versionRows> = [];
      try {
        rows = versionRows(await diffTrees(parent?.tree ?? null, m.tree, load, sha256Hex));
      } catch (err) {
        damaged.push({ id, message: `history not rebuilt: ${(err as Error).message}` });
      }
      fresh.addSnapshot(id, m, rows);
    }
    let heads = 0;
    for (const h of readHeads(ctx.dir)) {
      if (!manifests.has(h.snapshot)) continue;
      fresh.setHead(h.source, h.snapshot);
      heads++;
    }
    let tags = 0;
    for (const t of readTags(ctx.dir)) {
      if (!manifests.has(t.snapshot)) continue;
      fresh.setTag(t);
      tags++;
    }
    fresh.db.pragma('wal_checkpoint(TRUNCATE)');
    fresh.close();
    for (const suffix of ['-wal', '-shm']) fs.rmSync(ctx.indexFile + suffix, { force: true });
    fs.renameSync(tmp, ctx.indexFile);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(tmp + suffix, { force: true });
    return { snapshots: manifests.size, tags, heads, damaged };
  } catch (err) {
    try {
      fresh.close();
    } catch {
      /* already closed */
    }
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(tmp + suffix, { force: true });
    throw err;
  }
}

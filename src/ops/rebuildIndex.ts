/**
 * Rebuilds index.db from the object store (the source of truth): every
 * snapshot marker's manifest, the HEAD and tag refs, and per-path versions
 * recomputed by diffing each snapshot with its first parent. The new index is
 * built beside the old one and renamed over it, so a crash keeps one whole.
 */
import * as fs from 'node:fs';
import { IntegrityError } from '../errors.js';
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

/**
 * Brings the index in line with the store after a crash between the steps of
 * a write: snapshots whose marker exists but which the index lacks are added,
 * and index rows whose marker is gone are dropped. A marker whose manifest
 * cannot be read or is invalid is skipped with one warning. Cheap when nothing differs
 * (one directory listing and one query).
 */
export async function reconcileIndex(ctx: RepoContext): Promise<{ added: number; dropped: number }> {
  const markers = new Set(listSnapshotMarkers(ctx.dir));
  const indexed = new Set(ctx.index.allIds());
  let added = 0;
  let dropped = 0;
  for (const id of indexed) {
    if (!markers.has(id)) {
      ctx.index.removeSnapshot(id);
      dropped++;
    }
  }
  const load = (id: ObjectId) => ctx.loadTree(id);
  for (const id of markers) {
    if (indexed.has(id)) continue;
    let m: Manifest;
    try {
      m = await ctx.readManifest(id);
    } catch (err) {
      // Left out, so that one damaged or crafted manifest does not stop every command (verify and forget
      // included): resolveRef reports it as damage when named, verify lists it, `forget <id>` removes its marker.
      const message = (err as Error).message;
      ctx.warn(
        err instanceof IntegrityError
          ? `${message}; it is left out of the index (\`cairn verify\` reports it, \`cairn forget ${id.slice(0, 12)}\` removes it)`
          : `snapshot ${id.slice(0, 12)} is left out of the index: ${message} (run \`cairn verify\`)`,
      );
      continue;
    }
    const parent = m.parents[0] && markers.has(m.parents[0]) ? await ctx.readManifest(m.parents[0]).catch(() => undefined) : undefined;
    const rows = await diffTrees(parent?.tree ?? null, m.tree, load, sha256Hex).then(versionRows, () => []);
    ctx.index.addSnapshot(id, m, rows);
    added++;
  }
  if (added || dropped) ctx.warn(`the index was behind the object store (an interrupted command): ${added} snapshots added, ${dropped} removed`);
  return { added, dropped };
}

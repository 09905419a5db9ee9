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
import { entryBudget, historyLoader } from '../model/treeBudget.js';
import type { RepoContext } from '../repoContext.js';
import { headFileName, listSnapshotMarkers, scanRefs, tagFileName } from '../refs.js';
import type { ObjectId } from '../store/objectId.js';
import { tempName } from '../util/durableFs.js';
import { processAlive } from '../util/processAlive.js';
import { acquireRebuildLock } from '../repositoryLock.js';
import { faultPoint } from '../util/faults.js';
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

let rebuildLocks = 0;

/**
 * Runs `fn` (a rebuild of index.db) holding the index-rebuild lock (repositoryLock.ts), so two processes never
 * build and rename over each other: one that finds the lock held waits (one warning line naming the holder), and
 * `fn` then re-checks what it found (an open that found the index lost uses the index the other one built).
 * Fault point `index-rebuild` (util/faults.ts): reached with the lock held, before `fn`.
 */
export async function withRebuildLock<T>(ctx: RepoContext, fn: () => Promise<T>): Promise<T> {
  const release = await acquireRebuildLock(ctx.dir, (holder) =>
    ctx.warn(`waiting for the index to be rebuilt by another cairn (pid ${holder.pid} on ${holder.host}, since ${holder.time})`),
  );
  try {
    await faultPoint('index-rebuild', ++rebuildLocks);
    return await fn();
  } finally {
    release();
  }
}

/** Rebuilds index.db; the caller holds the index-rebuild lock (withRebuildLock). */
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
        const bounded = historyLoader(load, entryBudget(parent?.stats, m.stats), `snapshot ${id.slice(0, 12)}`);
        rows = versionRows(await diffTrees(parent?.tree ?? null, m.tree, bounded, sha256Hex));
      } catch (err) {
        damaged.push({ id, message: `history not rebuilt: ${(err as Error).message}` });
      }
      fresh.addSnapshot(id, m, rows);
    }
    // The same refs reconcileIndex brings a live index in line with: valid ones naming a snapshot that is there.
    const refs = scanRefs(ctx.dir);
    let heads = 0;
    for (const h of refs.heads.values()) {
      if (!manifests.has(h.snapshot)) continue;
      fresh.setHead(h.source, h.snapshot);
      heads++;
    }
    let tags = 0;
    for (const t of refs.tags.values()) {
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

export interface ReconcileSummary {
  /** Snapshot rows added (a marker the index lacked) and dropped (a row whose marker is gone). */
  added: number;
  dropped: number;
  /** Tag rows and HEADs set or removed to match refs/. */
  tags: number;
  heads: number;
}

/**
 * Brings the index in line with the store after a crash between the steps of
 * a write: snapshots whose marker exists but which the index lacks are added,
 * and index rows whose marker is gone are dropped. A marker whose manifest
 * cannot be read or is invalid is skipped with one warning. Then the tags and
 * HEADs are brought in line with refs/ (reconcileRefs). Cheap when nothing
 * differs: a listing of snapshots/ and refs/, one small read per ref, three queries.
 */
export async function reconcileIndex(ctx: RepoContext): Promise<ReconcileSummary> {
  const markers = new Set(listSnapshotMarkers(ctx.dir));
  const indexed = new Set(ctx.index.allIds());
  let added = 0;
  let dropped = 0;
  for (const id of [...indexed]) {
    if (!markers.has(id)) {
      ctx.index.removeSnapshot(id);
      indexed.delete(id);
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
    // Bounded by the manifests' counts, so a crafted tree naming one subtree over and over cannot hang every command here.
    const bounded = historyLoader(load, entryBudget(parent?.stats, m.stats), `snapshot ${id.slice(0, 12)}`);
    const rows = await diffTrees(parent?.tree ?? null, m.tree, bounded, sha256Hex).then(versionRows, (err: unknown) => {
      ctx.warn(`snapshot ${id.slice(0, 12)} is indexed without its per-file history: ${(err as Error).message}`);
      return [];
    });
    ctx.index.addSnapshot(id, m, rows);
    indexed.add(id);
    added++;
  }
  if (added || dropped) ctx.warn(`the index was behind the object store (an interrupted command or a power loss): ${count(added, 'snapshot')} added, ${dropped} removed`);
  const refs = reconcileRefs(ctx, (id) => indexed.has(id) || ctx.index.get(id) !== undefined);
  if (refs.tags || refs.heads) {
    ctx.warn(`the index was behind refs/ (an interrupted command): ${count(refs.tags, 'tag')} and ${count(refs.heads, 'HEAD')} brought in line`);
  }
  return { added, dropped, ...refs };
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/**
 * Makes the index's tags and HEADs say what refs/ says, refs/ being the truth: a tag or HEAD whose ref names a
 * snapshot the index has is set (created, or moved: snapshot, time and message), one whose ref is gone is
 * removed, and one whose ref names a snapshot that is not there (dangling: `cairn verify` reports it) is
 * removed, as rebuild-index leaves it out. A name whose ref file is damaged keeps its index row (the last known
 * target, which `cairn verify` and `cairn tag --force/-d` work with). So after a crash between a ref change and
 * the index update (tag, tag --force, tag -d, snapshot, forget, restore), in either order, the next open
 * converges. Also removes temp files left in refs/ by a ref write that was killed.
 *
 * The index is read before the files: every writer changes the file first, so a row read here was already
 * backed by the file read after it, and a live writer's fresh row is never undone.
 */
export function reconcileRefs(ctx: RepoContext, indexed: (id: ObjectId) => boolean): { tags: number; heads: number } {
  const indexTags = new Map(ctx.index.tags().map((t) => [t.name, t]));
  const indexHeads = new Map(ctx.index.heads().map((h) => [h.source, h.head]));
  const scan = scanRefs(ctx.dir);
  const damaged = new Set(scan.damaged.map((d) => `${d.kind}/${d.name}`));
  let tags = 0;
  for (const [name, ref] of scan.tags) {
    const row = indexTags.get(name);
    indexTags.delete(name);
    if (!indexed(ref.snapshot)) {
      if (row) {
        ctx.index.deleteTag(name);
        tags++;
      }
    } else if (!row || row.snapshot !== ref.snapshot || row.time !== ref.time || row.message !== ref.message) {
      ctx.index.setTag({ name, snapshot: ref.snapshot, time: ref.time, message: ref.message });
      tags++;
    }
  }
  for (const name of indexTags.keys()) {
    if (damaged.has(`tags/${tagFileName(name)}`)) continue;
    ctx.index.deleteTag(name);
    tags++;
  }
  let heads = 0;
  for (const [source, ref] of scan.heads) {
    const head = indexHeads.get(source);
    indexHeads.delete(source);
    const want = indexed(ref.snapshot) ? ref.snapshot : undefined;
    if (head !== want) {
      ctx.index.setHead(source, want ?? null);
      heads++;
    }
  }
  for (const source of indexHeads.keys()) {
    if (damaged.has(`heads/${headFileName(source)}`)) continue;
    ctx.index.setHead(source, null);
    heads++;
  }
  for (const { file, pid } of scan.leftovers) {
    if (pid !== process.pid && !processAlive(pid)) fs.rmSync(file, { force: true });
  }
  return { tags, heads };
}

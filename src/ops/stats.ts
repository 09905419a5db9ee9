/**
 * `cairn stats`: what the repository holds and what it costs.
 *
 * - logical size: the bytes restoring every snapshot would write (the sum of
 *   their file sizes);
 * - unique size: the bytes of distinct chunks those snapshots use (each
 *   counted once): what is left after deduplication;
 * - stored size: the bytes of the object files on disk (after compression);
 * - dedup ratio = logical / unique; compression ratio = unique / stored size
 *   of those chunks.
 *
 * A chunk's length is known without reading it when it is a whole file (or
 * all of a file's chunks are new and distinct: they sum to the file's size);
 * otherwise the chunk is read once. Seen chunks and trees are kept in
 * ObjectSets (scratch SQLite), so memory stays bounded.
 */
import * as fs from 'node:fs';
import { ObjectSet } from '../index/objectSet.js';
import { diffTrees } from '../model/treeDiff.js';
import { budgetedLoader, entryBudget } from '../model/treeBudget.js';
import { isInline, type TreeEntry } from '../model/tree.js';
import { readTreeUncached } from './prune.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';

export interface SourceStats {
  source: string;
  snapshots: number;
  byType: Record<string, number>;
  oldest: string;
  newest: string;
  head: ObjectId | null;
  logicalBytes: number;
}

export interface RepositoryStats {
  snapshots: number;
  byType: Record<string, number>;
  oldest: string | null;
  newest: string | null;
  sources: SourceStats[];
  /** What restoring every snapshot would write. */
  logicalBytes: number;
  /** Distinct content bytes (each chunk once). */
  uniqueBytes: number;
  /** Stored bytes of those chunks (those held inline in trees are counted with the trees). */
  uniqueStoredBytes: number;
  /** Of uniqueBytes, the content of small files held inline in their trees (docs/format.md). */
  inlineBytes: number;
  /** Stored bytes of trees and manifests the snapshots use. */
  metadataStoredBytes: number;
  /** Every object file in the store. */
  objects: number;
  storedBytes: number;
  /** Objects no snapshot uses (prune deletes them). */
  unreferencedObjects: number;
  unreferencedBytes: number;
  /** logicalBytes / uniqueBytes (1 when empty). */
  dedupRatio: number;
  /** (uniqueBytes - inlineBytes) / uniqueStoredBytes (1 when empty). */
  compressionRatio: number;
  /** Size of index.db (and its WAL). */
  indexBytes: number;
}

export interface BreakdownRow {
  /** A top-level folder ("journal_entries/"), "." for files at the top, or an extension (".json", "(none)"). */
  name: string;
  files: number;
  bytes: number;
}

export interface SnapshotStatsReport {
  id: ObjectId;
  source: string;
  time: string;
  type: string;
  message: string;
  totals: { files: number; dirs: number; symlinks: number; bytes: number };
  /** Changes against the first parent; null when the snapshot has none (or it was forgotten). */
  overParent: {
    parent: ObjectId;
    added: number;
    modified: number;
    deleted: number;
    /** Size of the added and modified files. */
    changedBytes: number;
    /** Size of the deleted files. */
    deletedBytes: number;
    /** Chunks this snapshot has that its parent has not, and their content bytes. */
    newChunks: number;
    newBytes: number;
  } | null;
  /** What taking it wrote to the repository (from its manifest). */
  whenTaken: { newObjects: number; newBytes: number };
  folders: BreakdownRow[];
  extensions: BreakdownRow[];
}

const ratio = (a: number, b: number) => (b === 0 ? 1 : Math.round((a / b) * 1000) / 1000);

/** Counts distinct chunk bytes; `seen` holds chunks already counted. */
class ChunkTally {
  chunks = 0;
  bytes = 0;
  storedBytes = 0;
  /** Of bytes, what inline files hold (stored in their trees, not as objects). */
  inlineBytes = 0;

  constructor(
    private readonly ctx: RepoContext,
    readonly seen: ObjectSet,
    private readonly stored: boolean,
  ) {}

  async addFile(e: TreeEntry): Promise<void> {
    const chunks = e.chunks ?? [];
    if (chunks.length === 0) return;
    const fresh: ObjectId[] = [];
    const inFile = new Set<string>();
    let allDistinct = true;
    for (const c of chunks) {
      if (inFile.has(c)) allDistinct = false;
      inFile.add(c);
    }
    for (const c of inFile) if (this.seen.add(c)) fresh.push(c as ObjectId);
    if (fresh.length === 0) return;
    this.chunks += fresh.length;
    if (isInline(e)) {
      this.bytes += e.size ?? 0;
      this.inlineBytes += e.size ?? 0;
      return;
    }
    if (allDistinct && fresh.length === chunks.length && e.size !== undefined) this.bytes += e.size;
    else for (const c of fresh) this.bytes += (await this.ctx.store.get(c)).length;
    if (this.stored) for (const c of fresh) this.storedBytes += (await this.ctx.store.storedSize(c)) ?? 0;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

export async function repositoryStats(ctx: RepoContext): Promise<RepositoryStats> {
  const rows = ctx.index.list();
  const heads = new Map(ctx.index.heads().map((h) => [h.source, h.head]));
  const byType: Record<string, number> = {};
  const sources = new Map<string, SourceStats>();
  let logicalBytes = 0;
  for (const r of rows) {
    byType[r.type] = (byType[r.type] ?? 0) + 1;
    logicalBytes += r.bytes;
    let s = sources.get(r.source);
    if (!s) {
      s = { source: r.source, snapshots: 0, byType: {}, oldest: r.time, newest: r.time, head: heads.get(r.source) ?? null, logicalBytes: 0 };
      sources.set(r.source, s);
    }
    s.snapshots++;
    s.byType[r.type] = (s.byType[r.type] ?? 0) + 1;
    s.logicalBytes += r.bytes;
    if (Date.parse(r.time) < Date.parse(s.oldest)) s.oldest = r.time;
    if (Date.parse(r.time) > Date.parse(s.newest)) s.newest = r.time;
  }

  const seenChunks = ObjectSet.create(ctx.tmpDir, 'stats.chunks');
  const seenMeta = ObjectSet.create(ctx.tmpDir, 'stats.meta');
  try {
    const tally = new ChunkTally(ctx, seenChunks, true);
    let metadataStoredBytes = 0;
    const walk = async (tree: ObjectId): Promise<void> => {
      if (!seenMeta.add(tree)) return;
      metadataStoredBytes += (await ctx.store.storedSize(tree)) ?? 0;
      for (const e of await readTreeUncached(ctx, tree)) {
        if (e.type === 'file') await tally.addFile(e);
        else if (e.type === 'dir') await walk(e.tree!);
      }
    };
    for (const r of rows) {
      if (seenMeta.add(r.id)) metadataStoredBytes += (await ctx.store.storedSize(r.id)) ?? 0;
      await walk(r.tree);
    }
    let objects = 0;
    let storedBytes = 0;
    let unreferencedObjects = 0;
    let unreferencedBytes = 0;
    for await (const id of ctx.store.list()) {
      const size = (await ctx.store.storedSize(id)) ?? 0;
      objects++;
      storedBytes += size;
      if (!seenChunks.has(id) && !seenMeta.has(id)) {
        unreferencedObjects++;
        unreferencedBytes += size;
      }
    }
    const times = rows.map((r) => r.time).sort((a, b) => Date.parse(a) - Date.parse(b));
    return {
      snapshots: rows.length,
      byType,
      oldest: times[0] ?? null,
      newest: times[times.length - 1] ?? null,
      sources: [...sources.values()].sort((a, b) => (a.source < b.source ? -1 : 1)),
      logicalBytes,
      uniqueBytes: tally.bytes,
      uniqueStoredBytes: tally.storedBytes,
      inlineBytes: tally.inlineBytes,
      metadataStoredBytes,
      objects,
      storedBytes,
      unreferencedObjects,
      unreferencedBytes,
      dedupRatio: ratio(logicalBytes, tally.bytes),
      compressionRatio: ratio(tally.bytes - tally.inlineBytes, tally.storedBytes),
      indexBytes: fileSize(ctx.indexFile) + fileSize(`${ctx.indexFile}-wal`),
    };
  } finally {
    seenChunks.dispose();
    seenMeta.dispose();
  }
}

function extensionOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i <= 0 || i === name.length - 1 ? '(none)' : name.slice(i).toLowerCase();
}

function sortRows(m: Map<string, BreakdownRow>): BreakdownRow[] {
  return [...m.values()].sort((a, b) => b.bytes - a.bytes || b.files - a.files || (a.name < b.name ? -1 : 1));
}

export async function snapshotStats(ctx: RepoContext, ref: string): Promise<SnapshotStatsReport> {
  const id = await ctx.resolveRef(ref);
  const m = await ctx.readManifest(id);
  const totals = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  const folders = new Map<string, BreakdownRow>();
  const exts = new Map<string, BreakdownRow>();
  const bump = (map: Map<string, BreakdownRow>, name: string, bytes: number) => {
    const row = map.get(name) ?? { name, files: 0, bytes: 0 };
    row.files++;
    row.bytes += bytes;
    map.set(name, row);
  };
  const bounded = budgetedLoader((t) => ctx.loadTree(t), entryBudget(m.stats), `snapshot ${id.slice(0, 12)}`);
  const walk = async (tree: ObjectId, top: string | null): Promise<void> => {
    for (const e of await bounded(tree)) {
      if (e.type === 'dir') {
        totals.dirs++;
        const folder = top ?? `${e.name}/`;
        if (!folders.has(folder)) folders.set(folder, { name: folder, files: 0, bytes: 0 });
        await walk(e.tree!, folder);
      } else if (e.type === 'symlink') {
        totals.symlinks++;
      } else {
        const size = e.size ?? 0;
        totals.files++;
        totals.bytes += size;
        bump(folders, top ?? '.', size);
        bump(exts, extensionOf(e.name), size);
      }
    }
  };
  await walk(m.tree, null);

  let overParent: SnapshotStatsReport['overParent'] = null;
  const parentId = m.parents[0];
  if (parentId && (await ctx.store.has(parentId))) {
    const parent = await ctx.readManifest(parentId);
    const load = budgetedLoader((t) => ctx.loadTree(t), entryBudget(parent.stats, m.stats), `snapshot ${id.slice(0, 12)}`);
    const changes = await diffTrees(parent.tree, m.tree, load, sha256Hex);
    let added = 0;
    let modified = 0;
    let deleted = 0;
    let changedBytes = 0;
    let deletedBytes = 0;
    for (const c of changes) {
      if (c.new?.type === 'file') changedBytes += c.new.size;
      if (c.status === 'D' && c.old?.type === 'file') deletedBytes += c.old.size;
      if (c.old?.type !== 'file' && c.new?.type !== 'file') continue;
      if (c.status === 'A') added++;
      else if (c.status === 'D') deleted++;
      else modified++;
    }
    const seen = ObjectSet.create(ctx.tmpDir, 'stats.parent');
    try {
      const markAll = async (tree: ObjectId): Promise<void> => {
        if (!seen.add(tree)) return;
        for (const e of await ctx.loadTree(tree)) {
          if (e.type === 'file') for (const c of e.chunks ?? []) seen.add(c);
          else if (e.type === 'dir') await markAll(e.tree!);
        }
      };
      await markAll(parent.tree);
      const tally = new ChunkTally(ctx, seen, false);
      for (const c of changes) if (c.new?.type === 'file') await tally.addFile(c.new.entry);
      overParent = { parent: parentId, added, modified, deleted, changedBytes, deletedBytes, newChunks: tally.chunks, newBytes: tally.bytes };
    } finally {
      seen.dispose();
    }
  }
  return {
    id,
    source: m.source,
    time: m.time,
    type: m.type,
    message: m.message,
    totals,
    overParent,
    whenTaken: { newObjects: m.stats.newObjects, newBytes: m.stats.newBytes },
    folders: sortRows(folders),
    extensions: sortRows(exts),
  };
}

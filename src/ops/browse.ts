/** Read-only views of snapshots: ls, cat, show, log. */
import { NotFoundError, UsageError } from '../errors.js';
import type { SnapshotRow, LogQuery } from '../index/versionIndex.js';
import { assertSnapshotType, type Manifest } from '../model/manifest.js';
import { fileContentId, targetBytes, type EntryType, type TreeEntry } from '../model/tree.js';
import { fileChunk } from '../model/fileContent.js';
import { budgetedLoader, entryBudget } from '../model/treeBudget.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';
import { quoteName, shellWord } from '../util/quoteName.js';

export interface LsEntry {
  path: string;
  type: EntryType;
  mode: number;
  size: number;
  mtime: string;
  /** File content id, subtree id, or symlink target. */
  id: string;
  target?: string;
}

function lsEntry(path: string, e: TreeEntry): LsEntry {
  const out: LsEntry = {
    path,
    type: e.type,
    mode: e.mode,
    size: e.size ?? 0,
    mtime: new Date(Number(BigInt(e.mtime) / 1_000_000n)).toISOString(),
    id: e.type === 'file' ? fileContentId(e.chunks ?? [], sha256Hex) : e.type === 'dir' ? e.tree! : targetBytes(e).toString('utf8'),
  };
  if (e.type === 'symlink') out.target = targetBytes(e).toString('utf8');
  return out;
}

/**
 * A snapshot's entries at a path, produced as its trees are read: memory holds the trees on the path being
 * walked, not the listing (a recursive listing of millions of entries starts at once, in bounded memory).
 */
export interface Listing {
  snapshot: ObjectId;
  /** In tree order, each directory's entries followed (when recursive) by its subdirectories' at the point they appear. */
  entries: AsyncIterable<LsEntry>;
}

export async function openListing(ctx: RepoContext, ref: string, relPath = '', recursive = false): Promise<Listing> {
  const id = await ctx.resolveRef(ref);
  const m = await ctx.readManifest(id);
  const clean = relPath.replace(/^\/+|\/+$/g, '');
  const start = await ctx.requireEntry(id, m.tree, clean);
  if (start.type !== 'dir') {
    const one = lsEntry(clean, start);
    return { snapshot: id, entries: (async function* () { yield one; })() };
  }
  const load = budgetedLoader((t) => ctx.loadTree(t), entryBudget(m.stats), `snapshot ${id.slice(0, 12)}`);
  async function* walk(): AsyncGenerator<LsEntry> {
    // Depth first, one frame per directory on the path: its entries and the next one to list.
    const stack: Array<{ entries: readonly TreeEntry[]; next: number; prefix: string }> = [{ entries: await load(start.tree!), next: 0, prefix: clean }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next === top.entries.length) {
        stack.pop();
        continue;
      }
      const e = top.entries[top.next++]!;
      const p = top.prefix === '' ? e.name : `${top.prefix}/${e.name}`;
      yield lsEntry(p, e);
      if (recursive && e.type === 'dir') stack.push({ entries: await load(e.tree!), next: 0, prefix: p });
    }
  }
  return { snapshot: id, entries: walk() };
}

/** openListing, gathered into one array. */
export async function listSnapshot(ctx: RepoContext, ref: string, relPath = '', recursive = false): Promise<{ snapshot: ObjectId; entries: LsEntry[] }> {
  const { snapshot, entries } = await openListing(ctx, ref, relPath, recursive);
  const out: LsEntry[] = [];
  for await (const e of entries) out.push(e);
  return { snapshot, entries: out };
}

/** Splits `ref:path` (the first ':' separates). */
export function splitRefPath(spec: string): { ref: string; path: string } {
  const i = spec.indexOf(':');
  if (i <= 0) throw new UsageError(`"${spec}" is not REF:PATH`, { hint: 'e.g. cairn cat latest:src/app.ts' });
  return { ref: spec.slice(0, i), path: spec.slice(i + 1) };
}

/** Streams one file's bytes, chunk by chunk, each verified. */
export async function* catFile(ctx: RepoContext, ref: string, relPath: string): AsyncGenerator<Buffer> {
  const id = await ctx.resolveRef(ref);
  const m = await ctx.readManifest(id);
  const e = await ctx.requireEntry(id, m.tree, relPath);
  if (e.type === 'dir') throw new UsageError(`${quoteName(relPath)} is a directory in snapshot ${id.slice(0, 8)}`, { hint: `use \`cairn ls ${shellWord(ref)} ${shellWord(relPath)}\`` });
  if (e.type === 'symlink') {
    yield targetBytes(e);
    return;
  }
  for (const chunk of e.chunks ?? []) yield await fileChunk(ctx.store, e, chunk);
}

export interface ShowResult {
  id: ObjectId;
  manifest: Manifest;
  tags: string[];
  children: ObjectId[];
}

export async function showSnapshot(ctx: RepoContext, ref: string): Promise<ShowResult> {
  const id = await ctx.resolveRef(ref);
  const manifest = await ctx.readManifest(id);
  const row = ctx.index.get(id);
  return { id, manifest, tags: row?.tags ?? [], children: ctx.index.children(id) };
}

export function logSnapshots(ctx: RepoContext, q: LogQuery): SnapshotRow[] {
  if (q.type !== undefined) assertSnapshotType(q.type, '--type');
  return ctx.index.list(q);
}

export function requireSnapshots(rows: SnapshotRow[]): SnapshotRow[] {
  if (rows.length === 0) throw new NotFoundError('no snapshots match');
  return rows;
}

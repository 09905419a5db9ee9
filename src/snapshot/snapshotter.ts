/**
 * The snapshot engine: picks the mode and base, walks the source, writes the
 * manifest and records it. Write order (each durable before the next):
 * objects → manifest object → snapshots/<id> marker → index rows → HEAD ref.
 * A crash leaves at most unreferenced objects, which prune removes.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { IoError, SourceError, UsageError, describeError, explainError, isErrno } from '../errors.js';
import type { FileVersionRow, VersionIndex } from '../index/versionIndex.js';
import { assertSnapshotType, encodeManifest, SNAPSHOT_MODES, type Manifest, type SnapshotMode, type SnapshotProblem, type SnapshotStats, type SnapshotType, type SourceKind } from '../model/manifest.js';
import type { TreeEntry } from '../model/tree.js';
import { addedChange, deletedChange, diffTrees, entryChange, type TreeChange } from '../model/treeDiff.js';
import { RepoContext } from '../repoContext.js';
import { writeHead, writeSnapshotMarker } from '../refs.js';
import { changeCompressionOf } from '../repositoryConfig.js';
import type { ObjectId } from '../store/objectId.js';
import { tempName } from '../util/durableFs.js';
import { sha256Hex } from '../util/hash.js';
import { ISO_TIME_HINT, parseIsoTime } from '../util/isoTime.js';
import { compileExcludes, noExcludeRules, readExcludeRules, type ExcludeRules } from './excludes.js';
import { StatCache, StatCacheWriter } from './statCache.js';
import { StatCacheMismatch, TreeBuilder, type WalkProgress } from './treeBuilder.js';
import { quoteName } from '../util/quoteName.js';

export interface SnapshotOptions {
  /** Source directory (default: the directory holding an embedded .cairn/). */
  path?: string;
  message?: string;
  mode?: SnapshotMode;
  type?: SnapshotType;
  exclude?: readonly string[];
  /**
   * Use these rules instead of the source's .cairnignore and `exclude` (a
   * restore point is taken with the rules of the snapshot being restored).
   */
  excludeRules?: ExcludeRules;
  /** Record this time instead of now (ISO-8601). */
  time?: string;
  onProgress?: (p: WalkProgress) => void;
  onWarning?: (p: SnapshotProblem) => void;
  onError?: (p: SnapshotProblem) => void;
}

export interface SnapshotSummary {
  id: ObjectId;
  manifest: Manifest;
}

export function resolveSourcePath(ctx: RepoContext, p: string | undefined): string {
  if (p === undefined) {
    if (!ctx.workRoot) throw new UsageError('a standalone repository needs the PATH to snapshot', { hint: 'cairn snapshot PATH' });
    return ctx.workRoot;
  }
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new SourceError(`source ${quoteName(abs)} does not exist`, { hint: 'check the path' });
    throw new SourceError(`cannot read source ${quoteName(abs)}: ${describeError(err)}`, { cause: err });
  }
  if (!st.isDirectory()) throw new SourceError(`source ${quoteName(abs)} is not a directory`, { hint: 'snapshot a directory (for a database file use --sqlite)' });
  const real = fs.realpathSync(abs);
  // A source inside the repository would store the repository in itself, and grow it with every snapshot (a
  // repository inside the source is skipped by the walk instead).
  const repo = fs.realpathSync(ctx.dir);
  if (real === repo || real.startsWith(`${repo}${path.sep}`)) {
    throw new SourceError(`source ${quoteName(real)} is ${real === repo ? 'the repository itself' : 'inside the repository'}`, {
      hint: 'snapshot the directory you want to keep; to back up a repository, copy it or snapshot it into another one',
    });
  }
  return real;
}

/** The file-system clock now, in ns (a fresh temp file's mtime), so racy-clean checks compare like with like. */
export async function fileSystemNow(dir: string): Promise<bigint> {
  const probe = tempName(dir, 'clock');
  await fsp.writeFile(probe, '');
  try {
    return (await fsp.stat(probe, { bigint: true })).mtimeNs;
  } finally {
    await fsp.rm(probe, { force: true });
  }
}

export function validateSnapshotChoices(mode: string | undefined, type: string | undefined): void {
  if (mode !== undefined && !SNAPSHOT_MODES.includes(mode as SnapshotMode)) {
    throw new UsageError(`unknown mode "${mode}"`, { hint: `use one of ${SNAPSHOT_MODES.join(', ')}` });
  }
  if (type !== undefined) assertSnapshotType(type, '--type');
}

export function parseSnapshotTime(time: string | undefined): Date {
  if (time === undefined) return new Date();
  const ms = parseIsoTime(time);
  if (ms === undefined) throw new UsageError(`--time "${time}" is not an ISO-8601 time`, { hint: ISO_TIME_HINT });
  return new Date(ms);
}

/** A changed path as an index row (for `log -- PATH`). */
export function versionRow(c: TreeChange): FileVersionRow {
  return { path: c.path, status: c.status, type: (c.new ?? c.old)?.type ?? null, content: c.new ? c.new.id : null, size: c.new ? c.new.size : null };
}

/** Changed paths as index rows. */
export function versionRows(changes: readonly TreeChange[]): FileVersionRow[] {
  return changes.map(versionRow);
}

/** Adds one change to the added/modified/deleted file counts (symlink-only changes are not counted). */
export function countChange(counts: { added: number; modified: number; deleted: number }, c: TreeChange): void {
  if (c.old?.type !== 'file' && c.new?.type !== 'file') return;
  if (c.status === 'A') counts.added++;
  else if (c.status === 'D') counts.deleted++;
  else counts.modified++;
}

/** Counts of added/modified/deleted files between two trees. */
export function changeCounts(changes: readonly TreeChange[]): { added: number; modified: number; deleted: number } {
  const counts = { added: 0, modified: 0, deleted: 0 };
  for (const c of changes) countChange(counts, c);
  return counts;
}

/** Rows a walk holds before it stages them (WalkStagedRows). */
const WALK_STAGE_ROWS = 512;

/**
 * A snapshot's index rows, staged as its walk writes each directory's tree (TreeBuilder's onDirTree), for a walk
 * that compares with the source's HEAD (an incremental snapshot) or with nothing (its first): the rows and counts
 * diffTrees(HEAD's tree, tree) gives, found where the walk has both sides of a changed directory at hand. Reading
 * every tree back after the walk to diff them had cost the tree dataset's first snapshot ~0.8 s after its objects
 * were durable, and its 1% change step ~0.4 s of its 1.5 s (docs/performance.md).
 * - A new directory (nothing to compare with): every file and symlink in it is added.
 * - A directory whose tree changed: its files and symlinks compared by name with the base's; a subdirectory that is
 *   a subdirectory on both sides reports itself (the walk goes into each, and one whose tree is unchanged has no
 *   changes); one the base had and the new tree has not (or has as a file) is read to list what was deleted under it.
 * Rows go to the index's stage in statements of their own, WALK_STAGE_ROWS at a time: none are held beyond that,
 * and no transaction spans the walk.
 */
export class WalkStagedRows {
  readonly counts = { added: 0, modified: 0, deleted: 0 };
  private rows: FileVersionRow[] = [];
  /**
   * False once a name that is not valid UTF-8 was seen: such names can collide in the index's text (U+FFFD), and
   * which row the index keeps then depends on the order rows come in, which is the diff's only in the diff.
   * Nothing is staged then, and the commit diffs as for any other snapshot.
   */
  private usable = true;

  /** `load` reads a tree of the base (a deleted subdirectory's), uncached. */
  constructor(
    private readonly index: VersionIndex,
    private readonly load: (id: ObjectId) => readonly TreeEntry[],
  ) {
    index.clearStaged();
  }

  /** The counts, when the walk staged every row; undefined when the commit must diff (see `usable`). */
  get result(): { added: number; modified: number; deleted: number } | undefined {
    return this.usable ? this.counts : undefined;
  }

  /**
   * A directory's tree, written at `rel`, and the entries of the base's tree it replaces (null for a directory
   * the base has not: everything in it is new).
   */
  add(rel: string, entries: readonly TreeEntry[], base: readonly TreeEntry[] | null = null): void {
    if (!this.usable) return;
    if (base === null) {
      for (const e of entries) {
        if (e.rawName !== undefined) return this.giveUp();
        if (e.type !== 'dir') this.stage(addedChange(rel, e, sha256Hex));
      }
      return;
    }
    const old = new Map<string, TreeEntry>();
    for (const e of base) {
      if (e.rawName !== undefined) return this.giveUp();
      old.set(e.name, e);
    }
    for (const e of entries) {
      if (e.rawName !== undefined) return this.giveUp();
      const o = old.get(e.name);
      if (o !== undefined) old.delete(e.name);
      this.compare(rel, o, e);
      if (!this.usable) return;
    }
    for (const o of old.values()) {
      this.compare(rel, o, undefined);
      if (!this.usable) return;
    }
  }

  /** The rows for one name of a changed directory: what it was (`o`) and is (`n`). */
  private compare(rel: string, o: TreeEntry | undefined, n: TreeEntry | undefined): void {
    if (o !== undefined && n !== undefined) {
      if (o.type === 'dir' && n.type === 'dir') return; // the walk's own call for that directory reports it
      if (o.type !== 'dir' && n.type !== 'dir') {
        const c = entryChange(rel, o, n, sha256Hex);
        if (c) this.stage(c);
        return;
      }
    }
    // Deleted, added, or a file that became a directory or the other way round (a deletion and an addition, as
    // diffTrees sorts `x` and `x/` apart). An added directory reports its own files (walked with no base).
    if (o !== undefined) {
      if (o.type === 'dir') this.deletedTree(rel === '' ? o.name : `${rel}/${o.name}`, o.tree!);
      else this.stage(deletedChange(rel, o, sha256Hex));
    }
    if (n !== undefined && n.type !== 'dir') this.stage(addedChange(rel, n, sha256Hex));
  }

  /** Every file and symlink under a directory of the base that is gone, as deleted. */
  private deletedTree(rel: string, tree: ObjectId): void {
    for (const e of this.load(tree)) {
      if (!this.usable) return;
      if (e.rawName !== undefined) return this.giveUp();
      if (e.type === 'dir') this.deletedTree(`${rel}/${e.name}`, e.tree!);
      else this.stage(deletedChange(rel, e, sha256Hex));
    }
  }

  private stage(c: TreeChange): void {
    countChange(this.counts, c);
    this.rows.push(versionRow(c));
    if (this.rows.length >= WALK_STAGE_ROWS) this.flush();
  }

  private giveUp(): void {
    this.discard();
    this.usable = false;
  }

  /** Stages what is held; call when the walk is done. */
  flush(): void {
    this.index.stageVersions(this.rows);
    this.rows = [];
  }

  /** Drops everything staged (a failed walk, or a walk begun again). */
  discard(): void {
    this.usable = true;
    this.rows = [];
    this.counts.added = this.counts.modified = this.counts.deleted = 0;
    this.index.clearStaged();
  }
}

export interface CommitInput {
  kind: SourceKind;
  source: string;
  tree: ObjectId;
  mode: SnapshotMode;
  base: ObjectId | null;
  type: SnapshotType;
  message: string;
  time: Date;
  scanStart: bigint;
  counts: Omit<SnapshotStats, 'added' | 'modified' | 'deleted' | 'unchanged' | 'durationMs' | 'errors'>;
  started: number;
  errors: SnapshotProblem[];
  warnings: SnapshotProblem[];
  extra?: Record<string, unknown>;
  /**
   * The counts of a snapshot whose index rows its walk staged against `base` (WalkStagedRows; `base` null: a first
   * snapshot): no diff then, unless the source's HEAD is no longer `base` (another snapshot of it was committed
   * meanwhile: the staged rows are then dropped and the diff stages its own).
   */
  staged?: { added: number; modified: number; deleted: number };
}

/** Writes the manifest after its objects and records it; shared by every kind of source. */
export async function commitSnapshot(ctx: RepoContext, input: CommitInput): Promise<SnapshotSummary> {
  // The last batch is handed to the flush worker, and the diff below (reading trees, staging index rows) runs
  // while the worker makes the objects durable: in the tree's first snapshot the main thread had waited ~1 s for
  // that, then spent ~0.4 s on the diff. The manifest is still written only once every object is durable.
  await ctx.store.flush({ wait: false });
  ctx.logger.debug({ phase: 'objects-sent' }, 'the last objects are being made durable');
  const parent = ctx.index.head(input.source);
  const compareWith = input.base ?? parent;
  // Trees read on this thread (getSync): small objects, for which the thread pool's reads, decodes and hashes
  // cost more and left their buffers (outside V8's heap) to late collections: a 1% change of the 36k-file tree
  // peaked at 187 MiB RSS with loadTree(). Nor are the trees the diff reads cached (it reads each once; those the
  // walk read or wrote are cached already): that change step peaked at 168-182 MiB with them, 162-169 without.
  const load = async (id: ObjectId) => ctx.loadTreeSync(id, { keep: false });
  const compareTree = compareWith ? (await ctx.readManifest(compareWith)).tree : null;
  // Changes are counted and turned into compact index rows as they are found: a first snapshot of
  // a huge tree has one change per file, which must not all be held as objects at once.
  // The rows go straight into an open index transaction, staged until the manifest exists and
  // then filed under its id; a crash before the commit leaves no rows behind.
  const index = ctx.index;
  // The walk staged its rows against `base` (WalkStagedRows), valid only while that is still the source's HEAD.
  const prestaged = input.staged !== undefined && parent === (input.base ?? null);
  if (input.staged && !prestaged) index.clearStaged();
  const counts = prestaged ? { ...input.staged! } : { added: 0, modified: 0, deleted: 0 };
  const parentTree = parent === compareWith ? compareTree : parent ? (await ctx.readManifest(parent)).tree : null;
  index.begin();
  try {
    if (!prestaged) {
      await diffTrees(compareTree, input.tree, load, sha256Hex, {
        onChange: (c) => {
          countChange(counts, c);
          if (parent === compareWith) index.stageVersion(versionRow(c));
        },
      });
    }
    if (parent !== compareWith) await diffTrees(parentTree, input.tree, load, sha256Hex, { onChange: (c) => index.stageVersion(versionRow(c)) });
    ctx.logger.debug({ phase: 'diffed' }, 'the changed paths are staged in the index');
    // The manifest is made, and filed in the open index transaction with its changed paths, while the flush worker
    // makes the last objects durable: the tree's first snapshot had waited 0.16-0.39 s for them, then spent
    // 0.16-0.43 s filing its 36k rows. Nothing is committed, and the manifest is not written, before they are.
    const manifest = makeManifest(input, parent, counts);
    const bytes = encodeManifest(manifest);
    const id = sha256Hex(bytes) as ObjectId;
    index.addSnapshot(id, manifest);
    index.publishVersions(id);
    await ctx.store.flush();
    ctx.logger.debug({ phase: 'objects-durable', tempWrites: ctx.store.tempWrites }, 'snapshot objects are durable');
    // The objects may have filled the disk: the manifest and its marker are written only if the index can then
    // record them (see VersionIndex.checkRoom).
    index.checkRoom('the snapshot was not saved (the objects it stored are reused by the next snapshot, or removed by `cairn prune`)');
    return await writeManifest(ctx, input, manifest, bytes, id);
  } catch (err) {
    index.rollback();
    index.clearStaged(); // rows staged before begin() outlive the rollback
    throw err;
  }
}

/**
 * The manifest of a snapshot whose walk (and diff) is done; its durationMs runs to this point: up to the last
 * object handed over to be made durable.
 */
function makeManifest(input: CommitInput, parent: ObjectId | null, counts: { added: number; modified: number; deleted: number }): Manifest {
  const { host, user } = RepoContext.identity();
  const manifest: Manifest = {
    v: 1,
    kind: input.kind,
    tree: input.tree,
    source: input.source,
    host,
    user,
    time: input.time.toISOString(),
    scanStart: input.scanStart.toString(),
    parents: parent ? [parent] : [],
    mode: input.mode,
    base: input.base,
    type: input.type,
    message: input.message,
    stats: {
      ...input.counts,
      ...counts,
      unchanged: Math.max(0, input.counts.files - counts.added - counts.modified),
      durationMs: 0,
      errors: input.errors.length,
    },
    errors: input.errors,
    warnings: input.warnings,
    ...(input.extra ? { extra: input.extra } : {}),
  };
  manifest.stats.durationMs = Date.now() - input.started;
  return manifest;
}

/**
 * Writes the manifest (`bytes`, whose id is `id`) once its objects are durable, then its marker, and commits the
 * index transaction that already holds the snapshot and its changed paths.
 */
async function writeManifest(ctx: RepoContext, input: CommitInput, manifest: Manifest, bytes: Buffer, id: ObjectId): Promise<SnapshotSummary> {
  await ctx.store.put(bytes, id);
  await ctx.store.flush();
  ctx.logger.debug({ phase: 'manifest-durable', id }, 'manifest is durable');
  writeSnapshotMarker(ctx.dir, id);
  ctx.logger.debug({ phase: 'marker-durable', id }, 'snapshot marker is durable');
  try {
    ctx.index.commit();
  } catch (err) {
    // The snapshot exists (its marker is durable): say so, rather than that nothing was saved.
    const known = explainError(err);
    if (!(known instanceof IoError)) throw err;
    throw new IoError(`snapshot ${id.slice(0, 12)} was saved, but the index could not record it: ${known.message}`, {
      cause: err,
      hint: 'free some space (if the disk is full); the next cairn command adds the snapshot to the index from the store',
      details: { snapshot: id },
    });
  }
  ctx.logger.debug({ phase: 'indexed', id }, 'snapshot is in the index');
  writeHead(ctx.dir, { source: input.source, snapshot: id });
  ctx.index.setHead(input.source, id);
  return { id, manifest };
}

/** Takes a snapshot of a directory. */
export async function takeSnapshot(ctx: RepoContext, options: SnapshotOptions): Promise<SnapshotSummary> {
  validateSnapshotChoices(options.mode, options.type);
  const started = Date.now();
  const source = resolveSourcePath(ctx, options.path);
  const time = parseSnapshotTime(options.time);
  return ctx.withLock('snapshot', false, async () => {
    ctx.cleanStaleTemp();
    const latest = ctx.index.latest(source);
    let mode: SnapshotMode = options.mode ?? (latest ? 'incremental' : 'full');
    let baseId: ObjectId | null = null;
    if (mode === 'incremental') baseId = latest?.id ?? null;
    if (mode === 'differential') {
      baseId = ctx.index.latest(source, 'full')?.id ?? null;
      if (!baseId) ctx.warn('no full snapshot of this source to compare with; taking a full snapshot');
    }
    if (mode !== 'full' && !baseId) mode = 'full';
    const base = baseId ? await ctx.readManifest(baseId) : null;
    const errors: SnapshotProblem[] = [];
    const warnings: SnapshotProblem[] = [];
    const scanStart = await fileSystemNow(ctx.tmpDir);
    const rules = options.excludeRules ?? readExcludeRules(source, options.exclude ?? []);
    const cacheFile = statCachePath(ctx, source);
    // The walk stages the index rows when what it compares with is what the commit's diff would: nothing, for the
    // source's first snapshot, or its HEAD (an incremental snapshot, or a differential one whose full is the HEAD).
    const staged = (baseId ?? null) === ctx.index.head(source) ? new WalkStagedRows(ctx.index, (id) => ctx.loadTreeSync(id, { keep: false })) : null;
    // The stat cache being written (a temp file, renamed over the source's cache once the snapshot is committed),
    // one per walk; the base's cache is read from its open file during the walk.
    const writers: StatCacheWriter[] = [];
    const newWriter = (): StatCacheWriter => {
      const w = new StatCacheWriter(tempName(ctx.tmpDir, 'statcache'));
      writers.push(w);
      return w;
    };
    const makeBuilder = (cache: StatCache | null) =>
      new TreeBuilder({
        store: ctx.store,
        chunker: ctx.config.chunker,
        dbChunker: ctx.config.dbChunker,
        changeCompression: changeCompressionOf(ctx.config),
        inlineMax: ctx.config.inlineMax ?? 0,
        excludes: compileExcludes(rules),
        skipPaths: new Set([ctx.dir]),
        // Base trees are read once each by the walk (its directory's, then passed down as entries): not cached. The
        // cache (~20k entries and their inline contents) had been full of them through every change step, which peaked
        // 40-45 MiB higher for it (100k small files: 153-155 against 110-114 MiB).
        loadTree: (id) => ctx.loadTreeSync(id, { keep: false }),
        // Trees the walk writes are cached for the commit's diff against the parent. A walk that stages its rows
        // leaves no diff to feed (the fallback reads trees from the store).
        ...(staged ? {} : { onTree: (id: ObjectId, entries: readonly TreeEntry[]) => ctx.cacheTree(id, entries) }),
        ...(staged ? { onDirTree: (rel: string, entries: readonly TreeEntry[], baseEntries: readonly TreeEntry[] | null) => staged.add(rel, entries, baseEntries) } : {}),
        reuse: mode !== 'full',
        baseScanStart: base ? BigInt(base.scanStart) : null,
        onWarning: (p) => {
          warnings.push(p);
          options.onWarning?.(p);
        },
        onError: (p) => {
          errors.push(p);
          options.onError?.(p);
        },
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        statCache: { base: cache, writer: newWriter() },
      });
    let baseCache = mode !== 'full' && base ? StatCache.load(cacheFile, base.tree) : null;
    try {
      let builder = makeBuilder(baseCache);
      let tree: ObjectId;
      try {
        try {
          tree = await builder.build(source, base?.tree ?? null);
        } catch (err) {
          if (!(err instanceof StatCacheMismatch)) throw err;
          ctx.logger.warn({ err: err.message }, 'stat cache disagrees with its tree; walking again without it');
          errors.length = 0;
          warnings.length = 0;
          staged?.discard();
          writers.at(-1)!.discard();
          baseCache?.close();
          baseCache = null;
          builder = makeBuilder(null);
          tree = await builder.build(source, base?.tree ?? null);
        }
        staged?.flush();
      } catch (err) {
        staged?.discard();
        await ctx.store.abort();
        throw err;
      }
      const c = builder.counts;
      const summary = await commitSnapshot(ctx, {
        kind: 'dir',
        source,
        tree,
        mode,
        base: baseId,
        type: options.type ?? 'manual',
        message: options.message ?? '',
        time,
        scanStart,
        counts: {
          files: c.files,
          dirs: c.dirs,
          symlinks: c.symlinks,
          bytes: c.bytes,
          bytesRead: c.bytesRead,
          filesRead: c.filesRead,
          newObjects: c.newObjects,
          newBytes: c.newBytes,
        },
        started,
        errors,
        warnings,
        // Recorded so that restoring this snapshot leaves alone exactly what it left out.
        ...(noExcludeRules(rules) ? {} : { extra: { excludeRules: rules } }),
        ...(staged?.result ? { staged: staged.result } : {}),
      });
      const writer = writers.at(-1)!;
      if (builder.finishStatCache(tree)) saveStatCache(ctx, cacheFile, writer.file);
      else if (writer.failure !== undefined) ctx.logger.warn({ err: describeError(writer.failure) }, 'could not write the stat cache');
      return summary;
    } finally {
      baseCache?.close();
      for (const w of writers) w.discard(); // those not renamed into place
    }
  });
}

/**
 * Where a source's stat cache lives: `cache/stat/<first 32 hex of sha256(source path)>`, with the
 * repository's inlineMax in the hashed text when it is not 0. A cache describes entries without
 * saying which are inline, so after `config inlineMax` the next snapshot compares with the base
 * tree itself, and stores each small file as the new value says.
 */
export function statCachePath(ctx: RepoContext, source: string): string {
  const inlineMax = ctx.config.inlineMax ?? 0;
  return path.join(ctx.dir, 'cache', 'stat', sha256Hex(inlineMax === 0 ? source : `${source}\0inlineMax=${inlineMax}`).slice(0, 32));
}

/**
 * Replaces a source's stat cache with the complete file `written` (a rename, without fsync: a torn or lost cache is
 * only ignored). Failures are logged, never fatal.
 */
function saveStatCache(ctx: RepoContext, file: string, written: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.renameSync(written, file);
  } catch (err) {
    ctx.logger.warn({ err: describeError(err) }, 'could not write the stat cache');
    try {
      fs.rmSync(written, { force: true });
    } catch {
      // left for the next command's cleanStaleTemp
    }
  }
}

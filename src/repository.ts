/**
 * The public facade: open or create a repository, then call one method per
 * operation. Each method is a thin wrapper over a function in src/snapshot or
 * src/ops, which the CLI and the tests share.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CairnError, isErrno, UsageError } from './errors.js';
import { COMPRESSIONS, type Compression } from './store/objectCodec.js';
import type { LogQuery, SnapshotRow } from './index/versionIndex.js';
import { catFile, listSnapshot, logSnapshots, openListing, showSnapshot, type Listing, type LsEntry, type ShowResult } from './ops/browse.js';
import { getConfigValue, setConfigValue, showConfig, unsetConfigValue, type ConfigChange, type ConfigView } from './ops/configure.js';
import { forgetDryRun, forgetUnlocked, type ForgetOptions, type ForgetSummary } from './ops/forget.js';
import { approvePrune, pruneUnlocked, type PruneOptions, type PruneSummary } from './ops/prune.js';
import { defaultRetention, retentionToJson } from './ops/retentionConfig.js';
import { repositoryStats, snapshotStats, type RepositoryStats, type SnapshotStatsReport } from './ops/stats.js';
import { verifyRepository, type VerifyOptions, type VerifyReport } from './ops/verify.js';
import { diff, normalizeDiffPaths, type DiffOptions, type DiffResult } from './ops/diff.js';
import { pathHistory, type HistoryOptions, type PathVersion } from './ops/history.js';
import { drawHistory, type DrawnRow } from './ops/logGraph.js';
import { filePatch, type FilePatch, type PatchOptions } from './ops/patch.js';
import { checkNewTags, createTag, deleteTag, listTags, type TagListEntry, type TagOptions, type TagSummary } from './ops/tag.js';
import type { TreeChange } from './model/treeDiff.js';
import { rebuildIndex, reconcileIndex, withRebuildLock, type RebuildSummary } from './ops/rebuildIndex.js';
import { restoreSnapshot, type RestoreOptions, type RestoreSummary } from './ops/restore.js';
import { pendingRestores, recoverRestore, type RecoverySummary } from './ops/restoreInPlace.js';
import { queryAudit, summarizeAudit, type AuditQuery, type AuditSummary } from './ops/auditLog.js';
import { AuditTrail, type AuditRecord } from './auditTrail.js';
import { restoreDatabase } from './ops/restoreDatabase.js';
import { RepoContext, type ContextOptions } from './repoContext.js';
import { defaultConfig, INLINE_MAX_LIMIT, isInlineMax, writeConfig } from './repositoryConfig.js';
import { initLocation, locateRepository, type LocateOptions } from './repositoryLocator.js';
import { takeSnapshot, type SnapshotOptions, type SnapshotSummary } from './snapshot/snapshotter.js';
import { takeSqliteSnapshot, type SqliteSnapshotOptions } from './snapshot/sqliteSnapshot.js';
import { takeStreamSnapshot, type StreamSnapshotOptions } from './snapshot/streamSnapshot.js';
import type { ObjectId } from './store/objectId.js';
import { fsyncDir } from './util/durableFs.js';
import { quoteName } from './util/quoteName.js';

export type OpenOptions = LocateOptions &
  ContextOptions & {
    /** Do not open index.db (for rebuild-index, which must work when it is damaged). */
    skipIndex?: boolean;
  };

/** The outcome of snapshotting several databases: one snapshot each, failures listed. */
export interface SqliteBatchSummary {
  snapshots: SnapshotSummary[];
  failed: Array<{ path: string; error: CairnError }>;
}

/**
 * Makes `dir` and its missing parents, one at a time. Node's `mkdirSync(dir, { recursive: true })` never
 * returns where mkdir fails with ENOENT below an existing directory (a path under /proc: `init --repo /proc/x`
 * spun at 100% CPU); here that mkdir's error is thrown.
 */
function makeMissingDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
  }
}

export class Repository extends RepoContext {
  /**
   * Creates a repository: `.cairn/` in `cwd`, or the directory named by
   * `repo` (or CAIRN_REPO) itself.
   * @example const repo = await Repository.init({ cwd: '/srv/app' });
   */
  static async init(options: OpenOptions & { compression?: Compression; changeCompression?: Compression; inlineMax?: number } = {}): Promise<Repository> {
    for (const [what, codec] of [
      ['compression', options.compression],
      ['change compression', options.changeCompression],
    ] as const) {
      if (codec !== undefined && !COMPRESSIONS.includes(codec)) {
        throw new UsageError(`unknown ${what} "${String(codec)}"`, { hint: `use one of ${COMPRESSIONS.join(', ')}` });
      }
    }
    if (options.inlineMax !== undefined && !isInlineMax(options.inlineMax)) {
      throw new UsageError(`inline max ${String(options.inlineMax)} is not a whole number of bytes from 0 to ${INLINE_MAX_LIMIT}`, {
        hint: `e.g. --inline-max 4096 (the default), or 0 to store every file as objects`,
      });
    }
    const loc = initLocation(options);
    if (fs.existsSync(path.join(loc.dir, 'config.json'))) {
      const err = new CairnError('REPOSITORY_EXISTS', `a cairn repository already exists at ${quoteName(loc.dir)}`, { hint: 'use it as it is, or choose another directory' });
      // The existing repository's trail records the failed attempt.
      Repository.recordIn(loc.dir, 'init', { repository: loc.dir, ...(options.auditArgs ?? {}) }, err, options.onWarning);
      throw err;
    }
    if (fs.existsSync(loc.dir) && fs.readdirSync(loc.dir).length > 0) {
      throw new CairnError('REPOSITORY_EXISTS', `${quoteName(loc.dir)} exists and is not empty`, { hint: 'choose a new or empty directory for the repository' });
    }
    makeMissingDirs(loc.dir);
    for (const sub of ['objects', 'snapshots', 'refs', 'refs/heads', 'refs/tags', 'tmp', 'locks', 'audit']) fs.mkdirSync(path.join(loc.dir, sub));
    writeConfig(loc.dir, { ...defaultConfig(options.compression, options.changeCompression, options.inlineMax), retention: retentionToJson(defaultRetention()) });
    await fsyncDir(loc.dir);
    const repo = new Repository(loc, options);
    repo.index; // create the index now
    repo.record('init', { repository: loc.dir }, 'ok', { started: Date.now() });
    return repo;
  }

  /** Appends a failure line to the trail of the repository at `dir` without opening it. */
  private static recordIn(dir: string, op: string, args: Record<string, unknown>, err: CairnError, onWarning?: (m: string) => void): void {
    const { host, user } = RepoContext.identity();
    new AuditTrail(dir, onWarning ?? (() => undefined)).append({
      time: new Date().toISOString(),
      op,
      user,
      host,
      args,
      snapshots: [],
      outcome: 'error',
      error: err.code,
      message: err.message,
      durationMs: 0,
      pid: process.pid,
    });
  }

  /**
   * Opens the repository named by `repo`, CAIRN_REPO, or the nearest `.cairn/` above `cwd`.
   * @example const repo = await Repository.open({ repo: '/backups/app' });
   */
  static async open(options: OpenOptions = {}): Promise<Repository> {
    const repo = new Repository(locateRepository(options), options);
    if (options.skipIndex) return repo;
    if (repo.indexLoss()) {
      // One process rebuilds; another that finds the index lost meanwhile waits for it, then uses what it built.
      await withRebuildLock(repo, async () => {
        const loss = repo.indexLoss();
        if (!loss) return;
        repo.warn(`the index was ${loss === 'missing' ? 'missing' : 'empty (an interrupted command?)'}; rebuilding it from the object store`);
        await rebuildIndex(repo);
      });
    }
    repo.index; // opens it now, so a damaged index fails here with a clear message
    await reconcileIndex(repo);
    return repo;
  }

  /**
   * Takes a snapshot of a directory.
   * @example const { id, manifest } = await repo.snapshot({ path: '/srv/app', message: 'before upgrade' });
   */
  snapshot(options: SnapshotOptions & { tags?: readonly string[] } = {}): Promise<SnapshotSummary> {
    const { onProgress: _p, onWarning: _w, onError: _e, ...args } = options;
    return this.audited(
      'snapshot',
      { ...args },
      async () => {
        const tags = options.tags ?? [];
        checkNewTags(this, tags); // before any work: a bad or taken name fails with no snapshot taken
        const s = await takeSnapshot(this, options);
        for (const name of tags) await createTag(this, name, s.id, { time: s.manifest.time });
        return s;
      },
      (r) => [r.id],
    );
  }

  /**
   * Takes a consistent snapshot of one SQLite database (safe while other
   * processes write it); throws when it cannot be copied or fails its check.
   * @example const { id } = await repo.snapshotSqlite({ path: '/srv/app/app.db', type: 'daily' });
   */
  snapshotSqlite(options: SqliteSnapshotOptions & { tags?: readonly string[] }): Promise<SnapshotSummary> {
    const { onProgress: _p, ...args } = options;
    return this.audited('snapshot', { sqlite: options.path, ...args }, () => this.tagged(options.tags, () => takeSqliteSnapshot(this, options)), (r) => [r.id]);
  }

  /** Checks new tag names before `take` and creates them on its snapshot after. */
  private async tagged(tags: readonly string[] | undefined, take: () => Promise<SnapshotSummary>): Promise<SnapshotSummary> {
    checkNewTags(this, tags ?? []); // before any work: a bad or taken name fails with no snapshot taken
    const s = await take();
    for (const name of tags ?? []) await createTag(this, name, s.id, { time: s.manifest.time });
    return s;
  }

  /**
   * Snapshots several SQLite databases, one snapshot each; a database that
   * fails does not stop the others (it is listed in `failed`).
   * @example const { snapshots, failed } = await repo.snapshotSqliteAll(['a.db', 'b.db'], { type: 'daily' });
   */
  async snapshotSqliteAll(paths: readonly string[], options: Omit<SqliteSnapshotOptions, 'path'> & { tags?: readonly string[] } = {}): Promise<SqliteBatchSummary> {
    if (paths.length === 0) throw new UsageError('no database to snapshot', { hint: 'cairn snapshot --sqlite PATH' });
    if ((options.tags ?? []).length > 0 && paths.length > 1) throw new UsageError('a tag names one snapshot: --tag goes with a single --sqlite', { hint: 'tag the snapshots one by one with `cairn tag`' });
    const out: SqliteBatchSummary = { snapshots: [], failed: [] };
    for (const p of paths) {
      try {
        out.snapshots.push(await this.snapshotSqlite({ ...options, path: p }));
      } catch (err) {
        if (!(err instanceof CairnError)) throw err;
        out.failed.push({ path: p, error: err });
      }
    }
    return out;
  }

  /**
   * Stores a stream (`input`) or a command's standard output (`command`) as
   * the file `name`; a command that fails leaves no snapshot.
   * @example await repo.snapshotStream({ name: 'db.dump', command: 'pg_dump -Fc app', type: 'daily' });
   */
  snapshotStream(options: StreamSnapshotOptions & { tags?: readonly string[] }): Promise<SnapshotSummary> {
    const { onProgress: _p, onCommandStderr: _s, input: _i, signal: _a, ...args } = options;
    return this.audited('snapshot', { ...args, ...(options.input ? { stdin: true } : {}) }, () => this.tagged(options.tags, () => takeStreamSnapshot(this, options)), (r) => [r.id]);
  }

  /**
   * Restores a snapshot: into a new or empty directory, in place over its
   * source (the default: restore point, approval, staged, rolled back on
   * failure), or over another non-empty directory with `force`. A database
   * snapshot goes back to its file (or the file `target`) after a restore
   * point, refused while another process uses it (ops/restoreDatabase.ts).
   * @example await repo.restore('latest', { target: '/tmp/restored' });
   * @example const r = await repo.restore('v1.0', { dryRun: true }); console.log(r.changes);
   */
  async restore(ref: string, options: RestoreOptions = {}): Promise<RestoreSummary> {
    const { onProgress: _p, onRestorePoint: _r, ...args } = options;
    const auditArgs: Record<string, unknown> = { ref, ...args };
    return this.audited(
      'restore',
      auditArgs,
      async () => {
        if (options.target === '') throw new UsageError('the restore target is empty', { hint: "name a directory (or file), or give none to restore in place into the snapshot's source" });
        const id = await this.resolveRef(ref);
        const manifest = await this.readManifest(id);
        // The audit line names the directory (or database file) restored into, in place or not (read when the line is written).
        const target = options.target ?? manifest.source;
        if (typeof target === 'string') auditArgs.target = path.resolve(target);
        // A database snapshot goes back to its file: ops/restoreDatabase.ts.
        if (manifest.kind === 'sqlite') {
          // A database file's free pages are not zero blocks worth a hole, and its restore is checked page by page.
          if (options.sparse) throw new UsageError('--sparse applies to directory snapshots; this one is a database snapshot', { hint: 'restore it without --sparse' });
          return this.withLock('restore', false, () => restoreDatabase(this, id, manifest, options));
        }
        return this.withLock('restore', false, () => restoreSnapshot(this, id, options));
      },
      (r) => (r.restorePoint ? [r.snapshot, r.restorePoint] : [r.snapshot]),
    );
  }

  /**
   * Finishes (`resume`) or undoes (`rollback`) a restore that was interrupted
   * (the process killed, the machine down); `target` picks one when several are pending.
   * @example await repo.recoverRestore('rollback');
   */
  recoverRestore(action: 'rollback' | 'resume', target?: string): Promise<RecoverySummary> {
    return this.audited(
      `restore-${action}`,
      { ...(target !== undefined ? { target } : {}) },
      () => this.withLock('restore', false, () => recoverRestore(this, action, target)),
      (r) => (r.restorePoint ? [r.snapshot, r.restorePoint] : [r.snapshot]),
    );
  }

  /**
   * Interrupted restores waiting for `recoverRestore`. Throws (INTEGRITY) when
   * a restore journal is damaged: never a list that silently leaves it out.
   * @example if (repo.pendingRestores().length) await repo.recoverRestore('rollback');
   */
  pendingRestores(): ReturnType<typeof pendingRestores> {
    return pendingRestores(this);
  }

  /**
   * Audit records, oldest first (newest last), filtered by time, operation and outcome.
   * @example const refused = repo.auditLog({ outcome: 'refused', since: '2026-01-01' });
   */
  auditLog(query: AuditQuery = {}): AuditRecord[] {
    return queryAudit(this, query);
  }

  /**
   * Counts of audit records by operation and outcome.
   * @example const { byOp } = repo.auditSummary({ since: '2026-01-01' });
   */
  auditSummary(query: AuditQuery = {}): AuditSummary {
    return summarizeAudit(queryAudit(this, query));
  }

  /**
   * Snapshots, newest first.
   * @example for (const s of repo.log({ type: 'daily' })) console.log(s.id, s.time);
   */
  log(query: LogQuery = {}): SnapshotRow[] {
    return logSnapshots(this, query);
  }

  /**
   * Entries of a snapshot at a path.
   * @example const { entries } = await repo.ls('latest', 'src', { recursive: true });
   */
  async ls(ref: string, relPath = '', options: { recursive?: boolean } = {}): Promise<{ snapshot: ObjectId; entries: LsEntry[] }> {
    return listSnapshot(this, ref, relPath, options.recursive ?? false);
  }

  /**
   * ls, with the entries produced as the snapshot's trees are read, in bounded memory (for listings too large to
   * hold). A damaged tree met on the way throws from the iteration.
   * @example const { entries } = await repo.lsStream('latest', '', { recursive: true }); for await (const e of entries) console.log(e.path);
   */
  async lsStream(ref: string, relPath = '', options: { recursive?: boolean } = {}): Promise<Listing> {
    return openListing(this, ref, relPath, options.recursive ?? false);
  }

  /**
   * One file's bytes, streamed chunk by chunk (each verified).
   * @example for await (const b of repo.cat('v1.0', 'src/app.ts')) process.stdout.write(b);
   */
  cat(ref: string, relPath: string): AsyncGenerator<Buffer> {
    return catFile(this, ref, relPath);
  }

  /**
   * A snapshot's manifest, tags and children.
   * @example const { manifest } = await repo.show('latest');
   */
  show(ref: string): Promise<ShowResult> {
    return showSnapshot(this, ref);
  }

  /**
   * Snapshots drawn as a graph of parents (`log --graph`): children before parents, with edge rows.
   * @example for (const r of repo.logGraph()) console.log(r.kind === 'node' ? `${r.prefix} ${r.node.id}` : r.text);
   */
  logGraph(query: LogQuery = {}): Array<DrawnRow<SnapshotRow>> {
    return drawHistory(logSnapshots(this, query));
  }

  /**
   * Versions of one file or folder: the snapshots in which it changed, newest first.
   * @example for (const v of await repo.history('src/app.ts')) console.log(v.snapshot, v.status, v.size);
   */
  history(relPath: string, options: HistoryOptions = {}): Promise<PathVersion[]> {
    return pathHistory(this, relPath, options);
  }

  /**
   * Changes from snapshot `a` to snapshot `b`, or, without `b`, to the snapshot's source directory on disk now.
   * @example const { changes } = await repo.diff('v1.0', 'latest', { paths: ['src'] });
   */
  diff(a: string, b?: string | null, options: DiffOptions = {}): Promise<DiffResult> {
    return diff(this, a, b, options);
  }

  /**
   * The unified diff (or binary/large summary) of one change of a diff result.
   * @example for (const c of result.changes) process.stdout.write((await repo.patch(result, c)).text);
   */
  patch(result: Pick<DiffResult, 'from' | 'to'>, change: TreeChange, options: PatchOptions = {}): Promise<FilePatch> {
    return filePatch(this, result.from, result.to, change, options);
  }

  /**
   * The unified diff of one file between two versions (`b` absent: the file on disk now); null when unchanged.
   * @example const p = await repo.diffFile('v1.0', 'v1.1', 'src/app.ts'); if (p) console.log(p.text);
   */
  async diffFile(a: string, b: string | null | undefined, relPath: string, options: DiffOptions & PatchOptions = {}): Promise<FilePatch | null> {
    const [p] = normalizeDiffPaths([relPath])!;
    const result = await diff(this, a, b, { ...options, paths: [p!] });
    const wanted = result.changes.find((c) => c.path === p);
    return wanted ? filePatch(this, result.from, result.to, wanted, options) : null;
  }

  /**
   * Tags a snapshot. An existing name fails unless `force`, which moves it (high risk: asks for approval).
   * @example await repo.tag('v1.0', 'latest', { message: 'first release' });
   */
  tag(name: string, ref = 'latest', options: TagOptions = {}): Promise<TagSummary> {
    return this.audited(
      'tag',
      { name, ref, ...options },
      async () => createTag(this, name, await this.resolveRef(ref), options),
      (r) => [...(r.snapshot ? [r.snapshot] : []), ...(r.previous && r.previous !== r.snapshot ? [r.previous] : [])],
    );
  }

  /**
   * Deletes a tag (high risk: asks for approval); the snapshot stays.
   * @example await repo.deleteTag('v1.0-rc1');
   */
  deleteTag(name: string): Promise<TagSummary> {
    return this.audited('tag --delete', { name }, () => deleteTag(this, name), (r) => (r.snapshot ? [r.snapshot] : []));
  }

  /**
   * Every tag, by name.
   * @example for (const t of repo.tags()) console.log(t.name, t.snapshot);
   */
  tags(): TagListEntry[] {
    return listTags(this);
  }

  /**
   * Rebuilds index.db from the object store.
   * @example const { snapshots } = await repo.rebuildIndex();
   */
  rebuildIndex(): Promise<RebuildSummary> {
    return this.audited('rebuild-index', {}, () => this.withLock('rebuild-index', false, () => withRebuildLock(this, () => rebuildIndex(this))));
  }

  /**
   * Forgets snapshots: those a retention policy does not keep (the rules
   * given, else the per-type policy in config.json), or those named in
   * `refs`. A real run holds the exclusive lock, needs approval (critical)
   * and is audited; a dry run changes nothing.
   * @example const plan = await repo.forget({ rules: { keepDaily: 7 }, dryRun: true });
   */
  async forget(options: ForgetOptions = {}): Promise<ForgetSummary> {
    // A dry run with prune counts objects, so it needs the store to stand still: exclusive then.
    if (options.dryRun) return this.withLock('forget', options.prune === true, () => forgetDryRun(this, options));
    const { onPruneProgress: _p, ...args } = options;
    return this.audited('forget', { ...args }, () => this.withLock('forget', true, () => forgetUnlocked(this, options)), (r) => r.removed);
  }

  /**
   * Deletes every object no remaining snapshot uses (mark and sweep), under
   * the exclusive lock, after approval (critical); audited.
   * @example const { deletedObjects, deletedBytes } = await repo.prune();
   */
  async prune(options: Omit<PruneOptions, 'approve' | 'assumeForgotten'> = {}): Promise<PruneSummary> {
    if (options.dryRun) return this.withLock('prune', true, () => pruneUnlocked(this, options));
    const { onProgress: _p, ...args } = options;
    return this.audited('prune', { ...args }, () => this.withLock('prune', true, () => pruneUnlocked(this, { ...options, approve: approvePrune(this) })));
  }

  /**
   * Checks every snapshot can be restored and the index agrees with the
   * store; `report.ok` is false when anything is damaged.
   * @example const report = await repo.verify({ readDataSubset: '10%' });
   */
  verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    return this.withLock('verify', false, () => verifyRepository(this, options));
  }

  /**
   * Repository statistics: snapshots by source and type, logical, unique and stored sizes, ratios.
   * @example const { dedupRatio } = await repo.stats();
   */
  stats(): Promise<RepositoryStats> {
    return this.withLock('stats', false, () => repositoryStats(this));
  }

  /**
   * One snapshot's totals, what it added over its parent, and breakdowns by top-level folder and extension.
   * @example const { folders } = await repo.snapshotStats('latest');
   */
  snapshotStats(ref: string): Promise<SnapshotStatsReport> {
    return this.withLock('stats', false, () => snapshotStats(this, ref));
  }

  /**
   * The config as dotted keys (retention filled in with its defaults).
   * @example for (const e of repo.showConfig().entries) console.log(e.key, e.value);
   */
  showConfig(): ConfigView {
    return showConfig(this);
  }

  /**
   * One config value (an object for a prefix such as retention.daily).
   * @example repo.getConfig('retention.daily.keepWithin').value // '7d'
   */
  getConfig(key: string): { key: string; value: unknown } {
    return getConfigValue(this, key);
  }

  /**
   * Sets a retention key from its text form; audited.
   * @example await repo.setConfig('retention.daily.keepWithin', '14d');
   */
  setConfig(key: string, value: string): Promise<ConfigChange> {
    return this.audited('config', { key, value }, async () => setConfigValue(this, key, value));
  }

  /**
   * Removes a retention key (keepMinimum and timeZone return to their defaults); audited.
   * @example await repo.unsetConfig('retention.hourly');
   */
  unsetConfig(key: string): Promise<ConfigChange> {
    return this.audited('config', { key, unset: true }, async () => unsetConfigValue(this, key));
  }
}

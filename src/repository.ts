/**
 * The public facade: open or create a repository, then call one method per
 * operation. Each method is a thin wrapper over a function in src/snapshot or
 * src/ops, which the CLI and the tests share.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CairnError } from './errors.js';
import type { LogQuery, SnapshotRow } from './index/versionIndex.js';
import { catFile, listSnapshot, logSnapshots, showSnapshot, type LsEntry, type ShowResult } from './ops/browse.js';
import { getConfigValue, setConfigValue, showConfig, unsetConfigValue, type ConfigChange, type ConfigView } from './ops/configure.js';
import { forgetDryRun, forgetUnlocked, type ForgetOptions, type ForgetSummary } from './ops/forget.js';
import { approvePrune, pruneUnlocked, type PruneOptions, type PruneSummary } from './ops/prune.js';
import { rebuildIndex, type RebuildSummary } from './ops/rebuildIndex.js';
import { defaultRetention, retentionToJson } from './ops/retentionConfig.js';
import { repositoryStats, snapshotStats, type RepositoryStats, type SnapshotStatsReport } from './ops/stats.js';
import { verifyRepository, type VerifyOptions, type VerifyReport } from './ops/verify.js';
import { restoreToNewTarget, type RestoreOptions, type RestoreSummary } from './ops/restore.js';
import { RepoContext, type ContextOptions } from './repoContext.js';
import { defaultConfig, writeConfig } from './repositoryConfig.js';
import { initLocation, locateRepository, type LocateOptions } from './repositoryLocator.js';
import { takeSnapshot, type SnapshotOptions, type SnapshotSummary } from './snapshot/snapshotter.js';
import type { ObjectId } from './store/objectId.js';
import { fsyncDir } from './util/durableFs.js';

export type OpenOptions = LocateOptions & ContextOptions;

export class Repository extends RepoContext {
  /**
   * Creates a repository: `.cairn/` in `cwd`, or the directory named by
   * `repo` (or CAIRN_REPO) itself.
   * @example const repo = await Repository.init({ cwd: '/srv/app' });
   */
  static async init(options: OpenOptions = {}): Promise<Repository> {
    const loc = initLocation(options);
    if (fs.existsSync(path.join(loc.dir, 'config.json'))) {
      throw new CairnError('REPOSITORY_EXISTS', `a cairn repository already exists at ${loc.dir}`, { hint: 'use it as it is, or choose another directory' });
    }
    if (fs.existsSync(loc.dir) && fs.readdirSync(loc.dir).length > 0) {
      throw new CairnError('REPOSITORY_EXISTS', `${loc.dir} exists and is not empty`, { hint: 'choose a new or empty directory for the repository' });
    }
    for (const sub of ['', 'objects', 'snapshots', 'refs/heads', 'refs/tags', 'tmp', 'locks', 'audit']) {
      fs.mkdirSync(path.join(loc.dir, sub), { recursive: true });
    }
    writeConfig(loc.dir, { ...defaultConfig(), retention: retentionToJson(defaultRetention()) });
    await fsyncDir(loc.dir);
    const repo = new Repository(loc, options);
    repo.index; // create the index now
    repo.record('init', { repository: loc.dir }, 'ok', { started: Date.now() });
    return repo;
  }

  /**
   * Opens the repository named by `repo`, CAIRN_REPO, or the nearest `.cairn/` above `cwd`.
   * @example const repo = await Repository.open({ repo: '/backups/app' });
   */
  static async open(options: OpenOptions = {}): Promise<Repository> {
    const repo = new Repository(locateRepository(options), options);
    repo.index;
    if (repo.needsRebuild) {
      await rebuildIndex(repo);
      repo.needsRebuild = false;
    }
    return repo;
  }

  /**
   * Takes a snapshot of a directory.
   * @example const { id, manifest } = await repo.snapshot({ path: '/srv/app', message: 'before upgrade' });
   */
  snapshot(options: SnapshotOptions = {}): Promise<SnapshotSummary> {
    const { onProgress: _p, onWarning: _w, onError: _e, ...args } = options;
    return this.audited('snapshot', { ...args }, () => takeSnapshot(this, options), (r) => [r.id]);
  }

  /**
   * Restores a snapshot into a new or empty directory.
   * @example await repo.restore('latest', { target: '/tmp/restored' });
   */
  async restore(ref: string, options: RestoreOptions): Promise<RestoreSummary> {
    const { onProgress: _p, ...args } = options;
    return this.audited(
      'restore',
      { ref, ...args },
      async () => {
        const id = await this.resolveRef(ref);
        return this.withLock('restore', false, () => restoreToNewTarget(this, id, options));
      },
      (r) => [r.snapshot],
    );
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
   * Rebuilds index.db from the object store.
   * @example const { snapshots } = await repo.rebuildIndex();
   */
  rebuildIndex(): Promise<RebuildSummary> {
    return this.audited('rebuild-index', {}, () => this.withLock('rebuild-index', false, () => rebuildIndex(this)));
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

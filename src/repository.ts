/**
 * The public facade: open or create a repository, then call one method per
 * operation. Each method is a thin wrapper over a function in src/snapshot or
 * src/ops, which the CLI and the tests share.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CairnError, UsageError } from './errors.js';
import type { LogQuery, SnapshotRow } from './index/versionIndex.js';
import { catFile, listSnapshot, logSnapshots, showSnapshot, type LsEntry, type ShowResult } from './ops/browse.js';
import { rebuildIndex, type RebuildSummary } from './ops/rebuildIndex.js';
import { restoreToNewTarget, type RestoreOptions, type RestoreSummary } from './ops/restore.js';
import { restoreDatabase, type DatabaseRestoreOptions, type DatabaseRestoreSummary } from './ops/restoreDatabase.js';
import { RepoContext, type ContextOptions } from './repoContext.js';
import { defaultConfig, writeConfig } from './repositoryConfig.js';
import { initLocation, locateRepository, type LocateOptions } from './repositoryLocator.js';
import { takeSnapshot, type SnapshotOptions, type SnapshotSummary } from './snapshot/snapshotter.js';
import { takeSqliteSnapshot, type SqliteSnapshotOptions } from './snapshot/sqliteSnapshot.js';
import { takeStreamSnapshot, type StreamSnapshotOptions } from './snapshot/streamSnapshot.js';
import type { ObjectId } from './store/objectId.js';
import { fsyncDir } from './util/durableFs.js';

export type OpenOptions = LocateOptions & ContextOptions;

/** The outcome of snapshotting several databases: one snapshot each, failures listed. */
export interface SqliteBatchSummary {
  snapshots: SnapshotSummary[];
  failed: Array<{ path: string; error: CairnError }>;
}

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
    writeConfig(loc.dir, defaultConfig());
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
   * Takes a consistent snapshot of one SQLite database (safe while other
   * processes write it); throws when it cannot be copied or fails its check.
   * @example const { id } = await repo.snapshotSqlite({ path: '/srv/app/app.db', type: 'daily' });
   */
  snapshotSqlite(options: SqliteSnapshotOptions): Promise<SnapshotSummary> {
    const { onProgress: _p, ...args } = options;
    return this.audited('snapshot', { sqlite: options.path, ...args }, () => takeSqliteSnapshot(this, options), (r) => [r.id]);
  }

  /**
   * Snapshots several SQLite databases, one snapshot each; a database that
   * fails does not stop the others (it is listed in `failed`).
   * @example const { snapshots, failed } = await repo.snapshotSqliteAll(['a.db', 'b.db'], { type: 'daily' });
   */
  async snapshotSqliteAll(paths: readonly string[], options: Omit<SqliteSnapshotOptions, 'path'> = {}): Promise<SqliteBatchSummary> {
    if (paths.length === 0) throw new UsageError('no database to snapshot', { hint: 'cairn snapshot --sqlite PATH' });
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
  snapshotStream(options: StreamSnapshotOptions): Promise<SnapshotSummary> {
    const { onProgress: _p, onCommandStderr: _s, input: _i, ...args } = options;
    return this.audited('snapshot', { ...args, ...(options.input ? { stdin: true } : {}) }, () => takeStreamSnapshot(this, options), (r) => [r.id]);
  }

  /**
   * Restores a snapshot. A directory snapshot goes into a new or empty
   * directory (`target`); a database snapshot goes back to its path (or the
   * file `target`) after a restore point, see ops/restoreDatabase.ts.
   * @example await repo.restore('latest', { target: '/tmp/restored' });
   */
  async restore(ref: string, options: RestoreOptions | DatabaseRestoreOptions): Promise<RestoreSummary | DatabaseRestoreSummary> {
    const { onProgress: _p, ...args } = options as RestoreOptions;
    return this.audited(
      'restore',
      { ref, ...args },
      async () => {
        const id = await this.resolveRef(ref);
        const manifest = await this.readManifest(id);
        if (manifest.kind === 'sqlite') return this.withLock('restore', false, () => restoreDatabase(this, id, manifest, options));
        const target = options.target;
        if (!target) throw new UsageError('restore needs --target DIR', { hint: 'cairn restore <ref> --target DIR' });
        return this.withLock('restore', false, () => restoreToNewTarget(this, id, { ...(options as RestoreOptions), target }));
      },
      (r) => [r.snapshot, ...((r as Partial<DatabaseRestoreSummary>).restorePoint ? [(r as DatabaseRestoreSummary).restorePoint!] : [])],
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
}

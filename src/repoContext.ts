/**
 * The repository core every operation works on: config, object store,
 * version index, refs, tree and manifest loading, ref resolution and locks.
 * Operations (src/snapshot, src/ops) take a RepoContext; the public facade
 * (repository.ts) adds one method per operation.
 */
import { processAlive } from './util/processAlive.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AmbiguousRefError, IntegrityError, NotFoundError, UsageError, CairnError, isErrno } from './errors.js';
import { VersionIndex } from './index/versionIndex.js';
import { decodeManifest, type Manifest } from './model/manifest.js';
import { decodeTree, type TreeEntry } from './model/tree.js';
import { nameBytes } from './model/entryName.js';
import { FsObjectStore } from './store/fsObjectStore.js';
import type { ObjectId } from './store/objectId.js';
import { OBJECTS_DIR } from './store/objectPath.js';
import { readConfig, type RepositoryConfig } from './repositoryConfig.js';
import { RepositoryLock } from './repositoryLock.js';
import { listSnapshotMarkers } from './refs.js';
import { LruCache } from './util/treeCache.js';
import { silentLogger, type Logger } from './util/logger.js';
import type { Location } from './repositoryLocator.js';
import { AuditTrail, type AuditOutcome } from './auditTrail.js';
import { needsApproval, refuseAll, type ApprovalRequest, type Approver } from './approval.js';
import { RefusedError } from './errors.js';
import { quoteName } from './util/quoteName.js';

export const INDEX_FILE = 'index.db';
export const TMP_DIR = 'tmp';

export interface ContextOptions {
  logger?: Logger;
  /** Called with user-facing warnings (the CLI prints them on stderr). */
  onWarning?: (message: string) => void;
  /** Decides high and critical operations; the default refuses them. */
  approve?: Approver;
  /** Added to the refusal message (the CLI names --yes here). */
  refusalHint?: string;
  /** Arguments recorded in audit lines (the CLI passes its argv). */
  auditArgs?: Record<string, unknown>;
}

/** A decoded tree's weight in the tree cache: its entries, plus its inline content in units of 256 characters. */
function treeWeight(entries: readonly TreeEntry[]): number {
  let w = entries.length + 1;
  for (const e of entries) if (e.type === 'file') w += ((e.inline ?? e.rawInline)?.length ?? 0) >>> 8;
  return w;
}

export class RepoContext {
  readonly dir: string;
  readonly workRoot: string | null;
  readonly config: RepositoryConfig;
  readonly store: FsObjectStore;
  readonly logger: Logger;
  readonly warn: (message: string) => void;
  readonly audit: AuditTrail;
  private readonly approver: Approver;
  private readonly refusalHint: string | undefined;
  private readonly auditArgs: Record<string, unknown>;
  private indexHandle: VersionIndex | undefined;
  /** Decoded trees, at most ~20k entries in all (a few MiB); 256 characters of inline content weigh as one entry. */
  private readonly trees = new LruCache<string, readonly TreeEntry[]>(20_000, treeWeight);

  constructor(loc: Location, options: ContextOptions = {}) {
    this.dir = loc.dir;
    this.workRoot = loc.workRoot;
    this.config = readConfig(loc.dir);
    this.logger = options.logger ?? silentLogger;
    this.warn = options.onWarning ?? ((m) => this.logger.warn(m));
    this.audit = new AuditTrail(this.dir, this.warn);
    this.approver = options.approve ?? refuseAll;
    this.refusalHint = options.refusalHint;
    this.auditArgs = options.auditArgs ?? {};
    fs.mkdirSync(this.tmpDir, { recursive: true });
    this.store = new FsObjectStore(path.join(this.dir, OBJECTS_DIR), {
      tempDir: this.tmpDir,
      compression: this.config.compression,
    });
  }

  get tmpDir(): string {
    return path.join(this.dir, TMP_DIR);
  }

  get indexFile(): string {
    return path.join(this.dir, INDEX_FILE);
  }

  /** The version index, opened on first use. */
  get index(): VersionIndex {
    this.indexHandle ??= VersionIndex.open(this.indexFile);
    return this.indexHandle;
  }

  /**
   * Whether index.db is lost while the store holds snapshots: `missing` (deleted), `empty` (zero bytes: killed
   * while it was being created, or truncated; SQLite would take it for a new, empty database), else null.
   * open() then rebuilds it from the store.
   */
  indexLoss(): 'missing' | 'empty' | null {
    let size: number;
    try {
      size = fs.statSync(this.indexFile).size;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      return listSnapshotMarkers(this.dir).length > 0 ? 'missing' : null;
    }
    return size === 0 && listSnapshotMarkers(this.dir).length > 0 ? 'empty' : null;
  }

  closeIndex(): void {
    this.indexHandle?.close();
    this.indexHandle = undefined;
  }

  close(): void {
    this.closeIndex();
  }

  lock(operation: string, exclusive = false): RepositoryLock {
    return RepositoryLock.acquire(this.dir, operation, exclusive);
  }

  /** Runs `fn` under a lock, releasing it however `fn` ends. */
  async withLock<T>(operation: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    const lock = this.lock(operation, exclusive);
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /**
   * Asks for approval of a high or critical operation; audits the request and
   * the decision; throws RefusedError when not approved. Low risk passes.
   */
  async requestApproval(request: ApprovalRequest): Promise<void> {
    if (!needsApproval(request.risk)) return;
    const started = Date.now();
    let approved = false;
    try {
      approved = await this.approver(request);
    } finally {
      this.record('approval', { operation: request.operation, summary: request.summary, ...(request.details ?? {}) }, approved ? 'ok' : 'refused', {
        started,
        risk: request.risk,
        approved,
      });
    }
    if (!approved) {
      throw new RefusedError(`${request.operation} was not approved: ${request.summary}`, {
        ...(this.refusalHint ? { hint: this.refusalHint } : {}),
        details: { operation: request.operation, risk: request.risk },
      });
    }
  }

  /**
   * Removes temp files left in tmp/ by processes that died (kill -9, power
   * loss). Names carry the writer's pid; a file of a live process is kept.
   */
  cleanStaleTemp(): number {
    let removed = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.tmpDir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const m = /^[a-z.]+-(\d+)-[0-9a-f]+/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === process.pid || processAlive(pid)) continue;
      fs.rmSync(path.join(this.tmpDir, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /** Appends one audit line. */
  record(
    op: string,
    args: Record<string, unknown>,
    outcome: AuditOutcome,
    extra: { started: number; snapshots?: string[]; error?: string; message?: string; risk?: string; approved?: boolean },
  ): void {
    const { host, user } = RepoContext.identity();
    this.audit.append({
      time: new Date().toISOString(),
      op,
      user,
      host,
      args: { ...this.auditArgs, ...args },
      snapshots: extra.snapshots ?? [],
      outcome,
      ...(extra.error ? { error: extra.error } : {}),
      ...(extra.message ? { message: extra.message } : {}),
      durationMs: Date.now() - extra.started,
      ...(extra.risk ? { risk: extra.risk } : {}),
      ...(extra.approved !== undefined ? { approved: extra.approved } : {}),
      pid: process.pid,
    });
  }

  /** Runs an operation that changes the repository or a target, auditing its outcome. */
  async audited<T>(op: string, args: Record<string, unknown>, fn: () => Promise<T>, snapshotsOf: (r: T) => string[] = () => []): Promise<T> {
    const started = Date.now();
    try {
      const result = await fn();
      this.record(op, args, 'ok', { started, snapshots: snapshotsOf(result) });
      return result;
    } catch (err) {
      const code = err instanceof CairnError ? err.code : 'INTERNAL';
      this.record(op, args, code === 'REFUSED' ? 'refused' : 'error', { started, error: code, message: (err as Error).message });
      throw err;
    }
  }

  /** Remembers a tree just written, so reading it back (diff, history) costs nothing. */
  cacheTree(id: ObjectId, entries: readonly TreeEntry[]): void {
    this.trees.set(id, entries);
  }

  /**
   * loadTree() on the calling thread: the snapshot walk reads base trees this way (small objects; no thread-pool
   * round trip). With `keep: false` a tree read now is not cached (a restore reads each tree once: caching them
   * only held their entries and inline contents in memory).
   */
  loadTreeSync(id: ObjectId, options: { keep?: boolean } = {}): readonly TreeEntry[] {
    const hit = this.trees.get(id);
    if (hit) return hit;
    // Decoded from the store's transient view (the reused read buffer or the snappy decoder's memory): decodeTree
    // keeps nothing of the bytes, so a copy of its own per tree (~45 ms of the tree's restore) is not needed.
    const entries = this.store.useSync(id, (bytes) => decodeTree(bytes, id).entries);
    if (options.keep !== false) this.trees.set(id, entries);
    return entries;
  }

  async loadTree(id: ObjectId): Promise<readonly TreeEntry[]> {
    const hit = this.trees.get(id);
    if (hit) return hit;
    const entries = decodeTree(await this.store.get(id), id).entries;
    this.trees.set(id, entries);
    return entries;
  }

  async readManifest(id: ObjectId): Promise<Manifest> {
    return decodeManifest(await this.store.get(id), id);
  }

  /**
   * Resolves a ref: a full id, a unique prefix of at least 4 hex characters,
   * a tag, `latest`, and any of these followed by ~N (N steps back: for
   * `latest`, the Nth snapshot before the newest; otherwise along first parents).
   * As in git, `~` alone is `~1` and steps add up: `latest~1~2` is `latest~3`.
   * An id prefix the index lacks is looked up among the snapshot markers: a snapshot whose manifest is damaged
   * is left out of the index (reconcileIndex), and naming it is an IntegrityError naming it, not "not found";
   * with `allowDamaged` (forget) its id is returned.
   */
  async resolveRef(ref: string, options: { allowDamaged?: boolean } = {}): Promise<ObjectId> {
    const m = /^(.*?)((?:~\d*)*)$/.exec(ref.trim());
    const head = m?.[1] ?? '';
    const steps = (m?.[2] ?? '').split('~').slice(1).reduce((sum, n) => sum + (n === '' ? 1 : Number(n)), 0);
    if (head === '') throw new UsageError(`empty snapshot reference "${ref}"`, { hint: 'use an id prefix, a tag or latest' });
    if (!Number.isSafeInteger(steps)) throw new UsageError(`${ref}: too many steps back`, { hint: 'see `cairn log` for how many snapshots there are' });
    if (head === 'latest') {
      const rows = this.index.list({ limit: steps + 1 });
      const row = rows[steps];
      if (!row) {
        if (rows.length === 0) throw new NotFoundError('the repository has no snapshots yet', { hint: 'take one with `cairn snapshot`' });
        throw new NotFoundError(`${ref}: there ${rows.length === 1 ? 'is only 1 snapshot' : `are only ${rows.length} snapshots`}`, { hint: 'see `cairn log`' });
      }
      return row.id;
    }
    let id: ObjectId | undefined;
    const tag = this.index.tag(head);
    if (tag) id = tag.snapshot;
    else if (/^[0-9a-f]{4,64}$/.test(head)) {
      const ids = this.index.idsWithPrefix(head, 5);
      if (ids.length > 1) {
        throw new AmbiguousRefError(`snapshot prefix ${head} is ambiguous: ${ids.map((i) => i.slice(0, 12)).join(', ')}`, {
          hint: 'give more characters of the id',
        });
      }
      id = ids[0] ?? (await this.unindexedSnapshot(head, options.allowDamaged === true && steps === 0));
    } else if (/^[0-9a-fA-F]{1,3}$/.test(head)) {
      throw new UsageError(`snapshot prefix "${head}" is too short`, { hint: 'give at least 4 hex characters' });
    }
    if (!id) throw new NotFoundError(`no snapshot or tag matches "${head}"`, { hint: 'see `cairn log` and `cairn tags`' });
    for (let i = 0; i < steps; i++) {
      const row = this.index.get(id);
      const parent = row?.parents[0];
      if (!parent) throw new NotFoundError(`${ref}: snapshot ${id.slice(0, 8)} has no parent`);
      id = parent;
    }
    return id;
  }

  /**
   * The one snapshot marker starting with `prefix` that has no index row, or undefined. Its manifest is read:
   * one that cannot be read or is invalid throws that error unless `allowDamaged`; a readable one (a snapshot
   * committed by another process since this one caught the index up) is returned.
   */
  private async unindexedSnapshot(prefix: string, allowDamaged: boolean): Promise<ObjectId | undefined> {
    const ids = listSnapshotMarkers(this.dir).filter((id) => id.startsWith(prefix) && !this.index.get(id));
    if (ids.length > 1) {
      throw new AmbiguousRefError(`snapshot prefix ${prefix} is ambiguous: ${ids.slice(0, 5).map((i) => i.slice(0, 12)).join(', ')}`, {
        hint: 'give more characters of the id',
      });
    }
    const id = ids[0];
    if (id !== undefined && !allowDamaged) await this.readManifest(id);
    return id;
  }

  /** Why snapshot `id`'s manifest is damaged (missing, corrupted or invalid), or null when it is fine; I/O errors are thrown. */
  async manifestDamage(id: ObjectId): Promise<string | null> {
    try {
      await this.readManifest(id);
      return null;
    } catch (err) {
      if (err instanceof IntegrityError) return err.message;
      throw err;
    }
  }

  /** Finds the entry at `relPath` inside tree `root` ('' is the root itself, returned as a dir entry). */
  async entryAt(root: ObjectId, relPath: string): Promise<TreeEntry | null> {
    const parts = relPath.split('/').filter((p) => p !== '' && p !== '.');
    let current: TreeEntry = { name: '', type: 'dir', mode: 0o755, mtime: '0', tree: root };
    for (const part of parts) {
      if (current.type !== 'dir') return null;
      const want = Buffer.from(part, 'utf8');
      const next = (await this.loadTree(current.tree!)).find((e) => nameBytes(e).equals(want) || e.name === part);
      if (!next) return null;
      current = next;
    }
    return current;
  }

  /** Like entryAt, but a missing path is a NotFoundError naming the snapshot. */
  async requireEntry(snapshot: ObjectId, root: ObjectId, relPath: string): Promise<TreeEntry> {
    const e = await this.entryAt(root, relPath);
    if (!e) throw new NotFoundError(`${quoteName(relPath)} does not exist in snapshot ${snapshot.slice(0, 8)}`, { hint: `see \`cairn ls ${snapshot.slice(0, 8)}\`` });
    return e;
  }

  /** Identity recorded in manifests and audit lines. */
  static identity(): { host: string; user: string } {
    let user = 'unknown';
    try {
      user = os.userInfo().username;
    } catch {
      user = process.env.USER ?? 'unknown';
    }
    return { host: os.hostname(), user };
  }
}


export function isCairnError(err: unknown): err is CairnError {
  return err instanceof CairnError;
}

export { IntegrityError };

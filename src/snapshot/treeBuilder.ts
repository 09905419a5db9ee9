/**
 * Walks a source directory and stores it as trees and file chunks.
 *
 * Change detection: when a base tree is given, a file whose size, mtime (ns),
 * ctime (ns), inode and mode equal the base entry's reuses the base's chunk
 * list unread, unless its mtime or ctime is at or after the base scan's start
 * (a "racily clean" file, changed within the same tick the base saw it).
 */
import type { BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { ChunkerParams } from '../chunk/chunkerParams.js';
import { describeError, isErrno, SourceError } from '../errors.js';
import { nameBytes, nameFields } from '../model/entryName.js';
import { encodeTree, type TreeEntry } from '../model/tree.js';
import type { SnapshotProblem } from '../model/manifest.js';
import type { ObjectId } from '../store/objectId.js';
import type { ObjectWriter } from '../store/objectStore.js';
import { Limiter } from '../util/limiter.js';
import { storeBuffer, storeStream, type ContentResult } from './contentWriter.js';
import type { ExcludeMatcher } from './excludes.js';

export interface WalkProgress {
  files: number;
  bytes: number;
  bytesRead: number;
  path: string;
}

export interface TreeBuilderOptions {
  store: ObjectWriter;
  chunker: ChunkerParams;
  excludes: ExcludeMatcher;
  /** Absolute paths never to enter (the repository itself). */
  skipPaths: ReadonlySet<string>;
  /** Loads a base tree's entries (cached by the caller). */
  loadTree: (id: ObjectId) => Promise<readonly TreeEntry[]>;
  /** Reuse unchanged files' chunks from the base (incremental/differential). */
  reuse: boolean;
  /** ns: the base scan's start; entries modified at or after it are re-read. */
  baseScanStart: bigint | null;
  onWarning?: (p: SnapshotProblem) => void;
  onError?: (p: SnapshotProblem) => void;
  onProgress?: (p: WalkProgress) => void;
  /** Concurrent file reads. */
  readConcurrency?: number;
}

export interface WalkCounts {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  bytesRead: number;
  filesRead: number;
  newObjects: number;
  newBytes: number;
}

const SLASH = Buffer.from('/');
const MAX_READ_ATTEMPTS = 3;

/** Files up to this size are stored as one blob: the chunker's average size, at most 1 MiB. */
export function smallFileLimit(p: ChunkerParams): number {
  return Math.min(p.kind === 'cdc' ? p.avg : p.size, 1024 * 1024);
}

/**
 * May a file reuse its base entry's chunks unread? Only when size, mtime,
 * ctime, inode and mode all match and neither time is at or after the base
 * scan's start (racy clean: a same-tick change could hide behind equal stats).
 */
export function canReuseEntry(st: BigIntStats, base: TreeEntry | undefined, baseScanStart: bigint | null): boolean {
  if (!base || base.type !== 'file' || baseScanStart === null) return false;
  if (base.size !== Number(st.size) || base.mtime !== st.mtimeNs.toString() || base.ctime !== st.ctimeNs.toString()) return false;
  if (base.ino !== Number(st.ino) || base.mode !== Number(st.mode & 0o7777n)) return false;
  return st.mtimeNs < baseScanStart && st.ctimeNs < baseScanStart;
}

function sameStat(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

export class TreeBuilder {
  readonly counts: WalkCounts = { files: 0, dirs: 0, symlinks: 0, bytes: 0, bytesRead: 0, filesRead: 0, newObjects: 0, newBytes: 0 };
  private readonly reads: Limiter;
  /** Files up to this size are one blob, read whole. */
  private readonly smallFile: bigint;
  /** Large files hold a chunking buffer and chunks in flight: fewer at once bounds memory. */
  private readonly bigReads = new Limiter(2);
  private activeDirs = 0;
  private lastPath = '';

  constructor(private readonly o: TreeBuilderOptions) {
    this.reads = new Limiter(o.readConcurrency ?? 4);
    this.smallFile = BigInt(smallFileLimit(o.chunker));
  }

  /** Stores the directory `root` and returns its tree id. */
  async build(root: string, baseTree: ObjectId | null): Promise<ObjectId> {
    return this.dir(Buffer.from(root), '', baseTree, true);
  }

  private problem(kind: 'warning' | 'error', path: string, err: unknown): void {
    const p = { path, message: describeError(err) };
    if (kind === 'error') this.o.onError?.(p);
    else this.o.onWarning?.(p);
  }

  private async dir(abs: Buffer, rel: string, baseTree: ObjectId | null, isRoot = false): Promise<ObjectId> {
    let dirents;
    try {
      dirents = await fsp.readdir(abs, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      if (isRoot) throw new SourceError(`cannot read source directory ${abs.toString()}: ${describeError(err)}`, { cause: err });
      throw err;
    }
    const baseEntries = new Map<string, TreeEntry>();
    if (baseTree) for (const e of await this.o.loadTree(baseTree)) baseEntries.set(nameBytes(e).toString('latin1'), e);

    const children: Array<{ name: Buffer; abs: Buffer; rel: string }> = [];
    for (const d of dirents) {
      const name = d.name as unknown as Buffer;
      const childAbs = Buffer.concat([abs, SLASH, name]);
      const childRel = rel === '' ? name.toString('utf8') : `${rel}/${name.toString('utf8')}`;
      if (this.o.skipPaths.has(childAbs.toString('utf8'))) continue;
      if (this.o.excludes.excludes(childRel, d.isDirectory())) continue;
      children.push({ name, abs: childAbs, rel: childRel });
    }
    const stats = await Promise.all(
      children.map((c) =>
        fsp.lstat(c.abs, { bigint: true }).catch((err: unknown) => {
          if (isErrno(err, 'ENOENT')) this.problem('warning', c.rel, new Error('vanished while being read; not stored'));
          else this.problem('error', c.rel, err);
          return undefined;
        }),
      ),
    );

    const entries: Array<TreeEntry | undefined> = new Array(children.length);
    const work: Array<Promise<void>> = [];
    for (let i = 0; i < children.length; i++) {
      const c = children[i]!;
      const st = stats[i];
      if (!st) continue;
      const base = baseEntries.get(c.name.toString('latin1'));
      const common = {
        ...nameFields(c.name),
        mode: Number(st.mode & 0o7777n),
        mtime: st.mtimeNs.toString(),
        ctime: st.ctimeNs.toString(),
        ino: Number(st.ino),
        uid: Number(st.uid),
        gid: Number(st.gid),
      };
      if (st.isFile()) {
        work.push(
          this.file(c.abs, c.rel, st, base).then(
            (r) => {
              if (r) entries[i] = { ...common, ...r.stat, type: 'file', size: r.size, chunks: r.chunks };
            },
            (err: unknown) => this.problem('error', c.rel, err),
          ),
        );
      } else if (st.isDirectory()) {
        const task = async (): Promise<void> => {
          try {
            const tree = await this.dir(c.abs, c.rel, base?.type === 'dir' ? (base.tree ?? null) : null);
            entries[i] = { ...common, type: 'dir', tree };
            this.counts.dirs++;
          } catch (err) {
            this.problem('error', c.rel, err);
          }
        };
        // Walk a few directories concurrently; beyond that, inline (never waits on a permit, so never deadlocks).
        if (this.activeDirs < 8) {
          this.activeDirs++;
          work.push(task().finally(() => this.activeDirs--));
        } else {
          await task();
        }
      } else if (st.isSymbolicLink()) {
        work.push(
          fsp.readlink(c.abs, { encoding: 'buffer' }).then(
            (target) => {
              const t = nameFields(target);
              entries[i] = { ...common, type: 'symlink', size: target.length, target: t.name, ...(t.rawName ? { rawTarget: t.rawName } : {}) };
              this.counts.symlinks++;
            },
            (err: unknown) => this.problem('error', c.rel, err),
          ),
        );
      } else {
        this.problem('warning', c.rel, new Error('is a socket, FIFO or device; skipped'));
      }
    }
    await Promise.all(work);
    const tree = encodeTree(entries.filter((e): e is TreeEntry => e !== undefined));
    const put = await this.o.store.put(tree);
    if (put.written) {
      this.counts.newObjects++;
      this.counts.newBytes += put.storedBytes;
    }
    return put.id;
  }

  private canReuse(st: BigIntStats, base: TreeEntry | undefined): boolean {
    return this.o.reuse && canReuseEntry(st, base, this.o.baseScanStart);
  }

  private async file(
    abs: Buffer,
    rel: string,
    st: BigIntStats,
    base: TreeEntry | undefined,
  ): Promise<{ chunks: ObjectId[]; size: number; stat?: Partial<TreeEntry> } | undefined> {
    if (this.canReuse(st, base)) {
      this.counts.files++;
      this.counts.bytes += Number(st.size);
      this.progress(rel);
      return { chunks: base!.chunks ?? [], size: Number(st.size) };
    }
    const small = st.size <= this.smallFile;
    return (small ? this.reads : this.bigReads).run(async () => {
      let before = st;
      for (let attempt = 1; ; attempt++) {
        const fh = await fsp.open(abs, 'r');
        let r: ContentResult;
        let after: BigIntStats;
        try {
          r =
            before.size <= this.smallFile
              ? await storeBuffer(this.o.store, await fh.readFile())
              : await storeStream(this.o.store, async (buf, off, len) => (await fh.read(buf, off, len, null)).bytesRead, this.o.chunker);
          after = await fh.stat({ bigint: true });
        } finally {
          await fh.close();
        }
        this.counts.bytesRead += r.size;
        this.counts.newObjects += r.newObjects;
        this.counts.newBytes += r.newBytes;
        const changed = !sameStat(before, after) || BigInt(r.size) !== after.size;
        if (!changed || attempt >= MAX_READ_ATTEMPTS) {
          if (changed) this.problem('warning', rel, new Error(`changed while being read (${attempt} attempts); the stored copy may be inconsistent`));
          this.counts.files++;
          this.counts.filesRead++;
          this.counts.bytes += r.size;
          this.progress(rel);
          // Record the stat seen after reading so the next snapshot compares against what was stored.
          return {
            chunks: r.chunks,
            size: r.size,
            // A file that kept changing gets a ctime that never matches, so the next snapshot reads it again.
            stat: { mtime: after.mtimeNs.toString(), ctime: changed ? '0' : after.ctimeNs.toString(), ino: Number(after.ino), mode: Number(after.mode & 0o7777n) },
          };
        }
        before = after;
      }
    });
  }

  private progress(rel: string): void {
    this.lastPath = rel;
    this.o.onProgress?.({ files: this.counts.files, bytes: this.counts.bytes, bytesRead: this.counts.bytesRead, path: this.lastPath });
  }
}

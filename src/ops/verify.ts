/**
 * `cairn verify`: checks that every snapshot can be restored and that the
 * index agrees with the store, and reports damage in user terms (which
 * objects, which snapshots, which files).
 *
 * - Every snapshot marker's manifest is read (store.get re-hashes it) and
 *   parsed; every tree below it is read and parsed; every chunk a file names
 *   must exist. With readData every chunk is also read and re-hashed; with a
 *   subset only a sample is ("10%": random; "2/5": the second of five fixed
 *   groups by id, so five runs cover everything).
 * - Each distinct tree and chunk is checked once (the checked sets are
 *   scratch SQLite tables, so memory stays bounded); damage found under a
 *   shared subtree is reported for every snapshot that holds it.
 * - The index is compared with the store: snapshot markers against index
 *   rows (and each row's fields against its manifest), HEAD and tag refs
 *   against the index, and SQLite's own quick_check.
 * - Every restore journal (an interrupted restore) must be readable and valid:
 *   one that is not blocks restores into its target, prune and forget.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CairnError, UsageError } from '../errors.js';
import { ObjectSet } from '../index/objectSet.js';
import { verifiedInline } from '../model/fileContent.js';
import type { Manifest } from '../model/manifest.js';
import { isInline } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import { headFileName, listSnapshotMarkers, scanRefs, tagFileName } from '../refs.js';
import type { ObjectId } from '../store/objectId.js';
import { readTreeUncached } from './prune.js';
import { damagedJournalError, listJournals } from './restoreJournal.js';
import { quoteName } from '../util/quoteName.js';

export type DamageProblem = 'missing' | 'corrupted' | 'unreadable';

export interface VerifyOptions {
  /** Read and re-hash every chunk. */
  readData?: boolean;
  /** Read a sample: "10%" (random, or seeded by `seed`) or "n/t" (the n-th of t fixed groups). */
  readDataSubset?: string;
  /** Seed for a percentage sample (a random one is chosen and reported otherwise). */
  seed?: string;
  onProgress?: (p: VerifyProgress) => void;
}

export interface VerifyProgress {
  snapshots: number;
  snapshotsTotal: number;
  trees: number;
  objects: number;
  bytesRead: number;
}

export interface DamagedObject {
  id: ObjectId;
  kind: 'manifest' | 'tree' | 'chunk';
  problem: DamageProblem;
  message: string;
  /** Snapshots it breaks. */
  snapshots: ObjectId[];
}

export interface DamagedFile {
  /** File path; a directory path ends in '/' (everything under it); '' is the whole snapshot. */
  path: string;
  object: ObjectId;
  problem: DamageProblem;
}

export interface DamagedSnapshot {
  id: ObjectId;
  source: string | null;
  time: string | null;
  type: string | null;
  /** Set when the whole snapshot is lost (its manifest or root tree). */
  problem: string | null;
  /** Damaged files (at most FILES_LISTED), and how many in all. */
  files: DamagedFile[];
  damagedFiles: number;
}

export interface IndexProblem {
  problem:
    | 'index-damaged'
    | 'missing-from-index'
    | 'not-in-store'
    | 'index-mismatch'
    | 'head-mismatch'
    | 'head-dangling'
    | 'tag-mismatch'
    | 'tag-dangling'
    | 'ref-unreadable';
  message: string;
  snapshot?: string;
  source?: string;
  tag?: string;
}

/** A restore journal that cannot be used (an interrupted restore nobody can finish or undo from it). */
export interface JournalProblem {
  problem: 'journal-damaged' | 'journal-unreadable';
  /** The journal file. */
  file: string;
  /** The target it is for, when known. */
  target?: string;
  message: string;
  /** What to do. */
  hint: string;
}

export interface ReadDataSample {
  mode: 'none' | 'all' | 'percent' | 'subset';
  /** The subset as given ("10%", "2/5"). */
  spec?: string;
  /** The seed of a percentage sample (pass it as `seed` to read the same sample again). */
  seed?: string;
  objectsRead: number;
  bytesRead: number;
}

export interface VerifyReport {
  ok: boolean;
  snapshots: number;
  /** Distinct trees read. */
  trees: number;
  /** Distinct chunks checked. */
  objects: number;
  readData: ReadDataSample;
  damagedObjects: DamagedObject[];
  damagedSnapshots: DamagedSnapshot[];
  indexProblems: IndexProblem[];
  journalProblems: JournalProblem[];
}

const FILES_LISTED = 1000;

interface RelDamage {
  path: string;
  object: ObjectId;
  problem: DamageProblem;
}

interface TreeDamage {
  list: RelDamage[];
  count: number;
}

/** The read-data sampler for a subset spec. */
export function sampler(spec: string | undefined, readAll: boolean, seed?: string): { sample: ReadDataSample; selected: (id: string) => boolean } {
  if (spec === undefined) {
    return readAll ? { sample: { mode: 'all', objectsRead: 0, bytesRead: 0 }, selected: () => true } : { sample: { mode: 'none', objectsRead: 0, bytesRead: 0 }, selected: () => false };
  }
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(spec);
  if (pct) {
    const p = Number(pct[1]);
    if (!(p > 0 && p <= 100)) throw new UsageError(`--read-data-subset ${spec}: the percentage must be above 0 and at most 100`);
    const s = seed ?? randomBytes(8).toString('hex');
    const limit = (p / 100) * 2 ** 32;
    return {
      sample: { mode: 'percent', spec, seed: s, objectsRead: 0, bytesRead: 0 },
      selected: (id) => p === 100 || parseInt(createHash('sha256').update(`${s}:${id}`).digest('hex').slice(0, 8), 16) < limit,
    };
  }
  const frac = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  if (frac) {
    const n = Number(frac[1]);
    const t = Number(frac[2]);
    if (!(t >= 1 && n >= 1 && n <= t)) throw new UsageError(`--read-data-subset ${spec}: use n/t with 1 <= n <= t`);
    return { sample: { mode: 'subset', spec, objectsRead: 0, bytesRead: 0 }, selected: (id) => parseInt(id.slice(0, 8), 16) % t === n - 1 };
  }
  throw new UsageError(`--read-data-subset "${spec}" is neither a percentage nor n/t`, { hint: 'e.g. --read-data-subset 10% or --read-data-subset 1/5' });
}

export async function verifyRepository(ctx: RepoContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { sample, selected } = sampler(options.readDataSubset, options.readData === true, options.seed);
  const cleanTrees = ObjectSet.create(ctx.tmpDir, 'verify.trees');
  const okChunks = ObjectSet.create(ctx.tmpDir, 'verify.chunks');
  try {
    return await new Verifier(ctx, options, sample, selected, cleanTrees, okChunks).run();
  } finally {
    cleanTrees.dispose();
    okChunks.dispose();
  }
}

class Verifier {
  private readonly damagedTrees = new Map<ObjectId, TreeDamage>();
  private readonly badObjects = new Map<ObjectId, DamagedObject>();
  private trees = 0;
  private objects = 0;
  private progress: VerifyProgress = { snapshots: 0, snapshotsTotal: 0, trees: 0, objects: 0, bytesRead: 0 };

  constructor(
    private readonly ctx: RepoContext,
    private readonly options: VerifyOptions,
    private readonly sample: ReadDataSample,
    private readonly selected: (id: string) => boolean,
    private readonly cleanTrees: ObjectSet,
    private readonly okChunks: ObjectSet,
  ) {}

  private report(): void {
    this.progress = { ...this.progress, trees: this.trees, objects: this.objects, bytesRead: this.sample.bytesRead };
    this.options.onProgress?.(this.progress);
  }

  private async classify(id: ObjectId, err: unknown): Promise<{ problem: DamageProblem; message: string }> {
    const message = (err as Error).message;
    let present = true;
    try {
      present = await this.ctx.store.has(id);
    } catch {
      return { problem: 'unreadable', message };
    }
    if (!present) return { problem: 'missing', message: `object ${id} is missing from the store` };
    return { problem: err instanceof CairnError && err.code !== 'IO' ? 'corrupted' : 'unreadable', message };
  }

  private bad(id: ObjectId, kind: DamagedObject['kind'], d: { problem: DamageProblem; message: string }): void {
    if (!this.badObjects.has(id)) this.badObjects.set(id, { id, kind, problem: d.problem, message: d.message, snapshots: [] });
  }

  /** null when the chunk is fine. */
  private async checkChunk(id: ObjectId): Promise<DamageProblem | null> {
    const known = this.badObjects.get(id);
    if (known) return known.problem;
    if (this.okChunks.has(id)) return null;
    this.objects++;
    if (this.objects % 1000 === 0) this.report();
    try {
      if (this.selected(id)) {
        this.sample.objectsRead++;
        const data = await this.ctx.store.get(id);
        this.sample.bytesRead += data.length;
      } else if (!(await this.ctx.store.has(id))) {
        this.bad(id, 'chunk', { problem: 'missing', message: `object ${id} is missing from the store` });
        return 'missing';
      }
    } catch (err) {
      const d = await this.classify(id, err);
      this.bad(id, 'chunk', d);
      return d.problem;
    }
    this.okChunks.add(id);
    return null;
  }

  private async checkTree(id: ObjectId): Promise<TreeDamage> {
    if (this.cleanTrees.has(id)) return { list: [], count: 0 };
    const known = this.damagedTrees.get(id);
    if (known) return known;
    let entries;
    try {
      // Read from disk, not the tree cache: verify must see what is stored now.
      entries = await readTreeUncached(this.ctx, id);
      this.trees++;
    } catch (err) {
      const d = await this.classify(id, err);
      this.bad(id, 'tree', d);
      const damage = { list: [{ path: '', object: id, problem: d.problem }], count: 1 };
      this.damagedTrees.set(id, damage);
      return damage;
    }
    const out: TreeDamage = { list: [], count: 0 };
    const add = (p: string, object: ObjectId, problem: DamageProblem) => {
      out.count++;
      if (out.list.length < FILES_LISTED) out.list.push({ path: p, object, problem });
    };
    for (const e of entries) {
      if (e.type === 'file' && isInline(e)) {
        try {
          verifiedInline(e);
        } catch (err) {
          this.bad(id, 'tree', { problem: 'corrupted', message: `tree ${id}: ${(err as Error).message}` });
          add(e.name, id, 'corrupted');
        }
      } else if (e.type === 'file') {
        for (const c of e.chunks ?? []) {
          const problem = await this.checkChunk(c);
          if (problem) add(e.name, c, problem);
        }
      } else if (e.type === 'dir') {
        const sub = await this.checkTree(e.tree!);
        for (const s of sub.list) add(s.path === '' ? `${e.name}/` : `${e.name}/${s.path}`, s.object, s.problem);
        out.count += sub.count - Math.min(sub.count, sub.list.length);
      }
    }
    if (out.count === 0) this.cleanTrees.add(id);
    else this.damagedTrees.set(id, out);
    return out;
  }

  async run(): Promise<VerifyReport> {
    const ctx = this.ctx;
    const markers = listSnapshotMarkers(ctx.dir).sort();
    this.progress.snapshotsTotal = markers.length;
    const manifests = new Map<ObjectId, Manifest>();
    const damagedSnapshots: DamagedSnapshot[] = [];
    for (const id of markers) {
      let m: Manifest | undefined;
      try {
        m = await ctx.readManifest(id);
        manifests.set(id, m);
      } catch (err) {
        const d = await this.classify(id, err);
        this.bad(id, 'manifest', d);
        this.badObjects.get(id)!.snapshots.push(id);
        const row = ctx.index.get(id);
        damagedSnapshots.push({
          id,
          source: row?.source ?? null,
          time: row?.time ?? null,
          type: row?.type ?? null,
          problem: `its manifest is ${d.problem}: nothing of this snapshot can be restored`,
          files: [],
          damagedFiles: 0,
        });
      }
      if (m) {
        const damage = await this.checkTree(m.tree);
        if (damage.count > 0) {
          const whole = damage.list.length === 1 && damage.list[0]!.path === '';
          for (const obj of new Set(damage.list.map((d) => d.object))) this.badObjects.get(obj)?.snapshots.push(id);
          damagedSnapshots.push({
            id,
            source: m.source,
            time: m.time,
            type: m.type,
            problem: whole ? `its root tree is ${damage.list[0]!.problem}: nothing of this snapshot can be restored` : null,
            files: whole ? [] : damage.list.map((d) => ({ ...d })),
            damagedFiles: whole ? 0 : damage.count,
          });
        }
      }
      this.progress.snapshots++;
      this.report();
    }
    const indexProblems = this.checkIndex(manifests);
    const journalProblems = checkJournals(ctx);
    // Oldest first, as a user reads history.
    const timeOf = (id: string) => {
      const t = manifests.get(id as ObjectId)?.time ?? ctx.index.get(id as ObjectId)?.time;
      return t === undefined ? Number.POSITIVE_INFINITY : Date.parse(t);
    };
    const chronological = (a: string, b: string) => timeOf(a) - timeOf(b) || (a < b ? -1 : 1);
    damagedSnapshots.sort((a, b) => chronological(a.id, b.id));
    for (const o of this.badObjects.values()) o.snapshots.sort(chronological);
    return {
      ok: this.badObjects.size === 0 && damagedSnapshots.length === 0 && indexProblems.length === 0 && journalProblems.length === 0,
      snapshots: markers.length,
      trees: this.trees,
      objects: this.objects,
      readData: this.sample,
      damagedObjects: [...this.badObjects.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      damagedSnapshots,
      indexProblems,
      journalProblems,
    };
  }

  private checkIndex(manifests: Map<ObjectId, Manifest>): IndexProblem[] {
    const ctx = this.ctx;
    const out: IndexProblem[] = [];
    const rebuild = 'run `cairn rebuild-index`';
    try {
      const rows = ctx.index.db.pragma('quick_check', { simple: false }) as Array<{ quick_check: string }>;
      const bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
      if (bad.length) out.push({ problem: 'index-damaged', message: `the index database is damaged: ${bad.slice(0, 3).join('; ')}; ${rebuild}` });
    } catch (err) {
      out.push({ problem: 'index-damaged', message: `the index database cannot be checked: ${(err as Error).message}; ${rebuild}` });
      return out;
    }
    // Listed again now, so a snapshot that finished while verify ran is not reported half-written.
    const markers = new Set<string>(listSnapshotMarkers(ctx.dir));
    const rowIds = new Set<string>(ctx.index.allIds());
    for (const id of markers) {
      // A damaged manifest is reported above, and left out of the index on purpose (reconcileIndex).
      if (this.badObjects.get(id as ObjectId)?.kind === 'manifest') continue;
      if (!rowIds.has(id) && !ctx.index.get(id as ObjectId)) {
        out.push({ problem: 'missing-from-index', snapshot: id, message: `snapshot ${id.slice(0, 12)} is in the store but missing from the index; ${rebuild}` });
      }
    }
    for (const id of rowIds) {
      if (!markers.has(id)) {
        out.push({
          problem: 'not-in-store',
          snapshot: id,
          message: `the index lists snapshot ${id.slice(0, 12)}, which the store does not have (an interrupted forget?); run \`cairn prune\` or \`cairn rebuild-index\``,
        });
        continue;
      }
      const m = manifests.get(id as ObjectId);
      const row = ctx.index.get(id as ObjectId);
      if (!m || !row) continue;
      const diffs: string[] = [];
      if (row.tree !== m.tree) diffs.push('tree');
      if (row.source !== m.source) diffs.push('source');
      if (row.timeMs !== Date.parse(m.time)) diffs.push('time');
      if (row.type !== m.type) diffs.push('type');
      if (row.mode !== m.mode) diffs.push('mode');
      if (row.parents.join(',') !== m.parents.join(',')) diffs.push('parents');
      if (diffs.length) out.push({ problem: 'index-mismatch', snapshot: id, message: `the index row of snapshot ${id.slice(0, 12)} disagrees with its manifest (${diffs.join(', ')}); ${rebuild}` });
    }
    // refs against the index, as reconcileIndex and rebuild-index read them: a ref file that cannot be used is
    // reported as such (and the index row of its name is left alone); a ref naming a snapshot that is not there
    // (or whose manifest is damaged) is reported as dangling, and the index should not have it.
    const refs = scanRefs(ctx.dir);
    const damagedRefs = new Set<string>();
    for (const d of refs.damaged) {
      damagedRefs.add(`${d.kind}/${d.name}`);
      out.push({ problem: 'ref-unreadable', message: `ref file refs/${d.kind}/${d.name} is unreadable: ${d.why}` });
    }
    const present = (id: ObjectId) => markers.has(id) && this.badObjects.get(id)?.kind !== 'manifest';
    const indexHeads = new Map(ctx.index.heads().map((h) => [h.source, h.head]));
    for (const h of refs.heads.values()) {
      if (!markers.has(h.snapshot)) out.push({ problem: 'head-dangling', source: h.source, snapshot: h.snapshot, message: `the HEAD of ${quoteName(h.source)} names snapshot ${h.snapshot.slice(0, 12)}, which does not exist` });
      const want = present(h.snapshot) ? h.snapshot : undefined;
      if (indexHeads.get(h.source) !== want) {
        out.push({ problem: 'head-mismatch', source: h.source, message: `the index has a different HEAD for ${quoteName(h.source)} than refs/heads; ${rebuild}` });
      }
      indexHeads.delete(h.source);
    }
    for (const [source] of indexHeads) {
      if (damagedRefs.has(`heads/${headFileName(source)}`)) continue;
      out.push({ problem: 'head-mismatch', source, message: `the index has a HEAD for ${quoteName(source)} but refs/heads has none; ${rebuild}` });
    }
    const indexTags = new Map(ctx.index.tags().map((t) => [t.name, t]));
    for (const [name, t] of refs.tags) {
      if (!markers.has(t.snapshot)) out.push({ problem: 'tag-dangling', tag: name, snapshot: t.snapshot, message: `tag ${name} names snapshot ${t.snapshot.slice(0, 12)}, which does not exist` });
      const row = indexTags.get(name);
      const agrees = present(t.snapshot) ? row?.snapshot === t.snapshot && row.time === t.time && row.message === t.message : row === undefined;
      if (!agrees) out.push({ problem: 'tag-mismatch', tag: name, message: `tag ${name} differs between refs/tags and the index; ${rebuild}` });
      indexTags.delete(name);
    }
    for (const [name] of indexTags) {
      if (damagedRefs.has(`tags/${tagFileName(name)}`)) continue;
      out.push({ problem: 'tag-mismatch', tag: name, message: `the index has tag ${name} but refs/tags has none; ${rebuild}` });
    }
    return out;
  }
}

/** The restore journals that cannot be read or fail validation. */
function checkJournals(ctx: RepoContext): JournalProblem[] {
  let journals;
  try {
    journals = listJournals(ctx.dir);
  } catch (err) {
    const file = path.join(ctx.dir, 'restores');
    return [{ problem: 'journal-unreadable', file, message: `the restore journals in ${quoteName(file)} cannot be listed: ${(err as Error).message}`, hint: 'check the permissions of that directory' }];
  }
  return journals.flatMap((r): JournalProblem[] => {
    if (!r.damage) return [];
    const d = r.damage;
    const e = damagedJournalError(d);
    return [{ problem: d.kind === 'damaged' ? 'journal-damaged' : 'journal-unreadable', file: d.file, ...(d.target ? { target: d.target } : {}), message: e.message, hint: e.hint ?? '' }];
  });
}

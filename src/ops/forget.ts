/**
 * `cairn forget`: removes snapshots chosen by a retention policy (the
 * --keep-* flags, else the per-type policy in config.json) or named by ref.
 *
 * Forgetting a snapshot removes its marker (snapshots/<id>, durably: the
 * source of truth) and then its index rows; its manifest, and any tree or
 * chunk no other snapshot uses, become garbage that prune deletes. Tags on a
 * forgotten snapshot (only with includeTagged) are deleted first; a forgotten
 * HEAD (only when named by ref) moves to the newest remaining snapshot of
 * its source. A crash part way leaves at most index rows without a marker,
 * which prune and rebuild-index drop.
 *
 * A snapshot whose manifest is damaged (missing, corrupted or invalid) has a
 * marker but no index row, so no policy ever chooses it; named by id it is
 * forgotten like any other (its marker removed), so that prune, which stops
 * at a manifest it cannot read, can run again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotFoundError, RefusedError, UsageError } from '../errors.js';
import type { SnapshotRow } from '../index/versionIndex.js';
import { assertSnapshotType } from '../model/manifest.js';
import type { RepoContext } from '../repoContext.js';
import { removeHead, removeTag, snapshotMarker, soundRefs, writeHead } from '../refs.js';
import type { ObjectId } from '../store/objectId.js';
import { fsyncDir } from '../util/durableFs.js';
import { pendingRestores } from './restoreInPlace.js';
import { approvePrune, pruneUnlocked, type PruneProgress, type PruneSummary } from './prune.js';
import { configPolicy, retentionFromConfig } from './retentionConfig.js';
import { applyRetention, type RetentionKeep, type RetentionPolicy, type RetentionRules } from './retentionPolicy.js';

export interface ForgetOptions {
  /** Forget exactly these snapshots (refs); no policy flags may be given with them. */
  refs?: readonly string[];
  /** Explicit rules (the --keep-* flags); without them and without keepTypes, the config policy applies. */
  rules?: RetentionRules;
  keepTypes?: readonly string[];
  includeTagged?: boolean;
  /** Overrides the config's keepMinimum. */
  keepMinimum?: number;
  /** Overrides the config's time zone. */
  timeZone?: string;
  /** Only this source directory. */
  source?: string;
  dryRun?: boolean;
  /** Prune right after (in a dry run: report what prune would free). */
  prune?: boolean;
  onPruneProgress?: (p: PruneProgress) => void;
}

export interface ForgetItem {
  id: ObjectId;
  source: string;
  time: string;
  type: string;
  tags: string[];
  isHead: boolean;
  keep: boolean;
  reasons: string[];
}

export interface DamagedForget {
  id: ObjectId;
  message: string;
  tags: string[];
}

export interface ForgetSummary {
  dryRun: boolean;
  /** Where the decision came from. */
  policy: 'flags' | 'config' | 'refs';
  keep: RetentionKeep[];
  remove: Array<{ id: ObjectId }>;
  /** Every snapshot considered, newest first, with its decision (for display). */
  snapshots: ForgetItem[];
  /** Snapshots actually forgotten (empty in a dry run). */
  removed: ObjectId[];
  headsMoved: Array<{ source: string; from: ObjectId; to: ObjectId | null }>;
  tagsRemoved: string[];
  /** Named snapshots whose manifest is damaged (also in `remove`): why, and their tags. */
  damaged: DamagedForget[];
  prune?: PruneSummary;
}

function hasRuleFlags(o: ForgetOptions): boolean {
  return (o.rules !== undefined && Object.values(o.rules).some((v) => v !== undefined)) || (o.keepTypes?.length ?? 0) > 0;
}

function resolveSource(p: string): string {
  if (p.startsWith('stream:')) return p; // a --stdin / --from-command source is a name, not a path
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}

interface Plan {
  summary: ForgetSummary;
  rows: Map<ObjectId, SnapshotRow>;
  /** The HEAD refs (refs/heads), by source, as read and checked for the plan. */
  refHeads: Map<string, ObjectId>;
}

/** Decides what to forget; changes nothing. */
export async function planForget(ctx: RepoContext, o: ForgetOptions): Promise<Plan> {
  const explicitRefs = (o.refs?.length ?? 0) > 0;
  if (explicitRefs && (hasRuleFlags(o) || o.keepMinimum !== undefined)) {
    throw new UsageError('give either snapshots to forget or --keep-* rules, not both', { hint: 'cairn forget <ref>... or cairn forget --keep-daily 7 ...' });
  }
  for (const t of o.keepTypes ?? []) assertSnapshotType(t, '--keep-type');
  let rows = ctx.index.list();
  if (o.source !== undefined) {
    const src = resolveSource(o.source);
    rows = rows.filter((r) => r.source === src);
    if (rows.length === 0) throw new NotFoundError(`no snapshots of source ${src}`, { hint: 'see `cairn log` for the sources' });
  }
  // HEADs: a snapshot that is its own source's HEAD is always kept. A restore also makes a snapshot the
  // HEAD of its target directory; that keeps it while the directory exists (its next snapshot builds on
  // it), and is dropped with the snapshot once the directory is gone.
  const allRows = new Map(ctx.index.list().map((r) => [r.id, r]));
  // A HEAD or tag whose ref file cannot be read may protect any snapshot: stop rather than forget past it.
  const refs = soundRefs(ctx.dir, 'forget stopped before forgetting anything');
  const headPairs = [...[...refs.heads.values()].map((h) => ({ source: h.source, head: h.snapshot })), ...ctx.index.heads()];
  const heads = new Set<string>();
  const pins = new Map<string, string[]>();
  const pin = (id: string, why: string) => {
    const list = pins.get(id) ?? [];
    if (!list.includes(why)) list.push(why);
    pins.set(id, list);
  };
  for (const { source, head } of headPairs) {
    const own = allRows.get(head)?.source;
    if (own === undefined || own === source) heads.add(head);
    else if (fs.existsSync(source)) pin(head, `HEAD of ${source} (restored there)`);
  }
  const refTags = new Map<string, string[]>();
  for (const t of [...ctx.index.tags(), ...refs.tags.values()]) {
    const list = refTags.get(t.snapshot) ?? [];
    if (!list.includes(t.name)) list.push(t.name);
    refTags.set(t.snapshot, list);
  }
  const inRestore = new Map<string, string>();
  for (const r of pendingRestores(ctx, 'forget stopped before forgetting anything (what an interrupted restore needs is unknown)')) {
    inRestore.set(r.snapshot, `needed by the interrupted restore into ${r.target}`);
    if (r.restorePoint) inRestore.set(r.restorePoint, `restore point of the interrupted restore into ${r.target}`);
  }
  for (const [id, why] of inRestore) pin(id, why);
  const tagsOf = (r: SnapshotRow) => [...new Set([...r.tags, ...(refTags.get(r.id) ?? [])])].sort();
  const byId = new Map(rows.map((r) => [r.id, r]));

  let keep: RetentionKeep[];
  let remove: Array<{ id: ObjectId }>;
  let policyKind: ForgetSummary['policy'];
  const damaged: DamagedForget[] = [];
  if (explicitRefs) {
    policyKind = 'refs';
    const named = new Set<ObjectId>();
    for (const ref of o.refs!) {
      const id = await ctx.resolveRef(ref, { allowDamaged: true });
      const row = byId.get(id);
      const damage = row || o.source !== undefined ? null : await ctx.manifestDamage(id);
      if (!row && damage === null) {
        throw new NotFoundError(o.source !== undefined ? `snapshot ${id.slice(0, 12)} is not a snapshot of ${o.source}` : `snapshot ${id.slice(0, 12)} is not in the index`, {
          hint: 'see `cairn log`',
        });
      }
      const tags = row ? tagsOf(row) : [...(refTags.get(id) ?? [])].sort();
      if (tags.length > 0 && !o.includeTagged) {
        throw new RefusedError(`snapshot ${id.slice(0, 12)} is tagged ${tags.join(', ')}; tagged snapshots are kept`, {
          hint: 'delete the tag first, or pass --include-tagged to forget the snapshot and delete its tags',
        });
      }
      if (inRestore.has(id)) {
        throw new RefusedError(`snapshot ${id.slice(0, 12)} is ${inRestore.get(id)}`, {
          hint: 'finish or undo that restore first: cairn restore --resume or cairn restore --rollback',
        });
      }
      if (damage !== null && !named.has(id)) damaged.push({ id, message: damage, tags });
      named.add(id);
    }
    keep = rows.filter((r) => !named.has(r.id)).map((r) => ({ id: r.id, reasons: ['not named'] }));
    remove = [...rows.filter((r) => named.has(r.id)).map((r) => ({ id: r.id })), ...damaged.map((d) => ({ id: d.id }))];
  } else {
    const settings = retentionFromConfig(ctx.config);
    const base = configPolicy(settings);
    const policy: RetentionPolicy = hasRuleFlags(o)
      ? { rules: o.rules ?? {}, keepTypes: o.keepTypes ?? [], keepMinimum: settings.keepMinimum, timeZone: settings.timeZone }
      : base;
    policyKind = hasRuleFlags(o) ? 'flags' : 'config';
    if (o.keepMinimum !== undefined) policy.keepMinimum = o.keepMinimum;
    if (o.timeZone !== undefined) policy.timeZone = o.timeZone;
    if (o.includeTagged) policy.includeTagged = true;
    const decision = applyRetention(
      rows.map((r) => ({
        id: r.id,
        time: r.time,
        type: r.type,
        source: r.source,
        tags: tagsOf(r),
        isHead: heads.has(r.id),
        ...(pins.has(r.id) ? { pins: pins.get(r.id)! } : {}),
      })),
      policy,
    );
    keep = decision.keep;
    remove = decision.remove as Array<{ id: ObjectId }>;
  }

  const reasons = new Map(keep.map((k) => [k.id, k.reasons]));
  const snapshots: ForgetItem[] = rows.map((r) => ({
    id: r.id,
    source: r.source,
    time: r.time,
    type: r.type,
    tags: tagsOf(r),
    isHead: heads.has(r.id),
    keep: reasons.has(r.id),
    reasons: reasons.get(r.id) ?? [],
  }));
  return {
    summary: { dryRun: true, policy: policyKind, keep, remove, snapshots, removed: [], headsMoved: [], tagsRemoved: [], damaged },
    rows: byId,
    refHeads: new Map([...refs.heads.values()].map((h) => [h.source, h.snapshot])),
  };
}

/** A dry run: the plan, and with `prune` what prune would then free. */
export async function forgetDryRun(ctx: RepoContext, o: ForgetOptions): Promise<ForgetSummary> {
  const { summary } = await planForget(ctx, o);
  if (o.prune) {
    summary.prune = await pruneUnlocked(ctx, {
      dryRun: true,
      assumeForgotten: new Set(summary.remove.map((r) => r.id)),
      ...(o.onPruneProgress ? { onProgress: o.onPruneProgress } : {}),
    });
  }
  return summary;
}

function describe(summary: ForgetSummary, rows: Map<ObjectId, SnapshotRow>, prune: boolean): string {
  const sources = new Set<string>();
  const types = new Map<string, number>();
  for (const r of summary.remove) {
    const row = rows.get(r.id);
    if (!row) continue; // a damaged snapshot: counted below
    sources.add(row.source);
    types.set(row.type, (types.get(row.type) ?? 0) + 1);
  }
  const typeText = [...types].map(([t, n]) => `${n} ${t}`).join(', ');
  const whole = summary.remove.length - summary.damaged.length;
  const damagedText = summary.damaged.length ? `${whole ? ' and ' : ''}${summary.damaged.length} with a damaged manifest` : '';
  return (
    `this will forget ${whole ? `${whole} of ${summary.snapshots.length} snapshots (${typeText}) of ${sources.size} source${sources.size === 1 ? '' : 's'}` : ''}${damagedText}` +
    (prune ? ', then delete the data only they used' : '; prune deletes their data later')
  );
}

/**
 * Forgets snapshots for real. The caller holds the exclusive lock; this asks
 * for approval (critical) before changing anything.
 */
export async function forgetUnlocked(ctx: RepoContext, o: ForgetOptions): Promise<ForgetSummary> {
  const { summary, rows, refHeads } = await planForget(ctx, o);
  summary.dryRun = false;
  const pruneApproval = approvePrune(ctx);
  if (summary.remove.length === 0) {
    if (o.prune) summary.prune = await pruneUnlocked(ctx, { approve: pruneApproval, ...(o.onPruneProgress ? { onProgress: o.onPruneProgress } : {}) });
    return summary;
  }
  await ctx.requestApproval({
    operation: o.prune ? 'forget --prune' : 'forget',
    risk: 'critical',
    summary: describe(summary, rows, o.prune === true),
    details: { remove: summary.remove.map((r) => r.id), policy: summary.policy },
  });
  const removing = new Set<ObjectId>(summary.remove.map((r) => r.id));

  // 1. tags on forgotten snapshots (only reachable with includeTagged)
  for (const item of [...summary.snapshots, ...summary.damaged]) {
    if (!removing.has(item.id)) continue;
    for (const name of item.tags) {
      removeTag(ctx.dir, name);
      ctx.index.deleteTag(name);
      summary.tagsRemoved.push(name);
    }
  }
  // 2. HEADs that point at a forgotten snapshot move to the newest remaining one of the source
  const remaining = ctx.index.list().filter((r) => !removing.has(r.id));
  const indexHeads = new Map(ctx.index.heads().map((h) => [h.source, h.head]));
  for (const source of new Set([...refHeads.keys(), ...indexHeads.keys()])) {
    const head = [refHeads.get(source), indexHeads.get(source)].find((h) => h !== undefined && removing.has(h));
    if (head === undefined) continue;
    const next = remaining.find((r) => r.source === source && r.type !== 'restore-point') ?? remaining.find((r) => r.source === source);
    if (next) writeHead(ctx.dir, { source, snapshot: next.id });
    else removeHead(ctx.dir, source);
    ctx.index.setHead(source, next?.id ?? null);
    summary.headsMoved.push({ source, from: head, to: next?.id ?? null });
  }
  // 3. markers (the source of truth), durably
  for (const id of removing) fs.rmSync(snapshotMarker(ctx.dir, id), { force: true });
  if (removing.size > 0) await fsyncDir(path.join(ctx.dir, 'snapshots'));
  // 4. index rows
  ctx.index.transaction(() => {
    for (const id of removing) ctx.index.removeSnapshot(id);
  });
  summary.removed = [...removing];
  if (o.prune) summary.prune = await pruneUnlocked(ctx, o.onPruneProgress ? { onProgress: o.onPruneProgress } : {});
  return summary;
}

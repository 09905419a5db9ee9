/**
 * Tags: unique names for snapshots. The ref file refs/tags/<name>.json is the
 * source of truth (rebuild-index reads it back); the index's tags table is
 * the cache that ref resolution and `log` use. Both are written, file first;
 * a crash in between is caught up on the next open (reconcileIndex).
 *
 * Creating a tag is low risk. Moving one (--force) or deleting one is high
 * risk: it changes what a name that people and scripts rely on points to, so
 * it asks for approval first, and the audit trail records it.
 */
import { NotFoundError, RefusedError, UsageError } from '../errors.js';
import { tagNameProblem } from '../model/tagName.js';
import type { RepoContext } from '../repoContext.js';
import { createTagExclusive, damagedRefHint, inspectTag, readTag, removeTag, scanRefs, tagFileName, writeTag, type TagRef } from '../refs.js';
import type { ObjectId } from '../store/objectId.js';
import { ISO_TIME_HINT, parseIsoTime } from '../util/isoTime.js';
import { shellWord } from '../util/quoteName.js';

export interface TagOptions {
  /** Move the tag if it exists (asks for approval). */
  force?: boolean;
  message?: string;
  /** Record this time instead of now (ISO-8601). */
  time?: string;
}

export interface TagSummary {
  name: string;
  /** The snapshot the tag names (deleted: named); null only for a deleted tag whose ref file was damaged. */
  snapshot: ObjectId | null;
  /** Where the tag pointed before (null when it is new). */
  previous: ObjectId | null;
  /** unchanged: --force onto the snapshot it already names (only the message may change). */
  action: 'created' | 'moved' | 'unchanged' | 'deleted';
}

export interface TagListEntry {
  name: string;
  snapshot: ObjectId;
  /** When the tag was set. */
  time: string;
  message: string;
  /** The tagged snapshot's own time and source (null if the snapshot is gone from the index). */
  snapshotTime: string | null;
  source: string | null;
}

/** Throws a UsageError unless `name` is a valid tag name. */
export function assertTagName(name: string): void {
  const problem = tagNameProblem(name);
  if (problem) {
    throw new UsageError(`"${name}" is not a valid tag name: ${problem}`, {
      hint: 'use letters, digits and . _ - / (e.g. v1.0 or release/2026-01); see `cairn tag --help`',
    });
  }
}

function existing(ctx: RepoContext, name: string): TagRef | undefined {
  // The ref file is the truth; the index answers when the file is missing but the index is stale.
  return readTag(ctx.dir, name) ?? ctx.index.tag(name);
}

/**
 * A tag whose ref file is damaged (not JSON, or not a tag ref: see inspectTag), else undefined. Such a name is
 * neither free nor a tag: creating it is refused unless forced, which replaces the file; deleting it removes it.
 */
function damagedTag(ctx: RepoContext, name: string): { file: string; why: string } | undefined {
  const s = inspectTag(ctx.dir, name);
  return s.state === 'damaged' ? s : undefined;
}

/** Checks names for `snapshot --tag` before any work is done: valid and not in use. */
export function checkNewTags(ctx: RepoContext, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    assertTagName(name);
    if (seen.has(name)) throw new UsageError(`tag ${name} is given twice`);
    seen.add(name);
    const damaged = damagedTag(ctx, name);
    if (damaged) {
      // Refused now, before the snapshot is taken, not after it (createTag refuses it too).
      throw new RefusedError(`tag ${name} cannot be read: ${damaged.file} is damaged (${damaged.why})`, {
        hint: `choose another name, or delete the damaged tag first with \`cairn tag -d ${shellWord(name)}\``,
      });
    }
    const t = existing(ctx, name);
    if (t) {
      throw new RefusedError(`tag ${name} already exists (on ${t.snapshot.slice(0, 8)})`, {
        hint: `choose another name, or move it afterwards with \`cairn tag --force ${shellWord(name)}\``,
      });
    }
  }
}

/** Tags a snapshot. An existing name fails unless `force`, which moves it after approval. */
export async function createTag(ctx: RepoContext, name: string, snapshot: ObjectId, options: TagOptions = {}): Promise<TagSummary> {
  assertTagName(name);
  const given = options.time === undefined ? Date.now() : parseIsoTime(options.time);
  if (given === undefined) throw new UsageError(`--time "${options.time}" is not an ISO-8601 time`, { hint: ISO_TIME_HINT });
  const time = new Date(given).toISOString();
  return ctx.withLock('tag', false, async () => {
    const damaged = damagedTag(ctx, name);
    if (damaged) {
      if (!options.force) {
        throw new RefusedError(`tag ${name} cannot be read: ${damaged.file} is damaged (${damaged.why})`, {
          hint: `pass --force to replace it with a tag on ${snapshot.slice(0, 8)}, or delete it with \`cairn tag -d ${shellWord(name)}\``,
        });
      }
      await ctx.requestApproval({
        operation: 'tag --force',
        risk: 'high',
        summary: `this will replace the damaged ref file of tag ${name} with a tag on snapshot ${snapshot.slice(0, 8)}`,
        details: { tag: name, to: snapshot, damaged: damaged.file },
      });
      const ref: TagRef = { name, snapshot, time, message: options.message ?? '' };
      writeTag(ctx.dir, ref);
      ctx.index.setTag(ref);
      return { name, snapshot, previous: null, action: 'created' as const };
    }
    const prev = existing(ctx, name);
    if (prev && !options.force) {
      throw new RefusedError(`tag ${name} already exists (on ${prev.snapshot.slice(0, 8)})`, {
        hint: prev.snapshot === snapshot ? 'it already names this snapshot' : `pass --force to move it to ${snapshot.slice(0, 8)}`,
      });
    }
    if (prev && prev.snapshot === snapshot && options.message === undefined) {
      return { name, snapshot, previous: prev.snapshot, action: 'unchanged' as const };
    }
    if (prev && prev.snapshot !== snapshot) {
      await ctx.requestApproval({
        operation: 'tag --force',
        risk: 'high',
        summary: `this will move tag ${name} from snapshot ${prev.snapshot.slice(0, 8)} to ${snapshot.slice(0, 8)}`,
        details: { tag: name, from: prev.snapshot, to: snapshot },
      });
    }
    const ref: TagRef = { name, snapshot, time, message: options.message ?? prev?.message ?? '' };
    if (prev) writeTag(ctx.dir, ref);
    else if (!createTagExclusive(ctx.dir, ref)) {
      // Another process created it since we looked.
      throw new RefusedError(`tag ${name} already exists`, { hint: `see \`cairn tags\`; pass --force to move it to ${snapshot.slice(0, 8)}` });
    }
    ctx.index.setTag(ref);
    const action = !prev ? 'created' : prev.snapshot === snapshot ? 'unchanged' : 'moved';
    return { name, snapshot, previous: prev?.snapshot ?? null, action };
  });
}

/** Deletes a tag after approval; the snapshot stays. */
export async function deleteTag(ctx: RepoContext, name: string): Promise<TagSummary> {
  return ctx.withLock('tag', false, async () => {
    const damaged = damagedTag(ctx, name);
    if (damaged) {
      await ctx.requestApproval({
        operation: 'tag --delete',
        risk: 'high',
        summary: `this will delete the damaged ref file of tag ${name} (${damaged.file}); no snapshot is touched`,
        details: { tag: name, damaged: damaged.file },
      });
      const indexed = ctx.index.tag(name)?.snapshot ?? null; // where the index last saw it: read before the row goes
      removeTag(ctx.dir, name);
      ctx.index.deleteTag(name);
      return { name, snapshot: indexed, previous: indexed, action: 'deleted' as const };
    }
    const prev = existing(ctx, name);
    if (!prev) throw new NotFoundError(`there is no tag ${name}`, { hint: 'see `cairn tags`' });
    await ctx.requestApproval({
      operation: 'tag --delete',
      risk: 'high',
      summary: `this will delete tag ${name} (on snapshot ${prev.snapshot.slice(0, 8)}); the snapshot stays`,
      details: { tag: name, snapshot: prev.snapshot },
    });
    removeTag(ctx.dir, name);
    ctx.index.deleteTag(name);
    return { name, snapshot: prev.snapshot, previous: prev.snapshot, action: 'deleted' as const };
  });
}

/**
 * Every tag, by name, from the index. A tag whose ref file is damaged is listed with the snapshot the index last
 * knew for it, if any, and a warning names the file (so a damaged tag is never silently shown as sound, or left out).
 */
export function listTags(ctx: RepoContext): TagListEntry[] {
  const rows = ctx.index.tags();
  for (const d of scanRefs(ctx.dir).damaged) {
    if (d.kind !== 'tags') continue;
    const row = rows.find((t) => tagFileName(t.name) === d.name);
    const listed = row ? `tag ${row.name} is listed with the snapshot the index last knew for it` : 'it is not listed';
    ctx.warn(`ref file ${d.file} is damaged (${d.why}); ${listed}: ${damagedRefHint(d)}`);
  }
  return rows.map((t) => {
    const row = ctx.index.get(t.snapshot);
    return { name: t.name, snapshot: t.snapshot, time: t.time, message: t.message, snapshotTime: row?.time ?? null, source: row?.source ?? null };
  });
}

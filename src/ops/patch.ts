/**
 * The content of one change: a unified diff of a text file (with the `diff`
 * package), or a one-line summary for binary files and files over the size
 * limit, with added/removed line counts for `diff --stat`.
 *
 * Output follows `git diff` closely: a `diff --git a/P b/P` header, mode lines,
 * `---`/`+++` (`/dev/null` for an added or deleted side), then hunks; a type
 * change (file ↔ symlink) is a deletion followed by an addition, as in git.
 * A file is text when its first 8000 bytes hold no NUL byte and the whole is
 * valid UTF-8; a symlink's content is its target (no final newline).
 * Files larger than the limit are never loaded: only their sizes are shown.
 * Names in the header lines are quoted (quoteName); content lines are the file's
 * own bytes, printed as they are, as git prints them.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { structuredPatch } from 'diff';
import { isErrno } from '../errors.js';
import { targetBytes } from '../model/tree.js';
import { fileChunk } from '../model/fileContent.js';
import type { ChangeStatus, EntrySide, TreeChange } from '../model/treeDiff.js';
import type { RepoContext } from '../repoContext.js';
import { quoteName } from '../util/quoteName.js';
import type { DiffEndpoint } from './diff.js';

/** Files above this size are summarised, never loaded (1 MiB). */
export const DEFAULT_PATCH_SIZE_LIMIT = 1024 * 1024;

export interface PatchOptions {
  /** Bytes: a larger file is summarised by its sizes (default 1 MiB). */
  sizeLimit?: number;
  /** Lines of context around each hunk (default 3, as git). */
  context?: number;
  /**
   * Edit-distance budget of the line diff; past it the patch replaces all old
   * lines by all new ones (still a correct patch, just not a minimal one).
   */
  maxEdits?: number;
}

export type PatchKind = 'text' | 'binary' | 'large' | 'mode';

export interface FilePatch {
  path: string;
  status: ChangeStatus;
  /** text: hunks below; binary / large: sizes only; mode: only mode bits changed. */
  kind: PatchKind;
  /** Lines added and removed (text only; 0 otherwise). */
  added: number;
  removed: number;
  oldSize: number | null;
  newSize: number | null;
  /** The git-style patch text, ending with a newline. */
  text: string;
}

const BINARY_SNIFF = 8000;
const LARGE = Symbol('large');
type Content = Buffer | typeof LARGE;

/** Octal type+permission bits as git prints them (120000 for every symlink). */
export function gitMode(side: Pick<EntrySide, 'type' | 'mode'>): string {
  if (side.type === 'symlink') return '120000';
  return (0o100000 | (side.mode & 0o7777)).toString(8);
}

function isText(b: Buffer): boolean {
  if (b.subarray(0, BINARY_SNIFF).includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

async function readDiskFile(file: string, limit: number): Promise<Content> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return Buffer.alloc(0); // vanished since the walk: shown as emptied
    throw err;
  }
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n > limit ? LARGE : buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** One side's bytes, or LARGE when over the limit (not read). */
async function readSide(ctx: RepoContext, endpoint: DiffEndpoint, relPath: string, side: EntrySide, limit: number): Promise<Content> {
  if (side.type === 'symlink') return targetBytes(side.entry);
  if (side.size > limit) return LARGE;
  if (endpoint.kind === 'dir') return readDiskFile(path.join(endpoint.dir, ...relPath.split('/')), limit);
  const parts: Buffer[] = [];
  for (const chunk of side.entry.chunks ?? []) parts.push(await fileChunk(ctx.store, side.entry, chunk));
  return Buffer.concat(parts);
}

function splitLines(text: string): { lines: string[]; finalNewline: boolean } {
  if (text === '') return { lines: [], finalNewline: true };
  const lines = text.split('\n');
  const finalNewline = lines[lines.length - 1] === '';
  if (finalNewline) lines.pop();
  return { lines, finalNewline };
}

function range(start: number, count: number): string {
  // git: a count of 1 is omitted; an empty range starts at the line before it.
  if (count === 0) return `${Math.max(0, start - 1)},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

interface Hunks {
  body: string[];
  added: number;
  removed: number;
}

function textHunks(oldText: string, newText: string, context: number, maxEdits: number): Hunks {
  const patch = structuredPatch('a', 'b', oldText, newText, undefined, undefined, { context, maxEditLength: maxEdits });
  const body: string[] = [];
  let added = 0;
  let removed = 0;
  if (patch) {
    for (const h of patch.hunks) {
      body.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`);
      for (const l of h.lines) {
        if (l.startsWith('+')) added++;
        else if (l.startsWith('-')) removed++;
        body.push(l);
      }
    }
    return { body, added, removed };
  }
  // Over the edit budget: replace everything (correct, not minimal).
  const o = splitLines(oldText);
  const n = splitLines(newText);
  body.push(`@@ -${range(1, o.lines.length)} +${range(1, n.lines.length)} @@`);
  for (const l of o.lines) body.push(`-${l}`);
  if (!o.finalNewline) body.push('\\ No newline at end of file');
  for (const l of n.lines) body.push(`+${l}`);
  if (!n.finalNewline) body.push('\\ No newline at end of file');
  return { body, added: n.lines.length, removed: o.lines.length };
}

function sizeOf(s: EntrySide | undefined): number | null {
  return s ? s.size : null;
}

/** The patch of a change whose two sides have the same type (or one side absent). */
async function sameTypePatch(
  ctx: RepoContext,
  from: DiffEndpoint,
  to: DiffEndpoint,
  change: TreeChange,
  o: Required<PatchOptions>,
): Promise<FilePatch> {
  const { old: a, new: b } = change;
  const p = change.path;
  const header = [`diff --git ${quoteName(`a/${p}`)} ${quoteName(`b/${p}`)}`];
  if (!a && b) header.push(`new file mode ${gitMode(b)}`);
  else if (a && !b) header.push(`deleted file mode ${gitMode(a)}`);
  else if (a && b && gitMode(a) !== gitMode(b)) header.push(`old mode ${gitMode(a)}`, `new mode ${gitMode(b)}`);
  const base = { path: p, status: change.status, oldSize: sizeOf(a), newSize: sizeOf(b) };
  if (change.modeOnly) return { ...base, kind: 'mode', added: 0, removed: 0, text: `${header.join('\n')}\n` };

  const oldName = a ? quoteName(`a/${p}`) : '/dev/null';
  const newName = b ? quoteName(`b/${p}`) : '/dev/null';
  const oldContent: Content = a ? await readSide(ctx, from, p, a, o.sizeLimit) : Buffer.alloc(0);
  const newContent: Content = b ? await readSide(ctx, to, p, b, o.sizeLimit) : Buffer.alloc(0);
  if (oldContent === LARGE || newContent === LARGE) {
    const line = `Large files ${oldName} and ${newName} differ (${base.oldSize ?? 0} -> ${base.newSize ?? 0} bytes; over the ${o.sizeLimit}-byte diff limit)`;
    return { ...base, kind: 'large', added: 0, removed: 0, text: `${[...header, line].join('\n')}\n` };
  }
  if (!isText(oldContent) || !isText(newContent)) {
    return { ...base, kind: 'binary', added: 0, removed: 0, text: `${[...header, `Binary files ${oldName} and ${newName} differ`].join('\n')}\n` };
  }
  const h = textHunks(oldContent.toString('utf8'), newContent.toString('utf8'), o.context, o.maxEdits);
  const lines = h.body.length ? [...header, `--- ${oldName}`, `+++ ${newName}`, ...h.body] : header;
  return { ...base, kind: 'text', added: h.added, removed: h.removed, text: `${lines.join('\n')}\n` };
}

/**
 * The patch of one change of a diff result: `from` and `to` are the result's
 * endpoints (a directory endpoint is read from disk).
 */
export async function filePatch(ctx: RepoContext, from: DiffEndpoint, to: DiffEndpoint, change: TreeChange, options: PatchOptions = {}): Promise<FilePatch> {
  const o: Required<PatchOptions> = {
    sizeLimit: options.sizeLimit ?? DEFAULT_PATCH_SIZE_LIMIT,
    context: options.context ?? 3,
    maxEdits: options.maxEdits ?? 4000,
  };
  if (change.status !== 'T') return sameTypePatch(ctx, from, to, change, o);
  // A type change is shown as git shows it: the old entry deleted, the new one added.
  const { new: _n, ...deletion } = change;
  const { old: _o, ...addition } = change;
  const del = await sameTypePatch(ctx, from, to, { ...deletion, status: 'D' }, o);
  const add = await sameTypePatch(ctx, from, to, { ...addition, status: 'A' }, o);
  const kind: PatchKind = del.kind === 'text' && add.kind === 'text' ? 'text' : del.kind !== 'text' ? del.kind : add.kind;
  return {
    path: change.path,
    status: 'T',
    kind,
    added: add.added,
    removed: del.removed,
    oldSize: del.oldSize,
    newSize: add.newSize,
    text: del.text + add.text,
  };
}

import { describe, expect, it } from 'vitest';
import { NotFoundError, RefusedError, UnsafePathError, UsageError } from '../../../src/errors.js';
import { encodeTree, type TreeEntry } from '../../../src/model/tree.js';
import { countChanges, describePlan, normalizeRestorePath, planRestore, undoPaths, type RestoreAction } from '../../../src/ops/restorePlan.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { sha256Hex } from '../../../src/util/hash.js';

type Spec = { [name: string]: string | Spec | { link: string } | { file: string; mode?: number; mtime?: string } };

const trees = new Map<string, readonly TreeEntry[]>();
const load = async (id: ObjectId) => {
  const t = trees.get(id);
  if (!t) throw new Error(`no tree ${id}`);
  return t;
};

const MTIME = '1600000000000000000';

/** Builds a tree from a literal (files by content, {link} symlinks, objects dirs) and returns its id. */
function tree(spec: Spec): ObjectId {
  const entries: TreeEntry[] = Object.entries(spec).map(([name, v]) => {
    if (typeof v === 'string') return { name, type: 'file', mode: 0o644, mtime: MTIME, size: v.length, chunks: v ? [sha256Hex(v) as ObjectId] : [] };
    if ('link' in v && typeof v.link === 'string') return { name, type: 'symlink', mode: 0o777, mtime: MTIME, size: v.link.length, target: v.link };
    if ('file' in v && typeof v.file === 'string') {
      const f = v as { file: string; mode?: number; mtime?: string };
      return { name, type: 'file', mode: f.mode ?? 0o644, mtime: f.mtime ?? MTIME, size: f.file.length, chunks: [sha256Hex(f.file) as ObjectId] };
    }
    return { name, type: 'dir', mode: 0o755, mtime: MTIME, tree: tree(v as Spec) };
  });
  const bytes = encodeTree(entries);
  const id = sha256Hex(bytes) as ObjectId;
  trees.set(id, JSON.parse(bytes.toString()).entries as TreeEntry[]);
  return id;
}

const brief = (actions: RestoreAction[]) =>
  actions.map((a) => `${a.op}${a.op === 'put' && a.shallow ? '(shallow)' : ''} ${a.path}${a.op === 'put' && a.old ? ` over ${a.old.type}` : ''}`);

describe('planRestore', () => {
  it('plans nothing for equal trees', async () => {
    const t = tree({ a: 'x', d: { b: 'y' } });
    expect((await planRestore(load, t, t)).actions).toEqual([]);
  });

  it('plans puts, deletes, type changes and metadata, directories after their children', async () => {
    const current = tree({ a: 'old', gone: 'bye', d: { keep: 'k', sub: { f: '1' } }, s: { link: 'a' }, m: { file: 'same', mode: 0o600 }, t: 'file' });
    const wanted = tree({ a: 'new', d: { keep: 'k', sub: { f: '1', g: '2' } }, n: { x: 'x' }, s: { link: 'b' }, m: { file: 'same', mode: 0o644 }, t: { inner: 'i' } });
    const plan = await planRestore(load, current, wanted);
    expect(brief(plan.actions)).toEqual(['put a over file', 'put d/sub/g', 'meta d/sub', 'meta d', 'delete gone', 'meta m', 'put n', 'put s over symlink', 'put t over file']);
    const changes = await describePlan(plan, load, load);
    expect(changes.map((c) => `${c.status} ${c.path}${c.metadataOnly ? ' (meta)' : ''}`)).toEqual([
      'M a',
      'A d/sub/g',
      'D gone',
      'M m (meta)',
      'A n/x',
      'M s',
      'D t',
      'A t/inner',
    ]);
    expect(countChanges(changes)).toEqual({ created: 3, replaced: 2, deleted: 2, metadata: 1 });
  });

  it('compares times at microsecond precision (what a restore can set)', async () => {
    const a = tree({ f: { file: 'x', mtime: '1600000000123456000' } });
    const sameMicro = tree({ f: { file: 'x', mtime: '1600000000123456999' } });
    const otherMicro = tree({ f: { file: 'x', mtime: '1600000000123457000' } });
    expect((await planRestore(load, a, sameMicro)).actions).toEqual([]);
    expect(brief((await planRestore(load, a, otherMicro)).actions)).toEqual(['meta f']);
  });

  it('empties a directory holding a kept (excluded) path entry by entry instead of moving it away', async () => {
    // On disk: build/out.js and build/cache/ (excluded, so not in the scanned tree).
    const current = tree({ build: { 'out.js': 'o' }, src: 's' });
    const wanted = tree({ src: 's' });
    const plan = await planRestore(load, current, wanted, { keep: new Set(['build/cache']) });
    expect(brief(plan.actions)).toEqual(['delete build/out.js', 'meta build']);
    const replacing = tree({ build: 'a file', src: 's' });
    await expect(planRestore(load, current, replacing, { keep: new Set(['build/cache']) })).rejects.toBeInstanceOf(RefusedError);
  });

  it('never touches a kept path, and says so when the snapshot has it', async () => {
    const current = tree({ a: 'x' });
    const wanted = tree({ a: 'x', '.cairn': { config: 'evil' } });
    const plan = await planRestore(load, current, wanted, { keep: new Set(['.cairn']) });
    expect(plan.actions).toEqual([]);
    expect(plan.warnings[0]).toMatch(/\.cairn is left alone/);
  });

  it('--path restores only the named paths, turning a symlinked ancestor into a real directory', async () => {
    const current = tree({ a: { link: '/etc' }, b: 'changed', c: { x: 'old', y: 'y' } });
    const wanted = tree({ a: { inner: 'in' }, b: 'original', c: { x: 'new', y: 'y2' } });
    const plan = await planRestore(load, current, wanted, { paths: ['a/inner', 'c/x'] });
    expect(brief(plan.actions)).toEqual(['put(shallow) a over symlink', 'put a/inner', 'meta a', 'put c/x over file', 'meta c']);
    const meta = plan.actions.find((x) => x.op === 'meta' && x.path === 'c');
    // An ancestor keeps its own metadata.
    expect(meta).toMatchObject({ from: { mtime: MTIME }, to: { mtime: MTIME } });
    // Undoing it must bring the symlink back: the undo restores the replaced parent, not only the path asked for.
    expect(undoPaths(plan.actions, ['a/inner', 'c/x'])).toEqual(['c/x', 'a']);
  });

  it('undoPaths: the restore\'s paths and the top-most entries it replaced, none below another; none for a whole restore', async () => {
    const current = tree({ a: 'a file', b: { c: { link: 'x' } }, ab: 'f', d: { e: 'e1' } });
    const wanted = tree({ a: { f: 'f' }, b: { c: { g: { h: 'h' } } }, ab: 'g', d: { e: 'e2' } });
    const plan = await planRestore(load, current, wanted, { paths: ['./d/e', 'a/f', 'b/c/g/h', 'ab'] });
    expect(undoPaths(plan.actions, ['./d/e', 'a/f', 'b/c/g/h', 'ab'])).toEqual(['d/e', 'ab', 'a', 'b/c']);
    expect(undoPaths((await planRestore(load, current, wanted, { paths: ['d'] })).actions, ['d'])).toEqual(['d']);
    expect(undoPaths(plan.actions, [])).toEqual([]);
    expect(undoPaths(plan.actions, ['.', 'a/f'])).toEqual([]);
  });

  it('--path deletes a path the snapshot does not have, and rejects one that exists nowhere', async () => {
    const current = tree({ d: { extra: 'e', f: 'f' } });
    const wanted = tree({ d: { f: 'f' } });
    expect(brief((await planRestore(load, current, wanted, { paths: ['d/extra'] })).actions)).toEqual(['delete d/extra', 'meta d']);
    await expect(planRestore(load, current, wanted, { paths: ['d/none'] })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('rejects unsafe names in a tree (a hostile manifest)', async () => {
    const evil = 'e'.repeat(64) as ObjectId;
    trees.set(evil, [{ name: '..', type: 'file', mode: 0o644, mtime: MTIME, chunks: [] }]);
    await expect(planRestore(load, null, evil)).rejects.toBeInstanceOf(UnsafePathError);
    const slash = 'f'.repeat(64) as ObjectId;
    trees.set(slash, [{ name: 'a/b', type: 'file', mode: 0o644, mtime: MTIME, chunks: [] }]);
    await expect(planRestore(load, null, slash)).rejects.toBeInstanceOf(UnsafePathError);
  });

  it('normalizes --path arguments and refuses ones leaving the target', () => {
    expect(normalizeRestorePath('./src//app.ts/')).toBe('src/app.ts');
    expect(normalizeRestorePath('.')).toBe('');
    expect(() => normalizeRestorePath('../x')).toThrow(UsageError);
    expect(() => normalizeRestorePath('/etc/passwd')).toThrow(UsageError);
  });
});

/**
 * In-place restore end to end, through the built CLI: restore an older
 * snapshot over a changed workspace, undo it with the restore point, each
 * byte for byte (content, modes, symlink targets, times); dry-run, --path,
 * --force; a refused non-interactive restore; and the audit lines of it all.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, describeTree, parseJson, tempDir, writeTree, type NodeInfo } from '../helpers.js';

interface RestoreJson {
  snapshot: string;
  target: string;
  kind: string;
  dryRun: boolean;
  restorePoint: string | null;
  head: boolean;
  undo: string | null;
  counts: { created: number; replaced: number; deleted: number; metadata: number };
  changes: Array<{ status: string; path: string; type: string; metadataOnly?: boolean }>;
}

interface AuditJson {
  op: string;
  outcome: string;
  snapshots: string[];
  error?: string;
  args: Record<string, unknown>;
  risk?: string;
  approved?: boolean;
}

const SKIP = { skip: ['.cairn'], mtimes: true };

/** The workspace at v1. */
function v1(ws: string): void {
  writeTree(ws, {
    'README.md': '# app\n',
    '.cairnignore': 'node_modules/\n*.log\n',
    src: { 'app.ts': 'export const v = 1;\n', lib: { 'util.ts': 'export {};\n', 'deep.ts': 'deep\n' } },
    data: { 'table.csv': Buffer.alloc(300_000, 'row,1\n'), 'blob.bin': Buffer.from([0, 1, 2, 255]) },
    entry: { symlink: 'src/app.ts' },
    empty: {},
    node_modules: { 'dep.js': 'dependency\n' },
  });
  fs.chmodSync(path.join(ws, 'src/app.ts'), 0o640);
  // Old, distinct times so a restore that forgets them is caught.
  for (const [p, s] of [['README.md', 1_600_000_000.123456], ['src/lib', 1_600_000_100], ['data/blob.bin', 1_600_000_200.5]] as const) {
    fs.utimesSync(path.join(ws, p), s, s);
  }
}

/** Changes every kind of thing: content, deletion, addition, dir→file, symlink→dir, mode, times, excluded files. */
function change(ws: string): void {
  fs.writeFileSync(path.join(ws, 'src/app.ts'), 'export const v = 2; // changed\n');
  fs.rmSync(path.join(ws, 'src/lib'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'src/lib'), 'now a file\n');
  fs.writeFileSync(path.join(ws, 'src/new.ts'), 'new\n');
  fs.rmSync(path.join(ws, 'entry'));
  fs.mkdirSync(path.join(ws, 'entry'));
  fs.writeFileSync(path.join(ws, 'entry/inside.txt'), 'inside\n');
  const big = fs.readFileSync(path.join(ws, 'data/table.csv'));
  big[150_000] = 0x41;
  fs.writeFileSync(path.join(ws, 'data/table.csv'), big);
  fs.chmodSync(path.join(ws, 'data/blob.bin'), 0o600);
  fs.utimesSync(path.join(ws, 'README.md'), 1_700_000_000, 1_700_000_000);
  fs.rmdirSync(path.join(ws, 'empty'));
  fs.writeFileSync(path.join(ws, 'node_modules/dep.js'), 'dependency v2\n');
  fs.writeFileSync(path.join(ws, 'debug.log'), 'excluded, left alone\n');
}

function excludedState(ws: string): Record<string, string> {
  return {
    dep: fs.readFileSync(path.join(ws, 'node_modules/dep.js'), 'utf8'),
    log: fs.readFileSync(path.join(ws, 'debug.log'), 'utf8'),
  };
}

/** The tree without the excluded paths (which a restore leaves alone). */
function tracked(ws: string): Record<string, NodeInfo> {
  const t = describeTree(ws, SKIP);
  for (const k of Object.keys(t)) if (k.startsWith('node_modules') || k.endsWith('.log')) delete t[k];
  return t;
}

let root: string;
let ws: string;

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

beforeEach(() => {
  root = tempDir('cairn-inplace-');
  ws = path.join(root, 'ws');
  v1(ws);
  cairnOk(['init'], { cwd: ws });
});

function snap(message: string): string {
  return parseJson<{ id: string }>(cairnOk(['snapshot', '-m', message, '--json'], { cwd: ws })).id;
}

function audit(args: string[] = []): AuditJson[] {
  return parseJson<AuditJson[]>(cairnOk(['audit', '--json', ...args], { cwd: ws }));
}

describe('restore in place', () => {
  it('restores an older snapshot over a changed workspace, then the restore point undoes it, byte for byte', () => {
    const id1 = snap('v1');
    const before = tracked(ws);
    change(ws);
    const changed = tracked(ws);
    const excluded = excludedState(ws);
    expect(changed).not.toEqual(before);

    const r = parseJson<RestoreJson>(cairnOk(['restore', id1.slice(0, 12), '--yes', '--json'], { cwd: ws }));
    expect(r.kind).toBe('in-place');
    expect(r.target).toBe(fs.realpathSync(ws));
    expect(r.restorePoint).toMatch(/^[0-9a-f]{64}$/);
    expect(r.undo).toBe(`cairn restore ${r.restorePoint!.slice(0, 12)}`);
    expect(r.head).toBe(true);
    expect(r.counts).toEqual({ created: 4, replaced: 2, deleted: 3, metadata: 2 });
    expect(tracked(ws)).toEqual(before);
    expect(excludedState(ws)).toEqual(excluded);
    expect(fs.readdirSync(ws).filter((n) => n.startsWith('.cairn-restore'))).toEqual([]);

    // The restore point is a snapshot of type restore-point holding the changed state.
    const log = parseJson<Array<{ id: string; type: string }>>(cairnOk(['log', '--json'], { cwd: ws }));
    expect(log.find((s) => s.id === r.restorePoint)?.type).toBe('restore-point');

    // Restoring the same snapshot again changes nothing (the plan is idempotent).
    const again = parseJson<RestoreJson>(cairnOk(['restore', id1, '--dry-run', '--json'], { cwd: ws }));
    expect(again.changes).toEqual([]);

    // Undo: exactly the command printed.
    const undo = parseJson<RestoreJson>(cairnOk([...r.undo!.split(' ').slice(1), '--yes', '--json'], { cwd: ws }));
    expect(undo.snapshot).toBe(r.restorePoint);
    expect(tracked(ws)).toEqual(changed);
    expect(excludedState(ws)).toEqual(excluded);
  });

  it('sets HEAD to the restored snapshot, so the next snapshot branches from it', () => {
    const id1 = snap('v1');
    fs.writeFileSync(path.join(ws, 'README.md'), 'v2\n');
    const id2 = snap('v2');
    cairnOk(['restore', id1, '--yes'], { cwd: ws });
    fs.writeFileSync(path.join(ws, 'README.md'), 'v3 on a branch\n');
    const s3 = parseJson<{ id: string; parents: string[] }>(cairnOk(['snapshot', '-m', 'branch', '--json'], { cwd: ws }));
    expect(s3.parents).toEqual([id1]);
    expect(s3.parents).not.toContain(id2);
  });

  it('--dry-run prints the name-status and touches nothing', () => {
    const id1 = snap('v1');
    change(ws);
    const changed = describeTree(ws, SKIP);
    const r = parseJson<RestoreJson>(cairnOk(['restore', id1, '--dry-run', '--json'], { cwd: ws }));
    expect(r.dryRun).toBe(true);
    expect(r.restorePoint).toBeNull();
    const byPath = Object.fromEntries(r.changes.map((c) => [c.path, c.status]));
    expect(byPath).toMatchObject({
      'src/app.ts': 'M',
      'src/new.ts': 'D',
      'src/lib': 'D',
      'src/lib/util.ts': 'A',
      'src/lib/deep.ts': 'A',
      'entry/inside.txt': 'D',
      entry: 'A',
      'data/table.csv': 'M',
      'empty/': 'A',
    });
    expect(r.changes.find((c) => c.path === 'data/blob.bin')).toMatchObject({ status: 'M', metadataOnly: true });
    expect(r.changes.some((c) => c.path.startsWith('node_modules') || c.path.endsWith('.log'))).toBe(false);
    expect(describeTree(ws, SKIP)).toEqual(changed);
    // No restore point was taken, and the text form lists the same lines.
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--type', 'restore-point'], { cwd: ws }))).toEqual([]);
    const text = cairnOk(['restore', id1, '--dry-run'], { cwd: ws }).stdout;
    expect(text).toContain('M  src/app.ts');
    expect(text).toContain('nothing was changed');
  });

  it('the undo command it prints is one a shell runs as printed, whatever the names hold ($, quotes, a newline)', () => {
    const names = ['a $HOME `id` b.txt', "it's.txt", 'two\nlines.txt'];
    for (const n of names) fs.writeFileSync(path.join(ws, n), 'v1\n');
    const id1 = snap('v1');
    for (const n of names) fs.writeFileSync(path.join(ws, n), 'v2\n');
    const r = cairnOk(['restore', id1, ...names.flatMap((n) => ['--path', n]), '--yes'], { cwd: ws });
    for (const n of names) expect(fs.readFileSync(path.join(ws, n), 'utf8')).toBe('v1\n');
    const undo = /undo with: (cairn .*)$/m.exec(r.stderr)?.[1];
    expect(undo).toBeDefined();
    expect(undo).not.toMatch(/[\x00-\x1f]/); // the newline of a name is escaped, never printed raw
    // Before: JSON quoting ("a $HOME `id` b.txt"), which a shell expands: the undo named other paths.
    const sh = spawnSync('bash', ['--norc', '-c', `cairn() { "${process.execPath}" "${CLI}" "$@"; }\n${undo} --yes`], { cwd: ws, encoding: 'utf8' });
    expect(sh.status, sh.stderr).toBe(0);
    for (const n of names) expect(fs.readFileSync(path.join(ws, n), 'utf8'), n).toBe('v2\n');
  });

  it('--path restores only the named files and folders', () => {
    const id1 = snap('v1');
    change(ws);
    const changed = tracked(ws);
    const r = parseJson<RestoreJson>(cairnOk(['restore', id1, '--path', 'src/lib', '--path', 'README.md', '--yes', '--json'], { cwd: ws }));
    expect(r.head).toBe(false);
    expect(r.undo).toBe(`cairn restore ${r.restorePoint!.slice(0, 12)} --path src/lib --path README.md`);
    const after = tracked(ws);
    expect(fs.readFileSync(path.join(ws, 'src/lib/util.ts'), 'utf8')).toBe('export {};\n');
    expect(after['README.md']!.mtimeUs).toBe(1_600_000_000_123_456);
    // Everything else is as it was.
    for (const [k, v] of Object.entries(changed)) {
      if (k === 'README.md' || k === 'src/lib' || k.startsWith('src/lib/') || k === 'src') continue;
      expect(after[k], k).toEqual(v);
    }
    expect(cairn(['restore', id1, '--path', 'no/such', '--yes'], { cwd: ws }).code).toBe(5);
    expect(cairn(['restore', id1, '--path', '../etc', '--yes'], { cwd: ws }).code).toBe(2);
  });

  it('is refused without --yes when there is no terminal, naming --yes, and changes nothing', () => {
    const id1 = snap('v1');
    change(ws);
    const changed = describeTree(ws, SKIP);
    const r = cairn(['restore', id1], { cwd: ws });
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('--yes');
    expect(r.stderr).toMatch(/this will create 4 files, replace 2 files, delete 3 files and reset the metadata of 2 files in /);
    expect(describeTree(ws, SKIP)).toEqual(changed);
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--type', 'restore-point'], { cwd: ws }))).toEqual([]);
    // --no-restore-point is only accepted with --yes.
    expect(cairn(['restore', id1, '--no-restore-point'], { cwd: ws }).code).toBe(2);
    const refused = audit(['--outcome', 'refused']);
    expect(refused.map((a) => a.op)).toEqual(['approval', 'restore']);
    expect(refused[0]).toMatchObject({ risk: 'high', approved: false });
    expect(refused[1]).toMatchObject({ error: 'REFUSED' });
  });

  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasScript)('on a terminal, states the consequence and asks y/N', () => {
    const id1 = snap('v1');
    const before = tracked(ws);
    change(ws);
    const changed = tracked(ws);
    // `script` gives the CLI a pseudo-terminal; the answer is typed into it.
    const onTty = (answer: string) =>
      spawnSync('script', ['-qec', `${process.execPath} ${CLI} restore ${id1}`, '/dev/null'], { cwd: ws, input: `${answer}\n`, encoding: 'utf8', env: { ...process.env, CAIRN_REPO: '' } });
    const no = onTty('n');
    expect(no.stdout).toMatch(/this will create 4 files, replace 2 files, delete 3 files and reset the metadata of 2 files in .*; a restore point of its current state will be taken first/);
    expect(no.stdout).toContain('[high risk] restore in place: proceed? [y/N]');
    expect(no.status).toBe(12);
    expect(tracked(ws)).toEqual(changed);
    const yes = onTty('y');
    expect(yes.status).toBe(0);
    expect(yes.stdout).toMatch(/restore point [0-9a-f]{12} taken; undo with: cairn restore [0-9a-f]{12}/);
    expect(tracked(ws)).toEqual(before);
  });

  it('--no-restore-point --yes restores without a restore point', () => {
    const id1 = snap('v1');
    const before = tracked(ws);
    change(ws);
    const r = parseJson<RestoreJson>(cairnOk(['restore', id1, '--no-restore-point', '--yes', '--json'], { cwd: ws }));
    expect(r.restorePoint).toBeNull();
    expect(r.undo).toBeNull();
    expect(tracked(ws)).toEqual(before);
  });

  it('restoring into a non-empty --target other than the source needs --force and approval', () => {
    const id1 = snap('v1');
    const other = path.join(root, 'other');
    writeTree(other, { 'keep.txt': 'someone else\n', src: { 'app.ts': 'other\n' } });
    const orig = describeTree(other, { mtimes: true });
    const noForce = cairn(['restore', id1, '--target', other, '--yes'], { cwd: ws });
    expect(noForce.code).toBe(12);
    expect(noForce.stderr).toContain('--force');
    const noYes = cairn(['restore', id1, '--target', other, '--force'], { cwd: ws });
    expect(noYes.code).toBe(12);
    expect(noYes.stderr).toContain('--yes');
    expect(describeTree(other, { mtimes: true })).toEqual(orig);
    const r = parseJson<RestoreJson>(cairnOk(['restore', id1, '--target', other, '--force', '--yes', '--json'], { cwd: ws }));
    expect(r.kind).toBe('force');
    const expected = tracked(ws);
    const got = describeTree(other, { mtimes: true });
    expect(got).toEqual(expected);
    // Undo puts the other directory back.
    cairnOk(['restore', r.restorePoint!, '--yes'], { cwd: ws });
    expect(describeTree(other, { mtimes: true })).toEqual(orig);
    const approvals = audit(['--op', 'approval']).map((a) => [a.args.operation, a.outcome]);
    expect(approvals).toContainEqual(['restore --force', 'refused']);
    expect(approvals).toContainEqual(['restore --force', 'ok']);
  });

  it('never follows a symlink that exists in the target', () => {
    const outside = path.join(root, 'outside');
    writeTree(outside, { 'canary.txt': 'do not touch\n' });
    const canary = describeTree(outside, { mtimes: true });
    fs.mkdirSync(path.join(ws, 'dir'));
    fs.writeFileSync(path.join(ws, 'dir/x'), 'x from the snapshot\n');
    fs.writeFileSync(path.join(ws, 'dir/canary.txt'), 'would overwrite the canary\n');
    const id1 = snap('with dir');
    fs.rmSync(path.join(ws, 'dir'), { recursive: true });
    fs.symlinkSync(outside, path.join(ws, 'dir'));
    // Only dir/x: the symlink is replaced by a real directory, never written through.
    cairnOk(['restore', id1, '--path', 'dir/x', '--yes'], { cwd: ws });
    expect(fs.lstatSync(path.join(ws, 'dir')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(ws, 'dir/x'), 'utf8')).toBe('x from the snapshot\n');
    expect(describeTree(outside, { mtimes: true })).toEqual(canary);
    // The whole tree, again over a symlink.
    fs.rmSync(path.join(ws, 'dir'), { recursive: true });
    fs.symlinkSync(outside, path.join(ws, 'dir'));
    cairnOk(['restore', id1, '--yes'], { cwd: ws });
    expect(fs.readFileSync(path.join(ws, 'dir/canary.txt'), 'utf8')).toBe('would overwrite the canary\n');
    expect(describeTree(outside, { mtimes: true })).toEqual(canary);
  });

  it('records every step in the audit trail, newest last, with filters and a summary', () => {
    const id1 = snap('v1');
    change(ws);
    expect(cairn(['restore', id1], { cwd: ws }).code).toBe(12);
    const r = parseJson<RestoreJson>(cairnOk(['restore', id1, '--yes', '--json'], { cwd: ws }));
    const all = audit();
    expect(all.map((a) => `${a.op}:${a.outcome}`)).toEqual([
      'init:ok',
      'snapshot:ok',
      'approval:refused',
      'restore:refused',
      'approval:ok',
      'restore-point:ok',
      'restore:ok',
    ]);
    expect(all[5]!.snapshots).toEqual([r.restorePoint]);
    expect(all[6]!.snapshots).toEqual([id1, r.restorePoint]);
    expect(all[6]!.args).toMatchObject({ ref: id1, target: fs.realpathSync(ws) });
    expect(all[3]!.args).toMatchObject({ target: fs.realpathSync(ws) });
    const s = parseJson<{ total: number; byOp: Array<{ op: string; ok: number; error: number; refused: number }> }>(cairnOk(['audit', '--summary', '--json'], { cwd: ws }));
    expect(s.total).toBe(7);
    expect(s.byOp.find((o) => o.op === 'restore')).toMatchObject({ ok: 1, refused: 1, error: 0 });
    expect(audit(['--op', 'restore', '--outcome', 'ok']).length).toBe(1);
    expect(audit(['--until', '2000-01-01'])).toEqual([]);
    expect(audit(['--since', '2000-01-01']).length).toBe(7);
    expect(cairn(['audit', '--since', 'yesterday-ish'], { cwd: ws }).code).toBe(2);
    expect(cairn(['audit', '--outcome', 'maybe'], { cwd: ws }).code).toBe(2);
    const text = cairnOk(['audit'], { cwd: ws }).stdout.trim().split('\n');
    expect(text.at(-1)).toMatch(/ok\s+restore\s/);
    // A failed init over this repository is audited in it too.
    expect(cairn(['init'], { cwd: ws }).code).toBe(2);
    expect(audit().at(-1)).toMatchObject({ op: 'init', outcome: 'error', error: 'REPOSITORY_EXISTS' });
  });

  it('a failure to write the audit line is a warning, and the command still succeeds', () => {
    const auditDir = path.join(ws, '.cairn', 'audit');
    fs.rmSync(auditDir, { recursive: true });
    fs.writeFileSync(auditDir, 'not a directory\n'); // unwritable even for root
    const r = cairn(['snapshot', '-m', 'x', '--json'], { cwd: ws });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: could not write the audit line for snapshot/);
    expect(parseJson<{ id: string }>(r).id).toMatch(/^[0-9a-f]{64}$/);
    expect(parseJson<unknown[]>(cairnOk(['log', '--json'], { cwd: ws })).length).toBe(1);
  });
});

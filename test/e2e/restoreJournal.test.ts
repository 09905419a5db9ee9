/**
 * A restore journal is untrusted input: a crafted or damaged one must never
 * make cairn move or delete anything outside the target, and must never
 * leave the user stuck with "internal error" or "nothing to recover". Through
 * the built CLI, in temp dirs, with victims beside the workspace.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir, writeTree, type CliResult, type NodeInfo } from '../helpers.js';

const SKIP = { skip: ['.cairn'], mtimes: true };

let root: string;
let ws: string;
let id1: string;
let changed: Record<string, NodeInfo>;

beforeEach(() => {
  root = fs.realpathSync(tempDir('cairn-journal-'));
  ws = path.join(root, 'ws');
  writeTree(ws, { 'a.txt': 'a v1\n', src: { 'app.ts': 'v1\n' } });
  cairnOk(['init'], { cwd: ws });
  id1 = parseJson<{ id: string }>(cairnOk(['snapshot', '--json'], { cwd: ws })).id;
  fs.writeFileSync(path.join(ws, 'a.txt'), 'a v2\n');
  fs.writeFileSync(path.join(ws, 'new.txt'), 'new\n');
  changed = describeTree(ws, SKIP);
  writeTree(path.join(root, 'victim'), { data: 'IMPORTANT\n', old: { '0': 'also important\n' } });
  writeTree(path.join(root, 'victim2'), { data: 'IMPORTANT2\n' });
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function journalPath(target = ws): string {
  return path.join(ws, '.cairn', 'restores', `${createHash('sha256').update(target).digest('hex').slice(0, 32)}.json`);
}

const STAGING = () => path.join(ws, '.cairn-restore-deadbeef');
const DEAD_PID = spawnSync(process.execPath, ['-e', '0']).pid!;
const FILE_STATE = { type: 'file', mode: 0o644, mtime: '1700000000000000000' };

/** Writes a journal for the workspace as cairn would, with `over` changed. */
function craft(over: Record<string, unknown>): string {
  const j = {
    v: 1, target: ws, snapshot: id1, restorePoint: null, staging: STAGING(), phase: 'applying', setHead: false, paths: [], verify: false, chown: false,
    pid: DEAD_PID, host: os.hostname(), started: new Date().toISOString(), actions: [], ...over,
  };
  fs.mkdirSync(path.dirname(journalPath()), { recursive: true });
  fs.writeFileSync(journalPath(), JSON.stringify(j));
  return journalPath();
}

function victims(): Record<string, NodeInfo> {
  return { ...describeTree(path.join(root, 'victim'), { mtimes: true }), ...Object.fromEntries(Object.entries(describeTree(path.join(root, 'victim2'), { mtimes: true })).map(([k, v]) => [`2/${k}`, v])) };
}

/** The house error form: one line saying what was wrong, one hint line saying what to do; never a stack or "internal error". */
function oneClearLine(r: CliResult): string[] {
  const lines = r.stderr.trimEnd().split('\n');
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(lines.length, r.stderr).toBe(2);
  expect(lines[0]).toMatch(/^cairn: /);
  expect(lines[1]).toMatch(/^ {2}hint: /);
  return lines;
}

describe('a crafted restore journal never reaches outside the target', () => {
  it('a staging directory pointing at an unrelated directory: --rollback refuses (exit 4) and deletes nothing', () => {
    const before = victims();
    const file = craft({ staging: path.join(root, 'victim'), phase: 'staging' });
    const r = cairn(['restore', '--rollback'], { cwd: ws });
    expect(r.code).toBe(4);
    const [msg] = oneClearLine(r);
    expect(msg).toContain(file);
    expect(msg).toMatch(/is damaged \(its staging directory is not a \.cairn-restore-\* directory directly in /);
    expect(victims()).toEqual(before);
    expect(fs.existsSync(file)).toBe(true); // never acted on, not even removed
    // Nor does a new restore into the target "roll it back first".
    expect(cairn(['restore', id1, '--yes'], { cwd: ws }).code).toBe(4);
    expect(victims()).toEqual(before);
    expect(describeTree(ws, SKIP)).toEqual(changed);
  });

  it('an action path "../victim2/data": a routine restore refuses instead of rolling it back, and deletes nothing', () => {
    fs.mkdirSync(path.join(STAGING(), 'new'), { recursive: true });
    fs.mkdirSync(path.join(STAGING(), 'old'));
    const before = victims();
    const file = craft({ actions: [{ op: 'put', path: '../victim2/data', entry: { name: 'data', type: 'file', mode: 420, mtime: '0', chunks: [], size: 0 }, old: null }] });
    const r = cairn(['restore', 'latest', '--yes'], { cwd: ws });
    expect(r.code).toBe(4);
    const [msg, hint] = oneClearLine(r);
    expect(msg).toContain(file);
    expect(msg).toMatch(/unsafe path "\.\.\/victim2\/data"/);
    expect(r.stderr).not.toMatch(/rolling it back/);
    expect(hint).toContain(STAGING()); // what to inspect
    expect(hint).toContain(`delete ${file}`);
    expect(victims()).toEqual(before);
    expect(fs.readFileSync(path.join(root, 'victim2', 'data'), 'utf8')).toBe('IMPORTANT2\n');
    expect(describeTree(ws, { ...SKIP, skip: ['.cairn', '.cairn-restore-deadbeef'] })).toEqual(changed);
    expect(cairn(['restore', '--rollback'], { cwd: ws }).code).toBe(4);
    expect(cairn(['restore', '--resume'], { cwd: ws }).code).toBe(4);
    expect(victims()).toEqual(before);
  });

  it('rollback never follows a staging directory, or its old/ and new/, that are symlinks', () => {
    const before = victims();
    // A valid journal: "gone.txt" was moved aside to old/0; old/0 exists (in the victim, through the symlink).
    craft({ actions: [{ op: 'delete', path: 'gone.txt', old: FILE_STATE }] });
    fs.symlinkSync(path.join(root, 'victim'), STAGING());
    let r = cairn(['restore', '--rollback'], { cwd: ws });
    expect(victims()).toEqual(before);
    expect(r.code).toBe(4);
    expect(oneClearLine(r)[0]).toMatch(/staging directory .* is a symlink, not a directory/);
    fs.rmSync(STAGING());
    fs.mkdirSync(STAGING());
    fs.symlinkSync(path.join(root, 'victim', 'old'), path.join(STAGING(), 'old'));
    r = cairn(['restore', '--rollback'], { cwd: ws });
    expect(victims()).toEqual(before);
    expect(r.code).toBe(4);
    expect(oneClearLine(r)[0]).toMatch(/old is a symlink, not a directory/);
    expect(cairn(['restore', '--resume'], { cwd: ws }).code).toBe(4);
    expect(victims()).toEqual(before);
    expect(fs.existsSync(path.join(ws, 'gone.txt'))).toBe(false);
  });

  it('rollback does not reset metadata through a parent directory that is a symlink', () => {
    fs.chmodSync(path.join(root, 'victim', 'data'), 0o600);
    const before = victims();
    fs.symlinkSync(path.join(root, 'victim'), path.join(ws, 'link'));
    fs.mkdirSync(path.join(STAGING(), 'old'), { recursive: true });
    fs.mkdirSync(path.join(STAGING(), 'new'));
    craft({ actions: [{ op: 'meta', path: 'link/data', type: 'file', from: { ...FILE_STATE, mode: 0o777, mtime: '0' }, to: FILE_STATE }] });
    const r = cairnOk(['restore', '--rollback'], { cwd: ws });
    expect(victims()).toEqual(before);
    expect(r.stderr).toMatch(/could not reset the mode and times of link\/data: link .* is a symlink/);
  });
});

describe('a damaged restore journal', () => {
  it('is reported by restore, --dry-run, --rollback, --resume, verify, prune and forget, which change nothing; deleting it unblocks them', () => {
    // Some garbage for prune: a forgotten snapshot's objects.
    const id2 = parseJson<{ id: string }>(cairnOk(['snapshot', '--json'], { cwd: ws })).id;
    cairnOk(['forget', id2, '--yes'], { cwd: ws });
    const objects = () => fs.readdirSync(path.join(ws, '.cairn', 'objects'), { recursive: true }).length;
    const stored = objects();
    const file = journalPath();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{garbage');

    for (const args of [['restore', id1, '--yes'], ['restore', id1, '--dry-run'], ['restore', id1, '--force', '--yes', '--target', ws]]) {
      const r = cairn(args, { cwd: ws });
      expect(r.code, args.join(' ')).toBe(4);
      const [msg, hint] = oneClearLine(r);
      expect(msg).toBe(`cairn: cannot restore into ${ws}: the restore journal ${file} of ${ws} is damaged (not valid JSON: ${msg!.split('not valid JSON: ')[1]}`);
      expect(msg).toMatch(/cairn will not act on it$/);
      expect(hint).toMatch(new RegExp(`once ${ws} is known good, delete ${file}$`));
    }
    for (const args of [['restore', '--rollback'], ['restore', '--resume'], ['restore', '--rollback', '--target', ws]]) {
      const r = cairn(args, { cwd: ws });
      expect(r.code, args.join(' ')).toBe(4);
      const [msg, hint] = oneClearLine(r);
      expect(msg).toMatch(/^cairn: cannot (roll back|resume) the interrupted restore: the restore journal .* is damaged/);
      expect(msg).toContain(file);
      expect(hint).toMatch(/\.cairn-restore-\*/);
      expect(r.stderr).not.toMatch(/no interrupted restore/);
    }
    const v = cairn(['verify'], { cwd: ws });
    expect(v.code).toBe(4);
    expect(v.stdout).toMatch(/1 restore journal cannot be used/);
    expect(v.stdout).toContain(file);
    const vj = parseJson<{ ok: boolean; journalProblems: Array<{ problem: string; file: string }> }>(cairn(['verify', '--json'], { cwd: ws }));
    expect(vj).toMatchObject({ ok: false, journalProblems: [{ problem: 'journal-damaged', file }] });

    for (const args of [['prune', '--yes'], ['prune', '--dry-run'], ['forget', '--keep-last', '1', '--keep-minimum', '0', '--yes']]) {
      const r = cairn(args, { cwd: ws });
      expect(r.code, args.join(' ')).toBe(4);
      expect(oneClearLine(r)[0]).toMatch(/^cairn: (prune stopped before deleting|forget stopped before forgetting) anything .*is damaged/);
    }
    expect(objects()).toBe(stored);
    expect(describeTree(ws, SKIP)).toEqual(changed);

    fs.rmSync(file);
    cairnOk(['verify'], { cwd: ws });
    cairnOk(['restore', id1, '--yes'], { cwd: ws });
    expect(cairn(['restore', '--rollback'], { cwd: ws }).code).toBe(5);
    expect(parseJson<{ deletedObjects: number }>(cairnOk(['prune', '--yes', '--json'], { cwd: ws })).deletedObjects).toBeGreaterThan(0);
  });

  it('beside a valid one: --rollback without --target names both, and --target picks the valid one', () => {
    const other = path.join(root, 'other');
    fs.mkdirSync(other);
    const damaged = path.join(ws, '.cairn', 'restores', `${createHash('sha256').update(other).digest('hex').slice(0, 32)}.json`);
    craft({ phase: 'staging' });
    fs.writeFileSync(damaged, '[]');
    const r = cairn(['restore', '--rollback'], { cwd: ws });
    expect(r.code).toBe(2);
    const [msg] = oneClearLine(r);
    expect(msg).toMatch(/^cairn: 2 interrupted restores are pending: /);
    expect(msg).toContain(`${ws}`);
    expect(msg).toContain(`an unknown target (its journal ${damaged} is damaged)`);
    cairnOk(['restore', '--rollback', '--target', ws], { cwd: ws });
    expect(cairn(['restore', '--rollback', '--target', other], { cwd: ws }).code).toBe(4);
  });
});

describe('empty --target and --repo', () => {
  it('are usage errors (exit 2), never the current directory or a discovered repository', () => {
    for (const args of [['restore', id1, '--target', '', '--force', '--yes'], ['restore', id1, '--target=', '--force', '--yes'], ['restore', '--rollback', '--target', ''], ['--repo', '', 'restore', id1, '--yes'], ['--repo', '', 'log']]) {
      const r = cairn(args, { cwd: ws });
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneClearLine(r)[0]).toMatch(/^cairn: --(target|repo) is empty$/);
    }
    expect(describeTree(ws, SKIP)).toEqual(changed);
  });
});

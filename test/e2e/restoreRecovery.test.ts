/**
 * Kill -9 between any two steps of a restore's finish, of a rollback, and of a
 * restore into a new directory: the next command (restore, --rollback,
 * --resume, verify, prune) must do the right thing and leave nothing behind.
 * And the printed undo command of a --path restore that replaced a symlinked
 * parent brings that symlink back. Through the built CLI; kills at named
 * fault points (CAIRN_TEST_FAULTS, src/util/faults.ts), no timing involved.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, describeTree, parseJson, tempDir, writeTree, type NodeInfo } from '../helpers.js';

const SKIP = { skip: ['.cairn'], mtimes: true };

let root: string;
let ws: string;
let id1: string;
let v1State: Record<string, NodeInfo>;
let changedState: Record<string, NodeInfo>;

beforeEach(() => {
  root = fs.realpathSync(tempDir('cairn-recovery-'));
  ws = path.join(root, 'ws');
  writeTree(ws, { 'a.txt': 'a v1\n', src: { 'app.ts': 'app v1\n', lib: { 'u.ts': 'u v1\n' } }, zz: 'last v1\n' });
  cairnOk(['init'], { cwd: ws });
  id1 = parseJson<{ id: string }>(cairnOk(['snapshot', '--json'], { cwd: ws })).id;
  v1State = describeTree(ws, SKIP);
  fs.writeFileSync(path.join(ws, 'a.txt'), 'a v2\n');
  fs.writeFileSync(path.join(ws, 'new.txt'), 'new\n');
  fs.rmSync(path.join(ws, 'src/lib'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'zz'), 'last v2\n');
  changedState = describeTree(ws, SKIP);
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs the CLI in `cwd` until it stalls at a fault point, kills it (-9) there, and returns its stderr. */
function killAt(args: string[], faults: string, cwd = ws): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: faults }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('cairn-test-fault: stalled')) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(stderr) : reject(new Error(`exited (${code}) before stalling at ${faults}:\n${stderr}`))));
  });
}

function leftovers(): { staging: string[]; journals: string[] } {
  const restores = path.join(ws, '.cairn', 'restores');
  return { staging: fs.readdirSync(ws).filter((n) => n.startsWith('.cairn-restore')), journals: fs.existsSync(restores) ? fs.readdirSync(restores) : [] };
}

const NOTHING_LEFT = { staging: [], journals: [] };

function restorePointOf(stderr: string): string {
  const m = /restore point ([0-9a-f]{12}) taken/.exec(stderr);
  if (!m) throw new Error(`no restore point line in:\n${stderr}`);
  return m[1]!;
}

/** The parent of the next snapshot of the workspace: what its HEAD names (the snapshot changes nothing else the tests look at). */
function headParent(): string[] {
  const r = cairnOk(['snapshot', '--json'], { cwd: ws });
  return parseJson<{ parents: string[] }>(r).parents;
}

/** Read-only and pruning commands work while the journal is pending, and keep what it names. */
function verifyAndPruneWork(rp: string): void {
  expect(cairn(['verify'], { cwd: ws }).code).toBe(0);
  cairnOk(['prune', '--yes'], { cwd: ws });
  expect(cairn(['show', rp], { cwd: ws }).code).toBe(0);
}

describe('killed while finishing a restore', () => {
  it('after phase applied, before anything is deleted: --rollback undoes it exactly, even with staging/new already gone', async () => {
    const rp = restorePointOf(await killAt(['restore', id1, '--yes'], 'restore-finish:stall:1'));
    expect(describeTree(ws, { ...SKIP, skip: ['.cairn', ...leftovers().staging] })).toEqual(v1State);
    verifyAndPruneWork(rp);
    // As an interrupted cleanup that deleted new/ first (an older cairn deleted the staging directory in place) leaves it.
    fs.rmSync(path.join(ws, leftovers().staging[0]!, 'new'), { recursive: true });
    const r = parseJson<{ action: string; phase: string }>(cairnOk(['restore', '--rollback', '--json'], { cwd: ws }));
    expect(r).toMatchObject({ action: 'rollback', phase: 'applied' });
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual(NOTHING_LEFT);
    // HEAD was not moved to the restored snapshot: it names the restore point (a snapshot of what is back in place).
    expect(headParent()[0]!.startsWith(rp)).toBe(true);
  });

  for (const point of [2, 3]) {
    const where = point === 2 ? 'after the point of no return (old/ moved away), before HEAD' : 'after the staging directory is deleted, before the journal';
    it(`${where}: --rollback finishes it and says how to undo it; that command undoes it`, async () => {
      const rp = restorePointOf(await killAt(['restore', id1, '--yes'], `restore-finish:stall:${point}`));
      expect(leftovers().journals.length).toBe(1);
      expect(describeTree(ws, { ...SKIP, skip: ['.cairn', ...leftovers().staging] })).toEqual(v1State);
      verifyAndPruneWork(rp);
      const r = cairn(['restore', '--rollback'], { cwd: ws });
      expect(r.code).toBe(5);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^cairn: nothing to roll back: the restore of [0-9a-f]{12} into .* had completed \(it was stopped while cleaning up, which is now done\)$/);
      expect(lines[1]).toBe(`  hint: to undo it, restore its restore point: cairn restore ${rp}`);
      expect(r.stderr).not.toMatch(/ENOENT|internal error/);
      expect(describeTree(ws, SKIP)).toEqual(v1State);
      expect(leftovers()).toEqual(NOTHING_LEFT);
      expect(cairn(['restore', '--rollback'], { cwd: ws }).code).toBe(5); // nothing pending any more
      // The undo it names works.
      cairnOk(['restore', rp, '--yes'], { cwd: ws });
      expect(describeTree(ws, SKIP)).toEqual(changedState);
    });

    it(`${where}: --resume finishes it and sets HEAD`, async () => {
      await killAt(['restore', id1, '--yes'], `restore-finish:stall:${point}`);
      const r = parseJson<{ action: string; phase: string }>(cairnOk(['restore', '--resume', '--json'], { cwd: ws }));
      expect(r).toMatchObject({ action: 'resume', phase: 'applied' });
      expect(describeTree(ws, SKIP)).toEqual(v1State);
      expect(leftovers()).toEqual(NOTHING_LEFT);
      expect(headParent()).toEqual([id1]);
    });

    it(`${where}: a new restore finishes it first`, async () => {
      await killAt(['restore', id1, '--yes'], `restore-finish:stall:${point}`);
      const r = cairnOk(['restore', id1, '--yes', '--json'], { cwd: ws });
      expect(r.stderr).toMatch(/had done every change; finishing it first/);
      expect(parseJson<{ changes: unknown[] }>(r).changes).toEqual([]);
      expect(describeTree(ws, SKIP)).toEqual(v1State);
      expect(leftovers()).toEqual(NOTHING_LEFT);
    });
  }

  it('killed while the staging directory was being deleted (part of discard/ gone): --rollback finishes it, never restores half of old/', async () => {
    const rp = restorePointOf(await killAt(['restore', id1, '--yes'], 'restore-finish:stall:2'));
    const staging = path.join(ws, leftovers().staging[0]!);
    const discard = fs.readdirSync(path.join(staging, 'discard'));
    expect(discard.length).toBeGreaterThan(1);
    fs.rmSync(path.join(staging, 'discard', discard[0]!), { recursive: true });
    fs.rmSync(path.join(staging, 'new'), { recursive: true });
    const r = cairn(['restore', '--rollback'], { cwd: ws });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`cairn restore ${rp}`);
    expect(describeTree(ws, SKIP)).toEqual(v1State);
    expect(leftovers()).toEqual(NOTHING_LEFT);
  });

  it('a --path restore that had completed names the undo with its paths', async () => {
    const rp = restorePointOf(await killAt(['restore', id1, '--path', 'src/lib', '--path', 'a.txt', '--yes'], 'restore-finish:stall:3'));
    const r = cairn(['restore', '--rollback'], { cwd: ws });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`hint: to undo it, restore its restore point: cairn restore ${rp} --path src/lib --path a.txt`);
  });
});

describe('killed while rolling back', () => {
  /** A restore killed midway, then its --rollback killed at `faults`. */
  async function rollbackKilledAt(faults: string): Promise<void> {
    await killAt(['restore', id1, '--yes'], 'restore-apply:stall:3');
    await killAt(['restore', '--rollback'], faults);
    expect(leftovers().journals.length).toBe(1);
  }

  for (const point of [1, 2]) {
    const where = point === 1 ? 'after every entry is back, before the staging directory is deleted' : 'after the staging directory is deleted, before the journal';
    it(`${where}: --rollback finishes the cleanup and leaves the target as it was`, async () => {
      await rollbackKilledAt(`restore-rolled-back:stall:${point}`);
      expect(describeTree(ws, { ...SKIP, skip: ['.cairn', ...leftovers().staging] })).toEqual(changedState);
      if (point === 1) {
        // As an interrupted delete may leave it: the staged new entries partly gone.
        const staging = path.join(ws, leftovers().staging[0]!);
        for (const n of fs.readdirSync(path.join(staging, 'new')).slice(0, 1)) fs.rmSync(path.join(staging, 'new', n), { recursive: true });
      }
      expect(cairn(['verify'], { cwd: ws }).code).toBe(0);
      cairnOk(['prune', '--yes'], { cwd: ws });
      const r = cairnOk(['restore', '--rollback'], { cwd: ws });
      expect(r.stdout).toMatch(/finished rolling back the interrupted restore of [0-9a-f]{8} into .* \(only its cleanup was left\)/);
      expect(describeTree(ws, SKIP)).toEqual(changedState);
      expect(leftovers()).toEqual(NOTHING_LEFT);
    });

    it(`${where}: --resume says it was rolled back, finishes the cleanup and changes nothing`, async () => {
      await rollbackKilledAt(`restore-rolled-back:stall:${point}`);
      const r = cairn(['restore', '--resume'], { cwd: ws });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/^cairn: nothing to resume: the restore of [0-9a-f]{12} into .* had been rolled back/);
      expect(describeTree(ws, SKIP)).toEqual(changedState);
      expect(leftovers()).toEqual(NOTHING_LEFT);
    });

    it(`${where}: a new restore cleans up first and then restores`, async () => {
      await rollbackKilledAt(`restore-rolled-back:stall:${point}`);
      cairnOk(['restore', id1, '--yes'], { cwd: ws });
      expect(describeTree(ws, SKIP)).toEqual(v1State);
      expect(leftovers()).toEqual(NOTHING_LEFT);
    });
  }

  it('midway through moving entries back: --rollback carries on', async () => {
    await rollbackKilledAt('restore-rollback:stall:2');
    cairnOk(['restore', '--rollback'], { cwd: ws });
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual(NOTHING_LEFT);
  });

  it('midway through moving entries back: --resume restores the snapshot after all', async () => {
    await rollbackKilledAt('restore-rollback:stall:2');
    cairnOk(['restore', '--resume'], { cwd: ws });
    expect(describeTree(ws, SKIP)).toEqual(v1State);
    expect(leftovers()).toEqual(NOTHING_LEFT);
  });
});

describe('the undo command of a --path restore', () => {
  it('names the symlinked parent the restore replaced, and running it brings the symlink back', () => {
    const elsewhere = path.join(root, 'elsewhere');
    writeTree(elsewhere, { 'theirs.txt': 'not in the workspace\n' });
    writeTree(ws, { a: { f: 'f v1\n' } });
    const snap = parseJson<{ id: string }>(cairnOk(['snapshot', '--json'], { cwd: ws })).id;
    fs.rmSync(path.join(ws, 'a'), { recursive: true });
    fs.symlinkSync('../elsewhere', path.join(ws, 'a'));
    const before = describeTree(ws, SKIP);
    const r = cairnOk(['restore', snap, '--path', 'a/f', '--yes', '--json'], { cwd: ws });
    const out = parseJson<{ restorePoint: string; undo: string; undoPaths: string[] }>(r);
    expect(fs.lstatSync(path.join(ws, 'a')).isDirectory()).toBe(true);
    expect(out.undo).toBe(`cairn restore ${out.restorePoint.slice(0, 12)} --path a`);
    expect(out.undoPaths).toEqual(['a']);
    expect(r.stderr).toContain(`undo with: ${out.undo}`);
    const undo = out.undo.split(' ').slice(1).map((w) => w.replace(/^"(.*)"$/, '$1'));
    cairnOk([...undo, '--yes'], { cwd: ws });
    expect(fs.lstatSync(path.join(ws, 'a')).isSymbolicLink()).toBe(true);
    expect(describeTree(ws, SKIP)).toEqual(before);
    expect(fs.readdirSync(elsewhere)).toEqual(['theirs.txt']);
  });
});

describe('killed while restoring into a new directory', () => {
  const out = () => path.join(root, 'out');
  const stagingDirs = () => fs.readdirSync(root).filter((n) => n.startsWith('.out.cairn-restore-'));
  const repo = () => path.join(ws, '.cairn');

  it('before the rename: the next restore into it removes the staging directory and restores', async () => {
    await killAt(['restore', id1, '--repo', repo(), '--target', out()], 'restore-new:stall:1', root);
    expect(fs.existsSync(out())).toBe(false);
    const [left] = stagingDirs();
    expect(left).toMatch(/^\.out\.cairn-restore-[0-9a-f]{8}$/);
    expect(JSON.parse(fs.readFileSync(path.join(root, left!, 'owner.json'), 'utf8'))).toMatchObject({ v: 1, target: out(), host: os.hostname() });
    const r = cairnOk(['restore', id1, '--repo', repo(), '--target', out()], { cwd: root });
    expect(r.stderr).toContain(`removed ${path.join(root, left!)}, left by an interrupted restore into ${out()}`);
    expect(stagingDirs()).toEqual([]);
    expect(describeTree(out(), { mtimes: true })).toEqual(v1State);
  });

  it('after the rename: the target is complete, and the next restore beside it removes what is left', async () => {
    await killAt(['restore', id1, '--repo', repo(), '--target', out()], 'restore-new:stall:2', root);
    expect(describeTree(out(), { mtimes: true })).toEqual(v1State);
    expect(stagingDirs().length).toBe(1);
    expect(fs.readdirSync(path.join(root, stagingDirs()[0]!))).toEqual(['owner.json']);
    const r = cairn(['restore', id1, '--repo', repo(), '--target', out()], { cwd: root });
    expect(r.code).toBe(12); // not empty now
    expect(stagingDirs()).toEqual([]);
  });

  it('never removes a staging directory whose owner runs, one without an owner record, or a file of that name', async () => {
    const live = path.join(root, '.out.cairn-restore-0000aaaa');
    writeTree(live, { 'owner.json': JSON.stringify({ v: 1, target: out(), pid: process.pid, host: os.hostname(), started: '' }), tree: { x: 'in use\n' } });
    const other = path.join(root, '.out.cairn-restore-0000bbbb');
    writeTree(other, { 'owner.json': JSON.stringify({ v: 1, target: out(), pid: 1, host: `not-${os.hostname()}`, started: '' }), tree: {} });
    const legacy = path.join(root, '.out.cairn-restore-0000cccc');
    writeTree(legacy, { 'a.txt': 'an older cairn staged this\n' });
    const elsewhere = path.join(root, '.out.cairn-restore-0000dddd');
    writeTree(elsewhere, { 'owner.json': JSON.stringify({ v: 1, target: path.join(root, 'other'), pid: 999999999, host: os.hostname(), started: '' }) });
    const file = path.join(root, '.out.cairn-restore-0000eeee');
    fs.writeFileSync(file, 'a database restore stages a file with this name\n');
    const bad = path.join(root, '.out.cairn-restore-0000fff');
    writeTree(bad, { 'owner.json': JSON.stringify({ v: 1, target: out(), pid: 999999999, host: os.hostname(), started: '' }) });
    const before = describeTree(root, { skip: ['ws', 'out'] });
    const r = cairnOk(['restore', id1, '--repo', repo(), '--target', out()], { cwd: root });
    expect(describeTree(root, { skip: ['ws', 'out'] })).toEqual(before);
    expect(r.stderr).toContain(`${legacy} looks like the staging directory of an interrupted restore into ${out()}, but has no owner record`);
    expect(r.stderr).toContain(`${elsewhere} looks like`);
    expect(r.stderr).not.toMatch(/0000aaaa|0000bbbb|0000eeee|0000fff/);
    expect(describeTree(out(), { mtimes: true })).toEqual(v1State);
  });
});

/**
 * Injected faults during an in-place restore, through the built CLI: a
 * corrupted object, a full disk while staging, a read-only directory, an I/O
 * error after some renames, a failing rollback, and the process killed (-9)
 * midway. Each must leave the workspace exactly as it was (automatic
 * rollback) or recoverable with one command, byte for byte.
 *
 * Faults are injected with CAIRN_TEST_FAULTS (src/util/faults.ts); a killed
 * run stalls at a fault point and prints a marker line, and the test kills it
 * when it reads that line (no timing involved).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, describeTree, parseJson, tempDir, writeTree, type NodeInfo } from '../helpers.js';

const SKIP = { skip: ['.cairn'], mtimes: true };

let root: string;
let ws: string;
let id1: string;
let v1State: Record<string, NodeInfo>;
let changedState: Record<string, NodeInfo>;

/** Over the 4 KiB inline limit, so that it is an object of its own that a test can damage. */
const APP_V1 = `export const v = 1;\n${'// padding\n'.repeat(400)}`;

function setup(): void {
  root = tempDir('cairn-faults-');
  ws = path.join(root, 'ws');
  writeTree(ws, {
    'README.md': '# app\n',
    data: { 'table.csv': Buffer.alloc(200_000, 'a,b\n'), 'x.bin': Buffer.from([1, 2, 3]) },
    empty: {},
    entry: { symlink: 'README.md' },
    src: { 'app.ts': APP_V1, lib: { 'util.ts': 'util v1\n' } },
    zz: { 'last.txt': 'last v1\n' },
  });
  fs.utimesSync(path.join(ws, 'src/lib'), 1_600_000_000, 1_600_000_000);
  cairnOk(['init'], { cwd: ws });
  id1 = parseJson<{ id: string }>(cairnOk(['snapshot', '-m', 'v1', '--json'], { cwd: ws })).id;
  v1State = describeTree(ws, SKIP);
  // The change: several renames in different directories before the last ones.
  fs.writeFileSync(path.join(ws, 'data/table.csv'), Buffer.alloc(200_000, 'c,d\n'));
  fs.rmdirSync(path.join(ws, 'empty'));
  fs.rmSync(path.join(ws, 'entry'));
  fs.writeFileSync(path.join(ws, 'entry'), 'a file now\n');
  fs.writeFileSync(path.join(ws, 'src/app.ts'), 'export const v = 2;\n');
  fs.rmSync(path.join(ws, 'src/lib'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'src/added.ts'), 'added\n');
  fs.writeFileSync(path.join(ws, 'zz/last.txt'), 'last v2\n');
  changedState = describeTree(ws, SKIP);
}

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

beforeEach(setup);

function withFaults(faults: string): { env: NodeJS.ProcessEnv } {
  return { env: { CAIRN_TEST_FAULTS: faults } };
}

function leftovers(): { staging: string[]; journals: string[] } {
  const restores = path.join(ws, '.cairn', 'restores');
  return {
    staging: fs.readdirSync(ws).filter((n) => n.startsWith('.cairn-restore')),
    journals: fs.existsSync(restores) ? fs.readdirSync(restores) : [],
  };
}

/** Runs the CLI until it reports a stall at a fault point, then kills it with SIGKILL. */
function killAtStall(args: string[], faults: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ws,
      env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: faults },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('cairn-test-fault: stalled')) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(stderr);
      else reject(new Error(`the restore exited (${code}) before stalling:\n${stderr}`));
    });
  });
}

function restorePointFrom(stderr: string): string {
  const m = /restore point ([0-9a-f]{12}) taken; undo with: cairn restore ([0-9a-f]{12})/.exec(stderr);
  if (!m) throw new Error(`no restore point line in:\n${stderr}`);
  return m[1]!;
}

function lastAudit(): { op: string; outcome: string; error?: string; message?: string } {
  return parseJson<Array<{ op: string; outcome: string; error?: string; message?: string }>>(cairnOk(['audit', '--json'], { cwd: ws })).at(-1)!;
}

describe('restore in place under faults', () => {
  it('a corrupted object stops the restore before anything in the target changes', () => {
    const id = createHash('sha256').update(APP_V1).digest('hex');
    const file = path.join(ws, '.cairn', 'objects', id.slice(0, 2), id.slice(2, 4), id);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const r = cairn(['restore', id1, '--yes'], { cwd: ws });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/src\/app\.ts/);
    expect(r.stderr).toMatch(/was not changed/);
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
    expect(lastAudit()).toMatchObject({ op: 'restore', outcome: 'error', error: 'INTEGRITY' });
  });

  it('a full disk while staging leaves the target untouched', () => {
    const r = cairn(['restore', id1, '--yes'], { cwd: ws, ...withFaults('restore-stage:ENOSPC:2') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ENOSPC/);
    expect(r.stderr).toMatch(/was not changed/);
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
    expect(lastAudit()).toMatchObject({ op: 'restore', outcome: 'error', error: 'IO' });
  });

  it('a command left waiting on a promise nothing settles fails (exit 1) instead of exiting 0 half-way', () => {
    const r = cairn(['restore', id1, '--yes'], { cwd: ws, ...withFaults('restore-stage:hang:2') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stopped before it finished/);
    // Left as a kill would leave it: nothing applied to the target (staged first), and --resume finishes.
    expect(describeTree(ws, { ...SKIP, skip: ['.cairn', ...fs.readdirSync(ws).filter((n) => n.startsWith('.cairn-restore'))] })).toEqual(changedState);
    cairnOk(['restore', '--resume'], { cwd: ws });
    expect(describeTree(ws, SKIP)).toEqual(v1State);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
  });

  it('an I/O error after some renames is rolled back automatically, byte for byte', () => {
    const r = cairn(['restore', id1, '--yes'], { cwd: ws, ...withFaults('restore-apply:EIO:4') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EIO/);
    expect(r.stderr).toMatch(/rolled back/);
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
    // Nothing left behind: the same restore then succeeds.
    cairnOk(['restore', id1, '--yes'], { cwd: ws });
    expect(describeTree(ws, SKIP)).toEqual(v1State);
  });

  it('a failing rollback leaves a journal that `restore --rollback` completes', () => {
    const r = cairn(['restore', id1, '--yes'], { cwd: ws, ...withFaults('restore-apply:EIO:4,restore-rollback:EIO:2') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/automatic rollback failed/);
    expect(r.stderr).toMatch(/cairn restore --rollback/);
    expect(leftovers().journals.length).toBe(1);
    const rb = parseJson<{ action: string; phase: string }>(cairnOk(['restore', '--rollback', '--json'], { cwd: ws }));
    expect(rb).toMatchObject({ action: 'rollback', phase: 'applying' });
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
  });

  /** Root ignores permission bits: run the CLI as an unprivileged user over files it owns. */
  function unprivileged(): { uid?: number; gid?: number } {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
    fs.chmodSync(root, 0o755);
    for (const p of [ws, ...fs.readdirSync(ws, { recursive: true }).map((n) => path.join(ws, String(n)))]) fs.lchownSync(p, 65534, 65534);
    return { uid: 65534, gid: 65534 };
  }

  it('a read-only directory (permission denied) midway is rolled back automatically', () => {
    const user = unprivileged();
    fs.chmodSync(path.join(ws, 'src'), 0o555);
    const before = describeTree(ws, SKIP);
    const r = cairn(['restore', id1, '--yes'], { cwd: ws, ...user });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EACCES|permission denied/i);
    expect(r.stderr).toMatch(/rolled back/);
    expect(describeTree(ws, SKIP)).toEqual(before);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
    fs.chmodSync(path.join(ws, 'src'), 0o755);
    cairnOk(['restore', id1, '--yes'], { cwd: ws, ...user });
    expect(describeTree(ws, SKIP)).toEqual(v1State);
  });

  it('read-only directories are put in place and moved aside by an unprivileged user, both ways', () => {
    // The snapshot has a read-only directory; the workspace has another one instead.
    fs.rmSync(path.join(ws, '.cairn'), { recursive: true });
    writeTree(ws, { ro: { 'f.txt': 'in a read-only dir\n' } });
    fs.chmodSync(path.join(ws, 'ro'), 0o555);
    cairnOk(['init'], { cwd: ws });
    const user = unprivileged();
    const snapRo = parseJson<{ id: string }>(cairnOk(['snapshot', '--json'], { cwd: ws, ...user })).id;
    const withRo = describeTree(ws, SKIP);
    fs.chmodSync(path.join(ws, 'ro'), 0o755);
    fs.rmSync(path.join(ws, 'ro'), { recursive: true });
    writeTree(ws, { ro2: { 'g.txt': 'another\n' } });
    fs.chmodSync(path.join(ws, 'ro2'), 0o500);
    unprivileged();
    const withRo2 = describeTree(ws, SKIP);
    const r = parseJson<{ restorePoint: string }>(cairnOk(['restore', snapRo, '--yes', '--json'], { cwd: ws, ...user }));
    expect(describeTree(ws, SKIP)).toEqual(withRo);
    cairnOk(['restore', r.restorePoint, '--yes'], { cwd: ws, ...user });
    expect(describeTree(ws, SKIP)).toEqual(withRo2);
    // And a rollback moves them back with their modes.
    const failed = cairn(['restore', snapRo, '--yes'], { cwd: ws, ...user, ...withFaults('restore-apply:EIO:2') });
    expect(failed.stderr).toMatch(/rolled back/);
    expect(describeTree(ws, SKIP)).toEqual(withRo2);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
  });

  it('killed midway (kill -9): `cairn restore --rollback` puts the workspace back', async () => {
    const stderr = await killAtStall(['restore', id1, '--yes'], 'restore-apply:stall:3');
    expect(stderr).toMatch(/restore point [0-9a-f]{12} taken/);
    const mid = describeTree(ws, SKIP);
    expect(mid).not.toEqual(changedState); // really midway
    expect(leftovers().journals.length).toBe(1);
    expect(cairn(['restore', id1, '--dry-run'], { cwd: ws }).code).toBe(12); // pending: recover first
    cairnOk(['restore', '--rollback'], { cwd: ws });
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
    const a = lastAudit();
    expect(a).toMatchObject({ op: 'restore-rollback', outcome: 'ok' });
  });

  it('killed midway: `cairn restore --resume` finishes the restore', async () => {
    await killAtStall(['restore', id1, '--yes'], 'restore-apply:stall:3');
    const r = parseJson<{ phase: string }>(cairnOk(['restore', '--resume', '--json'], { cwd: ws }));
    expect(r.phase).toBe('applying');
    expect(describeTree(ws, SKIP)).toEqual(v1State);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
    // HEAD was set by the resumed restore.
    const s = parseJson<{ parents: string[] }>(cairnOk(['snapshot', '--json'], { cwd: ws }));
    expect(s.parents).toEqual([id1]);
  });

  it('killed midway: restoring the restore point is one command that brings the workspace back', async () => {
    const stderr = await killAtStall(['restore', id1, '--yes'], 'restore-apply:stall:5');
    const rp = restorePointFrom(stderr);
    const r = cairnOk(['restore', rp, '--yes'], { cwd: ws });
    expect(r.stderr).toMatch(/interrupted restore .* was found; rolling it back first/);
    expect(describeTree(ws, SKIP)).toEqual(changedState);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
  });

  it('killed after the last rename: the next restore into the target finishes it instead of undoing it', async () => {
    await killAtStall(['restore', id1, '--yes'], 'restore-finish:stall:1');
    expect(leftovers().journals.length).toBe(1);
    const r = parseJson<{ changes: unknown[] }>(cairnOk(['restore', id1, '--yes', '--json'], { cwd: ws }));
    expect(r.changes).toEqual([]);
    expect(describeTree(ws, SKIP)).toEqual(v1State);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
  });

  it('killed while staging: the target is untouched and --resume stages again and finishes', async () => {
    await killAtStall(['restore', id1, '--yes'], 'restore-stage:stall:2');
    expect(describeTree(ws, { ...SKIP, skip: ['.cairn', ...fs.readdirSync(ws).filter((n) => n.startsWith('.cairn-restore'))] })).toEqual(changedState);
    cairnOk(['restore', '--resume'], { cwd: ws });
    expect(describeTree(ws, SKIP)).toEqual(v1State);
    expect(leftovers()).toEqual({ staging: [], journals: [] });
  });

  it('--verify re-reads the staged files before anything is replaced', () => {
    const r = parseJson<{ verified: boolean }>(cairnOk(['restore', id1, '--yes', '--verify', '--json'], { cwd: ws }));
    expect(r.verified).toBe(true);
    expect(describeTree(ws, SKIP)).toEqual(v1State);
  });

  it('recovery with nothing pending is "not found"', () => {
    expect(cairn(['restore', '--rollback'], { cwd: ws }).code).toBe(5);
    expect(cairn(['restore', '--resume', '--rollback'], { cwd: ws }).code).toBe(2);
    expect(cairn(['restore'], { cwd: ws }).code).toBe(2);
  });
});

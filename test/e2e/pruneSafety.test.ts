/**
 * Prune safety across processes: the repository lock keeps prune and
 * snapshot apart, and a prune killed (SIGKILL) at any moment leaves every
 * remaining snapshot restorable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, ROOT, tempDir, writeTree, type NodeInfo } from '../helpers.js';

const LIB = path.join(ROOT, 'dist', 'src', 'index.js');

/** Runs an ES module script in a child node process with REPO set. */
function script(code: string, repo: string): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, REPO: repo, LIB }, stdio: ['pipe', 'pipe', 'pipe'] });
}

function waitFor(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before "${text}"`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

/** Holds a lock until stdin closes. */
const HOLD_LOCK = `
const { Repository } = await import(process.env.LIB);
const repo = await Repository.open({ repo: process.env.REPO });
await repo.withLock(process.argv[1] ?? 'snapshot', process.env.EXCLUSIVE === '1', async () => {
  process.stdout.write('locked\\n');
  await new Promise((resolve) => process.stdin.on('end', resolve).resume());
});
repo.close();
`;

const root = tempDir('cairn-e2e-prune-');
const repo = path.join(root, 'repo');
const ws = path.join(root, 'ws');
const R = ['--repo', repo];

beforeAll(() => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 120; i++) files[`f${i}.txt`] = `file ${i} version 0\n`.repeat(20);
  writeTree(ws, { data: files });
  cairnOk(['init', ...R]);
  cairnOk([...R, 'snapshot', ws, '--time', '2026-01-01T00:00:00Z']);
});

describe('prune and snapshot exclude each other (repository lock)', () => {
  it('prune and forget exit 11 while a snapshot holds its shared lock; snapshot exits 11 while prune holds the exclusive one', async () => {
    const holder = script(HOLD_LOCK, repo);
    await waitFor(holder, 'locked');
    const p = cairn([...R, '--yes', 'prune']);
    expect(p.code).toBe(11);
    expect(p.stderr).toMatch(/repository is busy: snapshot \(pid \d+/);
    expect(cairn([...R, '--yes', 'forget', '--keep-last', '1']).code).toBe(11);
    expect(cairn([...R, 'verify']).code).toBe(0); // readers share
    holder.stdin!.end();
    expect(await exited(holder)).toBe(0);
    cairnOk([...R, '--yes', 'prune']);

    const pruner = spawn(process.execPath, ['--input-type=module', '-e', HOLD_LOCK, 'prune'], {
      env: { ...process.env, REPO: repo, LIB, EXCLUSIVE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    await waitFor(pruner, 'locked');
    const s = cairn([...R, 'snapshot', ws]);
    expect(s.code).toBe(11);
    expect(s.stderr).toMatch(/repository is busy: prune .* holds an exclusive lock/);
    pruner.stdin!.end();
    expect(await exited(pruner)).toBe(0);
  });
});

describe('a prune killed at any moment', () => {
  const remaining = new Map<string, Record<string, NodeInfo>>();

  beforeAll(() => {
    // Twelve snapshots that each rewrite 20 files; forget all but four, without pruning.
    for (let v = 1; v <= 12; v++) {
      const files: Record<string, string> = {};
      // ~5 KB each: over the 4 KiB inline limit, so every version is an object of its own for prune to collect.
      for (let i = 0; i < 20; i++) files[`f${(v * 7 + i) % 120}.txt`] = `file ${i} version ${v}\n`.repeat(250);
      writeTree(ws, { data: files });
      const id = parseJson<{ id: string }>(cairnOk([...R, 'snapshot', ws, '--json', '--time', `2026-02-${String(v).padStart(2, '0')}T00:00:00Z`])).id;
      if (v % 3 === 0) remaining.set(id, describeTree(ws));
    }
    const keep = [...remaining.keys()];
    const all = parseJson<Array<{ id: string }>>(cairnOk([...R, 'log', '--json'])).map((r) => r.id);
    cairnOk([...R, '--yes', 'forget', ...all.filter((id) => !keep.includes(id))]);
    expect(parseJson<Array<{ id: string }>>(cairnOk([...R, 'log', '--json']))).toHaveLength(4);
  });

  function objectCount(): number {
    let n = 0;
    for (const a of fs.readdirSync(path.join(repo, 'objects'))) for (const b of fs.readdirSync(path.join(repo, 'objects', a))) n += fs.readdirSync(path.join(repo, 'objects', a, b)).length;
    return n;
  }

  function assertIntact(label: string): void {
    const v = cairn([...R, 'verify', '--read-data', '--json']);
    expect(v.code, `${label}: ${v.stdout.slice(0, 400)}`).toBe(0);
    for (const [id, tree] of remaining) {
      const target = path.join(root, `restore-${label}-${id.slice(0, 8)}`);
      cairnOk([...R, 'restore', id, '--target', target]);
      expect(describeTree(target), `${label} ${id}`).toEqual(tree);
    }
  }

  /** Runs prune in a child that SIGKILLs itself when its progress matches. */
  async function pruneKilledAt(condition: string): Promise<void> {
    const child = script(
      `
const { Repository } = await import(process.env.LIB);
const repo = await Repository.open({ repo: process.env.REPO, approve: () => true });
await repo.prune({ onProgress: (p) => { if (${condition}) process.kill(process.pid, 'SIGKILL'); } });
process.stdout.write('finished\\n');
`,
      repo,
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await exited(child);
    expect(child.signalCode, `prune should have been killed at ${condition} (stdout: ${out})`).toBe('SIGKILL');
  }

  it('while marking, and after 0, 1, 13 and 60 deletions, leaves every remaining snapshot restorable', async () => {
    const start = objectCount();
    await pruneKilledAt("p.phase === 'mark' && p.snapshots === 2");
    expect(objectCount()).toBe(start);
    assertIntact('mark');
    let last = start;
    for (const k of [0, 1, 13, 60]) {
      await pruneKilledAt(`p.phase === 'sweep' && p.deleted >= ${k} && (${k} > 0 || p.scanned > 0)`);
      const now = objectCount();
      expect(now).toBeLessThanOrEqual(last);
      last = now;
      assertIntact(`sweep${k}`);
    }
    expect(last).toBeLessThan(start);
    // Killed processes left their lock files and scratch mark databases; the next prune cleans up and finishes.
    expect(fs.readdirSync(path.join(repo, 'tmp')).some((n) => n.startsWith('prune.mark-'))).toBe(true);
    const done = parseJson<{ deletedObjects: number; tmpFilesRemoved: number }>(cairnOk([...R, '--yes', 'prune', '--json']));
    expect(done.deletedObjects).toBeGreaterThan(0);
    expect(done.tmpFilesRemoved).toBeGreaterThanOrEqual(5);
    expect(fs.readdirSync(path.join(repo, 'tmp'))).toEqual([]);
    expect(fs.readdirSync(path.join(repo, 'locks'))).toEqual([]);
    expect(parseJson<{ deletedObjects: number }>(cairnOk([...R, '--yes', 'prune', '--json'])).deletedObjects).toBe(0);
    assertIntact('final');
  });

  it('killed from outside with SIGKILL mid-sweep, too', async () => {
    // New garbage: forget one more snapshot, then kill `cairn prune` as soon as objects start to disappear.
    const victim = [...remaining.keys()][0]!;
    remaining.delete(victim);
    cairnOk([...R, '--yes', 'forget', victim]);
    const before = objectCount();
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bin', 'cairn.js'), ...R, '--yes', 'prune'], { stdio: 'ignore' });
    const done = exited(child);
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished && objectCount() === before) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    await done;
    assertIntact('external');
  });
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/**
 * The repository lock file (locks/). When it cannot be written (a full disk, injected at the fault point
 * `lock-write`): one line naming it, and no temp file left. When cairn exits without waiting for the command to end: a second Ctrl-C
 * during an orderly stop, or a Ctrl-C to a command that stops at once. The process removes the lock files it holds
 * on its way out, so another cairn is not told the repository is busy meanwhile. No timing: each signal is sent
 * on a line the process (or the command it runs) writes when it has reached the point under test.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, killAtStall, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-lockrelease-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * Runs `node CLI args`; each time its stderr shows the next of `cues`, sends it SIGINT. Resolves with its exit
 * status, its stderr and whether every cue was seen.
 */
function interruptAt(args: string[], cues: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; allCues: boolean }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CAIRN_REPO: '', ...env } });
  let stderr = '';
  let next = 0;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    while (next < cues.length && stderr.includes(cues[next]!)) {
      next++;
      child.kill('SIGINT');
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr, allCues: next === cues.length })));
}

function locks(repo: string): string[] {
  return fs.readdirSync(path.join(repo, 'locks'));
}

describe('an immediate exit removes the lock files the process holds', () => {
  it('a second SIGINT during the orderly stop of a --from-command snapshot: exit 130, locks/ empty', async () => {
    const repo = path.join(root, 'stream');
    cairnOk(['init', '--repo', repo]);
    // The command ignores the SIGTERM of the orderly stop (it says so), so the stop waits for it; the second SIGINT
    // arrives while it waits.
    const command = "trap 'echo cairn-test-child: got TERM >&2' TERM; echo cairn-test-child: started >&2; while :; do sleep 1 & wait; done";
    const r = await interruptAt(['snapshot', '--from-command', command, '--name', 'slow', '--repo', repo], ['cairn-test-child: started', 'cairn-test-child: got TERM']);
    expect(r.allCues).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('cairn: interrupted; the repository is left consistent');
    expect(locks(repo)).toEqual([]);
    const v = cairnOk(['verify', '--repo', repo]);
    expect(v.stderr).toBe('');
  });

  it('a SIGINT to a restore (which stops at once) stalled with its lock held: exit 130, locks/ empty', async () => {
    const repo = path.join(root, 'restore');
    const src = path.join(root, 'restore-src');
    writeTree(src, { 'a.txt': 'a\n' });
    cairnOk(['init', '--repo', repo]);
    const id = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
    const r = await interruptAt(['restore', id, '--target', path.join(root, 'restore-out'), '--repo', repo], ['cairn-test-fault: stalled at restore-new 1'], {
      CAIRN_TEST_FAULTS: 'restore-new:stall:1',
    });
    expect(r.allCues).toBe(true);
    expect(r.code).toBe(130);
    expect(locks(repo)).toEqual([]);
    // and the repository is not busy for the next command
    cairnOk(['prune', '--yes', '--repo', repo]);
  });
});

describe('a lock file that cannot be written', () => {
  it('on a full disk: one line naming the lock file and saying the disk is full, exit 1, nothing left in locks/', () => {
    const repo = path.join(root, 'full');
    const src = path.join(root, 'full-src');
    writeTree(src, { 'a.txt': 'a\n' });
    cairnOk(['init', '--repo', repo]);
    cairnOk(['snapshot', src, '--repo', repo]);
    for (const args of [['snapshot', src], ['tag', 'v1'], ['prune', '--yes']]) {
      const r = cairn([...args, '--repo', repo], { env: { CAIRN_TEST_FAULTS: 'lock-write:ENOSPC:1' } });
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(new RegExp(`^cairn: no space left on device: cannot write the repository's lock file ${path.join(repo, 'locks')}/\\d+-\\d+-[0-9a-f]+\\.json$`));
      expect(lines[1]).toBe("  hint: free some space on the repository's file system and run the command again; the repository is unchanged");
      expect(fs.readdirSync(path.join(repo, 'locks'))).toEqual([]); // no temp file either
    }
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--repo', repo]))).toHaveLength(1);
  });
});

describe('a lock write killed half way', () => {
  it("leaves its temp file in locks/, and the next command's lock removes it (its writer is gone)", async () => {
    const repo = path.join(root, 'killed-lock');
    const src = path.join(root, 'killed-lock-src');
    writeTree(src, { 'a.txt': 'a\n' });
    cairnOk(['init', '--repo', repo]);
    // Stalled with the lock's temp file open and nothing written, then kill -9: the temp file stays.
    expect(await killAtStall([CLI, 'snapshot', src, '--repo', repo], 'lock-write:stall:1', 'lock-write 1')).toBe(true);
    const left = locks(repo);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.tmp-\d+-/);
    // A temp file of a live process (this test's) is not touched.
    const live = path.join(repo, 'locks', `.tmp-${process.pid}-live`);
    fs.writeFileSync(live, '');
    cairnOk(['snapshot', src, '--repo', repo]);
    expect(locks(repo)).toEqual([path.basename(live)]);
  });
});

describe('two processes opening a repository whose index.db is lost', () => {
  it('one rebuilds it, holding the rebuild lock; the other waits, then uses that index: both exit 0, verify is clean', async () => {
    const repo = path.join(root, 'rebuild');
    const src = path.join(root, 'rebuild-src');
    writeTree(src, { 'a.txt': 'a\n', d: { 'b.txt': 'b\n' } });
    cairnOk(['init', '--repo', repo]);
    const first = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--tag', 'v1', '--json'])).id;
    fs.writeFileSync(path.join(src, 'a.txt'), 'a2\n');
    const second = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
    fs.writeFileSync(path.join(repo, 'index.db'), ''); // killed while it was being created
    for (const f of ['index.db-wal', 'index.db-shm']) fs.rmSync(path.join(repo, f), { force: true });

    // A stops at the fault point `index-rebuild` (the rebuild lock held, nothing built) until its stdin closes.
    const a = spawn(process.execPath, [CLI, 'log', '--json', '--repo', repo], { env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: 'index-rebuild:pause:1' } });
    const b = { child: undefined as ReturnType<typeof spawn> | undefined, stdout: '', stderr: '' };
    const out = { a: '', aErr: '' };
    a.stdout.on('data', (d: Buffer) => (out.a += d.toString()));
    const aDone = new Promise<number | null>((resolve) => a.on('close', resolve));
    let bDone: Promise<number | null> | undefined;
    await new Promise<void>((resolve, reject) => {
      a.stderr.on('data', (d: Buffer) => {
        out.aErr += d.toString();
        if (b.child || !out.aErr.includes('cairn-test-fault: paused at index-rebuild 1')) return;
        // B finds index.db still empty, and the rebuild lock held by A: it says it waits; then A goes on.
        b.child = spawn(process.execPath, [CLI, 'tags', '--json', '--repo', repo], { env: { ...process.env, CAIRN_REPO: '' } });
        b.child.stdout!.on('data', (x: Buffer) => (b.stdout += x.toString()));
        bDone = new Promise((r) => b.child!.on('close', r));
        b.child.stderr!.on('data', (x: Buffer) => {
          b.stderr += x.toString();
          if (b.stderr.includes('waiting for the index to be rebuilt by another cairn')) {
            a.stdin.end();
            resolve();
          }
        });
        b.child.on('close', () => resolve()); // B ended without waiting: the assertions below say so
      });
      a.on('close', () => (b.child ? undefined : reject(new Error(`A ended without pausing: ${out.aErr}`))));
    });
    a.stdin.end();
    expect(await aDone).toBe(0);
    expect(await bDone).toBe(0);
    expect(b.stderr).toMatch(new RegExp(`^cairn: warning: waiting for the index to be rebuilt by another cairn \\(pid ${a.pid} on `));
    expect(b.stderr).not.toContain('rebuilding it'); // only A rebuilt
    expect(out.aErr).toContain('the index was empty (an interrupted command?); rebuilding it from the object store');
    expect(parseJson<Array<{ id: string }>>({ code: 0, stdout: out.a, stderr: '' }).map((s) => s.id)).toEqual([second, first]);
    expect(parseJson<Array<{ name: string; snapshot: string }>>({ code: 0, stdout: b.stdout, stderr: '' })).toMatchObject([{ name: 'v1', snapshot: first }]);
    const v = cairnOk(['verify', '--repo', repo]);
    expect(v.stderr).toBe('');
    expect(locks(repo)).toEqual([]);
  });
});

// The CLI started with V8 flags (`node --max-semi-space-size=N cairn.js`, as a user tuning memory would, or
// `node --trace-gc cairn.js` to look at its collections): its worker threads must still start. V8's flags are per
// process, and a worker given them refuses to start (ERR_WORKER_INVALID_EXEC_ARGV); heap sizes once made a
// snapshot skip files as "not stored", and any other V8 flag (--expose-gc, --stack-trace-limit) made a snapshot
// fail until 2026-11-30.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, describeTree, tempDir } from '../helpers.js';
import { makeRowDatabase } from './databaseFixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=512', '--stack-size=900', '--expose-gc', '--stack-trace-limit=30'];

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...FLAGS, CLI, ...args], { encoding: 'utf8', env: { ...process.env, CAIRN_REPO: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the CLI under V8 flags', () => {
  it('snapshots (flush and staging workers) and restores (reading worker) with every file', () => {
    const dir = tempDir('cairn-node-flags-');
    dirs.push(dir);
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'many'), { recursive: true });
    for (let i = 0; i < 80; i++) fs.writeFileSync(path.join(src, 'many', `f${i}.bin`), randomBytes(6000)); // > 32 objects: the flush worker
    fs.writeFileSync(path.join(src, 'big.bin'), randomBytes(20 * 1024 * 1024)); // >= 16 MiB: the staging worker
    makeRowDatabase(path.join(src, 'app.db'), 130_000); // >= 16 MiB of small chunks: the reading worker on restore
    const R = ['--repo', path.join(dir, 'repo')];
    expect(run([...R, 'init']).code).toBe(0);
    const snap = run([...R, 'snapshot', src, '--json']);
    expect(snap.stderr).toBe('');
    expect(snap.code).toBe(0);
    const stats = (JSON.parse(snap.stdout) as { stats: { files: number; errors: number } }).stats;
    expect(stats).toMatchObject({ files: 82, errors: 0 });
    const out = path.join(dir, 'out');
    const restored = run([...R, 'restore', 'latest', '--target', out]);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(describeTree(out)).toEqual(describeTree(src));
  });
});

// A program named `sync` earlier on $PATH than the system's (a user's shim directory, ~/.cargo/bin on the machine
// this was written on) must never be what makes a batch of objects or a restore durable: if it exits 0 without
// syncing anything, cairn would believe the data on disk. cairn runs /usr/bin/sync or /bin/sync, and looks on
// $PATH only where neither exists.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SYNC_PATHS } from '../../src/util/durableFs.js';
import { CLI, describeTree, tempDir } from '../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('the sync cairn runs', () => {
  it('is the system one, not a `sync` earlier on $PATH', () => {
    const dir = tempDir('cairn-sync-path-');
    dirs.push(dir);
    const bin = path.join(dir, 'bin');
    const calls = path.join(dir, 'fake-sync-calls');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'sync'), `#!/bin/sh\necho "$@" >> '${calls}'\nexit 0\n`, { mode: 0o755 });
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'many'), { recursive: true });
    for (let i = 0; i < 80; i++) fs.writeFileSync(path.join(src, 'many', `f${i}.bin`), randomBytes(6000)); // > 32 objects: a batch made durable with `sync -f`
    const env = { ...process.env, CAIRN_REPO: '', PATH: `${bin}:${process.env.PATH ?? ''}` };
    const run = (args: string[]): void => {
      const r = spawnSync(process.execPath, [CLI, '--repo', path.join(dir, 'repo'), ...args], { encoding: 'utf8', env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };
    run(['init']);
    run(['snapshot', src]);
    run(['restore', 'latest', '--target', path.join(dir, 'out')]);
    expect(describeTree(path.join(dir, 'out'))).toEqual(describeTree(src));
    const system = SYNC_PATHS.some((p) => fs.existsSync(p));
    // Where the system has no sync at a fixed path, the one on $PATH is all there is, and it is the one run.
    expect(fs.existsSync(calls)).toBe(!system);
  });
});

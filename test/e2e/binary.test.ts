/**
 * The `cairn` binary is a CommonJS loader that runs the bundled CLI with the
 * V8 code cache the build made (scripts/bundle-cli.mjs). The cache must be
 * one V8 accepts, and the binary must work the same without it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { Script } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, tempDir } from '../helpers.js';

const bin = path.dirname(CLI);
const copy = path.join(ROOT, 'dist', `bin-nocache-${process.pid}`);
const work = tempDir('cairn-binary-');
afterAll(() => {
  fs.rmSync(copy, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the cairn binary', () => {
  it('has a code cache that V8 accepts for its bundle', () => {
    const file = path.join(bin, 'cairn-cli.cjs');
    const script = new Script((Module as unknown as { wrap(s: string): string }).wrap(fs.readFileSync(file, 'utf8')), {
      filename: file,
      cachedData: fs.readFileSync(path.join(bin, 'cairn-cli.cache')),
    });
    expect(script.cachedDataRejected).toBe(false);
  });

  it('works the same without its code cache', () => {
    fs.mkdirSync(copy);
    for (const f of ['cairn.js', 'cairn-cli.cjs', 'package.json']) fs.copyFileSync(path.join(bin, f), path.join(copy, f));
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(copy, 'cairn.js'), ...args], { encoding: 'utf8', env: { ...process.env, CAIRN_REPO: '' } });
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.txt'), 'hello\n');
    const repo = path.join(work, 'repo');
    expect(run('--repo', repo, 'init').status).toBe(0);
    const snap = run('--repo', repo, '--json', 'snapshot', src);
    expect(snap.status).toBe(0);
    expect(JSON.parse(snap.stdout).stats.files).toBe(1);
    const bad = run('--repo', repo, 'restore', 'nosuchref', '--target', path.join(work, 'out'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')[0]).toMatch(/^cairn: /);
    expect(fs.existsSync(path.join(copy, 'cairn-cli.cache'))).toBe(false);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RepositoryLock, releaseHeldLocksSync } from '../../src/repositoryLock.js';
import { tempDir } from '../helpers.js';

const root = tempDir('cairn-lockunit-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('releaseHeldLocksSync', () => {
  it('removes the lock files this process still holds, and only those that still say they are its own', () => {
    const repo = path.join(root, 'r');
    const a = RepositoryLock.acquire(repo, 'snapshot', false);
    RepositoryLock.acquire(repo, 'restore', false);
    const released = RepositoryLock.acquire(repo, 'tag', false);
    released.release();
    const dir = path.join(repo, 'locks');
    expect(fs.readdirSync(dir)).toHaveLength(2);
    // One of them now says another process holds it (a file replaced under its name): left alone.
    const [first] = fs.readdirSync(dir).sort();
    const other = path.join(dir, first!);
    fs.writeFileSync(other, JSON.stringify({ ...JSON.parse(fs.readFileSync(other, 'utf8')), pid: process.pid + 1 }));
    expect(releaseHeldLocksSync()).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([first]);
    expect(releaseHeldLocksSync()).toBe(0); // nothing held any more
    a.release(); // a release after the exit-time one is harmless
  });
});

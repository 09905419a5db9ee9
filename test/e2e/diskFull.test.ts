/**
 * A repository whose disk fills up: commands fail with one line saying so (exit 1) and leave nothing behind that
 * takes space. Tests cannot fill a real disk (no mounts in CI): the full disk is injected (CAIRN_TEST_FAULTS), at
 * an object write or at the free-space check that guards index.db (src/util/freeSpace.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, describeTree, parseJson, tempDir, writeTree } from '../helpers.js';
import { content } from '../property/treeArb.js';

const root = tempDir('cairn-diskfull-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Directories under objects/ that hold nothing. */
function emptyDirs(repo: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const names = fs.readdirSync(d, { withFileTypes: true });
    if (names.length === 0 && d !== path.join(repo, 'objects')) out.push(d);
    for (const e of names) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  walk(path.join(repo, 'objects'));
  return out;
}

// Many small files (larger than the inline limit): their temp files are written, and their shard directories
// made, by the flush worker in groups, long before the batch that moves them into place.
const src = path.join(root, 'src');
const files: Record<string, Buffer> = {};
for (let i = 0; i < 800; i++) files[`f${i}.bin`] = content(5000 + (i % 7), i);
writeTree(src, { data: files });

describe('a snapshot that fails on a full disk', () => {
  it('leaves no empty shard directories behind (each takes a block of the full disk)', () => {
    const repo = path.join(root, 'shards');
    cairnOk(['init', '--repo', repo]);
    const r = cairn(['snapshot', src, '--repo', repo], { env: { CAIRN_TEST_FAULTS: 'object-write:ENOSPC:700' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cairn: cannot write object [0-9a-f]{64}: .*ENOSPC/);
    expect(emptyDirs(repo)).toEqual([]);
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--repo', repo]))).toEqual([]);
    const next = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    const out = path.join(root, 'shards-out');
    cairnOk(['restore', next.id, '--repo', repo, '--target', out, '--verify']);
    expect(describeTree(out)).toEqual(describeTree(src));
  });

  it('is not recorded when its objects left less room than index.db needs, and says so in one line', () => {
    const repo = path.join(root, 'room');
    cairnOk(['init', '--repo', repo]);
    // free-space check 1: opening index.db (room); 2: before the manifest, after the objects (none)
    const r = cairn(['snapshot', src, '--repo', repo], { env: { CAIRN_TEST_FAULTS: 'free-space:ENOSPC:2' } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cairn: no space left on device: .* has 0 KiB free, and cairn keeps 1 MiB there for its index \(index\.db\); the snapshot was not saved/);
    expect(lines[1]).toMatch(/hint: free some space/);
    expect(fs.readdirSync(path.join(repo, 'snapshots'))).toEqual([]);
    expect(parseJson<unknown[]>(cairnOk(['log', '--json', '--repo', repo]))).toEqual([]);
    // The objects it stored are kept for the next snapshot.
    const next = parseJson<{ stats: { newObjects: number } }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(next.stats.newObjects).toBe(0);
  });

  it('with little room when index.db is opened, commands still read and write it (no shared memory file)', () => {
    const repo = path.join(root, 'low');
    cairnOk(['init', '--repo', repo]);
    const env = { CAIRN_TEST_FAULTS: 'free-space:ENOSPC:1' };
    const snap = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'], { env }));
    expect(parseJson<Array<{ id: string }>>(cairnOk(['log', '--json', '--repo', repo], { env })).map((s) => s.id)).toEqual([snap.id]);
    cairnOk(['verify', '--repo', repo], { env });
  });
});

describe('prune', () => {
  it('removes empty shard directories (left by a failed write of an older cairn, or a crash), and --dry-run does not', () => {
    const repo = path.join(root, 'prune');
    cairnOk(['init', '--repo', repo]);
    cairnOk(['snapshot', src, '--repo', repo]);
    // Shard names no object of the snapshot uses: its trees' ids change from run to run (they hold mtimes), and a
    // fixed name (it was `ab`) was in use about once in a hundred runs, and then rightly kept.
    const used = new Set(fs.readdirSync(path.join(repo, 'objects')));
    const free = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).filter((n) => !used.has(n));
    expect(free.length).toBeGreaterThanOrEqual(2);
    const [a, b] = free as [string, string];
    const made = [`${a}/cd`, `${a}/ce`, `${b}/00`].map((d) => path.join(repo, 'objects', d));
    for (const d of made) fs.mkdirSync(d, { recursive: true });
    expect(emptyDirs(repo).sort()).toEqual([...made].sort());
    cairnOk(['prune', '--dry-run', '--repo', repo]);
    expect(emptyDirs(repo).sort()).toEqual([...made].sort());
    cairnOk(['prune', '--yes', '--repo', repo]);
    expect(emptyDirs(repo)).toEqual([]);
    expect(fs.existsSync(path.join(repo, 'objects', a))).toBe(false);
    cairnOk(['verify', '--read-data', '--repo', repo]);
  });
});

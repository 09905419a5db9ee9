/**
 * Files between the small-file limit (1 MiB) and the staging worker's 16 MiB are cut in chunking buffers the
 * walk lends from file to file (TreeBuilder.chunkBuffers, two read at once), and their large chunks are stored
 * synchronously from those buffers. A chunk still in use when its buffer went to the next file would be stored
 * with the next file's bytes under the first one's id: these tests run the built CLI over many such files, read
 * two at a time, and check every object and every restored byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairnOk, describeTree, parseJson, tempDir } from '../helpers.js';
import { content } from '../property/treeArb.js';

const root = tempDir('cairn-midsize-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const MiB = 1024 * 1024;

describe('files of 1 to 16 MiB', () => {
  it('are stored and restored byte for byte when many are read one after another through the lent buffers', () => {
    const src = path.join(root, 'src');
    const sizes = [1.2, 2.5, 3.3, 5, 9.1, 1.5, 6.2, 2.1, 15.9];
    for (const [i, mib] of sizes.entries()) {
      const dir = path.join(src, i % 2 ? 'odd' : 'even', `d${i % 3}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `f${i}.bin`), content(Math.round(mib * MiB) + i, 1000 + i)); // compressible and random by seed
    }
    // The same bytes as an earlier file, read later: its chunks are found, not stored again.
    fs.copyFileSync(path.join(src, 'odd', 'd1', 'f1.bin'), path.join(src, 'even', 'd2', 'again.bin'));
    const repo = path.join(root, 'repo');
    cairnOk(['init', '--repo', repo]);
    const snap = parseJson<{ id: string; stats: { newObjects: number } }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(snap.stats.newObjects).toBeGreaterThan(sizes.length);
    cairnOk(['verify', '--repo', repo, '--read-data']);
    const out = path.join(root, 'out');
    cairnOk(['restore', snap.id, '--repo', repo, '--target', out]);
    expect(describeTree(out)).toEqual(describeTree(src));

    // Changed files' new chunks are deflated (the repository's changeCompression): copied, and written on the
    // thread pool while the lent buffer goes on to the next file.
    for (const i of [2, 3, 4, 6]) {
      const f = path.join(src, i % 2 ? 'odd' : 'even', `d${i % 3}`, `f${i}.bin`);
      const data = fs.readFileSync(f);
      content(200_000, 2000 + i).copy(data, 100_000 * i); // 200 KB overwritten: a chunk or two change
      fs.writeFileSync(f, data);
    }
    // And one rewritten whole: all its chunks new, several deflating while the chunker reuses its buffer's front.
    fs.writeFileSync(path.join(src, 'even', 'd2', 'f8.bin'), content(Math.round(15.9 * MiB), 3008));
    const next = parseJson<{ id: string; stats: { newObjects: number } }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(next.stats.newObjects).toBeGreaterThanOrEqual(10);
    cairnOk(['verify', '--repo', repo, '--read-data']);
    const out2 = path.join(root, 'out2');
    cairnOk(['restore', next.id, '--repo', repo, '--target', out2]);
    expect(describeTree(out2)).toEqual(describeTree(src));
  });
});

/**
 * A snapshot's marker is created in place (src/refs.ts writeSnapshotMarker), not through a temp file and a rename:
 * a symlink planted at its name must not be followed, so nothing outside the repository is created or truncated.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listSnapshotMarkers, snapshotMarker, writeSnapshotMarker } from '../../src/refs.js';
import type { ObjectId } from '../../src/store/objectId.js';
import { tempDir } from '../helpers.js';

const root = tempDir('cairn-marker-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const ID = 'ab'.repeat(32) as ObjectId;

describe('writeSnapshotMarker', () => {
  it('creates an empty marker, and again over one already there', () => {
    const repo = path.join(root, 'plain');
    writeSnapshotMarker(repo, ID);
    writeSnapshotMarker(repo, ID);
    expect(fs.readFileSync(snapshotMarker(repo, ID)).length).toBe(0);
    expect(listSnapshotMarkers(repo)).toEqual([ID]);
  });

  it('refuses a symlink at its name: the file it points to is left as it was', () => {
    const repo = path.join(root, 'planted');
    const outside = path.join(root, 'outside.txt');
    fs.writeFileSync(outside, 'keep me\n');
    fs.mkdirSync(path.join(repo, 'snapshots'), { recursive: true });
    fs.symlinkSync(outside, snapshotMarker(repo, ID));
    expect(() => writeSnapshotMarker(repo, ID)).toThrow(/ELOOP/);
    expect(fs.readFileSync(outside, 'utf8')).toBe('keep me\n');
    const dangling = path.join(root, 'not-there.txt');
    fs.rmSync(snapshotMarker(repo, ID));
    fs.symlinkSync(dangling, snapshotMarker(repo, ID));
    expect(() => writeSnapshotMarker(repo, ID)).toThrow(/ELOOP/);
    expect(fs.existsSync(dangling)).toBe(false);
  });
});

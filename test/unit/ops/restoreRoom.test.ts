import { describe, expect, it } from 'vitest';
import { roomNeeded, shortOfRoom } from '../../../src/ops/restoreRoom.js';

const stats = { files: 10, dirs: 3, symlinks: 2, bytes: 5000 };

describe('restore room', () => {
  it('needs the logical bytes and one inode per entry plus the staging directory', () => {
    expect(roomNeeded(stats)).toEqual({ bytes: 5000, inodes: 16 });
  });

  it('fits exactly at the free bytes and inodes, and is short one past either', () => {
    expect(shortOfRoom({ bytes: 5000, inodes: 16 }, { bytes: 5000, inodes: 16 })).toBeNull();
    expect(shortOfRoom({ bytes: 5001, inodes: 16 }, { bytes: 5000, inodes: 16 })).toBe('it holds 4.9 KiB of files, and that file system has 4.9 KiB free');
    expect(shortOfRoom({ bytes: 10, inodes: 17 }, { bytes: 5000, inodes: 16 })).toBe('it holds 16 files, directories and symlinks, and that file system has 16 free inodes');
  });

  it('never refuses on what the file system does not say', () => {
    expect(shortOfRoom({ bytes: 2 ** 50, inodes: 2 ** 40 }, { bytes: undefined, inodes: undefined })).toBeNull();
    expect(shortOfRoom({ bytes: 1, inodes: 2 ** 40 }, { bytes: 100, inodes: undefined })).toBeNull();
  });
});

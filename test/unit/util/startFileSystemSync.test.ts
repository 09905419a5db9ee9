import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startFileSystemSync } from '../../../src/util/durableFs.js';

describe('startFileSystemSync', () => {
  it('starts `sync -f` of the file system without waiting, and its process exits cleanly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-early-sync-'));
    try {
      fs.writeFileSync(path.join(dir, 'f'), 'data');
      const child = startFileSystemSync(dir);
      expect(child).toBeDefined();
      const [code] = await once(child!, 'exit');
      expect(code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never throws for a path that is not there: it is only a hint', async () => {
    const child = startFileSystemSync(path.join(os.tmpdir(), 'cairn-no-such-dir', 'x'));
    if (child) {
      const [code] = await once(child, 'exit');
      expect(code).not.toBe(0);
    }
  });
});

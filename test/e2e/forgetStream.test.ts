import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairnOk, parseJson, tempDir } from '../helpers.js';

const root = tempDir('cairn-forget-stream-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('forget --source stream:NAME', () => {
  it('selects the snapshots of a stream by its name, not as a path', () => {
    const repo = path.join(root, 'repo');
    cairnOk(['init', '--repo', repo]);
    for (const v of ['one', 'two', 'three', 'four']) cairnOk(['snapshot', '--stdin', '--name', 'db.dump', '--repo', repo], { input: v });
    const plan = parseJson<{ keep: Array<{ id: string }>; remove: Array<{ id: string }> }>(
      cairnOk(['forget', '--source', 'stream:db.dump', '--keep-last', '1', '--dry-run', '--json', '--repo', repo]),
    );
    expect(plan.keep.length + plan.remove.length).toBe(4);
    expect(plan.remove.length).toBeGreaterThan(0);
  });
});

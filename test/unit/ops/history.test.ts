import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Repository } from '../../../src/index.js';
import { tempDir, writeTree } from '../../helpers.js';

const root = tempDir('cairn-history-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('history of a path', () => {
  it('lists the snapshots where a file or folder changed, newest first, with status, size and content id', async () => {
    const src = path.join(root, 'src');
    const other = path.join(root, 'other');
    writeTree(src, { 'app.ts': 'v1\n', lib: { 'a.ts': 'a\n' }, 'note.txt': 'n\n' });
    writeTree(other, { 'app.ts': 'elsewhere\n' });
    const repo = await Repository.init({ repo: path.join(root, 'repo') });
    const t = (n: number) => `2026-01-0${n}T00:00:00Z`;
    const s1 = await repo.snapshot({ path: src, time: t(1) });
    await repo.snapshot({ path: other, time: t(2) });
    fs.writeFileSync(path.join(src, 'note.txt'), 'n2\n'); // app.ts untouched
    const s3 = await repo.snapshot({ path: src, time: t(3) });
    fs.writeFileSync(path.join(src, 'app.ts'), 'v2 longer\n');
    fs.writeFileSync(path.join(src, 'lib', 'b.ts'), 'b\n');
    const s4 = await repo.snapshot({ path: src, time: t(4), tags: ['v2'] });
    fs.rmSync(path.join(src, 'app.ts'));
    fs.rmSync(path.join(src, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(src, 'lib'), 'now a file\n');
    const s5 = await repo.snapshot({ path: src, time: t(5) });
    fs.writeFileSync(path.join(src, 'app.ts'), 'v3\n');
    const s6 = await repo.snapshot({ path: src, time: t(6) });

    const app = await repo.history('app.ts', { source: fs.realpathSync(src) });
    expect(app.map((v) => [v.snapshot, v.status, v.type, v.size])).toEqual([
      [s6.id, 'A', 'file', 3],
      [s5.id, 'D', null, null],
      [s4.id, 'M', 'file', 10],
      [s1.id, 'A', 'file', 3],
    ]);
    expect(app[2]!.tags).toEqual(['v2']);
    const ls = await repo.ls(s4.id, 'app.ts');
    expect(app[2]!.id).toBe(ls.entries[0]!.id);
    expect(app.map((v) => v.snapshot)).not.toContain(s3.id);

    // Without --source, the other source's app.ts shows too.
    expect((await repo.history('app.ts')).length).toBe(5);

    const lib = await repo.history('lib/', { source: fs.realpathSync(src) });
    expect(lib.map((v) => [v.snapshot, v.status, v.type])).toEqual([
      [s5.id, 'T', 'file'],
      [s4.id, 'M', 'dir'],
      [s1.id, 'A', 'dir'],
    ]);
    expect(lib[1]!.changes).toEqual([{ path: 'lib/b.ts', status: 'A' }]);
    expect(lib[1]!.size).toBeNull();

    expect(await repo.history('never/there')).toEqual([]);
    expect((await repo.history('app.ts', { limit: 2 })).length).toBe(2);
    await expect(repo.history('/')).rejects.toMatchObject({ code: 'USAGE' });
    await expect(repo.history('../x')).rejects.toMatchObject({ code: 'USAGE' });

    // rebuild-index recomputes the same history
    const before = await repo.history('lib');
    await repo.rebuildIndex();
    expect(await repo.history('lib')).toEqual(before);
    repo.close();
  });
});

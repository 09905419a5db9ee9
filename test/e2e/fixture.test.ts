/** A repository written by format 1 is checked in: every later cairn must keep opening and restoring it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cairnOk, describeTree, parseJson, tempDir } from '../helpers.js';

const dir = tempDir('cairn-fixture-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const ID = '97f173ee69153f76c037f534bcb4f2cef0e2fbec045d5b5a1af05c2abc12e6c8';

describe('format 1 fixture repository', () => {
  it('opens (rebuilding its index), lists, cats and restores', () => {
    const repo = path.join(dir, 'repo');
    fs.cpSync(path.join(ROOT, 'test/fixtures/repo-v1'), repo, { recursive: true });
    const log = parseJson<Array<{ id: string; message: string }>>(cairnOk(['log', '--json', '--repo', repo]));
    expect(log.map((s) => [s.id, s.message])).toEqual([[ID, 'fixture v1']]);
    expect(cairnOk(['cat', `${ID.slice(0, 8)}:hello.txt`, '--repo', repo]).stdout).toBe('fixture file\n');
    const out = path.join(dir, 'out');
    cairnOk(['restore', ID, '--repo', repo, '--target', out, '--verify']);
    const t = describeTree(out);
    expect(Object.keys(t).sort()).toEqual(['hello.txt', 'link', 'sub', 'sub/n.txt']);
    expect(t.link?.target).toBe('hello.txt');
  });
});

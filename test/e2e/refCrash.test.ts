/**
 * kill -9 between a ref change (refs/tags, refs/heads) and the index update that follows it, and a zero-length
 * index.db: the next command's open brings the index in line with refs/ (the truth), so `tags`, `show NAME`,
 * `log` and `verify` agree without `cairn rebuild-index`. The kills land at the fault point `ref-written`
 * (src/refs.ts), reached after each ref file is durably written or removed: no timing involved.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnOk, killAtStall, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-refcrash-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface TagJson {
  name: string;
  snapshot: string;
}

/** A repository with two snapshots of one source, the first tagged v1; returns their ids. */
function setup(name: string): { repo: string; src: string; first: string; second: string } {
  const repo = path.join(root, name, 'repo');
  const src = path.join(root, name, 'src');
  writeTree(src, { 'a.txt': 'one\n' });
  cairnOk(['init', '--repo', repo]);
  const first = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--tag', 'v1', '--json'])).id;
  fs.writeFileSync(path.join(src, 'a.txt'), 'two\n');
  const second = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).id;
  return { repo, src, first, second };
}

/** Kills `cairn ARGS --repo REPO` right after its first ref change, before the index follows. */
async function killAfterRefWrite(repo: string, args: string[]): Promise<void> {
  expect(await killAtStall([CLI, ...args, '--repo', repo], 'ref-written:stall:1', 'ref-written 1')).toBe(true);
}

/** `tags`, `show NAME` for every tag and `verify` agree, with `tags` equal to `expected` (name → snapshot). */
function expectAgreement(repo: string, expected: Record<string, string>, gone: string[] = []): void {
  const tags = parseJson<TagJson[]>(cairnOk(['tags', '--json', '--repo', repo]));
  expect(Object.fromEntries(tags.map((t) => [t.name, t.snapshot]))).toEqual(expected);
  for (const [name, id] of Object.entries(expected)) {
    expect(parseJson<{ id: string; tags: string[] }>(cairnOk(['show', name, '--json', '--repo', repo]))).toMatchObject({ id, tags: expect.arrayContaining([name]) });
  }
  for (const name of gone) expect(cairn(['show', name, '--repo', repo]).code).toBe(5);
  const v = cairn(['verify', '--json', '--repo', repo]);
  expect({ code: v.code, problems: parseJson<{ indexProblems: unknown[] }>(v).indexProblems }).toEqual({ code: 0, problems: [] });
  expect(v.stderr).toBe(''); // nothing left to catch up
}

describe('kill -9 between a ref change and its index update', () => {
  it('tag NAME: the new tag is listed, resolves and verifies on the next command', async () => {
    const { repo, first, second } = setup('create');
    await killAfterRefWrite(repo, ['tag', 'v2']);
    expect(fs.existsSync(path.join(repo, 'refs', 'tags', 'v2.json'))).toBe(true);
    const next = cairnOk(['tags', '--json', '--repo', repo]);
    expect(next.stderr).toBe('cairn: warning: the index was behind refs/ (an interrupted command): 1 tag and 0 HEADs brought in line\n');
    expectAgreement(repo, { v1: first, v2: second });
  });

  it('tag --force NAME: the moved tag names its new snapshot everywhere', async () => {
    const { repo, second } = setup('move');
    await killAfterRefWrite(repo, ['tag', 'v1', second, '--force', '--yes', '-m', 'moved']);
    expectAgreement(repo, { v1: second });
    expect(parseJson<Array<TagJson & { message: string }>>(cairnOk(['tags', '--json', '--repo', repo]))[0]!.message).toBe('moved');
  });

  it('tag -d NAME: the deleted tag is gone everywhere, and the name can be taken again', async () => {
    const { repo, second } = setup('delete');
    await killAfterRefWrite(repo, ['tag', '-d', 'v1', '--yes']);
    expect(fs.existsSync(path.join(repo, 'refs', 'tags', 'v1.json'))).toBe(false);
    expectAgreement(repo, {}, ['v1']);
    cairnOk(['tag', 'v1', second, '--repo', repo]);
    expectAgreement(repo, { v1: second });
  });

  it("snapshot: the source's HEAD follows refs/heads, so the next snapshot's parent is the killed one", async () => {
    const { repo, src, first, second } = setup('head');
    fs.writeFileSync(path.join(src, 'a.txt'), 'three\n');
    await killAfterRefWrite(repo, ['snapshot', src]); // killed after refs/heads, before the index's HEAD
    const log = parseJson<Array<{ id: string }>>(cairnOk(['log', '--json', '--repo', repo])).map((s) => s.id);
    expect(log).toHaveLength(3);
    const third = log[0]!;
    expect(log.slice(1)).toEqual([second, first]);
    expectAgreement(repo, { v1: first });
    fs.writeFileSync(path.join(src, 'a.txt'), 'four\n');
    const fourth = parseJson<{ id: string; parents: string[] }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(fourth.parents).toEqual([third]);
  });

  it('snapshot --tag: killed after the tag ref, the tag is there on the next command', async () => {
    const { repo, src, first } = setup('snaptag');
    fs.writeFileSync(path.join(src, 'a.txt'), 'three\n');
    // ref-written 1 is the HEAD, 2 the tag
    expect(await killAtStall([CLI, 'snapshot', src, '--tag', 'v3', '--repo', repo], 'ref-written:stall:2', 'ref-written 2')).toBe(true);
    const third = parseJson<Array<{ id: string }>>(cairnOk(['log', '--json', '--repo', repo]))[0]!.id;
    expectAgreement(repo, { v1: first, v3: third });
  });
});

describe('an index.db that lost its last commits (a power loss: commits are not fsync\'d, the index being a cache)', () => {
  it('gets the snapshot, its per-file history, its HEAD and its tag back from snapshots/ and refs/ on the next command', () => {
    const { repo, src, first, second } = setup('lost-commit');
    const saved = path.join(root, 'lost-commit', 'index.db.before');
    fs.copyFileSync(path.join(repo, 'index.db'), saved); // no -wal: each command checkpoints the index as it closes
    fs.writeFileSync(path.join(src, 'a.txt'), 'three\n');
    const third = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--tag', 'v3', '--json'])).id;
    for (const suffix of ['-wal', '-shm']) fs.rmSync(path.join(repo, `index.db${suffix}`), { force: true });
    fs.copyFileSync(saved, path.join(repo, 'index.db'));
    const log = cairnOk(['log', '--json', '--repo', repo]);
    expect(log.stderr).toBe(
      'cairn: warning: the index was behind the object store (an interrupted command or a power loss): 1 snapshot added, 0 removed\n' +
        'cairn: warning: the index was behind refs/ (an interrupted command): 1 tag and 1 HEAD brought in line\n',
    );
    expect(parseJson<Array<{ id: string }>>(log).map((s) => s.id)).toEqual([third, second, first]);
    expect(parseJson<Array<{ snapshot: string }>>(cairnOk(['log', '--json', '--repo', repo, '--', 'a.txt'])).map((v) => v.snapshot)).toEqual([third, second, first]);
    expectAgreement(repo, { v1: first, v3: third });
    fs.writeFileSync(path.join(src, 'a.txt'), 'four\n');
    expect(parseJson<{ parents: string[] }>(cairnOk(['snapshot', src, '--repo', repo, '--json'])).parents).toEqual([third]);
  });
});

describe('a zero-length index.db', () => {
  it('is rebuilt from the store on the next command, with one notice: history, tags and HEADs all back', () => {
    const { repo, src, first, second } = setup('empty');
    cairnOk(['tag', 'v2', '--repo', repo]);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(path.join(repo, `index.db${suffix}`), { force: true });
    fs.truncateSync(path.join(repo, 'index.db'), 0);
    const log = cairnOk(['log', '--json', '--repo', repo]);
    expect(log.stderr).toBe('cairn: warning: the index was empty (an interrupted command?); rebuilding it from the object store\n');
    expect(parseJson<Array<{ id: string; tags: string[] }>>(log).map((s) => [s.id, s.tags])).toEqual([
      [second, ['v2']],
      [first, ['v1']],
    ]);
    expectAgreement(repo, { v1: first, v2: second });
    fs.writeFileSync(path.join(src, 'a.txt'), 'three\n');
    const next = parseJson<{ parents: string[] }>(cairnOk(['snapshot', src, '--repo', repo, '--json']));
    expect(next.parents).toEqual([second]); // the HEAD came back too
  });

  it('truncated while its -wal is left behind, is rebuilt all the same', () => {
    const { repo, first, second } = setup('empty-wal');
    fs.truncateSync(path.join(repo, 'index.db'), 0);
    fs.writeFileSync(path.join(repo, 'index.db-wal'), Buffer.alloc(0));
    expect(cairnOk(['tags', '--repo', repo]).stderr).toMatch(/^cairn: warning: the index was empty .*rebuilding it from the object store\n$/);
    expectAgreement(repo, { v1: first });
    expect(parseJson<Array<{ id: string }>>(cairnOk(['log', '--json', '--repo', repo])).map((s) => s.id)).toEqual([second, first]);
  });
});

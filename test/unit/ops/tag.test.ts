import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Repository, type ApprovalRequest, type ObjectId } from '../../../src/index.js';
import { createTagExclusive, readTag } from '../../../src/refs.js';
import { tempDir, writeTree } from '../../helpers.js';

const root = tempDir('cairn-tag-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function auditLines(repoDir: string): Array<Record<string, unknown>> {
  const dir = path.join(repoDir, 'audit');
  return fs
    .readdirSync(dir)
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('tags (library)', () => {
  const repoDir = path.join(root, 'repo');
  const src = path.join(root, 'src');

  it('creates, refuses duplicates, moves only with force and approval, deletes with approval, and survives rebuild-index', async () => {
    writeTree(src, { 'f.txt': '1\n' });
    const asked: ApprovalRequest[] = [];
    let answer = false;
    const repo = await Repository.init({
      repo: repoDir,
      approve: (r) => {
        asked.push(r);
        return answer;
      },
    });
    const s1 = await repo.snapshot({ path: src });
    fs.writeFileSync(path.join(src, 'f.txt'), '2\n');
    const s2 = await repo.snapshot({ path: src, tags: ['v2', 'release/2.0'] });

    expect(await repo.tag('v1', s1.id.slice(0, 10), { message: 'first' })).toMatchObject({ name: 'v1', snapshot: s1.id, previous: null, action: 'created' });
    expect(asked).toEqual([]); // creating a tag is low risk
    expect(repo.tags().map((t) => [t.name, t.snapshot])).toEqual([
      ['release/2.0', s2.id],
      ['v1', s1.id],
      ['v2', s2.id],
    ]);
    expect(fs.existsSync(path.join(repoDir, 'refs', 'tags', 'release%2F2.0.json'))).toBe(true);
    expect(await repo.resolveRef('release/2.0')).toBe(s2.id);

    await expect(repo.tag('v1', 'latest')).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringMatching(/already exists/) });
    await expect(repo.tag('abcd', 'latest')).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/hex/) });
    await expect(repo.tag('ok', 'nosuch')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // Moving is high risk: refused without approval, nothing changes.
    await expect(repo.tag('v1', 'latest', { force: true })).rejects.toMatchObject({ code: 'REFUSED' });
    expect(asked.map((a) => [a.operation, a.risk])).toEqual([['tag --force', 'high']]);
    expect(await repo.resolveRef('v1')).toBe(s1.id);
    answer = true;
    expect(await repo.tag('v1', 'latest', { force: true })).toMatchObject({ snapshot: s2.id, previous: s1.id, action: 'moved' });
    expect(await repo.resolveRef('v1')).toBe(s2.id);
    expect(repo.tags().find((t) => t.name === 'v1')?.message).toBe('first'); // kept when not given

    // --force onto the same snapshot asks nothing.
    asked.length = 0;
    expect(await repo.tag('v1', 'latest', { force: true })).toMatchObject({ action: 'unchanged' });
    expect(asked).toEqual([]);

    answer = false;
    await expect(repo.deleteTag('v2')).rejects.toMatchObject({ code: 'REFUSED' });
    answer = true;
    expect(await repo.deleteTag('v2')).toMatchObject({ name: 'v2', snapshot: s2.id, action: 'deleted' });
    await expect(repo.deleteTag('v2')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(repo.resolveRef('v2')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const audit = auditLines(repoDir);
    const moved = audit.find((l) => l.op === 'tag' && l.outcome === 'ok' && (l.snapshots as string[]).includes(s1.id) && (l.snapshots as string[]).includes(s2.id));
    expect(moved).toBeDefined();
    expect(audit.filter((l) => l.op === 'approval').map((l) => [(l.args as { operation: string }).operation, l.approved])).toEqual([
      ['tag --force', false],
      ['tag --force', true],
      ['tag --delete', false],
      ['tag --delete', true],
    ]);

    // The ref files are the truth: a rebuilt index has the same tags.
    const before = repo.tags().map((t) => [t.name, t.snapshot, t.message]);
    expect((await repo.rebuildIndex()).tags).toBe(2);
    expect(repo.tags().map((t) => [t.name, t.snapshot, t.message])).toEqual(before);
    repo.close();
    fs.rmSync(path.join(repoDir, 'index.db'));
    const reopened = await Repository.open({ repo: repoDir, onWarning: () => undefined });
    expect(reopened.tags().map((t) => [t.name, t.snapshot, t.message])).toEqual(before);
    expect(await reopened.resolveRef('v1')).toBe(s2.id);
    reopened.close();
  });

  it('snapshot --tag checks every name before taking the snapshot', async () => {
    const repo = await Repository.open({ repo: repoDir });
    const count = repo.log().length;
    await expect(repo.snapshot({ path: src, tags: ['fresh', 'v1'] })).rejects.toMatchObject({ code: 'REFUSED' });
    await expect(repo.snapshot({ path: src, tags: ['bad name'] })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(repo.snapshot({ path: src, tags: ['twice', 'twice'] })).rejects.toMatchObject({ code: 'USAGE' });
    expect(repo.log()).toHaveLength(count);
    expect(repo.tags().map((t) => t.name)).not.toContain('fresh');
    repo.close();
  });

  it('creates a ref file only when none exists (two writers cannot both create a name)', () => {
    const dir = path.join(root, 'refs-only');
    const t = (snapshot: string) => ({ name: 'race/1', snapshot: snapshot as ObjectId, time: '2026-01-01T00:00:00Z', message: '' });
    expect(createTagExclusive(dir, t('a'.repeat(64)))).toBe(true);
    expect(createTagExclusive(dir, t('b'.repeat(64)))).toBe(false);
    expect(readTag(dir, 'race/1')?.snapshot).toBe('a'.repeat(64));
    expect(fs.readdirSync(path.join(dir, 'refs', 'tags'))).toEqual(['race%2F1.json']); // no temp file left
  });

  it('on open, removes temp files a killed ref write left in refs/, but not those of a live process', async () => {
    const dead = path.join(repoDir, 'refs', 'tags', '.tmp-999999999-1a'); // above any pid_max: no such process
    const live = path.join(repoDir, 'refs', 'heads', `.tmp-${process.pid}-1b`);
    fs.writeFileSync(dead, '{"name":"half');
    fs.writeFileSync(live, '{}');
    const repo = await Repository.open({ repo: repoDir });
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect((await repo.verify()).indexProblems).toEqual([]);
    repo.close();
    fs.rmSync(live);
  });
});

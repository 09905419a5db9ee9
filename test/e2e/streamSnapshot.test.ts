/**
 * `cairn snapshot --stdin | --from-command` end to end: round trips through
 * `cairn cat`, history per stream name, failing and killed commands leaving
 * no snapshot, and memory that stays bounded whatever the stream's size.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cairn, cairnOk, CLI, parseJson, ROOT } from '../helpers.js';
import { catToFile, scratchDir } from './databaseFixtures.js';

interface SnapJson {
  id: string;
  parents: string[];
  source: string;
  kind: string;
  type: string;
  stats: { bytes: number; newObjects: number; newBytes: number };
  warnings: Array<{ path: string; message: string }>;
  extra: { stream: string; input: string; command?: string; chunks: number };
}

function setup(): { dir: string; repo: string } {
  const dir = scratchDir('cairn-stream-');
  const repo = path.join(dir, 'repo');
  cairnOk(['init', '--repo', repo]);
  return { dir, repo };
}

function seeded(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function streamLog(repo: string, name: string): Array<{ id: string }> {
  return parseJson<Array<{ id: string }>>(cairnOk(['--repo', repo, '--json', 'log', '--source', `stream:${name}`]));
}

describe('cairn snapshot --stdin', () => {
  it('stores standard input as one file that cat gives back byte for byte', () => {
    const { dir, repo } = setup();
    const data = Buffer.concat([seeded(16 * 1024 * 1024, 7), Buffer.from('\n-- end of dump --\n')]);
    const s = parseJson<SnapJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--stdin', '--name', 'db.dump', '--type', 'daily'], { input: data }));
    expect(s).toMatchObject({ kind: 'stream', source: 'stream:db.dump', type: 'daily', extra: { stream: 'db.dump', input: 'stdin' } });
    expect(s.stats.bytes).toBe(data.length);
    const ls = parseJson<{ entries: Array<{ path: string; size: number }> }>(cairnOk(['--repo', repo, '--json', 'ls', s.id]));
    expect(ls.entries).toEqual([expect.objectContaining({ path: 'db.dump', size: data.length })]);
    const out = path.join(dir, 'out.dump');
    catToFile(['--repo', repo, 'cat', `${s.id}:db.dump`], out);
    expect(fs.readFileSync(out).equals(data)).toBe(true);

    // the next dump differs by an insert in the middle: content-defined chunks store little of it again
    const next = Buffer.concat([data.subarray(0, 8_000_000), Buffer.from('INSERT INTO t VALUES (42);\n'), data.subarray(8_000_000)]);
    const s2 = parseJson<SnapJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--stdin', '--name', 'db.dump'], { input: next }));
    expect(s2.parents).toEqual([s.id]);
    expect(s2.stats.newBytes).toBeLessThan(next.length / 3);
    catToFile(['--repo', repo, 'cat', `${s2.id}:db.dump`], out);
    expect(fs.readFileSync(out).equals(next)).toBe(true);
    expect(streamLog(repo, 'db.dump').map((r) => r.id)).toEqual([s2.id, s.id]);
  });

  it('stores empty input with a warning, and needs a plain --name', () => {
    const { repo } = setup();
    const s = parseJson<SnapJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--stdin', '--name', 'empty'], { input: '' }));
    expect(s.stats.bytes).toBe(0);
    expect(s.warnings).toEqual([{ path: 'empty', message: 'standard input was empty' }]);
    expect(cairn(['--repo', repo, 'snapshot', '--stdin'], { input: 'x' }).code).toBe(2);
    expect(cairn(['--repo', repo, 'snapshot', '--stdin', '--name', 'a/b'], { input: 'x' }).code).toBe(2);
    expect(cairn(['--repo', repo, 'snapshot', '--stdin', '--name', '..'], { input: 'x' }).code).toBe(2);
    expect(cairn(['--repo', repo, 'snapshot', '--stdin', '--from-command', 'true', '--name', 'x'], { input: 'x' }).code).toBe(2);
  });
});

describe('cairn snapshot --from-command', () => {
  it("stores the command's standard output", () => {
    const { dir, repo } = setup();
    const s = parseJson<SnapJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--from-command', 'seq 1 200000', '--name', 'numbers.txt', '--type', 'weekly']));
    expect(s).toMatchObject({ kind: 'stream', source: 'stream:numbers.txt', type: 'weekly', extra: { input: 'command', command: 'seq 1 200000' } });
    const out = path.join(dir, 'n.txt');
    catToFile(['--repo', repo, 'cat', `${s.id}:numbers.txt`], out);
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(200000);
    expect(lines.at(-1)).toBe('200000');
  });

  it.each([
    ['exits non-zero', "printf 'partial dump'; echo 'pg_dump: error: connection refused' >&2; exit 7", /exited with status 7: pg_dump: error: connection refused/],
    ['is killed', "printf 'partial dump'; echo 'about to die' >&2; kill -9 $$", /was killed by SIGKILL/],
    ['does not exist', 'no-such-command-cairn-test', /exited with status 127/],
  ])('makes no snapshot when the command %s, and shows its stderr', (_what, command, message) => {
    const { repo } = setup();
    const r = cairn(['--repo', repo, '--json', 'snapshot', '--from-command', command, '--name', 'db.dump']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    const err = parseJson<{ error: string; details: { stderr: string } }>(r);
    expect(err.error).toBe('COMMAND_FAILED');
    expect(err.details.stderr.length).toBeGreaterThan(0);
    if (command.includes('about to die')) expect(r.stderr).toContain('about to die');
    expect(parseJson<unknown[]>(cairnOk(['--repo', repo, '--json', 'log']))).toEqual([]);
    expect(fs.readdirSync(path.join(repo, 'snapshots'))).toEqual([]);
    // the audit trail records the failure
    const audit = fs.readdirSync(path.join(repo, 'audit')).map((f) => fs.readFileSync(path.join(repo, 'audit', f), 'utf8')).join('');
    expect(audit).toContain('"error":"COMMAND_FAILED"');
  });

  it('streams a large output in bounded memory', () => {
    const { dir, repo } = setup();
    const rssFile = path.join(dir, 'rss');
    const size = 400 * 1024 * 1024;
    const r = spawnSync(process.execPath, ['-r', path.join(ROOT, 'test', 'fixtures', 'reportRss.cjs'), CLI, '--repo', repo, '--json', 'snapshot', '--from-command', `head -c ${size} /dev/zero`, '--name', 'zeros'], {
      encoding: 'utf8',
      env: { ...process.env, CAIRN_TEST_RSS_FILE: rssFile, CAIRN_REPO: '' },
    });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as SnapJson;
    expect(s.stats.bytes).toBe(size);
    const peakMiB = Number(fs.readFileSync(rssFile, 'utf8')) / 1024;
    expect(peakMiB).toBeLessThan(200);
    console.log(`--from-command of ${size / 1024 / 1024} MiB: peak RSS ${peakMiB.toFixed(0)} MiB`);
    // and it comes back out the same, streamed through a pipe
    const cat = spawnSync('/bin/sh', ['-c', `"${process.execPath}" "${CLI}" --repo "${repo}" cat ${s.id}:zeros | sha256sum`], { encoding: 'utf8' });
    expect(cat.status).toBe(0);
    expect(cat.stdout.split(' ')[0]).toBe(createHash('sha256').update(Buffer.alloc(size)).digest('hex'));
  });
});

/**
 * Bad input found by the 2026-11-30 audit of the CLI: each case gets one clear line, a documented exit code
 * and no stack trace, and changes nothing. Every case here failed before its fix (a typo in --keep-type forgot
 * snapshots it was meant to keep; Date.parse read "-1" as 2001; SQLite's and the file system's errors surfaced
 * as "internal error"; `init --repo /proc/x` never returned).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, parseJson, tempDir } from '../helpers.js';

describe('bad input: one clear line, a documented exit code', () => {
  let root: string;
  let ws: string;
  const inWs = (args: string[]) => cairn(args, { cwd: ws });
  const oneClearLine = (r: { stderr: string }) => {
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('  hint:')).length).toBe(1);
  };

  beforeAll(() => {
    root = tempDir();
    ws = path.join(root, 'ws');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'a.txt'), 'one\n');
    cairnOk(['init'], { cwd: ws });
    for (const [i, type] of [[1, 'daily'], [2, 'daily'], [3, 'weekly']] as const) {
      fs.writeFileSync(path.join(ws, 'a.txt'), `v${i}\n`);
      cairnOk(['snapshot', '--type', type, '--time', `2026-01-0${i}T02:00:00Z`, '-m', `v${i}`], { cwd: ws });
    }
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('refuses a snapshot type that does not exist instead of forgetting by it', () => {
    const before = parseJson<unknown[]>(cairnOk(['log', '--json'], { cwd: ws })).length;
    const r = inWs(['forget', '--keep-type', 'daly', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown snapshot type "daly" given to --keep-type/);
    oneClearLine(r);
    expect(parseJson<unknown[]>(cairnOk(['log', '--json'], { cwd: ws })).length).toBe(before);
    expect(inWs(['log', '--type', 'bogus']).code).toBe(2);
  });

  it('reads numbers and steps back strictly', () => {
    for (const n of ['abc', '-5', '0', '1e3', '99999999999999999999']) {
      const r = inWs(['log', '-n', n]);
      expect({ n, code: r.code }).toEqual({ n, code: 2 });
      expect(r.stderr).toMatch(/-n needs a whole number/);
    }
    expect(inWs(['diff', 'latest~1', 'latest', '--size-limit', '1e99']).code).toBe(2);
    const huge = inWs(['show', 'latest~99999999999999999999']);
    expect(huge.code).toBe(2);
    oneClearLine(huge);
    // git's spelling: ~ alone is ~1, and steps add up
    const ids = parseJson<Array<{ id: string }>>(cairnOk(['log', '--json'], { cwd: ws })).map((s) => s.id);
    for (const ref of ['latest~2', 'latest~1~1', 'latest~~']) {
      expect(parseJson<{ id: string }>(cairnOk(['show', ref, '--json'], { cwd: ws })).id).toBe(ids[2]);
    }
    expect(parseJson<{ id: string }>(cairnOk(['show', `${ids[0]!.slice(0, 8)}~`, '--json'], { cwd: ws })).id).toBe(ids[1]);
  });

  it('refuses times that are not real ISO-8601 dates', () => {
    for (const t of ['-1', '2026-02-30', '99999-01-01']) {
      const r = inWs(['snapshot', '--time', t]);
      expect({ t, code: r.code }).toEqual({ t, code: 2 });
      expect(r.stderr).toMatch(/is not an ISO-8601 time/);
      oneClearLine(r);
      expect(inWs(['audit', '--since', t]).code).toBe(2);
      expect(inWs(['tag', 'x', '--time', t]).code).toBe(2);
    }
  });

  it('prints one JSON document with --json even when commander refuses the arguments', () => {
    const r = inWs(['--json', 'log', '--bogus']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: 'USAGE' });
  });

  it("escapes control characters in commander's own error lines (an unknown option quotes what was typed)", () => {
    for (const args of [['--bogus\x1b]0;owned\x07'], ['snapshot', '--bogus\x1b[31m'], ['tag', 'x', '--\x9bx']]) {
      const r = inWs(args);
      expect(r.code, JSON.stringify(args)).toBe(2);
      expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      expect(r.stderr).toMatch(/^error: unknown option '--.*\\(033|233)/);
      expect(r.stderr.endsWith('(run with --help for usage)\n')).toBe(true);
    }
  });

  it('refuses to snapshot the repository into itself', () => {
    const repo = path.join(root, 'standalone');
    cairnOk(['init', '--repo', repo]);
    for (const src of [repo, path.join(repo, 'objects')]) {
      const r = cairn(['--repo', repo, 'snapshot', src]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/the repository itself|inside the repository/);
      oneClearLine(r);
    }
  });

  it('names a damaged or unwritable index.db and says what to do', () => {
    const copy = path.join(root, 'damaged');
    fs.cpSync(ws, copy, { recursive: true });
    const index = path.join(copy, '.cairn', 'index.db');
    const fd = fs.openSync(index, 'r+');
    fs.writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 4096);
    fs.closeSync(fd);
    const r = cairn(['log'], { cwd: copy });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/index \(index\.db\) is damaged/);
    expect(r.stderr).toMatch(/rebuild-index/);
    oneClearLine(r);
    cairnOk(['rebuild-index'], { cwd: copy });
    expect(parseJson<unknown[]>(cairnOk(['log', '--json'], { cwd: copy })).length).toBe(3);

    const cfg = path.join(copy, '.cairn', 'config.json');
    const saved = fs.readFileSync(cfg);
    fs.writeFileSync(cfg, 'null\n');
    const nullCfg = cairn(['log'], { cwd: copy });
    expect(nullCfg.code).toBe(4);
    expect(nullCfg.stderr).toMatch(/not a cairn configuration/);
    fs.writeFileSync(cfg, saved);
  });

  it('lets a tag whose ref file is damaged be replaced (--force) or deleted, instead of blocking its name', () => {
    const file = path.join(ws, '.cairn', 'refs', 'tags', 'rc1.json');
    fs.writeFileSync(file, '\0garbage');
    const plain = inWs(['tag', 'rc1']);
    expect(plain.code).toBe(12);
    expect(plain.stderr).toMatch(/tag rc1 cannot be read: .*rc1\.json is damaged/);
    expect(plain.stderr).toMatch(/--force/);
    cairnOk(['tag', 'rc1', 'latest~1', '--force', '--yes'], { cwd: ws });
    const ids = parseJson<Array<{ id: string }>>(cairnOk(['log', '--json'], { cwd: ws })).map((x) => x.id);
    expect(parseJson<{ id: string }>(cairnOk(['show', 'rc1', '--json'], { cwd: ws })).id).toBe(ids[1]);
    fs.writeFileSync(file, JSON.stringify({ name: 'other', snapshot: 'x' }));
    expect(inWs(['tag', 'rc1']).code).toBe(12);
    cairnOk(['tag', '-d', 'rc1', '--yes'], { cwd: ws });
    expect(fs.existsSync(file)).toBe(false);
    cairnOk(['tag', 'rc1'], { cwd: ws });
    cairnOk(['tag', '-d', 'rc1', '--yes'], { cwd: ws });
  });

  it('skips audit lines that are JSON but not records, as it skips torn ones', () => {
    const dir = path.join(ws, '.cairn', 'audit');
    const file = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.jsonl'))!);
    fs.appendFileSync(file, '{"time":"2026-11-30T00:00:00Z","op":"x","outcome":"ok"}\n{"op":1}\n[]\n{"torn":');
    for (const args of [['audit'], ['audit', '--summary'], ['audit', '--json']]) {
      const r = inWs(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  });

  it('turns a path that cannot be a repository into one clear line, and returns', () => {
    const file = path.join(root, 'afile');
    fs.writeFileSync(file, 'x');
    const r = cairn(['init', '--repo', path.join(file, 'repo')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a directory/);
    oneClearLine(r);
    if (fs.existsSync('/proc/self')) {
      // Node's recursive mkdir loops for ever on ENOENT under /proc; the repository's directories are made one by one
      const proc = cairn(['init', '--repo', '/proc/cairn-test-repo'], { timeout: 20_000 });
      expect(proc.code).toBe(1);
      oneClearLine(proc);
    }
  });
});

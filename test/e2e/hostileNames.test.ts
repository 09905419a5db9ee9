/**
 * File names, a source directory, messages and a tag message holding terminal escape sequences, a newline, a tab,
 * a backslash, a quote or a C1 control never reach the terminal raw: every human view prints them quoted or
 * escaped (quoteName / escapeControls), a newline-named file stays one line, and --json keeps the exact names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteName, unquoteName } from '../../src/index.js';
import { cairn, parseJson, tempDir, type CliResult } from '../helpers.js';

const root = tempDir('cairn-e2e-names-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const EVIL = 'evil\x1b]0;pwned\x07\x1b[2J';
const NEWLINE = 'a\nb';
const TAB = 't\tab';
const BACKSLASH = 'back\\slash';
const QUOTE = 'q"uote';
const C1 = 'c1\u009b31m';
const NORMAL = 'with space é 日本.txt';
const DIR = 'd\x1b[31mir';
const NESTED = `${DIR}/in\x1b[0mner`;
const LINK = 'link';
const LINK_TARGET = 'tar\x1b[5mget';
const NAMES = [EVIL, NEWLINE, TAB, BACKSLASH, QUOTE, C1, NORMAL];

const ws = path.join(root, 'ws\x1b]0;src\x07'); // the source directory's own name is hostile too
const repo = path.join(root, 'repo');
const run = (args: string[]) => cairn(['--repo', repo, ...args], { cwd: root });
function ok(args: string[], expected = 0): CliResult {
  const r = run(args);
  if (r.code !== expected) throw new Error(`cairn ${JSON.stringify(args)} exited ${r.code}, wanted ${expected}\n${r.stderr}`);
  return r;
}

/** No raw ESC, BEL, C1 control, or other control but the newlines ending lines and name-status tabs. */
function expectClean(r: CliResult, label: string): void {
  for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const raw = [...text].filter((ch) => /[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(ch)).map((ch) => ch.charCodeAt(0).toString(16));
    expect(raw, `${label} ${stream}: ${JSON.stringify(text)}`).toEqual([]);
  }
}

interface LsJson {
  entries: Array<{ path: string; type: string; id?: string; target?: string }>;
}

describe('names with control characters in human output', () => {
  let first: string;
  let second: string;

  beforeAll(() => {
    fs.mkdirSync(path.join(ws, DIR), { recursive: true });
    for (const n of NAMES) fs.writeFileSync(path.join(ws, n), `${n.length}\n`);
    fs.writeFileSync(path.join(ws, NESTED), 'nested\n');
    fs.symlinkSync(LINK_TARGET, path.join(ws, LINK));
    ok(['init', '--inline-max', '0']);
    first = parseJson<{ id: string }>(ok(['snapshot', ws, '-m', 'first\x1b[2J\nsecond line\x07', '--json'])).id;
    fs.appendFileSync(path.join(ws, EVIL), 'more\n');
    fs.appendFileSync(path.join(ws, NORMAL), 'more\n');
    fs.appendFileSync(path.join(ws, C1), 'more\n');
    fs.rmSync(path.join(ws, NEWLINE));
    fs.writeFileSync(path.join(ws, `${TAB}2`), 'new\n');
    second = parseJson<{ id: string }>(ok(['snapshot', ws, '-m', 'plain', '--json'])).id;
    ok(['tag', 'v1', first, '-m', 'tag\x1b]0;x\x07message']);
  });

  it('ls -r quotes hostile names, one line per entry, and leaves ordinary ones as they are', () => {
    const lsJson = ok(['ls', '-r', first, '--json']);
    expectClean(lsJson, 'ls --json'); // JSON text escapes C1 controls too (\u009b), and parses back to the exact names
    const entries = parseJson<LsJson>(lsJson).entries;
    expect(entries.map((e) => e.path).sort()).toEqual([...NAMES, DIR, NESTED, LINK].sort()); // --json: exact names
    expect(entries.find((e) => e.path === LINK)?.target).toBe(LINK_TARGET);
    const r = ok(['ls', '-r', first]);
    expectClean(r, 'ls');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(entries.length);
    for (const e of entries) {
      const shown = quoteName(e.type === 'dir' ? `${e.path}/` : e.path);
      expect(lines.filter((l) => l.includes(`  ${shown}`)), e.path).toHaveLength(1);
    }
    expect(lines.some((l) => l.endsWith(`  ${NORMAL}`))).toBe(true);
    expect(r.stdout).toContain('"evil\\033]0;pwned\\a\\033[2J"');
    expect(r.stdout).toContain('"a\\nb"');
    expect(r.stdout).toContain('"c1\\302\\23331m"');
    expect(r.stdout).toContain(`${LINK} -> "tar\\033[5mget"`);
  });

  it('diff --name-status lines unquote to exactly the --json paths', () => {
    const json = parseJson<Array<{ path: string; status: string }>>(ok(['diff', first, second, '--json']));
    expect(json.map((c) => [c.status, c.path])).toEqual([
      ['D', NEWLINE],
      ['M', C1],
      ['M', EVIL],
      ['A', `${TAB}2`],
      ['M', NORMAL],
    ].sort((a, b) => Buffer.compare(Buffer.from(a[1]!), Buffer.from(b[1]!))));
    const r = ok(['diff', first, second]);
    expectClean(r, 'diff');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(json.length);
    expect(lines.map((l) => [l.slice(0, 1), unquoteName(l.slice(2))])).toEqual(json.map((c) => [c.status, c.path]));
  });

  it('diff --stat and -p quote names in headers; content lines stay the file content', () => {
    const stat = ok(['diff', '--stat', first, second]);
    expectClean(stat, 'diff --stat');
    expect(stat.stdout).toContain(' "evil\\033]0;pwned\\a\\033[2J" |');
    const patch = ok(['diff', '-p', first, second]);
    expectClean(patch, 'diff -p');
    expect(patch.stdout).toContain('diff --git "a/evil\\033]0;pwned\\a\\033[2J" "b/evil\\033]0;pwned\\a\\033[2J"');
    expect(patch.stdout).toContain('--- "a/a\\nb"\n+++ /dev/null\n');
    expect(patch.stdout).toContain('diff --git "a/c1\\302\\23331m" "b/c1\\302\\23331m"');
    expect(patch.stdout).toContain(`diff --git a/${NORMAL} b/${NORMAL}`);
  });

  it('log, show, stats and tags escape messages and quote the source; --json keeps them exact', () => {
    const log = ok(['log']);
    expectClean(log, 'log');
    expect(log.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(log.stdout).toContain('first\\033[2J\\nsecond line\\a (v1)');
    for (const args of [['log', '--graph'], ['log', '--', EVIL], ['show', first], ['stats', first], ['stats'], ['tags'], ['forget', '--keep-last', '1', '--dry-run'], ['audit']]) {
      expectClean(ok(args), args.join(' '));
    }
    const show = ok(['show', first]).stdout;
    expect(show).toContain(`  source:  ${quoteName(ws)} (dir)`);
    expect(show).toContain('  message: first\\033[2J\n           second line\\a\n');
    expect(ok(['tags']).stdout).toContain('tag\\033]0;x\\amessage');
    const logJson = parseJson<Array<{ id: string; message: string; source: string }>>(ok(['log', '--json']));
    expect(logJson.find((l) => l.id === first)).toMatchObject({ message: 'first\x1b[2J\nsecond line\x07', source: ws });
    expect(parseJson<{ manifest: { message: string } }>(ok(['show', first, '--json'])).manifest.message).toBe('first\x1b[2J\nsecond line\x07');
    expect(parseJson<Array<{ message: string }>>(ok(['tags', '--json']))[0]!.message).toBe('tag\x1b]0;x\x07message');
  });

  it('restore --dry-run lists changed paths quoted, one line each', () => {
    const r = ok(['restore', first, '--dry-run']);
    expectClean(r, 'restore --dry-run');
    expect(r.stdout).toContain(`${quoteName(ws)}`);
    expect(r.stdout).toMatch(/^\S+ {2}"a\\nb"$/m); // restored back: one line, quoted
    expect(r.stdout).toMatch(/^\S+ {2}"t\\tab2"$/m);
  });

  it('verify and a failing restore name the damaged file quoted; --json keeps the exact path', () => {
    const id = parseJson<LsJson>(ok(['ls', second, '--json'])).entries.find((e) => e.path === EVIL)!.id!;
    fs.rmSync(path.join(repo, 'objects', id.slice(0, 2), id.slice(2, 4), id));
    const verify = ok(['verify'], 4);
    expectClean(verify, 'verify');
    expect(verify.stdout).toContain(`    "evil\\033]0;pwned\\a\\033[2J"  (object ${id.slice(0, 12)} missing)`);
    expect(verify.stdout).toContain(quoteName(ws));
    const restore = run(['restore', second, '--target', path.join(root, 'out')]);
    expect(restore.code).toBe(4);
    expectClean(restore, 'restore');
    expect(restore.stderr).toContain('cairn: cannot restore "evil\\033]0;pwned\\a\\033[2J": ');
    const json = run(['restore', second, '--target', path.join(root, 'out'), '--json']);
    expectClean(json, 'restore --json');
    expect(parseJson<{ details: { path: string } }>(json).details.path).toBe(EVIL);
  });

  it('errors naming a path the user typed quote it', () => {
    const r = run(['cat', `${second}:no\x1b[2Jne`]);
    expect(r.code).toBe(5);
    expectClean(r, 'cat');
    expect(r.stderr).toContain('cairn: "no\\033[2Jne" does not exist in snapshot');
    const s = run(['snapshot', path.join(root, 'gone\x1b]0;x\x07')]);
    expectClean(s, 'snapshot of a missing source');
    expect(s.stderr).toContain(`source ${quoteName(path.join(root, 'gone\x1b]0;x\x07'))} does not exist`);
  });
});

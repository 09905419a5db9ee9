import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, tempDir } from '../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function objectFiles(dir: string): string[] {
  const out: string[] = [];
  for (const a of fs.readdirSync(dir)) for (const b of fs.readdirSync(path.join(dir, a))) for (const f of fs.readdirSync(path.join(dir, a, b))) out.push(path.join(dir, a, b, f));
  return out;
}

describe('compression codecs', () => {
  it.each([
    ['snappy', 2],
    ['deflate', 1],
    ['none', 0],
  ] as const)('init --compression %s writes new objects with it, and they restore byte for byte', (codec, byte) => {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const text = Buffer.from('a compressible line of text, repeated\n'.repeat(3000));
    fs.writeFileSync(path.join(src, 'text.txt'), text);
    const repo = path.join(dir, 'repo');
    const init = JSON.parse(cairnOk(['--repo', repo, '--json', 'init', '--compression', codec]).stdout);
    expect(init.compression).toBe(codec);
    expect(JSON.parse(fs.readFileSync(path.join(repo, 'config.json'), 'utf8')).compression).toBe(codec);
    cairnOk(['--repo', repo, 'snapshot', src]);
    const stored = objectFiles(path.join(repo, 'objects')).map((f) => fs.readFileSync(f));
    const blob = stored.find((b) => b.length > 1 && b.length < text.length && b[0] !== 0);
    if (byte === 0) expect(stored.every((b) => b[0] === 0)).toBe(true);
    else expect(blob?.[0]).toBe(byte);
    cairnOk(['--repo', repo, 'restore', 'latest', '--target', path.join(dir, 'out')]);
    expect(fs.readFileSync(path.join(dir, 'out', 'text.txt')).equals(text)).toBe(true);
    cairnOk(['--repo', repo, 'verify', '--read-data']);
  });

  it('refuses an unknown codec with one line and exit 2, creating nothing', () => {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const r = cairn(['--repo', path.join(dir, 'repo'), 'init', '--compression', 'zip']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/unknown compression "zip"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(dir, 'repo'))).toBe(false);
  });
});

/** The codec byte of the stored object holding `content` (a file of one chunk: its id is its SHA-256). */
function codecOf(repo: string, content: Buffer): number {
  const id = createHash('sha256').update(content).digest('hex');
  return fs.readFileSync(path.join(repo, 'objects', id.slice(0, 2), id.slice(2, 4), id))[0]!;
}

function lines(seed: string, n: number): Buffer {
  let s = '';
  for (let i = 0; i < n; i++) s += `${seed} line ${i}: the quick brown fox jumps over the lazy dog\n`;
  return Buffer.from(s);
}

describe('change compression: the new objects of a changed file', () => {
  function setUp(initArgs: string[]) {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const src = path.join(dir, 'src');
    const repo = path.join(dir, 'repo');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'changed.txt'), lines('first', 2000));
    fs.writeFileSync(path.join(src, 'kept.txt'), lines('kept', 2000));
    const init = JSON.parse(cairnOk(['--repo', repo, '--json', 'init', ...initArgs]).stdout);
    cairnOk(['--repo', repo, 'snapshot', src]);
    const changed = lines('second', 2100);
    const added = lines('added', 1900);
    fs.writeFileSync(path.join(src, 'changed.txt'), changed);
    fs.writeFileSync(path.join(src, 'added.txt'), added);
    return { dir, src, repo, init, changed, added };
  }

  function snapshotAndRestore(t: ReturnType<typeof setUp>): void {
    cairnOk(['--repo', t.repo, 'snapshot', t.src]);
    const out = path.join(t.dir, 'out');
    cairnOk(['--repo', t.repo, 'restore', 'latest', '--target', out]);
    for (const f of ['changed.txt', 'added.txt', 'kept.txt']) expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(t.src, f)))).toBe(true);
    cairnOk(['--repo', t.repo, 'verify', '--read-data']);
  }

  it('are deflated by default while new files stay snappy, and restore byte for byte', () => {
    const t = setUp([]);
    expect(t.init.changeCompression).toBe('deflate');
    expect(JSON.parse(fs.readFileSync(path.join(t.repo, 'config.json'), 'utf8')).changeCompression).toBe('deflate');
    snapshotAndRestore(t);
    expect(codecOf(t.repo, t.changed)).toBe(1);
    expect(codecOf(t.repo, t.added)).toBe(2);
    expect(codecOf(t.repo, lines('first', 2000))).toBe(2);
  });

  it('include the new tree of a directory the base has too; a first snapshot writes its trees with snappy', () => {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const src = path.join(dir, 'src');
    const repo = path.join(dir, 'repo');
    fs.mkdirSync(path.join(src, 'notes'), { recursive: true });
    // 20 small files held inline: the notes tree is ~24 KB, well over the size below which nothing is compressed.
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, 'notes', `n${i}.txt`), lines(`note ${i}`, 16));
    cairnOk(['--repo', repo, 'init']);
    const treeOfNotes = () => (JSON.parse(cairnOk(['--repo', repo, '--json', 'ls', 'latest']).stdout) as { entries: Array<{ path: string; id: string }> }).entries.find((e) => e.path === 'notes')!.id;
    const storedCodec = (id: string) => fs.readFileSync(path.join(repo, 'objects', id.slice(0, 2), id.slice(2, 4), id))[0];
    cairnOk(['--repo', repo, 'snapshot', src]);
    const first = treeOfNotes();
    expect(storedCodec(first)).toBe(2);
    fs.writeFileSync(path.join(src, 'notes', 'n3.txt'), lines('note 3 changed', 16));
    cairnOk(['--repo', repo, 'snapshot', src]);
    const second = treeOfNotes();
    expect(second).not.toBe(first);
    expect(storedCodec(second)).toBe(1);
    cairnOk(['--repo', repo, 'verify', '--read-data']);
  });

  it('take the codec given by init --change-compression', () => {
    const t = setUp(['--change-compression', 'none']);
    snapshotAndRestore(t);
    expect(codecOf(t.repo, t.changed)).toBe(0);
    expect(codecOf(t.repo, t.added)).toBe(2);
  });

  it('take the repository compression when its config predates changeCompression', () => {
    const t = setUp([]);
    const cfgFile = path.join(t.repo, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    delete cfg.changeCompression;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    snapshotAndRestore(t);
    expect(codecOf(t.repo, t.changed)).toBe(2);
  });

  it('of a database snapshotted before (--sqlite) are deflated; its first snapshot is snappy', () => {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const repo = path.join(dir, 'repo');
    const file = path.join(dir, 'app.db');
    cairnOk(['--repo', repo, 'init']);
    const db = new Database(file);
    db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t(body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`row ${i} `.repeat(20));
    })();
    const codecs = () => new Set(objectFiles(path.join(repo, 'objects')).map((f) => fs.readFileSync(f)[0]!));
    cairnOk(['--repo', repo, 'snapshot', '--sqlite', file]);
    expect(codecs().has(1)).toBe(false);
    db.prepare('UPDATE t SET body = ? WHERE id = 1000').run('changed '.repeat(25));
    db.close();
    cairnOk(['--repo', repo, 'snapshot', '--sqlite', file]);
    expect(codecs().has(1)).toBe(true);
    cairnOk(['--repo', repo, 'verify', '--read-data']);
  });

  it('refuses an unknown --change-compression with one line and exit 2', () => {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const r = cairn(['--repo', path.join(dir, 'repo'), 'init', '--change-compression', 'zip']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/unknown change compression "zip"/);
    expect(fs.existsSync(path.join(dir, 'repo'))).toBe(false);
  });
});

describe('a config naming a codec this cairn does not know', () => {
  it('is refused with one line naming the key, and nothing is written', () => {
    const dir = tempDir('cairn-codec-');
    dirs.push(dir);
    const repo = path.join(dir, 'repo');
    cairnOk(['--repo', repo, 'init']);
    const cfgFile = path.join(repo, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), changeCompression: 'zstd' }));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'a');
    const r = cairn(['--repo', repo, 'snapshot', path.join(dir, 'src')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/names changeCompression "zstd"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(path.join(repo, 'snapshots'))).toEqual([]);
  });
});

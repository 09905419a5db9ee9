import * as fs from 'node:fs';
import * as path from 'node:path';
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

/**
 * Damaged ref files (refs/tags, refs/heads: truncated, not JSON, a snapshot that is not a 64-hex id, filed under
 * another name, a name tagFileName never makes): prune and forget read refs through one checked path (soundRefs in
 * src/refs.ts) and stop, naming the file, rather than treat a ref they cannot read as absent; so the data of a
 * snapshot protected only by such a ref is never deleted. Stray temp files and dangling refs are not damage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, parseJson, tempDir, writeTree } from '../helpers.js';

const root = tempDir('cairn-damagedrefs-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;

/** Every file under objects/ (relative), sorted. */
function objectFiles(repo: string): string[] {
  return (fs.readdirSync(path.join(repo, 'objects'), { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(repo, 'objects', f)).isFile())
    .sort();
}

/**
 * A repository with three snapshots of two sources: `kept` (tagged `keep`, not its source's HEAD), a newer one of
 * the same source, and `other`, the only one of its source.
 */
function setup(): { repo: string; kept: string; other: string; tagFile: string; src: string } {
  const dir = path.join(root, `r${++n}`);
  const repo = path.join(dir, 'repo');
  const src = path.join(dir, 'src');
  const src2 = path.join(dir, 'src2');
  writeTree(src, { 'only-in-kept.txt': 'data only the tagged snapshot has\n'.repeat(200) });
  writeTree(src2, { 'b.txt': 'other\n' });
  cairnOk(['init', '--repo', repo]);
  const kept = parseJson<{ id: string }>(cairnOk(['snapshot', src, '--repo', repo, '--tag', 'keep', '--json'])).id;
  writeTree(src, { 'only-in-kept.txt': 'changed\n' });
  cairnOk(['snapshot', src, '--repo', repo]); // the HEAD of src is now this one, not `kept`
  const other = parseJson<{ id: string }>(cairnOk(['snapshot', src2, '--repo', repo, '--json'])).id;
  return { repo, kept, other, tagFile: path.join(repo, 'refs', 'tags', 'keep.json'), src };
}

const TIME = '2026-01-01T00:00:00.000Z';

describe('prune with a damaged ref file', () => {
  const damages: Array<[string, (file: string, kept: string) => string]> = [
    ['truncated to nothing', (file) => (fs.writeFileSync(file, ''), file)],
    ['cut short (not JSON)', (file) => (fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 20)), file)],
    ['naming a snapshot id that is not 64 hex', (file, kept) => (fs.writeFileSync(file, JSON.stringify({ name: 'keep', snapshot: kept.slice(0, 40), time: TIME, message: '' })), file)],
    ['filed under another name', (file, kept) => (fs.writeFileSync(file, JSON.stringify({ name: 'other', snapshot: kept, time: TIME, message: '' })), file)],
    [
      'filed under a name that does not decode',
      (file, kept) => {
        const odd = path.join(path.dirname(file), 'keep%zz.json');
        fs.writeFileSync(odd, JSON.stringify({ name: 'keep%zz', snapshot: kept, time: TIME, message: '' }));
        fs.rmSync(file);
        return odd;
      },
    ],
  ];
  for (const [what, damage] of damages) {
    it(`a tag ${what}: prune stops and deletes nothing; the tagged snapshot's data survives`, () => {
      const { repo, kept, tagFile } = setup();
      fs.rmSync(path.join(repo, 'snapshots', kept)); // now only the tag protects it
      const bad = damage(tagFile, kept);
      const before = objectFiles(repo);
      for (const args of [['prune', '--yes'], ['prune', '--dry-run'], ['forget', '--keep-last', '1', '--keep-minimum', '0', '--prune', '--yes']]) {
        const r = cairn([...args, '--repo', repo]);
        expect({ args, code: r.code }).toEqual({ args, code: 4 });
        expect(r.stderr).toContain(`stopped before ${args[0] === 'prune' ? 'deleting' : 'forgetting'} anything: ref file ${bad} cannot be read`);
        expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
        expect(r.stderr.split('\n').filter((l) => l.startsWith('cairn: ') && !l.startsWith('cairn: warning'))).toHaveLength(1);
        expect(r.stderr).toMatch(/hint: (delete it with `cairn tag -d keep`|repair or remove that file)/);
      }
      expect(objectFiles(repo)).toEqual(before);
      // Once the ref is repaired, prune keeps what it names.
      fs.rmSync(bad);
      fs.writeFileSync(tagFile, JSON.stringify({ name: 'keep', snapshot: kept, time: TIME, message: '' }));
      const ok = cairnOk(['prune', '--yes', '--json', '--repo', repo]);
      expect(ok.stderr).toMatch(/is named by a ref or a restore journal but has no marker; its data is kept/);
      expect(objectFiles(repo)).toEqual(before);
    });
  }

  it('a damaged HEAD: prune stops, naming the file', () => {
    const { repo, other } = setup();
    fs.rmSync(path.join(repo, 'snapshots', other)); // now only its source's HEAD protects it
    const heads = path.join(repo, 'refs', 'heads');
    const headFile = fs.readdirSync(heads).map((f) => path.join(heads, f)).find((f) => fs.readFileSync(f, 'utf8').includes(other))!;
    fs.truncateSync(headFile, 10);
    const before = objectFiles(repo);
    const r = cairn(['prune', '--yes', '--repo', repo]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`prune stopped before deleting anything: ref file ${headFile} cannot be read (it is not JSON)`);
    expect(r.stderr).toContain("hint: repair or remove that file: a HEAD only names its source's last snapshot");
    expect(objectFiles(repo)).toEqual(before);
  });

  it('a stray temp file and a tag naming a missing snapshot are not damage: prune runs', () => {
    const { repo, other, tagFile } = setup();
    fs.writeFileSync(path.join(path.dirname(tagFile), '.tmp-999999999-abcd'), '{"na');
    fs.writeFileSync(path.join(path.dirname(tagFile), 'gone.json'), JSON.stringify({ name: 'gone', snapshot: 'e'.repeat(64), time: TIME, message: '' }));
    const r = cairnOk(['prune', '--yes', '--json', '--repo', repo]);
    expect(parseJson<{ snapshots: number }>(r).snapshots).toBe(3);
    expect(parseJson<{ id: string }>(cairnOk(['show', other, '--json', '--repo', repo])).id).toBe(other);
  });
});

describe('forget with a damaged tag', () => {
  it('stops instead of forgetting a snapshot the unreadable tag may protect (the index no longer knows the tag)', () => {
    const { repo, kept, tagFile } = setup();
    fs.writeFileSync(tagFile, '{"name":"keep","snapsh');
    cairnOk(['rebuild-index', '--repo', repo]); // a rebuilt index knows no tag a damaged file held
    for (const extra of [['--dry-run'], ['--yes']]) {
      const r = cairn(['forget', '--keep-last', '1', '--keep-minimum', '0', ...extra, '--repo', repo]);
      expect({ extra, code: r.code }).toEqual({ extra, code: 4 });
      expect(r.stderr).toContain(`forget stopped before forgetting anything: ref file ${tagFile} cannot be read (it is not JSON)`);
      expect(r.stderr).toContain('hint: delete it with `cairn tag -d keep` or replace it with `cairn tag keep <snapshot> --force`');
    }
    expect(fs.existsSync(path.join(repo, 'snapshots', kept))).toBe(true);
    // `tag -d` removes the damaged file; then forget goes ahead (nothing protects the snapshot any more).
    cairnOk(['tag', '-d', 'keep', '--yes', '--repo', repo]);
    expect(fs.existsSync(tagFile)).toBe(false);
    const f = parseJson<{ removed: string[] }>(cairnOk(['forget', '--keep-last', '1', '--keep-minimum', '0', '--yes', '--json', '--repo', repo]));
    expect(f.removed).toEqual([kept]);
  });
});

describe('tags and tag names with a damaged tag file', () => {
  it('`cairn tags` warns, naming the file, whether or not the index still has the tag', () => {
    const { repo, kept, tagFile } = setup();
    fs.writeFileSync(tagFile, 'not json');
    const listed = cairnOk(['tags', '--json', '--repo', repo]);
    expect(parseJson<Array<{ name: string; snapshot: string }>>(listed).map((t) => [t.name, t.snapshot])).toEqual([['keep', kept]]);
    expect(listed.stderr).toBe(
      `cairn: warning: ref file ${tagFile} is damaged (it is not JSON); tag keep is listed with the snapshot the index last knew for it: ` +
        'delete it with `cairn tag -d keep` or replace it with `cairn tag keep <snapshot> --force` (`cairn verify` lists every damaged ref)\n',
    );
    cairnOk(['rebuild-index', '--repo', repo]);
    const after = cairnOk(['tags', '--json', '--repo', repo]);
    expect(parseJson<unknown[]>(after)).toEqual([]);
    expect(after.stderr).toContain(`cairn: warning: ref file ${tagFile} is damaged (it is not JSON); it is not listed: delete it with \`cairn tag -d keep\``);
  });

  it('`snapshot --tag NAME` over a damaged tag file is refused before the snapshot is taken', () => {
    const { repo, src, tagFile } = setup();
    fs.writeFileSync(tagFile, '');
    cairnOk(['rebuild-index', '--repo', repo]);
    const count = () => parseJson<unknown[]>(cairnOk(['log', '--json', '--repo', repo])).length;
    const before = count();
    fs.writeFileSync(path.join(src, 'new.txt'), 'new\n');
    const r = cairn(['snapshot', src, '--tag', 'keep', '--repo', repo]);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain(`cairn: tag keep cannot be read: ${tagFile} is damaged (it is not JSON)`);
    expect(count()).toBe(before);
    cairnOk(['tag', '-d', 'keep', '--yes', '--repo', repo]);
    cairnOk(['snapshot', src, '--tag', 'keep', '--repo', repo]);
    expect(count()).toBe(before + 1);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegrityError, UnsafePathError } from '../../../src/errors.js';
import { nameFields, nameBytes } from '../../../src/model/entryName.js';
import { compareNames, decodeTree, encodeTree, type TreeEntry } from '../../../src/model/tree.js';
import { decodeManifest } from '../../../src/model/manifest.js';

const ID = 'a'.repeat(64);

function file(name: string | Buffer): TreeEntry {
  const n = typeof name === 'string' ? Buffer.from(name) : name;
  return { ...nameFields(n), type: 'file', mode: 0o644, mtime: '1', size: 0, chunks: [] };
}

describe('trees', () => {
  it('compare names in byte order, whether held as text or bytes', () => {
    const name = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 4 }), fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')));
    const raw = fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => nameFields(Buffer.from(b)));
    const entry = fc.oneof(name.map((n) => nameFields(Buffer.from(n, 'utf8'))), raw);
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        expect(Math.sign(compareNames(a, b))).toBe(Math.sign(Buffer.compare(nameBytes(a), nameBytes(b))));
      }),
      { numRuns: 2000 },
    );
    // U+FFFF sorts before U+10000 in UTF-8 bytes but after it in UTF-16 code units.
    expect(compareNames({ name: '\uFFFF' }, { name: '\u{10000}' })).toBeLessThan(0);
  });

  it('encode the same whatever the input order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 8 }).map(Buffer.from), { selector: (b) => b.toString('hex'), maxLength: 20 }), fc.integer(), (names, seed) => {
        const safe = names.filter((b) => !b.includes(0x2f) && !b.includes(0) && b.toString() !== '.' && b.toString() !== '..');
        const entries = safe.map(file);
        const shuffled = [...entries].sort(() => ((seed = (seed * 1103515245 + 12345) | 0) & 1 ? 1 : -1));
        const a = encodeTree(entries);
        expect(encodeTree(shuffled).equals(a)).toBe(true);
        const back = decodeTree(a, 'x').entries;
        expect(back.map((e) => nameBytes(e).toString('hex'))).toEqual(safe.map((b) => b.toString('hex')).sort((x, y) => Buffer.compare(Buffer.from(x, 'hex'), Buffer.from(y, 'hex'))));
      }),
    );
  });

  it('round-trips names that are not valid UTF-8', () => {
    const odd = Buffer.from([0x66, 0xff, 0xfe, 0x80]);
    const t = decodeTree(encodeTree([file(odd)]), 'x');
    expect(nameBytes(t.entries[0]!).equals(odd)).toBe(true);
  });

  it('rejects unsafe names when decoding', () => {
    for (const bad of ['..', '.', 'a/b', '', 'x\u0000y']) {
      const json = JSON.stringify({ entries: [{ name: bad, type: 'file', mode: 420, mtime: '1', chunks: [] }], v: 1 });
      expect(() => decodeTree(Buffer.from(json), 't')).toThrow(UnsafePathError);
    }
    const raw = JSON.stringify({ entries: [{ name: 'ok', rawName: Buffer.from('../x').toString('base64'), type: 'file', mode: 420, mtime: '1', chunks: [] }], v: 1 });
    expect(() => decodeTree(Buffer.from(raw), 't')).toThrow(UnsafePathError);
  });

  it('rejects malformed trees', () => {
    expect(() => decodeTree(Buffer.from('not json'), 't')).toThrow(IntegrityError);
    expect(() => decodeTree(Buffer.from(JSON.stringify({ entries: [{ name: 'a', type: 'dir', mode: 1, mtime: '1', tree: 'zz' }], v: 1 })), 't')).toThrow(IntegrityError);
    const unsorted = JSON.stringify({ entries: [file('b'), file('a')], v: 1 });
    expect(() => decodeTree(Buffer.from(unsorted), 't')).toThrow(/sorted/);
    expect(() => encodeTree([file('a'), file('a')])).toThrow(/duplicate/);
  });

  it('rejects malformed manifests', () => {
    expect(() => decodeManifest(Buffer.from('{}'), 'm')).toThrow(IntegrityError);
    expect(() => decodeManifest(Buffer.from(JSON.stringify({ v: 2, tree: ID })), 'm')).toThrow(/version/);
  });
});

describe('tree encoding is canonical JSON', () => {
  it('equals canonicalJson of the same tree for every kind of entry', async () => {
    const { canonicalJson } = await import('../../../src/util/canonicalJson.js');
    const entries: TreeEntry[] = [
      { name: 'f', type: 'file', mode: 0o644, mtime: '12', ctime: '13', ino: 5, uid: 0, gid: 0, size: 3, chunks: [ID] },
      { name: 'd', type: 'dir', mode: 0o755, mtime: '1', tree: ID },
      { name: 'l', type: 'symlink', mode: 0o777, mtime: '1', size: 2, target: 'x\u00e9', rawTarget: 'eOk=' },
      { ...nameFields(Buffer.from([0xff, 0x41])), type: 'file', mode: 0o600, mtime: '9', size: 0, chunks: [] },
    ];
    const ours = encodeTree(entries).toString('utf8');
    const sorted = JSON.parse(ours) as { entries: TreeEntry[] };
    expect(ours).toBe(canonicalJson({ entries: sorted.entries, v: 1 }));
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegrityError, UnsafePathError } from '../../../src/errors.js';
import { nameFields, nameBytes } from '../../../src/model/entryName.js';
import { verifiedInline } from '../../../src/model/fileContent.js';
import { compareNames, decodeTree, encodeTree, inlineBytes, inlineFields, TREE_VERSION, TREE_VERSION_INLINE, type TreeEntry } from '../../../src/model/tree.js';
import { sha256Hex } from '../../../src/util/hash.js';
import { decodeManifest } from '../../../src/model/manifest.js';
import { thrown } from '../../helpers.js';

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

  // The audit's crafted trees (correct ids, hostile fields): each passed decodeTree, then crashed ls or restore.
  it('rejects metadata restore and ls cannot take: bad mtime, mode, owner, size, chunk ids and link targets', () => {
    const one = (e: Record<string, unknown>) => () => decodeTree(Buffer.from(JSON.stringify({ entries: [e], v: 1 })), 't');
    const f = { name: 'f', type: 'file', mode: 0o644, mtime: '1764000000000000000', size: 2, chunks: [ID] };
    const link = { name: 'l', type: 'symlink', mode: 0o777, mtime: '0', size: 1, target: 'x' };
    expect(one(f)).not.toThrow();
    expect(one(link)).not.toThrow();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...f, mtime: 'abc' }, /entry f has mtime "abc"/],
      [{ ...f, mtime: '99999999999999999999999999999' }, /mtime/],
      [{ ...f, mtime: '-5000000000000000000000' }, /mtime/],
      [{ ...f, mtime: '9223372036854775808' }, /mtime/],
      [{ ...f, mtime: 1764000000 }, /mtime/],
      [{ ...f, mtime: undefined }, /mtime/],
      [{ ...f, ctime: 'x' }, /ctime/],
      [{ ...f, mode: -1 }, /mode -1/],
      [{ ...f, mode: 420.5 }, /mode/],
      [{ ...f, mode: 0o100644 }, /mode/],
      [{ ...f, mode: '420' }, /mode/],
      [{ ...f, uid: 'root' }, /uid/],
      [{ ...f, gid: -5 }, /gid/],
      [{ ...f, uid: 2 ** 32 }, /uid/],
      [{ ...f, ino: -1 }, /inode/],
      [{ ...f, size: 1e18 }, /size/],
      [{ ...f, size: 'lots' }, /size/],
      [{ ...f, size: -1 }, /size/],
      [{ ...f, chunks: ['zz'] }, /bad chunk ids/],
      [{ ...f, chunks: [ID.toUpperCase()] }, /bad chunk ids/],
      [{ ...f, chunks: ID }, /bad chunk ids/],
      [{ ...f, rawName: 5 }, /bad rawName/],
      [{ ...link, target: 42 }, /symlink l has no target/],
      [{ ...link, target: '' }, /symlink l has no target/],
      [{ ...link, target: 'a\u0000b' }, /symlink l has no target/],
      [{ ...link, rawTarget: Buffer.from('/tmp/outside\0').toString('base64') }, /bad rawTarget/],
      [{ ...link, rawTarget: '' }, /bad rawTarget/],
      [{ ...link, rawTarget: 7 }, /bad rawTarget/],
      [{ name: 'd', type: 'dir', mode: 0o755, mtime: '0', tree: '../../etc' }, /bad subtree id/],
      [{ name: 'd', type: 'dir', mode: 0o755, mtime: 'abc', tree: ID }, /mtime/],
      [{ ...f, links: 1, dev: 2049 }, /link count 1/],
      [{ ...f, links: 2.5, dev: 2049 }, /link count/],
      [{ ...f, links: '2', dev: 2049 }, /link count/],
      [{ ...f, links: 2, dev: -1 }, /device -1/],
      [{ ...f, links: 2, dev: 'sda' }, /device/],
      [{ ...f, links: 2 }, /a link count without a device/],
      [{ ...f, dev: 2049 }, /a device without a link count/],
      [{ name: 'd', type: 'dir', mode: 0o755, mtime: '0', tree: ID, links: 2, dev: 1 }, /dir d has a link count/],
      [{ ...link, links: 2, dev: 1 }, /symlink l has a link count/],
    ];
    for (const [e, why] of cases) {
      expect(one(e), JSON.stringify(e)).toThrow(IntegrityError);
      expect(one(e), JSON.stringify(e)).toThrow(why);
    }
    // The tree is named, so verify and the CLI report damage to an object.
    const err = thrown(() => decodeTree(Buffer.from(JSON.stringify({ entries: [{ ...f, mtime: 'abc' }], v: 1 })), 'abc123'));
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).message).toMatch(/^tree abc123 is malformed/);
    expect((err as IntegrityError).details).toEqual({ object: 'abc123' });
  });
});

/** A file entry holding `data` inline, as the snapshot walk makes one. */
function inlineFile(name: string, data: Buffer): TreeEntry {
  return { name, type: 'file', mode: 0o644, mtime: '1', size: data.length, chunks: [sha256Hex(data)], ...inlineFields(data) } as TreeEntry;
}

describe('inline files', () => {
  it('round-trip any bytes, as text when valid UTF-8 and as base64 otherwise', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }).map(Buffer.from), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).map((t) => Buffer.from(t, 'utf8'))), (data) => {
        const t = decodeTree(encodeTree([inlineFile('f', data), file('g')]), 'x');
        const e = t.entries[0]!;
        expect(inlineBytes(e)!.equals(data)).toBe(true);
        expect(verifiedInline(e)!.equals(data)).toBe(true);
        expect(e.inline === undefined).toBe(!Buffer.from(data.toString('utf8'), 'utf8').equals(data));
        expect(inlineBytes(t.entries[1]!)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('make a version 2 tree; a tree without them stays version 1 (ids of older trees unchanged)', () => {
    const v = (entries: TreeEntry[]) => (JSON.parse(encodeTree(entries).toString()) as { v: number }).v;
    expect(v([file('a')])).toBe(TREE_VERSION);
    expect(v([file('a'), inlineFile('b', Buffer.from('x'))])).toBe(TREE_VERSION_INLINE);
  });

  it('are rejected when inconsistent', () => {
    const good = inlineFile('f', Buffer.from('hello'));
    const tree = (e: Record<string, unknown>, v = 2) => Buffer.from(JSON.stringify({ entries: [e], v }));
    expect(() => decodeTree(tree({ ...good }), 't')).not.toThrow();
    expect(() => decodeTree(tree({ ...good }, 1), 't')).toThrow(/version 1 with 1 inline/);
    expect(() => decodeTree(tree({ ...file('f') }, 2), 't')).toThrow(/version 2 with 0 inline/);
    expect(() => decodeTree(tree({ ...good, size: 4 }), 't')).toThrow(/does not match its size/);
    expect(() => decodeTree(tree({ ...good, chunks: [ID, ID] }), 't')).toThrow(/does not match its size or chunks/);
    expect(() => decodeTree(tree({ ...good, rawInline: 'aGVsbG8=' }), 't')).toThrow(/bad inline/);
    expect(() => decodeTree(tree({ ...good, inline: 5 }), 't')).toThrow(/bad inline/);
    expect(() => decodeTree(tree({ name: 'd', type: 'dir', mode: 1, mtime: '1', tree: ID, inline: 'x' }), 't')).toThrow(/dir d has inline/);
    // Content that decodes but is not what its chunk id names: reading it fails.
    const lying = decodeTree(tree({ ...good, inline: 'jello' }), 't').entries[0]!;
    expect(() => verifiedInline(lying)).toThrow(IntegrityError);
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
    const withInline = [...entries, { ...inlineFile('i', Buffer.from('a "quoted"\n\u0001 line')), ctime: '3', ino: 9, uid: 1, gid: 2 }, inlineFile('r', Buffer.from([0xff, 0]))];
    const ours2 = encodeTree(withInline).toString('utf8');
    expect(ours2).toBe(canonicalJson({ entries: (JSON.parse(ours2) as { entries: TreeEntry[] }).entries, v: 2 }));
  });

  it('hold a hard-linked file\'s link count and device in canonical key order, and only for files', () => {
    const e: TreeEntry = { ...file('f'), ino: 7, links: 3, dev: 2049 };
    const bytes = encodeTree([e]);
    expect(bytes.toString()).toBe('{"entries":[{"chunks":[],"dev":2049,"ino":7,"links":3,"mode":420,"mtime":"1","name":"f","size":0,"type":"file"}],"v":1}');
    expect(decodeTree(bytes, 't').entries[0]).toEqual(e);
    // A tree without them (every tree before them) decodes as before; fields a dir cannot have are not written.
    expect(decodeTree(encodeTree([file('f')]), 't').entries[0]!.links).toBeUndefined();
    const dir = { name: 'd', type: 'dir', mode: 0o755, mtime: '0', tree: ID, links: 2, dev: 1 } as TreeEntry;
    expect(encodeTree([dir]).toString()).not.toMatch(/links|dev/);
  });
});

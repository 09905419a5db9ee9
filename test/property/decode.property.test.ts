/**
 * decodeTree and decodeManifest: every valid tree and manifest round-trips through encode and decode, and one
 * field set to a value of the wrong type or out of range is always refused as an integrity error naming the
 * object or snapshot (never decoded, to crash ls, restore or the index later).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { decodeManifest, encodeManifest, SNAPSHOT_MODES, SNAPSHOT_TYPES, type Manifest } from '../../src/model/manifest.js';
import { decodeTree, encodeTree, type TreeEntry } from '../../src/model/tree.js';
import type { ObjectId } from '../../src/store/objectId.js';
import { thrown } from '../helpers.js';

const hexId = fc.stringMatching(/^[0-9a-f]{64}$/).map((s) => s as ObjectId);
const nsTime = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
const owner = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const count = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const safeText = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).filter((s) => !s.includes('\0'));

const common = {
  mode: fc.integer({ min: 0, max: 0o7777 }),
  mtime: nsTime,
  ctime: fc.option(nsTime, { nil: undefined }),
  ino: fc.option(fc.oneof(fc.nat(), fc.constant(2 ** 64)), { nil: undefined }),
  uid: fc.option(owner, { nil: undefined }),
  gid: fc.option(owner, { nil: undefined }),
};

const entryArb: fc.Arbitrary<Omit<TreeEntry, 'name'>> = fc.oneof(
  fc.record({ type: fc.constant('file' as const), ...common, size: count, chunks: fc.array(hexId, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('dir' as const), ...common, tree: hexId }),
  fc.record({ type: fc.constant('symlink' as const), ...common, size: count, target: safeText }),
);

const treeArb = fc
  .uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/), { minLength: 1, maxLength: 8 })
  .chain((names) => fc.tuple(...names.map((name) => entryArb.map((e) => ({ ...e, name }) as TreeEntry))));

/** Values no field of that name may hold (each must be refused). */
const BAD_TREE_VALUES: Record<string, unknown[]> = {
  mode: [-1, 0o10000, 420.5, '420', null, true, [], {}, 1e300],
  mtime: ['abc', '', '-', '1.5', '1e9', ' 1', '9223372036854775808', '-9223372036854775809', '99999999999999999999999999999', 12, null],
  ctime: ['abc', '', '9223372036854775808', 12, null],
  uid: [-1, 2 ** 32, 1.5, 'root', null],
  gid: [-1, 2 ** 32, 1.5, '0', null],
  ino: [-1, 1.5, '5', null],
  size: [-1, 1.5, 2 ** 53, 1e18, 'lots', null],
  chunks: [['zz'], 'abc', [1], null, ['A'.repeat(64)]],
  tree: ['zz', null, 'A'.repeat(64), 5],
  target: ['', 'a\0b', 42, null],
  rawTarget: ['', Buffer.from('a\0b').toString('base64'), 42],
  type: ['fifo', null, 1],
};
/** The fields an entry of each type is checked for. */
const FIELDS: Record<string, string[]> = {
  file: ['mode', 'mtime', 'ctime', 'uid', 'gid', 'ino', 'size', 'chunks', 'type'],
  dir: ['mode', 'mtime', 'ctime', 'uid', 'gid', 'ino', 'tree', 'type'],
  symlink: ['mode', 'mtime', 'ctime', 'uid', 'gid', 'ino', 'size', 'target', 'rawTarget', 'type'],
};

describe('decodeTree', () => {
  it('round-trips every valid tree', () => {
    fc.assert(
      fc.property(treeArb, (entries) => {
        const bytes = encodeTree(entries);
        const back = decodeTree(bytes, 't').entries;
        expect(encodeTree(back).equals(bytes)).toBe(true);
        expect(back.length).toBe(entries.length);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a tree with one field of one entry set to a bad value, naming the tree', () => {
    fc.assert(
      fc.property(treeArb, fc.nat(), fc.nat(), fc.nat(), (entries, which, field, value) => {
        const json = JSON.parse(encodeTree(entries).toString('utf8')) as { entries: Array<Record<string, unknown>>; v: number };
        const e = json.entries[which % json.entries.length]!;
        const fields = FIELDS[e.type as string]!;
        const key = fields[field % fields.length]!;
        const bad = BAD_TREE_VALUES[key]!;
        e[key] = bad[value % bad.length];
        const err = thrown(() => decodeTree(Buffer.from(JSON.stringify(json)), 'the-tree'));
        expect(err, `${key} = ${JSON.stringify(e[key])}`).toBeInstanceOf(IntegrityError);
        expect((err as IntegrityError).details).toEqual({ object: 'the-tree' });
      }),
      { numRuns: 1000 },
    );
  });
});

const problem = fc.record({ path: safeText, message: fc.string({ maxLength: 20 }) });
const manifestArb: fc.Arbitrary<Manifest> = fc
  .record({
    kind: fc.constantFrom('dir' as const, 'sqlite' as const, 'stream' as const),
    tree: hexId,
    name: safeText,
    host: fc.string({ maxLength: 10 }),
    user: fc.string({ maxLength: 10 }),
    time: fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
    scanStart: nsTime,
    parents: fc.array(hexId, { maxLength: 2 }),
    mode: fc.constantFrom(...SNAPSHOT_MODES),
    base: fc.option(hexId, { nil: null }),
    type: fc.constantFrom(...SNAPSHOT_TYPES),
    message: fc.string({ maxLength: 20 }),
    stats: fc.record({
      files: count, dirs: count, symlinks: count, bytes: count, added: count, modified: count, deleted: count, unchanged: count,
      bytesRead: count, filesRead: count, newObjects: count, newBytes: count, durationMs: count, errors: count,
    }),
    errors: fc.array(problem, { maxLength: 2 }),
    warnings: fc.array(problem, { maxLength: 2 }),
    // Through JSON once, as a stored manifest is (fc.jsonValue may give -0, which JSON writes as 0).
    extra: fc.option(fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.jsonValue({ maxDepth: 2 })).map((x) => JSON.parse(JSON.stringify(x)) as Record<string, unknown>), { nil: undefined }),
  })
  .map(({ name, ...m }) => {
    const source = m.kind === 'stream' ? `stream:${name}` : `/${name.replaceAll('/', '_')}`;
    const out = { v: 1 as const, ...m, source } as Manifest;
    if (out.extra === undefined) delete out.extra;
    return out;
  });

const BAD_MANIFEST_VALUES: Record<string, unknown[]> = {
  v: [2, '1', null],
  kind: ['evil', null, 1],
  tree: ['zz', '../../../etc/passwd', null, undefined],
  source: [42, '', 'relative/dir', null, undefined],
  host: [{ x: 1 }, null, 5, undefined],
  user: [null, 5, undefined],
  time: ['nope', 5, null, undefined],
  scanStart: ['abc', '', 5, '1.5', '99999999999999999999', undefined],
  parents: ['x', ['zz'], null, undefined],
  mode: ['evil', null, undefined],
  base: ['zz', 5, undefined],
  type: ['evil', null, undefined],
  message: [{ a: 1 }, null, 5, undefined],
  stats: [{}, null, [], 'x', undefined],
  errors: ['boom', null, [{ path: 1, message: 'x' }], [{ path: 'x' }], ['x'], undefined],
  warnings: ['boom', null, [{ message: 'x' }], undefined],
  extra: [null, 'x', [], 5],
};
const STAT_KEYS = ['files', 'dirs', 'symlinks', 'bytes', 'added', 'modified', 'deleted', 'unchanged', 'bytesRead', 'filesRead', 'newObjects', 'newBytes', 'durationMs', 'errors'];

describe('decodeManifest', () => {
  it('round-trips every valid manifest', () => {
    fc.assert(
      fc.property(manifestArb, (m) => {
        expect(decodeManifest(encodeManifest(m), 's')).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a manifest with one field (or one stats field) set to a bad value, naming the snapshot', () => {
    const keys = Object.keys(BAD_MANIFEST_VALUES);
    fc.assert(
      fc.property(manifestArb, fc.nat(), fc.nat(), fc.boolean(), (m, field, value, inStats) => {
        const json = JSON.parse(encodeManifest(m).toString('utf8')) as Record<string, unknown>;
        let what: string;
        if (inStats) {
          const k = STAT_KEYS[field % STAT_KEYS.length]!;
          const bad = [-1, 1.5, '5', null, undefined, 2 ** 53];
          (json.stats as Record<string, unknown>)[k] = bad[value % bad.length];
          what = `stats.${k}`;
        } else {
          const k = keys[field % keys.length]!;
          const bad = BAD_MANIFEST_VALUES[k]!;
          json[k] = bad[value % bad.length];
          if (k === 'source' && json.kind === 'stream') json.source = '/not/a/stream';
          what = k;
        }
        const err = thrown(() => decodeManifest(Buffer.from(JSON.stringify(json)), 'the-snapshot'));
        expect(err, what).toBeInstanceOf(IntegrityError);
        expect((err as IntegrityError).details).toEqual({ snapshot: 'the-snapshot' });
      }),
      { numRuns: 1000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import { decodeManifest, encodeManifest, type Manifest } from '../../../src/model/manifest.js';
import { thrown } from '../../helpers.js';

const ID = 'a'.repeat(64);
const SNAP = 'b'.repeat(64);

/** A manifest as commitSnapshot writes one. */
function goodManifest(over: Partial<Manifest> = {}): Manifest {
  return {
    v: 1,
    kind: 'dir',
    tree: ID as Manifest['tree'],
    source: '/srv/app',
    host: 'vm',
    user: 'root',
    time: '2026-11-22T02:58:02.838Z',
    scanStart: '1763780282838000000',
    parents: [],
    mode: 'full',
    base: null,
    type: 'manual',
    message: '',
    stats: { files: 3, dirs: 3, symlinks: 1, bytes: 5000013, added: 0, modified: 1, deleted: 0, unchanged: 2, bytesRead: 13, filesRead: 1, newObjects: 2, newBytes: 551, durationMs: 49, errors: 0 },
    errors: [{ path: 'secret.txt', message: 'EACCES' }],
    warnings: [],
    ...over,
  };
}

const decode = (m: unknown) => decodeManifest(Buffer.from(JSON.stringify(m)), SNAP);

describe('manifests', () => {
  it('decode what every writer writes: dir, sqlite and stream snapshots, with and without extra', () => {
    const all = [
      goodManifest(),
      goodManifest({ kind: 'dir', mode: 'incremental', parents: [ID as Manifest['tree']], base: ID as Manifest['tree'], extra: { excludeRules: { ignoreFile: null, patterns: ['*.log'] } } }),
      goodManifest({ kind: 'sqlite', source: '/var/db/app.db', extra: { database: '/var/db/app.db', pageSize: 4096, pageCount: 3, journal: 'wal', check: 'integrity_check', chunkSize: 8192, chunks: 2 } }),
      goodManifest({ kind: 'stream', source: 'stream:db.dump', type: 'daily', extra: { stream: 'db.dump', input: 'stdin', chunks: 1 } }),
      goodManifest({ scanStart: '-1' }),
    ];
    for (const m of all) expect(decodeManifest(encodeManifest(m), SNAP)).toEqual(m);
    // A key a later cairn adds is kept, not refused.
    expect(decode({ ...goodManifest(), later: 1 })).toMatchObject({ later: 1 });
  });

  // The audit's crafted manifests: each passed the old decodeManifest and then broke the index catch-up at open
  // (NOT NULL constraint failed, Too few parameter values) or a command (m.errors.map is not a function).
  it('reject every field of the wrong type or out of range, as an integrity error naming the snapshot', () => {
    const g = goodManifest();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ stats: {} }, /bad stats\.files/],
      [{ stats: { ...g.stats, bytes: -1 } }, /bad stats\.bytes/],
      [{ stats: { ...g.stats, durationMs: 1.5 } }, /bad stats\.durationMs/],
      [{ stats: { ...g.stats, newBytes: '5' } }, /bad stats\.newBytes/],
      [{ stats: null }, /no stats/],
      [{ stats: [] }, /no stats/],
      [{ message: { a: 1 } }, /bad message/],
      [{ message: null }, /bad message/],
      [{ host: { x: 1 } }, /bad host/],
      [{ user: null }, /bad user/],
      [{ source: 42 }, /bad source/],
      [{ source: 'relative/dir' }, /bad source "relative\/dir" \(not an absolute path\)/],
      [{ source: '/a\u0000b' }, /bad source/],
      [{ kind: 'stream', source: '/abs' }, /not stream:NAME/],
      [{ kind: 'stream', source: 'stream:' }, /not stream:NAME/],
      [{ kind: 'evil' }, /bad kind "evil"/],
      [{ type: 'evil' }, /bad type "evil"/],
      [{ type: 5 }, /bad type/],
      [{ mode: 'sometimes' }, /bad mode/],
      [{ tree: '../../../etc/passwd' }, /bad root tree id/],
      [{ tree: undefined }, /bad root tree id/],
      [{ parents: ['zz'] }, /bad parents/],
      [{ parents: 'x' }, /bad parents/],
      [{ base: 'zz' }, /bad base/],
      [{ base: undefined }, /bad base/],
      [{ time: 'yesterday' }, /bad time/],
      [{ time: 5 }, /bad time/],
      [{ scanStart: 'abc' }, /bad scanStart "abc"/],
      [{ scanStart: '1.5' }, /bad scanStart/],
      [{ scanStart: 1763780282838000000 }, /bad scanStart/],
      [{ scanStart: '99999999999999999999' }, /bad scanStart/],
      [{ scanStart: undefined }, /bad scanStart/],
      [{ errors: 'boom' }, /bad errors/],
      [{ errors: [{ path: 1, message: 'x' }] }, /bad errors/],
      [{ errors: ['x'] }, /bad errors/],
      [{ warnings: null }, /bad warnings/],
      [{ warnings: [{ path: 'x' }] }, /bad warnings/],
      [{ extra: null }, /bad extra/],
      [{ extra: [] }, /bad extra/],
      [{ extra: 'x' }, /bad extra/],
      [{ v: 2 }, /unsupported manifest version 2/],
    ];
    for (const [over, why] of cases) {
      const err = thrown(() => decode({ ...g, ...over }));
      expect(err, JSON.stringify(over)).toBeInstanceOf(IntegrityError);
      expect((err as Error).message, JSON.stringify(over)).toMatch(why);
      expect((err as Error).message).toMatch(new RegExp(`^snapshot ${SNAP} is malformed: `));
      expect((err as IntegrityError).details).toEqual({ snapshot: SNAP });
    }
    for (const bad of ['[]', '"x"', 'null', '5']) expect(() => decodeManifest(Buffer.from(bad), SNAP)).toThrow(/not an object|unsupported/);
    expect(() => decodeManifest(Buffer.from('{'), SNAP)).toThrow(/not valid JSON/);
  });
});

/**
 * A database restore never trusts what it wrote: a damaged stored page chunk
 * stops it before the current database is touched, and the re-read check
 * (verifyAgainst, ~1 MiB at a time across thousands of small chunks) catches
 * a written file that differs anywhere, is shorter or is longer.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import type { TreeEntry } from '../../../src/model/tree.js';
import { verifyAgainst } from '../../../src/ops/restoreDatabase.js';
import { Repository } from '../../../src/repository.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { makeDatabase } from '../../e2e/databaseFixtures.js';
import { tempDir } from '../../helpers.js';
import { flipByte } from './repoFixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = tempDir('cairn-dbintegrity-');
  dirs.push(d);
  return d;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex') as ObjectId;

describe('verifyAgainst (the re-read check of a restored database)', () => {
  // 3000 small chunks (several 1 MiB reads), one chunk larger than a read, and a few more after it.
  const chunks = [
    ...Array.from({ length: 3000 }, () => randomBytes(700)),
    randomBytes(1536 * 1024),
    ...Array.from({ length: 5 }, () => randomBytes(4096)),
  ];
  const lengths = chunks.map((c) => c.length);
  const entry: TreeEntry = { name: 'app.db', type: 'file', mode: 0o644, mtime: '0', size: lengths.reduce((a, b) => a + b, 0), chunks: chunks.map(sha) };

  const written = (edit?: (b: Buffer) => Buffer): string => {
    const file = path.join(scratch(), 'app.db');
    const whole = Buffer.concat(chunks);
    fs.writeFileSync(file, edit ? edit(whole) : whole);
    return file;
  };
  const offsetOf = (k: number) => lengths.slice(0, k).reduce((a, b) => a + b, 0);

  it('passes the file the chunks make', async () => {
    await expect(verifyAgainst(entry, lengths, written(), 'database')).resolves.toBeUndefined();
  });

  it.each([0, 1499, 2999, 3000, 3005])('names chunk %i when a byte of it differs', async (k) => {
    const file = written((b) => {
      b[offsetOf(k) + (lengths[k]! >> 1)] ^= 0x01;
      return b;
    });
    const err = await verifyAgainst(entry, lengths, file, 'database').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).message).toContain('differs from the snapshot');
    expect((err as IntegrityError).details.object).toBe(entry.chunks![k]);
  });

  it('fails on a file one byte short, or one byte long', async () => {
    await expect(verifyAgainst(entry, lengths, written((b) => b.subarray(0, b.length - 1)), 'database')).rejects.toThrow(/differs/);
    await expect(verifyAgainst(entry, lengths, written((b) => Buffer.concat([b, Buffer.from('x')])), 'database')).rejects.toThrow(/longer/);
  });
});

describe('restoring a database whose stored chunk is damaged', () => {
  it('fails naming the object, and leaves the current database and its directory as they were', async () => {
    const dir = scratch();
    const db = path.join(dir, 'app.db');
    makeDatabase(db, 'wal', 64, 200);
    const repo = await Repository.init({ repo: path.join(dir, 'repo'), approve: () => true });
    try {
      const snap = await repo.snapshotSqlite({ path: db });
      const file = (await repo.entryAt(snap.manifest.tree, 'app.db'))!;
      expect(file.chunks!.length).toBeGreaterThan(20);
      const bad = file.chunks![Math.floor(file.chunks!.length / 2)]!;
      flipByte(repo, bad);
      makeDatabase(db, 'wal', 0, 50); // the current database moves on
      const before = fs.readFileSync(db);
      const listing = fs.readdirSync(dir).sort();
      const err = await repo.restore(snap.id, { restorePoint: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as IntegrityError).message).toContain(bad);
      expect(fs.readFileSync(db).equals(before)).toBe(true);
      expect(fs.readdirSync(dir).sort()).toEqual(listing);
    } finally {
      repo.close();
    }
  });
});

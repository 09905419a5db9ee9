import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CDC, type ChunkerParams } from '../../../src/chunk/chunkerParams.js';
import { pageAlignedChunker, sqlitePageSize, SQLITE_MAGIC } from '../../../src/chunk/databaseChunking.js';
import type { TreeEntry } from '../../../src/model/tree.js';
import { FsObjectStore } from '../../../src/store/fsObjectStore.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { TreeBuilder } from '../../../src/snapshot/treeBuilder.js';
import { tempDir } from '../../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function header(pageSizeField: number): Buffer {
  const h = Buffer.alloc(100);
  SQLITE_MAGIC.copy(h);
  h.writeUInt16BE(pageSizeField, 16);
  return h;
}

describe('recognising a SQLite database', () => {
  it('reads the page size from the header (1 means 65536) and rejects anything else', () => {
    expect(sqlitePageSize(header(4096))).toBe(4096);
    expect(sqlitePageSize(header(512))).toBe(512);
    expect(sqlitePageSize(header(1))).toBe(65536);
    expect(sqlitePageSize(header(3000))).toBeNull(); // not a power of two
    expect(sqlitePageSize(header(256))).toBeNull(); // too small
    expect(sqlitePageSize(header(4096).subarray(0, 99))).toBeNull(); // truncated header
    const other = header(4096);
    other[0] = 0x73; // "sQLite..."
    expect(sqlitePageSize(other)).toBeNull();
    expect(sqlitePageSize(Buffer.alloc(100))).toBeNull();
  });

  it('rounds a fixed database chunk size up to whole pages and leaves other chunkers alone', () => {
    expect(pageAlignedChunker({ kind: 'fixed', size: 16384 }, 4096)).toEqual({ kind: 'fixed', size: 16384 });
    expect(pageAlignedChunker({ kind: 'fixed', size: 10000 }, 4096)).toEqual({ kind: 'fixed', size: 12288 });
    expect(pageAlignedChunker({ kind: 'fixed', size: 8192 }, 65536)).toEqual({ kind: 'fixed', size: 65536 });
    expect(pageAlignedChunker(DEFAULT_CDC, 4096)).toBe(DEFAULT_CDC);
  });
});

describe('a database inside a snapshotted directory', () => {
  const DB_CHUNKER: ChunkerParams = { kind: 'fixed', size: 16384 };

  async function build(source: string, store: FsObjectStore): Promise<Map<string, TreeEntry>> {
    const trees = new Map<ObjectId, readonly TreeEntry[]>();
    const builder = new TreeBuilder({
      store,
      chunker: DEFAULT_CDC,
      dbChunker: DB_CHUNKER,
      excludes: { active: false, excludes: () => false },
      skipPaths: new Set(),
      loadTree: async (id) => trees.get(id) ?? [],
      onTree: (id, entries) => trees.set(id, entries),
      reuse: false,
      baseScanStart: null,
    });
    const root = await builder.build(source, null);
    await store.flush();
    return new Map(trees.get(root)!.map((e) => [e.name, e]));
  }

  it('is stored in page-aligned chunks, so updating a few rows changes only the chunks holding their pages', async () => {
    const dir = tempDir('cairn-dbchunk-');
    dirs.push(dir);
    const source = path.join(dir, 'src');
    fs.mkdirSync(source);
    fs.mkdirSync(path.join(dir, 'tmp'));
    const store = new FsObjectStore(path.join(dir, 'objects'), { tempDir: path.join(dir, 'tmp'), compression: 'snappy' });
    const db = new Database(path.join(source, 'app.db'));
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= 6000; i++) insert.run(i, `row ${i} `.repeat(40));
    })();
    // A non-database file of the same size is chunked content-defined as before.
    fs.writeFileSync(path.join(source, 'other.bin'), Buffer.alloc(fs.statSync(path.join(source, 'app.db')).size, 7));

    const before = await build(source, store);
    const size = before.get('app.db')!.size!;
    expect(size).toBeGreaterThan(1024 * 1024); // past the one-blob limit, so it is chunked
    const chunksBefore = before.get('app.db')!.chunks!;
    expect(chunksBefore).toHaveLength(Math.ceil(size / 16384));
    expect(before.get('other.bin')!.chunks!.length).toBeLessThan(chunksBefore.length / 10);

    db.prepare('UPDATE t SET body = ? WHERE id IN (10, 3000)').run('changed '.repeat(40));
    db.close();
    const after = await build(source, store);
    const chunksAfter = after.get('app.db')!.chunks!;
    const changed = chunksAfter.filter((id, i) => id !== chunksBefore[i]);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(4); // two leaf pages and the header page, at most
    // And the chunks join back to the file.
    const joined = Buffer.concat(await Promise.all(chunksAfter.map((id) => store.get(id))));
    expect(joined.equals(fs.readFileSync(path.join(source, 'app.db')))).toBe(true);
  });
});

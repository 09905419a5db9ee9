/**
 * How much a nightly database snapshot stores after a small change: about 1%
 * of the rows changed, the second snapshot must store a small fraction of the
 * file. Prints the figures it measures.
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cairnOk, parseJson } from '../helpers.js';
import { scratchDir } from './databaseFixtures.js';

interface Snap {
  stats: { bytes: number; newObjects: number; newBytes: number };
  extra: { chunks: number; chunkSize: number };
}

const ROWS = 60_000;

function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
}

function text(rnd: (n: number) => number, n: number): string {
  let s = '';
  while (s.length < n) s += rnd(1 << 30).toString(36);
  return s.slice(0, n);
}

describe.each([
  // Random updates of 1% of the rows dirty 1 - 0.99^32 ≈ 28% of the 8 KiB chunks (32 rows each), plus a few index
  // pages; inserts fill the last pages. Chunks not aligned to pages (1 MiB content-defined ones) would all change.
  // Counted in chunks, not stored bytes, so the bound does not depend on the codec.
  ['1% of rows updated at random', 'update', 0.33],
  ['1% more rows inserted', 'insert', 0.05],
] as const)('a database snapshot after %s', (what, change, limit) => {
  it(`stores new chunks for less than ${limit * 100}% of the file`, () => {
    const dir = scratchDir('cairn-dedup-');
    const repo = path.join(dir, 'repo');
    const file = path.join(dir, 'app.db');
    cairnOk(['init', '--repo', repo]);
    const rnd = rng(42);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT, rev INTEGER)');
    const insert = db.prepare('INSERT INTO notes(title, body, rev) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < ROWS; i++) insert.run(text(rnd, 16), text(rnd, 180 + rnd(80)), 0);
    })();
    const snap = () => parseJson<{ snapshots: Snap[] }>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', file, '--type', 'daily'])).snapshots[0]!;
    const first = snap();

    const k = ROWS / 100;
    db.transaction(() => {
      if (change === 'update') {
        const update = db.prepare('UPDATE notes SET body = ?, rev = rev + 1 WHERE id = ?');
        for (let i = 0; i < k; i++) update.run(text(rnd, 180 + rnd(80)), 1 + rnd(ROWS));
      } else {
        for (let i = 0; i < k; i++) insert.run(text(rnd, 16), text(rnd, 180 + rnd(80)), 0);
      }
    })();
    db.close();
    const second = snap();
    const fraction = second.stats.newObjects / second.extra.chunks;
    console.log(
      `${what}: file ${(second.stats.bytes / 1048576).toFixed(1)} MiB in ${second.extra.chunks} chunks of ${second.extra.chunkSize} B; ` +
        `first snapshot stored ${first.stats.newObjects} objects, ${(first.stats.newBytes / 1048576).toFixed(1)} MiB; ` +
        `second stored ${second.stats.newObjects} objects (${(fraction * 100).toFixed(1)}% of the chunks), ${(second.stats.newBytes / 1024).toFixed(0)} KiB`,
    );
    expect(second.stats.newObjects).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(limit);
  });
});

/**
 * `cairn snapshot --sqlite` end to end: consistent copies while another
 * process writes (WAL and rollback journal), restore of each copy, the
 * errors for files that are not (good) databases, and the temp area.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { cairn, cairnOk, parseJson } from '../helpers.js';
import { catToFile, crashWriter, damageIndex, inspect, type Journal, makeDatabase, type Running, scratchDir, startUser } from './databaseFixtures.js';

interface SnapJson {
  id: string;
  source: string;
  kind: string;
  type: string;
  stats: { bytes: number; newObjects: number; newBytes: number };
  extra: { database: string; pageSize: number; chunkSize: number; chunks: number; journal: string; check: string };
}
interface BatchJson {
  snapshots: SnapJson[];
  failed: Array<{ path: string; error: string; message: string }>;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

function setup(): { dir: string; repo: string; db: string } {
  const dir = scratchDir('cairn-sqlite-');
  const repo = path.join(dir, 'repo');
  cairnOk(['init', '--repo', repo]);
  return { dir, repo, db: path.join(dir, 'app.db') };
}

function tmpLeftovers(repo: string): string[] {
  return fs.readdirSync(path.join(repo, 'tmp')).filter((n) => n.startsWith('sqlite'));
}

describe.each<Journal>(['wal', 'delete'])('cairn snapshot --sqlite while another process writes (journal_mode=%s)', (journal) => {
  it('stores consistent copies that restore and pass integrity_check', async () => {
    const { dir, repo, db } = setup();
    // ~4,500 pages: the backup copies in more than one step, so the writer's commits land between them
    makeDatabase(db, journal, 4_500);
    const writer = await startUser('write', db, journal);
    running.push(writer);
    const snaps: SnapJson[] = [];
    for (let i = 0; i < 2; i++) {
      const r = parseJson<BatchJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', db, '--type', 'daily']));
      expect(r.failed).toEqual([]);
      expect(r.snapshots).toHaveLength(1);
      snaps.push(r.snapshots[0]!);
    }
    await writer.stop();
    expect(tmpLeftovers(repo)).toEqual([]);

    const totals: number[] = [];
    for (const [i, s] of snaps.entries()) {
      expect(s.kind).toBe('sqlite');
      expect(s.type).toBe('daily');
      expect(s.source).toBe(fs.realpathSync(db));
      expect(s.extra.journal).toBe(journal === 'wal' ? 'wal' : 'rollback');
      expect(s.extra.check).toBe('integrity_check');
      expect(s.extra.chunkSize % s.extra.pageSize).toBe(0);
      const target = path.join(dir, `restored-${i}.db`);
      const r = parseJson<{ kind: string; database: { replaced: boolean }; restorePoint: string | null; bytes: number }>(
        cairnOk(['--repo', repo, '--json', 'restore', s.id, '--target', target]),
      );
      expect(r).toMatchObject({ kind: 'new', database: { replaced: false }, restorePoint: null, bytes: s.stats.bytes });
      const c = inspect(target);
      expect(c.integrity).toBe('ok');
      expect(c.count).toBe(c.total);
      expect(c.sum).toBe(c.bytes);
      totals.push(c.total);
    }
    // the writer committed between the snapshots: each copy is a later committed state
    expect(totals[0]).toBeGreaterThan(0);
    expect(totals[1]).toBeGreaterThan(totals[0]!);

    // restore the first copy in place: a restore point keeps the current database first
    const before = inspect(db);
    const r = parseJson<{ kind: string; database: { replaced: boolean }; restorePoint: string }>(cairnOk(['--repo', repo, '--json', '--yes', 'restore', snaps[0]!.id]));
    expect(r).toMatchObject({ kind: 'in-place', database: { replaced: true } });
    for (const s of ['-wal', '-shm', '-journal']) expect(fs.existsSync(db + s)).toBe(false);
    expect(inspect(db)).toMatchObject({ integrity: 'ok', total: totals[0] });
    const kept = path.join(dir, 'restore-point.db');
    cairnOk(['--repo', repo, 'restore', r.restorePoint, '--target', kept]);
    expect(inspect(kept)).toEqual(before);
  }, 300_000);
});

describe('cairn snapshot --sqlite', () => {
  it('snapshots several databases, one snapshot and history each; ls and cat show the file', () => {
    const { dir, repo, db } = setup();
    const other = path.join(dir, 'other.db');
    makeDatabase(db, 'wal', 0, 100);
    makeDatabase(other, 'delete', 0, 50);
    const r = parseJson<BatchJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', db, '--sqlite', other, '--quick-check']));
    expect(r.snapshots.map((s) => path.basename(s.source))).toEqual(['app.db', 'other.db']);
    expect(r.snapshots.every((s) => s.extra.check === 'quick_check')).toBe(true);
    const ls = parseJson<{ entries: Array<{ path: string; size: number }> }>(cairnOk(['--repo', repo, '--json', 'ls', r.snapshots[1]!.id]));
    expect(ls.entries).toEqual([expect.objectContaining({ path: 'other.db', size: r.snapshots[1]!.stats.bytes })]);
    const out = path.join(dir, 'cat.db');
    catToFile(['--repo', repo, 'cat', `${r.snapshots[1]!.id}:other.db`], out);
    expect(inspect(out)).toMatchObject({ integrity: 'ok', total: 50, count: 50 });
    // each database has its own history
    const log = parseJson<Array<{ id: string; parents: string[] }>>(cairnOk(['--repo', repo, '--json', 'log', '--source', other]));
    expect(log.map((l) => l.id)).toEqual([r.snapshots[1]!.id]);
    const again = parseJson<BatchJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', other]));
    expect(again.snapshots[0]!.stats.newObjects).toBe(0);
    expect(parseJson<Array<{ id: string; parents: string[] }>>(cairnOk(['--repo', repo, '--json', 'log', '--source', other]))[0]!.parents).toEqual([r.snapshots[1]!.id]);
  });

  it.each<Journal>(['delete', 'wal'])('stores the last committed state of a database whose writer crashed mid-transaction (%s)', (journal) => {
    const { dir, repo, db } = setup();
    makeDatabase(db, journal, 0, 30);
    crashWriter(db, journal);
    if (journal === 'delete') expect(fs.statSync(`${db}-journal`).size).toBeGreaterThan(0); // a hot journal
    const s = parseJson<BatchJson>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', db])).snapshots[0]!;
    const out = path.join(dir, 'out.db');
    cairnOk(['--repo', repo, 'restore', s.id, '--target', out]);
    expect(inspect(out)).toEqual({ integrity: 'ok', total: 30, count: 30, bytes: 30 * 200, sum: 30 * 200 });
  });

  it('refuses a file that is not a SQLite database, and stores nothing', () => {
    const { dir, repo } = setup();
    const notDb = path.join(dir, 'notes.txt');
    fs.writeFileSync(notDb, 'just some text, long enough to have a header-sized prefix '.repeat(4));
    const r = cairn(['--repo', repo, 'snapshot', '--sqlite', notDb]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a SQLite database');
    const missing = cairn(['--repo', repo, '--json', 'snapshot', '--sqlite', path.join(dir, 'missing.db')]);
    expect(missing.code).toBe(2);
    expect(parseJson<BatchJson>(missing).failed[0]).toMatchObject({ error: 'SOURCE_INVALID' });
    expect(missing.stderr).toContain('does not exist');
    expect(parseJson<unknown[]>(cairnOk(['--repo', repo, '--json', 'log']))).toEqual([]);
    expect(tmpLeftovers(repo)).toEqual([]);
  });

  it('refuses a database that fails integrity_check (exit 4) and stores nothing', () => {
    const { dir, repo, db } = setup();
    const d = new Database(db);
    d.exec('CREATE TABLE t(a TEXT); CREATE INDEX t_a ON t(a);');
    const ins = d.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 50; i++) ins.run(`key-${String(i).padStart(4, '0')}`);
    d.close();
    damageIndex(db, 't_a', 'key-0025', 'key-9925');
    const good = path.join(dir, 'good.db');
    makeDatabase(good, 'delete', 0, 10);
    const r = cairn(['--repo', repo, '--json', 'snapshot', '--sqlite', db, '--sqlite', good]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/failed integrity_check/);
    const out = parseJson<BatchJson>(r);
    expect(out.failed).toEqual([expect.objectContaining({ path: db, error: 'DATABASE' })]);
    // the good database is still stored; the damaged one is not
    expect(out.snapshots.map((s) => path.basename(s.source))).toEqual(['good.db']);
    const log = parseJson<Array<{ source: string }>>(cairnOk(['--repo', repo, '--json', 'log']));
    expect(log.map((l) => path.basename(l.source))).toEqual(['good.db']);
    expect(tmpLeftovers(repo)).toEqual([]);
    void dir;
  });

  it('rejects mixing sources and options that do not apply', () => {
    const { dir, repo, db } = setup();
    makeDatabase(db, 'wal', 0, 1);
    expect(cairn(['--repo', repo, 'snapshot', dir, '--sqlite', db]).code).toBe(2);
    expect(cairn(['--repo', repo, 'snapshot', '--sqlite', db, '--mode', 'incremental']).code).toBe(2);
    expect(cairn(['--repo', repo, 'snapshot', '--sqlite', db, '--type', 'fortnightly']).code).toBe(2);
    expect(cairn(['--repo', repo, 'snapshot', '--quick-check', dir]).code).toBe(2);
  });
});

/**
 * `cairn restore` of database snapshots: approval, the restore point taken
 * first, refusal while another process uses the database, stale sidecars,
 * damaged current databases, and targets that must not be replaced.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cairn, cairnOk, parseJson, ROOT } from '../helpers.js';
import { inspect, makeDatabase, type Running, scratchDir, startUser } from './databaseFixtures.js';

interface Restored {
  snapshot: string;
  target: string;
  kind: string;
  restorePoint: string | null;
  verified: boolean;
  head: boolean;
  counts: { created: number; replaced: number };
  database: { replaced: boolean; removed: string[]; check: string };
}
interface LogRow {
  id: string;
  type: string;
  source: string;
  message: string;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function setup(items = 100, journal: 'wal' | 'delete' = 'wal'): { dir: string; repo: string; db: string; snap: string } {
  const dir = scratchDir('cairn-dbrestore-');
  const repo = path.join(dir, 'repo');
  cairnOk(['init', '--repo', repo]);
  const db = path.join(dir, 'app.db');
  makeDatabase(db, journal, 0, items);
  const snap = parseJson<{ snapshots: Array<{ id: string }> }>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', db])).snapshots[0]!.id;
  return { dir, repo, db, snap };
}

/** Adds `n` committed items as an application would. */
function addItems(db: string, n: number, journal: 'wal' | 'delete' = 'wal'): void {
  makeDatabase(db, journal, 0, n);
}

function log(repo: string): LogRow[] {
  return parseJson<LogRow[]>(cairnOk(['--repo', repo, '--json', 'log']));
}

function strays(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes('cairn-restore'));
}

describe('cairn restore of a database snapshot', () => {
  it('takes a restore point of the current database before replacing it', () => {
    const { dir, repo, db, snap } = setup(100);
    addItems(db, 50);
    expect(inspect(db).total).toBe(150);
    const r = parseJson<Restored>(cairnOk(['--repo', repo, '--json', '--yes', 'restore', snap.slice(0, 8)]));
    expect(r).toMatchObject({ snapshot: snap, target: fs.realpathSync(db), kind: 'in-place', verified: true, head: true, counts: { created: 0, replaced: 1 } });
    expect(r.database).toMatchObject({ replaced: true, check: 'quick_check' });
    expect(inspect(db)).toMatchObject({ integrity: 'ok', total: 100, count: 100 });
    // the restore point is a snapshot of type restore-point holding the 150-item database
    const rows = log(repo);
    const point = rows.find((row) => row.id === r.restorePoint)!;
    expect(point).toMatchObject({ type: 'restore-point', source: fs.realpathSync(db) });
    expect(point.message).toContain(snap.slice(0, 12));
    const kept = path.join(dir, 'kept.db');
    cairnOk(['--repo', repo, 'restore', r.restorePoint!, '--target', kept]);
    expect(inspect(kept)).toMatchObject({ integrity: 'ok', total: 150, count: 150 });
    // the audit trail names both snapshots
    const audit = fs
      .readdirSync(path.join(repo, 'audit'))
      .flatMap((f) => fs.readFileSync(path.join(repo, 'audit', f), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l) as { op: string; outcome: string; snapshots: string[] });
    expect(audit.find((a) => a.op === 'restore' && a.outcome === 'ok' && a.snapshots[0] === snap)!.snapshots).toEqual([snap, r.restorePoint]);
    expect(strays(dir)).toEqual([]);
  });

  it('--dry-run changes nothing; --no-restore-point skips it; the next snapshot descends from the restored one', () => {
    const { repo, db, snap } = setup(100);
    addItems(db, 5);
    const before = sha(db);
    const dry = parseJson<Restored & { dryRun: boolean; changes: Array<{ status: string; path: string }> }>(cairnOk(['--repo', repo, '--json', 'restore', snap, '--dry-run']));
    expect(dry).toMatchObject({ dryRun: true, kind: 'in-place', restorePoint: null, changes: [{ status: 'M', path: 'app.db' }] });
    expect(sha(db)).toBe(before);
    expect(cairn(['--repo', repo, 'restore', snap, '--no-restore-point']).code).toBe(2); // needs --yes
    const r = parseJson<Restored>(cairnOk(['--repo', repo, '--json', '--yes', 'restore', snap, '--no-restore-point']));
    expect(r).toMatchObject({ restorePoint: null, head: true });
    expect(log(repo).filter((row) => row.type === 'restore-point')).toEqual([]);
    expect(inspect(db).total).toBe(100);
    const next = parseJson<{ snapshots: Array<{ parents: string[] }> }>(cairnOk(['--repo', repo, '--json', 'snapshot', '--sqlite', db])).snapshots[0]!;
    expect(next.parents).toEqual([snap]);
  });

  it('asks for approval before replacing a database; refused, nothing changes', () => {
    const { repo, db, snap } = setup(100);
    addItems(db, 5);
    const before = sha(db);
    const r = cairn(['--repo', repo, 'restore', snap]);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('replace the database');
    expect(sha(db)).toBe(before);
    expect(log(repo).filter((row) => row.type === 'restore-point')).toEqual([]);
  });

  it.each([
    ['holds a write lock', 'lock', 'delete'],
    ['holds a write lock (WAL)', 'lock', 'wal'],
    ['has it open', 'open', 'wal'],
  ] as const)('refuses while another process %s', async (_what, mode, journal) => {
    const { dir, repo, db, snap } = setup(100, journal);
    addItems(db, 5, journal);
    const user = await startUser(mode, db, journal);
    running.push(user);
    const before = sha(db);
    const r = cairn(['--repo', repo, '--yes', 'restore', snap]);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain('database is in use by another process');
    expect(sha(db)).toBe(before);
    expect(log(repo).filter((row) => row.type === 'restore-point')).toEqual([]);
    expect(strays(dir)).toEqual([]);
    await user.stop();
    // once the other process is gone, the same restore goes through
    const ok = parseJson<Restored>(cairnOk(['--repo', repo, '--json', '--yes', 'restore', snap]));
    expect(ok.database.replaced).toBe(true);
    expect(inspect(db)).toMatchObject({ integrity: 'ok', total: 100 });
  });

  it('removes a stale -wal that would otherwise be replayed into the restored database', () => {
    const { dir, repo, db, snap } = setup(10);
    // an application commits 500 items into the WAL and dies before a checkpoint
    const crash = spawnSync(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const d = new D(${JSON.stringify(db)}); d.pragma('wal_autocheckpoint = 0');
         const ins = d.prepare('INSERT INTO items(payload) VALUES (?)'); const add = d.prepare('UPDATE meta SET total = total + 1, bytes = bytes + 3');
         d.transaction(() => { for (let i = 0; i < 500; i++) { ins.run('new'); add.run(); } })();
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { cwd: ROOT },
    );
    expect(crash.signal).toBe('SIGKILL');
    expect(fs.statSync(`${db}-wal`).size).toBeGreaterThan(0);
    const staleWal = path.join(dir, 'stale-wal');
    fs.copyFileSync(`${db}-wal`, staleWal);
    // the user deletes the database but not its -wal, then restores
    fs.rmSync(db);
    const r = parseJson<Restored>(cairnOk(['--repo', repo, '--json', 'restore', snap]));
    expect(r.database.replaced).toBe(false);
    expect(r.restorePoint).toBeNull();
    expect(r.database.removed).toContain(`${fs.realpathSync(dir)}/app.db-wal`);
    expect(inspect(db)).toMatchObject({ integrity: 'ok', total: 10, count: 10 });
    // control: the same restored file with the stale WAL beside it does not give the snapshot's state
    const control = path.join(dir, 'control.db');
    cairnOk(['--repo', repo, 'restore', snap, '--target', control]);
    fs.copyFileSync(staleWal, `${control}-wal`);
    let replayed: number | string;
    try {
      replayed = inspect(control).total;
    } catch (err) {
      replayed = (err as Error).message;
    }
    expect(replayed).not.toBe(10);
  });

  it('keeps the raw files of a damaged current database as the restore point', () => {
    const { dir, repo, db, snap } = setup(100, 'delete');
    // page 1 holds the schema b-tree: overwrite it and SQLite cannot read the file any more
    const bytes = fs.readFileSync(db);
    bytes.fill(0xff, 100, 4096);
    fs.writeFileSync(db, bytes);
    const damaged = sha(db);
    const r = cairn(['--repo', repo, '--json', '--yes', 'restore', snap]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('raw files');
    const out = parseJson<Restored>(r);
    expect(inspect(db)).toMatchObject({ integrity: 'ok', total: 100 });
    const kept = path.join(dir, 'kept.db');
    const fd = fs.openSync(kept, 'w');
    spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bin', 'cairn.js'), '--repo', repo, 'cat', `${out.restorePoint}:app.db`], { stdio: ['ignore', fd, 'inherit'] });
    fs.closeSync(fd);
    expect(sha(kept)).toBe(damaged);
    // a raw restore point is not restored as if it were a good database
    const again = cairn(['--repo', repo, '--yes', 'restore', out.restorePoint!]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('does not hold a valid SQLite database');
    expect(inspect(db)).toMatchObject({ integrity: 'ok', total: 100 });
  });

  it('refuses to replace a file that is not a database; a stream snapshot needs --target', () => {
    const { dir, repo, snap } = setup(10);
    const notes = path.join(dir, 'notes.txt');
    fs.writeFileSync(notes, 'my notes, not a database\n'.repeat(10));
    const r = cairn(['--repo', repo, '--yes', 'restore', snap, '--target', notes]);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('is not a SQLite database');
    expect(fs.readFileSync(notes, 'utf8')).toContain('my notes');
    const stream = parseJson<{ id: string }>(cairnOk(['--repo', repo, '--json', 'snapshot', '--stdin', '--name', 'x.dump'], { input: 'dump' })).id;
    const noTarget = cairn(['--repo', repo, '--yes', 'restore', stream]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('--target');
    expect(fs.existsSync(path.join(process.cwd(), 'stream:x.dump'))).toBe(false);
  });
});

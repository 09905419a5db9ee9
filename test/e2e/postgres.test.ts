/**
 * PostgreSQL end to end: a throwaway cluster in a temp dir (initdb, pg_ctl on
 * a unix socket only), filled, backed up with `--from-command "pg_dump -Fc"`,
 * changed, backed up again; each dump restored into a new database with
 * `cairn cat <ref>:db.dump | pg_restore` and its rows checked.
 *
 * Where PostgreSQL is not installed the test is skipped with a loud notice;
 * in CI (CI=true) a missing PostgreSQL fails.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, cairnOk, CLI, parseJson } from '../helpers.js';
import { scratchDir } from './databaseFixtures.js';

/** The directory holding initdb, pg_ctl, pg_dump, pg_restore and psql, or null ($CAIRN_TEST_PG_BIN overrides: a directory, or "none"). */
function findPostgres(): string | null {
  const given = process.env.CAIRN_TEST_PG_BIN;
  if (given) return given === 'none' ? null : given;
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl')));
  } catch {
    /* not Debian's layout */
  }
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0]) return path.join(root, versions[0], 'bin');
  const which = spawnSync('/bin/sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    const dir = path.dirname(fs.realpathSync(which.stdout.trim()));
    if (['initdb', 'pg_dump', 'pg_restore', 'psql'].every((b) => fs.existsSync(path.join(dir, b)))) return dir;
  }
  return null;
}

const BIN = findPostgres();
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

if (!BIN) {
  const banner = '#'.repeat(78);
  const msg = process.env.CI === 'true' ? 'FAILING: PostgreSQL is required in CI' : 'SKIPPED: the PostgreSQL end-to-end test';
  console.warn(`\n${banner}\n# ${msg}: no pg_ctl in /usr/lib/postgresql/*/bin or on PATH.\n# Install PostgreSQL (e.g. apt-get install postgresql) to run it.\n${banner}\n`);
}

function run(cmd: string, args: string[], options: { asServer?: boolean; input?: string } = {}): SpawnSyncReturns<string> {
  // initdb and postgres refuse to run as root: run them as the postgres user
  const [file, argv] = options.asServer && IS_ROOT ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: 'utf8', ...(options.input !== undefined ? { input: options.input } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.error ? String(r.error) : ''}`);
  return r;
}

interface Cluster {
  dir: string;
  psql(db: string, sql: string): string;
  createdb(name: string): void;
  pgDump(db: string): string;
  pgRestore(db: string): string;
  stop(): void;
}

function startCluster(bin: string): Cluster {
  const dir = scratchDir('cairn-pg-');
  const data = path.join(dir, 'data');
  if (IS_ROOT) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) throw new Error('running as root and there is no postgres user to run the server as');
    const uid = Number(id.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    fs.chownSync(dir, uid, gid);
  }
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { asServer: true });
  run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-o', `-k ${dir} -c listen_addresses='' -c fsync=off`, 'start'], { asServer: true });
  const conn = ['-h', dir, '-U', 'postgres'];
  return {
    dir,
    psql: (db, sql) => run(path.join(bin, 'psql'), [...conn, '-d', db, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql]).stdout.trim(),
    createdb: (name) => void run(path.join(bin, 'createdb'), [...conn, name]),
    pgDump: (db) => `${path.join(bin, 'pg_dump')} -Fc -h ${dir} -U postgres ${db}`,
    pgRestore: (db) => `${path.join(bin, 'pg_restore')} -h ${dir} -U postgres -d ${db} --no-owner --exit-on-error`,
    stop: () => {
      spawnSync(IS_ROOT ? 'runuser' : path.join(bin, 'pg_ctl'), IS_ROOT ? ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'] : ['-D', data, '-m', 'immediate', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const FINGERPRINT = "SELECT count(*) || ' ' || coalesce(sum(qty), 0) || ' ' || md5(coalesce(string_agg(id || ':' || name, ',' ORDER BY id), '')) FROM items";

describe.runIf(BIN !== null)('PostgreSQL backups with --from-command "pg_dump -Fc"', () => {
  let pg: Cluster;
  let repo: string;
  beforeAll(() => {
    pg = startCluster(BIN!);
    repo = path.join(scratchDir('cairn-pg-repo-'), 'repo');
    cairnOk(['init', '--repo', repo]);
  });
  afterAll(() => pg?.stop());

  it('backs up, changes, backs up again, and restores each dump into a new database', () => {
    pg.createdb('app');
    pg.psql('app', 'CREATE TABLE items(id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)');
    pg.psql('app', "INSERT INTO items SELECT g, 'item-' || g, g % 97 FROM generate_series(1, 5000) g");
    const first = pg.psql('app', FINGERPRINT);
    expect(first.startsWith('5000 ')).toBe(true);

    const snap = () =>
      parseJson<{ id: string; kind: string; source: string; type: string; parents: string[]; stats: { bytes: number } }>(
        cairnOk(['--repo', repo, '--json', 'snapshot', '--from-command', pg.pgDump('app'), '--name', 'db.dump', '--type', 'daily']),
      );
    const s1 = snap();
    expect(s1).toMatchObject({ kind: 'stream', source: 'stream:db.dump', type: 'daily' });
    expect(s1.stats.bytes).toBeGreaterThan(0);

    pg.psql('app', 'DELETE FROM items WHERE id % 2 = 0');
    pg.psql('app', 'UPDATE items SET qty = qty + 1000 WHERE id < 100');
    pg.psql('app', "INSERT INTO items SELECT g, 'new-' || g, 1 FROM generate_series(6000, 6100) g");
    const second = pg.psql('app', FINGERPRINT);
    expect(second).not.toBe(first);
    const s2 = snap();
    expect(s2.parents).toEqual([s1.id]);

    for (const [s, want, db] of [
      [s1, first, 'restored_first'],
      [s2, second, 'restored_second'],
    ] as const) {
      pg.createdb(db);
      const r = spawnSync('/bin/bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" --repo "${repo}" cat ${s.id}:db.dump | ${pg.pgRestore(db)}`], {
        encoding: 'utf8',
        env: { ...process.env, CAIRN_REPO: '' },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(pg.psql(db, FINGERPRINT)).toBe(want);
    }
  });

  it('makes no snapshot when pg_dump fails, and shows what it said', () => {
    const r = cairn(['--repo', repo, 'snapshot', '--from-command', pg.pgDump('no_such_database'), '--name', 'missing.dump']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no_such_database');
    expect(r.stderr).toContain('no snapshot was made');
    expect(parseJson<unknown[]>(cairnOk(['--repo', repo, '--json', 'log', '--source', 'stream:missing.dump']))).toEqual([]);
  });
});

describe.runIf(BIN === null)('PostgreSQL backups (PostgreSQL not installed)', () => {
  if (process.env.CI === 'true') {
    it('PostgreSQL must be installed in CI', () => {
      throw new Error('PostgreSQL is not installed: .ci/run installs it with apt-get; see its output');
    });
  } else {
    it.skip('SKIPPED: PostgreSQL is not installed here (see the notice above)', () => undefined);
  }
});

/** Helpers for the database tests: build SQLite files, run a concurrent writer or lock holder, check consistency. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { afterAll } from 'vitest';
import { CLI, ROOT, tempDir } from '../helpers.js';

export const WRITER = path.join(ROOT, 'test', 'fixtures', 'sqliteWriter.mjs');

export type Journal = 'wal' | 'delete';

/** A database in the writer's schema, with `fillerPages` pages of compressible filler ahead of the items. */
export function makeDatabase(file: string, journal: Journal, fillerPages = 0, items = 0): void {
  const db = new Database(file);
  db.pragma(`journal_mode = ${journal}`);
  db.exec(`CREATE TABLE IF NOT EXISTS filler(b BLOB);
           CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, payload TEXT NOT NULL);
           CREATE TABLE IF NOT EXISTS meta(k INTEGER PRIMARY KEY CHECK (k = 1), total INTEGER NOT NULL, bytes INTEGER NOT NULL);
           INSERT OR IGNORE INTO meta VALUES (1, 0, 0);`);
  db.transaction(() => {
    const filler = db.prepare('INSERT INTO filler VALUES (?)');
    for (let i = 0; i < fillerPages; i++) filler.run(Buffer.alloc(3900, i % 251));
    const insert = db.prepare('INSERT INTO items(payload) VALUES (?)');
    const add = db.prepare('UPDATE meta SET total = total + 1, bytes = bytes + ? WHERE k = 1');
    for (let i = 0; i < items; i++) {
      const p = `item ${i} `.padEnd(200, '.');
      insert.run(p);
      add.run(p.length);
    }
  })();
  db.close();
}

/** A database of `rows` rows of random text (130k rows: over 16 MiB, in 4 KiB pages), rollback journal. */
export function makeRowDatabase(file: string, rows: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= rows; i++) insert.run(i, `row ${i} ${randomBytes(90).toString('base64')}`);
  })();
  db.close();
}

export interface Consistency {
  integrity: string;
  total: number;
  count: number;
  bytes: number;
  sum: number;
}

/** What a copy of the writer's database says about itself (opened as an application would: read-write). */
export function inspect(file: string): Consistency {
  const db = new Database(file, { fileMustExist: true });
  try {
    const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ');
    const meta = db.prepare('SELECT total, bytes FROM meta').get() as { total: number; bytes: number };
    const agg = db.prepare('SELECT count(*) AS count, coalesce(sum(length(payload)), 0) AS sum FROM items').get() as { count: number; sum: number };
    return { integrity, ...meta, ...agg };
  } finally {
    db.close();
  }
}

export interface Running {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the writer fixture in `mode` and waits until it says "ready". */
export async function startUser(mode: 'write' | 'lock' | 'open', file: string, journal: Journal): Promise<Running> {
  const child = spawn(process.execPath, [WRITER, mode, file, journal], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited ${code} before it was ready: ${stderr}`)));
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

/** Runs the writer fixture's `crash` mode: it dies mid-transaction. */
export function crashWriter(file: string, journal: Journal): void {
  const r = spawnSync(process.execPath, [WRITER, 'crash', file, journal], { cwd: ROOT, encoding: 'utf8' });
  if (r.signal !== 'SIGKILL') throw new Error(`the crash fixture did not crash: ${r.status} ${r.stderr}`);
}

/** `cairn cat SPEC > file`, byte for byte (the cairn() helper decodes stdout as text). */
export function catToFile(args: string[], file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, CAIRN_REPO: '' } });
    if (r.status !== 0) throw new Error(`cairn ${args.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Damages a database so that it still opens but fails integrity_check: one
 * key inside the index `index` (text keys) is rewritten in place, so the index
 * no longer agrees with its table.
 */
export function damageIndex(file: string, index: string, key: string, replacement: string): void {
  const db = new Database(file);
  const { rootpage } = db.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(index) as { rootpage: number };
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const bytes = fs.readFileSync(file);
  const page = bytes.subarray((rootpage - 1) * pageSize, rootpage * pageSize);
  const at = page.indexOf(key);
  if (at < 0 || key.length !== replacement.length) throw new Error(`key ${key} not found in the root page of ${index}`);
  page.write(replacement, at, 'latin1');
  fs.writeFileSync(file, bytes);
}

const scratchDirs: string[] = [];
// registered when a test file imports this module: its scratch dirs go when the file finishes
afterAll(() => scratchDirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A temp dir removed when the test file finishes (database tests write tens of MiB each). */
export function scratchDir(prefix: string): string {
  const d = tempDir(prefix);
  scratchDirs.push(d);
  return d;
}

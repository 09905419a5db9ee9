/** End to end: forget by config policy and by flags, prune, verify, restore every kept snapshot, stats, config. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTag } from '../../src/refs.js';
import { cairn, cairnOk, describeTree, parseJson, tempDir, writeTree, type NodeInfo } from '../helpers.js';

interface Keep {
  id: string;
  reasons: string[];
}
interface ForgetJson {
  dryRun: boolean;
  policy: string;
  keep: Keep[];
  remove: Array<{ id: string }>;
  removed: string[];
  prune?: { deletedObjects: number; deletedBytes: number; reachableObjects: number };
}
interface LogRow {
  id: string;
  time: string;
  type: string;
}

const root = tempDir('cairn-e2e-retention-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const repo = path.join(root, 'repo');
const ws = path.join(root, 'ws');
const R = ['--repo', repo];
/** What the workspace looked like at each snapshot. */
const trees = new Map<string, Record<string, NodeInfo>>();
const byLabel = new Map<string, string>();

function snap(label: string, time: string, type: string): string {
  writeTree(ws, { journal_entries: { [`${label}.json`]: `{"label":"${label}"}\n` }, 'state.txt': `state after ${label}\n` });
  const r = parseJson<{ id: string }>(cairnOk([...R, 'snapshot', ws, '--type', type, '--time', time, '-m', label, '--json']));
  trees.set(r.id, describeTree(ws));
  byLabel.set(label, r.id);
  return r.id;
}

beforeAll(() => {
  writeTree(ws, { 'README.md': '# journal\n', emotional_logs: { 'mood.json': '{"mood":"calm"}' } });
  cairnOk(['init', ...R]);
  // Ten dailies at 02:00, weeklies on the five Sundays before, two manual snapshots and a restore point long ago.
  for (let d = 1; d <= 10; d++) snap(`daily${d}`, `2026-03-${String(d).padStart(2, '0')}T02:00:00Z`, 'daily');
  for (const [i, day] of ['2026-01-25', '2026-02-01', '2026-02-08', '2026-02-15', '2026-02-22', '2026-03-01'].entries()) snap(`weekly${i}`, `${day}T03:00:00Z`, 'weekly');
  snap('manual-old', '2025-06-01T12:00:00Z', 'manual');
  snap('restore-point', '2025-07-01T12:00:00Z', 'restore-point');
  // The newest snapshot taken is the HEAD: take one last daily so HEAD is daily10's successor in time.
  snap('daily11', '2026-03-11T02:00:00Z', 'daily');
});

describe('forget with the config policy', () => {
  it('dry run: keeps daily 7 days, weekly 4 weeks, manual and restore points, tagged and HEAD; says why', () => {
    const dry = parseJson<ForgetJson>(cairnOk([...R, 'forget', '--dry-run', '--json']));
    expect(dry.dryRun).toBe(true);
    expect(dry.policy).toBe('config');
    const kept = new Set(dry.keep.map((k) => k.id));
    const removed = dry.remove.map((r) => r.id);
    const want = ['daily5', 'daily6', 'daily7', 'daily8', 'daily9', 'daily10', 'daily11', 'weekly2', 'weekly3', 'weekly4', 'weekly5', 'manual-old', 'restore-point'];
    expect([...kept].sort()).toEqual(want.map((l) => byLabel.get(l)!).sort());
    expect(removed.sort()).toEqual(['daily1', 'daily2', 'daily3', 'daily4', 'weekly0', 'weekly1'].map((l) => byLabel.get(l)!).sort());
    const reasons = Object.fromEntries(dry.keep.map((k) => [k.id, k.reasons]));
    expect(reasons[byLabel.get('daily11')!]).toEqual(['daily policy: keep-within 7d', 'HEAD of its source']);
    expect(reasons[byLabel.get('manual-old')!]).toEqual(['manual policy: kept until removed by hand']);
    // The text view lists every snapshot with its decision.
    const text = cairnOk([...R, 'forget', '--dry-run']).stdout;
    expect(text.match(/^ {2}(keep|remove) /gm)).toHaveLength(19);
    expect(text).toMatch(/remove\s+\w{8}\s+2026-03-01T02:00:00.000Z\s+daily/);
    expect(text).toMatch(/would keep 13, remove 6; nothing was changed/);
  });

  it('a tag keeps a snapshot the policy would remove', async () => {
    const { Repository } = await import('../../src/repository.js');
    const r = await Repository.open({ repo });
    const tag = { name: 'before-migration', snapshot: byLabel.get('daily2')! as never, time: '2026-03-02T05:00:00Z', message: '' };
    writeTag(r.dir, tag);
    r.index.setTag(tag);
    r.close();
    const dry = parseJson<ForgetJson>(cairnOk([...R, 'forget', '--dry-run', '--json']));
    expect(dry.keep.find((k) => k.id === byLabel.get('daily2'))!.reasons).toEqual(['tagged before-migration']);
    expect(dry.remove).toHaveLength(5);
  });

  it('a real run needs approval: refused without --yes (exit 12), nothing removed', () => {
    const r = cairn([...R, 'forget']);
    expect(r.code).toBe(12);
    expect(r.stderr).toMatch(/forget was not approved: this will forget 5 of 19 snapshots/);
    expect(parseJson<LogRow[]>(cairnOk([...R, 'log', '--json']))).toHaveLength(19);
  });

  it('forget --prune --yes removes them and their data; verify passes; every kept snapshot restores byte for byte', () => {
    const before = parseJson<{ objects: number; unreferencedObjects: number }>(cairnOk([...R, 'stats', '--json']));
    const r = parseJson<ForgetJson>(cairnOk([...R, '--yes', 'forget', '--prune', '--json']));
    expect(r.dryRun).toBe(false);
    expect(r.removed).toHaveLength(5);
    expect(r.prune!.deletedObjects).toBeGreaterThan(0);
    const log = parseJson<LogRow[]>(cairnOk([...R, 'log', '--json']));
    expect(log).toHaveLength(14);
    for (const id of r.removed) expect(log.some((l) => l.id === id)).toBe(false);
    const v = cairnOk([...R, 'verify', '--read-data', '--json']);
    expect(parseJson<{ ok: boolean }>(v).ok).toBe(true);
    for (const row of log) {
      const target = path.join(root, `restore-${row.id.slice(0, 8)}`);
      cairnOk([...R, 'restore', row.id, '--target', target]);
      expect(describeTree(target), row.id).toEqual(trees.get(row.id));
      fs.rmSync(target, { recursive: true }); // inspected and thrown away (see the restore-target test below)
    }
    const after = parseJson<{ objects: number; snapshots: number; unreferencedObjects: number }>(cairnOk([...R, 'stats', '--json']));
    expect(after.snapshots).toBe(14);
    expect(after.objects).toBe(before.objects - r.prune!.deletedObjects);
    expect(after.unreferencedObjects).toBe(0);
    const audit = fs
      .readdirSync(path.join(repo, 'audit'))
      .flatMap((n) => fs.readFileSync(path.join(repo, 'audit', n), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as { op: string; outcome: string; snapshots: string[] });
    const forgets = audit.filter((a) => a.op === 'forget');
    expect(forgets.map((a) => a.outcome)).toEqual(['refused', 'ok']);
    expect(forgets[1]!.snapshots.sort()).toEqual([...r.removed].sort());
  });

  it('forget <ref> removes a manual snapshot by hand; tagged ones need --include-tagged', () => {
    const manual = byLabel.get('manual-old')!;
    const r = parseJson<ForgetJson>(cairnOk([...R, '--yes', 'forget', manual.slice(0, 10), '--json']));
    expect(r.removed).toEqual([manual]);
    const tagged = cairn([...R, '--yes', 'forget', 'before-migration']);
    expect(tagged.code).toBe(12);
    expect(tagged.stderr).toMatch(/tagged before-migration/);
    const forced = parseJson<ForgetJson & { tagsRemoved: string[] }>(cairnOk([...R, '--yes', 'forget', 'before-migration', '--include-tagged', '--json']));
    expect(forced.tagsRemoved).toEqual(['before-migration']);
    expect(cairn([...R, 'forget', 'nope-not-a-ref']).code).toBe(5);
    expect(cairn([...R, 'forget', 'latest', '--keep-last', '2']).code).toBe(2);
  });

  it('flags replace the policy; keep-minimum is a floor', () => {
    const dry = parseJson<ForgetJson>(cairnOk([...R, 'forget', '--keep-last', '1', '--keep-type', 'restore-point', '--dry-run', '--json']));
    expect(dry.policy).toBe('flags');
    // The restore point kept by type counts towards the minimum of 3.
    expect(dry.keep.map((k) => k.reasons)).toEqual([['keep-last 1', 'HEAD of its source'], ['keep-minimum 3'], ['keep-type restore-point']]);
    const none = parseJson<ForgetJson>(cairnOk([...R, 'forget', '--keep-daily', '2', '--keep-minimum', '0', '--dry-run', '--json']));
    expect(none.keep).toHaveLength(2);
    expect(cairn([...R, 'forget', '--keep-daily', 'two', '--dry-run']).code).toBe(2);
    expect(cairn([...R, 'forget', '--keep-within', '7 days', '--dry-run']).code).toBe(2);
    expect(cairn([...R, 'forget', '--source', path.join(root, 'elsewhere'), '--dry-run']).code).toBe(5);
  });

  it('a restore target whose HEAD a snapshot is keeps it while the directory exists', () => {
    const daily9 = byLabel.get('daily9')!;
    const target = path.join(root, 'inspect');
    cairnOk([...R, 'restore', daily9, '--target', target]);
    const flags = [...R, 'forget', '--keep-last', '1', '--keep-minimum', '0', '--dry-run', '--json'];
    const kept = parseJson<ForgetJson>(cairnOk(flags)).keep;
    expect(kept.find((k) => k.id === daily9)!.reasons).toEqual([`HEAD of ${target} (restored there)`]);
    fs.rmSync(target, { recursive: true });
    expect(parseJson<ForgetJson>(cairnOk(flags)).keep.some((k) => k.id === daily9)).toBe(false);
    // Forgetting it drops the HEADs of both directories it was restored into (the one above and the one
    // of the forget --prune test), so no ref is left naming a snapshot that is gone.
    const r = parseJson<ForgetJson & { headsMoved: Array<{ source: string; from: string; to: string | null }> }>(
      cairnOk([...R, '--yes', 'forget', daily9, '--json']),
    );
    expect(r.headsMoved.sort((a, b) => (a.source < b.source ? -1 : 1))).toEqual([
      { source: target, from: daily9, to: null },
      { source: path.join(root, `restore-${daily9.slice(0, 8)}`), from: daily9, to: null },
    ]);
    expect(cairn([...R, 'verify']).code).toBe(0);
  });
});

describe('cairn config', () => {
  it('shows, sets and unsets retention keys', () => {
    const all = parseJson<{ config: { retention: Record<string, unknown> }; entries: Array<{ key: string; value: unknown; settable: boolean }> }>(
      cairnOk([...R, 'config', '--json']),
    );
    expect(all.config.retention).toEqual({
      keepMinimum: 3,
      timeZone: 'UTC',
      daily: { keepWithin: '7d' },
      weekly: { keepWithin: '4w' },
      monthly: { keepWithin: '12m' },
      manual: { keepForever: true },
      'restore-point': { keepForever: true },
    });
    expect(all.entries.find((e) => e.key === 'format')).toEqual({ key: 'format', value: 1, settable: false });
    expect(cairnOk([...R, 'config', 'retention.daily.keepWithin']).stdout.trim()).toBe('7d');
    expect(parseJson(cairnOk([...R, 'config', 'retention.daily.keepDaily', '14', '--json']))).toEqual({ key: 'retention.daily.keepDaily', previous: null, value: 14 });
    expect(parseJson(cairnOk([...R, 'config', 'retention.daily', '--json']))).toEqual({ key: 'retention.daily', value: { keepWithin: '7d', keepDaily: 14 } });
    cairnOk([...R, 'config', 'retention.hourly.keepLast', 'unlimited']);
    cairnOk([...R, 'config', 'retention.timeZone', 'Europe/Berlin']);
    cairnOk([...R, 'config', '--unset', 'retention.daily.keepDaily']);
    cairnOk([...R, 'config', '--unset', 'retention.timeZone']);
    const cfg = JSON.parse(fs.readFileSync(path.join(repo, 'config.json'), 'utf8')) as { retention: Record<string, unknown> };
    expect(cfg.retention.daily).toEqual({ keepWithin: '7d' });
    expect(cfg.retention.hourly).toEqual({ keepLast: -1 });
    expect(cfg.retention.timeZone).toBe('UTC');
    for (const [args, code] of [
      [['retention.daily.keepWithin', 'soon'], 2],
      [['retention.daily.keepLast', '-5'], 2],
      [['retention.fortnightly.keepLast', '2'], 2],
      [['retention.timeZone', 'Mars/Base'], 2],
      [['chunker.avg', '2'], 2],
      [['no.such.key'], 5],
    ] as Array<[string[], number]>) {
      expect(cairn([...R, 'config', ...args]).code, args.join(' ')).toBe(code);
    }
  });
});

describe('cairn verify from the CLI', () => {
  let vrepo: string;
  let ids: string[];
  beforeAll(() => {
    vrepo = path.join(root, 'vrepo');
    const src = path.join(root, 'vsrc');
    writeTree(src, { journal_entries: { 'a.json': '{"a":1}', 'b.json': '{"b":2}' }, 'notes.txt': 'notes' });
    cairnOk(['init', '--repo', vrepo, '--inline-max', '0']); // every file an object: this checks damage to file objects
    ids = [];
    ids.push(parseJson<{ id: string }>(cairnOk(['--repo', vrepo, 'snapshot', src, '--json', '--time', '2026-01-01T00:00:00Z'])).id);
    writeTree(src, { 'notes.txt': 'notes 2' });
    ids.push(parseJson<{ id: string }>(cairnOk(['--repo', vrepo, 'snapshot', src, '--json', '--time', '2026-01-02T00:00:00Z'])).id);
  });

  function chunkPath(id: string): string {
    return path.join(vrepo, 'objects', id.slice(0, 2), id.slice(2, 4), id);
  }

  it('exits 0 on a healthy repository and 4 on a corrupted object, naming snapshots and files', () => {
    expect(cairn(['--repo', vrepo, 'verify']).code).toBe(0);
    const ls = parseJson<{ entries: Array<{ path: string; id: string }> }>(cairnOk(['--repo', vrepo, 'ls', ids[0]!, '-r', '--json']));
    const a = ls.entries.find((e) => e.path === 'journal_entries/a.json')!.id;
    const p = chunkPath(a);
    const good = fs.readFileSync(p);
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 0x01;
    fs.writeFileSync(p, bad);
    const r = cairn(['--repo', vrepo, 'verify', '--read-data', '--json']);
    expect(r.code).toBe(4);
    const report = parseJson<{ ok: boolean; damagedSnapshots: Array<{ id: string; files: Array<{ path: string }> }> }>(r);
    expect(report.ok).toBe(false);
    expect(report.damagedSnapshots.map((s) => [s.id, s.files.map((f) => f.path)])).toEqual(ids.map((id) => [id, ['journal_entries/a.json']]));
    const text = cairn(['--repo', vrepo, 'verify', '--read-data']);
    expect(text.code).toBe(4);
    expect(text.stdout).toMatch(/DAMAGE: 1 object is missing or corrupted/);
    expect(text.stdout).toMatch(/journal_entries\/a\.json {2}\(object \w{12} corrupted\)/);
    fs.rmSync(p);
    const missing = cairn(['--repo', vrepo, 'verify']);
    expect(missing.code).toBe(4);
    expect(missing.stdout).toMatch(/missing/);
    fs.writeFileSync(p, good);
    expect(cairn(['--repo', vrepo, 'verify', '--read-data-subset', '50%']).code).toBe(0);
    expect(cairn(['--repo', vrepo, 'verify', '--read-data-subset', 'half']).code).toBe(2);
  });

  it('exits 4 when an index row disagrees with its manifest; a deleted row is restored on open; rebuild-index repairs', () => {
    const db = new Database(path.join(vrepo, 'index.db'));
    db.prepare('DELETE FROM snapshots WHERE id = ?').run(ids[0]);
    db.prepare('UPDATE snapshots SET tree = ? WHERE id = ?').run('0'.repeat(64), ids[1]);
    db.close();
    const r = cairn(['--repo', vrepo, 'verify', '--json']);
    expect(r.code).toBe(4);
    // Opening the repository re-adds the row whose marker exists (and says so); the altered row stays wrong.
    expect(r.stderr).toMatch(/the index was behind the object store/);
    const problems = parseJson<{ indexProblems: Array<{ problem: string; snapshot?: string }> }>(r).indexProblems;
    expect(problems.map((p) => [p.problem, p.snapshot])).toEqual([['index-mismatch', ids[1]]]);
    expect(cairn(['--repo', vrepo, 'verify']).stdout).toMatch(/index row of snapshot \w{12} disagrees with its manifest \(tree\); run `cairn rebuild-index`/);
    cairnOk(['--repo', vrepo, 'rebuild-index']);
    expect(cairn(['--repo', vrepo, 'verify']).code).toBe(0);
  });
});

describe('cairn stats from the CLI', () => {
  it('shows one snapshot by folder and extension', () => {
    const id = byLabel.get('daily11')!;
    const r = parseJson<{ totals: { files: number }; folders: Array<{ name: string; files: number }>; overParent: { added: number } | null }>(
      cairnOk([...R, 'stats', id.slice(0, 8), '--json']),
    );
    expect(r.folders.find((f) => f.name === 'journal_entries/')!.files).toBe(19);
    expect(r.overParent?.added).toBe(1);
    const text = cairnOk([...R, 'stats', 'latest']).stdout;
    expect(text).toMatch(/journal_entries\/\s+19 files/);
    expect(text).toMatch(/\.json\s+20 files/);
    const repoText = cairnOk([...R, 'stats']).stdout;
    expect(repoText).toMatch(/snapshots: +11 \(/);
    expect(repoText).toMatch(/dedup ratio/);
  });
});

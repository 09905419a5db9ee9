/**
 * The restore journal is read as untrusted input: every field that rollback
 * or resume acts on is checked before anything acts on it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { journalFile, listJournals, newStagingDir, parseJournal, readJournal, writeJournal, type RestoreJournal } from '../../../src/ops/restoreJournal.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { hostilePath, safePath } from '../../property/pathArb.js';
import { tempDir } from '../../helpers.js';

const ID_A = 'a'.repeat(64) as ObjectId;
const ID_B = 'b'.repeat(64) as ObjectId;
const state = { type: 'file', mode: 0o644, mtime: '1700000000000000000' } as const;
const fileEntry = { name: 'app.ts', type: 'file', mode: 0o644, mtime: '1700000000000000000', size: 3, chunks: [ID_B] } as const;

let root: string;
let repoDir: string;
let target: string;

beforeEach(() => {
  root = fs.realpathSync(tempDir('cairn-journal-'));
  repoDir = path.join(root, 'repo');
  target = path.join(root, 'target');
  fs.mkdirSync(path.join(repoDir, 'tmp'), { recursive: true });
  fs.mkdirSync(target);
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function journal(over: Partial<RestoreJournal> = {}): RestoreJournal {
  return {
    v: 1,
    target,
    snapshot: ID_A,
    restorePoint: ID_B,
    staging: newStagingDir(target),
    phase: 'applying',
    setHead: true,
    paths: [],
    verify: false,
    chown: false,
    pid: 4242,
    host: 'web1',
    started: '2026-01-31T02:00:00.000Z',
    actions: [
      { op: 'put', rel: Buffer.from('src/app.ts'), path: 'src/app.ts', entry: { ...fileEntry, chunks: [ID_B] }, old: { ...state } },
      { op: 'put', rel: Buffer.from('src'), path: 'src', entry: { name: 'src', type: 'dir', mode: 0o755, mtime: '0', tree: ID_A }, old: null, shallow: true },
      { op: 'delete', rel: Buffer.from([0x74, 0xff, 0x2f, 0x78]), path: Buffer.from([0x74, 0xff, 0x2f, 0x78]).toString('utf8'), old: { ...state, type: 'symlink' } },
      { op: 'meta', rel: Buffer.from('src'), path: 'src', type: 'dir', from: { ...state, type: 'dir', uid: 0, gid: 0 }, to: { ...state, type: 'dir', tree: ID_A } },
    ],
    ...over,
  };
}

/** The journal as stored, then changed by `edit`, read back through parseJournal. */
async function storedThen(edit: (s: Record<string, unknown> & { actions: Array<Record<string, unknown>> }) => void, j = journal()): Promise<ReturnType<typeof parseJournal>> {
  await writeJournal(repoDir, path.join(repoDir, 'tmp'), j);
  const file = journalFile(repoDir, j.target);
  const s = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(s);
  return parseJournal(JSON.stringify(s), file);
}

function reason(r: ReturnType<typeof parseJournal>): string {
  if (!('damage' in r)) throw new Error('the journal was accepted');
  return r.damage.reason;
}

describe('restore journal validation', () => {
  it('a journal as cairn writes it reads back equal, non-UTF-8 paths included', async () => {
    const j = journal();
    await writeJournal(repoDir, path.join(repoDir, 'tmp'), j);
    expect(readJournal(repoDir, target)).toEqual(j);
    expect(listJournals(repoDir)).toEqual([{ file: journalFile(repoDir, target), journal: j }]);
  });

  it('refuses a staging directory that is not a cairn staging directory directly in the target', async () => {
    for (const staging of ['/tmp/victim', path.join(root, 'victim'), target, `${target}/`, path.join(target, 'sub', '.cairn-restore-deadbeef'), path.join(target, '.cairn-restore-DEADBEEF'),
      path.join(target, '.cairn-restore-dead'), path.join(target, '.cairn-restore-deadbeef', '..', '..', 'victim'), `${target}/.cairn-restore-deadbeef/`, path.join(root, '.cairn-restore-deadbeef'), 42]) {
      expect(reason(await storedThen((s) => (s.staging = staging))), String(staging)).toMatch(/staging directory/);
    }
    expect('journal' in (await storedThen((s) => (s.staging = path.join(target, '.cairn-restore-0123abcd'))))).toBe(true);
  });

  it('refuses a target that is relative, not normalized, or not the one its file name is for', async () => {
    expect(reason(await storedThen((s) => (s.target = 'target')))).toMatch(/target/);
    expect(reason(await storedThen((s) => (s.target = `${target}/../target`)))).toMatch(/target/);
    const other = path.join(root, 'other');
    expect(reason(await storedThen((s) => {
      s.target = other;
      s.staging = path.join(other, '.cairn-restore-0123abcd');
    }))).toMatch(/another file name/);
  });

  it('refuses unsafe action paths, in path or rawPath, and paths inside the staging directory', async () => {
    for (const p of ['../victim2/data', '/etc/passwd', '', '.', 'a/../../x', 'a//b', 'a/./b', 'a/', 'a\0b']) {
      expect(reason(await storedThen((s) => (s.actions[0]!.path = p))), p).toMatch(/unsafe path/);
    }
    expect(reason(await storedThen((s) => (s.actions[0]!.rawPath = Buffer.from('../x').toString('base64'))))).toMatch(/rawPath/);
    expect(reason(await storedThen((s) => {
      s.actions[0]!.rawPath = Buffer.from('../x').toString('base64');
      s.actions[0]!.path = '../x';
    }))).toMatch(/unsafe path/);
    expect(reason(await storedThen((s) => (s.actions[2]!.rawPath = 'not base64!')))).toMatch(/rawPath/);
    const j = journal();
    const inside = `${path.basename(j.staging)}/old/0`;
    expect(reason(await storedThen((s) => (s.actions[0]!.path = inside), j))).toMatch(/staging directory/);
    expect(reason(await storedThen((s) => (s.actions[0]!.path = path.basename(j.staging)), j))).toMatch(/staging directory/);
  });

  it('refuses unknown ops, phases and versions, and fields of the wrong type', async () => {
    const cases: Array<[(s: Record<string, unknown> & { actions: Array<Record<string, unknown>> }) => void, RegExp]> = [
      [(s) => (s.v = 2), /version/],
      [(s) => (s.phase = 'done'), /phase/],
      [(s) => (s.snapshot = 'HEAD'), /snapshot/],
      [(s) => (s.restorePoint = 'x'.repeat(64)), /restore point/],
      [(s) => (s.setHead = 'yes'), /flag/],
      [(s) => (s.paths = ['../x']), /paths/],
      [(s) => (s.pid = 0), /pid/],
      [(s) => (s.pid = -1), /pid/],
      [(s) => ((s as Record<string, unknown>).actions = {}), /actions/],
      [(s) => (s.actions = [null as never]), /action 0/],
      [(s) => (s.actions[0]!.op = 'rmrf'), /unknown op/],
      [(s) => (s.actions[0]!.old = { ...state, mode: 'rwx' }), /mode/],
      [(s) => (s.actions[0]!.old = { ...state, mtime: 'yesterday' }), /mtime/],
      [(s) => (s.actions[0]!.old = { ...state, type: 'fifo' }), /type/],
      [(s) => (s.actions[0]!.entry = { ...fileEntry, name: '..' }), /entry/],
      [(s) => (s.actions[0]!.entry = { ...fileEntry, chunks: ['nope'] }), /entry/],
      [(s) => (s.actions[0]!.entry = { ...fileEntry, mtime: 'x' }), /entry/],
      [(s) => (s.actions[0]!.entry = undefined), /entry/],
      [(s) => (s.actions[0]!.shallow = true), /shallow/],
      [(s) => delete s.actions[2]!.old, /action 2/],
      [(s) => (s.actions[3]!.type = 'socket'), /type/],
      [(s) => (s.actions[3]!.to = null), /action 3/],
      [(s) => (s.actions[3]!.from = { ...state, uid: -1 }), /uid/],
    ];
    for (const [edit, why] of cases) expect(reason(await storedThen(edit)), edit.toString()).toMatch(why);
    // Every phase cairn writes is accepted, rolled-back (a rollback whose cleanup is left) included.
    for (const phase of ['staging', 'applying', 'applied', 'rolled-back']) {
      expect(await storedThen((s) => (s.phase = phase))).toMatchObject({ journal: { phase } });
    }
  });

  it('property: random hostile action paths are refused, random safe ones accepted with their exact bytes', async () => {
    const file = journalFile(repoDir, target);
    const base = journal();
    const stored = (rel: Buffer) => {
      const text = rel.toString('utf8');
      const raw = Buffer.from(text, 'utf8').equals(rel) ? {} : { rawPath: rel.toString('base64') };
      return JSON.stringify({ ...base, actions: [{ op: 'delete', path: text, ...raw, old: state }] });
    };
    fc.assert(
      fc.property(safePath, (rel) => {
        const r = parseJournal(stored(rel), file);
        if (rel.subarray(0, 15).equals(Buffer.from('.cairn-restore-'))) return true; // might name the staging directory
        return 'journal' in r && r.journal.actions[0]!.rel.equals(rel);
      }),
    );
    fc.assert(fc.property(hostilePath, (rel) => 'damage' in parseJournal(stored(rel), file)));
  });

  it('damaged or unreadable journals are reported, never taken for "no journal"', async () => {
    const file = journalFile(repoDir, target);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{garbage');
    expect(() => readJournal(repoDir, target)).toThrow(expect.objectContaining({ code: 'INTEGRITY', message: expect.stringContaining(file) }));
    expect(listJournals(repoDir)).toEqual([{ file, damage: expect.objectContaining({ kind: 'damaged', reason: expect.stringMatching(/not valid JSON/) }) }]);
    fs.rmSync(file);
    fs.mkdirSync(file); // EISDIR: cannot be read at all
    expect(() => readJournal(repoDir, target)).toThrow(expect.objectContaining({ code: 'IO', message: expect.stringMatching(/unreadable/) }));
    expect(listJournals(repoDir)[0]!.damage).toMatchObject({ kind: 'unreadable' });
  });

  it('the error for a damaged journal names the file and, when known, the target, its staging directories and restore point', async () => {
    await writeJournal(repoDir, path.join(repoDir, 'tmp'), { ...journal(), phase: 'bogus' as never });
    const staging = newStagingDir(target);
    fs.mkdirSync(staging);
    let err: { message: string; hint?: string } | undefined;
    try {
      readJournal(repoDir, target, 'cannot restore into x');
    } catch (e) {
      err = e as { message: string; hint?: string };
    }
    expect(err!.message).toMatch(/^cannot restore into x: the restore journal .* is damaged \(unknown phase\)/);
    expect(err!.message).toContain(journalFile(repoDir, target));
    expect(err!.hint).toContain(staging);
    expect(err!.hint).toContain(ID_B.slice(0, 12));
    expect(err!.hint).toMatch(/once .* is known good, delete .*\.json$/);
  });
});

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectSet } from '../../../src/index/objectSet.js';
import { tempDir } from '../../helpers.js';

const id = (n: number) => createHash('sha256').update(String(n)).digest('hex');

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
/** A temp dir removed after the test (each ObjectSet is disposed first, in the test's finally). */
function scratch(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

describe('ObjectSet', () => {
  it('behaves as a set of ids', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 400 }), fc.array(fc.integer({ min: 0, max: 300 })), (adds, probes) => {
        const dir = scratch();
        const s = ObjectSet.create(dir);
        const model = new Set<string>();
        try {
          for (const n of adds) expect(s.add(id(n))).toBe(!model.has(id(n)) && (model.add(id(n)), true));
          for (const n of probes) expect(s.has(id(n))).toBe(model.has(id(n)));
          expect(s.size).toBe(model.size);
        } finally {
          s.dispose();
        }
        expect(fs.readdirSync(dir)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('holds more ids than a batch and sees them across commits', () => {
    const s = ObjectSet.create(scratch());
    try {
      for (let i = 0; i < 50_000; i++) s.add(id(i));
      expect(s.size).toBe(50_000);
      expect(s.has(id(0)) && s.has(id(25_000)) && s.has(id(49_999))).toBe(true);
      expect(s.has(id(50_000))).toBe(false);
    } finally {
      s.dispose();
    }
  });

  it('streams its ids and values in id order, in batches', () => {
    const s = ObjectSet.create(scratch());
    try {
      const want = new Map<string, number>();
      for (let i = 0; i < 2500; i++) {
        s.add(id(i), i);
        want.set(id(i), i);
      }
      s.add(id(7), 999); // already there: the first value stays
      const batches = [...s.entries(1000)];
      expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
      const got = batches.flat();
      expect(got.map((e) => e.id)).toEqual([...want.keys()].sort());
      for (const e of got) expect(e.value).toBe(want.get(e.id));
    } finally {
      s.dispose();
    }
  });

  /** The set's SQLite connection, to put it in the states a full disk leaves it in. */
  const dbOf = (s: ObjectSet) => (s as unknown as { db: import('better-sqlite3').Database }).db;

  it('on a full disk, fails naming its file as no space left, and dispose() keeps that error instead of failing to commit', () => {
    const dir = scratch();
    const s = ObjectSet.create(dir);
    try {
      dbOf(s).pragma('max_page_count = 8'); // the file cannot grow: SQLITE_FULL, as on a full disk
      let err: unknown;
      try {
        for (let i = 0; i < 5000; i++) s.add(id(i));
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'IO', message: expect.stringMatching(/^no space left on device: cannot write the scratch database .*objset-.*: database or disk is full$/) });
      expect((err as { hint: string }).hint).toMatch(/free some space/);
    } finally {
      s.dispose(); // used to throw "cannot commit - no transaction is active", hiding the error above
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('goes on after SQLite rolled its transaction back by itself (as after a failed write)', () => {
    const s = ObjectSet.create(scratch());
    try {
      s.add(id(1));
      dbOf(s).exec('ROLLBACK');
      expect(s.add(id(2))).toBe(true);
      expect([...s.entries()].flat().map((e) => e.id)).toEqual([id(2)]);
    } finally {
      s.dispose();
    }
  });
});

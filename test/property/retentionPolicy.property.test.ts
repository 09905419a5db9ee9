import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyRetention, type RetentionCandidate, type RetentionPolicy, type RetentionRules } from '../../src/ops/retentionPolicy.js';

const T0 = Date.UTC(2024, 0, 1);
const YEAR = 366 * 86_400_000;
const SOURCES = ['/a', '/b', '/c'];
const TYPES = ['manual', 'hourly', 'daily', 'weekly', 'monthly', 'restore-point'];

/** Snapshots with unique ids over two years; times may collide (same second), as imports can. */
const arbSnapshots = fc
  .array(
    fc.record({
      offset: fc.oneof(fc.integer({ min: 0, max: 2 * YEAR }), fc.constantFrom(0, 3_600_000, 86_400_000)),
      source: fc.constantFrom(...SOURCES),
      type: fc.constantFrom(...TYPES),
      tagged: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
      tag: fc.constantFrom('v1', 'release', 'keep'),
    }),
    { maxLength: 60 },
  )
  .map((rows) => {
    const heads = new Set<string>();
    const snaps: RetentionCandidate[] = rows.map((r, i) => ({
      id: `id${String(i).padStart(3, '0')}`,
      time: new Date(T0 + r.offset).toISOString(),
      type: r.type,
      source: r.source,
      tags: r.tagged ? [r.tag] : [],
      isHead: false,
    }));
    // A few pinned by an interrupted restore.
    for (const s of snaps) if (Number(s.id.slice(2)) % 11 === 5) s.pins = ['needed by the interrupted restore into /t'];
    // One HEAD per source, anywhere in its history (a restore can move it back).
    for (const s of snaps) if (!heads.has(s.source) && Number(s.id.slice(2)) % 3 === 0) (heads.add(s.source), (s.isHead = true));
    return snaps;
  });

const count = fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 12 }));
const arbRules: fc.Arbitrary<RetentionRules> = fc.record(
  {
    keepLast: count,
    keepHourly: count,
    keepDaily: count,
    keepWeekly: count,
    keepMonthly: count,
    keepYearly: count,
    keepWithin: fc.oneof(fc.constant(undefined), fc.constantFrom('12h', '7d', '4w', '6m', '1y2m')),
  },
  { requiredKeys: [] },
);
const arbPolicy: fc.Arbitrary<RetentionPolicy> = fc.record({
  rules: fc.oneof(fc.constant(undefined), arbRules),
  byType: fc.dictionary(fc.constantFrom(...TYPES), fc.oneof(arbRules, fc.constant({ keepForever: true })), { maxKeys: 4 }),
  keepTypes: fc.subarray(TYPES, { maxLength: 2 }),
  includeTagged: fc.boolean(),
  keepMinimum: fc.integer({ min: 0, max: 5 }),
  timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
});

const keptIds = (snaps: RetentionCandidate[], p: RetentionPolicy) => applyRetention(snaps, p).keep.map((k) => k.id);
const newestFirst = (a: RetentionCandidate, b: RetentionCandidate) => Date.parse(b.time) - Date.parse(a.time) || (a.id < b.id ? 1 : -1);

describe('retention properties', () => {
  it('keep-last N keeps exactly the newest N of each source (no tags, no HEAD, no minimum)', () => {
    fc.assert(
      fc.property(arbSnapshots, fc.integer({ min: 0, max: 20 }), (snaps, n) => {
        const plain = snaps.map((s) => ({ ...s, tags: [], isHead: false, pins: [] }));
        const got = new Set(keptIds(plain, { rules: { keepLast: n }, keepMinimum: 0 }));
        const want = new Set<string>();
        for (const src of SOURCES) for (const s of plain.filter((x) => x.source === src).sort(newestFirst).slice(0, n)) want.add(s.id);
        expect(got).toEqual(want);
      }),
    );
  });

  it('never removes a tagged snapshot (unless includeTagged), a HEAD or a pinned one', () => {
    fc.assert(
      fc.property(arbSnapshots, arbPolicy, (snaps, policy) => {
        const removed = new Set(applyRetention(snaps, policy).remove.map((r) => r.id));
        for (const s of snaps) {
          if (s.isHead || (s.pins?.length ?? 0) > 0) expect(removed.has(s.id)).toBe(false);
          if (s.tags.length > 0 && !policy.includeTagged) expect(removed.has(s.id)).toBe(false);
        }
      }),
    );
  });

  it('the kept set does not depend on the input order', () => {
    fc.assert(
      fc.property(arbSnapshots, arbPolicy, fc.infiniteStream(fc.nat()), (snaps, policy, rand) => {
        const shuffled = [...snaps];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rand.next().value % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        expect(applyRetention(shuffled, policy)).toEqual(applyRetention(snaps, policy));
      }),
    );
  });

  it('keeps at least keepMinimum snapshots per source (or all it has)', () => {
    fc.assert(
      fc.property(arbSnapshots, arbPolicy, (snaps, policy) => {
        const kept = new Set(keptIds(snaps, policy));
        for (const src of SOURCES) {
          const all = snaps.filter((s) => s.source === src);
          expect(all.filter((s) => kept.has(s.id)).length).toBeGreaterThanOrEqual(Math.min(policy.keepMinimum ?? 3, all.length));
        }
      }),
    );
  });

  it('partitions the input: every snapshot is kept (with a reason) or removed, never both', () => {
    fc.assert(
      fc.property(arbSnapshots, arbPolicy, (snaps, policy) => {
        const d = applyRetention(snaps, policy);
        const ids = [...d.keep.map((k) => k.id), ...d.remove.map((r) => r.id)].sort();
        expect(ids).toEqual(snaps.map((s) => s.id).sort());
        for (const k of d.keep) expect(k.reasons.length).toBeGreaterThan(0);
      }),
    );
  });

  it('larger counts never keep less (monotonic)', () => {
    fc.assert(
      fc.property(arbSnapshots, arbRules, fc.integer({ min: 0, max: 5 }), (snaps, rules, extra) => {
        const more: RetentionRules = { ...rules };
        for (const k of ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const) {
          const v = rules[k];
          if (v !== undefined && v >= 0) more[k] = v + extra;
        }
        const a = new Set(keptIds(snaps, { rules, keepMinimum: 0 }));
        const b = new Set(keptIds(snaps, { rules: more, keepMinimum: 0 }));
        for (const id of a) expect(b.has(id)).toBe(true);
      }),
    );
  });

  it('keep-daily N keeps at most N per source, each the newest of its own UTC day', () => {
    fc.assert(
      fc.property(arbSnapshots, fc.integer({ min: 1, max: 15 }), (snaps, n) => {
        const plain = snaps.map((s) => ({ ...s, tags: [], isHead: false, pins: [] }));
        const kept = new Set(keptIds(plain, { rules: { keepDaily: n }, keepMinimum: 0 }));
        for (const src of SOURCES) {
          const mine = plain.filter((s) => s.source === src).sort(newestFirst);
          const keptHere = mine.filter((s) => kept.has(s.id));
          expect(keptHere.length).toBeLessThanOrEqual(n);
          const days = keptHere.map((s) => s.time.slice(0, 10));
          expect(new Set(days).size).toBe(days.length);
          for (const k of keptHere) expect(mine.find((s) => s.time.slice(0, 10) === k.time.slice(0, 10))!.id).toBe(k.id);
        }
      }),
    );
  });
});

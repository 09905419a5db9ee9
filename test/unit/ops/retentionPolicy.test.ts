import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyRetention, isoWeek, parseDuration, subtractDuration, type RetentionCandidate, type RetentionPolicy } from '../../../src/ops/retentionPolicy.js';
import { UsageError } from '../../../src/errors.js';

function snap(id: string, time: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { id, time, type: 'daily', source: '/src', tags: [], isHead: false, ...extra };
}

/** Daily snapshots at 02:00 UTC, 2026-01-01 .. 2026-01-10, ids d01..d10. */
const tenDays = Array.from({ length: 10 }, (_, i) => snap(`d${String(i + 1).padStart(2, '0')}`, `2026-01-${String(i + 1).padStart(2, '0')}T02:00:00Z`));

const kept = (snaps: RetentionCandidate[], policy: RetentionPolicy) => applyRetention(snaps, policy).keep.map((k) => k.id);

describe('applyRetention: count rules (restic forget semantics)', () => {
  it('keep-last N keeps the N newest', () => {
    expect(kept(tenDays, { rules: { keepLast: 3 }, keepMinimum: 0 })).toEqual(['d10', 'd09', 'd08']);
  });

  it('keep-daily N keeps the newest of each of the N newest days that have one', () => {
    const snaps = [...tenDays, snap('d10-late', '2026-01-10T20:00:00Z'), snap('d09-early', '2026-01-09T00:00:01Z')];
    expect(kept(snaps, { rules: { keepDaily: 3 }, keepMinimum: 0 })).toEqual(['d10-late', 'd09', 'd08']);
  });

  it('keep-weekly uses ISO weeks (Monday to Sunday)', () => {
    // 2026-01-01 is a Thursday: W01 runs to Sunday 2026-01-04, W02 from Monday 2026-01-05.
    expect(kept(tenDays, { rules: { keepWeekly: 2 }, keepMinimum: 0 })).toEqual(['d10', 'd04']);
    expect(isoWeek(2026, 1, 1)).toEqual({ year: 2026, week: 1 });
    expect(isoWeek(2025, 12, 29)).toEqual({ year: 2026, week: 1 });
    expect(isoWeek(2027, 1, 1)).toEqual({ year: 2026, week: 53 });
  });

  it('keep-monthly and keep-yearly keep the newest of each month and year', () => {
    const snaps = [snap('a', '2024-12-31T23:00:00Z'), snap('b', '2025-01-31T10:00:00Z'), snap('c', '2025-01-02T10:00:00Z'), snap('d', '2025-02-01T00:00:00Z')];
    expect(kept(snaps, { rules: { keepMonthly: 2 }, keepMinimum: 0 })).toEqual(['d', 'b']);
    expect(kept(snaps, { rules: { keepYearly: 5 }, keepMinimum: 0 })).toEqual(['d', 'a']);
  });

  it('-1 means unlimited', () => {
    expect(kept(tenDays, { rules: { keepDaily: -1 }, keepMinimum: 0 })).toHaveLength(10);
  });

  it('rules combine: a snapshot is kept when any rule keeps it, with every reason', () => {
    const d = applyRetention(tenDays, { rules: { keepLast: 1, keepWeekly: 2 }, keepMinimum: 0 });
    expect(d.keep).toEqual([
      { id: 'd10', reasons: ['keep-last 1', 'keep-weekly 2 (2026-W02)'] },
      { id: 'd04', reasons: ['keep-weekly 2 (2026-W01)'] },
    ]);
    expect(d.remove.map((r) => r.id)).toEqual(['d09', 'd08', 'd07', 'd06', 'd05', 'd03', 'd02', 'd01']);
  });

  it('days begin in the policy time zone (UTC by default)', () => {
    const snaps = [snap('a', '2026-03-01T01:00:00Z'), snap('b', '2026-03-01T23:30:00Z'), snap('c', '2026-03-02T00:30:00Z')];
    expect(kept(snaps, { rules: { keepDaily: 2 }, keepMinimum: 0 })).toEqual(['c', 'b']);
    // Berlin is UTC+1 in March: b (00:30 on the 2nd) and c (01:30 on the 2nd) share a day.
    expect(kept(snaps, { rules: { keepDaily: 2 }, keepMinimum: 0, timeZone: 'Europe/Berlin' })).toEqual(['c', 'a']);
    expect(() => applyRetention(snaps, { timeZone: 'Mars/Olympus' })).toThrow(UsageError);
  });
});

describe('applyRetention: keep-within', () => {
  it('counts back from the newest snapshot, not from now, and excludes the boundary', () => {
    // newest 2026-01-10T02:00; 7d back is 2026-01-03T02:00, which is not kept (as restic).
    expect(kept(tenDays, { rules: { keepWithin: '7d' }, keepMinimum: 0 })).toEqual(['d10', 'd09', 'd08', 'd07', 'd06', 'd05', 'd04']);
    expect(kept(tenDays, { rules: { keepWithin: '1w' }, keepMinimum: 0 })).toHaveLength(7);
    expect(kept(tenDays, { rules: { keepWithin: '36h' }, keepMinimum: 0 })).toEqual(['d10', 'd09']);
  });

  it('months are calendar months', () => {
    const monthly = Array.from({ length: 13 }, (_, i) => snap(`m${i}`, new Date(Date.UTC(2025, i, 15)).toISOString(), { type: 'monthly' }));
    // 2026-01-15 minus 12m is 2025-01-15: that one goes, twelve stay.
    expect(kept(monthly, { rules: { keepWithin: '12m' }, keepMinimum: 0 })).toHaveLength(12);
    expect(kept(monthly, { rules: { keepWithin: '1y' }, keepMinimum: 0 })).toHaveLength(12);
  });

  it('parses durations and rejects nonsense', () => {
    expect(parseDuration('1y2m3w4d5h')).toEqual({ years: 1, months: 2, days: 25, hours: 5 });
    expect(parseDuration(' 7d ')).toEqual({ years: 0, months: 0, days: 7, hours: 0 });
    for (const bad of ['', '7', 'd', '7x', '-1d', '1.5d', '7 d', '7dd']) {
      expect(() => parseDuration(bad), bad).toThrow(UsageError);
    }
    expect(new Date(subtractDuration(Date.parse('2026-03-31T00:00:00Z'), parseDuration('1m'))).toISOString()).toBe('2026-03-03T00:00:00.000Z');
  });
});

describe('applyRetention: floors', () => {
  it('always keeps tagged snapshots unless includeTagged, and always the HEAD', () => {
    const snaps = tenDays.map((s) => (s.id === 'd02' ? { ...s, tags: ['v1.0'] } : s.id === 'd01' ? { ...s, isHead: true } : s));
    const d = applyRetention(snaps, { rules: { keepLast: 1 }, keepMinimum: 0 });
    expect(d.keep).toEqual([
      { id: 'd10', reasons: ['keep-last 1'] },
      { id: 'd02', reasons: ['tagged v1.0'] },
      { id: 'd01', reasons: ['HEAD of its source'] },
    ]);
    expect(kept(snaps, { rules: { keepLast: 1 }, keepMinimum: 0, includeTagged: true })).toEqual(['d10', 'd01']);
  });

  it('never keeps fewer than keepMinimum per source (the newest ones)', () => {
    const d = applyRetention(tenDays, { rules: { keepLast: 1 } });
    expect(d.keep).toEqual([
      { id: 'd10', reasons: ['keep-last 1'] },
      { id: 'd09', reasons: ['keep-minimum 3'] },
      { id: 'd08', reasons: ['keep-minimum 3'] },
    ]);
    expect(kept(tenDays.slice(0, 2), { rules: {}, keepMinimum: 5 })).toEqual(['d02', 'd01']);
  });

  it('applies rules per source', () => {
    const snaps = [...tenDays, ...tenDays.map((s) => ({ ...s, id: `x-${s.id}`, source: '/other' }))];
    expect(kept(snaps, { rules: { keepLast: 1 }, keepMinimum: 0 })).toEqual(['x-d10', 'd10']);
  });

  it('keep-type keeps every snapshot of a type', () => {
    const snaps = [...tenDays, snap('m1', '2025-06-01T00:00:00Z', { type: 'manual' })];
    const d = applyRetention(snaps, { rules: { keepLast: 1 }, keepTypes: ['manual'], keepMinimum: 0 });
    expect(d.keep).toEqual([
      { id: 'd10', reasons: ['keep-last 1'] },
      { id: 'm1', reasons: ['keep-type manual'] },
    ]);
  });
});

describe('applyRetention: per-type policy (the config)', () => {
  const byType = {
    daily: { keepWithin: '7d' },
    weekly: { keepWithin: '4w' },
    monthly: { keepWithin: '12m' },
    manual: { keepForever: true },
    'restore-point': { keepForever: true },
  };

  it('keeps daily 7 days, weekly 4 weeks, manual and restore points forever, unknown types', () => {
    const weeks = Array.from({ length: 6 }, (_, i) => snap(`w${i}`, new Date(Date.UTC(2026, 0, 4 + 7 * i, 3)).toISOString(), { type: 'weekly' }));
    const snaps = [
      ...tenDays,
      ...weeks,
      snap('man', '2020-01-01T00:00:00Z', { type: 'manual' }),
      snap('rp', '2021-01-01T00:00:00Z', { type: 'restore-point' }),
      snap('hr', '2021-01-01T00:00:00Z', { type: 'hourly' }),
    ];
    const d = applyRetention(snaps, { byType, keepMinimum: 0 });
    const reasons = Object.fromEntries(d.keep.map((k) => [k.id, k.reasons]));
    expect(d.remove.map((r) => r.id).sort()).toEqual(['d01', 'd02', 'd03', 'w0', 'w1'].sort());
    expect(reasons.d04).toEqual(['daily policy: keep-within 7d']);
    // weekly: newest 2026-02-08; 4w back is 2026-01-11 (w1), not kept.
    expect(reasons.w2).toEqual(['weekly policy: keep-within 4w']);
    expect(reasons.man).toEqual(['manual policy: kept until removed by hand']);
    expect(reasons.rp).toEqual(['restore-point policy: kept until removed by hand']);
    expect(reasons.hr).toEqual(['hourly: no retention policy for this type, kept']);
  });

  it('explicit rules replace the per-type policy', () => {
    expect(kept(tenDays, { byType, rules: { keepLast: 2 }, keepMinimum: 0 })).toEqual(['d10', 'd09']);
  });
});

describe('applyRetention: golden cases', () => {
  // A year and a half of mixed snapshots; each policy's decision is pinned in test/fixtures/retention/golden.json.
  // Regenerate with UPDATE_GOLDEN=1 after a deliberate change, and review the diff.
  const snaps: RetentionCandidate[] = [];
  let n = 0;
  for (let t = Date.UTC(2025, 0, 1, 2); t < Date.UTC(2026, 6, 1); t += 86_400_000) {
    const d = new Date(t);
    const type = d.getUTCDate() === 1 ? 'monthly' : d.getUTCDay() === 0 ? 'weekly' : 'daily';
    snaps.push(snap(`s${String(n++).padStart(4, '0')}`, d.toISOString(), { type }));
    if (d.getUTCDate() === 15) snaps.push(snap(`s${String(n++).padStart(4, '0')}`, new Date(t + 9 * 3_600_000).toISOString(), { type: 'manual' }));
  }
  snaps[snaps.length - 1]!.isHead = true;
  snaps[40]!.tags = ['before-migration'];
  const policies: Record<string, RetentionPolicy> = {
    'keep-last-5': { rules: { keepLast: 5 } },
    'daily-7-weekly-4-monthly-12-yearly-3': { rules: { keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 3 } },
    'hourly-24': { rules: { keepHourly: 24 } },
    'within-2m': { rules: { keepWithin: '2m' } },
    'within-1y-include-tagged': { rules: { keepWithin: '1y' }, includeTagged: true },
    'keep-type-manual-last-2': { rules: { keepLast: 2 }, keepTypes: ['manual'] },
    'config-defaults': {
      byType: { daily: { keepWithin: '7d' }, weekly: { keepWithin: '4w' }, monthly: { keepWithin: '12m' }, manual: { keepForever: true }, 'restore-point': { keepForever: true } },
    },
    'daily-10-los-angeles': { rules: { keepDaily: 10 }, timeZone: 'America/Los_Angeles' },
  };
  const file = path.join(import.meta.dirname, '../../fixtures/retention/golden.json');
  // Only the kept side is pinned (with reasons); everything else is removed.
  const actual = Object.fromEntries(
    Object.entries(policies).map(([name, p]) => {
      const d = applyRetention(snaps, p);
      return [name, { keep: d.keep, removed: d.remove.length }];
    }),
  );
  if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, `${JSON.stringify(actual, null, 1)}\n`);
  const golden = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof actual;
  for (const name of Object.keys(policies)) {
    it(name, () => {
      expect(actual[name]).toEqual(golden[name]);
    });
  }

  it('the golden decisions hold their invariants', () => {
    expect(golden['keep-last-5']!.keep.map((k) => k.id)).toEqual([...snaps.slice(-5).map((s) => s.id).reverse(), 's0040']);
    const cfg = golden['config-defaults']!;
    const manual = snaps.filter((s) => s.type === 'manual').map((s) => s.id);
    expect(manual.every((id) => cfg.keep.some((k) => k.id === id))).toBe(true);
    expect(golden['within-1y-include-tagged']!.keep.some((k) => k.id === 's0040')).toBe(false);
    for (const g of Object.values(golden)) expect(g.keep.length + g.removed).toBe(snaps.length);
  });
});

/**
 * Retention glossary
 * - candidate: one snapshot as retention sees it (id, time, type, source, tags, HEAD or not).
 * - rules: the keep-* counts of restic's `forget` (last, hourly, daily, weekly,
 *   monthly, yearly), a keep-within duration, or keep-forever.
 * - bucket: the hour, day, ISO week, month or year a snapshot falls in, in the
 *   policy's time zone (UTC unless configured). Walking a group newest first,
 *   the first snapshot seen in a bucket is that bucket's newest; a keep-daily N
 *   rule keeps the newest snapshot of each of the N newest days that have one.
 * - keep-within D: keeps every snapshot newer than (newest snapshot of the
 *   group − D), counted back from the group's newest snapshot, never from the
 *   wall clock: a repository whose backups stopped keeps what it has.
 * - group: what the rules count in. With explicit rules (the forget flags):
 *   all snapshots of a source. With per-type rules (the config): the
 *   snapshots of one type of one source.
 * - floors applied after the rules, per source: a tagged snapshot is kept
 *   (unless includeTagged), the source's HEAD is kept, a pinned snapshot
 *   (one an interrupted restore needs) is kept, and at least
 *   keepMinimum snapshots (the newest ones) are kept.
 *
 * applyRetention is a pure function: same input, same answer, whatever the
 * input order, with no clock and no I/O (except reading the time-zone data
 * of Intl for non-UTC zones).
 */
import { UsageError } from '../errors.js';

export interface RetentionCandidate {
  id: string;
  /** ISO-8601 time the snapshot records. */
  time: string;
  type: string;
  source: string;
  tags: readonly string[];
  /** True when this snapshot is its source's HEAD. */
  isHead: boolean;
  /**
   * Reasons something else needs the snapshot (an interrupted restore, a
   * restore target whose HEAD it is): such a snapshot is always kept, with these reasons.
   */
  pins?: readonly string[];
}

/** Count rules take N >= 0, or -1 for unlimited (as restic). */
export interface RetentionRules {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** A duration such as 7d, 4w, 12m, 1y2m, 36h (y years, m months, w weeks, d days, h hours). */
  keepWithin?: string;
  /** Keep every snapshot of the group (manual snapshots, restore points). */
  keepForever?: boolean;
}

export interface RetentionPolicy {
  /** Rules applied to all snapshots of each source (the forget flags). When set, byType is ignored. */
  rules?: RetentionRules;
  /** Snapshot types always kept (--keep-type). Counts as an explicit rule. */
  keepTypes?: readonly string[];
  /** Rules per snapshot type (the config); a type without an entry is kept. */
  byType?: Readonly<Record<string, RetentionRules>>;
  /** Tagged snapshots may be removed (default: they are always kept). */
  includeTagged?: boolean;
  /** Never keep fewer than this many snapshots per source (default 3). */
  keepMinimum?: number;
  /** "UTC" (default), "local", or an IANA zone such as "Europe/Berlin": where days and weeks begin. */
  timeZone?: string;
}

export interface RetentionKeep {
  id: string;
  reasons: string[];
}

export interface RetentionDecision {
  /** Newest first. */
  keep: RetentionKeep[];
  /** Newest first. */
  remove: Array<{ id: string }>;
}

export const DEFAULT_KEEP_MINIMUM = 3;
export const DEFAULT_TIME_ZONE = 'UTC';

const COUNT_RULES = [
  ['keepLast', 'keep-last'],
  ['keepHourly', 'keep-hourly'],
  ['keepDaily', 'keep-daily'],
  ['keepWeekly', 'keep-weekly'],
  ['keepMonthly', 'keep-monthly'],
  ['keepYearly', 'keep-yearly'],
] as const;

type CountRule = (typeof COUNT_RULES)[number][0];

/** A calendar duration: years, months, days and hours (weeks become days). */
export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/**
 * Parses 7d, 4w, 12m, 1y2m, 36h, 1y2m3w4d5h; months are `m`, as in restic.
 * @example parseDuration('1y2m') // { years: 1, months: 2, days: 0, hours: 0 }
 */
export function parseDuration(text: string): Duration {
  const s = text.trim();
  const d: Duration = { years: 0, months: 0, days: 0, hours: 0 };
  const re = /(\d+)([ymwdh])/gy;
  let m: RegExpExecArray | null;
  let seen = 0;
  re.lastIndex = 0;
  while ((m = re.exec(s)) !== null) {
    const n = Number(m[1]);
    if (m[2] === 'y') d.years += n;
    else if (m[2] === 'm') d.months += n;
    else if (m[2] === 'w') d.days += 7 * n;
    else if (m[2] === 'd') d.days += n;
    else d.hours += n;
    seen = re.lastIndex;
  }
  if (s === '' || seen !== s.length) {
    throw new UsageError(`"${text}" is not a duration`, { hint: 'use a number and a unit, combinable: 7d, 4w, 12m (months), 1y2m, 36h' });
  }
  return d;
}

export function durationIsZero(d: Duration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/** `t` minus a calendar duration, computed in UTC (month ends roll over as Go's AddDate does). */
export function subtractDuration(t: number, d: Duration): number {
  const x = new Date(t);
  return Date.UTC(
    x.getUTCFullYear() - d.years,
    x.getUTCMonth() - d.months,
    x.getUTCDate() - d.days,
    x.getUTCHours() - d.hours,
    x.getUTCMinutes(),
    x.getUTCSeconds(),
    x.getUTCMilliseconds(),
  );
}

/** Throws a UsageError unless `rules` are well formed. */
export function validateRules(rules: RetentionRules, what = 'retention rule'): void {
  for (const [key, flag] of COUNT_RULES) {
    const v = rules[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < -1) throw new UsageError(`${what} ${flag} must be a whole number >= 0 (or -1 for unlimited), not ${String(v)}`);
  }
  if (rules.keepWithin !== undefined) parseDuration(rules.keepWithin);
  if (rules.keepForever !== undefined && typeof rules.keepForever !== 'boolean') throw new UsageError(`${what} keepForever must be true or false`);
}

/** Resolves "local" to the process's zone and checks the zone exists. */
export function resolveTimeZone(tz: string | undefined): string {
  const zone = tz === undefined || tz === '' ? DEFAULT_TIME_ZONE : tz === 'local' ? Intl.DateTimeFormat().resolvedOptions().timeZone : tz;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new UsageError(`unknown time zone "${tz}"`, { hint: 'use UTC, local, or an IANA name such as Europe/Berlin' });
  }
  return zone;
}

interface Parts {
  y: number;
  m: number;
  d: number;
  h: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function calendarParts(ms: number, zone: string): Parts {
  if (zone === 'UTC') {
    const x = new Date(ms);
    return { y: x.getUTCFullYear(), m: x.getUTCMonth() + 1, d: x.getUTCDate(), h: x.getUTCHours() };
  }
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, m: p.month!, d: p.day!, h: p.hour! % 24 };
}

/** ISO-8601 week-numbering year and week of a calendar date. */
export function isoWeek(y: number, m: number, d: number): { year: number; week: number } {
  const date = Date.UTC(y, m - 1, d);
  const dow = new Date(date).getUTCDay() || 7; // Monday 1 … Sunday 7
  const thursday = new Date(date + (4 - dow) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return { year, week };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The bucket label of a time for a count rule; keepLast puts every snapshot in its own bucket. */
function bucketOf(rule: CountRule, p: Parts, id: string): string {
  switch (rule) {
    case 'keepLast':
      return id;
    case 'keepHourly':
      return `${p.y}-${pad(p.m)}-${pad(p.d)} ${pad(p.h)}h`;
    case 'keepDaily':
      return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
    case 'keepWeekly': {
      const w = isoWeek(p.y, p.m, p.d);
      return `${w.year}-W${pad(w.week)}`;
    }
    case 'keepMonthly':
      return `${p.y}-${pad(p.m)}`;
    case 'keepYearly':
      return `${p.y}`;
  }
}

interface Item {
  c: RetentionCandidate;
  ms: number;
  reasons: string[];
}

/** Newest first; equal times by id, descending, so the order never depends on the input's. */
function newestFirst(a: Item, b: Item): number {
  return b.ms - a.ms || (a.c.id < b.c.id ? 1 : a.c.id > b.c.id ? -1 : 0);
}

function hasRules(r: RetentionRules): boolean {
  return r.keepForever === true || r.keepWithin !== undefined || COUNT_RULES.some(([k]) => r[k] !== undefined);
}

/** Applies `rules` to one group (sorted newest first), adding reasons; `label` prefixes them. */
function applyRules(group: Item[], rules: RetentionRules, zone: string, label: string): void {
  if (group.length === 0) return;
  if (rules.keepForever) {
    for (const it of group) it.reasons.push(`${label}kept until removed by hand`);
    return;
  }
  for (const [key, flag] of COUNT_RULES) {
    const n = rules[key];
    if (n === undefined || n === 0) continue;
    let left = n;
    let last: string | undefined;
    for (const it of group) {
      if (left === 0) break;
      const bucket = bucketOf(key, calendarParts(it.ms, zone), it.c.id);
      if (bucket === last) continue;
      last = bucket;
      it.reasons.push(key === 'keepLast' ? `${label}${flag} ${n < 0 ? 'unlimited' : n}` : `${label}${flag} ${n < 0 ? 'unlimited' : n} (${bucket})`);
      if (left > 0) left--;
    }
  }
  if (rules.keepWithin !== undefined) {
    const d = parseDuration(rules.keepWithin);
    if (!durationIsZero(d)) {
      const limit = subtractDuration(group[0]!.ms, d);
      for (const it of group) if (it.ms > limit) it.reasons.push(`${label}keep-within ${rules.keepWithin}`);
    }
  }
}

/**
 * Decides which snapshots a policy keeps and which it removes, with the
 * reasons for each kept one.
 * @example applyRetention(snapshots, { rules: { keepDaily: 7 } })
 */
export function applyRetention(snapshots: readonly RetentionCandidate[], policy: RetentionPolicy = {}): RetentionDecision {
  const zone = resolveTimeZone(policy.timeZone);
  const keepMinimum = policy.keepMinimum ?? DEFAULT_KEEP_MINIMUM;
  if (!Number.isInteger(keepMinimum) || keepMinimum < 0) throw new UsageError(`keep-minimum must be a whole number >= 0, not ${String(keepMinimum)}`);
  if (policy.rules) validateRules(policy.rules);
  for (const [type, rules] of Object.entries(policy.byType ?? {})) validateRules(rules, `retention rule for ${type}:`);

  const seen = new Set<string>();
  const items: Item[] = snapshots.map((c) => {
    if (seen.has(c.id)) throw new UsageError(`snapshot ${c.id} is listed twice`);
    seen.add(c.id);
    const ms = Date.parse(c.time);
    if (Number.isNaN(ms)) throw new UsageError(`snapshot ${c.id} has an invalid time "${c.time}"`);
    return { c, ms, reasons: [] };
  });
  items.sort(newestFirst);

  const bySource = new Map<string, Item[]>();
  for (const it of items) {
    const list = bySource.get(it.c.source);
    if (list) list.push(it);
    else bySource.set(it.c.source, [it]);
  }

  const explicit = policy.rules !== undefined || (policy.keepTypes?.length ?? 0) > 0;
  const keepTypes = new Set(policy.keepTypes ?? []);
  for (const group of bySource.values()) {
    if (explicit) {
      applyRules(group, policy.rules ?? {}, zone, '');
      for (const it of group) if (keepTypes.has(it.c.type)) it.reasons.push(`keep-type ${it.c.type}`);
    } else {
      const byType = new Map<string, Item[]>();
      for (const it of group) {
        const list = byType.get(it.c.type);
        if (list) list.push(it);
        else byType.set(it.c.type, [it]);
      }
      for (const [type, list] of byType) {
        const rules = policy.byType?.[type];
        if (!rules || !hasRules(rules)) {
          for (const it of list) it.reasons.push(`${type}: no retention policy for this type, kept`);
        } else {
          applyRules(list, rules, zone, `${type} policy: `);
        }
      }
    }
    for (const it of group) {
      if (it.c.tags.length > 0 && !policy.includeTagged) it.reasons.push(`tagged ${[...it.c.tags].sort().join(', ')}`);
      if (it.c.isHead) it.reasons.push('HEAD of its source');
      for (const pin of it.c.pins ?? []) it.reasons.push(pin);
    }
    let kept = group.filter((it) => it.reasons.length > 0).length;
    for (const it of group) {
      if (kept >= keepMinimum) break;
      if (it.reasons.length > 0) continue;
      it.reasons.push(`keep-minimum ${keepMinimum}`);
      kept++;
    }
  }

  const decision: RetentionDecision = { keep: [], remove: [] };
  for (const it of items) {
    if (it.reasons.length > 0) decision.keep.push({ id: it.c.id, reasons: it.reasons });
    else decision.remove.push({ id: it.c.id });
  }
  return decision;
}

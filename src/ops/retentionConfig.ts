/**
 * The retention policy stored in config.json under "retention", used by
 * `cairn forget` when no --keep-* flag is given:
 *
 *   "retention": {
 *     "keepMinimum": 3,
 *     "timeZone": "UTC",
 *     "daily":   { "keepWithin": "7d" },
 *     "weekly":  { "keepWithin": "4w" },
 *     "monthly": { "keepWithin": "12m" },
 *     "manual":  { "keepForever": true },
 *     "restore-point": { "keepForever": true }
 *   }
 *
 * A snapshot type with no entry is kept. Dotted keys (`retention.daily.keepWithin`)
 * name the same fields for `cairn config`.
 */
import { UsageError } from '../errors.js';
import { SNAPSHOT_TYPES } from '../model/manifest.js';
import type { RepositoryConfig } from '../repositoryConfig.js';
import { DEFAULT_KEEP_MINIMUM, DEFAULT_TIME_ZONE, resolveTimeZone, validateRules, type RetentionPolicy, type RetentionRules } from './retentionPolicy.js';

export interface RetentionSettings {
  keepMinimum: number;
  timeZone: string;
  /** Rules per snapshot type. */
  types: Record<string, RetentionRules>;
}

/**
 * What our users run today: daily 7 days, weekly 4 weeks, monthly 12 months, manual and restore points until removed by hand.
 * @example defaultRetention().types.daily // { keepWithin: '7d' }
 */
export function defaultRetention(): RetentionSettings {
  return {
    keepMinimum: DEFAULT_KEEP_MINIMUM,
    timeZone: DEFAULT_TIME_ZONE,
    types: {
      daily: { keepWithin: '7d' },
      weekly: { keepWithin: '4w' },
      monthly: { keepWithin: '12m' },
      manual: { keepForever: true },
      'restore-point': { keepForever: true },
    },
  };
}

/** The stored form (flat, as in config.json). */
export function retentionToJson(s: RetentionSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { keepMinimum: s.keepMinimum, timeZone: s.timeZone };
  for (const t of Object.keys(s.types).sort()) out[t] = { ...s.types[t] };
  return out;
}

export const RULE_KEYS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly', 'keepWithin', 'keepForever'] as const;
export type RuleKey = (typeof RULE_KEYS)[number];

/** The policy in a config (defaults when the repository predates it); throws IntegrityError-free UsageErrors on bad values. */
export function retentionFromConfig(config: RepositoryConfig): RetentionSettings {
  const raw = config.retention;
  if (raw === undefined) return defaultRetention();
  if (typeof raw !== 'object' || raw === null) throw new UsageError('config.json: "retention" must be an object', { hint: 'fix it with `cairn config`' });
  const r = raw as Record<string, unknown>;
  const out: RetentionSettings = {
    keepMinimum: r.keepMinimum === undefined ? DEFAULT_KEEP_MINIMUM : (r.keepMinimum as number),
    timeZone: r.timeZone === undefined ? DEFAULT_TIME_ZONE : String(r.timeZone),
    types: {},
  };
  if (!Number.isInteger(out.keepMinimum) || out.keepMinimum < 0) throw new UsageError(`config.json: retention.keepMinimum must be a whole number >= 0`);
  for (const [key, value] of Object.entries(r)) {
    if (key === 'keepMinimum' || key === 'timeZone') continue;
    if (typeof value !== 'object' || value === null) throw new UsageError(`config.json: retention.${key} must be an object of rules`);
    const rules: RetentionRules = {};
    for (const [rk, rv] of Object.entries(value as Record<string, unknown>)) {
      if (!(RULE_KEYS as readonly string[]).includes(rk)) throw new UsageError(`config.json: unknown retention rule retention.${key}.${rk}`, { hint: `rules are ${RULE_KEYS.join(', ')}` });
      (rules as Record<string, unknown>)[rk] = rv;
    }
    validateRules(rules, `config.json: retention.${key}:`);
    out.types[key] = rules;
  }
  return out;
}

/** The policy `forget` applies when no flags are given. */
export function configPolicy(s: RetentionSettings): RetentionPolicy {
  return { byType: s.types, keepMinimum: s.keepMinimum, timeZone: s.timeZone };
}

/** Parses a value given on the command line for a retention key. */
export function parseRetentionValue(key: string, text: string): unknown {
  const parts = key.split('.');
  if (parts[0] !== 'retention' || parts.length < 2 || parts.length > 3) {
    throw new UsageError(`"${key}" is not a retention key`, { hint: 'keys are retention.keepMinimum, retention.timeZone, retention.<type>.<rule>' });
  }
  if (parts.length === 2) {
    if (parts[1] === 'keepMinimum') {
      const n = Number(text);
      if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`retention.keepMinimum must be a whole number >= 0, not "${text}"`);
      return n;
    }
    if (parts[1] === 'timeZone') {
      resolveTimeZone(text);
      return text;
    }
    throw new UsageError(`"${key}" is not a setting`, { hint: `set one rule at a time: ${key}.keepWithin 7d` });
  }
  const type = parts[1]!;
  const rule = parts[2]!;
  if (!(SNAPSHOT_TYPES as readonly string[]).includes(type)) throw new UsageError(`unknown snapshot type "${type}" in ${key}`, { hint: `types are ${SNAPSHOT_TYPES.join(', ')}` });
  if (!(RULE_KEYS as readonly string[]).includes(rule)) throw new UsageError(`unknown retention rule "${rule}" in ${key}`, { hint: `rules are ${RULE_KEYS.join(', ')}` });
  let value: unknown;
  if (rule === 'keepWithin') value = text.trim();
  else if (rule === 'keepForever') {
    if (!/^(true|false)$/.test(text.trim())) throw new UsageError(`${key} must be true or false, not "${text}"`);
    value = text.trim() === 'true';
  } else {
    const t = text.trim();
    value = t === 'unlimited' ? -1 : /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
  }
  validateRules({ [rule]: value } as RetentionRules, key);
  return value;
}

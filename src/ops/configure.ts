/**
 * `cairn config`: shows the repository config as dotted keys and sets the
 * retention keys and inlineMax (which only decides how files read from now on
 * are stored). Format keys (format, hash, layout, chunker, ...) are fixed at
 * init and shown read-only.
 */
import { NotFoundError, UsageError } from '../errors.js';
import type { RepoContext } from '../repoContext.js';
import { INLINE_MAX_LIMIT, isInlineMax, readConfig, writeConfig, type RepositoryConfig } from '../repositoryConfig.js';
import { DEFAULT_KEEP_MINIMUM, DEFAULT_TIME_ZONE } from './retentionPolicy.js';
import { parseRetentionValue, retentionFromConfig, retentionToJson, type RetentionSettings } from './retentionConfig.js';

export interface ConfigEntry {
  key: string;
  value: unknown;
  /** True for keys `cairn config KEY VALUE` may change. */
  settable: boolean;
}

export interface ConfigView {
  /** The config with the effective retention policy filled in. */
  config: RepositoryConfig;
  entries: ConfigEntry[];
}

export interface ConfigChange {
  key: string;
  previous: unknown;
  value: unknown;
}

function effective(config: RepositoryConfig): RepositoryConfig {
  return { ...config, retention: retentionToJson(retentionFromConfig(config)) };
}

function flatten(value: unknown, prefix: string, out: ConfigEntry[]): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const k of Object.keys(value).sort()) flatten((value as Record<string, unknown>)[k], prefix === '' ? k : `${prefix}.${k}`, out);
    return;
  }
  out.push({ key: prefix, value, settable: prefix.startsWith('retention.') || prefix === 'inlineMax' });
}

export function showConfig(ctx: RepoContext): ConfigView {
  const config = effective(readConfig(ctx.dir));
  const entries: ConfigEntry[] = [];
  flatten(config, '', entries);
  return { config, entries };
}

/** The value at a dotted key (an object for a prefix such as retention.daily). */
export function getConfigValue(ctx: RepoContext, key: string): { key: string; value: unknown } {
  let v: unknown = effective(readConfig(ctx.dir));
  for (const part of key.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.prototype.hasOwnProperty.call(v, part)) {
      throw new NotFoundError(`config has no key ${key}`, { hint: 'see `cairn config` for every key' });
    }
    v = (v as Record<string, unknown>)[part];
  }
  return { key, value: v };
}

function rulesOf(s: RetentionSettings, type: string): Record<string, unknown> {
  return (s.types[type] ??= {}) as Record<string, unknown>;
}

function save(ctx: RepoContext, cfg: RepositoryConfig, s: RetentionSettings): void {
  for (const [t, r] of Object.entries(s.types)) if (Object.keys(r).length === 0) delete s.types[t];
  cfg.retention = retentionToJson(s);
  writeConfig(ctx.dir, cfg);
  ctx.config.retention = cfg.retention;
}

function currentValue(s: RetentionSettings, parts: string[]): unknown {
  if (parts[1] === 'keepMinimum') return s.keepMinimum;
  if (parts[1] === 'timeZone') return s.timeZone;
  const rules = s.types[parts[1]!] as Record<string, unknown> | undefined;
  return parts.length === 2 ? rules : rules?.[parts[2]!];
}

/** Sets one retention key (the policy is written out in full on the first change). */
export function setConfigValue(ctx: RepoContext, key: string, text: string): ConfigChange {
  if (key === 'inlineMax') return setInlineMax(ctx, text);
  if (!key.startsWith('retention.')) {
    throw new UsageError(`${key} cannot be changed`, { hint: 'only retention.* keys and inlineMax are settable; format keys are fixed when the repository is created' });
  }
  const value = parseRetentionValue(key, text);
  const cfg = readConfig(ctx.dir);
  const s = retentionFromConfig(cfg);
  const parts = key.split('.');
  const previous = currentValue(s, parts);
  if (parts[1] === 'keepMinimum') s.keepMinimum = value as number;
  else if (parts[1] === 'timeZone') s.timeZone = value as string;
  else {
    const rules = rulesOf(s, parts[1]!);
    rules[parts[2]!] = value;
    if (parts[2] === 'keepForever' && value === true) {
      for (const k of Object.keys(rules)) if (k !== 'keepForever') delete rules[k];
    } else if (parts[2] !== 'keepForever') delete rules.keepForever;
  }
  save(ctx, cfg, s);
  return { key, previous: previous ?? null, value };
}

/** Sets inlineMax: trees already written keep their form; files read from now on follow the new size. */
function setInlineMax(ctx: RepoContext, text: string): ConfigChange {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!isInlineMax(value)) throw new UsageError(`inlineMax "${text}" is not a whole number of bytes from 0 to ${INLINE_MAX_LIMIT}`, { hint: 'e.g. cairn config inlineMax 4096' });
  const cfg = readConfig(ctx.dir);
  const previous = cfg.inlineMax ?? 0;
  cfg.inlineMax = value;
  writeConfig(ctx.dir, cfg);
  ctx.config.inlineMax = value;
  return { key: 'inlineMax', previous, value };
}

/**
 * Removes one retention key: keepMinimum and timeZone go back to their
 * defaults; a rule is removed from its type; retention.<type> removes the
 * type's policy (its snapshots are then kept).
 */
export function unsetConfigValue(ctx: RepoContext, key: string): ConfigChange {
  const parts = key.split('.');
  if (parts[0] !== 'retention' || parts.length < 2 || parts.length > 3) {
    throw new UsageError(`${key} cannot be unset`, { hint: 'only retention.* keys can be unset' });
  }
  if ((parts[1] === 'keepMinimum' || parts[1] === 'timeZone') && parts.length !== 2) throw new UsageError(`"${key}" is not a retention key`);
  const cfg = readConfig(ctx.dir);
  const s = retentionFromConfig(cfg);
  const previous = currentValue(s, parts);
  if (previous === undefined) throw new NotFoundError(`config has no key ${key}`, { hint: 'see `cairn config` for every key' });
  if (parts[1] === 'keepMinimum') s.keepMinimum = DEFAULT_KEEP_MINIMUM;
  else if (parts[1] === 'timeZone') s.timeZone = DEFAULT_TIME_ZONE;
  else if (parts.length === 2) delete s.types[parts[1]!];
  else delete rulesOf(s, parts[1]!)[parts[2]!];
  save(ctx, cfg, s);
  return { key, previous, value: currentValue(s, parts) ?? null };
}

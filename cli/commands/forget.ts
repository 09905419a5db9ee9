import type { Command } from 'commander';
import { escapeControls, quoteName, UsageError, type ForgetSummary, type RetentionRules } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { renderPrune } from './prune.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** A keep-* count: a whole number, or -1 / "unlimited". */
export function parseCount(flag: string, allowUnlimited = true): (v: string) => number {
  return (v) => {
    const t = v.trim();
    if (allowUnlimited && (t === 'unlimited' || t === '-1')) return -1;
    if (!/^\d+$/.test(t)) throw new UsageError(`${flag} needs a whole number${allowUnlimited ? ' (or unlimited)' : ''}, not "${v}"`);
    return Number(t);
  };
}

interface ForgetFlags {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepType: string[];
  keepMinimum?: number;
  includeTagged?: boolean;
  timeZone?: string;
  source?: string;
  dryRun?: boolean;
  prune?: boolean;
}

export function renderForget(r: ForgetSummary): string[] {
  const lines: string[] = [];
  let source: string | undefined;
  for (const s of r.snapshots) {
    if (s.source !== source) {
      source = s.source;
      lines.push(quoteName(source));
    }
    const verb = s.keep ? 'keep  ' : 'remove';
    const tags = s.tags.length ? ` [${escapeControls(s.tags.join(', '))}]` : '';
    lines.push(`  ${verb}  ${s.id.slice(0, 8)}  ${s.time}  ${s.type.padEnd(13)}${tags}${s.keep ? `  ${escapeControls(s.reasons.join('; '))}` : ''}`.trimEnd());
  }
  if (r.damaged.length) lines.push('damaged (manifest unreadable or invalid)');
  for (const d of r.damaged) lines.push(`  remove  ${d.id.slice(0, 8)}  ${escapeControls(d.message)}${d.tags.length ? ` [${escapeControls(d.tags.join(', '))}]` : ''}`);
  const counts = `keep ${r.keep.length}, remove ${r.remove.length}`;
  if (r.dryRun) lines.push(`dry run (${r.policy} policy): would ${counts}; nothing was changed`);
  else lines.push(`forgot ${r.removed.length} snapshots, kept ${r.keep.length} (${r.policy} policy)`);
  for (const h of r.headsMoved) lines.push(`HEAD of ${quoteName(h.source)} moved from ${h.from.slice(0, 8)} to ${h.to ? h.to.slice(0, 8) : '(none: no snapshots left)'}`);
  if (r.tagsRemoved.length) lines.push(`tags deleted: ${escapeControls(r.tagsRemoved.join(', '))}`);
  if (r.prune) lines.push(...renderPrune(r.prune));
  return lines;
}

export function registerForget(program: Command): void {
  program
    .command('forget')
    .description('remove snapshots a retention policy does not keep (flags, else the config policy), or the snapshots named')
    .argument('[refs...]', 'snapshots to forget by hand (id prefix, tag, latest~N)')
    .option('--keep-last <n>', 'keep the N newest snapshots', parseCount('--keep-last'))
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last N hours that have one', parseCount('--keep-hourly'))
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last N days that have one', parseCount('--keep-daily'))
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last N ISO weeks that have one', parseCount('--keep-weekly'))
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last N months that have one', parseCount('--keep-monthly'))
    .option('--keep-yearly <n>', 'keep the newest snapshot of each of the last N years that have one', parseCount('--keep-yearly'))
    .option('--keep-within <duration>', 'keep snapshots newer than the newest one minus DURATION (7d, 4w, 6m = months, 1y2m, 36h)')
    .option('--keep-type <type>', 'keep every snapshot of TYPE (repeatable)', collect, [])
    .option('--keep-minimum <n>', 'never keep fewer than N snapshots per source (default: retention.keepMinimum, 3)', parseCount('--keep-minimum', false))
    .option('--include-tagged', 'tagged snapshots may be removed too (their tags are deleted)')
    .option('--time-zone <zone>', 'where days and weeks begin: UTC, local or an IANA zone (default: retention.timeZone, UTC)')
    .option('--source <path>', 'only snapshots of this source (a directory, a database file, or stream:NAME)')
    .option('--dry-run', 'show every snapshot with keep/remove and the rule that decided; change nothing')
    .option('--prune', 'then delete the data no remaining snapshot uses')
    .action(async (refs: string[], opts: ForgetFlags, cmd: Command) => {
      const ctx = commandContext(cmd);
      const rules: RetentionRules = {};
      for (const k of ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly', 'keepWithin'] as const) {
        if (opts[k] !== undefined) (rules as Record<string, unknown>)[k] = opts[k];
      }
      await withRepo(ctx, async (repo) => {
        const r = await repo.forget({
          ...(refs.length ? { refs } : {}),
          ...(Object.keys(rules).length ? { rules } : {}),
          ...(opts.keepType.length ? { keepTypes: opts.keepType } : {}),
          ...(opts.keepMinimum !== undefined ? { keepMinimum: opts.keepMinimum } : {}),
          ...(opts.includeTagged ? { includeTagged: true } : {}),
          ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
          ...(opts.source ? { source: opts.source } : {}),
          dryRun: opts.dryRun === true,
          prune: opts.prune === true,
          onPruneProgress: (p) =>
            ctx.out.progress(p.phase === 'mark' ? `prune: marking ${p.snapshots}/${p.snapshotsTotal} snapshots, ${p.marked} objects` : `prune: ${p.scanned} objects scanned, ${p.deleted} deleted`),
        });
        ctx.out.endProgress();
        const { snapshots: _s, ...json } = r;
        ctx.out.emit(json, () => renderForget(r));
      });
    });
}

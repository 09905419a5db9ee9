import type { Command } from 'commander';
import { escapeControls, type AuditOutcome, type AuditRecord } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatTime } from '../output.js';

interface AuditFlags {
  since?: string;
  until?: string;
  op?: string;
  outcome?: string;
  summary?: boolean;
}

function auditLine(r: AuditRecord): string {
  const snaps = r.snapshots.length ? `  [${r.snapshots.map((s) => s.slice(0, 8)).join(', ')}]` : '';
  const why = r.outcome === 'ok' ? '' : `  ${r.error ?? ''}${r.message ? `: ${r.message}` : ''}`;
  // Every field comes from the audit file (free text: a message may name paths); escaped as one line.
  return escapeControls(`${formatTime(r.time)}  ${r.outcome.padEnd(7)} ${r.op.padEnd(16)} ${r.user}@${r.host}${snaps}${why}`);
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('show the audit trail of changes to the repository and restore targets, newest last')
    .option('--since <date>', 'from this date or ISO-8601 time')
    .option('--until <date>', 'up to this date (inclusive) or ISO-8601 time')
    .option('--op <name>', 'only this operation (init, snapshot, restore, approval, ...)')
    .option('--outcome <outcome>', 'only ok, error or refused')
    .option('--summary', 'count the records by operation and outcome')
    .action(async (opts: AuditFlags, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const query = {
          ...(opts.since !== undefined ? { since: opts.since } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          ...(opts.op !== undefined ? { op: opts.op } : {}),
          ...(opts.outcome !== undefined ? { outcome: opts.outcome as AuditOutcome } : {}),
        };
        if (opts.summary) {
          const s = repo.auditSummary(query);
          ctx.out.emit(s, () => [
            `${'operation'.padEnd(18)} ${'ok'.padStart(6)} ${'error'.padStart(6)} ${'refused'.padStart(8)} ${'total'.padStart(6)}`,
            ...s.byOp.map((o) => `${escapeControls(o.op).padEnd(18)} ${String(o.ok).padStart(6)} ${String(o.error).padStart(6)} ${String(o.refused).padStart(8)} ${String(o.total).padStart(6)}`),
            `${'all'.padEnd(18)} ${''.padStart(6)} ${''.padStart(6)} ${''.padStart(8)} ${String(s.total).padStart(6)}`,
          ]);
          return;
        }
        const records = repo.auditLog(query);
        ctx.out.emit(records, () => (records.length ? records.map(auditLine) : ['no audit records match']));
      });
    });
}

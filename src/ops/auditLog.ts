/** Reading the audit trail: filters by time, operation and outcome, and counts (`cairn audit`). */
import { UsageError } from '../errors.js';
import type { AuditOutcome, AuditRecord } from '../auditTrail.js';
import type { RepoContext } from '../repoContext.js';
import { isDateOnly, parseIsoTime, ISO_TIME_HINT } from '../util/isoTime.js';

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['ok', 'error', 'refused'];

export interface AuditQuery {
  /** From this time (ISO-8601; a date alone is that day's start, UTC). */
  since?: string;
  /** Up to this time (ISO-8601; a date alone includes that whole day, UTC). */
  until?: string;
  op?: string;
  outcome?: AuditOutcome;
}

export interface AuditSummary {
  total: number;
  byOp: Array<{ op: string; ok: number; error: number; refused: number; total: number }>;
}

/** Milliseconds of a --since/--until value; `end` makes a date alone mean the end of that day. */
export function parseAuditTime(value: string, option: string, end: boolean): number {
  const ms = parseIsoTime(value);
  if (ms === undefined) throw new UsageError(`${option} "${value}" is not a date or an ISO-8601 time`, { hint: ISO_TIME_HINT });
  return end && isDateOnly(value) ? ms + 86_400_000 - 1 : ms;
}

/** The audit records matching `q`, oldest first (newest last). */
export function queryAudit(ctx: RepoContext, q: AuditQuery = {}): AuditRecord[] {
  if (q.outcome !== undefined && !AUDIT_OUTCOMES.includes(q.outcome)) {
    throw new UsageError(`unknown outcome "${String(q.outcome)}"`, { hint: `use one of ${AUDIT_OUTCOMES.join(', ')}` });
  }
  const since = q.since !== undefined ? parseAuditTime(q.since, '--since', false) : -Infinity;
  const until = q.until !== undefined ? parseAuditTime(q.until, '--until', true) : Infinity;
  return ctx.audit.read().filter((r) => {
    const t = Date.parse(r.time);
    if (t < since || t > until) return false;
    if (q.op !== undefined && r.op !== q.op) return false;
    if (q.outcome !== undefined && r.outcome !== q.outcome) return false;
    return true;
  });
}

/** Counts of records by operation and outcome. */
export function summarizeAudit(records: readonly AuditRecord[]): AuditSummary {
  const by = new Map<string, { op: string; ok: number; error: number; refused: number; total: number }>();
  for (const r of records) {
    const row = by.get(r.op) ?? { op: r.op, ok: 0, error: 0, refused: 0, total: 0 };
    if (r.outcome === 'ok' || r.outcome === 'error' || r.outcome === 'refused') row[r.outcome]++;
    row.total++;
    by.set(r.op, row);
  }
  return { total: records.length, byOp: [...by.values()].sort((a, b) => a.op.localeCompare(b.op)) };
}

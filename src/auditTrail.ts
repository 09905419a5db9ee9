/**
 * The audit trail: one JSON line per command that changes the repository or
 * a restore target, in audit/audit-YYYY-MM-DD.jsonl, written with pino
 * (synchronously, appending). A failure to write is a warning, never silent,
 * and never touches anything else in the repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { quoteName } from './util/quoteName.js';

export type AuditOutcome = 'ok' | 'error' | 'refused';

/** Whether a parsed audit line has the fields every reader relies on. */
function isAuditRecord(r: unknown): r is AuditRecord {
  const a = r as Partial<AuditRecord> | null;
  return (
    typeof a === 'object' &&
    a !== null &&
    typeof a.time === 'string' &&
    !Number.isNaN(Date.parse(a.time)) &&
    typeof a.op === 'string' &&
    typeof a.outcome === 'string' &&
    (a.args === undefined || (typeof a.args === 'object' && a.args !== null)) &&
    (a.snapshots === undefined || (Array.isArray(a.snapshots) && a.snapshots.every((s) => typeof s === 'string')))
  );
}

export interface AuditRecord {
  time: string;
  op: string;
  user: string;
  host: string;
  args: Record<string, unknown>;
  snapshots: string[];
  outcome: AuditOutcome;
  error?: string;
  message?: string;
  durationMs: number;
  /** For approval records: the risk level and the decision. */
  risk?: string;
  approved?: boolean;
  pid: number;
}

export const AUDIT_DIR = 'audit';

export function auditFileFor(repoDir: string, time: Date): string {
  const d = time.toISOString().slice(0, 10);
  return path.join(repoDir, AUDIT_DIR, `audit-${d}.jsonl`);
}

export class AuditTrail {
  constructor(
    private readonly repoDir: string,
    private readonly warn: (message: string) => void,
  ) {}

  append(record: AuditRecord): void {
    const file = auditFileFor(this.repoDir, new Date(record.time));
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const dest = pino.destination({ dest: file, sync: true, append: true, mkdir: true });
      const logger = pino(
        { base: null, timestamp: false, messageKey: 'note', formatters: { level: () => ({ kind: 'audit' }) } },
        dest,
      );
      logger.info(record);
      dest.flushSync();
      dest.end();
    } catch (err) {
      this.warn(`could not write the audit line for ${record.op} to ${quoteName(file)}: ${(err as Error).message}`);
    }
  }

  /** Every record in the trail, oldest first. */
  read(): AuditRecord[] {
    const dir = path.join(this.repoDir, AUDIT_DIR);
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => /^audit-\d{4}-\d{2}-\d{2}\.jsonl$/.test(n)).sort();
    } catch {
      return [];
    }
    const out: AuditRecord[] = [];
    for (const n of names) {
      for (const line of fs.readFileSync(path.join(dir, n), 'utf8').split('\n')) {
        if (!line.trim()) continue;
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          continue; // a torn last line from a crash is skipped
        }
        // A line that is JSON but not a record (edited by hand, damaged) is skipped too: audit's filters and
        // summaries read these fields of every record.
        if (isAuditRecord(record)) out.push({ ...record, user: String(record.user ?? '?'), host: String(record.host ?? '?'), args: record.args ?? {}, snapshots: record.snapshots ?? [] });
      }
    }
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }
}
